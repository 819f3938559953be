"""Hostile configs (issue 10): each is refused with one line naming the file and the key path,
exit code 2, nothing written; none hangs (each call runs under a SIGALRM deadline)."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fanlab.cli import app
from fanlab.config import load_config, parse_config
from fanlab.config_yaml import MAX_CONFIG_BYTES
from fanlab.errors import ConfigError

BASE = {
    "name": "t",
    "horizon": 10,
    "datasets": [{"name": "arma", "params": {"ar": [0.5], "n": 300}}],
    "methods": [{"name": "naive"}],
}


@contextmanager
def deadline(seconds: int = 10):
    """Fail (instead of hanging) when the block runs longer than `seconds`."""
    def boom(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _write(tmp_path: Path, text: str | bytes, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _child(tmp_path: Path, extra: str, name: str = "c.yaml") -> Path:
    """A config extending a valid base.yaml with `extra` YAML lines."""
    _write(tmp_path, yaml.safe_dump(BASE), "base.yaml")
    return _write(tmp_path, "extends: base.yaml\n" + extra, name)


def refused(path: Path, key: str, words: str = "", file: str | None = None) -> str:
    """`validate` and `run` both exit 2 with one line naming the file and `key`; nothing written."""
    file = file or path.name
    for cmd in (["validate", str(path)], ["run", str(path), "--no-figures", "--no-progress"]):
        with deadline(20):
            res = CliRunner().invoke(app, cmd)
        text = res.output.strip()
        assert res.exit_code == 2, (cmd, res.exit_code, text, res.exception)
        assert "\n" not in text, text
        assert f"{file}: {key}" in text, text
        assert words in text, text
    assert not (path.parent / "results").exists()
    return text


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# ------------------------------------------------------------------------------ hangs
@pytest.mark.parametrize("test", ["1e-300", "5e-324", "1e-12"])
def test_tiny_split_fraction_is_refused_not_looped(tmp_path, test):
    path = _child(tmp_path, f"split: {{train: 0.6, cal: 0.2, test: {test}}}\n")
    refused(path, "split", "below")


def test_tiny_fraction_in_make_split_does_not_loop():
    from fanlab.data.splits import SplitError, make_split

    with deadline(5), pytest.raises(SplitError, match="too small"):
        make_split(1000, 0.6, 0.2, 1e-300, horizon=100)
    with deadline(5), pytest.raises(SplitError):
        make_split(1000, 0.6, 0.2, 5e-324, horizon=100)


def _bomb(levels: int = 9) -> list[str]:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return lines


def test_alias_bomb_in_params_is_refused(tmp_path):
    body = "".join(f"        {line}\n" for line in _bomb())
    path = _child(tmp_path, "methods:\n  - name: naive\n    params:\n      bomb:\n" + body)
    refused(path, "methods[0].params.bomb", "aliases expand")


def test_alias_bomb_under_a_label_is_refused(tmp_path):
    body = "".join(f"  {line}\n" for line in _bomb())
    path = _child(tmp_path, "defs:\n" + body + "methods:\n  - name: naive\n    label: *a8\n")
    text = refused(path, "", "aliases expand")
    assert "config.yaml" not in text


def test_recursive_alias_is_refused(tmp_path):
    path = _child(tmp_path, "methods:\n  - name: naive\n    params: &p {x: *p}\n")
    refused(path, "methods[0].params", "refers to itself")
    path = _child(tmp_path, "datasets: [{name: arma, params: &a {n: 300, ar: *a}}]\n", "d.yaml")
    refused(path, "datasets[0].params.ar", "refers to itself", file="d.yaml")


def test_large_config_is_refused_fast(tmp_path):
    path = _child(tmp_path, 'description: "' + "x" * (50 * 10**6) + '"\n')
    with deadline(5):
        text = refused(path, "", f"{MAX_CONFIG_BYTES:,}-byte limit")
    assert "larger than" in text


# ------------------------------------------------------------------------------ encodings
def test_non_utf8_config_and_base(tmp_path):
    path = _write(tmp_path, b"name: caf\xe9\nhorizon: 10\n")
    refused(path, "", "not UTF-8")
    child = _write(tmp_path, "extends: c.yaml\nhorizon: 5\n", "child.yaml")
    text = refused(child, "extends", "not UTF-8", file="child.yaml")
    assert "c.yaml" in text.split("extends", 1)[1]  # the base holding the fault is named too


def test_utf16_with_bom(tmp_path):
    path = _write(tmp_path, yaml.safe_dump(BASE).encode("utf-16"))
    refused(path, "", "UTF-16")


def test_nul_byte_gives_one_line(tmp_path):
    path = _write(tmp_path, b"name: t\x00x\nhorizon: 10\n")
    refused(path, "", "control character 0x00 on line 1")


# ------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    "extra, key, words",
    [
        ("split: {train: .nan, cal: 0.2, test: 0.2}\n", "split.train", "finite"),
        ("split: {train: .inf, cal: 0.2, test: 0.2}\n", "split.train", "finite"),
        ("split: {train: true, cal: 0, test: 100}\n", "split.train", "boolean"),
        ("seeds: [9223372036854775808]\n", "seeds[0]", "less than or equal to 4294967295"),
        ("seeds: [18446744073709551615]\n", "seeds[0]", "less than or equal to 4294967295"),
        ("seeds: [1000000000000000000000000000000]\n", "seeds[0]", "less than or equal"),
        ("seeds: [true]\n", "seeds[0]", "boolean"),
        ("horizon: true\n", "horizon", "boolean"),
        ("stride: true\n", "stride", "boolean"),
        ("levels: [0.95, 0.9500001]\n", "levels", "coincide"),
        ("levels: [0.9000001]\n", "levels", "coincides"),
        ("levels: [true]\n", "levels[0]", "boolean"),
        ("methods: [{name: arima, params: {order: [true, 0, 0]}}]\n", "methods[0].params.order[0]", "boolean"),
        ("datasets: [{name: arma, params: {sigma: 1e308}}]\n", "datasets[0].params.sigma", "bound"),
        ("datasets: [{name: arma, params: {mean: .nan}}]\n", "datasets[0].params.mean", "finite"),
        ("datasets: [{name: arma, params: {n: 1000000000000}}]\n", "datasets[0].params.n", "less than"),
        ("datasets: [{name: arma, params: {n_series: true}}]\n", "datasets[0].params.n_series", "boolean"),
        ("datasets: [{name: garch, params: {omega: 1e300}}]\n", "datasets[0].params.omega", "bound"),
    ],
)
def test_bad_numbers_are_refused(tmp_path, extra, key, words):
    refused(_child(tmp_path, extra), key, words)


def test_accepted_levels_and_seeds_round_trip():
    cfg = parse_config({**BASE, "seeds": [0, 2**32 - 1], "levels": [0.9, 0.5, 0.999]})
    assert cfg.seeds == [0, 2**32 - 1] and cfg.levels == [0.5, 0.9, 0.999]


# ------------------------------------------------------------------------------ labels
@pytest.mark.parametrize("label", ["a\x00b", "x" * 300, "a b", "naïve", "a;rm"])
def test_unsafe_labels_are_refused(label):
    for field, spec in (("methods", {"name": "naive", "label": label}),
                        ("datasets", {"name": "arma", "label": label, "params": {"n": 300}})):
        with pytest.raises(ConfigError) as exc:
            parse_config({**BASE, field: [spec]}, file="c.yaml")
        msg = str(exc.value)
        assert msg.startswith(f"c.yaml: {field}[0].label: "), msg
        assert "\n" not in msg and "\x00" not in msg


# ------------------------------------------------------------------------------ extends
@pytest.mark.parametrize(
    "target, words",
    [("missing.yaml", "not found"), ("sub", "is a directory"), ("/dev/zero", "not a regular file"),
     ("/etc/passwd", "mapping"), ("''", "must be a path")],
)
def test_bad_extends_names_the_referrer_and_key(tmp_path, target, words):
    (tmp_path / "sub").mkdir()
    path = _write(tmp_path, f"extends: {target}\nname: x\n")
    text = refused(path, "extends", words)
    if target == "/etc/passwd":
        assert "/bin/" not in text and "x:0:0" not in text  # the base's content is not echoed


def test_typo_in_base_is_blamed_on_the_base(tmp_path):
    _write(tmp_path, "name: t\nhorizn: 10\ndatasets: [{name: arma}]\nmethods: [{name: naive}]\n", "base.yaml")
    path = _write(tmp_path, "extends: base.yaml\nname: child\n", "child.yaml")
    refused(path, "horizn", "unknown key", file="base.yaml")
    # and a fault set by the child is still the child's
    _write(tmp_path, "extends: base.yaml\nhorizn: 5\nstride: x\n", "child2.yaml")
    with pytest.raises(ConfigError, match=r"child2\.yaml: stride: "):
        load_config(tmp_path / "child2.yaml")


def test_base_key_replaced_by_child_blames_child(tmp_path):
    _write(tmp_path, yaml.safe_dump({**BASE, "datasets": [{"name": "arma", "params": {"x": 1}}]}), "base.yaml")
    _write(tmp_path, "extends: base.yaml\ndatasets: [{name: arma, params: {y: 1}}]\n", "child.yaml")
    with pytest.raises(ConfigError, match=r"child\.yaml: datasets\[0\]\.params\.y: unknown key"):
        load_config(tmp_path / "child.yaml")


# ------------------------------------------------------------------------------ cli options
def test_bogus_engine_exits_2_before_anything_runs(tmp_path):
    path = _write(tmp_path, yaml.safe_dump(BASE))
    res = CliRunner().invoke(app, ["run", str(path), "--engine", "bogus"])
    assert res.exit_code == 2 and "--engine" in res.output and "bogus" in res.output
    assert not (tmp_path / "results").exists()


def test_out_naming_a_file_exits_2(tmp_path):
    path = _write(tmp_path, yaml.safe_dump(BASE))
    (tmp_path / "afile").write_text("keep me")
    for out in ("afile", "afile/sub"):
        res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / out)])
        assert res.exit_code == 2 and "--out" in res.output and "not a folder" in res.output, res.output
    assert (tmp_path / "afile").read_text() == "keep me"


def test_validate_builds_datasets_and_splits(tmp_path):
    path = _child(tmp_path, "datasets: [{name: arma, params: {n: 30}}]\n")
    refused(path, "datasets[0]", "no origin fits")


# ------------------------------------------------------------------------------ fuzz
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
_values = st.recursive(_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                       max_leaves=8)
_keys = st.sampled_from(["horizon", "levels", "seeds", "split", "stride", "max_origins", "name", "out",
                         "bootstrap", "datasets", "methods", "description", "extends"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(_keys, _values, min_size=1, max_size=3))
def test_fuzzed_configs_give_config_error_or_valid_config(changes):
    raw = {**BASE, **changes}
    with deadline(10):
        try:
            parse_config(raw, file="f.yaml")
        except ConfigError as exc:
            msg = str(exc)
            assert msg.startswith("f.yaml: ") and "\n" not in msg


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_fuzzed_bytes_give_config_error_or_valid_config(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fz") / "f.yaml"
    path.write_bytes(data)
    with deadline(10):
        try:
            load_config(path)
        except ConfigError as exc:
            assert "\n" not in str(exc) and "f.yaml" in str(exc)


def test_deeply_nested_yaml_is_refused(tmp_path):
    path = _write(tmp_path, "name: " + "[" * 100_000 + "]" * 100_000 + "\n")
    refused(path, "", "nested too deeply")
    path = _child(tmp_path, "description: " + "[" * 60 + "]" * 60 + "\n", "d.yaml")
    refused(path, "description", "nested more than", file="d.yaml")
