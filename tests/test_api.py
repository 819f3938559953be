"""The Python API: the README's example runs as written, and scores like a config's cell."""

import re
from pathlib import Path

import numpy as np
import pytest

import fanlab

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text()
    m = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S)
    assert m, "README has no Python API example"
    return m.group(1)


def test_readme_example_runs(capsys):
    code = _example()
    assert len(code.strip().splitlines()) <= 25
    exec(compile(code, "README example", "exec"), {})
    printed = capsys.readouterr().out
    assert "forecaster" in printed and "oracle" in printed and "climatology" in printed


def test_evaluate_matches_the_oracle_on_its_own_process():
    series = fanlab.datasets.load("arma", ar=[0.8], n=1000)[0]

    class Truth:  # the oracle itself, through the protocol: its skill and ratios are exact
        def fit(self, y, train_end, seed):
            self.o = series.oracle().fit(y, train_end, seed)
            return self

        def predict(self, y, origins, horizon, probs):
            return self.o.predict(y, origins, horizon, probs)

    out = fanlab.evaluate(Truth(), series, horizon=10, levels=[0.9])
    s = out.summary.set_index("method")
    assert s.loc["forecaster", "width_ratio"] == pytest.approx(1.0)
    assert s.loc["forecaster", "mae_ratio"] == pytest.approx(1.0)
    assert s.loc["forecaster", "crps_skill"] == pytest.approx(s.loc["oracle", "crps_skill"])
    assert s.loc["climatology", "crps_skill"] == 0.0
    assert set(out.forecasts["method"]) == {"forecaster", "climatology", "oracle"}
    assert np.isfinite(out.metrics["value"]).any()


def test_datasets_names_and_load():
    assert "arma" in fanlab.datasets.names() and "sunspots" in fanlab.datasets.names()
    assert len(fanlab.datasets.load("arma", n=300, n_series=2)) == 2
