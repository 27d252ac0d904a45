"""Month-end forecast: hand-made cases, interval coverage on simulated data, invariants (Hypothesis)."""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _util.forecast import Forecast, last_month_review, month_end

START = date(2026, 1, 1)


def frame(d: date, **cols) -> pd.DataFrame:
    """Days START..d x services; each column a function of the DatetimeIndex (or a constant)."""
    idx = pd.date_range(START, d)
    return pd.DataFrame({k: (v(idx) if callable(v) else np.full(len(idx), float(v))) for k, v in cols.items()},
                        index=idx)


def remaining(d: date) -> pd.DatetimeIndex:
    n = calendar.monthrange(d.year, d.month)[1]
    return pd.date_range(pd.Timestamp(d) + pd.Timedelta(days=1), pd.Timestamp(d).replace(day=n))


def mtd_of(series: pd.DataFrame, d: date) -> float:
    return float(series.loc[pd.Timestamp(d).replace(day=1):pd.Timestamp(d)].to_numpy().sum())


def test_flat_series_forecasts_the_flat_rate_with_a_tight_interval():
    d = date(2026, 6, 14)
    s = frame(d, a=100.0, b=30.0)
    f = month_end(s, d)
    assert isinstance(f, Forecast) and f.method == "model" and f.month == "2026-06"
    assert f.mtd == pytest.approx(130 * 14)
    assert f.forecast == pytest.approx(f.mtd + 130 * len(remaining(d)))
    assert f.high - f.low < 1e-6 * f.forecast
    assert [x.service for x in f.by_service] == ["a", "b"]
    assert f.by_service[0].forecast == pytest.approx(100 * 30)
    assert f.last_month_total == pytest.approx(130 * 31)  # May


def weekly(idx: pd.DatetimeIndex) -> np.ndarray:
    return np.where(idx.day_of_week >= 5, 20.0, 100.0)


@pytest.mark.parametrize("d", [date(2026, 6, 7), date(2026, 6, 14), date(2026, 7, 21)])
def test_weekday_pattern_weights_the_remaining_weekdays(d):
    s = frame(d, a=weekly)
    f = month_end(s, d)
    expected = mtd_of(s, d) + weekly(remaining(d)).sum()
    naive = f.mtd / d.day * calendar.monthrange(d.year, d.month)[1]
    assert f.forecast == pytest.approx(expected, rel=1e-9)
    assert abs(naive - expected) > 1  # the case can tell a weekday-aware forecast from the run rate


def test_step_change_follows_the_new_level():
    d = date(2026, 6, 14)
    s = frame(d, a=lambda idx: np.where(idx >= pd.Timestamp(2026, 6, 6), 200.0, 100.0))
    f = month_end(s, d)
    new_level = f.mtd + 200.0 * len(remaining(d))
    assert f.forecast == pytest.approx(new_level, rel=0.02)
    assert f.forecast > f.mtd / d.day * 30 * 1.1  # well above the run rate that still averages the old level


def test_spike_on_the_report_day_is_not_extrapolated():
    d = date(2026, 6, 14)
    s = frame(d, a=lambda idx: np.where(idx == pd.Timestamp(d), 1000.0, 100.0))
    f = month_end(s, d)
    assert f.mtd == pytest.approx(13 * 100 + 1000)
    assert f.forecast == pytest.approx(f.mtd + 100.0 * len(remaining(d)))


def fee(day: int, usd: float):
    return lambda idx: np.where(idx.day == day, usd, 0.0)


def test_monthly_fee_on_the_first_is_counted_once():
    d = date(2026, 6, 14)
    s = frame(d, a=100.0, Support=fee(1, 500.0))
    f = month_end(s, d)
    assert f.forecast == pytest.approx(f.mtd + 100.0 * len(remaining(d)))
    support = next(x for x in f.by_service if x.service == "Support")
    assert support.mtd == support.forecast == pytest.approx(500.0)


def test_charges_are_the_recurring_monthly_excess_and_nothing_else():
    """The model takes out what recurs on one day of every month (the fee on the 1st); a one-off jump stays in."""
    from _util.forecast import _charges

    idx = pd.date_range(date(2026, 3, 1), date(2026, 6, 14))
    rng = np.random.default_rng(3)
    values = 100.0 + rng.normal(0, 2.0, len(idx))
    values[idx.day == 1] += 500.0
    one_off = idx.get_loc(pd.Timestamp(2026, 5, 20))
    values[one_off] += 300.0
    got = _charges(values[:, None], idx)[:, 0]
    firsts = np.asarray(idx.day == 1)
    assert np.all(got[firsts] == pytest.approx(500.0, abs=10.0))  # the excess over the day's neighbours
    assert not got[~firsts].any()  # nothing else, the one-off day included


def test_monthly_fee_still_to_come_is_added_once():
    d = date(2026, 6, 10)
    s = frame(d, a=100.0, Support=fee(15, 500.0))
    f = month_end(s, d)
    assert f.forecast == pytest.approx(f.mtd + 100.0 * len(remaining(d)) + 500.0)


def test_incomplete_report_day_does_not_set_the_level():
    d = date(2026, 6, 14)
    s = frame(d, a=lambda idx: np.where(idx == pd.Timestamp(d), 10.0, 100.0))  # d not yet complete
    f = month_end(s, d, estimated_dates=pd.date_range("2026-06-01", d).date)  # the whole month estimated, as CE
    assert f.forecast == pytest.approx(f.mtd + 100.0 * len(remaining(d)))


