"""The numbers behind the interactive report, read from one results folder.

Everything here turns the results files (summary.csv, metrics.parquet, forecasts.parquet,
config.yaml, manifest.json) into plain JSON-ready structures: lists of floats with None
where a value is NaN or infinite (the page draws a gap there), rounded to 5 significant
digits to keep the page small. `fanlab.report.page` renders them; nothing here writes HTML.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.colors import to_hex

from fanlab.errors import DataError
from fanlab.report.figure_helpers import (clip_band, fan_limits, h_curves, pooled_by_dataset, pooled_rows,
                                         reliability_curves, truth_by_time)
from fanlab.schema import level_cols, level_tag

PIT_BINS = 10
#: Fan charts embed at most about this many numbers per page (means and band edges); the
#: origins shown per dataset are thinned evenly to fit, within [FAN_MIN, FAN_MAX].
FAN_BUDGET = 600_000
FAN_MIN, FAN_MAX = 5, 40
#: At most this many series of a dataset get fan charts (the first by name; the page says so).
FAN_SERIES_MAX = 100
REFS = ("oracle", "climatology")
#: A coverage CI is drawn only from at least this many independent units (series x seeds):
#: with 2 or 3 the t interval spans most of [0, 1] and says nothing.
MIN_CI_UNITS = 4
#: ... and only where it is at most this wide (median over h).
MAX_CI_WIDTH = 0.5
#: An arm whose coverage falls this far below the level somewhere gets its own y scale, so it
#: does not stretch the panels of the arms near the level.
FAR_BELOW = 0.25
#: Method families of the page's toggles, in the order shown: (key, label).
FAMILIES = (("references", "references (oracle, climatology, naive)"),
            ("statistical", "ARIMA / ETS and their bands"),
            ("lstm_heads", "LSTM heads"),
            ("lstm_addons", "LSTM add-ons (MC dropout, ensembles, conformal)"),
            ("other", "other"))
REFERENCE_NAMES = {"oracle", "climatology", "naive", "seasonal_naive"}
STATISTICAL_NAMES = {"arima", "ets", "theta"}


class NotResults(DataError):
    """A folder that holds no fanlab results (no summary.csv, metrics.parquet or config)."""


def num(values) -> list:
    """Floats for JSON: NaN and +-inf become None, the rest 5 significant digits. (n,) -> [n]"""
    out = []
    for v in np.asarray(values, dtype=float).ravel():
        out.append(float(f"{v:.5g}") if math.isfinite(v) else None)
    return out


def check_folder(path: Path) -> None:
    """Raise NotResults naming `path` unless it holds a run's results files."""
    path = Path(path)
    if not path.exists():
        raise NotResults(f"{path}: no such folder (not a fanlab results folder)")
    if not path.is_dir():
        raise NotResults(f"{path}: not a folder (a fanlab results folder is a folder)")
    missing = [n for n in ("summary.csv", "metrics.parquet", "config.yaml") if not (path / n).is_file()]
    if missing:
        raise NotResults(f"{path}: not a fanlab results folder (no {', '.join(missing)}; run a config first)")


