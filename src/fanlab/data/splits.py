"""Time splits train | calibration | test and the forecast origins inside a block.

Blocks are half-open index ranges: train = [0, train_end), calibration = [train_end, cal_end),
test = [cal_end, n). An origin t is the index of the last observed point; its H targets are
y[t + 1], ..., y[t + H]. Test origins have every target inside the test block; calibration
origins have every target inside the calibration block, so conformal scores never touch the
test block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fanlab.errors import DataError


class SplitError(DataError):
    """A series too short for the split and horizon."""


@dataclass(frozen=True)
class Split:
    n: int
    train_end: int
    cal_end: int
    test_end: int

    @property
    def train_len(self) -> int:
        return self.train_end

    @property
    def cal_len(self) -> int:
        return self.cal_end - self.train_end

    @property
    def test_len(self) -> int:
        return self.test_end - self.cal_end

    def test_origins(self, horizon: int, stride: int, max_origins: int | None = None) -> np.ndarray:
        """Origins (K,) in the test block, every `stride` steps, each with `horizon` targets."""
        return _origins(self.cal_end, self.test_end, horizon, stride, max_origins)

    def cal_origins(self, horizon: int, stride: int = 1) -> np.ndarray:
        """Origins (K,) whose `horizon` targets all lie in the calibration block."""
        return _origins(self.train_end, self.cal_end, horizon, stride, None)


def _origins(start: int, end: int, horizon: int, stride: int, max_origins: int | None) -> np.ndarray:
    # first origin forecasts y[start] at h=1; last one forecasts y[end - 1] at h=H
    origins = np.arange(start - 1, end - horizon, stride, dtype=np.int64)
    if max_origins is not None and origins.size > max_origins:
        origins = origins[:max_origins]
    return origins


def make_split(
    n: int,
    train: float | int,
    cal: float | int,
    test: float | int,
    horizon: int,
    series: str = "series",
    min_train: int = 10,
) -> Split:
    """Block ends for a series of length `n`.

    `train`, `cal`, `test` are either all fractions (floats summing to at most 1, blocks laid
    from the start; fractions of n, floored) or all lengths (ints). `cal` may be 0.
    Raises `SplitError` naming the series and the length it must have.
    """
    fractions = all(isinstance(v, float) for v in (train, cal, test))
    vals = (train, cal, test)
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 for v in vals):
        raise SplitError(f"series '{series}': split sizes must be finite numbers >= 0, got {vals}")
    if fractions and sum(vals) > 1.0 + 1e-9:
        raise SplitError(f"series '{series}': split fractions sum to {sum(vals):g} > 1")
    if fractions:
        tr, ca = int(math.floor(n * train)), int(math.floor(n * cal))
        te = int(math.floor(n * test))
        te = min(te, n - tr - ca)
    else:
        tr, ca, te = int(train), int(cal), int(test)
    if tr + ca + te > n:
        raise SplitError(
            f"series '{series}' has {n} points but the split asks for "
            f"train={tr} + cal={ca} + test={te} = {tr + ca + te}"
        )
    split = Split(n=n, train_end=tr, cal_end=tr + ca, test_end=tr + ca + te)
    if split.test_len < horizon:
        need = _needed_length(train, cal, test, horizon, fractions)
        at_least = (f"It must have at least {need} points for this split" if need is not None
                    else f"The test fraction {test:g} is too small for any series")
        raise SplitError(
            f"series '{series}' has {n} points; its test block has {split.test_len} < horizon "
            f"{horizon}, so no origin fits. {at_least} (or lower the horizon / enlarge the test block)"
        )
    if split.train_len < min_train:
        raise SplitError(f"series '{series}': train block has {split.train_len} < {min_train} points")
    return split


def _needed_length(train, cal, test, horizon, fractions) -> int | None:
    if not fractions:
        return int(train) + int(cal) + max(int(test), horizon)
    need = horizon / test if test > 0 else math.inf
    if not math.isfinite(need) or need > 1e15:
        return None  # no practical length: the test fraction is too small
    n = int(math.ceil(need))
    for _ in range(64):  # float rounding may leave floor(n * test) just below the horizon
        if math.floor(n * test) >= horizon:
            return n
        n += 1
    return None
