"""Windows, output heads, losses and the early-stopped training loop.

Everything is batched over M members (M = 1 for a single forecaster). A window is the slice
``z[t - context + 1 : t + H + 1]`` of the standardised series around an origin t: its first
`context` values are the input, its last H values the targets. The direct strategy reads the
last hidden state once; the recursive one predicts one step ahead at every position of the
sequence ``window[:-1]`` and is scored on the last H positions (teacher forcing: at training
time it is fed the true values, at prediction its own outputs).

Early stopping watches a validation tail carved from the end of the training block; the
caller hands in windows built from ``y[:train_end]`` only, so nothing past train_end is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fanlab.models.lstm.heads import Head
from fanlab.models.lstm.network import MemberLSTM


def generators(seed: int, device: torch.device | str = "cpu") -> dict[str, torch.Generator]:
    """Independent torch generators on `device` for initialisation, batch order and dropout,
    from one seed (a device's generators give their own streams: results are reproducible
    per device)."""
    streams = np.random.default_rng(seed).integers(0, 2**62, size=3)
    names = ("init", "shuffle", "dropout")
    return {n: torch.Generator(device=device).manual_seed(int(s)) for n, s in zip(names, streams)}


def member_seeds(seed: int, members: int) -> list[int]:
    """Seeds of an ensemble's members; member m is the single model fitted with seeds[m]."""
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=members)]


