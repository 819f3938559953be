"""Pooled rows that read every method of a dataset against its references.

The references are the dataset's climatology cells (the "learnt nothing" line) and, on
synthetic data, its oracle cells (the truth). A method's cell is matched to the reference
cell of the same series and seed, origin by origin; the pooled rows (series "*", seed -1)
then hold, per step h (and h = 0 over all steps):

- ``crps_skill``: 1 - CRPS / CRPS of climatology (means over every matched origin first);
- with an oracle: ``crps_excess`` (CRPS above the oracle's), ``mae_ratio`` (MAE over the
  oracle's), ``energy_excess`` (h = 0: the energy score of whole paths above the oracle's,
  where both have a joint law) and, per config level, ``width_ratio`` (mean width over the
  oracle's);
- per config level, conditional coverage in three state bins (h = 0):
  ``cond_coverage_low``, ``cond_coverage_mid``, ``cond_coverage_high``, and ``cond_state``
  (1: the state is the oracle's predictive spread at each origin and step, q_0.75 - q_0.25,
  binned per step; 0: no oracle, the recent volatility of the series at the origin).

Bins are terciles over all matched origins of the dataset (per step for the oracle's
spread). A state-blind forecaster that is calibrated on average (climatology on GARCH)
covers too much in the calm bin and too little in the volatile one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlab.metrics.aggregate import band_index, dead_steps
from fanlab.metrics import scores, skill

N_BINS = 3
BIN_NAMES = ("low", "mid", "high")
POOLED = {"series": "*", "seed": -1}


def _band(arr: dict, level: float) -> tuple[np.ndarray, np.ndarray]:
    i, j = band_index(arr["probs"], level)
    q = arr["quantiles"]
    return q[:, i, :], q[:, j, :]


def _match(cells: list[tuple], ref: dict[tuple, dict]) -> list[tuple[dict, dict]]:
    """(method arrays, reference arrays) of cells whose reference has the same origins."""
    out = []
    for series, seed, arr in cells:
        r = ref.get((series, seed))
        if r is not None and np.array_equal(r["origins"], arr["origins"]):
            out.append((arr, r))
    return out


def _stack(pairs: list[tuple[dict, dict]], key: str, which: int) -> np.ndarray:
    return np.concatenate([p[which][key] for p in pairs])


def _stack_paths(pairs: list[tuple[dict, dict]], key: str, which: int) -> np.ndarray:
    return np.concatenate([p[which]["paths"][key] for p in pairs])


def _rows(dataset: str, method: str, metric: str, values, level=np.nan, h0=False) -> pd.DataFrame:
    values = np.atleast_1d(np.asarray(values, dtype=float))
    hs = np.zeros(1, dtype=np.int64) if h0 else np.arange(1, values.size + 1, dtype=np.int64)
    return pd.DataFrame({"dataset": dataset, "series": POOLED["series"], "method": method,
                         "seed": POOLED["seed"], "h": hs, "level": float(level), "metric": metric,
                         "value": values})


def _oracle_state(arr: dict) -> np.ndarray:
    """The oracle's predictive spread q_0.75 - q_0.25 at each origin and step; (K, H)."""
    lo, hi = _band(arr, 0.5)
    return hi - lo


def reference_metrics(dataset: str, cells: dict[str, list[tuple]], levels: list[float],
                      climatology: str | None, oracle: str | None) -> pd.DataFrame:
    """Pooled skill and conditional-coverage rows of every method of one dataset.

    cells: method label -> [(series, seed, arrays)], arrays as `evaluate.frame_arrays`.
    climatology, oracle: the labels of the reference methods (None where absent).
    """
    parts = []
    index = {lab: {(s, seed): a for s, seed, a in cs} for lab, cs in cells.items()}
    clim = index.get(climatology) if climatology else None
    orac = index.get(oracle) if oracle else None
    # the state of each (series, seed) cell at its origins, from the oracle or the series
    if orac is not None:
        state = {key: _oracle_state(a) for key, a in orac.items()}
    else:
        any_cells = next(iter(index.values()))
        state = {key: a["state"] for key, a in any_cells.items()}
    for method, cs in sorted(cells.items()):
        if clim is not None:
            pairs = _match(cs, clim)
            if pairs:
                c, cr = _stack(pairs, "crps", 0), _stack(pairs, "crps", 1)
                parts += [_rows(dataset, method, "crps_skill", skill.crps_skill(c, cr)),
                          _rows(dataset, method, "crps_skill", skill.skill(c.mean(), cr.mean()), h0=True)]
        if orac is not None:
            pairs = _match(cs, orac)
            if pairs:
                c, co = _stack(pairs, "crps", 0), _stack(pairs, "crps", 1)
                e = np.abs(_stack(pairs, "y", 0) - _stack(pairs, "mean", 0))
                eo = np.abs(_stack(pairs, "y", 1) - _stack(pairs, "mean", 1))
                parts += [_rows(dataset, method, "crps_excess", skill.crps_excess(c, co)),
                          _rows(dataset, method, "crps_excess", c.mean() - co.mean(), h0=True),
                          _rows(dataset, method, "mae_ratio", skill.mae_ratio(e, eo)),
                          _rows(dataset, method, "mae_ratio", skill.ratio(e.mean(), eo.mean()), h0=True)]
                es = _stack_paths(pairs, "energy", 0), _stack_paths(pairs, "energy", 1)
                if not (np.isnan(es[0]).any() or np.isnan(es[1]).any()):  # both have a joint law
                    parts.append(_rows(dataset, method, "energy_excess", es[0].mean() - es[1].mean(), h0=True))
                for level in levels:
                    w = np.concatenate([scores.width(*_band(a, level)) for a, _ in pairs])
                    wo = np.concatenate([scores.width(*_band(r, level)) for _, r in pairs])
                    parts += [_rows(dataset, method, "width_ratio", skill.width_ratio(w, wo), level),
                              _rows(dataset, method, "width_ratio", skill.ratio(w.mean(), wo.mean()), level,
                                    h0=True)]
        parts += _conditional(dataset, method, cs, state, levels, orac is not None)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _conditional(dataset, method, cs, state, levels, from_oracle: bool) -> list[pd.DataFrame]:
    keep = [(arr, state[(s, seed)]) for s, seed, arr in cs
            if (s, seed) in state and len(state[(s, seed)]) == len(arr["origins"])]
    if not keep:
        return []
    st = np.concatenate([k[1] for k in keep])
    if not np.isfinite(st).any():
        return []
    bins = skill.state_bins(st, N_BINS)
    if np.all(bins < 0):  # the state does not vary: conditional coverage is the marginal one
        return []
    out = [_rows(dataset, method, "cond_state", 1.0 if from_oracle else 0.0, h0=True)]
    for level in levels:
        w = np.concatenate([scores.width(*_band(a, level)) for a, _ in keep])
        if np.all(w == 0) or np.all(np.isinf(w)):
            continue  # no interval: no coverage, conditional or not
        hits = np.concatenate([scores.hits(a["y"], *_band(a, level)) for a, _ in keep])
        dead = dead_steps(w)  # steps without an interval count in no bin
        b = bins if not dead.any() else np.where(dead, -1, bins if bins.ndim == 2 else bins[:, None])
        cov = skill.conditional_coverage(hits, b, N_BINS)
        for name, v in zip(BIN_NAMES, cov):
            out.append(_rows(dataset, method, f"cond_coverage_{name}", v, level, h0=True))
    return out
