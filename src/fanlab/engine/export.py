"""`fanlab export`: a config's series and the exact cutoffs its run scores, for forecasts made
in another library and handed back through the `external` method.

For each dataset of the config, ``DIR/<dataset label>/``:

=============  ===========================================================================
series         ``unique_id, [seed,] ds, y``: every series as the run reads it (gaps filled
               as the dataset fills them); ``ds`` its time stamps, or positions 0..n-1
               where it has none; ``seed`` only where the series differ by seed (synthetic)
cutoffs        ``unique_id, [seed,] origin, cutoff, h_max``: one row per forecast the run
               scores; ``origin`` the 0-based position of the last observed point,
               ``cutoff`` its time stamp (or the position again), ``h_max`` the horizon:
               every step 1..h_max is scored
=============  ===========================================================================

each as parquet (dtypes exact) and CSV; ``DIR/export.json`` and ``DIR/README.md`` say the
horizon, the probabilities a file must hold, how to hand the forecasts back, and the
statsforecast ``cross_validation`` settings that reproduce the cutoffs.

The origins are those of the cells `fanlab.engine.runner.expand` makes (the splits
`fanlab.engine.cells.split_cells` builds, the origins `Split.test_origins` picks): the very
cells a run fits, never a second computation of them.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from fanlab.config import Config
from fanlab.data.series import Series
from fanlab.forecast import probs_for_levels
from fanlab.engine.cells import PANEL, CellSpec, split_cells
from fanlab.engine.results import write_text
from fanlab.engine.runner import expand, load_all_series


@dataclass
class Export:
    """What `export` wrote: the folder, its files and the facts of export.json."""

    out: Path
    files: list[Path]
    info: dict
    notes: list[str] = field(default_factory=list)


def scored_origins(cells: list[CellSpec], series_of: dict) -> dict[tuple[str, int, str], tuple[np.ndarray, int]]:
    """(dataset, seed, series) -> (origins (K,), horizon) of every series a cell forecasts.

    `series_of`: (dataset, seed, series name) -> Series. The split and origins of a local
    cell and of a global cell's members are built as `fanlab.engine.cells` builds them; two
    cells of one series that disagree would be a bug of the expansion, and raise."""
    out: dict[tuple[str, int, str], tuple[np.ndarray, int]] = {}
    for c in cells:
        st = c.settings
        if c.series == PANEL:
            members = [(name, spec) for name, spec in c.split["series"].items()]
        else:
            members = [(c.series, c.split)]
        for name, spec in members:
            s = series_of[(c.dataset, c.seed, name)]
            split = split_cells(spec, len(s), st["horizon"], f"{c.dataset}/{name}")
            origins = split.test_origins(st["horizon"], st["stride"], st["max_origins"])
            key = (c.dataset, c.seed, name)
            if key in out and not (out[key][1] == st["horizon"] and np.array_equal(out[key][0], origins)):
                raise AssertionError(f"cells of {key} score different origins")  # pragma: no cover
            out[key] = (origins, int(st["horizon"]))
    return out


def _differ_by_seed(by_seed: list[list[Series]]) -> bool:
    return any(len(a) != len(b) or not np.array_equal(a.values, b.values)
               for other in by_seed[1:] for a, b in zip(by_seed[0], other)) or \
        any(len(other) != len(by_seed[0]) for other in by_seed[1:])


def _stamps(s: Series):
    """The series' time stamps (N,), or positions where it has none."""
    return s.index if s.index is not None else pd.RangeIndex(len(s))


def _freq(s: Series):
    """statsforecast's ``freq`` for the series: its pandas alias, 1 for positions, None where
    the stamps are irregular (no frequency reproduces them)."""
    if not isinstance(s.index, pd.DatetimeIndex):
        return 1
    if s.index.freqstr:
        return s.index.freqstr
    with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(s.index) if len(s.index) >= 3 else None
    return None if freq is None else to_offset(freq).freqstr