def window_origins(n: int, context: int, horizon: int, val_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """Origins (last input index) of training and validation windows inside ``[0, n)``.

    The validation tail is the last ``max(round(val_frac * n), horizon)`` points; validation
    windows have all H targets in it, training windows all H targets before it.
    """
    val_len = max(int(round(val_frac * n)), horizon)
    val_start = n - val_len
    first = context - 1
    train = np.arange(first, val_start - horizon, dtype=np.int64)
    val = np.arange(max(first, val_start - 1), n - horizon, dtype=np.int64)
    if train.size == 0 or val.size == 0:
        raise ValueError(
            f"training block of {n} points is too short for context={context}, horizon={horizon} "
            f"and a validation tail of {val_len} points: it needs more than "
            f"{context + horizon + val_len} points (or a smaller context, horizon or val_frac)"
        )
    return train, val


def validation_split(n: int, horizon: int, val_frac: float, val: np.ndarray,
                     holdout: float) -> tuple[np.ndarray, np.ndarray]:
    """Split validation origins `val` (from `window_origins`) in two with disjoint targets.

    The validation tail (the last ``max(round(val_frac * n), horizon)`` points) is cut at
    ``n - max(round(holdout * len), horizon)``: early-stopping windows have all H targets
    before the cut, held-out windows (for the noise term) all H targets after it. Returns
    (early_stopping, held_out) origins.
    """
    val_len = max(int(round(val_frac * n)), horizon)
    val_start = n - val_len
    cut = n - max(int(round(holdout * val_len)), horizon)
    es, held = val[val + horizon < cut], val[val >= cut - 1]
    if cut - val_start < horizon or es.size == 0 or held.size == 0:
        raise ValueError(
            f"a validation tail of {val_len} points cannot be split into an early-stopping part and a "
            f"noise-term part of at least horizon={horizon} points each: raise val_frac or lower noise_holdout")
    return es, held


def windows(z: np.ndarray, origins: np.ndarray, context: int, horizon: int) -> torch.Tensor:
    """Windows (N, context + H) of z around each origin, as float32."""
    idx = origins[:, None] + np.arange(-context + 1, horizon + 1)[None, :]
    return torch.from_numpy(np.ascontiguousarray(z[idx], dtype=np.float32))


def raw_windows(y: np.ndarray, origins: np.ndarray, context: int) -> np.ndarray:
    """Inputs (K, context) in original units: ``y[t - context + 1 : t + 1]`` for each origin t."""
    short = origins[origins < context - 1]
    if short.size:
        t = int(short[0])
        raise ValueError(f"origin {t} has {t + 1} observations; the LSTM needs context={context} of them")
    idx = origins[:, None] + np.arange(-context + 1, 1)[None, :]
    return y[idx]


def resolve_scaling(scaling: str, y_train: np.ndarray, strategy: str = "direct") -> str:
    """The scaling a network uses on this training block: `scaling` itself, or for "auto" the
    unit-root decision auto ARIMA makes for d (KPSS at 5% with forecast::ndiffs' bandwidth,
    `fanlab.models.arima_select.n_diffs`). The direct strategy is fed the series as ARIMA would
    model it: "level" where the block is stationary (where it stands against the block's mean),
    "diff" where it needs a difference (its steps; the level wanders out of the training range);
    either way it forecasts the change from the last value (benchmarks/lstm_competence.py).
    The recursive strategy, whose one-step targets move with every input, gets "last_value"."""
    if scaling != "auto":
        return scaling
    if strategy != "direct":
        return "last_value"
    from fanlab.models.arima_select import n_diffs

    d, _ = n_diffs(np.asarray(y_train, dtype=float), "kpss", 0.05, max_d=1)
    return "level" if d == 0 else "diff"


def train_block_scale(y_train: np.ndarray, scaling: str) -> tuple[float, float]:
    """(mu, scale) of a training block: its mean, and its sd (last_value: the sd of its first
    differences, for last_value and diff); a zero sd gives scale 1. Read by `window_loc_scale`
    (and, for scaling "level", the mean centres the inputs)."""
    mu = float(y_train.mean())
    sd = float(np.diff(y_train).std()) if scaling in ("last_value", "diff") else float(y_train.std())
    return mu, (sd if sd > 0 else 1.0)


def window_loc_scale(raw: np.ndarray, kind: str, mu: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Location and scale (K,) of input windows raw (K, C), from each window alone.

    global: (mu, scale) for every window; last_value, level and diff: (the window's last
    value, scale) (level and diff make their inputs otherwise: `scaled_inputs`);
    window: the window's own mean and sd (a constant window: sd replaced by `scale`).
    Under last_value, shifting a series by c shifts every forecast by c; under window, an
    affine map a + b y (b > 0) of the inputs maps every forecast the same way.
    """
    k = raw.shape[0]
    if kind == "global":
        return np.full(k, mu), np.full(k, scale)
    if kind in ("last_value", "level", "diff"):
        return raw[:, -1].astype(float), np.full(k, scale)
    loc = raw.mean(axis=1)
    sd = raw.std(axis=1)
    return loc, np.where(sd > 1e-12 * np.abs(loc).clip(min=1.0), sd, scale)


def scaled_inputs(raw: np.ndarray, loc: np.ndarray, scale: np.ndarray, kind: str | None, mu: float) -> np.ndarray:
    """The network's inputs (K, C) from raw input windows (K, C) and their (location, scale):
    (raw - loc) / scale, except for level, (raw - mu) / scale (where the series stands against
    the training block's mean), and diff, the first differences / scale with a 0 in front (the
    series made stationary as auto ARIMA's d = 1 does). Either way the targets and outputs
    stay centred on `loc`, the window's last value."""
    if kind == "level":
        return (raw - mu) / scale[:, None]
    if kind == "diff":
        out = np.zeros(raw.shape, dtype=float)
        out[:, 1:] = np.diff(raw, axis=1) / scale[:, None]
        return out
    return (raw - loc[:, None]) / scale[:, None]


def scaled_windows(y: np.ndarray, origins: np.ndarray, context: int, horizon: int, loc_scale,
                   kind: str | None = None, mu: float = 0.0) -> torch.Tensor:
    """Windows (N, context + H) of y, each scaled by the location and scale (N,) that
    ``loc_scale(inputs (N, context))`` gives for its own input part, as float32; the input
    part as `scaled_inputs` makes it for scaling `kind` (None: centred like the targets)."""
    idx = origins[:, None] + np.arange(-context + 1, horizon + 1)[None, :]
    raw = y[idx]
    loc, scale = loc_scale(raw[:, :context])
    w = np.empty(raw.shape, dtype=np.float32)
    w[:, :context] = scaled_inputs(raw[:, :context], loc, scale, kind, mu)
    w[:, context:] = (raw[:, context:] - loc[:, None]) / scale[:, None]
    return torch.from_numpy(w)


def step_weights(horizon: int, power: float, device: torch.device | str = "cpu") -> torch.Tensor | None:
    """Loss weights (H,) proportional to h^-power, summing to 1; None for power 0 (plain mean)."""
    if power == 0.0:
        return None
    w = np.arange(1, horizon + 1, dtype=float) ** -power
    return torch.tensor(w / w.sum(), dtype=torch.float32, device=device)


@dataclass
class TrainConfig:
    max_epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 10
    grad_clip: float | None = 1.0
    weight_decay: float = 0.0
    lr_decay: float = 1.0


@dataclass
class TrainResult:
    """What training did: epochs run (until the last member stopped), and per member (M,)
    the epochs it trained for this criterion, its best epoch and best validation loss."""

    epochs: int
    best_epoch: np.ndarray
    best_val: np.ndarray
    history: list[np.ndarray] = field(default_factory=list)  # validation loss (M,) per epoch; NaN once stopped
    member_epochs: np.ndarray | None = None


def run_windows(net: MemberLSTM, head: Head, x: torch.Tensor, recursive: bool, horizon: int,
                generators_=None, members=None) -> torch.Tensor:
    """Raw outputs (M, B, H, D) for windows x (M, B, context + H); with `members` (indices),
    only those members, x holding their windows."""
    if recursive:
        return net(x[..., :-1], generators_, last=horizon, members=members)
    return net(x[..., : x.shape[-1] - horizon], generators_, members=members)


def _clip_per_member(net: MemberLSTM, max_norm: float) -> None:
    """Clip each member's gradient to `max_norm` on its own, so members stay independent."""
    params = [p for p in net.parameters() if p.grad is not None]
    sq = sum(p.grad.pow(2).flatten(1).sum(1) for p in params)  # (M,)
    factor = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(factor.view(-1, *([1] * (p.dim() - 1))))


def train(net: MemberLSTM, head: Head, train_w: torch.Tensor, val_w: torch.Tensor, horizon: int,
          recursive: bool, cfg: TrainConfig, gens: list[dict[str, torch.Generator]]) -> TrainResult:
    """Adam with per-member early stopping on `val_w`; restores each member's best weights.

    train_w (N, W) and val_w (Nv, W) are windows; gens holds one `generators()` dict per
    member: member m's initialisation, batch order and dropout masks come from it alone.
    The loss is the sum of member losses, so (Adam being elementwise) each member follows
    exactly the path it would follow if trained alone. Each member stops when it has gone
    `patience` epochs without improving its validation loss (the others train on without
    it), or at `max_epochs`.
    """
    result, state = train_criteria(net, head, train_w, {"val": val_w}, horizon, recursive, cfg, gens)["val"]
    net.load_state_dict(state)
    return result


def train_criteria(net: MemberLSTM, head: Head, train_w: torch.Tensor, vals: dict[str, torch.Tensor],
                   horizon: int, recursive: bool, cfg: TrainConfig,
                   gens: list[dict[str, torch.Generator]]) -> dict[str, tuple[TrainResult, dict]]:
    """One training run early-stopped by several criteria at once: {name: (result, weights)}.

    Each criterion is a set of validation windows; its result and best weights (a state
    dict) are exactly those `train` would give with that set alone. The training path does
    not depend on validation (the same batches, masks and updates whatever the set), so
    one run serves them all: a criterion is frozen at the epoch where it alone would have
    stopped, and the run goes on until every criterion has stopped. Arms that differ only
    in their early-stopping windows (the point LSTM and its MC-dropout arms, which keep part
    of the tail for the noise term) thus share one fit.

    Early stopping is per member: a member's criterion freezes when that member has gone
    `patience` epochs without improving on it, and a member whose every criterion is frozen
    stops training (its batches, masks and updates are no longer computed; its weights in
    the optimiser drift, but only the frozen best weights are returned). Each member thus
    trains exactly as long as it would alone.
    """
    members = net.members
    net.reset_parameters([g["init"] for g in gens])
    if cfg.weight_decay:  # decoupled decay is elementwise too: members stay independent
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    drop_gens = [g["dropout"] for g in gens]
    n = train_w.shape[0]
    init = {k: v.detach().clone() for k, v in net.state_dict().items()}
    track = {name: {"best_val": np.full(members, np.inf), "best_epoch": np.full(members, -1), "history": [],
                    "state": {k: v.clone() for k, v in init.items()}, "live": np.ones(members, dtype=bool),
                    "member_epochs": np.zeros(members, dtype=np.int64), "stopped": None} for name in vals}
    epoch = 0
    active = list(range(members))
    for epoch in range(1, cfg.max_epochs + 1):
        perms = torch.stack([torch.randperm(n, generator=gens[m]["shuffle"], device=gens[m]["shuffle"].device)
                             for m in active])  # (A, N)
        subset = None if len(active) == members else active
        for start in range(0, n, cfg.batch_size):
            batch = train_w[perms[:, start : start + cfg.batch_size]]  # (A, b, W)
            raw = run_windows(net, head, batch, recursive, horizon, drop_gens, subset)
            loss = head.loss(raw, batch[..., -horizon:]).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                _clip_per_member(net, cfg.grad_clip)
            opt.step()
        if cfg.lr_decay != 1.0:  # the same schedule for every member: a function of the epoch alone
            for group in opt.param_groups:
                group["lr"] = cfg.lr * cfg.lr_decay**epoch
        for name, val_w in vals.items():
            tr = track[name]
            live = tr["live"]
            if not live.any():
                continue
            val = validation_loss(net, head, val_w, horizon, recursive)
            tr["history"].append(np.where(live, val, np.nan))
            tr["member_epochs"][live] = epoch
            better = live & (val < tr["best_val"])
            if better.any():
                tr["best_val"][better], tr["best_epoch"][better] = val[better], epoch
                rows = torch.from_numpy(np.flatnonzero(better)).to(train_w.device)
                for k, v in net.state_dict().items():
                    tr["state"][k][rows] = v.detach()[rows]
            live &= epoch - tr["best_epoch"] < cfg.patience
            if not live.any():
                tr["stopped"] = epoch
        active = [m for m in range(members) if any(tr["live"][m] for tr in track.values())]
        if not active:
            break
    if net.kernel == "numba":  # the kernel's buffers are kept per thread between batches
        from fanlab.models.lstm.kernel import clear_workspace

        clear_workspace()
    return {name: (TrainResult(epochs=tr["stopped"] or epoch, best_epoch=tr["best_epoch"], best_val=tr["best_val"],
                               history=tr["history"], member_epochs=tr["member_epochs"]), tr["state"])
            for name, tr in track.items()}


@torch.no_grad()
def validation_loss(net: MemberLSTM, head: Head, val_w: torch.Tensor, horizon: int, recursive: bool) -> np.ndarray:
    """Mean loss (M,) over the validation windows, dropout off."""
    x = val_w.unsqueeze(0).expand(net.members, -1, -1)
    raw = run_windows(net, head, x, recursive, horizon)
    loss = head.loss(raw, x[..., -horizon:])
    return loss.double().cpu().numpy()
