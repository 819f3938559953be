"""A small process pool that survives its workers: cells in parallel on one machine.

Why not joblib or concurrent.futures: when one of their workers dies (the OOM killer, a
segfault in a native library, kill -9), the whole pool breaks and every result still in
flight is lost, and their workers outlive a main process killed with SIGKILL. Here the main
process hands each worker one task at a time through the worker's own queue, so it always
knows which task a dead worker held: that task alone is reported failed (with the signal),
a fresh worker takes its place, and the other tasks go on. Each worker also sends its
results through a pipe of its own, written synchronously: a queue shared by all workers
guards its pipe with a lock that a worker's feeder thread may still hold when the worker is
killed, and then every other worker blocks on it forever (a hang seen under load in
`tests/test_pool.py`); a dead worker's own pipe just ends (EOF). Workers ask the kernel to end
them when the main process dies (Linux ``PR_SET_PDEATHSIG``) and also check, between tasks,
that their parent is still there.

Workers are started with the "spawn" method (no fork of a process that may hold BLAS or
torch threads), with the environment given (one thread each) set before anything imports
torch, and import the given plugin modules first (user methods registered in Python).
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mp_connection
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
    """Run tasks from the queue `tasks`; send (index, result) through the pipe end `results`."""
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
        try:
            data = pickle.dumps((i, res), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps((i, {"status": "failed", "error": f"result could not be sent back: {exc}",
                                     "seconds": 0.0}))
        results.send_bytes(data)  # synchronous: sent before the next task is taken


def imap_unordered(fn: Callable, argsets: list[tuple], jobs: int, env: dict | None = None,
                   plugins: tuple[str, ...] = (), on_death: Callable[[int, int], Any] | None = None,
                   groups: list | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (index, fn(*argsets[index])) as tasks finish, `jobs` worker processes at a time.

    `fn` must be importable by name (a module-level function) and should return its errors
    as data. A task whose worker died yields ``on_death(index, exitcode)`` (default: a
    failed-cell dict naming the signal). Stopping the iteration (or an error in the caller)
    ends every worker.

    Tasks start in the order given, except that a task whose `groups` entry (not None) equals
    that of a task still running waits while another task can start: tasks of one group
    would only wait for each other (cells that share a stored fit take its lock in turn).
    """
    ctx = mp.get_context("spawn")
    env = dict(env or {})
    parent = os.getpid()
    workers: dict[int, tuple[Any, Any, Any]] = {}  # slot -> (process, its task queue, its result pipe)
    busy: dict[int, int] = {}  # slot -> task index
    pending = list(range(len(argsets)))[::-1]  # pop() from the end: first task first
    done = 0

    def start(slot: int) -> None:
        q = ctx.Queue()
        recv, send = ctx.Pipe(duplex=False)
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # read by the child's interpreter at start (torch threads)
        try:
            p = ctx.Process(target=_worker, args=(fn, q, send, env, tuple(plugins), parent), daemon=True)
            p.start()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        send.close()  # the child holds the only write end: its death ends the pipe (EOF)
        workers[slot] = (p, q, recv)

    refused: list[tuple[int, Any]] = []  # tasks whose arguments cannot be sent to a worker

    def take() -> int:
        """The next task to start: the first pending one whose group is not running, if any."""
        if groups is not None:
            running = {groups[j] for j in busy.values()} - {None}
            for pos in range(len(pending) - 1, -1, -1):
                if groups[pending[pos]] is None or groups[pending[pos]] not in running:
                    return pending.pop(pos)
        return pending.pop()

    def feed(slot: int) -> None:
        while pending:
            i = take()
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

    def receive(slot: int):
        """The (index, result) a busy worker sent, or None where its pipe ended (it died)."""
        try:
            return pickle.loads(workers[slot][2].recv_bytes())
        except (EOFError, OSError, pickle.UnpicklingError):
            return None

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
            pipes = {workers[slot][2]: slot for slot in busy}
            for conn in mp_connection.wait(list(pipes), timeout=_POLL_S):
                slot = pipes[conn]
                got = receive(slot)
                i = busy.pop(slot)
                done += 1
                if got is not None and got[0] == i:
                    feed(slot)  # its next task first: the worker runs while the caller reads this result
                    yield i, got[1]
                else:  # the pipe ended: the worker died holding task i
                    p = workers[slot][0]
                    p.join(timeout=5.0)
                    yield i, death(i, p.exitcode if p.exitcode is not None else -9)
                    workers.pop(slot)[2].close()
                    start(slot)
                    feed(slot)
    finally:
        for p, q, _ in workers.values():
            try:
                q.put(None)
            except Exception:
                pass
        for p, _, recv in workers.values():
            p.join(timeout=2.0)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2.0)
            recv.close()
