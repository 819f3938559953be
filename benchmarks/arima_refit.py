"""ARIMA: fit once and filter vs refit at every origin.

One simulated ARMA(2,1) series of 2,000 points, ARIMA(2,0,1) fitted on the first 1,500, 50
origins in the last block (stride 8, last target at the series end), H = 100.

    python benchmarks/arima_refit.py
"""

from __future__ import annotations

import time

import numpy as np
from statsmodels.tsa.arima_process import arma_generate_sample

from fanlab.forecast import probs_for_levels
from fanlab.models.arima import ARIMAForecaster, ARIMAParams

N, TRAIN_END, HORIZON, N_ORIGINS, REPEATS = 2000, 1500, 100, 50, 3


def run(refit: bool, y: np.ndarray, origins: np.ndarray, probs: np.ndarray):
    t0 = time.perf_counter()
    model = ARIMAForecaster(ARIMAParams(order=[2, 0, 1], refit=refit)).fit(y, TRAIN_END, seed=0)
    t_fit = time.perf_counter() - t0
    fc = model.predict(y, origins, HORIZON, probs)
    return t_fit, time.perf_counter() - t0 - t_fit, fc


def main() -> None:
    rng = np.random.default_rng(0)
    y = arma_generate_sample([1, -0.5, 0.2], [1, 0.3], N, distrvs=rng.standard_normal, burnin=300)
    origins = np.arange(N - 1 - HORIZON - 8 * (N_ORIGINS - 1), N - HORIZON, 8)
    assert origins.size == N_ORIGINS and origins[0] >= TRAIN_END - 1
    probs = probs_for_levels([0.8, 0.95])
    rows = {}
    for refit in (False, True):
        best = min((run(refit, y, origins, probs) for _ in range(REPEATS)), key=lambda r: r[0] + r[1])
        rows["refit per origin" if refit else "fit once + filter"] = best
    (f0, p0, fc0), (f1, p1, fc1) = rows.values()
    print(f"ARMA(2,1), n={N}, train={TRAIN_END}, {N_ORIGINS} origins, H={HORIZON}; best of {REPEATS}")
    print(f"{'':22s}{'fit s':>9s}{'predict s':>11s}{'total s':>9s}")
    for name, (tf, tp, _) in rows.items():
        print(f"{name:22s}{tf:9.3f}{tp:11.3f}{tf + tp:9.3f}")
    print(f"ratio refit / fit-once (total): {(f1 + p1) / (f0 + p0):.1f}x")
    # how much the refits move the answer (parameter drift over the last block)
    rel = np.abs(fc1.sd / fc0.sd - 1)
    print(f"refit vs fit-once forecast sd: median |rel diff| {np.median(rel):.4f}, max {rel.max():.4f}")


if __name__ == "__main__":
    main()
