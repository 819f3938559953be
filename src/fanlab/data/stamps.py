"""What a CSV's time stamps say about its rows: irregular steps, and a declared `period`.

Without `freq`, the rows of a series are read as consecutive observations. Where its time
stamps are not evenly spaced (a missing month), that silently shifts every lag and season
after the gap: the series gets a `DataWarning` naming it and the first gap, and a declared
`period` (which counts rows) is an error, as is a `period` that is the calendar cycle of
another frequency than the stamps' (12 on quarterly stamps, 7 on monthly ones).
"""

from __future__ import annotations

import warnings

import pandas as pd
from pandas.tseries.frequencies import to_offset

from fanlab.data.series import DataWarning, Series
from fanlab.errors import DataError

#: Periods that name the calendar cycle of one frequency (what a user means by writing them).
CALENDAR = {4: "the yearly cycle of quarterly data", 12: "the yearly cycle of monthly data",
            52: "the yearly cycle of weekly data", 7: "the weekly cycle of daily data",
            365: "the yearly cycle of daily data", 24: "the daily cycle of hourly data",
            168: "the weekly cycle of hourly data"}
#: Periods that fit stamps of each kind of frequency (at a multiple n of the unit: divided by n).
_FITTING = {"Month": {2, 3, 4, 6, 12}, "Quarter": {2, 4}, "Week": {4, 13, 26, 52, 53},
            "Day": {7, 14, 28, 30, 31, 91, 365, 366}, "BusinessDay": {5, 20, 21, 22, 252, 260, 261},
            "Hour": {2, 3, 4, 6, 8, 12, 24, 48, 168, 8760, 8766, 8784},
            "Minute": {5, 10, 15, 30, 60, 1440, 10080}, "Second": {60, 3600, 86400}}
#: The calendar cycles of each kind of frequency (what an error suggests instead).
_CYCLES = {"Month": (12,), "Quarter": (4,), "Week": (52,), "Day": (7, 365), "BusinessDay": (5, 260),
           "Hour": (24, 168), "Minute": (60, 1440), "Second": (60, 3600)}
#: Series named in one warning before the rest are counted.
MAX_NAMED = 5


def _kind(freq: str) -> tuple[str | None, int]:
    off = to_offset(freq)
    name = type(off).__name__
    for kind in ("BusinessDay", "Month", "Quarter", "Week", "Day", "Hour", "Minute", "Second"):
        if kind in name:
            return kind, int(off.n)
    return None, int(off.n)  # yearly and rarer offsets: any period may be meant


def fitting_periods(freq: str) -> set[int] | None:
    """The periods that fit stamps of `freq` (None where any may)."""
    kind, n = _kind(freq)
    if kind is None:
        return None
    return {p // n for p in _FITTING[kind] if p % n == 0 and p // n > 1}


def check_period(period: int | None, freq: str | None, where: str) -> None:
    """DataError where `period` is another frequency's calendar cycle and does not fit `freq`."""
    if period is None or freq is None or period not in CALENDAR:
        return
    fits = fitting_periods(freq)
    if fits is None or period in fits:
        return
    kind, n = _kind(freq)
    natural = [c // n for c in _CYCLES[kind] if c % n == 0 and c // n > 1] or sorted(fits)
    raise DataError(f"{where}: period {period} is {CALENDAR[period]}, but the time stamps are {freq!r}; "
                    f"their cycles are {', '.join(map(str, natural))}: give one of those (or no period)")


def _stamp(ts: pd.Timestamp) -> str:
    return str(ts.date()) if ts == ts.normalize() and ts.tz is None else str(ts)


def _first_gap(index: pd.DatetimeIndex, freq: str) -> tuple[int, pd.DatetimeIndex] | None:
    """Where stamps lie on the `freq` grid from their first: (row before the first hole, the
    grid stamps with no row); None where they are off the grid."""
    try:
        grid = pd.date_range(index[0], index[-1], freq=freq)
    except (ValueError, OverflowError):
        return None
    if grid.size > 20 * index.size or not index.isin(grid).all():
        return None
    absent = grid.difference(index)
    if absent.empty:
        return None
    return int(index.searchsorted(absent[0]) - 1), absent


def irregular(series: list[Series]) -> list[tuple[str, str | None]]:
    """(what, grid freq or None) for each series whose date-time stamps are unevenly spaced,
    naming the series and its first gap (on the grid of a sibling's frequency, or of its own
    first steps)."""
    stamped = [s for s in series if isinstance(s.index, pd.DatetimeIndex) and len(s.index) >= 3]
    regular = {s.index.freqstr for s in stamped if s.index.freqstr}
    out = []
    for s in stamped:
        if s.index.freqstr:
            continue
        idx = s.index
        try:
            own = pd.DatetimeIndex(idx[:3], freq="infer").freqstr
        except ValueError:
            own = None
        found = None
        for freq in sorted(regular) + ([own] if own else []):
            gap = _first_gap(idx, freq)
            if gap is not None:
                found = (freq, *gap)
                break
        if found:
            freq, row, absent = found
            out.append((f"series '{s.name}': no row for {absent.size} time stamp(s) of a {freq!r} grid, the first "
                        f"{_stamp(absent[0])} (between rows of {_stamp(idx[row])} and {_stamp(idx[row + 1])}); "
                        f"give freq: {freq} to read them as missing values", freq))
            continue
        steps = idx[1:] - idx[:-1]
        if (steps == steps[0]).all():
            continue
        k = int((steps != steps[0]).argmax())
        out.append((f"series '{s.name}': time stamps unevenly spaced (a step of {steps[0]} and then of "
                    f"{steps[k]}, from {_stamp(idx[k])} to {_stamp(idx[k + 1])})", None))
    return out


def check_irregular(series: list[Series], file: str, period: int | None) -> None:
    """Irregular stamps without `freq`: a DataWarning naming each such series and its first
    gap; a DataError where a `period` is declared, since a period counts rows and the gap
    shifts every season after it (the stamps contradict it)."""
    found = irregular(series)
    if not found:
        return
    if period is not None:
        what, freq = found[0]
        fix = f"give freq: {freq} (with missing: interpolate or ffill)" if freq else "regularise the time stamps"
        raise DataError(f"file '{file}': {what.split('; give freq')[0]}; period {period} counts rows, so after the "
                        f"gap it no longer spans one cycle: {fix}, or drop period")
    lines = [what for what, _ in found]
    more = f"; and {len(lines) - MAX_NAMED} more series" if len(lines) > MAX_NAMED else ""
    warnings.warn(DataWarning(f"file '{file}': {'; '.join(lines[:MAX_NAMED])}{more}. Without freq the rows are "
                              "read as consecutive observations"), stacklevel=2)
