"""LSTM internals: the training path against a textbook LSTM, the prediction path against the
training path, quantile interpolation, Gaussian-mixture quantiles, params."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from scipy.stats import norm

from fanlab.models.lstm.ensemble import mixture_quantiles
from fanlab.models.lstm.heads import quantile_interp
from fanlab.models.lstm.network import MemberLSTM, RowRandom
from fanlab.models.lstm.params import DEFAULT_QUANTILE_PROBS, LSTMParams
from fanlab.registry import parse_params


def _reference(net: MemberLSTM, x: torch.Tensor, rmasks=None) -> torch.Tensor:
    """Textbook LSTM with torch autograd (gates [i, f, g, o]); x (M, B, T) -> (M, B, out).
    rmasks: per layer, masks (M, 1, Hd) on the recurrent state h_{t-1}, or None."""
    hd = net.hidden
    z = x.unsqueeze(-1)
    for k in range(net.layers):
        h = torch.zeros(x.shape[0], x.shape[1], hd, dtype=x.dtype)
        c = torch.zeros_like(h)
        outs = []
        for t in range(x.shape[2]):
            hr = h if rmasks is None else h * rmasks[k]
            a = (torch.bmm(z[:, :, t], net.w_ih[k].transpose(1, 2)) + net.bias[k].unsqueeze(1)
                 + torch.bmm(hr, net.w_hh[k].transpose(1, 2)))
            i, f, g, o = a.chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        z = torch.stack(outs, 2)
    return torch.baddbmm(net.b_out, z[:, :, -1], net.w_out)


def _net(layers: int, members: int = 2, steps: int = 3, outputs: int = 2) -> MemberLSTM:
    net = MemberLSTM(members, 5, layers, steps, outputs).double()
    net.reset_parameters([torch.Generator().manual_seed(m) for m in range(members)])
    return net


@pytest.mark.parametrize("layers", [1, 2])
def test_training_path_matches_textbook_lstm(layers):
    net = _net(layers)
    x = torch.randn(2, 4, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = net(x).reshape(2, 4, -1)
    ref = _reference(net, x)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    w = torch.randn_like(ref)  # a random linear functional, so every output's gradient counts
    g_ours = torch.autograd.grad((ours * w).sum(), list(net.parameters()))
    g_ref = torch.autograd.grad((ref * w).sum(), list(net.parameters()))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 2])
def test_weight_drop_is_a_recurrent_state_mask_shared_by_the_batch(layers):
    """Variational training drops columns of W_hh: the textbook LSTM with h_{t-1} * r, one r
    per member and layer for the whole batch, in value and gradient."""
    net = MemberLSTM(2, 5, layers, 3, 2, variational=True, dropout_recurrent=0.5).double()
    net.reset_parameters([torch.Generator().manual_seed(m) for m in range(2)])
    x = torch.randn(2, 4, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = net(x, [torch.Generator().manual_seed(20 + m) for m in range(2)]).reshape(2, 4, -1)
    replay = [torch.Generator().manual_seed(20 + m) for m in range(2)]  # the same draws, in order
    draws = [[torch.empty(5, dtype=torch.float64).bernoulli_(0.5, generator=g) * 2.0 for _ in range(layers)]
             for g in replay]
    rmasks = [torch.stack([d[k] for d in draws]).unsqueeze(1) for k in range(layers)]  # (M, 1, Hd)
    assert 0 < float(torch.cat(rmasks).mean()) < 2  # some units dropped, some kept
    ref = _reference(net, x, rmasks)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    w = torch.randn_like(ref)
    g_ours = torch.autograd.grad((ours * w).sum(), list(net.parameters()))
    g_ref = torch.autograd.grad((ref * w).sum(), list(net.parameters()))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 2])
def test_prediction_path_matches_training_path(layers):
    net = _net(layers, members=3, steps=4, outputs=1).float()
    x = torch.randn(3, 70, 12, generator=torch.Generator().manual_seed(2))  # > one 64-row sub-batch
    train_path = net(x)
    with torch.no_grad():
        top, state = net.encode(x.permute(2, 0, 1).contiguous())
        infer = net.head_infer(top)
    torch.testing.assert_close(infer.float(), train_path.detach(), rtol=1e-5, atol=1e-5)
    # continuing from a state equals running the longer window in one go
    with torch.no_grad():
        xt = x.permute(2, 0, 1).contiguous()
        top_a, st = net.encode(xt[:8])
        top_b, _ = net.encode(xt[8:], state=st)
        top_all, _ = net.encode(xt)
    torch.testing.assert_close(top_b, top_all, rtol=1e-5, atol=1e-6)


def test_row_random_draws_do_not_depend_on_batching():
    def gens():
        return [[torch.Generator().manual_seed(10 + j) for j in range(3)]]

    whole = RowRandom(gens(), reps=4).mask(0, 0.5, (7, 12, 2), axis=1)
    r = RowRandom(gens(), reps=4)
    parts = torch.cat([r.rows(0, 8).mask(0, 0.5, (7, 8, 2), 1), r.rows(8, 12).mask(0, 0.5, (7, 4, 2), 1)], 1)
    assert torch.equal(whole, parts)
    assert set(whole.unique().tolist()) == {0.0, 2.0}  # inverted dropout: kept values scaled by 1/(1-p)


def test_quantile_interp_exact_for_gaussian_knots_and_monotone():
    mu, sd = 1.5, 2.0
    knots = np.array(DEFAULT_QUANTILE_PROBS)
    zk = torch.from_numpy(norm.ppf(knots))
    q = torch.from_numpy(mu + sd * norm.ppf(knots))[None, :]
    probs = np.array([0.001, 0.01, 0.3, 0.5, 0.61, 0.99, 0.999])  # inside and beyond the knots
    got = quantile_interp(q, zk, torch.from_numpy(norm.ppf(probs)))[0].numpy()
    np.testing.assert_allclose(got, mu + sd * norm.ppf(probs), rtol=1e-12, atol=1e-12)
    # any non-decreasing knots give a non-decreasing function, also in the tails
    rng = np.random.default_rng(0)
    qk = torch.from_numpy(np.sort(rng.normal(size=(50, knots.size)), axis=1))
    z = torch.from_numpy(np.sort(rng.normal(scale=3.0, size=400)))
    assert torch.all(torch.diff(quantile_interp(qk, zk, z), dim=-1) >= 0)


def test_mixture_quantiles_match_scipy_inversion():
    # member 0: N(0, 1), member 1: N(3, 0.5^2); equal weights
    mean = np.array([0.0, 3.0]).reshape(2, 1, 1)
    sd = np.array([1.0, 0.5]).reshape(2, 1, 1)
    probs = np.array([0.025, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975])
    got = mixture_quantiles(mean, sd, probs)[0, :, 0]

    def cdf(x):
        return 0.5 * norm.cdf(x, 0.0, 1.0) + 0.5 * norm.cdf(x, 3.0, 0.5)

    want = [brentq(lambda x: cdf(x) - p, -20, 20, xtol=1e-14) for p in probs]
    np.testing.assert_allclose(got, want, atol=1e-8)
    # the mixture is not the average of the member quantiles (that would be too narrow)
    averaged = (mean + norm.ppf(probs)[None, :, None] * sd).mean(axis=0)[:, 0]
    assert abs(got[-1] - got[0]) > abs(averaged[-1] - averaged[0]) + 0.5


def test_mixture_of_identical_members_is_that_gaussian():
    mean = np.full((4, 3, 2), 0.7)
    sd = np.full((4, 3, 2), 1.3)
    probs = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(mixture_quantiles(mean, sd, probs),
                               np.broadcast_to((0.7 + 1.3 * norm.ppf(probs))[None, :, None], (3, 3, 2)), atol=1e-9)


def test_params_defaults_and_validation():
    p = LSTMParams()
    assert (p.context, p.hidden, p.strategy, p.head, p.uncertainty, p.samples) == (50, 64, "direct", "point", "none", 200)
    # the quantile head's grid holds every probability the lab asks for
    assert np.allclose(p.quantile_probs, np.arange(1, 40) * 0.025)
    with pytest.raises(Exception, match="extra"):
        parse_params("method", "lstm", {"contxt": 10})
    with pytest.raises(Exception, match="dropout rate > 0"):
        parse_params("method", "lstm", {"uncertainty": "mc_dropout", "dropout_input": 0, "dropout_head": 0})
    assert parse_params("method", "lstm_ensemble", {}).members == 5


def test_params_module_does_not_import_torch():
    code = "import sys, fanlab.models.lstm.params; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("outputs, located", [(2, 1), (3, 3)])
def test_linear_skip_adds_a_window_map_to_the_location_in_training_and_prediction(outputs, located):
    """skip n adds x[-n:] @ w_skip to the location outputs (the first of a Gaussian's two; every
    quantile), the same in the training and the prediction path; it starts at zero (the
    network alone) and its gradient is the window's."""
    plain = _net(1, members=2, steps=4, outputs=outputs).float()
    net = MemberLSTM(2, 5, 1, 4, outputs, skip_inputs=6, skip_outputs=located).float()
    net.load_state_dict({**plain.state_dict(), "w_skip": torch.zeros(2, 6, 4)})
    x = torch.randn(2, 7, 9, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(net(x), plain(x))
    w = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        net.w_skip.copy_(w)
    want = plain(x).detach().clone()
    want[..., :located] += torch.bmm(x[..., -6:], w).unsqueeze(-1)  # the last 6 of 9 inputs
    train_path = net(x)
    torch.testing.assert_close(train_path.detach(), want, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        top, _ = net.encode(x.permute(2, 0, 1).contiguous())
    with pytest.raises(ValueError, match="input window"):  # prediction without the windows is refused
        net.head_infer(top)
    for m in range(2):  # head_infer takes one window per row, shared by the members
        infer = net.head_infer(top, x=x[m])
        torch.testing.assert_close(infer[m].float(), want[m], rtol=1e-5, atol=1e-5)
    grad = torch.autograd.grad(train_path[..., 0].sum(), net.w_skip)[0]
    torch.testing.assert_close(grad, x[..., -6:].sum(1).unsqueeze(-1).expand(-1, -1, 4))


def test_linear_skip_params():
    # unset: the last 4 inputs for a local direct network (at most its context), none for the
    # recursive strategy and global networks, whose fit-store keys stay those of earlier fits
    assert LSTMParams().skip == 4 and LSTMParams(context=3).skip == 3
    assert LSTMParams().model_dump(mode="json")["skip"] == 4
    for other in ({"strategy": "recursive"}, {"scope": "global"}, {"skip": 0}):
        assert LSTMParams(**other).skip == 0 and "skip" not in LSTMParams(**other).model_dump(mode="json")
    with pytest.raises(Exception, match="skip is for the direct strategy"):
        parse_params("method", "lstm", {"skip": 4, "strategy": "recursive"})
    with pytest.raises(Exception, match="skip 60 reads more inputs than the window holds"):
        parse_params("method", "lstm", {"skip": 60})
    assert parse_params("method", "lstm_ensemble", {}).skip == 4
