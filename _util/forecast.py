"""Month-end forecast: month to date + a weekday-aware, spike-robust forecast of the month's remaining days (USD).

Pure: takes the days x services matrix (Analysis.series) and the report date; never reads env, clock or network.

Model, per service (all services at once, vectorised):
- recurring monthly charges (a fee on the same day of the month, e.g. Tax or Support on the 1st) are taken out of
  the series first: a day is a charge when its excess over a centred 7-day median stands out of the service's noise
  and the same day of the previous or next month stood out too. They are counted once in month to date and, for the
  remaining days, added back only on their day of the month (last month's charge), never extrapolated;
- weekly profile: the median of each weekday over the last 5 weeks, as an additive offset from their mean;
- level: the trimmed mean (highest and lowest dropped) of the last 7 days with the profile taken out (a spike on d
  is dropped; a step change 4+ days old is mostly followed);
- trend: half the Theil-Sen slope of the 5 weekly medians (damped: a step must not become a runaway trend);
- remaining day t: level + slope x days ahead + profile[weekday(t)] (+ the charge on t's day of the month), floored
  at 0 for services that never had a negative (credit) day.

80% interval: the empirical distribution of this same method's errors over the same horizon (the remaining days of
the month), from every past origin in the history with enough data (rolling origins, not only month ends, so a
year of history gives hundreds of samples rather than a dozen). The 10th and 90th percentiles of the relative
error of the remaining-days sum widen the forecast of the remaining days. Unlike a residual bootstrap this keeps
the errors' day-to-day correlation (level drift) that dominates a multi-week sum, so coverage is honest.
With too little history the naive run rate (month to date / days x days in month) is returned, said in `note`.
"""

from __future__ import annotations

import calendar
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

PROFILE_WEEKS = 5
LEVEL_DAYS = 7
MIN_ORIGINS = 20  # past origins needed for an empirical interval
MAX_ORIGINS = 365
TREND_DAMP = 0.5  # share of the recent weekly slope carried forward
CHARGE_K = 5.0  # a charge stands out by this many robust sigmas of the service's day-to-day noise


@dataclass(frozen=True)
class ServiceForecast:
    service: str
    mtd: float  # USD, month to date
    forecast: float  # USD, month end
    low: float
    high: float


@dataclass(frozen=True)
class Estimate:
    """One month-end forecast (USD) and its interval, for side-by-side comparison (model vs Cost Explorer)."""

    forecast: float
    low: float
    high: float


@dataclass(frozen=True)
class LastMonth:
    """Last month's (near-)final total against the model's forecast of it as made on its 14th (USD)."""

    month: str  # "YYYY-MM"
    total: float  # the stored costs of every day of last month
    estimated_days: int  # of them, still Estimated (0: the bill is final)
    forecast_on: date  # the day the forecast is made as of (last month's REVIEW_FORECAST_DAY)
    forecast: float
    low: float
    high: float
    interval: float
    method: str  # "model" | "run_rate"

    @property
    def within_interval(self) -> bool:
        """The total lies in [low, high], compared to the cent (as the figures are shown)."""
        return round(self.low, 2) <= round(self.total, 2) <= round(self.high, 2)

    @property
    def error(self) -> float | None:
        """total / forecast - 1 (None when the forecast is not above 0)."""
        return self.total / self.forecast - 1 if self.forecast > 0 else None


@dataclass(frozen=True)
class Forecast:
    month: str  # "YYYY-MM"
    mtd: float  # USD, first of the month to d
    forecast: float  # USD, month-end total
    low: float  # USD, interval bounds
    high: float
    interval: float  # the interval's probability (0.8)
    method: str  # "model" | "run_rate"
    last_month_total: float | None  # USD, None when the history does not cover last month
    by_service: list[ServiceForecast] = field(default_factory=list)  # most expensive forecast first
    note: str = ""
    last_month: LastMonth | None = None  # in the month's first days: how last month closed vs its forecast
    compared: dict[str, Estimate] = field(default_factory=dict)  # FORECAST_SOURCE=ce: {"model": …, "ce": …}
    daily: tuple[float, ...] = ()  # USD, the forecast of each remaining day (d + 1 … month end), all services
    fallback: str = ""  # FORECAST_SOURCE=ce, Cost Explorer's forecast not used: why ("ce: DataUnavailableException")


