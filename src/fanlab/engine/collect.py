"""A run's aggregation, in parallel over cells and streamed to its files.

Workers (`fanlab.engine.pool`, or this process for one job) read batches of cell files and
score their series in stacks (`fanlab.engine.cellread`: the numbers of
`fanlab.metrics.evaluate.score_cell`, the one scoring path, for many cells at once); they send
back, compactly, the metric records, the small arrays that the pooled and reference rows need
and the rows of forecasts.parquet, never the frames. As each dataset's cells are all in (in the
sorted order of the files), `score_dataset` gives its pooled and reference rows, and its rows
are appended to forecasts.parquet and metrics.parquet as row groups of the size
`pyarrow.parquet.write_table` uses, so the files are the bytes one write of the whole sorted
table gives, while only one dataset's rows are held at a time. With workers, a thread of this
process writes a completed dataset while this one hands the workers their next batches.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fanlab.engine.cellread import forecast_part, member, read_cell, score_batch, split_series
from fanlab.engine.results import atomic_path, cell_path, write_parquet
from fanlab.metrics.evaluate import score_dataset
from fanlab.schema import POOLED_SERIES

#: The rows of a row group of `pyarrow.parquet.write_table` (its default), kept so that a
#: streamed file has the bytes of one write.
ROW_GROUP = 1024 * 1024
#: Cells a worker reads and scores per task.
BATCH = 64


def score_files(out: Path, cells: list[tuple], levels: list[float], all_levels: list[float], q_cols: list[str],
                flag_words: tuple[str, ...]) -> tuple[list[tuple], list[dict]]:
    """Read and score cell files: cells are (index, dataset, method, seed, key). Returns (per
    cell (index, first flagged warning or None, [(series, seed, group, member)] per series),
    the groups of `score_batch`): the batch's series are scored in stacks and sent back
    compactly; `unpack` gives each series' parts."""
    res, series = [], []
    for i, dataset, method, seed, key in cells:
        whole, meta = read_cell(cell_path(out, key))
        flagged = [w for w in meta.get("warnings", []) or [] if any(k in w for k in flag_words)]
        names = []
        for name, table, scale in split_series(whole, meta):
            series.append((table, scale))
            names.append(name)
        res.append((i, seed, flagged[0] if flagged else None, names))
    groups, where = score_batch(series, levels, all_levels, q_cols)
    at = iter(where)
    return [(i, flagged, [(name, seed, *next(at)) for name in names]) for i, seed, flagged, names in res], groups


def unpack(batch: tuple[list[tuple], list[dict]]) -> list[tuple]:
    """`score_files`' result per cell: (index, flagged warning, [(series, seed, scored, forecast
    rows, quantile rows)] per series), scored as `score_cell` gives it."""
    cells, groups = batch
    return [(i, flagged, [(name, seed, member(groups[g], m), *forecast_part(groups[g], m))
                          for name, seed, g, m in parts]) for i, flagged, parts in cells]


def _score_batch(out, cells, levels, all_levels, q_cols, flag_words):
    """A worker's task (module level: the pool sends it by name)."""
    from fanlab.engine.execute import _limit_threads

    _limit_threads()
    return score_files(out, cells, levels, all_levels, q_cols, flag_words)


class ParquetStream:
    """A parquet file written a frame at a time, in row groups of `ROW_GROUP` rows: the bytes
    of `write_parquet` of the frames' concatenation. A file of one row group (most runs') is
    one call of `write` (`write_parquet`) at `close`; a longer one is streamed, each full row
    group written as it fills (with `pd.concat`'s columns: where a later frame lacks a column
    of the first row group it is written null; a column the first row group lacks is an
    error). `stream=False` holds every frame and writes once at `close`: for a file whose
    frames do not all carry the same columns (`collect` passes it when some datasets' cells
    have a `time` column and others not: pandas puts such a column after the first frame's,
    which no row group written before it can know)."""

    def __init__(self, path: Path, stack: ExitStack, write=None, stream: bool = True):
        self.path, self.stack, self.write, self.stream = Path(path), stack, write, stream
        self.buffer: list[pd.DataFrame] = []
        self.rows = 0
        self.writer = None

    def add(self, frame: pd.DataFrame) -> None:
        self.buffer.append(frame)
        self.rows += len(frame)
        while self.stream and self.rows > ROW_GROUP:  # more than one row group: stream the full ones
            whole = pd.concat(self.buffer, ignore_index=True)
            self._write(whole.iloc[:ROW_GROUP])
            rest = whole.iloc[ROW_GROUP:].reset_index(drop=True)
            self.buffer, self.rows = [rest], len(rest)

    def _write(self, frame: pd.DataFrame) -> None:
        if self.writer is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            tmp = self.stack.enter_context(atomic_path(self.path))  # renamed onto path when all went well
            self.writer = pq.ParquetWriter(tmp, table.schema)
            self.stack.callback(self.writer.close)
        else:
            schema = self.writer.schema
            extra = [c for c in frame.columns if c not in schema.names]
            if extra:
                raise ValueError(f"{self.path}: columns {extra} appear after the first row group")
            table = pa.Table.from_pandas(frame.reindex(columns=schema.names), schema=schema, preserve_index=False)
        self.writer.write_table(table.combine_chunks())

    def close(self) -> None:
        whole = pd.concat(self.buffer, ignore_index=True) if self.buffer else pd.DataFrame()
        self.buffer, self.rows = [], 0
        if self.writer is None:  # one row group: one write, as `write_parquet` of the whole frame
            (self.write or write_parquet)(whole, self.path)
            return
        if len(whole):
            self._write(whole)
        self.writer.close()


