"""Config -> cells -> results.

A config expands to cells: dataset x series x method x seed. A cell is a pure function of its
spec that fits one method on one series, forecasts every test origin and writes one parquet
file atomically under `cells/`. A rerun skips a cell whose file carries the same spec hash
(`force=True` recomputes). A cell that raises is recorded in the manifest with its error and
the end of its traceback; the other cells run. After the cells, the run aggregates every
finished cell into forecasts.parquet, metrics.parquet and summary.csv and writes the manifest.
The report layer draws the figures and the page from those files afterwards
(`fanlab.report.build.finish`): the run layer never imports it.

Synthetic series are simulated per seed (the seed is the replication), real series are the
same for every seed (the seed then varies only the method's randomness).
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from fanlab import __version__, registry
from fanlab.engine.cells import PANEL, CellSpec, split_cells
from fanlab.config import Config, config_to_dict, stable_hash
from fanlab.errors import DataError
from fanlab.data.series import DataWarning, Series
from fanlab.engine.inputs import changed_notes, dataset_files, digests, method_files
from fanlab.engine.execute import _execute, default_jobs
from fanlab.engine.fitstore import clean_stale
from fanlab.metrics.summary import summary_table
from fanlab.schema import POOLED_SERIES as POOLED
from fanlab.schema import prob_col
from fanlab.metrics.bootstrap import default_block
from fanlab.engine.collect import collect
from fanlab.models.external import check_external_files
from fanlab.engine.results import (WriteError, cell_path, claim_folder, read_json, read_parquet_meta,
                            write_json, write_parquet, write_text)


@dataclass
class RunResult:
    out: Path
    statuses: dict[str, dict]
    skipped: list[dict]
    #: lines the run says beside its counts: input files that changed, data warnings, a
    #: report that could not be written
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [k for k, v in self.statuses.items() if v["status"] == "failed"]


def load_all_series(cfg: Config, notes: list[str] | None = None) -> dict[tuple[str, int], list[Series]]:
    """Every dataset for every seed; raises DataError naming the dataset. Warnings a dataset
    gives while it loads (`fanlab.data.series.DataWarning`: irregular time stamps) are added
    to `notes`, once each, prefixed with the dataset's label."""
    out: dict[tuple[str, int], list[Series]] = {}
    for ds in cfg.datasets:
        for seed in cfg.seeds:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", DataWarning)
                    series = registry.build_dataset(ds.name, ds.params, seed)
            except DataError as exc:
                raise DataError(f"dataset '{ds.key}': {exc}") from None
            for w in caught:
                if issubclass(w.category, DataWarning):
                    line = f"dataset '{ds.key}': {w.message}"
                    if notes is not None and line not in notes:
                        notes.append(line)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            if not series:
                raise DataError(f"dataset '{ds.key}' produced no series")
            names = [s.name for s in series]
            if len(set(names)) != len(names):
                dup = next(n for n in names if names.count(n) > 1)
                raise DataError(f"dataset '{ds.key}': two series are named '{dup}'")
            if PANEL in names:  # a global method's cell of this dataset is named so
                raise DataError(f"dataset '{ds.key}': a series is named '{PANEL}', the name of a global method's "
                                "cell; rename that series")
            if POOLED in names:  # rows pooled over the series of a dataset are named so
                raise DataError(f"dataset '{ds.key}': a series is named '{POOLED}', the mark of rows pooled "
                                "over every series; rename that series")
            horizons = sorted({cfg.horizon_for(ds, s) for s in series})
            if len(horizons) > 1:  # per-step pooling needs one horizon per dataset
                raise DataError(f"dataset '{ds.key}': horizon: auto gives horizons {horizons} across its series; "
                                "one horizon per dataset (e.g. one `subset` each, or a number)")
            for s in series:  # fail before anything is written when a series is too short
                horizon = cfg.horizon_for(ds, s)
                split_cells(cfg.cell_split(ds, s, horizon), len(s), horizon, f"{ds.key}/{s.name}")
            out[(ds.key, seed)] = series
    return out


