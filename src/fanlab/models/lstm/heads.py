"""Output heads of the LSTM family: how raw network outputs (..., D) become a predictive
distribution, its training loss, its one-step draws and its forecast.

One class per head, as darts' likelihood models and neuralforecast's losses are, instead of a
kind string tested across the forecaster:

- `PointHead` (D = 1): squared error; its forecast is a point (zero width) unless MC dropout
  (and the noise term) samples around it.
- `GaussianHead` (D = 2): mean and variance (softplus or exp of the raw output, plus
  `min_variance`); Gaussian negative log-likelihood; closed-form quantiles.
- `QuantileHead` (D = Q): quantiles at `probs`, sorted so they never cross; pinball loss; read
  between its knots linearly in z = Phi^-1(p) and continued past the outermost.

`make_head(kind, ...)` builds one from a params string. Every step of a direct head may be
weighted (`weights`, summing to 1) and, for the point and quantile heads, divided by a per-step
scale (`step_scale`), so every step's loss is O(1) whatever the scaling.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def quantile_interp(q: torch.Tensor, zk: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Quantile function through knots: q (..., Qk) at zk = Phi^-1(knot probs) (Qk,), read at
    z (..., n) or (n,); linear in z, extended linearly past the ends. Returns (..., n)."""
    z = z.expand(q.shape[:-1] + z.shape[-1:])
    j = (torch.searchsorted(zk, z.contiguous()) - 1).clamp(0, zk.shape[0] - 2)
    z0, z1 = zk[j], zk[j + 1]
    q0, q1 = torch.gather(q, -1, j), torch.gather(q, -1, j + 1)
    return q0 + (z - z0) / (z1 - z0) * (q1 - q0)


