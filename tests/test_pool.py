"""The local pool: a dead worker fails its own cell only; the run goes on and resumes."""

import os
import signal
import time

import pytest

from fanlab.config import parse_config
from fanlab.engine.pool import imap_unordered
from fanlab.api import run_config as run


def square_or_die(x):
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def nap(seconds):
    start = time.monotonic()
    time.sleep(seconds)
    return start


def test_a_task_waits_while_its_group_runs_and_another_can_start():
    # task 1 shares task 0's group (cells that share a stored fit): when task 2 ends, task 3
    # starts before it although it comes later; task 1 starts once nothing else is left
    seconds = [3.0, 0.1, 0.3, 0.3]
    for groups, first in ((["fit", "fit", None, None], 3), (None, 1)):
        start = dict(imap_unordered(nap, [(s,) for s in seconds], jobs=2, groups=groups))
        later = max(start[1], start[3])
        assert later == (start[1] if first == 3 else start[3]), (groups, start)


def test_a_killed_worker_fails_its_task_only():
    out = dict(imap_unordered(square_or_die, [(x,) for x in range(8)], jobs=2))
    assert sorted(out) == list(range(8))
    assert out[3]["status"] == "failed" and "SIGKILL" in out[3]["error"]
    assert all(out[x] == x * x for x in range(8) if x != 3)


def test_one_worker_killed_in_a_20_cell_run(tmp_path, monkeypatch):
    import tests.killer_plugin  # noqa: F401  (registers killer_naive; workers import it too)

    raw = {"name": "kill", "horizon": 10, "levels": [0.8], "seeds": [0, 1, 2, 3, 4], "stride": 10,
           "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 100},
           "datasets": [{"name": "arma", "label": "ar1", "params": {"ar": [0.6], "n": 200}}],
           "methods": [{"name": "oracle"}, {"name": "climatology"}, {"name": "naive"},
                       {"name": "killer_naive"}]}
    marker = tmp_path / "marker"
    monkeypatch.setenv("FANLAB_KILL_MARKER", str(marker))
    cfg = parse_config({**raw, "out": str(tmp_path / "a")})
    first = run(cfg, jobs=2, progress=False, figures=False)
    assert len(first.statuses) == 20
    assert first.failed == ["ar1__ar1__killer_naive__s1"] or first.failed == [
        k for k in first.statuses if "killer_naive__s1" in k]
    err = first.statuses[first.failed[0]]["error"]
    assert "WorkerDied" in err and "SIGKILL" in err
    again = run(cfg, jobs=2, progress=False, figures=False)  # the marker exists: no more kills
    assert not again.failed
    assert sum(v["status"] == "done" for v in again.statuses.values()) == 1
    clean = run(parse_config({**raw, "out": str(tmp_path / "b")}), jobs=2, progress=False, figures=False)
    for f in ("metrics.parquet", "forecasts.parquet", "summary.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_plugins_key_imports_user_methods(tmp_path):
    from fanlab.errors import ConfigError

    raw = {"name": "plug", "horizon": 5, "levels": [0.8], "seeds": [0], "stride": 5,
           "datasets": [{"name": "arma", "params": {"ar": [0.6], "n": 120}}],
           "methods": [{"name": "killer_naive"}], "plugins": ["tests.killer_plugin"]}
    cfg = parse_config({**raw, "out": str(tmp_path / "p")})
    assert not run(cfg, jobs=2, progress=False, figures=False).failed
    with pytest.raises(ConfigError, match="plugins"):
        parse_config({**raw, "plugins": ["no_such_module_here"]})
    with pytest.raises(ConfigError, match="plugins"):
        parse_config({**raw, "plugins": ["../evil"]})


def test_a_task_that_cannot_be_pickled_fails_alone_instead_of_hanging():
    def hung(signum, frame):
        raise TimeoutError("imap_unordered hung on an unpicklable task")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)  # it used to wait forever
    try:
        args = [(2,), (lambda: 0,), (4,)]  # the lambda cannot travel to a worker process
        out = dict(imap_unordered(square_or_die, args, jobs=2))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert out[0] == 4 and out[2] == 16
    assert out[1]["status"] == "failed" and out[1]["error"].startswith("NotPicklable")


def test_panel_series_with_oracles_run_in_worker_processes(tmp_path):
    cfg = parse_config({"name": "arp", "horizon": 3, "protocol": "holdout", "levels": [0.8],
                        "datasets": [{"name": "ar_panel", "params": {"n": 12, "n_series": 4}}],
                        "methods": [{"name": "oracle"}, {"name": "climatology"}]})
    res = run(cfg, root=tmp_path, jobs=2, progress=False, figures=False)
    assert not res.failed and len(res.statuses) == 8