def _same_id_columns(out: Path, cells: list, order: list[int]) -> bool:
    """Whether every dataset's cells carry the same optional id columns (`time`), read off the
    schema of each dataset's first cell file (a dataset's series all have time stamps or none):
    only then can forecasts.parquet be streamed in row groups."""
    first: dict[str, int] = {}
    for i in order:
        first.setdefault(cells[i].dataset, i)
    try:
        timed = {"time" in pq.read_schema(cell_path(out, cells[i].key)).names for i in first.values()}
    except (OSError, pa.ArrowInvalid):
        return False
    return len(timed) <= 1


def collect(out: Path, cells: list, levels: list[float], all_levels: list[float], refs: dict,
            blocks: dict[str, int], bs, q_cols: list[str], flag_words: tuple[str, ...], jobs: int = 1,
            write=None):
    """Write forecasts.parquet (and quantiles.parquet with `q_cols`) and metrics.parquet from
    the cells' files (a file of one row group with `write`, default `write_parquet`); returns (the rows summary.csv reads: pooled rows and each cell's
    calibration_error, {(dataset, method): flagged warnings})."""
    order = sorted(range(len(cells)), key=lambda i: (cells[i].dataset, cells[i].method, cells[i].series,
                                                     cells[i].seed))
    left = {}
    for c in cells:
        left[c.dataset] = left.get(c.dataset, 0) + 1
    datasets = sorted(left)
    tasks = [[(i, cells[i].dataset, cells[i].method, cells[i].seed, cells[i].key) for i in order[s:s + BATCH]]
             for s in range(0, len(order), BATCH)]
    got: dict[str, dict[int, list]] = {d: {} for d in datasets}
    flags: dict[tuple[str, str], list[str]] = {}
    summary_rows = []
    same = _same_id_columns(out, cells, order)
    with ExitStack() as stack:
        fc = ParquetStream(out / "forecasts.parquet", stack, write, stream=same)
        qs = ParquetStream(out / "quantiles.parquet", stack, write, stream=same) if q_cols else None
        ms = ParquetStream(out / "metrics.parquet", stack, write)

        def emit(dataset: str) -> None:
            by_method: dict[str, list] = {}
            rows_of: dict[str, list] = {}
            for i in sorted(got[dataset], key=lambda i: (cells[i].method, cells[i].series, cells[i].seed)):
                for part in got[dataset][i]:
                    by_method.setdefault(cells[i].method, []).append(part)
            del got[dataset]
            for method in by_method:  # a panel cell's series and local cells: sorted by series, then seed
                by_method[method].sort(key=lambda p: (p[0], p[1]))
                rows_of[method] = [(p[3], p[4]) for p in by_method[method]]
                by_method[method] = [p[2] for p in by_method[method]]
            for method, rows in score_dataset(dataset, by_method, levels, all_levels, refs, blocks[dataset],
                                              bs.reps, bs.seed, bs.ci):
                keep, q = zip(*rows_of.pop(method))  # as the cells' frames would be: via pandas
                fc.add(pa.concat_tables(keep, promote_options="default").to_pandas())
                if qs is not None:
                    qs.add(pa.concat_tables(q, promote_options="default").to_pandas())
                ms.add(rows)
                summary_rows.append(rows[(rows["series"] == POOLED_SERIES) | (rows["metric"] == "calibration_error")])

        # with workers, a completed dataset is emitted by one thread of this process while this
        # thread goes on handing batches to the workers (they would wait for it otherwise)
        emitter = ThreadPoolExecutor(max_workers=1) if jobs > 1 and len(tasks) > 1 else None
        emitted = []

        def take(batch) -> None:
            for i, flagged, parts in unpack(batch):
                c = cells[i]
                if flagged is not None:
                    flags.setdefault((c.dataset, c.method), []).append((i, flagged))
                got[c.dataset][i] = parts
                left[c.dataset] -= 1
            while datasets and left[datasets[0]] == 0:
                if emitter is None:
                    emit(datasets.pop(0))
                else:
                    emitted.append(emitter.submit(emit, datasets.pop(0)))
            for f in emitted:
                if f.done() and f.exception() is not None:
                    raise f.exception()

        args = (out, levels, all_levels, q_cols, flag_words)
        if emitter is None:
            for t in tasks:
                take(score_files(out, t, *args[1:]))
        else:
            from fanlab import registry
            from fanlab.engine.pool import imap_unordered

            argsets = [(out, t, *args[1:]) for t in tasks]
            try:
                for _, res in imap_unordered(_score_batch, argsets, jobs, env={"OMP_NUM_THREADS": "1"},
                                             plugins=registry.plugin_modules()):
                    if isinstance(res, dict):  # a worker died or raised: the aggregation cannot be whole
                        raise RuntimeError(f"aggregation worker: {res.get('error')}")
                    take(res)
                for f in emitted:
                    f.result()
            finally:  # no file is closed under a running emit
                emitter.shutdown(wait=True, cancel_futures=True)
        fc.close()
        if qs is not None:
            qs.close()
        ms.close()
    # flagged warnings in the order of `cells`, as one pass over them gives
    flags = {k: [w for _, w in sorted(v)] for k, v in flags.items()}
    return pd.concat(summary_rows, ignore_index=True), flags
