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
from fanlab.report.figure_helpers import (clip_band, fan_limits, first_cell, h_curves, pooled_rows,
                                         reliability_curves, truth_by_time)
from fanlab.schema import level_cols, level_tag

PIT_BINS = 10
#: Fan charts embed at most about this many numbers per page (means and band edges); the
#: origins shown per dataset are thinned evenly to fit, within [FAN_MIN, FAN_MAX].
FAN_BUDGET = 600_000
FAN_MIN, FAN_MAX = 5, 40
REFS = ("oracle", "climatology")


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


def colors_of(methods) -> dict[str, str]:
    """The static figures' colour per method, as hex for the page."""
    from fanlab.report.figures import method_colors

    return {m: to_hex(c) for m, c in method_colors(methods).items()}


def _curve(c, band: bool) -> dict:
    d = {"h": [int(v) for v in c.x], "y": num(c.y), "n_inf": int(np.sum(np.isinf(c.y)))}
    if band and c.lo is not None and c.hi is not None:
        d["lo"], d["hi"] = num(c.lo), num(c.hi)
    return d


def curves(metrics: pd.DataFrame, datasets: list[str], levels: list[float]) -> dict:
    """{coverage, width}: {dataset: {level tag: {method: {h, y, lo?, hi?}}}}; reliability:
    {dataset: {method: {x, y}}}: nominal vs empirical over all steps."""
    cov, wid, rel = {}, {}, {}
    for ds in datasets:
        cov[ds] = {level_tag(lv): {m: _curve(c, True) for m, c in h_curves(metrics, ds, lv, "coverage", band=True).items()}
                   for lv in levels}
        wid[ds] = {level_tag(lv): {m: _curve(c, False) for m, c in h_curves(metrics, ds, lv, "width").items()}
                   for lv in levels}
        rel[ds] = {m: {"x": num(c.x), "y": num(c.y)} for m, c in reliability_curves(metrics, ds).items()}
    return {"coverage": cov, "width": wid, "reliability": rel}


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


def fan_cap(forecasts: pd.DataFrame, levels: list[float], budget: int | None = None) -> int:
    """Origins shown per dataset so that the fan data of the page fits `budget` numbers
    (default FAN_BUDGET)."""
    budget = FAN_BUDGET if budget is None else budget
    pairs = max(forecasts.groupby(["dataset", "method"], observed=True).ngroups, 1)
    horizon = max(int(forecasts["h"].max()), 1)
    per = budget // (pairs * horizon * (1 + 2 * len(levels)))
    return int(min(max(per, FAN_MIN), FAN_MAX))


def fans(forecasts: pd.DataFrame | None, levels: list[float], oracle: str | None) -> dict:
    """Fan chart data of the first series and seed of each dataset, at evenly spread origins.

    {dataset: {series, seed, n_origins, origins [K], truth {t, y}, ylim [K][2],
    methods {m: {mean [K][H], lo {tag: [K][H]}, hi {tag: [K][H]}, clipped [K]}}}}. Bands are
    clipped to each origin's axis range (infinite ones included), as in the static figure.
    """
    if forecasts is None or forecasts.empty:
        return {}
    cap = fan_cap(forecasts, levels)
    out: dict = {}
    for ds in sorted(forecasts["dataset"].astype(str).unique()):
        series, seed, cell = first_cell(forecasts, ds)
        all_origins = np.unique(cell["origin"].to_numpy(np.int64))
        idx = np.unique(np.round(np.linspace(0, all_origins.size - 1, min(cap, all_origins.size))).astype(int))
        shown = all_origins[idx]
        truth = truth_by_time(cell)
        horizon = int(cell["h"].max())
        cell = cell.loc[cell["origin"].isin(shown)].sort_values(["method", "origin", "h"])
        paths: dict[str, dict[int, pd.DataFrame]] = {}
        for (m, o), g in cell.groupby(["method", "origin"], sort=True, observed=True):
            paths.setdefault(str(m), {})[int(o)] = g
        methods = sorted(paths)
        entry = {"series": series, "seed": seed, "n_origins": int(all_origins.size), "horizon": horizon,
                 "origins": [int(o) for o in shown],
                 # the first origin whose past window is known (from earlier origins' futures)
                 "first_full": int(np.argmax(shown - shown[0] >= horizon)) if (shown - shown[0] >= horizon).any() else 0, "truth": {"t": [int(t) for t in truth.index], "y": num(truth)},
                 "ylim": [], "methods": {m: {"mean": [], "lo": {}, "hi": {}, "clipped": []} for m in methods}}
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
    """The plot data of one results folder shared by the report and the compare page."""
    metrics, summary, cfg = data["metrics"], data["summary"], data["config"]
    levels = sorted(float(v) for v in cfg["levels"])
    datasets = sorted(set(summary["dataset"].astype(str)) | set(metrics["dataset"].astype(str)))
    methods = {ds: sorted(set(summary.loc[summary["dataset"].astype(str) == ds, "method"].astype(str))
                          | set(pooled_rows(metrics, ds, ["coverage", "crps"])["method"].astype(str)))
               for ds in datasets}
    return {"label": Path(data["path"]).name, "levels": [level_tag(lv) for lv in levels],
            "datasets": datasets, "methods": methods, **curves(metrics, datasets, levels)}


def cell_warnings(manifest: dict) -> pd.DataFrame:
    """Distinct warnings of the finished cells: method, warning, number of cells that gave it."""
    counts: dict[tuple[str, str], int] = {}
    for key, cell in manifest.get("cells", {}).items():
        for w in cell.get("warnings", []) or []:
            k = (f"{cell.get('dataset', '?')} / {cell.get('method', key)}", str(w)[:300])
            counts[k] = counts.get(k, 0) + 1
    rows = [{"dataset / method": k[0], "warning": k[1], "cells": n} for k, n in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["dataset / method", "warning", "cells"])
