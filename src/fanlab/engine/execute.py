"""Running cells: in this process, in a pool of local worker processes, or on dask.

The order of the cells changes no result (every cell is seeded by its own spec); they start
longest first so that the workers finish together, and in the local pool two cells that share
a stored fit do not start at once while other cells can (the second would only wait for the
first's fit); on dask the later cells of such a group are submitted one at a time, as the one
before finishes. `fanlab.engine.runner` decides what the cells are and aggregates them; this
module only executes them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from fanlab import registry
from fanlab.engine.cells import PANEL, run_local_cell, run_panel_cell
from fanlab.engine.fitstore import fit_group


def run_cell(cell, series, out: Path, limit_threads: bool = False, fits: str | None = "reuse") -> dict:
    """Fit, forecast and write one cell, local (`fanlab.engine.cells.run_local_cell`) or global
    (`fanlab.engine.cells.run_panel_cell`); never raises. `limit_threads`: one thread (a worker)."""
    if limit_threads:
        _limit_threads()
    if cell.series == PANEL:
        return run_panel_cell(cell, series, out, fits=fits)
    return run_local_cell(cell, series, out, fits=fits)


def _limit_threads() -> None:
    # several cells share the machine's cores: one thread each, for torch and BLAS alike
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


@contextmanager
def _one_thread_workers():
    """Worker processes started inside read OMP_NUM_THREADS=1 (torch reads it at import)."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


def cell_cost(name: str, params: dict) -> float:
    """Estimated seconds of a cell of method `name` with `params` (its registry entry's `cost`);
    it orders the cells, longest first, and changes no result."""
    try:
        return registry.get("method", name).cell_cost(params)
    except registry.UnknownName:
        return 1.0


def fit_groups(cells, fits: str | None = "reuse") -> list | None:
    """Per cell, the stored fit it shares with other cells of its series and seed (`fitstore.fit_group`),
    or None: the pool does not start two cells of one group at once (the second would only
    wait for the first's fit). None without a fit store."""
    if fits is None:
        return None
    return [None if (g := fit_group(c.method_name, c.method_params)) is None else (c.dataset, c.seed, c.series, g)
            for c in cells]


def held_by_group(groups: list | None, n: int) -> tuple[list[int], dict]:
    """For an engine that takes tasks all at once (dask): the indices to submit now (every
    cell outside a fit group, and the first of each group, in order) and, per group, the
    indices held back, in order, each to be submitted when the one before it finishes (it
    would only wait for that cell's fit, holding a worker)."""
    now, held = [], {}
    for i, g in enumerate(groups if groups is not None else [None] * n):
        if g is None or g not in held:
            now.append(i)
            if g is not None:
                held[g] = []
        else:
            held[g].append(i)
    return now, held


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _execute(todo, series_of, out, jobs, progress, engine="local", scheduler=None, fits="reuse"):
    """Yield (cell, result) for every cell of `todo` as it finishes."""
    if not todo:
        return
    # longest first, so that two workers finish together (the order changes no result)
    def size(c):
        s = series_of[(c.dataset, c.seed, c.series)]
        return sum(len(x) for x in s) if isinstance(s, tuple) else len(s)

    todo = sorted(todo, key=lambda c: -cell_cost(c.method_name, c.method_params) * size(c))
    key = lambda c: series_of[(c.dataset, c.seed, c.series)]  # noqa: E731
    bar = _Progress(len(todo), jobs, enabled=progress)
    with bar:
        if engine == "dask":
            yield from _execute_dask(todo, key, out, jobs, scheduler, bar, fits)
        elif jobs <= 1:
            for c in todo:
                bar.start(c)
                res = run_cell(c, key(c), out, fits=fits)
                bar.finish(c, res)
                yield c, res
        else:
            from fanlab.engine.pool import imap_unordered

            args = [(c, key(c), out, fits) for c in todo]
            for i, res in imap_unordered(_run_worker, args, jobs, env={"OMP_NUM_THREADS": "1"},
                                         plugins=registry.plugin_modules(), groups=fit_groups(todo, fits)):
                res.setdefault("hash", todo[i].hash)
                bar.finish(todo[i], res)
                yield todo[i], res


#: Seconds dask may take to connect to (or start) its scheduler before the run gives up.
DASK_CONNECT_S = 10


def _execute_dask(todo, key, out, jobs, scheduler, bar, fits="reuse"):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RuntimeError("engine 'dask' needs dask.distributed: pip install 'fanlab[dask]'") from None
    import dask

    from fanlab.errors import EngineError

    cluster = None
    with _one_thread_workers(), dask.config.set({"distributed.comm.timeouts.connect": f"{DASK_CONNECT_S}s"}):
        try:
            if scheduler:
                client = Client(scheduler, timeout=DASK_CONNECT_S)
            else:
                cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
                client = Client(cluster, timeout=DASK_CONNECT_S)
        except Exception as exc:  # no loopback, a wrong address, a scheduler that is down
            if cluster is not None:
                cluster.close()
            what = f"reach the scheduler at {scheduler}" if scheduler else "start a local dask cluster on 127.0.0.1"
            first = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise EngineError(f"--engine dask: could not {what} within {DASK_CONNECT_S} s "
                            f"({type(exc).__name__}: {first}); use --engine local") from None
        try:
            groups = fit_groups(todo, fits)
            now, held = held_by_group(groups, len(todo))
            where = Path(out).resolve()
            submit = lambda i: client.submit(_run_indexed, i, todo[i], key(todo[i]), where, fits, pure=False)  # noqa: E731
            running = as_completed([submit(i) for i in now])
            for fut in running:
                i, res = fut.result()
                if groups is not None and held.get(groups[i]):  # the next cell of its fit group may start
                    running.add(submit(held[groups[i]].pop(0)))
                bar.finish(todo[i], res)
                yield todo[i], res
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _run_worker(cell, series, out, fits="reuse"):
    return run_cell(cell, series, out, limit_threads=True, fits=fits)


def _run_indexed(i, cell, series, out, fits="reuse"):
    return i, run_cell(cell, series, out, limit_threads=True, fits=fits)


class _Progress:
    """A rich progress bar: cells done, running and failed."""

    def __init__(self, total: int, jobs: int, enabled: bool):
        self.total, self.jobs, self.enabled = total, jobs, enabled
        self.done = self.failed = 0
        self._p = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                               TextColumn("eta"), TimeRemainingColumn())
            self._p.__enter__()
            self._task = self._p.add_task(self._desc(None), total=self.total)
        return self

    def _desc(self, current) -> str:
        running = min(self.jobs, self.total - self.done - self.failed)
        now = f" [{current}]" if current else ""
        return f"cells: {self.done} done, {running} running, {self.failed} failed{now}"

    def start(self, cell) -> None:
        if self._p:
            self._p.update(self._task, description=self._desc(cell.key))

    def finish(self, cell, res) -> None:
        if res["status"] == "failed":
            self.failed += 1
        else:
            self.done += 1
        if self._p:
            self._p.update(self._task, advance=1, description=self._desc(None))

    def __exit__(self, *exc):
        if self._p:
            self._p.__exit__(*exc)
