"""A batch of cell files read and scored at once: what a worker of a run's aggregation does.

Each file is read whole (pyarrow, from its bytes) and split into its series (a global method's
cell holds many). The series whose tables have the same columns are concatenated and each numeric
column turned into numpy once; the series of one shape (origins, steps) are gathered into one
stack (`fanlab.metrics.batch`), rows sorted by origin and h as `frame_arrays` sorts them, and
scored together by `score_stack`. Each series' `frame_arrays` are views of its stack: the
arrays `frame_arrays` gives of the file's frame, value for value and in the same memory layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fanlab.engine.results import META_KEY
from fanlab.forecast import level_probs
from fanlab.metrics.batch import Records, cell_view, pack_many, score_stack, stack_arrays
from fanlab.metrics.frames import ColumnFrame
from fanlab.metrics.joint import ORIGIN_COLS, sim_cols
from fanlab.schema import ID_COLS, frame_probs, level_cols, prob_col


def read_cell(path: Path) -> tuple[pa.Table, dict]:
    """A cell file's table and its fanlab metadata (read from the file's bytes: a third of
    `read_table`'s time on small files)."""
    whole = pq.ParquetFile(pa.BufferReader(Path(path).read_bytes())).read(use_threads=False)
    raw = (whole.schema.metadata or {}).get(META_KEY)
    return whole, (json.loads(raw) if raw else {})


def split_series(table: pa.Table, meta: dict):
    """(series name, its table, its scale) per series of a cell file, in order of first
    appearance (as `fanlab.engine.cells.split_frames`)."""
    if "scales" not in meta:
        yield str(table.column("series")[0].as_py()), table, meta.get("scale")
        return
    names = table.column("series").to_numpy(zero_copy_only=False)
    _, first = np.unique(names, return_index=True)
    for name in names[np.sort(first)]:
        rows = np.flatnonzero(names == name)
        whole = rows.size and rows[-1] - rows[0] + 1 == rows.size  # one block of rows: a slice, no copy
        yield str(name), (table.slice(int(rows[0]), rows.size) if whole else table.take(rows)), \
            meta["scales"].get(str(name))


def forecast_rows(table: pa.Table, levels: list[float], q_cols: list[str]) -> tuple[pa.Table, pa.Table | None]:
    """One series' rows of forecasts.parquet (ids, y, mean, lo_/hi_ per level, pit, crps) and
    of quantiles.parquet (None without `q_cols`), from its cell file's table."""
    ids = ["dataset", "series", "method", "seed", "origin", "h"] + (["time"] if "time" in table.column_names else [])
    cols = {c: table.column(c) for c in ids + ["y", "mean"]}
    for level in levels:
        lo_p, hi_p = level_probs(level)
        lo_c, hi_c = level_cols(level)
        cols[lo_c], cols[hi_c] = table.column(prob_col(lo_p)), table.column(prob_col(hi_p))
    cols["pit"], cols["crps"] = table.column("pit"), table.column("crps")
    return pa.table(cols), (table.select(ids + q_cols) if q_cols else None)


def score_batch(series: list[tuple[pa.Table, float | None]], levels: list[float], all_levels: list[float],
                q_cols: list[str]) -> tuple[list[dict], list[tuple[int, int]]]:
    """Score series tables (each with its scale) in stacks: (groups, where each series is:
    (group, member)). A group holds the series of one set of columns, compactly (what a worker
    sends back: its stacks, its records' value matrices, one forecasts table); `member` gives
    a series' (ids, `Records`, `frame_arrays`) and `forecast_part` its rows of forecasts.parquet."""
    groups: list[dict] = []
    where: list = [None] * len(series)
    # grouped by the number of columns and the last one's name (reading every name costs more
    # than the rest of a small table's handling); tables that do not concatenate are grouped by
    # their names, then scored one at a time
    by_columns: dict[tuple, list[int]] = {}
    for i, (t, _) in enumerate(series):
        by_columns.setdefault((t.num_columns, t.schema.field(t.num_columns - 1).name if t.num_columns else ""),
                              []).append(i)
    for idx in by_columns.values():
        for members, group in _groups(series, idx, levels, all_levels, q_cols):
            for m, i in enumerate(members):
                where[i] = (len(groups), m)
            groups.append(group)
    return groups, where


def _groups(series, idx: list[int], levels, all_levels, q_cols, finer: int = 0):
    """[(members, group)] of the series `idx`, regrouped by their column names, then by names
    and types, then one by one, where their tables do not concatenate."""
    try:
        return [(idx, _score_group([series[i] for i in idx], levels, all_levels, q_cols))]
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if len(idx) == 1:
            raise
        if finer == 2:
            return [([i], _score_group([series[i]], levels, all_levels, q_cols)) for i in idx]
        sub: dict[tuple, list[int]] = {}
        for i in idx:
            schema = series[i][0].schema
            sub.setdefault((tuple(schema.names), tuple(map(str, schema.types)) if finer else ()), []).append(i)
        return [g for members in sub.values() for g in _groups(series, members, levels, all_levels, q_cols, finer + 1)]


def member(group: dict, m: int) -> tuple[dict, Records, dict]:
    """A group's series m as `score_cell` gives it: (ids, `Records`, `frame_arrays` (views))."""
    dataset, series, method, seed = group["ids"][m]
    k, c = group["at"][m]
    layouts, which, row, values = group["records"]
    ids = {"dataset": dataset, "series": series, "method": method, "seed": group["seed_type"](seed)}
    return ids, Records(layouts[which[m]], values[which[m]][row[m]]), cell_view(group["stacks"][k], c)


