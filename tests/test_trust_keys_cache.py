"""No silent wrong number from names or a stale cache (issue 20 parts 1, 2, 6; issue 19 part 4).

Cell keys are injective (no two cells share a file or a status), reserved series ids are
refused with the file and line, a cell's hash covers the bytes of the files it reads, results
files get the umask's mode, and a CSV's irregular stamps or contradicted period are said.
"""

from __future__ import annotations

import json
import os
import re
import stat
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fanlab import registry
from fanlab.cli import app
from fanlab.config import load_config, parse_config
from fanlab.data.series import DataWarning
from fanlab.errors import DataError
from fanlab.engine.inputs import method_files
from fanlab.engine.results import cell_key
from fanlab.api import run_config as run

COMMON = {"horizon": 5, "levels": [0.8], "seeds": [0], "stride": 5, "bootstrap": {"reps": 100},
          "split": {"train": 0.6, "cal": 0.2, "test": 0.2}}


def _long_csv(path, ids, n=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = ["id,t,y"] + [f"{sid},{t},{v:.6f}" for k, sid in enumerate(ids)
                         for t, v in enumerate(np.cumsum(rng.normal(size=n)) + 10 * k)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _csv_ds(label, path):
    return {"name": "csv", "label": label, "params": {"path": str(path), "value": "y", "time": "t",
                                                      "series_id": "id"}}


def _run(tmp_path, datasets, methods, **kw):
    cfg = parse_config({**COMMON, "name": "keys", "datasets": datasets, "methods": methods,
                        "out": str(tmp_path / "res")})
    return run(cfg, progress=False, figures=False, **kw)


# ------------------------------------------------------------------ part 1: injective keys
@settings(max_examples=300, deadline=None)
@given(a=st.lists(st.text(alphabet="x_%.-/", min_size=0, max_size=5), min_size=3, max_size=3),
       b=st.lists(st.text(alphabet="x_%.-/", min_size=0, max_size=5), min_size=3, max_size=3),
       seeds=st.tuples(st.integers(0, 3), st.integers(0, 3)))
def test_cell_keys_are_injective(a, b, seeds):
    if (tuple(a), seeds[0]) != (tuple(b), seeds[1]):
        assert cell_key(*a, seeds[0]) != cell_key(*b, seeds[1])


def test_ordinary_keys_read_as_before():
    assert cell_key("ar1", "arma_0", "naive", 3) == "ar1__arma_0__naive__s3"


def test_ids_x_and_x_underscore_with_methods_m_and_underscore_m_give_four_cells(tmp_path):
    path = _long_csv(tmp_path / "d.csv", ["x", "x_"])
    res = _run(tmp_path, [_csv_ds("d", path)],
               [{"name": "naive", "label": "m"}, {"name": "climatology", "label": "_m"}])
    assert len(res.statuses) == 4 and not res.failed
    fc = pd.read_parquet(res.out / "forecasts.parquet")
    sizes = fc.groupby(["series", "method"]).size()
    assert sorted(sizes.index) == [("x", "_m"), ("x", "m"), ("x_", "_m"), ("x_", "m")]
    assert sizes.nunique() == 1  # no cell holds another's rows
    # each (series, method) is scored against its own series' values
    raw = pd.read_csv(path)
    for (sid, _), part in fc.groupby(["series", "method"]):
        y = raw.loc[raw["id"] == sid, "y"].to_numpy()
        np.testing.assert_allclose(part["y"].to_numpy(), y[part["origin"] + part["h"]], atol=1e-9)


def test_dataset_d_id_underscore_x_and_dataset_d_underscore_id_x_stay_apart(tmp_path):
    p1 = _long_csv(tmp_path / "one.csv", ["_x"], seed=1)
    p2 = _long_csv(tmp_path / "two.csv", ["x"], seed=2)
    res = _run(tmp_path, [_csv_ds("d", p1), _csv_ds("d_", p2)], [{"name": "naive"}])
    assert len(res.statuses) == 2 and not res.failed
    fc = pd.read_parquet(res.out / "forecasts.parquet")
    assert sorted(fc.groupby(["dataset", "series"]).size().index) == [("d", "_x"), ("d_", "x")]
    for ds, path in (("d", p1), ("d_", p2)):
        part = fc[fc["dataset"] == ds]
        y = pd.read_csv(path)["y"].to_numpy()
        np.testing.assert_allclose(part["y"].to_numpy(), y[part["origin"] + part["h"]], atol=1e-9)
    summary = pd.read_csv(res.out / "summary.csv")
    assert sorted(summary["dataset"]) == ["d", "d_"]


@pytest.mark.parametrize("name", ["*", "panel"])
def test_reserved_series_id_is_refused_with_file_and_line(tmp_path, name):
    path = tmp_path / "r.csv"
    path.write_text("id,t,y\n" + "".join(f"ok,{t},{t % 3}\n" for t in range(30))
                    + "".join(f"{name},{t},{t % 5}\n" for t in range(30)))
    with pytest.raises(DataError, match=rf"r.csv', column 'id', line 32: series id '{re.escape(name)}' is reserved"):
        registry.build_dataset("csv", {"path": str(path), "value": "y", "time": "t", "series_id": "id"}, 0)


def test_reserved_name_as_a_wide_column_is_refused(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("t,ok,*\n" + "".join(f"{t},{t},{t % 4}\n" for t in range(30)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**COMMON, "name": "w", "methods": [{"name": "naive"}],
                                   "datasets": [{"name": "csv", "params": {"path": "w.csv", "value": ["ok", "*"],
                                                                           "time": "t"}}]}))
    res = CliRunner().invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0
    assert "w.csv', column '*', line 1" in res.output and "reserved" in res.output


# ------------------------------------------------------------- part 2: cache keyed by content
def _cli_run(cfg_path, out):
    return CliRunner().invoke(app, ["run", str(cfg_path), "--out", str(out), "--no-figures", "--no-progress", "-j", "1"])


def test_editing_a_csv_recomputes_its_cells_only_and_says_why(tmp_path):
    a, b = _long_csv(tmp_path / "a.csv", ["s"], seed=3), _long_csv(tmp_path / "b.csv", ["s"], seed=4)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**COMMON, "name": "stale", "datasets": [_csv_ds("A", "a.csv"), _csv_ds("B", "b.csv")],
                                   "methods": [{"name": "naive"}, {"name": "climatology"}]}))
    out = tmp_path / "res"
    first = _cli_run(cfg, out)
    assert first.exit_code == 0, first.output
    before = pd.read_csv(out / "summary.csv").set_index(["dataset", "method"])
    again = _cli_run(cfg, out)
    assert "0 cells run, 4 cached" in again.output and "changed" not in again.output
    frame = pd.read_csv(a)
    frame["y"] = frame["y"] * 3.0 + 1.0  # same shape, other values
    frame.to_csv(a, index=False)
    third = _cli_run(cfg, out)
    assert third.exit_code == 0, third.output
    text = " ".join(third.output.split())
    assert "2 cells run, 2 cached" in text
    assert "a.csv' changed since the last run: the 2 cells that read it recompute" in text
    after = pd.read_csv(out / "summary.csv").set_index(["dataset", "method"])
    assert not np.isclose(after.loc[("A", "naive"), "width"], before.loc[("A", "naive"), "width"])
    pd.testing.assert_series_equal(after.loc[("B", "naive")], before.loc[("B", "naive")])
    man = yaml.safe_load((out / "manifest.json").read_text())
    assert {v["status"] for k, v in man["cells"].items() if k.startswith("A__")} == {"done"}
    assert {v["status"] for k, v in man["cells"].items() if k.startswith("B__")} == {"cached"}


