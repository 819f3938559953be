"""The LSTM family never assumes the CPU: every tensor and generator it makes is put on the
network's device, and every value read back to numpy goes through ``.cpu()``.

No GPU is needed: fits and forecasts of every head, strategy and dropout kind run under a
torch function mode that records each tensor factory called from the LSTM modules without a
``device`` and each ``.numpy()`` on a tensor that did not come from ``.cpu()``. Generators,
which no mode sees, are checked in the source. The numba kernel is CPU-only by design (and
refused on another device), so it is left out.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import fanlab.models.lstm as lstm_pkg
from fanlab.models.lstm.ensemble import LSTMEnsemble
from fanlab.models.lstm.forecaster import LSTMForecaster, origin_generators
from fanlab.models.lstm.network import resolve_device
from fanlab.models.lstm.training import generators

LSTM_DIR = Path(lstm_pkg.__file__).parent
CPU_ONLY = {"kernel.py"}
FACTORIES = {"tensor", "empty", "zeros", "ones", "full", "arange", "randperm", "rand", "randn", "linspace", "eye",
             "empty_strided", "as_tensor"}
TINY = {"context": 12, "hidden": 5, "epochs": 2, "batch_size": 32, "samples": 8, "kernel": "torch"}


def _caller() -> Path | None:
    """The first frame outside torch and this file."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "/torch/" not in name and name != __file__:
            return Path(name)
        frame = frame.f_back
    return None


class DeviceAudit(TorchFunctionMode):
    """Records factory calls without a device, and ``.numpy()`` without ``.cpu()``, made from
    the LSTM modules."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        out = func(*args, **kwargs)
        if name == "cpu" and isinstance(out, torch.Tensor):
            out._fanlab_host = True
        factory = name in FACTORIES and "device" not in kwargs
        unread = name == "numpy" and not getattr(args[0], "_fanlab_host", False)
        if factory or unread:
            where = _caller()
            if where is not None and where.parent == LSTM_DIR and where.name not in CPU_ONLY:
                what = f"torch.{name} without a device" if factory else ".numpy() without .cpu()"
                self.problems.append(f"{what} in {where.name}")
        return out


def ar1(n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(0)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.6 * y[t - 1] + rng.normal()
    return y


@pytest.mark.parametrize("model", [
    LSTMForecaster(horizon=4, head="point", uncertainty="mc_dropout", **TINY),
    LSTMForecaster(horizon=4, head="gaussian", dropout_kind="variational", uncertainty="mc_dropout", **TINY),
    LSTMForecaster(horizon=4, head="quantile", strategy="recursive", **TINY),
    LSTMForecaster(horizon=4, head="gaussian", strategy="recursive", layers=2, **TINY),
    LSTMEnsemble(horizon=4, members=2, **TINY),
], ids=["point-mc", "gaussian-variational-mc", "quantile-recursive", "gaussian-recursive-2layers", "ensemble"])
def test_fit_and_predict_name_the_device_everywhere(model):
    y = ar1()
    audit = DeviceAudit()
    with audit:
        model.fit(y, 220, seed=0)
        model.predict(y, np.arange(230, 234), 4, np.array([0.1, 0.5, 0.9]))
    assert not audit.problems, sorted(set(audit.problems))


def test_generators_are_made_on_a_device():
    """No torch.Generator() in the LSTM modules without a device (a CPU generator cannot
    draw into a GPU tensor)."""
    missing = []
    for path in sorted(LSTM_DIR.glob("*.py")):
        if path.name in CPU_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.Generator":
                if not any(k.arg == "device" for k in node.keywords):
                    missing.append(f"{path.name}:{node.lineno}")
    assert not missing


def test_generators_follow_the_device_asked_for():
    cpu = torch.device("cpu")
    assert all(g.device == cpu for g in generators(3, cpu).values())
    assert origin_generators([1, 2], np.arange(3), cpu)[1][2].device == cpu
    # the same seed gives the same streams on the same device
    assert torch.rand(2, generator=generators(3, cpu)["init"]).tolist() == torch.rand(
        2, generator=generators(3)["init"]).tolist()


def test_device_setting_resolves():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            resolve_device("cuda")
        with pytest.raises(ValueError, match="no GPU"):
            LSTMForecaster(horizon=4, device="cuda", **{**TINY, "kernel": "auto"}).fit(ar1(), 220, seed=0)
    fitted = LSTMForecaster(horizon=4, head="gaussian", **{**TINY, "kernel": "auto"}).fit(ar1(), 220, seed=0)
    assert fitted.device_ == torch.device("cpu") and fitted.kernel_ == "numba"
    assert next(fitted.net_.parameters()).device == torch.device("cpu")
