"""Results pinned to the byte: the quickstart, a panel config and a config with every method
family, run end to end, must write the files recorded in `tests/pins.json`.

A refactor that moves code must leave these bytes as they were; a change that is meant to move
numbers rewrites the pins on purpose (``FANLAB_WRITE_PINS=1 pytest tests/test_pins.py``) and
says why in its commit. The pins were made on one machine: where the processor or a numeric
library differs (float rounding in BLAS, numba's code for the host), the bytes may legitimately
differ, so there the test compares the summary's numbers instead (1e-6 relative for the
deterministic arms, 1e-2 for the networks, whose training amplifies rounding).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fanlab.config import load_config, parse_config
from fanlab.api import run_config as run

ROOT = Path(__file__).resolve().parents[1]
PINS = Path(__file__).with_name("pins.json")
FILES = ("forecasts.parquet", "metrics.parquet", "summary.csv")
TINY = {"context": 24, "hidden": 8, "epochs": 3, "batch_size": 64}

PANEL = {
    "name": "pin_panel", "horizon": 12, "levels": [0.8, 0.95], "seeds": [0], "stride": 4,
    "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 50},
    "datasets": [{"name": "arma", "label": "ar_x4", "params": {"ar": [0.6], "n": 240, "n_series": 4}}],
    "methods": [
        {"name": "oracle"}, {"name": "climatology"}, {"name": "arima", "params": {"order": [1, 0, 0]}},
        {"name": "lstm", "label": "global_gauss", "params": {"scope": "global", "head": "gaussian", **TINY}},
        {"name": "lstm_ensemble", "label": "global_ens", "params": {"scope": "global", "members": 2, **TINY}},
        {"name": "conformal", "label": "pooled_arima",
         "params": {"base": {"name": "arima", "params": {"order": [1, 0, 0]}}, "pool": "series"}},
    ],
}

FAMILIES = {
    "name": "pin_families", "horizon": 12, "levels": [0.8, 0.95], "seeds": [0, 1], "stride": 6,
    "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 50},
    "datasets": [{"name": "arma", "label": "arma11", "params": {"ar": [0.6], "ma": [0.2], "n": 300}}],
    "methods": [
        {"name": "oracle"}, {"name": "climatology"}, {"name": "naive"},
        {"name": "seasonal_naive", "params": {"period": 7}},
        {"name": "arima", "label": "arima_auto", "params": {"order": "auto"}},
        {"name": "ets"},
        {"name": "lstm", "label": "lstm_point", "params": TINY},
        {"name": "lstm", "label": "lstm_mc", "params": {**TINY, "uncertainty": "mc_dropout", "samples": 10}},
        {"name": "lstm", "label": "lstm_gauss", "params": {**TINY, "head": "gaussian"}},
        {"name": "lstm", "label": "lstm_quant", "params": {**TINY, "head": "quantile"}},
        {"name": "lstm_ensemble", "label": "lstm_ens", "params": {**TINY, "members": 2}},
        {"name": "conformal", "label": "conf_split", "params": {"base": {"name": "naive"}}},
        {"name": "conformal", "label": "conf_aci",
         "params": {"base": {"name": "arima", "params": {"order": [1, 0, 0]}}, "method": "aci"}},
        {"name": "conformal", "label": "conf_pid", "params": {"base": {"name": "naive"}, "method": "pid"}},
        {"name": "conformal", "label": "conf_joint", "params": {"base": {"name": "naive"}, "method": "joint"}},
    ],
}


def _configs(tmp: Path):
    quick = load_config(ROOT / "configs" / "quickstart.yaml")
    yield "quickstart", quick, tmp / "quickstart"
    yield "panel", parse_config(PANEL), tmp / "panel"
    yield "families", parse_config(FAMILIES), tmp / "families"


def _fingerprint() -> str:
    import numba
    import pyarrow
    import statsmodels
    import torch

    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    return "|".join([platform.machine(), cpu, np.__version__, torch.__version__, numba.__version__,
                     pyarrow.__version__, statsmodels.__version__, pd.__version__])


def _summary_numbers(csv: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(csv))


def write_all(tmp: Path, run_config) -> dict:
    """Run the three configs into `tmp`; the bytes of each one's results files. One thread for
    torch and BLAS, as a worker process has (`fanlab.engine.execute`): a network's float sums, and
    so its bytes, depend on the thread count, which an earlier test or the core count would set."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            out = {}
            for name, cfg, where in _configs(tmp):
                res = run_config(cfg, progress=False, figures=False, jobs=1, out=where)
                assert not res.failed, f"{name}: cells failed: {res.failed}"
                out[name] = {f: (Path(res.out) / f).read_bytes() for f in FILES}
            return out
    finally:
        torch.set_num_threads(threads)


def pins_of(written: dict) -> dict:
    return {"fingerprint": _fingerprint(),
            "sha256": {name: {f: hashlib.sha256(b).hexdigest() for f, b in files.items()}
                       for name, files in written.items()},
            "summary": {name: files["summary.csv"].decode() for name, files in written.items()}}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("pins"), run)


def test_results_are_the_pinned_bytes(written):
    now = pins_of(written)
    digests = now["sha256"]
    if os.environ.get("FANLAB_WRITE_PINS") == "1":
        PINS.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        pytest.skip("pins written")
    pins = json.loads(PINS.read_text())
    if pins["fingerprint"] == _fingerprint():
        assert digests == pins["sha256"]
        return
    # another machine: the numbers, not the bytes
    for name, files in written.items():
        got = _summary_numbers(files["summary.csv"])
        want = _summary_numbers(pins["summary"][name].encode())
        assert list(got.columns) == list(want.columns) and len(got) == len(want), name
        net = got["method"].astype(str).str.contains("lstm|global") if "method" in got else np.zeros(len(got), bool)
        for col in got.columns:
            if not pd.api.types.is_numeric_dtype(want[col]):
                assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), (name, col)
                continue
            for mask, rtol in ((~net, 1e-6), (net, 1e-2)):
                np.testing.assert_allclose(got.loc[mask, col].to_numpy(float), want.loc[mask, col].to_numpy(float),
                                           rtol=rtol, atol=rtol, equal_nan=True, err_msg=f"{name}: {col}")
