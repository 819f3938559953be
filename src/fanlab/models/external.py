"""Bring your own forecasts: forecasts made elsewhere, scored like any arm.

Three layouts are read, as their libraries write them (parquet or CSV; the table of
`fanlab.models.external_formats` is what each becomes). ``format: auto`` (the default) picks
by the columns, in this order: a ``value`` column -> long; ``ds`` and ``cutoff`` beside
``<model>-lo-<L>`` / ``<model>-hi-<L>`` columns -> statsforecast; ``<component>_q<p>`` or
``<component>_s<i>`` columns -> darts. ``format: long | statsforecast | darts`` sets it.

long, one row per (series, origin, h, probability) or per (series, origin, h, sample):

=========  ================================================================================
series     the series name as the dataset gives it (required when the dataset has several)
seed       the config seed the forecasts were made for (required when the config has several
           seeds of a dataset whose series differ by seed: a synthetic one)
origin     index of the last observed point of the origin (0-based, as fanlab's origins), or
cutoff     its time stamp (as the dataset's time column writes it)
h          step 1 .. H (or ``ds``: the time stamp of the forecast target)
prob       quantile probability in (0, 1) (or ``level`` + ``side`` lo/hi: prob (1 -+ l) / 2),
sample     or the id of a sample path (then every path has all H steps of its origin)
value      the quantile, or the sample path's value
model      optional: several forecasters in one file, chosen with the param ``model:``
mean       optional: the point forecast (else the median, or the samples' mean)
=========  ================================================================================

statsforecast / mlforecast / neuralforecast ``cross_validation(..., level=[80, 95])`` as
returned (``unique_id`` a column, or the index as statsforecast 1.x has it): ``unique_id``
names the series, ``cutoff`` is the origin's time stamp (the last observed point), ``ds``
the target's, ``<Model>`` the mean, ``<Model>-lo-<L>`` / ``-hi-<L>`` the band at level L
percent, ``<Model>-median`` and neuralforecast's ``<Model>_ql<p>`` quantiles; ``y`` (the
observed value) is checked against the dataset's. Several models side by side: ``model:``
names one (an error lists those present).

darts ``historical_forecasts(..., last_points_only=False)``: each forecast's
``to_dataframe()`` (the time index, named as darts names it: ``time``, or the source's time
column such as ``ds``; saved as the index or a column; another name with ``time:``),
concatenated with a ``cutoff`` (time stamp) or ``origin`` (position) column saying which
forecast a row is of (a file holding one forecast per series may leave it out: the origin
is the step before its first time stamp), and ``unique_id`` or ``series`` for several series.
Columns ``<component>_q<p>`` (``TimeSeries.quantile([...])``; darts 0.48 writes three
decimals, older ones two: 'y_q0.03' then reads as 0.025 where the config needs that) or
``<component>_s<i>`` (a stochastic series' samples); a plain ``<component>`` column is
the mean; several components: ``model:`` names one.

Time stamps (``cutoff``, ``ds``) are matched to the dataset's own (a dated CSV series); a
series without stamps (synthetic) takes integer positions there. Sample paths give the
forecast ``samples`` (K, S, H): CRPS and path scores come from them, and the quantiles are
the samples' empirical quantiles at the requested probabilities.

Quantile files: the probabilities of the config's levels must be in the file (a clear error
names the missing ones); the fine grid of reliability levels is filled in between the file's
probabilities by interpolation linear in z = Phi^-1(p), continued past the outermost with
their slopes, and a warning says so. Every origin the cell forecasts must be in the file, for
all H steps (an error shows the file's origins beside the config's); quantiles must not
cross. Infinite quantiles (a band open on one side) are read exactly: a quantile between two
knots is infinite only where a neighbour is. `fanlab validate` and `fanlab run` open every
external file and run these checks for every series and seed before anything is fitted. A
relative path is read relative to the config file that names it. `external_frame` scores a
pandas frame from a notebook. The file's forecasts are what they are: fanlab cannot check
that they were made without look-ahead, so make them from ``y[: origin + 1]`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtri

from fanlab.errors import DataError
from fanlab.forecast import FINE_LEVELS, PROB_DECIMALS, Forecast, check_origins, probs_for_levels, sample_forecast
from fanlab.models.external_formats import check_known, normalize, positions, stamp
from fanlab.registry import register_method


class ExternalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="parquet or CSV file of forecasts (long, statsforecast or darts layout); a "
                                  "relative path is read from the config file's folder")
    required_probs: tuple[float, ...] | None = Field(
        None, description="probabilities that must be in the file (default: those of the config's levels)")
    model: str | None = Field(None, description="which model's forecasts to score: a statsforecast column "
                                                "group, a darts component, a long file's 'model' value")
    format: Literal["auto", "long", "statsforecast", "darts"] = Field(
        "auto", description="the file's layout (auto: from its columns, see the module notes)")
    time: str | None = Field(None, description="darts: the time column (default: the index, or time / ds / date)")


def read_frame(path: str | Path) -> pd.DataFrame:
    """The file as pandas reads it; DataError on a missing or unreadable file or a repeated column."""
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
    cols = list(map(str, df.columns))
    if len(set(cols)) != len(cols) or any(c.endswith(".1") and c[:-2] in cols for c in cols):
        raise DataError(f"'{path}': a column appears twice in the header; name every column once")
    return df


def read_quantile_file(path: str | Path, format: str = "auto", model: str | None = None, time: str | None = None,
                       known_probs=()) -> pd.DataFrame:
    """The file as the long table of `fanlab.models.external_formats` (series, origin or cutoff,
    h or ds, prob or sample, value[, mean][, seed][, y]); DataError naming the file on a missing
    file, column, model or a malformed value. `frame.attrs["has_series"]` says whether rows
    name their series."""
    df = read_frame(path)
    try:
        return normalize(df, format, model, time, known_probs)
    except DataError as exc:
        raise DataError(f"'{path}': {exc}") from None


def _known_probs(required) -> np.ndarray:
    """Probabilities a rounded darts name may stand for: the fine grid's and the required ones."""
    extra = np.asarray(required if required is not None else (), dtype=float)
    return np.union1d(probs_for_levels(FINE_LEVELS), np.round(extra, PROB_DECIMALS))


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
    """Forecasts read from a file or a frame (see the module notes).

    path: the file (or a label, where `table` is a frame already read); series: the name of
    the series scored (None: the file's only series); index: its time stamps (None: positions).
    """

    name = "external"

    def __init__(self, path: str, series: str | None, required_probs=None, *, model: str | None = None,
                 format: str = "auto", time: str | None = None, index=None, table: pd.DataFrame | None = None):
        self.path, self.series, self.required_probs = path, series, required_probs
        self.model, self.format, self.time, self.index = model, format, time, index
        if table is not None:
            self._table = table

    #: the file's long table where already read (a config's checks read each file once)
    _table: pd.DataFrame | None = None

    def _where(self) -> str:
        model = self._read().attrs.get("model")
        return (f"'{self.path}', series '{self.series_}'" + (f", model '{model}'" if model else ""))

    def _read(self) -> pd.DataFrame:
        if self._table is None:
            self._table = read_quantile_file(self.path, self.format, self.model, self.time,
                                             _known_probs(self.required_probs))
        return self._table

    def fit(self, y: np.ndarray, train_end: int, seed: int = 0) -> "ExternalForecaster":
        table = self._read()
        df = table
        if "seed" in df:
            df = df[df["seed"] == int(seed)]
            if df.empty:
                raise DataError(f"'{self.path}': no forecasts for seed {int(seed)} (column 'seed')")
        names = df["series"].unique()
        self.series_ = self.series if self.series is not None else str(names[0])
        if self.series is None and len(names) > 1:
            raise DataError(f"'{self.path}': the file holds {len(names)} series {sorted(names)[:5]}: say which")
        if len(names) > 1 or names[0] != "":
            df = df[df["series"] == self.series_]
            if df.empty:
                raise DataError(f"'{self.path}': no forecasts for series '{self.series_}' (the file has "
                                f"{len(names)} series: {sorted(map(str, names))[:5]})")
        df = self._resolve(df, np.asarray(y, dtype=float), table.attrs)
        key = "prob" if table.attrs["kind"] == "quantile" else "sample"
        dup = df.duplicated(["origin", "h", key])
        if dup.any():
            r = df[dup].iloc[0]
            raise DataError(f"{self._where()}: origin {int(r.origin)}, h {int(r.h)}, {key} {r[key]} appears twice"
                            + ("" if table.attrs["origin_key"] else " (several forecasts of a series need a "
                                                                     "'cutoff' or 'origin' column)"))
        self.table_, self.attrs_ = df, dict(table.attrs)
        self.train_end_ = int(train_end)
        self.info_ = {"file": Path(self.path).name, "rows": int(len(df)), "format": table.attrs["format"]}
        if table.attrs.get("model"):
            self.info_["model"] = table.attrs["model"]
        return self

    def _resolve(self, df: pd.DataFrame, y: np.ndarray, attrs: dict) -> pd.DataFrame:
        """Rows with integer `origin` and `h`: time stamps read against the series' own."""
        df = df.copy()
        n, where = y.size, f"'{self.path}', series '{self.series_}'"
        if attrs["origin_key"] == "cutoff":
            pos = positions(df["cutoff"], self.index, f"{where}: column 'cutoff'")
            check_known(df["cutoff"], pos, self.index, n, f"{where}: column 'cutoff'")
            df["origin"] = pos
        if attrs["step_key"] == "ds":
            pos = positions(df["ds"], self.index, f"{where}: column 'ds'")
            check_known(df["ds"], pos, self.index, n, f"{where}: column 'ds'")
            if attrs["origin_key"] is None:  # one darts forecast per series: it starts after its origin
                df["origin"] = pos.min() - 1
            df["h"] = pos - df["origin"].to_numpy(np.int64)
            if "y" in df:
                off = ~np.isclose(df["y"].to_numpy(float), y[pos], rtol=1e-6, atol=1e-9 * (1 + np.abs(y).max()))
                if off.any():
                    i = int(np.flatnonzero(off)[0])
                    raise DataError(f"{where}: column 'y' at {df['ds'].iloc[i]} is {df['y'].iloc[i]:.6g}, the "
                                    f"dataset holds {y[pos[i]]:.6g} there: the file's series or time stamps are "
                                    "not the dataset's")
        df["origin"] = df["origin"].astype(np.int64)
        df["h"] = df["h"].astype(np.int64)
        return df

    def _span(self, origins: np.ndarray) -> str:
        if origins.size == 0:
            return "no origin"
        text = f"origins {origins.min()}..{origins.max()} ({origins.size})"
        if isinstance(self.index, pd.DatetimeIndex):
            lo, hi = (self.index[t] if 0 <= t < len(self.index) else None for t in (origins.min(), origins.max()))
            if lo is not None and hi is not None:
                text += f" = cutoffs {stamp(lo)}..{stamp(hi)}"
        return text

    def _check_origins(self, df: pd.DataFrame, origins: np.ndarray, horizon: int) -> None:
        """DataError where an origin lacks a step: the file's origins beside the config's."""
        steps = df.groupby("origin")["h"].nunique()
        full = np.sort(steps.index[steps == horizon].to_numpy(np.int64))
        absent = [int(t) for t in origins if t not in set(full)]
        if not absent:
            return
        have = np.sort(self.table_["origin"].unique())
        hs = self.table_["h"]
        msg = (f"{self._where()}: no forecast for all {horizon} steps of origin(s) {absent[:5]}"
               + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
               + f"; file has {self._span(have)}, h {hs.min()}..{hs.max()}; config needs {self._span(origins)}, "
               f"h 1..{horizon}")
        for d in (1, -1, 2, -2, 3, -3):
            if np.isin(origins - d, full).all():
                msg += (f": off by {abs(d)}? (the file's origins are {abs(d)} step(s) "
                        f"{'earlier' if d > 0 else 'later'}; an origin is the last observed point, "
                        "a cutoff its time stamp)")
                break
        raise DataError(msg)

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        origins = check_origins(np.asarray(y), origins, horizon, self.train_end_)
        probs = np.round(np.asarray(probs, dtype=float), PROB_DECIMALS)
        df = self.table_[(self.table_["h"] >= 1) & (self.table_["h"] <= horizon)]
        idx = pd.MultiIndex.from_product([origins, np.arange(1, horizon + 1)], names=["origin", "h"])
        mean = None
        if "mean" in df and df["mean"].notna().all():
            self._check_origins(df, origins, horizon)
            mean = df.groupby(["origin", "h"])["mean"].first().reindex(idx).to_numpy(float).reshape(origins.size,
                                                                                                   horizon)
        if self.attrs_["kind"] == "sample":
            return self._from_samples(df, origins, horizon, probs, mean)
        have = np.array(sorted(df["prob"].unique()))
        need = np.round(np.asarray(self.required_probs if self.required_probs is not None else probs, dtype=float),
                        PROB_DECIMALS)
        lacking = [p for p in need if not np.isclose(have, p, atol=1e-9).any()]
        if lacking:
            raise DataError(f"{self._where()}: lacks probabilities {[float(p) for p in lacking][:6]} "
                            f"(has {have.tolist()[:10]})")
        self._check_origins(df, origins, horizon)
        wide = df.pivot_table(index=["origin", "h"], columns="prob", values="value", aggfunc="first")
        knots = wide.reindex(idx)[have].to_numpy(dtype=float).reshape(origins.size, horizon, have.size)
        if np.isnan(knots).any():
            raise DataError(f"{self._where()}: some (origin, h) rows lack some probabilities {have.tolist()[:10]}")
        cross = np.diff(knots, axis=-1) < 0
        if cross.any():
            k, h, _ = np.argwhere(cross)[0]
            raise DataError(f"{self._where()}: quantiles cross at origin {int(origins[k])}, h {h + 1}")
        warnings = list(self.attrs_.get("notes", []))
        if have.size >= 2:
            q = _interp(knots, ndtri(have), ndtri(probs))  # (K, H, Q)
            hole = np.isnan(q)
            if hole.any():
                k, h, i = np.argwhere(hole)[0]
                raise DataError(f"{self._where()}: origin {int(origins[k])}, h {h + 1}: probability {probs[i]:g} "
                                "lies between a -inf and a +inf quantile, so no value can be read there; give it "
                                "in the file")
        else:
            q = np.repeat(knots, probs.size, axis=-1)
        outside = probs[(probs < have[0] - 1e-12) | (probs > have[-1] + 1e-12)]
        inside_missing = [p for p in probs if not np.isclose(have, p, atol=1e-9).any()]
        if inside_missing:
            warnings.append(f"{len(inside_missing)} requested probabilities not in the file were interpolated"
                            + (f", {outside.size} of them extrapolated beyond [{have[0]:g}, {have[-1]:g}]"
                               if outside.size else ""))
        if mean is None:
            mean = _interp(knots, ndtri(have), np.zeros(1))[..., 0] if have.size >= 2 else knots[..., 0]
        return Forecast(origins=origins, mean=mean, probs=probs, quantiles=np.moveaxis(q, -1, 1),
                        info={**self.info_, "warnings": warnings})

    def _from_samples(self, df, origins, horizon, probs, mean) -> Forecast:
        """Sample paths (K, S, H); quantiles are their empirical quantiles at `probs`."""
        self._check_origins(df, origins, horizon)
        df = df[df["origin"].isin(origins)]
        ids = pd.unique(df["sample"])
        wide = df.pivot_table(index=["origin", "sample"], columns="h", values="value", aggfunc="first")
        rows = pd.MultiIndex.from_product([origins, ids], names=["origin", "sample"])
        paths = wide.reindex(index=rows, columns=np.arange(1, horizon + 1)).to_numpy(float)
        paths = paths.reshape(origins.size, ids.size, horizon)
        if np.isnan(paths).any():
            k, s, h = np.argwhere(np.isnan(paths))[0]
            raise DataError(f"{self._where()}: origin {int(origins[k])}: sample {ids[s]} has no value at h {h + 1} "
                            f"(each of the {ids.size} sample paths needs all {horizon} steps of every origin)")
        info = {**self.info_, "samples": int(ids.size), "warnings": list(self.attrs_.get("notes", []))}
        return sample_forecast(origins, paths, probs, mean=mean, info=info)


