"""The pooled rows and a method's table from `Records` (what a run's aggregation holds) are the
bytes of the tidy-frame path: `pooled_records` against the reference's `reference_pooled`, the stacked coverage
against the cell-by-cell loop, the grouped mean against pandas', `method_table` against a sort
of all rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fanlab.metrics import evaluate, pooled, table
from fanlab.metrics.aggregate import tidy_cells
from fanlab.metrics.batch import score_arrays
from tests.metrics.cellgen import ALL_LEVELS, LEVELS, cell, cells, same_bits
from tests.metrics.reference_cell import reference_pooled

CI = dict(reps=40, block=2, seed=0, ci=0.95)


def _frames_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        assert a[c].dtype == b[c].dtype, c
        if a[c].dtype.kind == "f":
            assert same_bits(a[c].to_numpy(), b[c].to_numpy()), c
        else:
            assert a[c].tolist() == b[c].tolist(), c


def _sorted(frame):
    return frame.sort_values(["metric", "level", "h"], kind="stable", ignore_index=True)


def _pooled_both(arrays, scales, names, monkeypatch=None):
    recs = score_arrays(arrays, scales, LEVELS, ALL_LEVELS)
    ids = {"dataset": "d", "method": "m"}
    rows = tidy_cells([({"dataset": "d", "series": n, "method": "m", "seed": 0}, r) for n, r in zip(names, recs)])
    old = reference_pooled(None, LEVELS, ALL_LEVELS, rows, arrays=arrays, ids=ids, names=names, **CI)
    new = pooled.pooled_records(ids, names, arrays, recs, LEVELS, ALL_LEVELS, **CI)
    return old, new


@pytest.mark.parametrize("seed, shapes, kinds", [
    (0, [(1, 6)], ("plain", "nan_y", "tied")),
    (1, [(3, 8)], ("plain", "dead_h1", "law", "law_inf")),
    (2, [(1, 18), (2, 18)], ("plain", "point", "law")),  # two shapes: the cell-by-cell loop
    (3, [(9, 1)], ("plain", "infinite")),
    (4, [(4, 5)], ("law",)),  # every cell a joint law: sim path coverage and the energy skill
    (5, [(4, 5)], ("law", "law_some_nan")),
])
def test_pooled_records_are_the_reference(seed, shapes, kinds, monkeypatch):
    arrays, scales = cells(seed, 23, shapes, kinds)
    names = [f"s{i}" for i in range(len(arrays))]
    old, new = _pooled_both(arrays, scales, names)
    _frames_same(_sorted(old), _sorted(new))
    assert {"coverage", "coverage_lo", "n_units", "crps", "width"} <= set(new["metric"])
    if kinds == ("law",):
        assert {"energy_skill", "sim_path_coverage", "path_cells"} <= set(new["metric"])
    # and the stacked coverage is the cell-by-cell loop's, to the bit
    monkeypatch.setattr(pooled, "_stack", lambda arrays: None)
    _, loop = _pooled_both(arrays, scales, names)
    _frames_same(_sorted(new), _sorted(loop))


def test_units_of_several_seeds_and_one_unit():
    rng = np.random.default_rng(7)
    a = cell(rng, 5, 4)
    b = {**cell(rng, 5, 4), "y": a["y"], "origins": a["origins"]}  # the same data: one unit of two cells
    arrays = [a, b, cell(rng, 5, 4), cell(rng, 5, 4)]
    old, new = _pooled_both(arrays, [1.0, 1.0, 2.0, None], ["x", "x", "y", "z"])
    _frames_same(_sorted(old), _sorted(new))
    assert new.loc[new["metric"] == "n_units", "value"].item() == 3.0
    old, new = _pooled_both([arrays[0]], [1.0], ["x"])  # one unit: the block bootstrap
    _frames_same(_sorted(old), _sorted(new))


def test_grouped_mean_is_pandas():
    rng = np.random.default_rng(0)
    n, g = 300, 40
    values = rng.standard_normal((n, g)) * np.exp(rng.uniform(-30, 30, size=(n, g)))
    values[rng.uniform(size=(n, g)) < 0.2] = np.nan
    values[:, 0] = np.nan  # no value at all
    values[5, 1], values[9, 2], values[11, 2] = np.inf, -np.inf, np.inf
    values[:, 3] = 1.0 / 3.0
    long = pd.DataFrame({"g": np.tile(np.arange(g), n), "v": values.ravel()})
    want = long.groupby("g", sort=True)["v"].mean().to_numpy()
    got = pooled._grouped_mean(values)
    assert same_bits(got, want)
    assert np.isnan(got[0]) and got[1] == np.inf and np.isnan(got[2]) and got[3] == 1.0 / 3.0
    plain = [np.cumsum(v[~np.isnan(v)])[-1] / np.sum(~np.isnan(v)) for v in values[:, 4:].T]
    assert not same_bits(got[4:], np.array(plain))  # compensated: a plain sum in order differs somewhere


ODD = ["b", "!x", "#1", "a*", "Zeta", "*a", "é", "a", "N10", "N9"]


def test_method_table_is_the_sort_of_all_rows(monkeypatch):
    rng = np.random.default_rng(11)
    parts = []
    for i, name in enumerate(ODD):
        for s in (1, 0):
            k, h = (1, 6) if i % 3 else (2, 6)
            arr = cell(rng, k, h, ("plain", "dead_h1", "law")[i % 3])
            frame = pd.DataFrame({"dataset": ["d"], "series": [name], "method": ["m"], "seed": [s]})
            parts.append(("d", "m", name, s, frame, arr, None if i == 4 else 1.5))
    arrays = [p[5] for p in parts]
    recs = score_arrays(arrays, [p[6] for p in parts], LEVELS, ALL_LEVELS)
    order = sorted(range(len(parts)), key=lambda i: (parts[i][2], parts[i][3]))
    scored = [({"dataset": "d", "series": parts[i][2], "method": "m", "seed": np.int64(parts[i][3])}, recs[i], arrays[i])
              for i in order]
    args = (LEVELS, ALL_LEVELS, {"climatology": None, "oracle": None}, 2, 40, 0, 0.95)
    (_, fast), = evaluate.score_dataset("d", {"m": scored}, *args)
    monkeypatch.setattr(table, "method_table", lambda *a: None)
    (_, slow), = evaluate.score_dataset("d", {"m": scored}, *args)
    _frames_same(fast, slow)
    assert fast["series"].iloc[0] == "!x" and "*" in set(fast["series"]) and fast["series"].iloc[-1] == "é"


def test_method_table_declines_repeated_keys():
    rng = np.random.default_rng(2)
    arrays = [cell(rng, 1, 6), cell(rng, 1, 6)]
    recs = score_arrays(arrays, [1.0, 1.0], LEVELS, ALL_LEVELS)
    scored = [({"dataset": "d", "series": "x", "method": "m", "seed": 0}, r, a) for r, a in zip(recs, arrays)]
    assert table.method_table("d", "m", scored, pd.DataFrame()) is None
