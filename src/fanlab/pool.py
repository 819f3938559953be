"""A small process pool that survives its workers: cells in parallel on one machine.

Why not joblib or concurrent.futures: when one of their workers dies (the OOM killer, a
segfault in a native library, kill -9), the whole pool breaks and every result still in
flight is lost, and their workers outlive a main process killed with SIGKILL. Here the main
process hands each worker one task at a time through the worker's own queue, so it always
knows which task a dead worker held: that task alone is reported failed (with the signal),
a fresh worker takes its place, and the other tasks go on. Workers ask the kernel to end
them when the main process dies (Linux ``PR_SET_PDEATHSIG``) and also check, between tasks,
that their parent is still there.

Workers are started with the "spawn" method (no fork of a process that may hold BLAS or
torch threads), with the environment given (one thread each) set before anything imports
torch, and import the given plugin modules first (user methods registered in Python).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
from typing import Any, Callable, Iterator

_POLL_S = 0.2


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except Exception:  # pragma: no cover - best effort
            pass


def _worker(fn, tasks, results, env: dict, plugins: tuple[str, ...], parent: int) -> None:
    _die_with_parent()
    os.environ.update(env)
    import importlib

    for mod in plugins:
        importlib.import_module(mod)
    while True:
        try:
            item = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if item is None:
            return
        i, args = item
        try:
            res = fn(*args)
        except BaseException as exc:  # fn should not raise; if it does, say so and go on
            res = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}
        try:  # a Queue drops an unpicklable item silently (in its feeder thread): check first
            pickle.dumps(res)
        except Exception as exc:
            res = {"status": "failed", "error": f"result could not be sent back: {exc}", "seconds": 0.0}
        results.put((i, res))


def imap_unordered(fn: Callable, argsets: list[tuple], jobs: int, env: dict | None = None,
                   plugins: tuple[str, ...] = (), on_death: Callable[[int, int], Any] | None = None
                   ) -> Iterator[tuple[int, Any]]:
    """Yield (index, fn(*argsets[index])) as tasks finish, `jobs` worker processes at a time.

    `fn` must be importable by name (a module-level function) and should return its errors
    as data. A task whose worker died yields ``on_death(index, exitcode)`` (default: a
    failed-cell dict naming the signal). Stopping the iteration (or an error in the caller)
    ends every worker.
    """
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    env = dict(env or {})
    parent = os.getpid()
    workers: dict[int, tuple[Any, Any]] = {}  # slot -> (process, its task queue)
    busy: dict[int, int] = {}  # slot -> task index
    pending = list(range(len(argsets)))[::-1]  # pop() from the end: first task first
    done = 0

    def start(slot: int) -> None:
        q = ctx.Queue()
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # read by the child's interpreter at start (torch threads)
        try:
            p = ctx.Process(target=_worker, args=(fn, q, results, env, tuple(plugins), parent), daemon=True)
            p.start()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        workers[slot] = (p, q)

    refused: list[tuple[int, Any]] = []  # tasks whose arguments cannot be sent to a worker

    def feed(slot: int) -> None:
        while pending:
            i = pending.pop()
            try:  # a Queue drops an unpicklable item in its feeder thread and the run would hang
                pickle.dumps(argsets[i])
            except Exception as exc:
                refused.append((i, {"status": "failed", "seconds": 0.0,
                                    "error": f"NotPicklable: this cell's inputs cannot be sent to a worker process "
                                             f"({type(exc).__name__}: {exc}); run it with --jobs 1"}))
                continue
            busy[slot] = i
            workers[slot][1].put((i, argsets[i]))
            return

    def death(i: int, code: int) -> Any:
        if on_death is not None:
            return on_death(i, code)
        how = f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit code {code}"
        return {"status": "failed", "error": f"WorkerDied: the worker running this cell ended by {how}",
                "seconds": 0.0}

    try:
        for slot in range(max(1, min(jobs, len(argsets)))):
            start(slot)
            feed(slot)
        while done < len(argsets):
            while refused:
                done += 1
                yield refused.pop(0)
            if done >= len(argsets):
                break
            try:
                i, res = results.get(timeout=_POLL_S)
            except queue.Empty:
                for slot, (p, _) in list(workers.items()):
                    if slot in busy and not p.is_alive():
                        # a result may still be in the pipe: look once more before declaring it lost
                        try:
                            j, res = results.get(timeout=_POLL_S)
                        except queue.Empty:
                            j = None
                        if j is not None:
                            s2 = next(s for s, t in busy.items() if t == j)
                            del busy[s2]
                            done += 1
                            yield j, res
                            feed(s2)
                            break
                        i_dead = busy.pop(slot)
                        done += 1
                        yield i_dead, death(i_dead, p.exitcode if p.exitcode is not None else -9)
                        start(slot)
                        feed(slot)
                continue
            slot = next(s for s, t in busy.items() if t == i)
            del busy[slot]
            done += 1
            yield i, res
            feed(slot)
    finally:
        for p, q in workers.values():
            try:
                q.put(None)
            except Exception:
                pass
        for p, _ in workers.values():
            p.join(timeout=2.0)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2.0)