def expand(cfg: Config, all_series: dict[tuple[str, int], list[Series]],
           digest_cache: dict | None = None) -> tuple[list[CellSpec], list[dict]]:
    """The cells of a config and the ones skipped (oracle on a series without one). A cell
    that reads files (a CSV, a forecasts file, a plugin's source) carries their digests in its
    data spec, so its hash changes when their bytes do (`fanlab.engine.inputs`)."""
    probs = [float(p) for p in cfg.probs]
    cells, skipped = [], []
    cache = {} if digest_cache is None else digest_cache
    panel_methods = {m.key for m in cfg.methods if registry.is_panel(m.name, m.params)}
    ds_files = {ds.key: dataset_files(ds.name, ds.params) for ds in cfg.datasets}
    m_files = {m.key: method_files(m.name, m.params) for m in cfg.methods}

    def spec_of(ds, m) -> dict:
        files = ds_files[ds.key] + m_files[m.key]
        base = {"name": ds.name, "params": ds.params}
        return {**base, "inputs": digests(files, cache)} if files else base

    for ds in cfg.datasets:
        for seed in cfg.seeds:
            members = all_series[(ds.key, seed)]
            for m in cfg.methods:  # global methods: one cell for every series of the dataset
                if m.key in panel_methods and (ds.methods is None or m.key in ds.methods):
                    data_spec = spec_of(ds, m)
                    horizon = cfg.horizon_for(ds, members[0])
                    split = {"series": {s.name: cfg.cell_split(ds, s, horizon) for s in members}}
                    settings = {"horizon": horizon, "stride": cfg.stride, "max_origins": cfg.max_origins,
                                "probs": probs}
                    cells.append(CellSpec(ds.key, PANEL, m.key, seed, m.name, m.params, split, settings,
                                          data_spec, tuple(cfg.levels)))
            for s in members:
                horizon = cfg.horizon_for(ds, s)
                split = cfg.cell_split(ds, s, horizon)
                settings = {"horizon": horizon, "stride": cfg.stride, "max_origins": cfg.max_origins, "probs": probs}
                for m in cfg.methods:
                    if (ds.methods is not None and m.key not in ds.methods) or m.key in panel_methods:
                        continue
                    data_spec = spec_of(ds, m)
                    if m.name == "oracle" and s.oracle is None:
                        skipped.append({"dataset": ds.key, "series": s.name, "method": m.key, "seed": seed,
                                        "reason": "real series: no oracle"})
                        continue
                    cells.append(CellSpec(ds.key, s.name, m.key, seed, m.name, m.params, split, settings, data_spec,
                                          tuple(cfg.levels)))
    return cells, skipped


def _cached_meta(cell: CellSpec, out: Path) -> dict | None:
    """The metadata of the cell's file if it was written for this very spec, else None."""
    path = cell_path(out, cell.key)
    if not path.is_file():
        return None
    try:
        meta = read_parquet_meta(path)
    except Exception:
        return None  # an unreadable file is recomputed
    return meta if meta.get("hash") == cell.hash else None


def _versions() -> dict:
    out = {"fanlab": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "pandas", "statsmodels", "scipy", "torch", "scoringrules", "arch", "pyarrow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _git_commit(where: Path | None = None) -> dict:
    """The commit of the code that runs, whether its tracked files had local changes, and the
    code's name for the cells it writes: the commit, or ``<commit>+<digest of git diff HEAD>``
    where the package's own files have local changes (so cells of one uncommitted edit are told
    from another's; an edit to a README or a config is no change of code). `where`: the folder
    whose files are the code (default: the fanlab package)."""
    here = where or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=here)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=here)
        commit, is_dirty = head.stdout.strip() or None, bool(dirty.stdout.strip())
        code = commit
        if commit and is_dirty:
            diff = subprocess.run(["git", "diff", "HEAD", "--", "."], capture_output=True, timeout=10, cwd=here).stdout
            code = f"{commit}+{hashlib.sha256(diff).hexdigest()[:8]}" if diff else commit
        return {"commit": commit, "dirty": is_dirty, "code": code}
    except Exception:
        return {"commit": None, "dirty": None, "code": None}


def _code_name(code: str | None) -> str:
    """'commit abc1234', 'uncommitted changes on commit abc1234 (diff 0a1b2c3d)', or unrecorded."""
    if not code:
        return "code of unrecorded commit"
    commit, _, diff = code.partition("+")
    return f"uncommitted changes on commit {commit[:7]} (diff {diff})" if diff else f"commit {commit[:7]}"