def test_cells_written_for_another_spec_recompute_and_the_run_says_so(tmp_path):
    raw = {**COMMON, "name": "spec", "out": str(tmp_path / "res"), "methods": [{"name": "naive"}],
           "datasets": [{"name": "arma", "label": "ar", "params": {"ar": [0.5], "n": 120}}]}
    assert run(parse_config(raw), progress=False, figures=False).notes == []
    res = run(parse_config({**raw, "stride": 3}), progress=False, figures=False)
    assert [v["status"] for v in res.statuses.values()] == ["done"]
    assert res.notes == ["1 cell recomputes: its file was written for another spec (config, params, split or "
                         "input files changed)"]


def test_cells_cached_from_other_code_are_said_with_their_commit(tmp_path, monkeypatch):
    """A cell file is keyed by its spec, not by the code: after a change of code a rerun serves
    the old numbers from cache. The manifest records each cell's commit (carried forward while
    it stays cached) and the run says which cells other code wrote; --force recomputes them."""
    from fanlab.engine import runner

    raw = {**COMMON, "name": "code", "out": str(tmp_path / "res"), "methods": [{"name": "naive"}, {"name": "climatology"}],
           "datasets": [{"name": "arma", "label": "ar", "params": {"ar": [0.5], "n": 120}}]}
    at = lambda commit: monkeypatch.setattr(runner, "_git_commit", lambda: {"commit": commit, "dirty": False})  # noqa: E731
    at("a" * 40)
    first = run(parse_config(raw), progress=False, figures=False)
    assert first.notes == [] and {v["commit"] for v in first.statuses.values()} == {"a" * 40}
    assert run(parse_config(raw), progress=False, figures=False).notes == []  # the same code: nothing to say
    at("b" * 40)
    raw2 = {**raw, "methods": raw["methods"] + [{"name": "seasonal_naive", "params": {"period": 4}}]}
    for _ in range(2):  # said again on the next resume: the cells' commit is carried forward
        res = run(parse_config(raw2), progress=False, figures=False)
        assert res.notes == ["2 of the cached cells were written by other code than this run's (commit bbbbbbb): "
                             "2 by commit aaaaaaa; their numbers are that code's. --force recomputes every cell"]
        man = json.loads((tmp_path / "res" / "manifest.json").read_text())
        assert man["notes"] == res.notes
        assert {k: v["commit"][0] for k, v in man["cells"].items()} == {
            "ar__arma_0__naive__s0": "a", "ar__arma_0__climatology__s0": "a", "ar__arma_0__seasonal_naive__s0": "b"}
        assert "2 of the cached cells were written by other code" in (tmp_path / "res" / "summary.md").read_text()
    forced = run(parse_config(raw2), progress=False, figures=False, force=True)
    assert forced.notes == [] and {v["commit"] for v in forced.statuses.values()} == {"b" * 40}
    # uncommitted changes on that commit are other code too: cells carry the digest of the diff
    monkeypatch.setattr(runner, "_git_commit", lambda: {"commit": "b" * 40, "dirty": True, "code": "b" * 40 + "+0a1b2c3d"})
    res = run(parse_config(raw2), progress=False, figures=False)
    assert res.notes == ["3 of the cached cells were written by other code than this run's (uncommitted changes "
                         "on commit bbbbbbb (diff 0a1b2c3d)): 3 by commit bbbbbbb; their numbers are that code's. "
                         "--force recomputes every cell"]