def forecast_part(group: dict, m: int) -> tuple[pa.Table, pa.Table | None]:
    """A group's series m's rows of forecasts.parquet and quantiles.parquet (slices)."""
    a, b = group["offsets"][m], group["offsets"][m + 1]
    return group["fc"].slice(a, b - a), (None if group["q"] is None else group["q"].slice(a, b - a))


def _score_group(members: list[tuple[pa.Table, float | None]], levels, all_levels, q_cols) -> dict:
    whole = pa.concat_tables([t for t, _ in members])
    sizes = np.array([t.num_rows for t, _ in members], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    fc, q = (None if t is None else t.combine_chunks() for t in forecast_rows(whole, levels, q_cols))  # pickled fast
    firsts = pa.array(offsets[:-1][sizes > 0])
    ids = list(zip(*(whole.column(c).take(firsts).to_pylist() for c in ID_COLS))) if (sizes > 0).all() else None
    stacks, at, recs = [], [None] * len(members), [None] * len(members)
    for st, pos in _stacks(whole, sizes, offsets[:-1]):
        if st is None:  # not K whole origins of H steps: scored alone, as `frame_arrays` reads it
            from fanlab.metrics.evaluate import score_cell

            t, scale = members[pos[0]]
            frame = ColumnFrame({c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names if c != "time"})
            one, recs[pos[0]], arr = score_cell(frame, scale, levels, all_levels)
            ids = ids or [None] * len(members)
            ids[pos[0]] = tuple(one[c] for c in ID_COLS)
            st = stack_arrays([arr])
        else:
            for p, rec in zip(pos, score_stack(st, [members[p][1] for p in pos], levels, all_levels)):
                recs[p] = rec
        for c, p in enumerate(pos):
            at[p] = (len(stacks), c)
        stacks.append(st)
    seed_type = np.dtype(whole.schema.field("seed").type.to_pandas_dtype()).type  # as the frame's column reads
    return {"fc": fc, "q": q, "offsets": offsets, "ids": ids, "seed_type": seed_type, "stacks": stacks, "at": at,
            "records": pack_many(recs)}


_NUMERIC = ("origin", "h", "y", "mean", "pit", "crps", "state") + ORIGIN_COLS


def _stacks(whole: pa.Table, sizes: np.ndarray, starts: np.ndarray) -> list[tuple[dict | None, list[int]]]:
    """The series (rows `starts`, `sizes` of `whole`) as stacks of one shape each: (stack,
    positions of its series); (None, [position]) for a series whose rows are not K whole
    origins of H steps."""
    names = whole.column_names
    probs = frame_probs(names)
    q_names = [prob_col(p) for p in probs]
    sims = sorted(float(c[len("sim_lo_"):]) for c in names if c.startswith("sim_lo_"))
    sim_names = [c for lv in sims for c in sim_cols(lv)]
    wanted = [c for c in _NUMERIC if c in names] + q_names + sim_names
    numeric = whole.select(wanted).combine_chunks()
    col = {c: numeric.column(c).to_numpy() for c in wanted}
    origin, h = col["origin"], col["h"]
    if (sizes == 0).any():
        return [(None, [i]) for i in range(sizes.size)]
    steps = np.maximum.reduceat(h, starts)
    if (steps < 1).any():
        return [(None, [i]) for i in range(sizes.size)]
    origins = sizes // steps
    # rows already in (origin, h) order, as `ColumnFrame.sorted` would leave them
    later = (origin[1:] > origin[:-1]) | ((origin[1:] == origin[:-1]) & (h[1:] >= h[:-1]))
    later[starts[1:] - 1] = True  # across two tables
    unsorted = set(np.searchsorted(starts, np.flatnonzero(~later), side="right") - 1)
    groups: dict[tuple, list[int]] = {}
    out: list = []
    for i in range(sizes.size):
        if origins[i] * steps[i] != sizes[i]:
            out.append((None, [i]))
        else:
            groups.setdefault((int(origins[i]), int(steps[i])), []).append(i)
    for (k, hh), members in groups.items():
        rows = []
        for i in members:
            r = np.arange(starts[i], starts[i] + sizes[i])
            if i in unsorted:
                r = r[np.lexsort((h[r], origin[r]))]
            rows.append(r)
        rows = np.concatenate(rows)
        n = len(members)

        def take(c, rows=rows, n=n, k=k, hh=hh):
            return col[c][rows].reshape(n, k, hh)

        st = {c: take(c) for c in ("y", "mean", "pit", "crps")}
        st["origins"] = take("origin")[:, :, 0].copy()
        st["state"] = take("state")[:, :, 0].copy() if "state" in col else np.full((n, k), np.nan)
        q = np.empty((n, k, len(q_names), hh))
        for j, c in enumerate(q_names):
            q[:, :, j, :] = take(c)
        st["quantiles"], st["probs"] = q, probs
        st["paths"] = {c: (take(c)[:, :, 0].copy() if c in col else np.full((n, k), np.nan)) for c in ORIGIN_COLS}
        st["paths"]["sim"] = {lv: (take(sim_cols(lv)[0]), take(sim_cols(lv)[1])) for lv in sims}
        out.append((st, members))
    return out

