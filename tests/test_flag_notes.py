"""A cell warning that says a number may not be what it looks like (a degenerate fit dropped or
refitted) reaches summary.csv's note, so the terminal table and the report show it."""

import pandas as pd

from fanlab.api import run_config as run
from fanlab.engine.runner import FLAG_WORDS
from tests.test_scoring_path import _config


def test_a_flagged_cell_warning_reaches_the_note_of_its_arm_only(tmp_path):
    methods = [{"name": "test_ar1", "label": "flagged", "params": {"fault": "warns_degenerate"}},
               {"name": "test_ar1", "label": "clean"}]
    cfg = _config(methods, name="flags", seeds=(0, 1))
    run(cfg, jobs=1, progress=False, figures=False, out=tmp_path / "flags")
    summary = pd.read_csv(tmp_path / "flags" / "summary.csv", keep_default_na=False)
    flagged = summary[summary["method"] == "flagged"]["note"]
    assert len(flagged) == 2 and all(n.startswith("2 of 2 cells warned: search dropped 1 degenerate") for n in flagged)
    assert (summary[summary["method"] == "clean"]["note"] == "").all()
    html = (tmp_path / "flags" / "report.html").read_text()
    assert "2 of 2 cells warned: search dropped 1 degenerate" in html
    assert "degenerate" in FLAG_WORDS
