"""Bring your own forecasts: quantile forecasts made elsewhere, scored like any arm.

The file (parquet or CSV) is in long format, one row per (series, origin, h, probability):

=========  ================================================================================
series     the series name as the dataset gives it (required when the dataset has several)
seed       the config seed the forecasts were made for (required when the config has several
           seeds of a dataset whose series differ by seed: a synthetic one)
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
all H steps; quantiles must not cross. Infinite quantiles (a band open on one side) are
read exactly: a quantile between two knots is infinite only where a neighbour is. `fanlab
validate` and `fanlab run` open every external file and run these checks for every series
and seed before anything is fitted. A relative path is read relative to the config file that
names it. The file's forecasts are what they are: fanlab cannot
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
    path: str = Field(description="parquet or CSV file of quantile forecasts in long format; a relative path "
                                  "is read from the config file's folder")
    required_probs: tuple[float, ...] | None = Field(
        None, description="probabilities that must be in the file (default: those of the config's levels)")


def read_quantile_file(path: str | Path) -> pd.DataFrame:
    """The file as a frame with columns series, origin, h, prob, value[, mean][, seed]; DataError
    on a missing file, column or a malformed value. `series` is "" where the file has no such
    column (`frame.attrs["has_series"]` says which)."""
    path = Path(path)
    try:
        ok = path.is_file()
    except OSError:
        ok = False
    if not ok:
        raise DataError(f"external forecasts file '{path}' not found (or not a regular file)")
    try:
        df = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"external forecasts file '{path}' cannot be read: {type(exc).__name__}") from None
    if len(set(map(str, df.columns))) != len(df.columns) or any(str(c).endswith(".1") for c in df.columns
                                                               if str(c)[:-2] in set(map(str, df.columns))):
        raise DataError(f"'{path}': a column appears twice in the header; name every column once")
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
    has_series = "series" in df
    out = pd.DataFrame({"series": df["series"].astype(str) if has_series else "",
                        "origin": pd.to_numeric(df["origin"], errors="coerce"),
                        "h": pd.to_numeric(df["h"], errors="coerce"),
                        "prob": pd.to_numeric(df["prob"], errors="coerce").round(PROB_DECIMALS),
                        "value": pd.to_numeric(df["value"], errors="coerce")})
    if "mean" in df:
        out["mean"] = pd.to_numeric(df["mean"], errors="coerce")
    if "seed" in df:
        seed = pd.to_numeric(df["seed"], errors="coerce")
        bad = seed.isna() | (seed != seed.round())
        if bad.any():
            raise DataError(f"'{path}': row {int(np.flatnonzero(bad)[0]) + 2}: column 'seed' must hold whole "
                            "numbers (the config's seeds)")
        out["seed"] = seed.astype(np.int64)
    bad = out[["origin", "h", "prob", "value"]].isna().any(axis=1)
    if bad.any():
        raise DataError(f"'{path}': row {int(np.flatnonzero(bad)[0]) + 2} has a missing or non-numeric "
                        "origin, h, prob or value")
    if ((out["prob"] <= 0) | (out["prob"] >= 1)).any():
        raise DataError(f"'{path}': probabilities must lie in (0, 1)")
    out.attrs["has_series"] = has_series
    return out


def _interp(q: np.ndarray, zk: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Quantiles (..., Qk) at knots zk (Qk,) read at z (n,): linear in z, extended past the ends.

    Exact with infinite knots: at a knot its own value; strictly between (or beyond) two knots
    of which one is infinite, that infinity (-inf + w * inf is never NaN here); strictly
    between -inf and +inf no value exists, so NaN is left only there.
    """
    j = np.clip(np.searchsorted(zk, z) - 1, 0, zk.size - 2)
    w = (z - zk[j]) / (zk[j + 1] - zk[j])
    a, b = q[..., j], q[..., j + 1]
    finite = np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore"):
        out = np.where(finite, a + w * (np.where(finite, b, 0.0) - np.where(finite, a, 0.0)), np.nan)
    out = np.where(finite & (w == 1), b, out)  # a knot reads as itself, not a + (b - a) rounded
    # an infinite knot: the line through it is infinite everywhere but at the other knot
    a_inf, b_inf = np.isinf(a) & ~np.isinf(b), np.isinf(b) & ~np.isinf(a)
    out = np.where(a_inf, np.where(w == 1, b, np.where(w > 1, -a, a)), out)
    out = np.where(b_inf, np.where(w == 0, a, np.where(w < 0, -b, b)), out)
    both = np.isinf(a) & np.isinf(b)
    out = np.where(both & (a == b), a, out)
    out = np.where(both & (a != b), np.where(w <= 0, a, np.where(w >= 1, b, np.nan)), out)
    return out