def run(cfg: Config, root: str | Path = ".", jobs: int | None = 1, force: bool = False, progress: bool = True,
        out: str | Path | None = None, engine: str = "local",
        scheduler: str | None = None, fit_store: bool = True) -> RunResult:
    """Run a validated config: cells, aggregation, manifest; returns per-cell statuses. Raises
    DataError before writing. Figures and the report are the report layer's
    (`fanlab.report.build.finish`; `fanlab.api.run_config` runs both).

    `engine` "local" runs `jobs` local worker processes (1: in this process; see
    `fanlab.engine.pool`; "joblib" is accepted as its old name); "dask" sends
    the cells to a dask.distributed scheduler at `scheduler` (its workers must see the
    results folder, e.g. on a shared file system), or to a local cluster of `jobs` workers.
    `fit_store`: arms that share a base fit it once (``out/fits``; see `fanlab.engine.fitstore`);
    `force` also empties the store.
    """
    if engine not in ("local", "joblib", "dask"):
        raise ValueError(f"engine must be 'local' or 'dask', got {engine!r}")
    jobs = default_jobs() if jobs is None else int(jobs)
    out = Path(out) if out is not None else cfg.out_dir(root)
    notes: list[str] = []
    all_series = load_all_series(cfg, notes)
    check_external_files(cfg, all_series)
    cache: dict = {}
    cells, skipped = expand(cfg, all_series, cache)
    series_of = {(dk, seed, s.name): s for (dk, seed), ss in all_series.items() for s in ss}
    series_of.update({(dk, seed, PANEL): tuple(ss) for (dk, seed), ss in all_series.items()})
    git = _git_commit()  # at the start: the code the cells run with
    with claim_folder(out, cfg.name, stable_hash(config_to_dict(cfg)), force=force):
        return _run_claimed(cfg, out, cells, skipped, series_of, git, jobs, force, progress,
                            engine, scheduler, fit_store, notes, cache)


def _last_manifest(out: Path) -> dict:
    """The manifest of the last run of this folder (empty where none or unreadable)."""
    try:
        last = read_json(out / "manifest.json")
    except (OSError, ValueError):
        return {}
    return last if isinstance(last, dict) else {}


def _written_by(last: dict, cell: CellSpec) -> str | None:
    """The commit of the code that wrote a cached cell's file, as the last manifest recorded it
    (a cell it ran: its commit; a cell it found cached: the commit carried forward); None where
    it does not say (a manifest from before cells carried a commit, or another spec)."""
    cells = last.get("cells")
    rec = cells.get(cell.key) if isinstance(cells, dict) else None
    if not isinstance(rec, dict) or rec.get("hash") != cell.hash:
        return None
    return rec.get("commit")


def _other_code_note(statuses: dict, code: str | None) -> str | None:
    """A run note where cells were served from files that other code wrote (None: none, or this
    code's commit is unknown): their numbers are that code's, not this one's. `code` is
    `_git_commit`'s name of the running code (a commit, or a commit with a digest of its local
    changes)."""
    if not code:
        return None
    other = [v.get("commit") for v in statuses.values() if v["status"] == "cached" and v.get("commit") != code]
    if not other:
        return None
    counts: dict[str, int] = {}
    for c in other:
        counts[_code_name(c)] = counts.get(_code_name(c), 0) + 1
    by = ", ".join(f"{n} by {name}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"{len(other)} of the cached cells were written by other code than this run's ({_code_name(code)}): "
            f"{by}; their numbers are that code's. --force recomputes every cell")


def _run_claimed(cfg, out, cells, skipped, series_of, git, jobs, force, progress, engine, scheduler,
                 fit_store, notes, inputs) -> RunResult:
    clean_stale(out / "fits")
    if force and (out / "fits").is_dir():
        for old in (out / "fits").glob("*.pkl"):
            old.unlink()
    fits = "reuse" if fit_store else None
    last = _last_manifest(out)
    last_inputs = last.get("inputs") if isinstance(last.get("inputs"), dict) else {}
    write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), out / "config.yaml")
    started = time.time()
    statuses: dict[str, dict] = {}
    todo = []
    for c in cells:
        meta = None if force else _cached_meta(c, out)
        if meta is not None:
            statuses[c.key] = {"status": "cached", "hash": c.hash, "commit": _written_by(last, c), **_cell_record(meta)}
        else:
            todo.append(c)
    readers: dict[str, int] = {}
    for c in todo:
        for path in c.data_spec.get("inputs", {}):
            readers[path] = readers.get(path, 0) + 1
    notes.extend(changed_notes(last_inputs, inputs, readers))
    if not force:  # cells whose file is there but was written for another spec or other inputs
        moved = {p for p, d in inputs.items() if last_inputs.get(p) not in (None, d)}
        stale = [c for c in todo if not moved & set(c.data_spec.get("inputs", {}))
                 and cell_path(out, c.key).is_file()]
        if stale:
            what = "1 cell recomputes: its file was" if len(stale) == 1 else f"{len(stale)} cells recompute: their files were"
            notes.append(f"{what} written for another spec (config, params, split or input files changed)")
    code = git.get("code", git["commit"])  # the name of the code that writes the cells (`_git_commit`)
    for c, res in _execute(todo, series_of, out, jobs, progress, engine, scheduler, fits):
        statuses[c.key] = {**res, "commit": code} if res.get("status") == "done" else res
    note = _other_code_note(statuses, code)
    if note:
        notes.append(note)
    for c in cells:
        statuses[c.key].update({"dataset": c.dataset, "series": c.series, "method": c.method, "seed": c.seed})
    finished = [c for c in cells if statuses[c.key]["status"] in ("done", "cached")]
    agg_error = None
    if finished:
        try:
            aggregate(cfg, out, finished, jobs)
        except WriteError as exc:  # a full disk: the manifest still lists every cell
            agg_error = str(exc)
    manifest = {
        "name": cfg.name, "versions": _versions(), "git_commit": git["commit"], "git_dirty": git["dirty"], "host": platform.node(),
        "platform": platform.platform(), "seeds": cfg.seeds, "jobs": jobs,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 2), "cells": dict(sorted(statuses.items())),
        "skipped": skipped, "figures_error": None, "aggregate_error": agg_error,
        "inputs": dict(sorted(inputs.items())), "notes": list(notes),
        "counts": {s: sum(v["status"] == s for v in statuses.values()) for s in ("done", "cached", "failed")},
    }
    try:
        write_json(manifest, out / "manifest.json")
    except WriteError as exc:
        if agg_error is None:
            raise
        agg_error += f"; {exc}"
    if agg_error is not None:
        n_failed = manifest["counts"]["failed"]
        raise WriteError(f"{agg_error}; the {len(finished)} finished cells are kept in {out / 'cells'}"
                         + (f" and {n_failed} failed" if n_failed else "")
                         + " (manifest.json lists each); free space and rerun: finished cells are not recomputed")
    return RunResult(out=out, statuses=statuses, skipped=skipped, notes=notes)


