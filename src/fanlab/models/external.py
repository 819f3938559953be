"""Bring your own forecasts: quantile forecasts made elsewhere, scored like any arm.

The file (parquet or CSV) is in long format, one row per (series, origin, h, probability):

=========  ================================================================================
series     the series name as the dataset gives it (optional when the file has one series)
origin     index of the last observed point of the origin (0-based, as fanlab's origins)
h          step 1 .. H
prob       quantile probability in (0, 1) (or ``level`` + ``side`` lo/hi: prob (1 -+ l) / 2)
value      the quantile
=========  ================================================================================

An optional ``mean`` column gives the point forecast (else the median, prob 0.5, is used).
The probabilities of the config's levels must be in the file (a clear error names the
missing ones); the fine grid of reliability levels is filled in between the file's
probabilities by interpolation linear in z = Phi^-1(p), continued past the outermost with
their slopes, and a warning says so. Every origin the cell forecasts must be in the file, for
all H steps; quantiles must not cross. The file's forecasts are what they are: fanlab cannot
check that they were made without look-ahead, so make them from ``y[: origin + 1]`` only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtri

from fanlab.errors import DataError
from fanlab.forecast import PROB_DECIMALS, Forecast, check_origins
from fanlab.registry import register_method


class ExternalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="parquet or CSV file of quantile forecasts in long format")
    required_probs: tuple[float, ...] | None = Field(
        None, description="probabilities that must be in the file (default: those of the config's levels)")


def read_quantile_file(path: str | Path) -> pd.DataFrame:
    """The file as a frame with columns series, origin, h, prob, value[, mean]; DataError on a
    missing file, column or a malformed value."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"external forecasts file '{path}' not found")
    try:
        df = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"external forecasts file '{path}' cannot be read: {type(exc).__name__}") from None
    if "prob" not in df and {"level", "side"} <= set(df.columns):
        side = df["side"].astype(str).str.lower()
        if not side.isin(["lo", "hi"]).all():
            raise DataError(f"'{path}': column 'side' must hold lo or hi")
        lvl = pd.to_numeric(df["level"], errors="coerce")
        lvl = np.where(lvl > 1, lvl / 100.0, lvl)  # statsforecast writes levels in percent
        df = df.assign(prob=np.where(side == "lo", (1 - lvl) / 2, (1 + lvl) / 2))
    missing = [c for c in ("origin", "h", "prob", "value") if c not in df]
    if missing:
        raise DataError(f"'{path}': missing column(s) {missing} (need origin, h, prob (or level + side), value)")
    if "series" not in df:
        df = df.assign(series="")
    out = pd.DataFrame({"series": df["series"].astype(str),
                        "origin": pd.to_numeric(df["origin"], errors="coerce"),
                        "h": pd.to_numeric(df["h"], errors="coerce"),
                        "prob": pd.to_numeric(df["prob"], errors="coerce").round(PROB_DECIMALS),
                        "value": pd.to_numeric(df["value"], errors="coerce")})
    if "mean" in df:
        out["mean"] = pd.to_numeric(df["mean"], errors="coerce")
    bad = out[["origin", "h", "prob", "value"]].isna().any(axis=1)
    if bad.any():
        raise DataError(f"'{path}': row {int(np.flatnonzero(bad)[0]) + 2} has a missing or non-numeric "
                        "origin, h, prob or value")
    if ((out["prob"] <= 0) | (out["prob"] >= 1)).any():
        raise DataError(f"'{path}': probabilities must lie in (0, 1)")
    return out


