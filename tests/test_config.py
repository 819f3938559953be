"""Config errors: one line naming the file and the key path; exit 2 and nothing written."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fanlab.cli import app
from fanlab.config import load_config, parse_config
from fanlab.errors import ConfigError

BASE = {
    "name": "t",
    "horizon": 10,
    "datasets": [{"name": "arma", "params": {"ar": [0.5], "n": 300}}],
    "methods": [{"name": "naive"}],
}


def _with(**changes):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    "raw, path, words",
    [
        (_with(bogus=1), "bogus", "unknown key"),
        (_with(levels=[0.9, 1.5]), "levels", "between 0 and 1"),
        (_with(levels=[0.0]), "levels", "between 0 and 1"),
        (_with(stride=-3), "stride", "greater than or equal to 1"),
        (_with(horizon="ten"), "horizon", "integer"),
        (_with(methods=[]), "methods", "at least 1"),
        (_with(methods=[{"name": "arimaa"}]), "methods[0].name", "unknown method 'arimaa' (valid:"),
        (_with(datasets=[{"name": "nope"}]), "datasets[0].name", "unknown dataset 'nope' (valid:"),
        (_with(methods=[{"name": "naive", "params": {"x": 1}}]), "methods[0].params.x", "unknown key"),
        (_with(methods=[{"name": "naive"}, {"name": "naive"}]), "methods[1].label", "duplicate method label"),
        (_with(split={"train": 0.7, "cal": 0.2, "test": 0.2}), "split", "sum to 1.1"),
        (_with(split={"train": 0.6, "cal": 100, "test": 0.2}), "split", "all fractions"),
        (_with(datasets=[{"name": "arma", "params": {"ar": "x"}}]), "datasets[0].params.ar", ""),
        (_with(datasets=[{"name": "arma", "methods": ["naive", "arima"]}]), "datasets[0].methods[1]", "no method labelled 'arima'"),
    ],
)
def test_config_errors_name_the_key(raw, path, words):
    with pytest.raises(ConfigError) as exc:
        parse_config(raw, file="cfg.yaml")
    msg = str(exc.value)
    assert msg.startswith(f"cfg.yaml: {path}: "), msg
    assert words in msg
    assert "\n" not in msg


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ConfigError) as exc:
        parse_config(_with(methods=[{"name": "lstmm"}]))
    for valid in ("arima", "naive", "oracle"):
        assert valid in str(exc.value)


def test_extends_merges_mappings_and_replaces_lists(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    child = tmp_path / "sub" / "child.yaml"
    child.parent.mkdir()
    child.write_text("extends: ../base.yaml\nname: child\nlevels: [0.9]\nsplit: {train: 0.5}\n")
    cfg = load_config(child)
    assert cfg.name == "child" and cfg.levels == [0.9] and cfg.horizon == 10
    assert cfg.split.train == 0.5 and cfg.split.cal == 0.2  # merged key by key
    assert cfg.methods[0].name == "naive"


def test_yaml_is_loaded_safely(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    assert "bad.yaml" in str(exc.value)


def test_cli_config_error_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_with(levels=[1.2])))
    res = CliRunner().invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2
    assert "levels" in res.output and "c.yaml" in res.output
    assert not (tmp_path / "results").exists()
    res = CliRunner().invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2


def test_every_shipped_config_validates():
    configs = sorted(Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml"))
    assert configs, "no configs found"
    for path in configs:
        cfg = load_config(path)
        assert cfg.datasets and cfg.methods


def test_list_shows_the_allowed_values_of_a_parameter():
    res = CliRunner().invoke(app, ["list", "methods"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert "uncertainty = 'none'  (none | mc_dropout | residual_paths)" in res.output
    assert "pool = 'time'  (time | series)" in res.output
