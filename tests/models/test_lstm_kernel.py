"""The compiled LSTM training kernel against torch's float64 autograd.

Every gradient (inputs, W_ih, W_hh, bias; through the network: every parameter, with the
dropout masks and the recurrent weight drop training uses) must match torch's float64 to
1e-5 relative, in float64 and in the float32 training precision.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fanlab.models.lstm.forecaster import LSTMForecaster
from fanlab.models.lstm.kernel import lstm_layer
from fanlab.models.lstm.network import MemberLSTM, resolve_kernel
from fanlab.models.lstm.training import generators

HIDDEN = 8


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Norm-wise relative difference of a from the reference b."""
    return float((a.double() - b.double()).norm() / b.double().norm())


def layer_case(dtype, steps=40, rows=5, inputs=1, seed=0, forget=1.0):
    g = torch.Generator().manual_seed(seed)
    bound = HIDDEN**-0.5
    u = lambda *s: ((torch.rand(*s, generator=g, dtype=torch.float64) * 2 - 1) * bound)  # noqa: E731
    x = torch.randn(steps, rows, inputs, generator=g, dtype=torch.float64)
    w_ih, w_hh, bias = u(4 * HIDDEN, inputs), u(4 * HIDDEN, HIDDEN), u(4 * HIDDEN)
    bias[HIDDEN : 2 * HIDDEN] += forget
    weight = torch.randn(steps, rows, HIDDEN, generator=g, dtype=torch.float64)  # d loss / d h_t
    return [v.to(dtype).requires_grad_() for v in (x, w_ih, w_hh, bias)], weight


def torch_reference(x, w_ih, w_hh, bias, weight):
    """Outputs and gradients of sum(weight * h) through torch.lstm in float64."""
    args = [v.detach().double().requires_grad_() for v in (x, w_ih, w_hh, bias)]
    hx = (torch.zeros(1, x.shape[1], HIDDEN, dtype=torch.float64),) * 2
    out = torch.lstm(args[0], hx, [args[1], args[2], args[3], torch.zeros_like(args[3])],
                     True, 1, 0.0, True, False, False)[0]
    (out * weight).sum().backward()
    return out.detach(), [a.grad for a in args]


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("inputs", [1, HIDDEN])
def test_layer_matches_torch_float64(dtype, tol, inputs):
    params, weight = layer_case(dtype, inputs=inputs)
    out = lstm_layer(*params)
    (out * weight.to(dtype)).sum().backward()
    ref_out, ref_grads = torch_reference(*params, weight)
    assert rel(out.detach(), ref_out) < tol
    for name, p, ref in zip(("x", "w_ih", "w_hh", "bias"), params, ref_grads):
        assert rel(p.grad, ref) < tol, name


def test_layer_long_memory_is_exact_and_finite():
    """200 steps with a forget bias of +3: the gradient reaching the first steps is tiny (the
    denormal range in float32, flushed to zero); it still matches float64 torch."""
    params, weight = layer_case(torch.float32, steps=200, rows=4, forget=3.0)
    weight[:-1] = 0.0  # the direct strategy: only the last state is read
    out = lstm_layer(*params)
    (out * weight.float()).sum().backward()
    _, ref_grads = torch_reference(*params, weight)
    for p, ref in zip(params, ref_grads):
        assert torch.isfinite(p.grad).all()
        assert rel(p.grad, ref) < 1e-5


def network_grads(kernel: str, variational: bool, layers: int, sequence: bool, dtype, compute=None):
    """Gradients of every parameter of a 2-member network after one training pass (dropout
    live, masks from the members' generators): weights and inputs drawn in float64, rounded
    to `dtype`, computed in `compute` (default `dtype`)."""
    net = MemberLSTM(2, HIDDEN, layers, 3 if not sequence else 1, 2, 0.2, 0.3, 0.25, variational=variational,
                     dropout_recurrent=0.4, kernel=kernel).double()
    net.reset_parameters([torch.Generator().manual_seed(s) for s in (1, 2)])
    x = torch.randn(2, 6, 30, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    compute = compute or dtype
    net, x = net.to(dtype).to(compute), x.to(dtype).to(compute)
    drop = [generators(s)["dropout"] for s in (4, 5)]
    raw = net(x, drop, last=5 if sequence else None)
    (raw * torch.linspace(-1, 1, raw.numel(), dtype=compute).view_as(raw)).sum().backward()
    return {name: p.grad.clone() for name, p in net.named_parameters()}


@pytest.fixture
def float64_masks(monkeypatch):
    """Dropout masks drawn in float64 whatever the network's dtype, so a float32 network and
    its float64 reference see the same masks."""
    keep_mask = MemberLSTM._mask

    def mask(rate, generator, shape, like):
        return keep_mask(rate, generator, shape, like.double()).to(like.dtype)

    monkeypatch.setattr(MemberLSTM, "_mask", staticmethod(mask))


@pytest.mark.parametrize("variational", [False, True])
@pytest.mark.parametrize("layers,sequence", [(1, False), (2, False), (2, True)])
def test_network_training_pass_matches_torch(variational, layers, sequence, float64_masks):
    """The network's training pass (input, between-layer and head dropout, variational weight
    drop on W_hh) gives torch's float64 gradients with the numba kernel, in float64 and in
    float32 (the same float32-rounded weights and inputs, computed in float64 by torch)."""
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        ref = network_grads("torch", variational, layers, sequence, dtype, torch.float64)
        got = network_grads("numba", variational, layers, sequence, dtype)
        for name in ref:
            assert rel(got[name], ref[name]) < tol, (name, dtype)


def test_kernel_choice_resolves_and_refuses():
    assert resolve_kernel("auto", torch.device("cpu")) == "numba"
    assert resolve_kernel("auto", torch.device("cuda")) == "torch"
    assert resolve_kernel("torch", torch.device("cpu")) == "torch"
    with pytest.raises(ValueError, match="CPU only"):
        resolve_kernel("numba", torch.device("cuda"))
    with pytest.raises(ValueError, match="kernel"):
        MemberLSTM(1, 4, 1, 1, 1, kernel="cuda")


def test_forecasts_agree_between_kernels():
    """Two epochs trained with either kernel give the same forecast to float32 rounding."""
    rng = np.random.default_rng(0)
    y = np.zeros(400)
    for t in range(1, 400):
        y[t] = 0.7 * y[t - 1] + rng.normal()
    kw = dict(context=16, hidden=HIDDEN, epochs=2, batch_size=32, head="gaussian")
    probs = np.array([0.1, 0.5, 0.9])
    out = {}
    for kernel in ("torch", "numba"):
        model = LSTMForecaster(horizon=5, kernel=kernel, **kw).fit(y, 300, seed=1)
        assert model.kernel_ == kernel and model.predict(y, np.arange(320, 330), 5, probs).info["kernel"] == kernel
        out[kernel] = model.predict(y, np.arange(320, 330), 5, probs)
    np.testing.assert_allclose(out["numba"].quantiles, out["torch"].quantiles, rtol=1e-4, atol=1e-4)
    assert LSTMForecaster(horizon=5, **kw).params.kernel == "auto"
    assert "kernel" not in LSTMForecaster(horizon=5, **kw).params.model_dump()  # default: spec hashes unchanged