class Head:
    """What every head shares: step weights and scales, moving to a device, the weighted loss."""

    kind: str = ""
    #: whether a direct head's per-step loss is divided by `step_scale` (its units are the target's)
    scaled_steps: bool = True
    #: whether it learns a spread (and so feeds draws, not its centre, to a recursive rollout)
    has_spread: bool = True
    knots = None
    #: how many leading outputs are locations (a mean or quantiles: what the linear skip adds to)
    locations: int = 1

    def __init__(self):
        self.weights = None  # (H,) summing to 1, direct strategy; None: every step equally
        self.step_scale = None  # (H,): point / quantile heads, each step's loss divided by it
        self.outputs = 0

    def to(self, device: torch.device | str) -> "Head":
        """Move the head's tensors (probabilities, step weights and scales) to `device`."""
        for name in ("probs", "weights", "step_scale"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(self, name, value.to(device))
        return self

    def decode(self, raw: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def cell_loss(self, out: tuple, y: torch.Tensor) -> torch.Tensor:
        """Loss per (member, window, step) (M, B, H) of decoded outputs against targets."""
        raise NotImplementedError

    def mean_loss(self, out: tuple, y: torch.Tensor) -> torch.Tensor:
        """Loss per member (M,), every window and step alike."""
        return self.cell_loss(out, y).mean(dim=(1, 2))

    def loss(self, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss per member: raw (M, B, H, D), y (M, B, H) -> (M,); with `weights`, the
        per-step mean losses are averaged with those weights instead of equally."""
        out = self.decode(raw)
        if self.weights is not None and raw.shape[2] == self.weights.shape[0]:
            step = self.cell_loss(out, y).mean(dim=1)  # (M, H)
            if self.step_scale is not None and self.scaled_steps:
                step = step / self.step_scale
            return (step * self.weights).sum(dim=-1)
        return self.mean_loss(out, y)

    def step_scales(self, train_w: torch.Tensor, horizon: int) -> torch.Tensor:
        """Per-step loss normalisers (H,) from training windows (N, context + H): the mean
        squared scaled target at each step (its square root where the loss is in the target's
        units)."""
        return train_w[:, -horizon:].double().pow(2).mean(dim=0).clamp(min=1e-8).sqrt().float()

    # ---- prediction --------------------------------------------------------------------
    def draw(self, params: tuple, feed: str, rand, row_shape) -> torch.Tensor:
        """A one-step value (M, R) from decoded params: their centre (`feed` "mean") or a draw
        from `rand` (a `RowRandom`)."""
        raise NotImplementedError

    def direct_draws(self, rand, rows: int, horizon: int):
        """The draws (R, H) a direct head's noise term needs under MC dropout (None: none)."""
        return None

    def direct_value(self, out: tuple, extra, noise_sd) -> torch.Tensor:
        """One value per (row, step) of a direct head's decoded pass (1, R, H[, Qk]): its centre,
        or a draw given `extra` (`direct_draws`); `noise_sd()` is the point head's noise term's
        sd per step (its spread is not learnt but measured on held-out windows)."""
        raise NotImplementedError


class PointHead(Head):
    kind = "point"
    scaled_steps = True
    has_spread = False

    def __init__(self):
        super().__init__()
        self.outputs = 1

    def decode(self, raw):
        return (raw[..., 0],)

    def cell_loss(self, out, y):
        return (out[0] - y) ** 2

    def step_scales(self, train_w, horizon):
        # the MSE of forecasting the window's location: squared units, as the loss
        return train_w[:, -horizon:].double().pow(2).mean(dim=0).clamp(min=1e-8).float()

    def draw(self, params, feed, rand, row_shape):
        return params[0]

    def direct_draws(self, rand, rows, horizon):
        return rand.normal(0, (rows, horizon), 0)

    def direct_value(self, out, extra, noise_sd):
        base = out[0][0]
        return base if extra is None else base + extra * noise_sd()


class GaussianHead(Head):
    kind = "gaussian"
    scaled_steps = False

    def __init__(self, variance: str = "softplus", min_variance: float = 1e-4):
        super().__init__()
        self.variance, self.min_variance = variance, min_variance
        self.outputs = 2

    def decode(self, raw):
        r = raw[..., 1]
        var = F.softplus(r) if self.variance == "softplus" else torch.exp(r.clamp(max=30.0))
        return raw[..., 0], var + self.min_variance

    def cell_loss(self, out, y):
        mean, var = out
        return 0.5 * (torch.log(var) + (y - mean) ** 2 / var)

    def draw(self, params, feed, rand, row_shape):
        if feed == "mean":
            return params[0]
        eps = torch.stack([rand.normal(m, row_shape, 0) for m in range(params[0].shape[0])])
        return params[0] + params[1].sqrt() * eps

    def direct_draws(self, rand, rows, horizon):
        return rand.normal(0, (rows, horizon), 0)

    def direct_value(self, out, extra, noise_sd):
        mean, var = out[0][0], out[1][0]
        return mean if extra is None else mean + var.sqrt() * extra


class QuantileHead(Head):
    kind = "quantile"
    scaled_steps = True

    def __init__(self, probs):
        super().__init__()
        if probs is None or len(probs) == 0:
            raise ValueError("the quantile head needs its probabilities")
        self.knots = np.asarray(probs, dtype=float)  # (Q,)
        # made on the CPU, moved with the network by `to`
        self.probs = torch.tensor(self.knots, dtype=torch.float32, device="cpu")
        self.outputs = self.locations = len(probs)  # every quantile is a location

    def decode(self, raw):
        return (torch.sort(raw, dim=-1).values,)

    def _pinball(self, out, y):
        err = y.unsqueeze(-1) - out[0]
        return torch.maximum(self.probs * err, (self.probs - 1.0) * err)

    def cell_loss(self, out, y):
        return self._pinball(out, y).mean(dim=-1)

    def mean_loss(self, out, y):
        return self._pinball(out, y).mean(dim=(1, 2, 3))

    def zk(self, device) -> torch.Tensor:
        """Phi^-1 of the knots' probabilities (float64) on `device`."""
        return torch.special.ndtri(torch.from_numpy(self.knots).to(device))

    def read(self, q: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The quantiles q (..., Qk) read at z = Phi^-1(p) (..., n) or (n,)."""
        return quantile_interp(q, self.zk(q.device), z)

    def draw(self, params, feed, rand, row_shape):
        q = params[0]
        if feed == "mean":
            return self.read(q, q.new_zeros(1))[..., 0]
        u = torch.stack([rand.uniform(m, row_shape, 0) for m in range(q.shape[0])])
        z = torch.special.ndtri(u.clamp(1e-12, 1 - 1e-12))
        return self.read(q, z.unsqueeze(-1))[..., 0]

    def direct_draws(self, rand, rows, horizon):
        return rand.uniform(0, (rows, horizon), 0)

    def direct_value(self, out, extra, noise_sd):
        q = out[0][0]  # (R, H, Qk)
        z = q.new_zeros(q.shape[:-1] + (1,)) if extra is None else torch.special.ndtri(
            extra.clamp(1e-12, 1 - 1e-12)).unsqueeze(-1)
        return self.read(q, z)[..., 0]


def make_head(kind: str, probs=None, variance: str = "softplus", min_variance: float = 1e-4) -> Head:
    """The head named by a params string: "point", "gaussian" or "quantile"."""
    if kind == "point":
        return PointHead()
    if kind == "gaussian":
        return GaussianHead(variance=variance, min_variance=min_variance)
    if kind == "quantile":
        return QuantileHead(probs)
    raise ValueError(f"unknown head {kind!r} (valid: point, gaussian, quantile)")