def load_folder(path: Path) -> dict:
    """The raw pieces of a results folder: summary, metrics, forecasts (or None), config, manifest."""
    path = Path(path)
    check_folder(path)
    try:
        cfg = yaml.safe_load((path / "config.yaml").read_text()) or {}
        manifest = json.loads((path / "manifest.json").read_text()) if (path / "manifest.json").is_file() else {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise NotResults(f"{path}: unreadable config.yaml or manifest.json ({exc})") from None
    if not isinstance(cfg, dict) or not cfg.get("levels"):
        raise NotResults(f"{path}: config.yaml has no levels (not a fanlab results folder)")
    fc = path / "forecasts.parquet"
    return {"path": path, "config": cfg, "manifest": manifest if isinstance(manifest, dict) else {},
            "summary": pd.read_csv(path / "summary.csv"), "metrics": pd.read_parquet(path / "metrics.parquet"),
            "forecasts": pd.read_parquet(fc) if fc.is_file() else None}


def method_keys(cfg: dict) -> list[dict]:
    """Config methods as {key, name, params}: key is the label, else the registry name."""
    out = []
    for m in cfg.get("methods", []) or []:
        out.append({"key": str(m.get("label") or m["name"]), "name": str(m["name"]),
                    "params": m.get("params") or {}})
    return out


def reference_methods(cfg: dict) -> dict[str, str | None]:
    """Keys of the first oracle and climatology methods of a config (None where absent)."""
    keys = method_keys(cfg)
    return {ref: next((m["key"] for m in keys if m["name"] == ref), None) for ref in REFS}


def config_order(cfg: dict, what: str) -> list[str]:
    """Keys (label, else registry name) of the config's `what` ("datasets" or "methods"), in
    config order."""
    return [str(d.get("label") or d["name"]) for d in cfg.get(what, []) or [] if isinstance(d, dict) and "name" in d]


def in_order(names, first: list[str]) -> list[str]:
    """`names` with those in `first` first, in its order, then the rest by name."""
    names = set(map(str, names))
    return [n for n in dict.fromkeys(first) if n in names] + sorted(names - set(first))


def report_options(cfg: dict) -> dict:
    """The config's optional `report:` block: headline_datasets and headline_methods (lists)."""
    opts = cfg.get("report") if isinstance(cfg.get("report"), dict) else {}
    return {k: [str(v) for v in (opts.get(k) or [])] for k in ("headline_datasets", "headline_methods")}


def start_dataset(cfg: dict, datasets: list[str]) -> str | None:
    """The dataset the page opens on: the config's first headline dataset present, else the
    first of `datasets` (already in config order)."""
    heads = [d for d in report_options(cfg)["headline_datasets"] if d in datasets]
    return heads[0] if heads else (datasets[0] if datasets else None)


def family(name: str, params: dict | None) -> str:
    """The family key (see FAMILIES) of a method given by registry name and params: a wrapper
    (conformal, with a `base`) joins its base's family, as an add-on where the base is an LSTM."""
    params = params if isinstance(params, dict) else {}
    base = params.get("base")
    if isinstance(base, dict) and "name" in base:
        inner = family(str(base["name"]), base.get("params"))
        return "lstm_addons" if inner.startswith("lstm") else inner
    if name in REFERENCE_NAMES:
        return "references"
    if name in STATISTICAL_NAMES:
        return "statistical"
    if name.startswith("lstm"):
        plain = name == "lstm" and params.get("uncertainty", "none") == "none"
        return "lstm_heads" if plain else "lstm_addons"
    return "other"


def method_groups(cfg: dict, methods: list[str]) -> list[dict]:
    """The families of `methods` that hold any, in FAMILIES order: [{key, label, methods}],
    methods in config order (those the config does not name: family "other")."""
    fam = {m["key"]: family(m["name"], m["params"]) for m in method_keys(cfg)}
    out = []
    for key, label in FAMILIES:
        ms = [m for m in methods if fam.get(m, "other") == key]
        if ms:
            out.append({"key": key, "label": label, "methods": ms})
    return out


def colors_of(methods) -> dict[str, str]:
    """The static figures' colour per method, as hex for the page."""
    from fanlab.report.figures import method_colors

    return {m: to_hex(c) for m, c in method_colors(methods).items()}


def ci_says_something(lo, hi, n_units: int | None) -> bool:
    """Whether a coverage CI is worth drawing: from MIN_CI_UNITS independent units or one
    series' bootstrap (n_units 1), and at most MAX_CI_WIDTH wide (median over h)."""
    if lo is None or hi is None or (n_units is not None and 2 <= n_units < MIN_CI_UNITS):
        return False
    width = np.asarray(hi, float) - np.asarray(lo, float)
    width = width[np.isfinite(width)]
    return bool(width.size) and float(np.median(width)) <= MAX_CI_WIDTH


def _curve(c, band: bool, n_units: int | None = None) -> dict:
    d = {"h": [int(v) for v in c.x], "y": num(c.y), "n_inf": int(np.sum(np.isinf(c.y)))}
    if band and c.lo is not None and c.hi is not None:
        if ci_says_something(c.lo, c.hi, n_units):
            d["lo"], d["hi"] = num(c.lo), num(c.hi)
        else:
            d["no_ci"] = f"{n_units} replications" if n_units and n_units < MIN_CI_UNITS else "CI too wide"
    if n_units is not None:
        d["n_units"] = int(n_units)
    return d


def n_units(metrics: pd.DataFrame, dataset: str) -> dict[str, int]:
    """Independent units (series x seeds, seeds of one real series once) per method, from the
    pooled `n_units` rows."""
    rows = pooled_rows(metrics, dataset, ["n_units"])
    return {str(m): int(v) for m, v in zip(rows["method"], rows["value"]) if np.isfinite(v)}


def coverage_zoom(curves_: list[dict], level: float) -> dict:
    """The y ranges of the coverage panels at `level` from curves {method: {y, lo?, hi?}} (of
    one or more runs): `range` shared by the arms near the others, `own` {method: range} for an
    arm whose lowest coverage is FAR_BELOW under the median arm's lowest (and the level): it
    would stretch everyone's scale; `low` {method: its lowest coverage} for those. Ranges end
    at 1.02. CIs do not widen the range (a band past it is cut at the axis)."""
    lows: dict[str, float] = {}
    for by_method in curves_:
        for m, c in by_method.items():
            ys = [v for v in c["y"] if v is not None]
            if ys:
                lows[m] = min(lows.get(m, 1.0), min(ys))
    typical = float(np.median(list(lows.values()))) if lows else level
    far = {m: v for m, v in lows.items() if v < min(level, typical) - FAR_BELOW}
    near = [v for m, v in lows.items() if m not in far]
    floor = min([level] + near)
    pad = 0.03
    return {"range": [round(max(0.0, floor - pad), 4), 1.02],
            "own": {m: [round(max(0.0, v - pad), 4), 1.02] for m, v in sorted(far.items())},
            "low": {m: round(v, 4) for m, v in sorted(far.items())}}


def curves(metrics: pd.DataFrame | dict[str, pd.DataFrame], datasets: list[str], levels: list[float]) -> dict:
    """{coverage, width}: {dataset: {level tag: {method: {h, y, lo?, hi?}}}} (a coverage CI
    only where `ci_says_something`, else `no_ci` says why); reliability: {dataset: {method:
    {x, y}}}: nominal vs empirical over all steps; zoom: {dataset: {level tag:
    `coverage_zoom`}}. `metrics`: the metrics table, or its `pooled_by_dataset` split."""
    of = metrics if isinstance(metrics, dict) else pooled_by_dataset(metrics, datasets)
    cov, wid, rel, zoom = {}, {}, {}, {}
    for ds in datasets:
        rows = of[ds]
        units = n_units(rows, ds)
        cov[ds] = {level_tag(lv): {m: _curve(c, True, units.get(m))
                                   for m, c in h_curves(rows, ds, lv, "coverage", band=True).items()}
                   for lv in levels}
        zoom[ds] = {level_tag(lv): coverage_zoom([cov[ds][level_tag(lv)]], lv) for lv in levels}
        wid[ds] = {level_tag(lv): {m: _curve(c, False) for m, c in h_curves(rows, ds, lv, "width").items()}
                   for lv in levels}
        rel[ds] = {m: {"x": num(c.x), "y": num(c.y)} for m, c in reliability_curves(rows, ds).items()}
    return {"coverage": cov, "width": wid, "reliability": rel, "zoom": zoom}


def pit_per_h(forecasts: pd.DataFrame | None, bins: int = PIT_BINS) -> dict:
    """{dataset: {"h": [1..H], method: [[counts of bin b at step h] for h]}}, all series and
    seeds pooled; NaN PIT values dropped. Step h's counts are row h-1, shape (H, bins)."""
    if forecasts is None or "pit" not in forecasts:
        return {}
    out: dict = {}
    for ds, g in forecasts.groupby("dataset", sort=True, observed=True):
        pit = g["pit"].to_numpy(float)
        ok = np.isfinite(pit)
        hs = g["h"].to_numpy(np.int64)
        n_h = int(hs.max())
        b = np.clip(np.floor(pit[ok] * bins).astype(np.int64), 0, bins - 1)
        entry: dict = {"h": list(range(1, n_h + 1))}
        methods = g["method"].astype(str).to_numpy()[ok]
        for m in sorted(set(methods)):
            sel = methods == m
            flat = np.bincount((hs[ok][sel] - 1) * bins + b[sel], minlength=n_h * bins)
            entry[m] = flat.reshape(n_h, bins).tolist()
        out[str(ds)] = entry
    return out


def _fan_sizes(forecasts: pd.DataFrame, levels: list[float], budget: int | None = None) -> dict[str, tuple[int, int]]:
    """{dataset: (series shown, origins shown per series)} so that the fan data of the page
    fits `budget` numbers (default FAN_BUDGET), shared evenly between datasets: as many series
    as FAN_MIN origins each allow (at most FAN_SERIES_MAX), then origins in [FAN_MIN, FAN_MAX]."""
    budget = FAN_BUDGET if budget is None else budget
    groups = forecasts.groupby("dataset", observed=True)
    share = budget / max(groups.ngroups, 1)
    out = {}
    for ds, g in groups:
        per_series = max(g["method"].nunique() * int(g["h"].max()) * (1 + 2 * len(levels)), 1)
        n_series = g["series"].nunique()
        shown = int(min(n_series, FAN_SERIES_MAX, max(1, share // (per_series * FAN_MIN))))
        origins = int(min(max(share // (shown * per_series), FAN_MIN), FAN_MAX))
        out[str(ds)] = (shown, origins)
    return out


def fan_cap(forecasts: pd.DataFrame, levels: list[float], budget: int | None = None) -> int:
    """Origins shown per series (the smallest over datasets) within `budget` numbers."""
    return min((o for _, o in _fan_sizes(forecasts, levels, budget).values()), default=FAN_MIN)


def time_stamps(cell: pd.DataFrame, t0: int, t1: int) -> list[str] | None:
    """Time stamps of positions t0..t1 of a dated series, from its forecast rows' `time`
    (target time of origin + h), the positions no row names filled by the inferred frequency.
    None where the series is undated or its stamps follow no regular frequency."""
    if "time" not in cell or not pd.api.types.is_datetime64_any_dtype(cell["time"]):
        return None
    known = cell.loc[cell["time"].notna(), ["origin", "h", "time"]]
    if known.empty:
        return None
    by_t = pd.Series(known["time"].to_numpy(), index=(known["origin"] + known["h"]).to_numpy(np.int64))
    by_t = by_t[~by_t.index.duplicated()].sort_index()
    run = by_t.loc[by_t.index.to_series().diff().fillna(1).eq(1).cumprod().astype(bool).to_numpy()]
    try:
        freq = pd.DatetimeIndex(run.to_numpy(), freq="infer").freq if len(run) >= 3 else None
    except ValueError:
        freq = None
    if freq is None:
        return None
    stamps = pd.date_range(end=by_t.iloc[0], periods=by_t.index[0] - t0 + 1, freq=freq)
    stamps = stamps.append(pd.date_range(start=by_t.iloc[0], periods=t1 - by_t.index[0] + 1, freq=freq)[1:])
    got = pd.Series(stamps, index=np.arange(t0, t1 + 1))
    inside = by_t.loc[(by_t.index >= t0) & (by_t.index <= t1)]
    if not (got.loc[inside.index].to_numpy() == inside.to_numpy()).all():
        return None  # irregular stamps: an integer axis says no more than the data do
    fmt = "%Y-%m-%d" if (stamps == stamps.normalize()).all() else "%Y-%m-%d %H:%M:%S"
    return list(stamps.strftime(fmt))


def _fan_entry(cell: pd.DataFrame, series: str, seed: int, cap: int, levels: list[float],
               oracle: str | None) -> dict:
    """The fan chart data of one series and seed (see `fans`)."""
    all_origins = np.unique(cell["origin"].to_numpy(np.int64))
    idx = np.unique(np.round(np.linspace(0, all_origins.size - 1, min(cap, all_origins.size))).astype(int))
    shown = all_origins[idx]
    truth = truth_by_time(cell)
    horizon = int(cell["h"].max())
    stamps = time_stamps(cell, int(shown[0]) - horizon, int(all_origins.max()) + horizon)
    cell = cell.loc[cell["origin"].isin(shown)].sort_values(["method", "origin", "h"])
    paths: dict[str, dict[int, pd.DataFrame]] = {}
    for (m, o), g in cell.groupby(["method", "origin"], sort=True, observed=True):
        paths.setdefault(str(m), {})[int(o)] = g
    methods = sorted(paths)
    late = shown - shown[0] >= horizon
    entry = {"series": series, "seed": seed, "n_origins": int(all_origins.size), "horizon": horizon,
             "origins": [int(o) for o in shown],
             # the first origin whose past window is known (from earlier origins' futures)
             "first_full": int(np.argmax(late)) if late.any() else 0,
             "truth": {"t": [int(t) for t in truth.index], "y": num(truth)},
             "ylim": [], "methods": {m: {"mean": [], "lo": {}, "hi": {}, "clipped": []} for m in methods}}
    if stamps is not None:
        entry["stamps"] = {"t0": int(shown[0]) - horizon, "x": stamps}
    for o in shown:
        o = int(o)
        window = truth.loc[o - horizon: o + horizon].to_numpy()
        core = [window] + [paths[m][o]["mean"].to_numpy(float) for m in methods if o in paths[m]]
        if oracle in paths and o in paths[oracle]:
            core += [paths[oracle][o][f"{s}_{level_tag(lv)}"].to_numpy(float) for lv in levels for s in ("lo", "hi")]
        extra = [paths[m][o][f"{s}_{level_tag(lv)}"].to_numpy(float) for m in methods if o in paths[m]
                 for lv in levels for s in ("lo", "hi")]
        ylim = fan_limits(core, extra)
        entry["ylim"].append(num(ylim))
        for m in methods:
            d, g = entry["methods"][m], paths[m].get(o)
            cut = False
            d["mean"].append(num(g["mean"]) if g is not None else [])
            for lv in levels:
                tag = level_tag(lv)
                lo_c, hi_c = level_cols(lv)
                if g is None or lo_c not in g:
                    d["lo"].setdefault(tag, []).append([])
                    d["hi"].setdefault(tag, []).append([])
                    continue
                lo, hi, was_cut = clip_band(g[lo_c].to_numpy(float), g[hi_c].to_numpy(float), ylim)
                cut |= was_cut
                d["lo"].setdefault(tag, []).append(num(lo))
                d["hi"].setdefault(tag, []).append(num(hi))
            d["clipped"].append(bool(cut))
    return entry


def fans(forecasts: pd.DataFrame | None, levels: list[float], oracle: str | None) -> dict:
    """Fan chart data of every series of each dataset (its first seed; at most the budget's
    number of series, the first by name), at evenly spread origins.

    {dataset: {series: [names shown], n_series, by_series: {name: {series, seed, n_origins,
    origins [K], truth {t, y}, stamps? {t0, x}, ylim [K][2], methods {m: {mean [K][H], lo {tag:
    [K][H]}, hi {tag: [K][H]}, clipped [K]}}}}}}. `stamps.x[t - t0]` is the time stamp of
    position t where the series is dated. Bands are clipped to each origin's axis range
    (infinite ones included), as in the static figure.
    """
    if forecasts is None or forecasts.empty:
        return {}
    sizes = _fan_sizes(forecasts, levels)
    out: dict = {}
    for ds, rows in forecasts.groupby("dataset", sort=True, observed=True):
        ds = str(ds)
        n_shown, cap = sizes[ds]
        names = sorted(rows["series"].astype(str).unique())
        entry = {"series": names[:n_shown], "n_series": len(names), "by_series": {}}
        for series, cell in rows.groupby(rows["series"].astype(str), sort=True, observed=True):
            if series not in entry["series"]:
                continue
            seed = int(cell["seed"].min())
            entry["by_series"][series] = _fan_entry(cell.loc[cell["seed"] == seed], series, seed, cap,
                                                    levels, oracle)
        out[ds] = entry
    return out


def method_table(cfg: dict, methods_run: set[str]) -> list[dict]:
    """Each config method: key, registry name, description, parameters as given and resolved
    (registry defaults filled in). A registry that cannot be loaded leaves those fields '-'."""
    from fanlab import registry

    try:
        registry.load_plugins(cfg.get("plugins") or [])
    except Exception:  # a plugin missing on this machine: its methods show '-', the rest still show
        pass
    try:
        entries = registry.entries("method")
    except Exception:  # the report must never be lost to the registry
        entries = {}
    rows = []
    for m in method_keys(cfg):
        entry = entries.get(m["name"])
        resolved = "-"
        if entry is not None:
            try:
                resolved = json.dumps(entry.params.model_validate(m["params"]).model_dump(mode="json"))
            except Exception:
                resolved = "-"
        rows.append({"method": m["key"], "name": m["name"], "what": entry.summary if entry else "-",
                     "params": json.dumps(m["params"]) if m["params"] else "{}", "resolved": resolved,
                     "in results": "yes" if m["key"] in methods_run else "no"})
    return rows


def facts(data: dict) -> dict[str, str]:
    """Run facts for the page: config name, horizon, levels, seeds, versions, commit, time."""
    cfg, man = data["config"], data["manifest"]
    f = {"folder": Path(data["path"]).name, "config": str(cfg.get("name", "?")),
         "horizon": str(cfg.get("horizon", "?")), "levels": ", ".join(f"{float(v):g}" for v in cfg["levels"]),
         "seeds": str(cfg.get("seeds", "?")), "stride": str(cfg.get("stride", "?")),
         "protocol": str(cfg.get("protocol", "?"))}
    if man:
        commit = str(man.get("git_commit") or "?") + (" (dirty)" if man.get("git_dirty") else "")
        f.update({"started": str(man.get("started", "?")), "seconds": str(man.get("seconds", "?")),
                  "commit": commit, "jobs": str(man.get("jobs", "?")),
                  "cells": ", ".join(f"{k} {v}" for k, v in (man.get("counts") or {}).items()),
                  "versions": ", ".join(f"{k} {v}" for k, v in (man.get("versions") or {}).items() if v)})
        if man.get("figures_error"):
            f["figures error"] = str(man["figures_error"])
    return f


def failed_cells(manifest: dict) -> list[tuple[str, str]]:
    """(cell key, error) of every failed cell, sorted by key."""
    return [(k, str(v.get("error", ""))) for k, v in sorted((manifest.get("cells") or {}).items())
            if isinstance(v, dict) and v.get("status") == "failed"]


def run_payload(data: dict) -> dict:
    """The plot data of one results folder shared by the report and the compare page:
    datasets and methods in config order (others after, by name), the dataset to open on."""
    metrics, summary, cfg = data["metrics"], data["summary"], data["config"]
    levels = sorted(float(v) for v in cfg["levels"])
    datasets = in_order(set(summary["dataset"].astype(str)) | set(metrics["dataset"].astype(str)),
                        config_order(cfg, "datasets"))
    order = config_order(cfg, "methods")
    of = pooled_by_dataset(metrics, datasets)
    methods = {ds: in_order(set(summary.loc[summary["dataset"].astype(str) == ds, "method"].astype(str))
                            | set(pooled_rows(of[ds], ds, ["coverage", "crps"])["method"].astype(str)), order)
               for ds in datasets}
    return {"label": Path(data["path"]).name, "levels": [level_tag(lv) for lv in levels],
            "datasets": datasets, "methods": methods, "start": start_dataset(cfg, datasets),
            "headline_methods": report_options(cfg)["headline_methods"], **curves(of, datasets, levels)}


def cell_warnings(manifest: dict) -> pd.DataFrame:
    """Distinct warnings of the finished cells: method, warning, number of cells that gave it."""
    counts: dict[tuple[str, str], int] = {}
    for key, cell in manifest.get("cells", {}).items():
        for w in cell.get("warnings", []) or []:
            k = (f"{cell.get('dataset', '?')} / {cell.get('method', key)}", str(w)[:300])
            counts[k] = counts.get(k, 0) + 1
    rows = [{"dataset / method": k[0], "warning": k[1], "cells": n} for k, n in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["dataset / method", "warning", "cells"])