def _interp(q: np.ndarray, zk: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Quantiles (..., Qk) at knots zk (Qk,) read at z (n,): linear in z, extended past the ends."""
    j = np.clip(np.searchsorted(zk, z) - 1, 0, zk.size - 2)
    w = (z - zk[j]) / (zk[j + 1] - zk[j])
    return q[..., j] + w * (q[..., j + 1] - q[..., j])


class ExternalForecaster:
    """Quantile forecasts read from a file (see the module notes)."""

    name = "external"

    def __init__(self, path: str, series: str, required_probs=None):
        self.path, self.series, self.required_probs = path, series, required_probs

    def fit(self, y: np.ndarray, train_end: int, seed: int = 0) -> "ExternalForecaster":
        df = read_quantile_file(self.path)
        names = df["series"].unique()
        if len(names) > 1 or names[0] != "":
            df = df[df["series"] == self.series]
            if df.empty:
                raise DataError(f"'{self.path}': no forecasts for series '{self.series}' "
                                f"(the file has {len(names)} series)")
        dup = df.duplicated(["origin", "h", "prob"])
        if dup.any():
            r = df[dup].iloc[0]
            raise DataError(f"'{self.path}': origin {int(r.origin)}, h {int(r.h)}, prob {r.prob:g} appears twice")
        self.table_ = df
        self.train_end_ = int(train_end)
        self.info_ = {"file": Path(self.path).name, "rows": int(len(df))}
        return self

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        origins = check_origins(np.asarray(y), origins, horizon, self.train_end_)
        probs = np.round(np.asarray(probs, dtype=float), PROB_DECIMALS)
        df = self.table_[(self.table_["h"] >= 1) & (self.table_["h"] <= horizon)]
        have = np.array(sorted(df["prob"].unique()))
        need = np.round(np.asarray(self.required_probs if self.required_probs is not None else probs, dtype=float),
                        PROB_DECIMALS)
        lacking = [p for p in need if not np.isclose(have, p, atol=1e-9).any()]
        if lacking:
            raise DataError(f"'{self.path}': lacks probabilities {[float(p) for p in lacking][:6]} "
                            f"(has {have.tolist()[:10]})")
        known = set(zip(df["origin"].astype(np.int64), df["h"].astype(np.int64)))
        absent = [int(t) for t in origins if any((int(t), h) not in known for h in range(1, horizon + 1))]
        if absent:
            raise DataError(f"'{self.path}': no forecast for all {horizon} steps of origin(s) {absent[:5]}"
                            + (f" and {len(absent) - 5} more" if len(absent) > 5 else ""))
        wide = df.pivot_table(index=["origin", "h"], columns="prob", values="value", aggfunc="first")
        idx = pd.MultiIndex.from_product([origins, np.arange(1, horizon + 1)], names=["origin", "h"])
        knots = wide.reindex(idx)[have].to_numpy(dtype=float).reshape(origins.size, horizon, have.size)
        if np.isnan(knots).any():
            raise DataError(f"'{self.path}': some (origin, h) rows lack some probabilities {have.tolist()[:10]}")
        cross = np.diff(knots, axis=-1) < 0
        if cross.any():
            k, h, _ = np.argwhere(cross)[0]
            raise DataError(f"'{self.path}': quantiles cross at origin {int(origins[k])}, h {h + 1}")
        warnings = []
        if have.size >= 2:
            q = _interp(knots, ndtri(have), ndtri(probs))  # (K, H, Q)
        else:
            q = np.repeat(knots, probs.size, axis=-1)
        outside = probs[(probs < have[0] - 1e-12) | (probs > have[-1] + 1e-12)]
        inside_missing = [p for p in probs if not np.isclose(have, p, atol=1e-9).any()]
        if inside_missing:
            warnings.append(f"{len(inside_missing)} requested probabilities not in the file were interpolated"
                            + (f", {outside.size} of them extrapolated beyond [{have[0]:g}, {have[-1]:g}]"
                               if outside.size else ""))
        if "mean" in df and df["mean"].notna().all():
            mean = df.groupby(["origin", "h"])["mean"].first().reindex(idx).to_numpy(float).reshape(origins.size, horizon)
        else:
            mean = _interp(knots, ndtri(have), np.zeros(1))[..., 0] if have.size >= 2 else knots[..., 0]
        return Forecast(origins=origins, mean=mean, probs=probs, quantiles=np.moveaxis(q, -1, 1),
                        info={**self.info_, "warnings": warnings})


@register_method("external", params=ExternalParams)
def build_external(params: ExternalParams, ctx) -> ExternalForecaster:
    """Quantile forecasts made elsewhere (darts, statsforecast, GluonTS, ...), read from a file."""
    from fanlab.forecast import probs_for_levels

    required = params.required_probs
    if required is None and getattr(ctx, "levels", ()):
        required = tuple(probs_for_levels(ctx.levels, median=False))
    return ExternalForecaster(params.path, ctx.series.name, required)
