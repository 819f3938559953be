"""A results folder belongs to one config, is locked while a run writes it, and nothing is
written outside it, whatever the data's names."""

import pytest

from fanlab.config import load_config, parse_config
from fanlab.errors import ConfigError, DataError
from fanlab.engine.results import cell_path, claim_folder, safe_name
from fanlab.api import run_config as run

RAW = {"name": "own", "horizon": 5, "levels": [0.8], "seeds": [0], "stride": 5,
       "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 100},
       "datasets": [{"name": "arma", "label": "ar1", "params": {"ar": [0.6], "n": 120}}],
       "methods": [{"name": "climatology"}, {"name": "naive"}]}


def _run(out, **over):
    return run(parse_config({**RAW, **over, "out": str(out)}), progress=False, figures=False)


def test_cell_names_never_leave_the_folder(tmp_path):
    key = "ds__x/../../../somewhere/f__naive__s0"
    path = cell_path(tmp_path, key)
    assert path.parent == tmp_path / "cells" and "/" not in path.name and ".." not in path.name
    assert safe_name("a/b") != safe_name("a_b")  # a hash keeps distinct keys apart
    assert not safe_name("...hidden").startswith(".")


def test_csv_series_ids_with_path_parts_stay_inside(tmp_path):
    csv = tmp_path / "data.csv"
    rows = ["id,t,y"] + [f"{sid},{i},{(i * 7919) % 13}" for sid in ("x/../../../escape/f", "ok") for i in range(120)]
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "res"
    res = _run(out, datasets=[{"name": "csv", "label": "mine",
                               "params": {"path": str(csv), "value": "y", "time": "t", "series_id": "id"}}])
    assert not res.failed
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert all(out in p.parents or p == csv for p in written), sorted(map(str, written))
    assert not (tmp_path / "escape").exists()


def test_another_config_is_refused_unless_force(tmp_path):
    out = tmp_path / "a"
    _run(out)
    summary = (out / "summary.csv").read_bytes()
    with pytest.raises(DataError, match="holds the results of config 'own'"):
        _run(out, name="other")
    assert (out / "summary.csv").read_bytes() == summary  # nothing replaced
    res = run(parse_config({**RAW, "name": "other", "out": str(out)}), progress=False, figures=False, force=True)
    assert not res.failed


def test_a_foreign_folder_is_refused_and_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "summary.csv").write_text("mine")
    with pytest.raises(DataError, match="holds no fanlab run"):
        _run(out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "summary.csv"]
    assert (out / "summary.csv").read_text() == "mine"


def test_a_folder_in_use_is_refused(tmp_path):
    out = tmp_path / "busy"
    with claim_folder(out, "own", "h"):
        with pytest.raises(DataError, match="in use by another fanlab run"):
            _run(out)
    assert not _run(out).failed  # free again once the first run let go


def test_stale_temp_files_are_removed(tmp_path):
    out = tmp_path / "t"
    _run(out)
    stale = out / "cells" / ".x.parquet.abc.tmp"
    stale.write_bytes(b"half a file")
    (out / ".metrics.parquet.123.tmp").write_bytes(b"")
    _run(out)
    assert not stale.exists() and not (out / ".metrics.parquet.123.tmp").exists()


def test_a_config_file_may_not_choose_its_folder(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\nout: /tmp/anywhere\ndatasets: [{name: arma}]\nmethods: [{name: naive}]\n")
    with pytest.raises(ConfigError, match="out"):
        load_config(cfg)