class ExternalForecaster:
    """Quantile forecasts read from a file (see the module notes)."""

    name = "external"

    def __init__(self, path: str, series: str, required_probs=None):
        self.path, self.series, self.required_probs = path, series, required_probs

    #: the file's frame where already read (a config's checks read each file once)
    _table: pd.DataFrame | None = None

    def fit(self, y: np.ndarray, train_end: int, seed: int = 0) -> "ExternalForecaster":
        df = read_quantile_file(self.path) if self._table is None else self._table
        if "seed" in df:
            df = df[df["seed"] == int(seed)]
            if df.empty:
                raise DataError(f"'{self.path}': no forecasts for seed {int(seed)} (column 'seed')")
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
            hole = np.isnan(q)
            if hole.any():
                k, h, i = np.argwhere(hole)[0]
                raise DataError(f"'{self.path}': origin {int(origins[k])}, h {h + 1}: probability {probs[i]:g} lies "
                                "between a -inf and a +inf quantile, so no value can be read there; give it in the file")
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


def check_external_files(cfg, all_series: dict) -> None:
    """Open every external forecasts file of a config (wrapped bases too) and run every check
    that needs no fit, for each series and seed it will score; raises DataError naming the
    method, the file and what is wrong. `all_series`: (dataset label, seed) -> its series."""
    from fanlab.data.splits import make_split
    from fanlab.forecast import probs_for_levels
    from fanlab.inputs import method_specs

    probs = np.asarray(cfg.probs, dtype=float)
    required = tuple(probs_for_levels(cfg.levels, median=False))
    for m in cfg.methods:
        for name, params in method_specs(m.name, m.params):
            if name != "external":
                continue
            path = str(params.get("path", ""))
            where = f"method '{m.key}' (external file '{path}')"
            try:
                table = read_quantile_file(path)
            except DataError as exc:
                raise DataError(f"{where}: {exc}") from None
            for ds in cfg.datasets:
                if ds.methods is not None and m.key not in ds.methods:
                    continue
                by_seed = [all_series[(ds.key, seed)] for seed in cfg.seeds]
                if len(by_seed[0]) > 1 and not table.attrs.get("has_series"):
                    raise DataError(f"{where}: dataset '{ds.key}' has {len(by_seed[0])} series; the file needs a "
                                    "'series' column naming the series of each row")
                differ = any(len(a) != len(b) or not np.array_equal(a.values, b.values)
                             for other in by_seed[1:] for a, b in zip(by_seed[0], other))
                if differ and "seed" not in table:
                    raise DataError(f"{where}: dataset '{ds.key}' gives other series for each of the seeds "
                                    f"{cfg.seeds}; the file needs a 'seed' column saying which seed's series "
                                    "each row forecasts (or give one seed)")
                for seed, members in zip(cfg.seeds, by_seed):
                    for s in members:
                        horizon = cfg.horizon_for(ds, s)
                        sp = cfg.cell_split(ds, s, horizon)
                        split = make_split(len(s), sp["train"], sp["cal"], sp["test"], horizon, series=s.name,
                                           **({"min_train": sp["min_train"]} if "min_train" in sp else {}))
                        origins = split.test_origins(horizon, cfg.stride, cfg.max_origins)
                        fc = ExternalForecaster(path, s.name, params.get("required_probs") or required)
                        fc._table = table
                        try:
                            fc.fit(s.values, split.train_end, seed).predict(s.values, origins, horizon, probs)
                        except DataError as exc:
                            raise DataError(f"{where}: dataset '{ds.key}', series '{s.name}', seed {seed}: {exc}") \
                                from None
