"""Cells scored stacked (`fanlab.metrics.batch`, the one scoring of a cell) get the numbers of
a plain one-cell-at-a-time reference (`tests/metrics/reference_cell.py`), to the bit, on varied
cells; `cell_records` (a stack of one) too."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from fanlab.metrics.aggregate import pack_records
from tests.metrics.reference_cell import reference_records
from fanlab.metrics.batch import Records, cell_records, score_arrays
from tests.metrics.cellgen import ALL_LEVELS, KINDS, LEVELS, cell, cells, same_bits

SHAPES = [(1, 6), (1, 18), (3, 8), (9, 1), (12, 5), (1, 1), (20, 130)]


def _assert_same(arrays, scales, got):
    assert len(got) == len(arrays)
    for arr, scale, rec in zip(arrays, scales, got):
        want = pack_records(reference_records(arr, LEVELS, ALL_LEVELS, scale))
        for have in (rec.packed(), pack_records(cell_records(arr, LEVELS, ALL_LEVELS, scale))):
            assert have[2] == want[2]  # metric names, in order
            for a, b in zip(have[:2] + have[3:], want[:2] + want[3:]):
                assert same_bits(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stacked_cells_score_as_one_by_one(seed):
    arrays, scales = cells(seed, 70, SHAPES)
    _assert_same(arrays, scales, score_arrays(arrays, scales, LEVELS, ALL_LEVELS))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_alone(kind):
    rng = np.random.default_rng(5)
    for k, h in [(1, 6), (4, 3), (11, 18)]:
        arrays = [cell(rng, k, h, kind) for _ in range(6)]
        scales = [None, 1.5, 2.0 / 3.0, None, 0.1, 7.0]
        _assert_same(arrays, scales, score_arrays(arrays, scales, LEVELS, ALL_LEVELS))


def test_the_cases_differ_where_they_should():
    # the structures the tests rely on are there: no scale drops the scaled rows, a dead step
    # adds interval_steps, a joint law adds the path rows; a point band's coverage is n/a
    rng = np.random.default_rng(3)
    arrays = [cell(rng, 2, 6, "plain"), cell(rng, 2, 6, "dead_h1"), cell(rng, 2, 6, "law"), cell(rng, 2, 6, "point")]
    got = score_arrays(arrays, [1.0, None, 1.0, 1.0], LEVELS, ALL_LEVELS)
    names = [set(r.layout.names) for r in got]
    assert "msis" in names[0] and "msis" not in names[1] and "mase" not in names[1]
    assert "interval_steps" in names[1] and "interval_steps" not in names[0]
    assert "energy_score" in names[2] and "energy_score" not in names[0]
    assert got[0].layout is not got[1].layout
    cov = got[3].values[:6]  # the first level's coverage per step
    assert got[3].layout.names[0] == "coverage" and np.isnan(cov).all()
    assert not np.isnan(got[0].values[:6]).any()


def test_records_pickle_with_one_layout():
    arrays, scales = cells(4, 10, [(1, 6)], kinds=("plain",))
    scales = [1.0] * 10
    got = score_arrays(arrays, scales, LEVELS, ALL_LEVELS)
    assert len({id(r.layout) for r in got}) == 1
    back = pickle.loads(pickle.dumps(got))
    assert len({id(r.layout) for r in back}) == 1
    assert isinstance(back[0], Records) and same_bits(back[3].values, got[3].values)
    order, h, level, metric = back[0].layout.sorted_rows()
    assert sorted(order) == list(range(len(order)))
    assert list(metric[:2]) == ["calibration_error", "coverage"] and h[0] == 0 and h[1] == 1
