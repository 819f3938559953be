"""The single LSTM forecaster, and the fit/predict machinery the ensemble shares.

Data flow. `fit` cuts windows of ``context + H`` points from ``y[:train_end]`` (the
validation tail at the end of the block keeps its own windows for early stopping) and scales
each window by a location and scale computed from its own `context` inputs (`scaling`:
global = the training block's mean and sd; last_value = the window's last value and the sd
of the training block's first differences; window = the window's own mean and sd; level and
diff, direct strategy only = targets centred on the window's last value, inputs the level
(centred on the block's mean) or the first differences; auto, the default = level or diff by
a KPSS test of the training block (auto ARIMA's d) for the direct strategy, last_value for
the recursive one), so the targets, and the recursive strategy's fed-back values, live in
the window's scaled space.
`predict` reads, for origin t, only ``y[t - context + 1 : t + 1]``, scales it the same way,
and maps every output back exactly: means, quantiles and samples by ``v * scale + loc``,
sds by ``sd * scale``.

The direct strategy's loss weighs step h by h^-`step_weights_power` (training and early
stopping alike); the point and quantile heads' per-step losses are first divided by the
step's mean squared scaled target (its root for pinball), so each step's loss is O(1)
(the Gaussian NLL needs no such normaliser). The point head's MC-dropout arms keep the last
`noise_holdout` of the validation tail out of early stopping and estimate the noise term there
only; the plain point arm early-stops on the whole tail. One training run serves both (it
tracks each criterion's best weights, `training.train_criteria`), so every point-head arm of
the same network settings is one fit.

What each setting returns (S = `samples`):

========== ============ ======================================================================
head       uncertainty  Forecast
========== ============ ======================================================================
point      none         the point forecast; every quantile equals it (zero width, on purpose:
                        a point-trained LSTM has no intervals)
gaussian   none         direct: exact Gaussian per step (`sd` set). recursive: S paths, each
                        step drawn from the head and fed back
quantile   none         direct: the learnt quantiles, interpolated to the requested probs;
                        mean = the interpolated median. recursive: S paths drawn from the head
any        mc_dropout   S passes with dropout live (samples (K, S, H)). ``noise: true`` adds
                        the inherent noise to each pass: point head, a Gaussian draw with the
                        per-step mean squared validation residual (Zhu and Laptev 2017);
                        gaussian / quantile heads, a draw from the pass's own predictive
                        (recursive: fed back). ``noise: false``: the pass's mean (median)
point      residual_    recursive only (R's nnetar): S paths, each step the one-step forecast
           paths        plus an innovation (`innovations`: resampled from the centred one-step
                        residuals ``resid_`` on the held-out windows, or Gaussian with their
                        variance), fed back, so the spread compounds through the network's own
                        dynamics; ``path_dropout``: dropout live too (a mask set per path)
========== ============ ======================================================================

The one-step residuals ``resid_`` (scaled units) are measured at fit time for every recursive
point network, with the weights early-stopped without the held-out part of the validation tail:
at every origin whose one-step target lies in that part (targets ``noise_origins_[0] + 1`` to
``train_end - 1``), none of which chose the early-stopping epoch. So `residual_paths` only
changes prediction, and shares its fit with the plain recursive point arm.

Quantile interpolation: between the learnt probabilities the quantile function is linear in
z = Phi^-1(p) (exact for a Gaussian), and beyond the outermost ones it continues with the
outermost segments' slopes, so it is continuous and non-decreasing for any probs, and sampling
(u ~ U(0, 1) through it) has Gaussian-like tails.

Randomness at prediction comes from one generator per (member, origin), seeded from the fit
seed and the origin index, so an origin's forecast does not depend on the other origins in
the call, and repeated calls agree.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch

from fanlab.forecast import Forecast, gaussian_forecast, sample_forecast
from fanlab.models.base import check_origins
from fanlab.models.lstm.heads import GaussianHead, Head, make_head
from fanlab.models.lstm.network import MemberLSTM, RowRandom, resolve_device, resolve_kernel
from fanlab.models.lstm.params import PREDICT_ONLY, LSTMParams, NetworkParams
from fanlab.models.lstm.training import (
    TrainConfig, generators, raw_windows, resolve_scaling, scaled_inputs, scaled_windows, step_weights,
    train_block_scale, train_criteria, validation_split, window_loc_scale, window_origins,
)

#: Rows (origins x samples) per forward chunk at prediction, to bound memory.
CHUNK_ROWS = 2048


def origin_generators(seeds: list[int], origins: np.ndarray,
                      device: torch.device | str = "cpu") -> list[list[torch.Generator]]:
    """One torch generator on `device` per (member seed, origin)."""
    out = []
    for s in seeds:
        row = []
        for t in origins:
            state = np.random.SeedSequence([int(s), int(t), 1]).generate_state(1, np.uint64)[0]
            row.append(torch.Generator(device=device).manual_seed(int(state) >> 1))
        out.append(row)
    return out


class NetworkForecaster:
    """Fit and predict machinery shared by `LSTMForecaster` and `LSTMEnsemble`."""

    name = "lstm"
    params_model: type[NetworkParams] = NetworkParams
    #: why the noise term shares the early-stopping windows (a tail too short to split), else None;
    #: a global network never splits its tail
    noise_note_: str | None = None
    #: where the network lives and which kernel trained it (`_fit_windows` resolves the params)
    device_: torch.device = torch.device("cpu")
    kernel_: str = "torch"

    def __init__(self, horizon: int = 100, params: NetworkParams | None = None, **overrides):
        base = params.model_dump() if params is not None else {}
        self.horizon = horizon
        self.params = self.params_model.model_validate({**base, **overrides})

    # ---- fitting -------------------------------------------------------------------------
    def _head(self) -> Head:
        raise NotImplementedError

    def _fit_members(self, y: np.ndarray, train_end: int, seeds: list[int]) -> None:
        p = self.params
        y = np.asarray(y, dtype=float)
        if not 0 < train_end <= y.shape[0]:
            raise ValueError(f"train_end={train_end} outside [1, {y.shape[0]}]")
        y_train = y[:train_end]  # nothing past train_end is read from here on
        self.scaling_ = resolve_scaling(p.scaling, y_train, p.strategy)
        self.mu_, self.scale_ = train_block_scale(y_train, self.scaling_)
        train_o, val_o = window_origins(train_end, p.context, self.horizon, p.val_frac)
        criteria = {"all": val_o}
        self.noise_origins_ = np.empty(0, dtype=np.int64)
        self.noise_note_ = None
        if self._holds_out_noise():
            try:
                criteria["early"], self.noise_origins_ = validation_split(
                    train_end, self.horizon, p.val_frac, val_o, p.noise_holdout)
            except ValueError as err:  # a tail shorter than 2 H: the old estimate, on the same windows
                self.noise_origins_ = val_o
                self.noise_note_ = f"{err}; the noise term is estimated on the early-stopping windows"
        self.criteria_ = criteria
        self._fit_windows(self.scaled_windows(y_train, train_o),
                          {name: self.scaled_windows(y_train, o) for name, o in criteria.items()}, seeds)
        self.train_end_ = train_end

    def _criterion(self) -> str:
        """The early-stopping criterion whose weights this arm predicts with (see `_fit_windows`)."""
        return "all"

    def _use(self, name: str) -> None:
        """Predict with the weights early-stopped on criterion `name` (``all`` where the fit
        tracked no other)."""
        name = name if name in self.fits_ else "all"
        result, state = self.fits_[name]
        self.net_.load_state_dict(state)
        self.train_, self.val_origins_ = result, self.criteria_[name]
        self.criterion_ = name

    def _member_seeds(self, seed: int) -> list[int]:
        """The seeds of the networks `fit(..., seed)` trains (one per member)."""
        return [seed]

    def _fit_windows(self, train_w: torch.Tensor, val_w, seeds: list[int]) -> None:
        """Build the head and the M = len(seeds) networks and train them on scaled windows
        (N, context + H), early-stopped on `val_w`: the one trainer of both scopes. `val_w`
        may be a dict {criterion: windows}: one run tracks each criterion's best weights
        (`training.train_criteria`); ``fits_`` keeps them, `_use` picks one."""
        p = self.params
        self.device_ = device = resolve_device(p.device)
        self.kernel_ = resolve_kernel(p.kernel, device)
        self.head_ = self._head()
        recursive = p.strategy == "recursive"
        self.head_.weights = None if recursive else step_weights(self.horizon, p.step_weights_power)
        self.net_ = MemberLSTM(len(seeds), p.hidden, p.layers, 1 if recursive else self.horizon,
                               self.head_.outputs, p.dropout_input, p.dropout_between if p.layers > 1 else 0.0,
                               p.dropout_head, variational=p.dropout_kind == "variational",
                               dropout_recurrent=p.dropout_recurrent, kernel=self.kernel_,
                               skip_inputs=p.skip, skip_outputs=self.head_.locations, device=device)
        train_w = train_w.to(device)
        val_w = {k: v.to(device) for k, v in val_w.items()} if isinstance(val_w, dict) else val_w.to(device)
        cfg = TrainConfig(max_epochs=p.epochs, batch_size=p.batch_size, lr=p.lr, patience=p.patience,
                          grad_clip=p.grad_clip, weight_decay=p.weight_decay, lr_decay=p.lr_decay)
        if self.head_.weights is not None and self.head_.scaled_steps:
            self.head_.step_scale = self.head_.step_scales(train_w, self.horizon)
        self.head_.to(device)
        if not isinstance(val_w, dict):  # one criterion (the global networks' held-out series)
            val_w, self.criteria_ = {"all": val_w}, {"all": None}
        self.fits_ = train_criteria(self.net_, self.head_, train_w, val_w, self.horizon, recursive, cfg,
                                    [generators(s, device) for s in seeds])
        self.seeds_ = list(seeds)
        self.horizon_ = self.horizon
        self._use(self._criterion())

    def _holds_out_noise(self) -> bool:
        """Whether part of the validation tail is kept out of early stopping for the noise term."""
        return False

    def loc_scale(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Location and scale (K,) of input windows raw (K, context), per `scaling`."""
        return window_loc_scale(raw, self.scaling_, self.mu_, self.scale_)

    def scaled_windows(self, y: np.ndarray, origins: np.ndarray) -> torch.Tensor:
        """Training-style windows (N, context + H) around `origins`, each scaled by its inputs."""
        return scaled_windows(y, origins, self.params.context, self.horizon, self.loc_scale, self.scaling_, self.mu_)

    def scaled_inputs(self, y: np.ndarray, origins: np.ndarray):
        """Scaled input windows x (K, context) and their (location, scale), each (K,)."""
        raw = raw_windows(y, origins, self.params.context)
        loc, scale = self.loc_scale(raw)
        x = scaled_inputs(raw, loc, scale, self.scaling_, self.mu_)
        return torch.from_numpy(x.astype(np.float32)), (loc, scale)

    def fit_windows(self, train_w: torch.Tensor, val_w: torch.Tensor, seed: int) -> None:
        """Train on prepared windows (scaled, (N, context + H)) with early stopping on `val_w`:
        how a global network (`fanlab.models.lstm.panel`) trains this model on many series."""
        self._fit_windows(train_w, val_w, self._member_seeds(seed))

    def info(self) -> dict:
        """What training did (epochs, best epochs and losses, kernel, device)."""
        return self._info()

    def for_series(self, loc_scale: tuple[str, float, float], seeds: list[int] | None) -> "NetworkForecaster":
        """A shallow copy of this fitted model (sharing its network) that scales with
        `loc_scale` (scaling, location, scale) and predicts with `seeds`: one series of a
        global network, without touching this model's own state."""
        view = copy.copy(self)
        view.scaling_, view.mu_, view.scale_ = loc_scale
        if seeds is not None:
            view.seeds_ = list(seeds)
        return view

    def _info(self) -> dict:
        r = self.train_
        info = {"epochs": int(r.epochs), "best_epoch": r.best_epoch.tolist(),
                "best_val_loss": [float(v) for v in r.best_val], "kernel": self.kernel_, "device": self.device_.type}
        if getattr(self, "scaling_", None) is not None:  # what scaling auto chose (a global network's
            # model has none: its series' scalings are the network's `loc_scales_`)
            info["scaling"] = self.scaling_
        if getattr(self.net_, "skip_inputs", 0):  # the linear skip's inputs (unset: the default where it applies)
            info["skip"] = int(self.net_.skip_inputs)
        if r.member_epochs is not None and len(r.member_epochs) > 1:  # each member's own early stop
            info["member_epochs"] = [int(e) for e in r.member_epochs]
        return info

    # ---- prediction ----------------------------------------------------------------------
    def _prepare(self, y, origins, horizon):
        if not hasattr(self, "net_"):
            raise RuntimeError(f"{self.name}: call fit before predict")
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon)
        if horizon > self.horizon_:
            raise ValueError(f"{self.name} was fitted for horizon {self.horizon_}, asked for {horizon}")
        x, tf = self.scaled_inputs(y, origins)  # tf: (location, scale) of each origin
        return y, origins, x.to(self.device_), tf

    def _draw(self, params: tuple, feed: str, rand: RowRandom, row_shape) -> torch.Tensor:
        """A value (M, R) from decoded one-step params: their mean/median or a draw."""
        return self.head_.draw(params, feed, rand, row_shape)

    @torch.no_grad()
    def _rollout(self, x: torch.Tensor, horizon: int, reps: int, rand: RowRandom, dropout: bool,
                 feed: str):
        """Run all members on windows x (K, T), each origin repeated `reps` times.

        Direct: decoded head params, each (M, K * reps, H[, Qk]), standardised units.
        Recursive: paths (M, K * reps, H), each step's value fed back (`feed`: "mean" feeds
        the mean / median, "sample" a draw from the head).
        """
        net, members = self.net_, self.net_.members
        drop = rand if dropout else None
        xt = x.t().unsqueeze(1).expand(-1, members, -1)  # (T, M, K)
        if dropout:  # every sample runs the whole window through its own masks
            xt, share = xt.repeat_interleave(reps, dim=2), 1
        else:  # no dropout: one pass per origin, its state copied to the origin's samples
            share = reps
        top, state = net.encode(xt, rand=drop)
        if share > 1:
            top = top.repeat_interleave(share, dim=1)
            state = [(h.repeat_interleave(share, dim=1), c.repeat_interleave(share, dim=1)) for h, c in state]
        if self.params.strategy == "direct":
            raw = net.head_infer(top, drop, x.repeat_interleave(reps, dim=0) if getattr(net, "skip_inputs", 0) else None)
            return tuple(v[:, :, :horizon] for v in self.head_.decode(raw))
        weights = net.inference_weights()
        rows = top.shape[1]
        path = torch.empty(members, rows, horizon, dtype=torch.float64, device=x.device)
        for h in range(horizon):
            params = self.head_.decode(net.head_infer(top, drop)[:, :, 0])
            value = self._draw(params, feed, rand, (rows,))
            path[:, :, h] = value
            if h < horizon - 1:
                top, state = net.encode(value.float().unsqueeze(0), state=state, weights=weights, rand=drop)
        return path

    def _chunks(self, x, origins, horizon, reps, dropout, feed, seeds):
        """`_rollout` (and `_extra_draws`) over chunks of whole origins, concatenated along rows."""
        per = max(1, CHUNK_ROWS // reps)
        gens = origin_generators(seeds, origins, self.device_)
        parts = []
        for k0 in range(0, len(origins), per):
            k1 = min(len(origins), k0 + per)
            rand = RowRandom([g[k0:k1] for g in gens], reps)
            out = self._rollout(x[k0:k1], horizon, reps, rand, dropout, feed)
            extra = self._extra_draws(rand, (k1 - k0) * reps, horizon)
            parts.append((out, extra))
        if isinstance(parts[0][0], tuple):
            out = tuple(torch.cat([p[0][i] for p in parts], 1) for i in range(len(parts[0][0])))
        else:
            out = torch.cat([p[0] for p in parts], 1)
        extra = None if parts[0][1] is None else torch.cat([p[1] for p in parts], 0)  # (R, H)
        return out, extra

    def _extra_draws(self, rand: RowRandom, rows: int, horizon: int):
        """Draws a variant needs after the network passes, per origin; None by default."""
        return None

    def _units(self, tf: tuple, v: torch.Tensor, axis: int = -2, shift: bool = True) -> np.ndarray:
        """Scaled values -> original units, as numpy: v * scale + location of each row's origin.

        Rows (origins, or origins x samples with an origin's samples consecutive) lie along
        `axis`; `tf` is the (location, scale) per origin that `_prepare` returned with the
        inputs (passed along, never kept on the model). ``shift=False`` maps a spread (sd): scale only.
        """
        loc, scale = tf
        v = v.double().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=float)
        axis = axis % v.ndim
        reps = v.shape[axis] // loc.size
        shape = [1] * v.ndim
        shape[axis] = v.shape[axis]
        out = v * np.repeat(scale, reps).reshape(shape)
        return out + np.repeat(loc, reps).reshape(shape) if shift else out