def test_the_running_code_is_named_by_its_commit_and_the_digest_of_its_local_changes(tmp_path):
    """`_git_commit` on a real repository: clean, the commit; with an edit to a tracked file of
    the code's folder, the commit plus a digest of `git diff HEAD`, which another edit changes;
    an edit outside that folder (a README) is no change of code."""
    import subprocess

    from fanlab.engine import runner

    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    code = tmp_path / "pkg"
    code.mkdir()
    (code / "m.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("one\n")
    git("add", "pkg/m.py", "README.md")
    git("commit", "-q", "-m", "one")
    head = git("rev-parse", "HEAD").strip()
    assert runner._git_commit(code) == {"commit": head, "dirty": False, "code": head}
    (tmp_path / "README.md").write_text("two\n")
    assert runner._git_commit(code) == {"commit": head, "dirty": True, "code": head}
    (code / "m.py").write_text("x = 2\n")
    one = runner._git_commit(code)
    (code / "m.py").write_text("x = 3\n")
    two = runner._git_commit(code)
    assert one["dirty"] and one["code"].startswith(head + "+") and len(one["code"]) == 49
    assert two["code"] != one["code"] and two["code"].startswith(head + "+")


def test_a_regenerated_external_file_recomputes_the_external_cells(tmp_path):
    s = registry.build_dataset("arma", {"ar": [0.5], "n": 120}, 0)[0]
    rows = []
    for origin in range(0, 120):
        for h in range(1, 6):
            for p, z in ((0.1, -1.2816), (0.5, 0.0), (0.9, 1.2816)):
                rows.append({"origin": origin, "h": h, "prob": p, "value": z})
    path = tmp_path / "fc.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    raw = {**COMMON, "name": "ext", "out": str(tmp_path / "res"),
           "datasets": [{"name": "arma", "label": "ar", "params": {"ar": [0.5], "n": 120}}],
           "methods": [{"name": "naive"}, {"name": "external", "params": {"path": str(path)}}]}
    first = run(parse_config(raw), progress=False, figures=False)
    assert not first.failed
    w0 = pd.read_csv(first.out / "summary.csv").set_index("method").loc["external", "width"]
    pd.DataFrame([{**r, "value": 2 * r["value"]} for r in rows]).to_csv(path, index=False)
    second = run(parse_config(raw), progress=False, figures=False)
    assert {k: v["status"] for k, v in second.statuses.items()} == {
        f"ar__{s.name}__naive__s0": "cached", f"ar__{s.name}__external__s0": "done"}
    assert any("fc.csv' changed" in n for n in second.notes)
    w1 = pd.read_csv(second.out / "summary.csv").set_index("method").loc["external", "width"]
    assert w1 == pytest.approx(2 * w0, rel=1e-6)