def test_too_little_history_falls_back_to_the_run_rate_and_says_so():
    d = date(2026, 1, 20)
    s = frame(d, a=weekly)
    f = month_end(s, d)
    assert f.method == "run_rate" and "run rate" in f.note
    assert f.forecast == pytest.approx(f.mtd / 20 * 31)
    assert f.low <= f.forecast <= f.high and f.last_month_total is None
    (a,) = f.by_service  # each column has its own interval (a team's budget reads it), not a point
    assert a.low < a.forecast < a.high and a.low >= a.mtd


def test_missing_report_day_is_an_error():
    s = frame(date(2026, 6, 10), a=1.0)
    with pytest.raises(ValueError):
        month_end(s, date(2026, 6, 11))


@pytest.mark.slow  # 200 simulated months (3 s)
def test_interval_covers_about_80_percent_on_simulated_data():
    rng = np.random.default_rng(7)
    hits = []
    for _ in range(200):
        idx = pd.date_range(START, date(2026, 12, 31))
        level = 200 * np.exp(np.cumsum(rng.normal(0, 0.004, len(idx))))  # slow random-walk drift
        values = level * np.where(idx.day_of_week >= 5, 0.7, 1.1) * (1 + 0.05 * rng.standard_normal(len(idx)))
        s = pd.DataFrame({"a": values, "b": rng.gamma(4.0, 10.0, len(idx))}, index=idx)
        month = int(rng.integers(7, 13))
        d = date(2026, month, int(rng.choice([7, 14, 21])))
        n = calendar.monthrange(2026, month)[1]
        actual = float(s.loc[pd.Timestamp(d).replace(day=1):pd.Timestamp(2026, month, n)].to_numpy().sum())
        f = month_end(s.loc[:pd.Timestamp(d)], d)
        hits.append(f.low <= actual <= f.high)
    # 200 draws: the share's standard error is about 0.03, so 72-88% is the 75-85% at about 2.8 sigma.
    assert 0.72 <= np.mean(hits) <= 0.88, np.mean(hits)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.integers(1, 150), services=st.integers(1, 3), seed=st.integers(0, 2**32 - 1),
       zeros=st.floats(0, 0.9))
def test_forecast_is_at_least_mtd_and_inside_its_interval(days, services, seed, zeros):
    rng = np.random.default_rng(seed)
    d = date(2026, 5, 1) + pd.Timedelta(days=int(rng.integers(0, 60)))
    idx = pd.date_range(pd.Timestamp(d) - pd.Timedelta(days=days - 1), d)
    values = rng.lognormal(3, 1.5, (days, services)) * (rng.random((days, services)) >= zeros)
    values[: int(rng.integers(0, days)), 0] = np.nan  # a service that started later
    f = month_end(pd.DataFrame(values, index=idx, columns=[f"s{i}" for i in range(services)]), d)
    assert f.forecast >= f.mtd - 1e-9
    assert f.low <= f.forecast + 1e-9 and f.forecast <= f.high + 1e-9
    for x in f.by_service:
        assert x.mtd - 1e-9 <= x.forecast and x.low <= x.forecast + 1e-9 <= x.high + 2e-9


def test_no_services_forecasts_nothing():
    d = date(2026, 6, 14)
    f = month_end(pd.DataFrame(index=pd.date_range(START, d)), d)
    assert f.forecast == f.mtd == 0 and f.by_service == [] and f.low <= f.forecast <= f.high


# ---- last month's review (the month's first days) -----------------------------------------------------------------

def late_may_rise(idx: pd.DatetimeIndex) -> np.ndarray:
    """100/day, 130/day from May 20: May closes above what was forecast on May 14."""
    return np.where(idx >= pd.Timestamp(2026, 5, 20), 130.0, 100.0)


@pytest.mark.parametrize("d", [date(2026, 6, 1), date(2026, 6, 3), date(2026, 6, 7)])
def test_last_month_review_in_the_first_week_compares_the_total_with_the_forecast_of_the_14th(d):
    s = frame(d, a=late_may_rise)
    review = last_month_review(s, d, estimated_dates=[date(2026, 5, 30), date(2026, 5, 31), date(2026, 6, 1)])
    may_total = 19 * 100.0 + 12 * 130.0
    assert review is not None and review.month == "2026-05" and review.forecast_on == date(2026, 5, 14)
    assert review.total == pytest.approx(may_total)
    assert review.estimated_days == 2  # June 1 is not May's
    made_then = month_end(s, date(2026, 5, 14))  # the same model, as of May 14
    assert (review.forecast, review.low, review.high) == pytest.approx((made_then.forecast, made_then.low,
                                                                         made_then.high))
    assert review.forecast == pytest.approx(3100.0)  # flat until the 14th: 31 x 100
    assert review.error == pytest.approx(may_total / 3100.0 - 1)
    assert review.within_interval is (review.low <= may_total <= review.high)
    assert not review.within_interval  # the rise came after the 14th: outside a tight flat-history interval


def test_last_month_review_is_deterministic_and_none_after_the_first_week():
    s = frame(date(2026, 6, 10), a=late_may_rise)
    assert last_month_review(s, date(2026, 6, 3)) == last_month_review(s, date(2026, 6, 3))
    assert last_month_review(s, date(2026, 6, 8)) is None
    assert last_month_review(s, date(2026, 6, 10)) is None


def test_last_month_review_needs_last_month_from_its_first_day():
    s = frame(date(2026, 6, 2), a=100.0).loc["2026-05-05":]
    assert last_month_review(s, date(2026, 6, 2)) is None


def test_last_month_review_of_a_flat_month_is_inside_its_interval():
    d = date(2026, 3, 2)  # February: 28 days, forecast on the 14th
    review = last_month_review(frame(d, a=50.0), d)
    assert review.total == pytest.approx(28 * 50.0) and review.forecast == pytest.approx(28 * 50.0)
    assert review.within_interval and review.estimated_days == 0