def _nanmedian(a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (a service not yet started) -> NaN
        return np.nanmedian(a, axis=axis)


def _charges(values: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
    """USD of recurring monthly charges (days x services): excess on days whose day of the month recurs."""
    frame = pd.DataFrame(values)
    base = frame.rolling(7, center=True, min_periods=1).median().to_numpy()
    excess = np.nan_to_num(values - base)
    diff = np.abs(np.diff(np.nan_to_num(values), axis=0))
    noise = 1.4826 * np.median(diff, axis=0) / np.sqrt(2) if len(diff) else np.zeros(values.shape[1])
    # A floor relative to the level keeps exact (noise-free) series from flagging every wiggle.
    floor = 0.05 * np.abs(np.nan_to_num(_nanmedian(values, 0)))
    stands = excess > np.maximum(CHARGE_K * noise, floor)[None, :] + 1e-9
    recurs = np.zeros_like(stands)
    pos = np.arange(len(index))
    for months in (-1, 1):
        other = index + pd.DateOffset(months=months)
        same_day = np.asarray(other.day == index.day)
        j = pos + np.asarray((other - index).days)
        ok = same_day & (j >= 0) & (j < len(index))
        recurs[ok] |= stands[j[ok]]
    return np.where(stands & recurs, excess, 0.0)


def _predict(window: np.ndarray, horizon: int) -> np.ndarray:
    """(..., 35 days) -> (..., horizon days) forecast of the days after the window: level + weekday profile."""
    n = PROFILE_WEEKS * 7
    weeks = window[..., -n:].reshape(*window.shape[:-1], PROFILE_WEEKS, 7)
    med = _nanmedian(weeks, -2)  # (..., 7): phase p = position mod 7 in the window
    offset = med - _nanmedian(med, -1)[..., None]
    offset = np.nan_to_num(offset)
    last = window[..., -LEVEL_DAYS:] - offset[..., (n - LEVEL_DAYS + np.arange(LEVEL_DAYS)) % 7]
    # Trimmed mean (drop the day's highest and lowest): as robust to one spike as the median, less noisy.
    full = ~np.isnan(last).any(axis=-1)
    trimmed = np.sort(np.nan_to_num(last), axis=-1)[..., 1:-1].mean(axis=-1)
    level = np.where(full, trimmed, np.nan_to_num(_nanmedian(last, -1)))
    slope = 0.0
    if TREND_DAMP:
        # Theil-Sen slope (USD/day) of the weekly medians of the deseasonalised window, damped.
        wk = _nanmedian(weeks - offset[..., None, :], -1)  # (..., PROFILE_WEEKS)
        i, j = np.triu_indices(PROFILE_WEEKS, 1)
        slope = TREND_DAMP * np.nan_to_num(_nanmedian((wk[..., j] - wk[..., i]) / (7.0 * (j - i)), -1))[..., None]
    ahead = LEVEL_DAYS / 2 + np.arange(horizon)  # the level is the median of the last 7 days: centred 3.5 days back
    return level[..., None] + slope * ahead + offset[..., np.arange(horizon) % 7]


def _run_rate(month: pd.DataFrame, last_month_total, n_days: int, interval: float, note: str) -> Forecast:
    k = len(month)
    mtd = month.sum(axis=0).to_numpy()
    fc = mtd / k * n_days
    total = month.sum(axis=1).to_numpy()
    # Interval from the month's own day-to-day spread (normal, independent days): rough, said in the note.
    scale = np.sqrt(n_days - k) * _z(interval)
    spread = (np.std(total, ddof=1) if k > 1 else abs(total[0])) * scale
    # Each column (service, or team: its budget reads this) gets the same rough interval from its own spread.
    values = month.to_numpy(dtype=float)
    col_spread = (np.std(values, axis=0, ddof=1) if k > 1 else np.abs(values[0])) * scale
    by = [ServiceForecast(str(s), float(m), float(f), float(min(max(f - w, m), f)), float(f + w))
          for s, m, f, w in zip(month.columns, mtd, fc, col_spread, strict=True)]
    by.sort(key=lambda x: (-x.forecast, x.service))
    tot = float(fc.sum())
    return Forecast(month=month.index[0].strftime("%Y-%m"), mtd=float(mtd.sum()), forecast=tot,
                    low=min(max(tot - spread, float(mtd.sum())), tot), high=tot + spread, interval=interval,
                    method="run_rate", last_month_total=last_month_total, by_service=by, note=note,
                    daily=(float(total.sum()) / k,) * (n_days - k))


def _z(p: float) -> float:
    """Two-sided normal quantile for central probability p."""
    return NormalDist().inv_cdf(0.5 + p / 2)


def month_end(series: pd.DataFrame, report_date: date, *, estimated_dates=(), interval: float = 0.8) -> Forecast:
    """Forecast of d's month-end cost (USD), total and per service, with a central `interval` prediction interval.

    Estimated days count as they stand: Cost Explorer marks the whole current month estimated, so leaving them out
    would leave nothing; a day not yet complete is the lowest of the level's 7 and so trimmed away.
    `estimated_dates` is accepted for the callers' one signature and not used by this model."""
    d = pd.Timestamp(report_date)
    hist = series.loc[:d].astype(float)
    if len(hist.index) == 0 or hist.index[-1] != d:
        raise ValueError(f"series has no row for {report_date}")
    start = d.replace(day=1)
    n_days = calendar.monthrange(d.year, d.month)[1]
    k = d.day
    r = n_days - k
    month = hist.loc[start:].fillna(0.0)
    prev_start = start - pd.DateOffset(months=1)
    known = hist.notna().any(axis=1)
    covered = bool(len(hist)) and hist.index[0] <= prev_start and bool(known.loc[:prev_start].any())
    last_month_total = float(np.nansum(hist.loc[prev_start:start - pd.Timedelta(days=1)].to_numpy())) \
        if covered else None

    values = hist.to_numpy()
    first = int(np.argmax(known.to_numpy())) if known.any() else len(hist)
    n_hist = len(hist) - first
    need = PROFILE_WEEKS * 7 + r + MIN_ORIGINS
    if n_hist < need:
        return _run_rate(month, last_month_total, n_days, interval,
                         f"run rate: {n_hist} days of history, the model needs {need} for day {k} of the month")

    charges = _charges(values, hist.index)
    clean = values - charges

    n = PROFILE_WEEKS * 7
    rem = np.zeros((r, values.shape[1]))
    if r:
        rem = _predict(clean[-n:].T, r).T  # (r, services)
        # Charges on the remaining days' day of the month: last month's, counted once.
        future = pd.date_range(d + pd.Timedelta(days=1), periods=r)
        back = future - pd.DateOffset(months=1)
        pos = np.asarray((back - hist.index[0]).days)
        ok = np.asarray(back.day == future.day) & (pos >= 0)
        rem[ok] += charges[pos[ok]]
    never_negative = ~(np.nan_to_num(values) < 0).any(axis=0)
    rem = np.where(never_negative[None, :], np.maximum(rem, 0.0), rem)
    mtd = month.sum(axis=0).to_numpy()
    fc = mtd + rem.sum(axis=0)

    # Empirical errors of the same method over the same horizon from rolling past origins.
    lo_q, hi_q = (1 - interval) / 2, 1 - (1 - interval) / 2
    low, high = fc.copy(), fc.copy()
    if r:
        win = sliding_window_view(clean[first:], n + r, axis=0)  # (origins, services, n + r)
        win = win[-MAX_ORIGINS:]
        pred = np.nansum(_predict(win[..., :n], r), axis=-1)  # (origins, services)
        actual = np.nansum(np.nan_to_num(win[..., n:]), axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(pred > 0, actual / pred - 1, np.nan)
            rel_total = np.where(pred.sum(axis=1) > 0, actual.sum(axis=1) / pred.sum(axis=1) - 1, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a service never forecast above 0: no relative error
            q_lo, q_hi = np.nan_to_num(np.nanquantile(rel, [lo_q, hi_q], axis=0))
            t_lo, t_hi = np.nan_to_num(np.nanquantile(rel_total, [lo_q, hi_q]))
        rs = rem.sum(axis=0)
        low = mtd + rs * (1 + np.minimum(q_lo, 0))
        high = mtd + rs * (1 + np.maximum(q_hi, 0))
        total_rem = float(rs.sum())
        tot_low = float(mtd.sum()) + total_rem * (1 + min(float(t_lo), 0.0))
        tot_high = float(mtd.sum()) + total_rem * (1 + max(float(t_hi), 0.0))
    else:
        tot_low = tot_high = float(fc.sum())
    by = [ServiceForecast(str(s), float(m), float(f), float(lo), float(hi))
          for s, m, f, lo, hi in zip(hist.columns, mtd, fc, low, high, strict=True)
          if m != 0 or f != 0]
    by.sort(key=lambda x: (-x.forecast, x.service))
    return Forecast(month=start.strftime("%Y-%m"), mtd=float(mtd.sum()), forecast=float(fc.sum()),
                    low=tot_low, high=tot_high, interval=interval, method="model",
                    last_month_total=last_month_total, by_service=by, daily=tuple(map(float, rem.sum(axis=1))))


REVIEW_THROUGH_DAY = 7  # last month's review is shown on days 1..7 (its bill is usually final by day 5-7)
REVIEW_FORECAST_DAY = 14  # ... against the forecast as made on last month's 14th


def last_month_review(series: pd.DataFrame, report_date: date, *, estimated_dates=(), interval: float = 0.8,
                      through_day: int = REVIEW_THROUGH_DAY, forecast_day: int = REVIEW_FORECAST_DAY
                      ) -> LastMonth | None:
    """How last month closed (USD) against this model's forecast of it as of its `forecast_day`, shown on days
    1..through_day of d's month (None after, or when the history does not cover last month from its 1st).

    The forecast is recomputed from the stored history as it is now (deterministic; Estimated days since revised
    count as revised), not read back from what an earlier report said."""
    if report_date.day > through_day:
        return None
    first = report_date.replace(day=1)
    last_end = first - timedelta(days=1)
    last_start = last_end.replace(day=1)
    on = last_start.replace(day=min(forecast_day, last_end.day))
    index = series.index
    if len(index) == 0 or index[0] > pd.Timestamp(last_start) or pd.Timestamp(last_end) not in index:
        return None
    f = month_end(series, on, interval=interval)
    total = float(np.nansum(series.loc[pd.Timestamp(last_start):pd.Timestamp(last_end)].to_numpy(dtype=float)))
    estimated = sum(1 for x in estimated_dates if last_start <= x <= last_end)
    return LastMonth(month=last_start.strftime("%Y-%m"), total=total, estimated_days=estimated, forecast_on=on,
                     forecast=f.forecast, low=f.low, high=f.high, interval=interval, method=f.method)