def _tables(series: list[Series], origins: dict, seed: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The series and cutoffs tables of one dataset (and seed, where the series differ by seed)."""
    rows, cuts = [], []
    first = {"unique_id": None} if seed is None else {"unique_id": None, "seed": seed}
    for s in series:
        if s.name not in origins:  # a series no cell forecasts
            continue
        stamps = _stamps(s)
        o, h = origins[s.name]
        rows.append(pd.DataFrame({**first, "unique_id": s.name, "ds": stamps, "y": s.values}))
        cuts.append(pd.DataFrame({**first, "unique_id": s.name, "origin": o, "cutoff": stamps[o], "h_max": h}))
    return pd.concat(rows, ignore_index=True), pd.concat(cuts, ignore_index=True)


def _statsforecast(cuts: pd.DataFrame, series: list[Series], stride: int) -> dict:
    """The `cross_validation` settings that give exactly the exported cutoffs, or why none do.

    statsforecast counts each series' windows back from its own last point: the last cutoff is
    n - h - 1 (0-based), the ones before it `step_size` apart. Cutting each series after its
    last scored target (its first last_origin + h + 1 points) makes the last cutoff the last
    origin; `n_windows` is the number of origins (one call per distinct count)."""
    freqs = {s.name: _freq(s) for s in series if s.name in set(cuts["unique_id"])}
    irregular = sorted(n for n, f in freqs.items() if f is None)
    hs = sorted(set(int(v) for v in cuts["h_max"]))
    h = hs[0]
    out: dict = {"h": h, "step_size": int(stride), "freq": None}
    if len(hs) > 1:  # horizon: auto with series of several horizons: h differs by series
        out.update(h=hs, possible=False, why=f"the series have different horizons {hs}: one cross_validation call "
                                              "per horizon, each on the series of that horizon")
        return out
    if irregular:
        out.update(possible=False, why=f"series {irregular[:3]} have irregular time stamps: statsforecast needs a "
                                       "frequency; forecast at the cutoffs in a loop and hand back the long layout")
        return out
    kinds = set(map(str, freqs.values()))
    if len(kinds) > 1:
        out.update(possible=False, why=f"the series have different frequencies {sorted(kinds)}: one call per "
                                       "frequency")
        return out
    keys = ["unique_id"] + (["seed"] if "seed" in cuts else [])
    counts = cuts.groupby(keys)["origin"].agg(["size", "max"])
    windows: dict[int, list[str]] = {}
    for key, r in counts.iterrows():
        uid = key[0] if isinstance(key, tuple) else key
        windows.setdefault(int(r["size"]), [])
        if uid not in windows[int(r["size"])]:
            windows[int(r["size"])].append(str(uid))
    f = next(iter(freqs.values()))
    out.update(possible=True, freq=f if isinstance(f, int) else str(f),
               keep="each series' first (last origin + h + 1) points",
               calls=[{"n_windows": k, "series": v if len(v) <= 20 else f"{len(v)} series"}
                      for k, v in sorted(windows.items())])
    if len(windows) > 1:
        out["note"] = "the series have different numbers of origins: one cross_validation call per n_windows"
    return out


def _write(frame: pd.DataFrame, folder: Path, stem: str) -> list[Path]:
    from fanlab.engine.results import write_parquet

    folder.mkdir(parents=True, exist_ok=True)
    pq, csv = folder / f"{stem}.parquet", folder / f"{stem}.csv"
    write_parquet(frame, pq)
    write_text(frame.to_csv(index=False), csv)
    return [pq, csv]


def export(cfg: Config, out: str | Path) -> Export:
    """Write every dataset's series and the exact cutoffs a run of `cfg` scores under `out`
    (see the module notes); raises DataError as `fanlab run` would, before writing."""
    out = Path(out)
    notes: list[str] = []
    all_series = load_all_series(cfg, notes)
    cells, _ = expand(cfg, all_series)
    series_of = {(dk, seed, s.name): s for (dk, seed), ss in all_series.items() for s in ss}
    scored = scored_origins(cells, series_of)
    files: list[Path] = []
    levels = [float(v) for v in cfg.levels]
    info: dict = {
        "config": cfg.name, "levels": levels,
        "probs_required": [float(p) for p in probs_for_levels(levels, median=False)],
        "probs_all": [float(p) for p in cfg.probs], "stride": cfg.stride, "max_origins": cfg.max_origins,
        "seeds": list(cfg.seeds), "datasets": {},
    }
    for ds in cfg.datasets:
        by_seed = [all_series[(ds.key, seed)] for seed in cfg.seeds]
        per_seed = _differ_by_seed(by_seed)
        seeds = list(cfg.seeds) if per_seed else [cfg.seeds[0]]
        series_parts, cut_parts = [], []
        for seed in seeds:
            origins = {name: v for (dk, sd, name), v in scored.items() if dk == ds.key and sd == seed}
            if not origins:
                continue
            a, b = _tables(all_series[(ds.key, seed)], origins, seed if per_seed else None)
            series_parts.append(a)
            cut_parts.append(b)
        if not cut_parts:
            notes.append(f"dataset '{ds.key}': no method of the config runs on it; nothing exported")
            continue
        series_t, cuts = pd.concat(series_parts, ignore_index=True), pd.concat(cut_parts, ignore_index=True)
        folder = out / ds.key
        files += _write(series_t, folder, "series") + _write(cuts, folder, "cutoffs")
        first = all_series[(ds.key, seeds[0])]
        dated = isinstance(first[0].index, pd.DatetimeIndex)
        info["datasets"][ds.key] = {
            "folder": ds.key, "series": int(series_t["unique_id"].nunique()), "forecasts": int(len(cuts)),
            "h_max": sorted({int(v) for v in cuts["h_max"]}),
            "ds": "time stamps" if dated else ("the series' integer time column" if first[0].index is not None
                                               else "positions 0..n-1"),
            "seed_column": per_seed,
            "statsforecast": _statsforecast(cuts, first, cfg.stride),
        }
    info["notes"] = list(notes)
    out.mkdir(parents=True, exist_ok=True)
    write_text(json.dumps(info, indent=2, default=str) + "\n", out / "export.json")
    write_text(readme(info), out / "README.md")
    return Export(out=out, files=files + [out / "export.json", out / "README.md"], info=info, notes=notes)


def readme(info: dict) -> str:
    """The folder's README: what each file holds and how forecasts come back."""
    levels = ", ".join(f"{v:g}" for v in info["levels"])
    pct = ", ".join(f"{100 * v:g}" for v in info["levels"])
    lines = [
        f"# Forecasts wanted by config '{info['config']}'",
        "",
        f"Levels {levels}: a file must hold the probabilities {info['probs_required']} (quantiles or "
        f"statsforecast's `level=[{pct}]` bands; sample paths hold every level). Probabilities of the "
        "fine reliability grid that a file lacks are interpolated, with a warning.",
        "",
        "Per dataset, a folder with `series.parquet` / `.csv` (`unique_id, ds, y`; `seed` where the "
        "series differ by seed) and `cutoffs.parquet` / `.csv` (`unique_id, origin, cutoff, h_max`): "
        "forecast every step 1..h_max after each cutoff, from the data up to and including it.",
        "",
    ]
    for key, d in info["datasets"].items():
        sf = d["statsforecast"]
        lines += [f"## {key}", "", f"{d['series']} series, {d['forecasts']} forecasts, horizon {d['h_max']}, "
                  f"ds: {d['ds']}" + ("; one copy of the series per seed (column `seed`)" if d["seed_column"] else ""),
                  ""]
        if sf["possible"]:
            calls = "; ".join(f"n_windows={c['n_windows']} for {c['series']}" for c in sf["calls"])
            lines += [f"statsforecast reproduces the cutoffs ({calls}; freq={sf['freq']!r}"
                      + ("; once per seed, adding a `seed` column" if d["seed_column"] else "") + "):", "",
                      "```python",
                      f"df = pd.read_parquet('{key}/series.parquet')",
                      f"last = pd.read_parquet('{key}/cutoffs.parquet').groupby('unique_id')['origin'].max()",
                      f"df = df[df.groupby('unique_id').cumcount() <= df['unique_id'].map(last + {sf['h']})]",
                      f"cv = sf.cross_validation(df=df, h={sf['h']}, step_size={sf['step_size']}, n_windows=K, "
                      f"level=[{pct}])",
                      "```", ""]
        else:
            lines += [f"statsforecast: no cross_validation call gives these cutoffs: {sf['why']}.", ""]
    lines += [
        "## Handing the forecasts back",
        "",
        "Add an arm `{name: external, params: {path: <file>, model: <column group>}}` to the config and "
        "`fanlab run` it. Read as saved: statsforecast / mlforecast / neuralforecast `cross_validation` "
        "frames; darts `historical_forecasts(..., last_points_only=False)` forecasts' `to_dataframe()` "
        "with a `cutoff` column, stacked; or the long layout `series`, `origin` (or "
        "`cutoff`), `h` (or `ds`), `prob` (or `sample`), `value` (+ `seed` where the series differ by "
        "seed). In a notebook: `fanlab.evaluate({'mine': fanlab.external(frame, model=...)}, series)`.",
        "",
    ]
    if info["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in info["notes"]] + [""]
    return "\n".join(lines)