@register_method("external", params=ExternalParams)
def build_external(params: ExternalParams, ctx) -> ExternalForecaster:
    """Forecasts made elsewhere (statsforecast, darts, GluonTS, ...), read from a file."""
    required = params.required_probs
    if required is None and getattr(ctx, "levels", ()):
        required = tuple(probs_for_levels(ctx.levels, median=False))
    return ExternalForecaster(params.path, ctx.series.name, required, model=params.model, format=params.format,
                              time=params.time, index=ctx.series.index)


def external_frame(frame: pd.DataFrame, series=None, *, model: str | None = None, format: str = "auto",
                   time: str | None = None, levels=None) -> ExternalForecaster:
    """A forecaster that answers from `frame` (any layout of the module notes), for a notebook.

    series: the series it scores: a `fanlab` Series or a pandas Series (its name picks the
    frame's rows, its index the time stamps that ``cutoff`` / ``ds`` are read against), a
    name, or None (the frame's only series, read by position). levels: the levels whose
    probabilities the frame must hold (default: none; others are interpolated, with a
    warning in the forecast's info). Pass the result to `fanlab.evaluate`
    with the same series.
    """
    name, index = series, None
    if series is not None and not isinstance(series, str):
        name = getattr(series, "name", None)
        index = getattr(series, "index", None)
        if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
            index = None
    required = () if levels is None else tuple(probs_for_levels(levels, median=False))
    try:
        table = normalize(frame, format, model, time, _known_probs(required))
    except DataError as exc:
        raise DataError(f"'frame': {exc}") from None
    names = table["series"].unique()
    if name is not None and len(names) == 1 and str(name) not in names:
        name = None  # a frame of one series scores the series handed, whatever its label
    return ExternalForecaster("frame", None if name is None else str(name), required, index=index, table=table)


