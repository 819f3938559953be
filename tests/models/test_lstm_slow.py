"""Slow statistical checks of the LSTM against the oracle of a Gaussian AR(1) (run with -m slow).

y_t = 0.7 y_{t-1} + e_t, e_t ~ N(0, 1): the 1-step predictive is N(0.7 y_t, 1), so the oracle's
95% interval is 2 * 1.96 wide and its 1-step mean absolute error is sqrt(2 / pi). A fitted
network should come close: the Gaussian head's mean 1-step 95% width within 15% of 3.92, the
point network's 1-step MAE at most 1.2 times the oracle's (criteria set in the issue).
Training on 2,000 points, scoring on the ~980 origins after them; H = 20 keeps it to seconds.
"""

import numpy as np
import pytest

from fanlab.models.lstm.forecaster import LSTMForecaster

N, TRAIN_END, H = 3000, 2000, 20
ORACLE_WIDTH = 2 * 1.959963984540054
ORACLE_MAE = float(np.sqrt(2 / np.pi))
SETTINGS = {"context": 60, "hidden": 32}


@pytest.fixture(scope="module")
def ar1():
    rng = np.random.default_rng(2024)
    e = rng.normal(size=N)
    y = np.zeros(N)
    for t in range(1, N):
        y[t] = 0.7 * y[t - 1] + e[t]
    return y


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_gaussian_head_one_step_width_near_oracle(ar1, strategy):
    origins = np.arange(TRAIN_END, N - H)
    model = LSTMForecaster(horizon=H, head="gaussian", strategy=strategy, **SETTINGS).fit(ar1, TRAIN_END, seed=0)
    fc = model.predict(ar1, origins, H, np.array([0.025, 0.975]))
    width = float((fc.quantiles[:, 1, 0] - fc.quantiles[:, 0, 0]).mean())
    print(f"{strategy}: mean 1-step 95% width {width:.3f}, oracle {ORACLE_WIDTH:.3f}, ratio {width / ORACLE_WIDTH:.3f}")
    assert abs(width / ORACLE_WIDTH - 1) <= 0.15


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_point_head_one_step_mae_near_oracle(ar1, strategy):
    origins = np.arange(TRAIN_END, N - H)
    model = LSTMForecaster(horizon=H, head="point", strategy=strategy, **SETTINGS).fit(ar1, TRAIN_END, seed=0)
    fc = model.predict(ar1, origins, H, np.array([0.5]))
    mae = float(np.abs(ar1[origins + 1] - fc.mean[:, 0]).mean())
    print(f"{strategy}: 1-step MAE {mae:.4f}, oracle {ORACLE_MAE:.4f}, ratio {mae / ORACLE_MAE:.3f}")
    assert mae <= 1.2 * ORACLE_MAE