def test_a_plugins_source_is_among_the_files_its_cells_read():
    registry.load_plugins(["tests.killer_plugin"])
    import tests.killer_plugin as plugin

    name = next(n for n, e in registry.entries("method").items() if e.factory.__module__ == "tests.killer_plugin")
    assert method_files(name, {}) == [plugin.__file__]
    assert method_files("conformal", {"base": {"name": name}}) == [plugin.__file__]
    assert method_files("naive", {}) == []


def test_relative_paths_resolve_against_the_config_that_sets_them(tmp_path, monkeypatch):
    (tmp_path / "base").mkdir()
    (tmp_path / "study").mkdir()
    _long_csv(tmp_path / "base" / "d.csv", ["s"])
    (tmp_path / "base" / "base.yaml").write_text(yaml.safe_dump(
        {**COMMON, "name": "b", "datasets": [_csv_ds("d", "d.csv")], "methods": [{"name": "naive"}]}))
    (tmp_path / "study" / "c.yaml").write_text("extends: ../base/base.yaml\nname: child\n")
    monkeypatch.chdir(tmp_path / "study")
    cfg = load_config("c.yaml")
    assert os.path.samefile(cfg.datasets[0].params["path"], tmp_path / "base" / "d.csv")


# ---------------------------------------------------------------------- part 6: file modes
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_results_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        res = run(parse_config({**COMMON, "name": "modes", "out": str(tmp_path / "res"),
                                "datasets": [{"name": "arma", "params": {"ar": [0.5], "n": 120}}],
                                "methods": [{"name": "naive"}]}), progress=False, figures=False)
    finally:
        os.umask(old)
    files = [p for p in res.out.rglob("*") if p.is_file() and not p.name.startswith(".fanlab.lock")]
    names = {p.name for p in files}
    assert {"summary.csv", "metrics.parquet", "manifest.json", "report.html", "config.yaml"} <= names
    assert any(p.suffix == ".parquet" and p.parent.name == "cells" for p in files)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == mode, (p, oct(p.stat().st_mode))
    assert not list(res.out.rglob("*.tmp"))  # still written through a temporary name


# -------------------------------------------------------- issue 19 part 4: the time stamps
def _monthly(path, skip=None, freq="MS"):
    rows = ["store,month,sales"]
    rng = np.random.default_rng(5)
    for sid in ("a", "b"):
        for d in pd.date_range("2018-01-01", periods=48, freq=freq):
            if sid == "b" and d == skip:
                continue
            rows.append(f"{sid},{d.isoformat()},{rng.normal() + 10:.4f}")
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_an_irregular_series_beside_a_regular_one_warns_naming_it_and_its_gap(tmp_path):
    path = _monthly(tmp_path / "m.csv", skip=pd.Timestamp("2019-04-01"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = registry.build_dataset("csv", {"path": path, "value": "sales", "time": "month",
                                             "series_id": "store"}, 0)
    msgs = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(msgs) == 1 and len(out[1]) == 47
    assert "series 'b'" in msgs[0] and "series 'a'" not in msgs[0]
    assert "2019-04-01 (between rows of 2019-03-01 and 2019-05-01)" in msgs[0] and "freq: MS" in msgs[0]


def test_a_period_on_irregular_stamps_is_an_error_naming_the_series_and_gap(tmp_path):
    path = _monthly(tmp_path / "m.csv", skip=pd.Timestamp("2019-04-01"))
    params = {"path": path, "value": "sales", "time": "month", "series_id": "store", "period": 12}
    with pytest.raises(DataError) as info:
        registry.build_dataset("csv", params, 0)
    msg = str(info.value)
    assert "series 'b'" in msg and "2019-04-01" in msg and "period 12 counts rows" in msg and "freq: MS" in msg
    # as the message says: with freq the month is a missing value, filled, and the period holds
    out = registry.build_dataset("csv", {**params, "freq": "MS", "missing": "interpolate"}, 0)
    assert len(out[1]) == 48 and out[1].meta["n_filled"] == 1


def test_the_irregular_stamp_warning_reaches_the_terminal_and_the_manifest(tmp_path):
    _monthly(tmp_path / "m.csv", skip=pd.Timestamp("2020-02-01"))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**COMMON, "name": "gap", "methods": [{"name": "naive"}],
                                   "datasets": [{"name": "csv", "label": "shops", "params": {
                                       "path": "m.csv", "value": "sales", "time": "month", "series_id": "store"}}]}))
    for cmd in (["validate", str(cfg)], ["run", str(cfg), "--out", str(tmp_path / "o"), "--no-figures", "-j", "1"]):
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code == 0, res.output
        assert "warning: dataset 'shops': file" in " ".join(res.output.split()) and "2020-02-01" in res.output
    notes = yaml.safe_load((tmp_path / "o" / "manifest.json").read_text())["notes"]
    assert any("series 'b'" in n and "2020-02-01" in n for n in notes)
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "## Run notes" in md and "series 'b'" in md.split("## Run notes")[1]