def _cell_record(meta: dict) -> dict:
    return {"info": meta.get("info", {}), "warnings": meta.get("warnings", [])}




#: Cell warnings that say a number may not be what it looks like (a dropped or refitted degenerate
#: fit, a band that had to be repaired): `flag_notes` puts them into summary.csv's note, which the
#: terminal table and the report show, not only into manifest.json.
FLAG_WORDS = ("degenerate", "refitted from zero", "no sane band")


def flag_notes(summary: pd.DataFrame, flags: dict, keys: set, cells: list[CellSpec]) -> pd.DataFrame:
    """`summary` with "k of n cells: <first flagged warning>" added to the note of each
    (dataset, method) whose cells gave flagged warnings."""
    if not flags or summary.empty:
        return summary
    n_cells = {k: 0 for k in keys}
    for c in cells:
        n_cells[(c.dataset, c.method)] += 1
    summary = summary.copy()
    notes = summary["note"].fillna("").astype(str) if "note" in summary else pd.Series("", index=summary.index)
    for (dataset, method), msgs in flags.items():
        text = f"{len(msgs)} of {n_cells[(dataset, method)]} cells warned: {msgs[0][:160]}"
        rows = (summary["dataset"] == dataset) & (summary["method"] == method)
        notes[rows] = [f"{n}; {text}" if n else text for n in notes[rows]]
    summary["note"] = notes
    return summary


def reference_labels(cfg: Config) -> dict[str, str | None]:
    """Labels of the first `climatology` and the first `oracle` method of a config (or None)."""
    return {name: next((m.key for m in cfg.methods if m.name == name), None) for name in ("climatology", "oracle")}


def aggregate(cfg: Config, out: Path, cells: list[CellSpec], jobs: int = 1) -> None:
    """forecasts.parquet, metrics.parquet and summary.csv from the finished cells' files, read
    and scored by `jobs` worker processes (1: in this process) and streamed to the files
    (`fanlab.engine.collect`)."""
    levels, all_levels = cfg.levels, cfg.all_levels
    q_cols = [prob_col(p) for p in cfg.probs] if cfg.quantiles else []
    bs = cfg.bootstrap
    horizons = {}  # per dataset: the longest horizon of its cells (auto: per series)
    for c in cells:
        horizons[c.dataset] = max(horizons.get(c.dataset, 0), int(c.settings["horizon"]))
    blocks = {d: bs.block or default_block(h, cfg.stride) for d, h in horizons.items()}
    # the one scoring path, as `fanlab.evaluate` scores (`fanlab.metrics.evaluate.score`)
    summary_rows, flags = collect(out, cells, levels, all_levels, reference_labels(cfg), blocks, bs, q_cols,
                                  FLAG_WORDS, jobs, write=lambda df, path: write_parquet(df, path))  # looked up at call time
    if not q_cols:  # a run without `quantiles: true` leaves no file of an earlier run's that it does not match
        (out / "quantiles.parquet").unlink(missing_ok=True)
    summary = summary_table(summary_rows, levels, max(horizons.values()), references=reference_labels(cfg))
    summary = flag_notes(summary, flags, {(c.dataset, c.method) for c in cells}, cells)
    write_text(summary.to_csv(index=False, float_format="%.6g"), out / "summary.csv")