class LSTMForecaster(NetworkForecaster):
    """One LSTM (see the module notes for what each head / uncertainty setting returns).

    Parameters
    ----------
    horizon : int
        H, the number of steps the network is trained to forecast.
    params : LSTMParams, optional
        All settings; keyword `overrides` replace single fields.
    """

    name = "lstm"
    params_model = LSTMParams

    def _head(self) -> Head:
        p = self.params
        return make_head(p.head, probs=p.quantile_probs, variance=p.variance, min_variance=p.min_variance)

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "LSTMForecaster":
        """Learn from ``y[:train_end]`` only; returns self.

        A point head is trained once for all its arms: one run early-stops both on the whole
        validation tail (the plain point forecast, and conformal bands around it) and on the
        tail minus the windows held out for MC dropout's noise term (`train_criteria`);
        the noise term is estimated on those windows with the latter weights.
        """
        self._fit_members(y, train_end, self._member_seeds(seed))
        self.noise_var_ = self.resid_ = None
        if self._holds_out_noise():
            self._use("early")
            y_train = np.asarray(y, dtype=float)[:train_end]
            self.noise_var_ = self._validation_mse(y_train)
            if self.params.strategy == "recursive":
                self.resid_ = self._one_step_residuals(y_train)
            self._use(self._criterion())
        return self

    def adopt_predict_params(self, other: "LSTMForecaster") -> None:
        """Take `other`'s prediction-only settings (a stored fit shared by arms that differ in
        them only: `fanlab.models.lstm.params.PREDICT_ONLY`)."""
        self.params = self.params.model_copy(update={k: getattr(other.params, k) for k in PREDICT_ONLY})
        self._use(self._criterion())

    def _holds_out_noise(self) -> bool:
        # the point head keeps the noise windows out of its MC arms' early stopping, and fits
        # every point arm (plain, MC with and without the noise term) in one run
        return self.params.head == "point"

    def _criterion(self) -> str:
        held_out = self.params.uncertainty in ("mc_dropout", "residual_paths")
        return "early" if self._holds_out_noise() and held_out else "all"

    def _validation_mse(self, y_train: np.ndarray) -> np.ndarray:
        """Mean squared error per step (H,) of the dropout-free forecast on the held-out
        validation windows (`noise_origins_`, none of whose targets picked the early-stopping
        epoch), in the model's scaled units: the inherent-noise variance of Zhu and Laptev
        (2017): the original-units MSE / scale_**2 (every scaling but window has one scale)."""
        o = self.noise_origins_
        x, (loc, scale) = self.scaled_inputs(y_train, o)
        out, _ = self._chunks(x.to(self.device_), o, self.horizon_, 1, False, "mean", self.seeds_)
        point = (out[0][0] if isinstance(out, tuple) else out[0]).double().cpu().numpy()  # (Kv, H)
        idx = o[:, None] + np.arange(1, self.horizon_ + 1)[None, :]
        target = (y_train[idx] - loc[:, None]) / scale[:, None]
        return ((target - point) ** 2).mean(axis=0)

    def residual_origins(self) -> np.ndarray:
        """Origins (Kr,) of the one-step residuals: every t whose target t + 1 lies in the
        held-out part of the validation tail (from ``noise_origins_[0] + 1`` to train_end - 1)."""
        return np.arange(self.noise_origins_[0], self.train_end_ - 1, dtype=np.int64)

    def _one_step_residuals(self, y_train: np.ndarray) -> np.ndarray:
        """One-step errors (Kr,) of the dropout-free network at `residual_origins`, in each
        window's scaled units: target minus forecast."""
        o = self.residual_origins()
        x, (loc, scale) = self.scaled_inputs(y_train, o)
        out, _ = self._chunks(x.to(self.device_), o, 1, 1, False, "mean", self.seeds_)
        point = out[0, :, 0].double().cpu().numpy()
        return (y_train[o + 1] - loc) / scale - point

    def innovation_pool(self) -> np.ndarray:
        """The centred one-step residuals (Kr,) that `residual_paths` resamples (scaled units);
        ``innovations: gaussian`` draws with their variance, ``mean(pool ** 2)``."""
        if getattr(self, "resid_", None) is None:
            raise RuntimeError("residual_paths needs the one-step residuals of a recursive point network's fit "
                               "(a fit stored before they existed: rerun with --force)")
        return self.resid_ - self.resid_.mean()

    def _draw(self, params, feed, rand, row_shape):
        value = self.head_.draw(params, feed, rand, row_shape)
        if feed != "residual":
            return value
        return value + torch.stack([self._innovation(rand, m, row_shape) for m in range(value.shape[0])])

    def _innovation(self, rand: RowRandom, member: int, row_shape) -> torch.Tensor:
        """Innovations (R,) for one rollout step, drawn per origin from `rand`."""
        pool = torch.from_numpy(self.innovation_pool()).to(self.device_)
        if self.params.innovations == "gaussian":
            return rand.normal(member, row_shape, 0) * pool.pow(2).mean().sqrt()
        u = rand.uniform(member, row_shape, 0)
        return pool[(u * pool.numel()).long().clamp(max=pool.numel() - 1)]

    def _extra_draws(self, rand, rows, horizon):
        p = self.params
        if p.uncertainty != "mc_dropout" or not p.noise:
            return None
        if not self.head_.has_spread or p.strategy == "direct":
            return self.head_.direct_draws(rand, rows, horizon)
        return None

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """Forecast H steps from each origin, using only ``y[t - context + 1 : t + 1]``."""
        y, origins, x, tf = self._prepare(y, origins, horizon)
        p, probs, k = self.params, np.asarray(probs, dtype=float), len(origins)
        info = self._info()
        mc = p.uncertainty == "mc_dropout"
        residual = p.uncertainty == "residual_paths"
        if (mc or residual) and not self.head_.has_spread and self.noise_note_:
            warnings.warn(self.noise_note_)
        recursive = p.strategy == "recursive"
        sampled = mc or residual or (recursive and self.head_.has_spread)
        reps = p.samples if sampled else 1
        feed = "sample" if (self.head_.has_spread and (not mc or p.noise)) else "mean"
        if residual:
            feed, info = "residual", {**info, "innovations": p.innovations, "residuals": self.innovation_pool().size}
        dropout = mc or (residual and p.path_dropout)
        out, extra = self._chunks(x, origins, horizon, reps, dropout, feed, self.seeds_)
        if not sampled:
            return self._closed_form(origins, out, probs, horizon, info, tf)
        if recursive:
            paths = out[0]
            if extra is not None:  # point head + noise: validation residual variance
                paths = paths + extra * self._noise_sd(horizon)
        else:
            paths = self._direct_samples(out, extra, horizon)
        samples = self._units(tf, paths).reshape(k, reps, horizon)
        # a sample is a draw of the whole path only where its randomness entered the rollout (or
        # one dropout mask served all steps); noise drawn step by step afterwards (the point head's
        # noise term, a direct head's per-step draw) pieces a path together from marginals
        return sample_forecast(origins, samples, probs, info=info, paths=extra is None)

    def _noise_sd(self, horizon: int) -> torch.Tensor:
        """The point head's noise-term sd per step (H,), float64 on the network's device."""
        return torch.from_numpy(np.sqrt(self.noise_var_[:horizon])).to(self.device_)

    def _direct_samples(self, out: tuple, extra, horizon: int) -> torch.Tensor:
        """One value per (row, step) from each pass's decoded params (1, R, H[, Qk])."""
        return self.head_.direct_value(out, extra, lambda: self._noise_sd(horizon))

    def _closed_form(self, origins, out, probs, horizon, info, tf) -> Forecast:
        """Forecasts without sampling: point (zero width), Gaussian or quantile head (direct)."""
        p = self.params
        if p.strategy == "recursive" or not self.head_.has_spread:
            point = self._units(tf, out[0] if p.strategy == "recursive" else out[0][0])
            q = np.repeat(point[:, None, :], probs.size, axis=1)
            return Forecast(origins=origins, mean=point, probs=probs, quantiles=q, info=info)
        if isinstance(self.head_, GaussianHead):
            mean = self._units(tf, out[0][0])
            sd = self._units(tf, out[1][0].sqrt(), shift=False)
            return gaussian_forecast(origins, mean, sd, probs, info=info)
        q = out[0][0]  # (K, H, Qk)
        z = torch.special.ndtri(torch.from_numpy(probs).to(self.device_))
        qq = self._units(tf, self.head_.read(q, z), axis=0)  # (K, H, Q)
        median = self._units(tf, self.head_.read(q, q.new_zeros(1))[..., 0])
        return Forecast(origins=origins, mean=median, probs=probs, quantiles=np.moveaxis(qq, -1, 1), info=info)