def test_regular_stamps_give_no_warning(tmp_path):
    path = _monthly(tmp_path / "m.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        registry.build_dataset("csv", {"path": path, "value": "sales", "time": "month", "series_id": "store",
                                       "period": 12}, 0)


@pytest.mark.parametrize("freq, period, natural", [("MS", 7, "12"), ("QS", 12, "4"), ("D", 12, "7, 365"),
                                                   ("h", 7, "24, 168")])
def test_a_period_the_stamps_contradict_is_an_error(tmp_path, freq, period, natural):
    path = _monthly(tmp_path / "m.csv", freq=freq)
    with pytest.raises(DataError) as info:
        registry.build_dataset("csv", {"path": path, "value": "sales", "time": "month", "series_id": "store",
                                       "period": period}, 0)
    msg = str(info.value)
    assert f"period {period} is the" in msg and "m.csv" in msg and f"their cycles are {natural}" in msg


@pytest.mark.parametrize("freq, period", [("MS", 12), ("QS", 4), ("D", 7), ("h", 24), ("YS", 11), ("MS", 5)])
def test_periods_that_fit_the_stamps_are_accepted(tmp_path, freq, period):
    path = _monthly(tmp_path / "m.csv", freq=freq)
    out = registry.build_dataset("csv", {"path": path, "value": "sales", "time": "month", "series_id": "store",
                                         "period": period}, 0)
    assert out[0].period == period


def test_a_cell_file_of_another_layout_is_recomputed(tmp_path, monkeypatch):
    """Cells written before a change to what a cell file holds (its CELL_SCHEMA) are not
    reused: their hash differs, so a rerun recomputes them instead of reading old columns."""
    import fanlab.engine.cells as cells

    cfg = parse_config({"name": "layout", "horizon": 5, "levels": [0.8], "seeds": [0], "stride": 5,
                        "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 50},
                        "datasets": [{"name": "arma", "label": "a", "params": {"ar": [0.5], "n": 120}}],
                        "methods": [{"name": "naive"}], "out": str(tmp_path / "r")})
    first = run(cfg, progress=False, figures=False)
    assert {v["status"] for v in first.statuses.values()} == {"done"}
    assert {v["status"] for v in run(cfg, progress=False, figures=False).statuses.values()} == {"cached"}
    monkeypatch.setattr(cells, "CELL_SCHEMA", cells.CELL_SCHEMA + 1)
    again = run(cfg, progress=False, figures=False)
    assert {v["status"] for v in again.statuses.values()} == {"done"}


def test_a_new_level_recomputes_the_cells_and_gets_its_simultaneous_band(tmp_path):
    """Adding a level the fine grid already holds (0.9) changes no probability, but the cells'
    simultaneous bands are written per config level: the cells must recompute, not come back
    cached without the new level's band (sim_path_coverage NaN with no note)."""
    raw = {"name": "lv", "horizon": 8, "seeds": [0], "stride": 4, "split": {"train": 0.6, "cal": 0.2, "test": 0.2},
           "bootstrap": {"reps": 50}, "datasets": [{"name": "arma", "label": "a", "params": {"ar": [0.6], "n": 200}}],
           "methods": [{"name": "oracle"}, {"name": "climatology"}], "out": str(tmp_path / "r")}
    run(parse_config({**raw, "levels": [0.8]}), progress=False, figures=False)
    again = run(parse_config({**raw, "levels": [0.8, 0.9]}), progress=False, figures=False)
    assert {v["status"] for v in again.statuses.values()} == {"done"}
    s = pd.read_csv(again.out / "summary.csv")
    oracle = s[(s["method"] == "oracle")].set_index("level")
    assert np.isfinite(oracle.loc[0.9, "sim_path_coverage"]) and np.isfinite(oracle.loc[0.8, "sim_path_coverage"])
