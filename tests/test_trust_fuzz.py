"""Fuzz the trust classes of issue 20 with hypothesis: names, infinite quantiles, malformed
forecast files and CSV time stamps. Each property is a statement that a wrong number would
break, checked on generated inputs; none runs a whole config (fast enough for `make test`)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from fanlab import registry
from fanlab.data.series import DataWarning
from fanlab.errors import DataError
from fanlab.models.external import ExternalForecaster, _interp, read_quantile_file
from fanlab.engine.results import cell_key, cell_path

FIXTURE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_ids = st.lists(st.text(alphabet="x_*. -", min_size=1, max_size=4).filter(lambda t: t.strip() == t and t),
                min_size=1, max_size=4, unique=True)


@FIXTURE
@given(ids=_ids)
def test_csv_ids_load_as_distinct_series_or_the_reserved_one_is_refused_at_its_line(tmp_path_factory, ids):
    path = tmp_path_factory.mktemp("ids") / "d.csv"
    rows = [f'"{sid}",{t},{(t * 7 + k) % 11}' for k, sid in enumerate(ids) for t in range(20)]
    path.write_text("id,t,y\n" + "\n".join(rows) + "\n")
    reserved = [sid for sid in ids if sid in ("*", "panel")]
    params = {"path": str(path), "value": "y", "time": "t", "series_id": "id"}
    if reserved:
        with pytest.raises(DataError) as info:
            registry.build_dataset("csv", params, 0)
        line = 2 + 20 * ids.index(reserved[0])
        assert f"line {line}: series id {reserved[0]!r} is reserved" in str(info.value)
        return
    out = registry.build_dataset("csv", params, 0)
    assert [s.name for s in out] == ids
    keys = {cell_key("d", s.name, m, 0) for s in out for m in ("m", "_m", "m_")}
    assert len(keys) == 3 * len(ids)
    assert len({cell_path(path.parent, k) for k in keys}) == len(keys)


_knot = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@example(inner=[922437.0, 922437.0, -126139.56900563661], lo_inf=0, hi_inf=0, want=[0.5])  # a + (b - a) != b
@given(inner=st.lists(_knot, min_size=2, max_size=6), lo_inf=st.integers(0, 2), hi_inf=st.integers(0, 2),
       want=st.lists(st.floats(0.001, 0.999), min_size=1, max_size=8))
def test_interpolation_never_makes_nan_from_finite_neighbours(inner, lo_inf, hi_inf, want):
    q = np.concatenate([[-np.inf] * lo_inf, np.sort(inner), [np.inf] * hi_inf])
    have = np.linspace(0.02, 0.98, q.size)
    want = np.sort(np.asarray(want))
    out = _interp(q[None, :], ndtri(have), ndtri(want))[0]
    assert not np.isnan(out).any()  # -inf and +inf are never neighbours here: finite knots between
    assert all(a <= b for a, b in zip(out[:-1], out[1:]))  # quantiles stay in order
    finite = np.isfinite(q)
    for p, v in zip(want, out):
        j = np.searchsorted(have, p)
        if 0 < j < have.size and finite[j - 1] and finite[j]:
            assert q[j - 1] - 1e-6 <= v <= q[j] + 1e-6  # between its two finite knots
        if j < have.size and np.isclose(have[j], p, rtol=0, atol=1e-15):
            assert v == q[j]


_cell = st.one_of(st.none(), st.sampled_from(["", "nan", "inf", "-inf", "x", "1e400", "0.5", "1", "-3", "1.5"]),
                  st.integers(-3, 30).map(str))


@FIXTURE
@given(cols=st.lists(st.sampled_from(["origin", "h", "prob", "value", "series", "seed", "mean", "level", "side"]),
                     min_size=1, max_size=7),
       data=st.lists(st.lists(_cell, min_size=7, max_size=7), min_size=1, max_size=6))
def test_a_malformed_forecast_file_is_a_data_error_never_a_traceback(tmp_path_factory, cols, data):
    path = tmp_path_factory.mktemp("ext") / "fc.csv"
    lines = [",".join(cols)] + [",".join("" if c is None else c for c in row[: len(cols)]) for row in data]
    path.write_text("\n".join(lines) + "\n")
    y = np.arange(40, dtype=float)
    try:
        fc = ExternalForecaster(str(path), "s", (0.1, 0.9)).fit(y, 24, 0)
        fc.predict(y, np.array([25, 30]), 2, np.array([0.1, 0.5, 0.9]))
    except DataError as exc:
        assert "fc.csv" in str(exc) and "\n" not in str(exc)


@FIXTURE
@given(n=st.integers(14, 40), drop=st.integers(3, 10), freq=st.sampled_from(["MS", "QS", "W-SUN", "D", "h"]))
def test_a_dropped_stamp_is_named_in_the_warning(tmp_path_factory, n, drop, freq):
    stamps = pd.date_range("2020-01-01", periods=n, freq=freq)
    path = tmp_path_factory.mktemp("gap") / "g.csv"
    rows = [f"a,{t.isoformat()},{i % 5}" for i, t in enumerate(stamps)]
    rows += [f"b,{t.isoformat()},{i % 3}" for i, t in enumerate(stamps) if i != drop]
    path.write_text("id,t,y\n" + "\n".join(rows) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.build_dataset("csv", {"path": str(path), "value": "y", "time": "t", "series_id": "id"}, 0)
    msgs = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(msgs) == 1 and "series 'b'" in msgs[0] and "series 'a'" not in msgs[0]
    gone = stamps[drop]
    shown = str(gone.date()) if gone == gone.normalize() else str(gone)
    assert f"the first {shown} (between rows of" in msgs[0]


def test_read_quantile_file_flags_whether_series_was_given(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("origin,h,prob,value\n1,1,0.5,0\n")
    assert read_quantile_file(path).attrs["has_series"] is False
    path.write_text("series,origin,h,prob,value\ns,1,1,0.5,0\n")
    assert read_quantile_file(path).attrs["has_series"] is True
