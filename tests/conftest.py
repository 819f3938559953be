"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """One tiny real run (no figures) for the report tests; tests that change files copy it."""
    from tests.report_fixture import make_run

    return make_run(tmp_path_factory.mktemp("report_run") / "res", figures=False)
