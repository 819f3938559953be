"""Parameters of the LSTM family (their registry entries are in `register`).

Imported by the registry (through `register`) for `fanlab list` and `fanlab validate`, and by
the networks, so it imports none of them and stays free of torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from fanlab.forecast import FINE_LEVELS, probs_for_levels

#: The quantile head's default probabilities: 0.025, 0.05, ..., 0.975 (39 values, with 0.5).
#: They hold both ends of every central interval of the fine grid 0.05 ... 0.95, which
#: includes the usual levels 0.5, 0.8, 0.9 and 0.95.
DEFAULT_QUANTILE_PROBS: tuple[float, ...] = tuple(float(p) for p in probs_for_levels(FINE_LEVELS))

#: The params of a single LSTM that change prediction only: one training run serves the arms that
#: differ in them (it tracks every early-stopping criterion they use), so they share a stored fit
#: (the registry entry's `predict_only`) and a loaded fit adopts the arm's own values.
PREDICT_ONLY = frozenset({"uncertainty", "noise", "samples", "innovations", "path_dropout"})

#: The linear skip's inputs where `skip` is unset (direct strategy, local networks): the study
#: in experiments/lstm_competence measured 4 (the last four inputs) on the article's processes.
DEFAULT_SKIP = 4

#: The default `context` under ``scope: global`` (where `context` is not given): short panels
#: such as M3 yearly (training blocks of 14+ points, H = 6) need a short input window.
GLOBAL_CONTEXT = 6


class NetworkParams(BaseModel):
    """What the single LSTM and the ensemble share: network, training, sampling."""

    model_config = ConfigDict(extra="forbid")

    context: int = Field(
        50, ge=2, description="input window: the last `context` observations (50: as good as 200 on the "
                              "article's processes at a third of the time, benchmarks/lstm_competence.py)")
    hidden: int = Field(64, ge=1, description="hidden units per LSTM layer")
    layers: int = Field(1, ge=1, le=4, description="stacked LSTM layers")
    strategy: Literal["direct", "recursive"] = Field(
        "direct", description="direct: one head emits all H steps; recursive: a one-step model fed its own outputs")
    scaling: Literal["auto", "diff", "global", "last_value", "level", "window"] = Field(
        "auto",
        description="input scaling per window, outputs mapped back exactly. global: the training block's "
                    "mean and sd (the level must stay in the training range); last_value: minus the "
                    "window's last value, divided by the sd of the training block's first differences; "
                    "level and diff (direct strategy): targets as the change from the window's last "
                    "value, inputs the level (minus the training block's mean, over its sd) or the "
                    "first differences (over their sd in the training block); window: the window's "
                    "own mean and sd (RevIN / DeepAR-style); auto, the default: for the direct strategy "
                    "level where a KPSS test (auto ARIMA's d = 0) finds the training block stationary, "
                    "else diff; for the recursive one last_value; scope global: last_value "
                    "(experiments/lstm_competence/README.md)")
    step_weights_power: float = Field(
        1.0, ge=0.0, description="direct strategy: step h of the loss weighs h^-power (0: all H steps "
                                 "equally), in training and early stopping alike, so the short, "
                                 "predictable horizons are learnt (point / quantile heads: each "
                                 "step's loss first normalised by its target's mean square); "
                                 "recursive: unused (one-step loss)")
    dropout_kind: Literal["per_step", "variational"] = Field(
        "per_step", description="per_step: a fresh mask at every time step; variational (Gal and "
                                "Ghahramani 2016): one mask per sequence, tied across time, on the "
                                "inputs, between layers, on the recurrent state and before the head")
    dropout_input: float = Field(0.1, ge=0.0, lt=1.0, description="dropout rate on the input values")
    dropout_recurrent: float = Field(
        0.1, ge=0.0, lt=1.0, description="variational only: dropout rate on the recurrent hidden state")
    dropout_between: float = Field(0.1, ge=0.0, lt=1.0, description="dropout between stacked layers (layers > 1)")
    dropout_head: float = Field(0.1, ge=0.0, lt=1.0, description="dropout on the hidden state before the head")
    variance: Literal["softplus", "exp"] = Field("softplus", description="Gaussian head: variance link")
    min_variance: float = Field(1e-4, gt=0.0, description="Gaussian head: variance floor (standardised units)")
    epochs: int = Field(100, ge=1, description="maximum training epochs (early stopping may end sooner)")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0.0, description="Adam learning rate")
    lr_decay: float = Field(
        1.0, gt=0.0, le=1.0, description="the learning rate is multiplied by this after every epoch (1: constant); "
                                         "a function of the epoch alone, so ensemble members stay independent")
    weight_decay: float = Field(
        0.0, ge=0.0, description="decoupled weight decay (AdamW, Loshchilov and Hutter 2019) per step, "
                                 "as a rate times lr; 0: plain Adam")
    patience: int = Field(10, ge=1, description="epochs without validation improvement before stopping")
    val_frac: float = Field(0.2, gt=0.0, lt=0.9,
                            description="validation tail, as a fraction of the training block (at least H points)")
    noise_holdout: float = Field(
        0.5, gt=0.0, lt=1.0,
        description="point head with mc_dropout: share of the validation tail kept out of early stopping; "
                    "the noise term is estimated on its windows only (targets disjoint from those that "
                    "picked the epoch). Each part needs at least H points")
    grad_clip: float | None = Field(1.0, gt=0.0, description="gradient norm clip per member; None: off")
    samples: int = Field(200, ge=2, description="sample paths S per origin, where the method samples")
    scope: Literal["local", "global"] = Field(
        "local", description="local: one network per series; global: one network trained on the windows of "
                             f"every series of the dataset (a panel method; default context {GLOBAL_CONTEXT}; "
                             "early stopping on held-out series, see fanlab.models.lstm.panel)")

    skip: int | None = Field(
        None, ge=0, description="direct strategy: n > 0 adds a linear map from the last n (scaled) inputs to "
                                "every step's location, learnt with the network (LSTNet's autoregressive "
                                "component, Lai et al. 2018), so the network learns what a linear "
                                f"autoregression misses; 0: none; unset: {DEFAULT_SKIP} (at most context) "
                                "for the direct strategy of a local network, else 0 "
                                "(experiments/lstm_competence/README.md)")
    kernel: Literal["auto", "torch", "numba"] = Field(
        "auto", description="the LSTM's training kernel. numba: an exact compiled forward and backward pass "
                            "(fanlab.models.lstm.kernel; CPU only; ~1.5x faster per epoch than torch's on one "
                            "thread, benchmarks/lstm_kernels.py); torch: torch.lstm with autograd; auto: numba on "
                            "the CPU, torch on a GPU. Validation and prediction run torch's kernels either way")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "cpu", description="where the network trains and predicts: cpu, cuda, or auto (cuda where torch sees a "
                           "GPU, else cpu). Results are reproducible per device, not across devices, hence "
                           "the default cpu")

    @model_validator(mode="after")
    def _global_context(self):
        if self.scope == "global" and "context" not in self.model_fields_set:
            self.context = GLOBAL_CONTEXT
        return self

    @model_validator(mode="after")
    def _level_is_direct(self):
        if self.scaling in ("level", "diff") and self.strategy == "recursive":
            raise ValueError(f"scaling {self.scaling!r} is for the direct strategy: a recursive network's one-step "
                             "targets move with each input; use last_value, global, window or auto")
        if self.skip is None:  # unset: the measured default where it was measured
            self.skip = min(DEFAULT_SKIP, self.context) if self.strategy == "direct" and self.scope == "local" else 0
        if self.skip and self.strategy == "recursive":
            raise ValueError("skip is for the direct strategy (a map from the input window to the H steps); "
                             "the recursive network has no such window per output")
        if self.skip > self.context:
            raise ValueError(f"skip {self.skip} reads more inputs than the window holds (context {self.context})")
        return self

    @model_serializer(mode="wrap")
    def _drop_default_scope(self, handler):
        # scope, kernel, device, innovations, path_dropout, weight_decay, lr_decay and skip at their
        # defaults leave the dump (fit-store keys, reports)
        # exactly as before they existed
        out = handler(self)
        if isinstance(out, dict):
            for key, default in (("scope", "local"), ("kernel", "auto"), ("device", "cpu"),
                                 ("innovations", "bootstrap"), ("path_dropout", False), ("weight_decay", 0.0),
                                 ("lr_decay", 1.0), ("skip", 0)):
                if out.get(key) == default:
                    out.pop(key)
        return out


class LSTMParams(NetworkParams):
    """One LSTM. Uncertainty comes from its head, from MC dropout, or not at all."""

    head: Literal["point", "gaussian", "quantile"] = Field(
        "point", description="point (MSE), gaussian (mean + variance, NLL) or quantile (pinball)")
    quantile_probs: tuple[float, ...] = Field(
        DEFAULT_QUANTILE_PROBS, description="quantile head: probabilities learnt at fit time")
    uncertainty: Literal["none", "mc_dropout", "residual_paths"] = Field(
        "none", description="none: the head's own distribution (a point head: zero width); "
                            "mc_dropout: dropout live at prediction, `samples` passes; residual_paths "
                            "(point head, recursive strategy; R's nnetar): `samples` paths per origin, "
                            "each step's one-step forecast plus an innovation drawn from the network's "
                            "one-step residuals on held-out validation windows, fed back")
    noise: bool = Field(True, description="mc_dropout: add the inherent noise (point head: validation "
                                          "residual variance; probabilistic heads: sample the head)")
    innovations: Literal["bootstrap", "gaussian"] = Field(
        "bootstrap", description="residual_paths: innovations resampled from the centred held-out "
                                 "one-step residuals, or Gaussian with their variance")
    path_dropout: bool = Field(
        False, description="residual_paths: dropout live in the rollout (one set of masks per path) for "
                           "parameter uncertainty")

    @field_validator("quantile_probs")
    @classmethod
    def _probs(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        v = tuple(sorted(set(round(float(p), 10) for p in v)))
        if len(v) < 2 or v[0] <= 0.0 or v[-1] >= 1.0:
            raise ValueError("quantile_probs needs at least two distinct probabilities in (0, 1)")
        return v

    @model_validator(mode="after")
    def _dropout_for_mc(self) -> "LSTMParams":
        rates = [self.dropout_input, self.dropout_head] + ([self.dropout_between] if self.layers > 1 else []) + (
            [self.dropout_recurrent] if self.dropout_kind == "variational" else [])
        if self.uncertainty == "mc_dropout" and max(rates) <= 0.0:
            raise ValueError("uncertainty 'mc_dropout' needs a dropout rate > 0")
        if self.uncertainty == "residual_paths":
            if self.head != "point" or self.strategy != "recursive":
                raise ValueError("uncertainty 'residual_paths' rolls a one-step point network forward: it needs "
                                 "head point and strategy recursive")
            if self.scope == "global":
                raise ValueError("scope global: uncertainty 'residual_paths' is not supported (its residuals "
                                 "need held-out windows of each series' own training block)")
            if self.path_dropout and max(rates) <= 0.0:
                raise ValueError("path_dropout needs a dropout rate > 0")
        if self.scope == "global" and self.head == "point" and self.uncertainty == "mc_dropout" and self.noise:
            raise ValueError("scope global: the point head with mc_dropout and noise: true is not supported (its "
                             "noise term needs windows of its own); use noise: false, or head gaussian or quantile")
        return self


class EnsembleParams(NetworkParams):
    """A deep ensemble of Gaussian-head LSTMs trained from different seeds."""

    members: int = Field(5, ge=2, description="ensemble size M")
    epistemic_only: bool = Field(
        False, description="use only the spread of the member means (drop each member's variance)")
