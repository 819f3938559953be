"""Every I/O failure is one line with exit 2 (issue 20 part 5), and the messages name the key.

Full and read-only disks are simulated by making fanlab's writes raise the OSError the system
would (tests run as root, so chmod would not stop a write): ENOSPC, EROFS.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fanlab.engine import results, runner
from fanlab.cli import app

RAW = {"name": "io", "horizon": 5, "levels": [0.8, 0.95], "seeds": [0], "stride": 5,
       "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 100},
       "datasets": [{"name": "arma", "label": "ar", "params": {"ar": [0.5], "n": 120}}],
       "methods": [{"name": "naive"}, {"name": "climatology"}, {"name": "seasonal_naive"}]}


def _config(tmp_path, **over) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**RAW, **over}))
    return path


def _cli(*args):
    args = [str(a) for a in args]
    if args[0] == "run":  # one process: monkeypatched writes reach the cells, and no pool starts
        args += ["-j", "1"]
    return CliRunner().invoke(app, args)


def one_line(res, code: int = 2) -> str:
    assert res.exit_code == code, res.output
    text = res.output.strip()
    assert text.count("\n") == 0 and "Traceback" not in text, text
    return text


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _failing_write(code: int, where=lambda path: True):
    """A write_parquet / write_text that fails like a full or read-only disk where `where(path)`."""
    real_parquet, real_text = results.write_parquet, results.write_text

    def parquet(df, path, meta=None):
        if where(Path(path)):
            with results.atomic_path(path):
                raise _oserror(code)
        return real_parquet(df, path, meta)

    def text(t, path):
        if where(Path(path)):
            with results.atomic_path(path):
                raise _oserror(code)
        return real_text(t, path)

    return parquet, text


@pytest.fixture()
def done_run(tmp_path):
    out = tmp_path / "res"
    res = _cli("run", _config(tmp_path), "--out", out, "--no-figures", "--no-progress")
    assert res.exit_code == 1, res.output  # seasonal_naive fails (no period): a cell failure
    return out


# --------------------------------------------------------------------------- fanlab run
def test_full_disk_while_writing_the_aggregate_lists_every_cell_in_the_manifest(tmp_path, monkeypatch):
    parquet, _ = _failing_write(errno.ENOSPC, where=lambda p: p.name == "metrics.parquet")
    monkeypatch.setattr(runner, "write_parquet", parquet)
    out = tmp_path / "res"
    text = one_line(_cli("run", _config(tmp_path), "--out", out, "--no-figures"))
    assert "metrics.parquet" in text and "No space left on device" in text and "rerun" in text
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"] == {"done": 2, "cached": 0, "failed": 1}
    assert "No space left" in man["aggregate_error"]
    failed = [v for v in man["cells"].values() if v["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["method"] == "seasonal_naive"
    assert not list(out.rglob("*.tmp"))
    # room again: the rerun resumes the finished cells and writes the aggregate
    monkeypatch.undo()
    res = _cli("run", _config(tmp_path), "--out", out, "--no-figures")
    assert res.exit_code == 1 and "0 cells run, 2 cached, 1 failed" in res.output
    assert (out / "metrics.parquet").is_file()


def test_full_disk_for_the_aggregate_and_the_manifest_is_still_one_line(tmp_path, monkeypatch):
    parquet, text = _failing_write(errno.ENOSPC, where=lambda p: p.name in ("forecasts.parquet", "manifest.json"))
    monkeypatch.setattr(runner, "write_parquet", parquet)
    monkeypatch.setattr(runner, "write_json", lambda obj, path: text(json.dumps(obj), path))
    msg = one_line(_cli("run", _config(tmp_path), "--out", tmp_path / "res", "--no-figures"))
    assert "forecasts.parquet" in msg and "manifest.json" in msg


def test_a_cell_that_cannot_write_fails_alone_with_exit_1(tmp_path, monkeypatch):
    import fanlab.engine.cells as cells

    parquet, _ = _failing_write(errno.ENOSPC, where=lambda p: p.parent.name == "cells" and "naive" in p.name)
    monkeypatch.setattr(cells, "write_parquet", parquet)
    out = tmp_path / "res"
    res = _cli("run", _config(tmp_path), "--out", out, "--no-figures", "--no-progress")
    assert res.exit_code == 1 and "Traceback" not in res.output
    man = json.loads((out / "manifest.json").read_text())
    errors = {v["method"]: v.get("error", "") for v in man["cells"].values()}
    assert "No space left on device" in errors["naive"] and man["cells"][next(
        k for k, v in man["cells"].items() if v["method"] == "climatology")]["status"] == "done"


def test_a_read_only_out_that_cannot_be_created(tmp_path, monkeypatch):
    real = Path.mkdir

    def mkdir(self, *a, **k):
        if "ro" in self.parts:
            raise _oserror(errno.EROFS)
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    text = one_line(_cli("run", _config(tmp_path), "--out", tmp_path / "ro" / "res"))
    assert text.startswith("error: --out:") and "Read-only file system" in text and "datasets" not in text


def test_an_empty_read_only_out(tmp_path, monkeypatch):
    (tmp_path / "ro").mkdir()
    real = open

    def guarded(path, *a, **k):
        if str(path).startswith(str(tmp_path / "ro")):
            raise _oserror(errno.EROFS)
        return real(path, *a, **k)

    monkeypatch.setattr(results, "open", guarded, raising=False)
    text = one_line(_cli("run", _config(tmp_path), "--out", tmp_path / "ro"))
    assert "--out:" in text and "Read-only file system" in text


def test_out_remounted_read_only_before_a_resume(tmp_path, monkeypatch, done_run):
    class ReadOnly:
        @staticmethod
        def mkstemp(*a, **k):
            raise _oserror(errno.EROFS)

    monkeypatch.setattr(results, "tempfile", ReadOnly)
    text = one_line(_cli("run", _config(tmp_path), "--out", done_run, "--no-figures"))
    assert "Read-only file system" in text and "cannot write" in text


def test_an_out_name_of_300_characters(tmp_path):
    text = one_line(_cli("run", _config(tmp_path), "--out", tmp_path / ("x" * 300)))
    assert text.startswith("error: --out:") and "File name too long" in text and "(" in text
    assert len(text) < 400  # the name is shortened in the message


def test_a_csv_path_that_is_a_symlink_loop(tmp_path):
    os.symlink(tmp_path / "b.csv", tmp_path / "a.csv")
    os.symlink(tmp_path / "a.csv", tmp_path / "b.csv")
    cfg = _config(tmp_path, datasets=[{"name": "csv", "params": {"path": "a.csv", "value": "y"}}])
    for cmd in ("validate", "run"):
        text = one_line(_cli(cmd, cfg))
        assert "datasets[0]" in text and "a.csv" in text and "symbolic link loop" in text
    assert not (tmp_path / "results").exists()


def test_a_repeated_csv_header_column_is_refused(tmp_path):
    (tmp_path / "d.csv").write_text("t,v,v\n" + "".join(f"{i},{i},{-i}\n" for i in range(60)))
    cfg = _config(tmp_path, datasets=[{"name": "csv", "params": {"path": "d.csv", "value": "v", "time": "t"}}])
    text = one_line(_cli("validate", cfg))
    assert "d.csv', line 1: column 'v' appears twice" in text


def test_a_foreign_folder_is_blamed_on_out_not_datasets(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    text = one_line(_cli("run", _config(tmp_path), "--out", tmp_path / "mine"))
    assert text.startswith("error: --out:") and "holds no fanlab run" in text and "datasets" not in text


def test_a_tiny_train_fraction_names_train(tmp_path):
    text = one_line(_cli("validate", _config(tmp_path, split={"train": 1e-9, "cal": 0.2, "test": 0.2})))
    assert "split.train:" in text and "1e-09" in text


def test_a_report_that_could_not_be_written_is_said_on_the_terminal(tmp_path, monkeypatch):
    import fanlab.report.build as report

    _, text = _failing_write(errno.ENOSPC)

    def make_report(out):
        text("<html>", Path(out) / "report.html")

    monkeypatch.setattr(report, "make_report", make_report)
    res = _cli("run", _config(tmp_path), "--out", tmp_path / "res", "--no-figures")
    assert res.exit_code == 1
    flat = " ".join(res.output.split())
    assert "warning: report.html not written: cannot write" in flat and "No space left on device" in flat
    assert "No space left" in json.loads((tmp_path / "res" / "manifest.json").read_text())["report_error"]


# ------------------------------------------------------------------ fanlab report, compare
def test_report_on_a_config_without_levels(done_run):
    cfg = yaml.safe_load((done_run / "config.yaml").read_text())
    del cfg["levels"]
    (done_run / "config.yaml").write_text(yaml.safe_dump(cfg))
    text = one_line(_cli("report", done_run))
    assert "config.yaml has no levels" in text and str(done_run) in text


def test_report_on_an_empty_metrics_file(done_run):
    (done_run / "metrics.parquet").write_bytes(b"")
    text = one_line(_cli("report", done_run))
    assert "metrics.parquet is not a parquet file (0 bytes" in text


def test_report_on_a_full_disk(done_run, monkeypatch):
    import fanlab.report.figures as plots
    import fanlab.report.build as report
    import fanlab.report.page as page

    _, text = _failing_write(errno.ENOSPC)
    monkeypatch.setattr(plots, "make_figures", lambda results, jobs=1: [])  # PNGs: slow, and not the point here
    monkeypatch.setattr(page, "write_text", text)
    monkeypatch.setattr(report, "write_text", text)
    msg = one_line(_cli("report", done_run))
    assert "No space left on device" in msg and "report.html" in msg


def test_compare_with_an_empty_summary(done_run, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.yaml", "metrics.parquet", "manifest.json"):
        (other / name).write_bytes((done_run / name).read_bytes())
    (other / "summary.csv").write_bytes(b"")
    text = one_line(_cli("compare", done_run, other))
    assert "summary.csv is empty" in text and str(other) in text


def test_compare_at_a_level_in_neither_run(done_run):
    text = one_line(_cli("compare", done_run, done_run, "--level", "0.9"))
    assert "--level 0.9" in text and "0.8, 0.95" in text
    ok = _cli("compare", done_run, done_run, "--level", "0.8")
    assert ok.exit_code == 0 and "naive" in ok.output


def test_compare_page_on_a_full_disk(done_run, tmp_path, monkeypatch):
    import fanlab.report.compare as rc

    _, text = _failing_write(errno.ENOSPC)
    monkeypatch.setattr(rc, "write_text", text)
    res = _cli("compare", done_run, done_run, "--out", tmp_path / "cmp.html")
    assert res.exit_code == 2 and "Traceback" not in res.output  # the table is printed first
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("error: cannot write") and "No space left on device" in last and "cmp.html" in last