def _specs(name: str, params) -> list[tuple[str, dict]]:
    """A method spec and every base it wraps (conformal's `base`), outermost first."""
    params = params if isinstance(params, dict) else {}
    base = params.get("base")
    inner = _specs(base["name"], base.get("params") or {}) if isinstance(base, dict) and \
        isinstance(base.get("name"), str) else []
    return [(name, params), *inner]


def check_external_files(cfg, all_series: dict) -> None:
    """Open every external forecasts file of a config (wrapped bases too) and run every check
    that needs no fit, for each series and seed it will score; raises DataError naming the
    method, the file and what is wrong. `all_series`: (dataset label, seed) -> its series."""
    from fanlab.data.splits import make_split

    probs = np.asarray(cfg.probs, dtype=float)
    required = tuple(probs_for_levels(cfg.levels, median=False))
    for m in cfg.methods:
        for name, raw in _specs(m.name, m.params):
            if name != "external":
                continue
            params = ExternalParams.model_validate(raw)
            need = params.required_probs or required
            where = f"method '{m.key}' (external file '{params.path}')"
            try:
                table = read_quantile_file(params.path, params.format, params.model, params.time, _known_probs(need))
            except DataError as exc:
                raise DataError(f"{where}: {exc}") from None
            for ds in cfg.datasets:
                if ds.methods is not None and m.key not in ds.methods:
                    continue
                by_seed = [all_series[(ds.key, seed)] for seed in cfg.seeds]
                if len(by_seed[0]) > 1 and not table.attrs.get("has_series"):
                    raise DataError(f"{where}: dataset '{ds.key}' has {len(by_seed[0])} series; the file needs a "
                                    "'series' column (unique_id in statsforecast's) naming the series of each row")
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
                        fc = ExternalForecaster(params.path, s.name, need, index=s.index, table=table)
                        try:
                            fc.fit(s.values, split.train_end, seed).predict(s.values, origins, horizon, probs)
                        except DataError as exc:
                            raise DataError(f"{where}: dataset '{ds.key}', series '{s.name}', seed {seed}: {exc}") \
                                from None
