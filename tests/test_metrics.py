"""The alert definitions (DESIGN.md "Definitions") on hand-made series, against independent computations, and
as Hypothesis properties."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from _util import metrics
from _util.metrics import NoDataError, analyse, build_series, detect_spikes, detect_trends
from _util.model import AlertParams, CostMatrix, FirstSeen

D = date(2026, 11, 25)
RAW = AlertParams(trend_filter=False, monthly_charge_filter=False)  # DESIGN "Definitions" exactly


def frame(columns: dict[str, list[float]], end: date = D) -> pd.DataFrame:
    """days x services ending at `end` (NaN = no data yet)."""
    n = max(len(v) for v in columns.values())
    index = pd.date_range(end=pd.Timestamp(end), periods=n, freq="D")
    data = {k: [np.nan] * (n - len(v)) + list(v) for k, v in columns.items()}
    return pd.DataFrame(data, index=index, dtype="float64")


def long(rows: list[tuple[date, str, str, float]], estimated: bool = False) -> pd.DataFrame:
    """A frame shaped like db.load_costs."""
    out = pd.DataFrame(rows, columns=["usage_date", "service", "breakdown", "amount"])
    out["usage_date"] = pd.to_datetime(out["usage_date"])
    out["amount"] = out["amount"].astype("float64")
    out["estimated"] = estimated
    return out


# --- build_series ------------------------------------------------------------------------------

def test_build_series_sums_breakdowns_fills_gaps_and_starts_at_first_cost():
    rows = [(D - timedelta(days=4), "A", "acct1", 1.0), (D - timedelta(days=4), "A", "acct2", 2.0),
            (D - timedelta(days=1), "A", "acct1", 4.0), (D, "A", "", 5.0),
            (D - timedelta(days=3), "B", "", 0.0), (D - timedelta(days=2), "B", "", 7.0), (D, "B", "", 1.0),
            (D - timedelta(days=2), "Zero", "", 0.0), (D, "Zero", "", 0.0),
            (D - timedelta(days=30), "Old", "", 9.0)]  # outside a 10-day window
    s = build_series(long(rows), D, 10)
    assert list(s.columns) == ["A", "B"]  # all-zero and out-of-window services dropped
    assert s.index[0] == pd.Timestamp(D - timedelta(days=10)) and s.index[-1] == pd.Timestamp(D)
    assert s.index.freqstr == "D" and (s.dtypes == "float64").all()
    assert s["A"].tolist()[-5:] == [3.0, 0.0, 0.0, 4.0, 5.0]
    assert s["A"].iloc[:-5].isna().all()
    # B's zero row on d-3 is before its first nonzero day: still "no data yet".
    assert s["B"].iloc[:-3].isna().all() and s["B"].tolist()[-3:] == [7.0, 0.0, 1.0]


def test_build_series_keeps_negative_credit_days():
    rows = [(D - timedelta(days=2), "A", "", -3.0), (D - timedelta(days=1), "A", "", 2.0), (D, "A", "", 2.0)]
    s = build_series(long(rows), D, 5)
    assert s["A"].tolist()[-3:] == [-3.0, 2.0, 2.0]


def test_build_series_raises_when_d_has_no_rows():
    rows = [(D - timedelta(days=1), "A", "", 1.0)]
    with pytest.raises(NoDataError, match="no cost data for 2026-11-25 — run procAmzData.py first"):
        build_series(long(rows), D, 30)


def test_build_series_raises_when_d_is_before_any_data():
    rows = [(D + timedelta(days=3), "A", "", 1.0)]
    with pytest.raises(NoDataError, match="on or before 2026-11-25.*earliest stored day is 2026-11-28"):
        build_series(long(rows), D, 30)
    with pytest.raises(NoDataError, match="no cost data"):
        build_series(long([]), D, 30)


def test_build_series_matches_pivot_on_random_long_frame():
    """Amounts carry the stored 10 decimals (db.ExactAmount); their sums must match a pandas pivot."""
    rng = np.random.default_rng(5)
    n = 3000
    dates = pd.Timestamp(D) - pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    df = pd.DataFrame({"usage_date": dates, "service": rng.choice(list("ABCDEFG"), n),
                       "breakdown": rng.choice(["x", "y", ""], n), "amount": rng.gamma(2.0, 3.0, n).round(10),
                       "estimated": False})
    df.loc[len(df)] = [pd.Timestamp(D), "A", "", 1.0, False]
    s = build_series(df, D, 40)
    window = df[df.usage_date >= pd.Timestamp(D) - pd.Timedelta(days=40)]
    ref = window.pivot_table(index="usage_date", columns="service", values="amount", aggfunc="sum")
    ref = ref.reindex(s.index).fillna(0.0)
    first = ref.ne(0).idxmax()
    for name in s.columns:
        expected = ref[name].where(ref.index >= first[name])
        np.testing.assert_allclose(s[name].to_numpy(), expected.to_numpy(), rtol=1e-12, equal_nan=True)


# --- spikes ------------------------------------------------------------------------------------

def test_flat_series_never_spikes():
    s = frame({"A": [10.0] * 40})
    assert detect_spikes(s, D, RAW) == []


def test_one_outlier_is_an_up_spike_with_its_figures():
    base = [10.0 + (i % 3) for i in range(30)]  # 10, 11, 12, ...
    s = frame({"A": base + [30.0]})
    (sp,) = detect_spikes(s, D, RAW)
    mean, std = np.mean(base), np.std(base, ddof=1)
    assert sp.direction == "up" and sp.service == "A" and sp.history_days == 30
    assert sp.cost == 30.0 and sp.mean == pytest.approx(mean) and sp.std == pytest.approx(std)
    assert sp.zscore == pytest.approx((30 - mean) / std) and sp.delta == pytest.approx(30 - mean)


def test_drop_is_a_down_spike_even_to_zero():
    base = [100.0 + (i % 2) for i in range(30)]
    (sp,) = detect_spikes(frame({"A": base + [0.0]}), D, RAW)
    assert sp.direction == "down" and sp.cost == 0.0 and sp.zscore < -3 and sp.delta < -100


def test_min_delta_blocks_small_moves_with_big_z():
    base = [1.0 + 0.01 * (i % 2) for i in range(30)]
    s = frame({"A": base + [2.0]})  # z ~ 200 but only +$1
    assert detect_spikes(s, D, replace(RAW, spike_min_delta_usd=5.0)) == []
    assert len(detect_spikes(s, D, replace(RAW, spike_min_delta_usd=0.5))) == 1


def test_new_service_needs_min_history_days():
    params = replace(RAW, min_history_days=14, spike_min_delta_usd=0.0)
    young = frame({"A": [1.0, 1.1] * 6 + [1.0, 50.0]})  # 13 baseline days
    old = frame({"A": [1.0, 1.1] * 7 + [50.0]})  # 14 baseline days
    assert detect_spikes(young, D, params) == []
    assert len(detect_spikes(old, D, params)) == 1


def test_baseline_excludes_d():
    base = [10.0, 12.0] * 10
    (sp,) = detect_spikes(frame({"A": base + [40.0]}), D, replace(RAW, spike_min_delta_usd=0.0))
    assert sp.mean == pytest.approx(11.0) and sp.std == pytest.approx(np.std(base, ddof=1))


@pytest.mark.parametrize("last, direction", [(15.0, "up"), (5.0, "down")])
def test_std_zero_gives_null_z_and_min_delta_decides(last, direction):
    s = frame({"A": [10.1] * 30 + [last]})  # 10.1 is not exact in binary: the std must still be exactly 0
    (sp,) = detect_spikes(s, D, replace(RAW, spike_min_delta_usd=4.0))
    assert sp.zscore is None and sp.std == 0.0 and sp.direction == direction
    assert detect_spikes(s, D, replace(RAW, spike_min_delta_usd=100.0)) == []


def test_exactly_at_threshold_fires_and_just_below_does_not():
    # 17 x 10, one 13 and one 7: mean 10, std exactly 1 (18 / 18).
    base = [10.0] * 17 + [13.0, 7.0]
    params = replace(RAW, spike_z_threshold=3.5, spike_min_delta_usd=3.5, min_history_days=14)
    (sp,) = detect_spikes(frame({"A": base + [13.5]}), D, params)
    assert sp.zscore == 3.5 and sp.delta == 3.5
    assert detect_spikes(frame({"A": base + [13.499]}), D, params) == []
    (down,) = detect_spikes(frame({"A": base + [6.5]}), D, params)
    assert down.direction == "down" and down.zscore == -3.5


def test_min_daily_cost_uses_the_larger_of_cost_and_mean():
    params = replace(RAW, min_daily_cost_usd=1.0, spike_min_delta_usd=0.0)
    tiny = frame({"A": [0.1, 0.12] * 10 + [0.9]})  # cost on d and mean both < $1
    assert detect_spikes(tiny, D, params) == []
    gone = frame({"A": [5.0, 5.2] * 10 + [0.0]})  # dropped to 0, mean $5: still a down spike
    assert [s.direction for s in detect_spikes(gone, D, params)] == ["down"]


def test_negative_day_and_gaps_are_handled():
    values = [10.0, 0.0, 11.0, -20.0, 10.0, 0.0, 12.0] * 4 + [60.0]
    s = frame({"A": values})
    (sp,) = detect_spikes(s, D, replace(RAW, spike_min_delta_usd=0.0, spike_z_threshold=2.0))
    base = np.array(values[:-1])
    assert sp.mean == pytest.approx(base.mean()) and sp.std == pytest.approx(base.std(ddof=1))


def test_spikes_sorted_by_dollars_away_from_normal_up_or_down():
    """The biggest $ surprise first, whatever the direction or the service's size."""
    s = frame({"cheap": [1.0, 1.1] * 10 + [30.0], "dear": [100.0, 101.0] * 10 + [140.0],
               "drop": [500.0, 501.0] * 10 + [100.0], "mid": [10.0, 11.0] * 10 + [60.0]})
    assert [x.service for x in detect_spikes(s, D, RAW)] == ["drop", "mid", "dear", "cheap"]


def test_spikes_match_scipy_on_random_data():
    rng = np.random.default_rng(11)
    values = rng.lognormal(3, 0.5, (120, 300))
    values[:50, :40] = np.nan  # late starters
    values[-1, ::7] *= 4
    s = pd.DataFrame(values, index=pd.date_range(end=pd.Timestamp(D), periods=120, freq="D"),
                     columns=[f"s{i}" for i in range(300)])
    params = AlertParams(spike_z_threshold=2.0, spike_min_delta_usd=3.0)
    got = {x.service: x for x in detect_spikes(s, D, params)}
    expected = set()
    for name in s.columns:
        col = s[name].dropna().to_numpy()
        base, cost = col[:-1], col[-1]
        mean, std = np.mean(base), stats.tstd(base)  # scipy's sample std (ddof = 1)
        zz = (cost - mean) / std
        if (zz >= 2 and cost - mean >= 3) or (zz <= -2 and mean - cost >= 3):
            expected.add(name)
            assert got[name].zscore == pytest.approx(zz, rel=1e-9)
            assert got[name].std == pytest.approx(std, rel=1e-9) and got[name].mean == pytest.approx(mean)
    assert set(got) == expected and len(expected) > 40


# --- trends ------------------------------------------------------------------------------------

def naive_crossovers(s: pd.DataFrame, params: AlertParams) -> dict[str, str]:
    """Crossovers at the last day, one service at a time, pandas ewm and a plain comparison."""
    out = {}
    for name in s.columns:
        col = s[name].dropna()
        if len(col) - 1 < params.min_history_days:
            continue
        fast = col.ewm(span=params.macd_fast, adjust=False).mean()
        slow = col.ewm(span=params.macd_slow, adjust=False).mean()
        macd = fast - slow
        sig = macd.ewm(span=params.macd_signal, adjust=False).mean()
        m0, m1, s0, s1 = macd.iloc[-2], macd.iloc[-1], sig.iloc[-2], sig.iloc[-1]
        if m0 <= s0 and m1 > s1:
            out[name] = "up"
        elif m0 >= s0 and m1 < s1:
            out[name] = "down"
    return out


def random_walks(n: int, days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = 100 * np.exp(np.cumsum(rng.normal(0, 0.05, (days, n)), axis=0))
    starts = rng.integers(0, days - 20, n)
    values[np.arange(days)[:, None] < starts[None, :]] = np.nan
    return pd.DataFrame(values, index=pd.date_range(end=pd.Timestamp(D), periods=days, freq="D"),
                        columns=[f"s{i:03d}" for i in range(n)])


def test_macd_and_signal_match_pandas_ewm():
    s = random_walks(50, 200, 3)
    macd, sig = metrics.macd_last(s.to_numpy(), 12, 26, 18, keep=200)
    for i, name in enumerate(s.columns):
        col = s[name]
        ref = col.ewm(span=12, adjust=False).mean() - col.ewm(span=26, adjust=False).mean()
        ref_sig = ref.ewm(span=18, adjust=False).mean()
        np.testing.assert_allclose(macd[:, i], ref.to_numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(sig[:, i], ref_sig.to_numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_raw_crossovers_match_a_naive_loop(seed):
    s = random_walks(400, 150, seed)
    got = {t.service: t.direction for t in detect_trends(s, D, RAW)}
    assert got == naive_crossovers(s, RAW) and len(got) > 10


def test_raw_crossovers_with_other_spans():
    params = replace(RAW, macd_fast=5, macd_slow=20, macd_signal=9)
    s = random_walks(300, 120, 9)
    assert {t.service: t.direction for t in detect_trends(s, D, params)} == naive_crossovers(s, params)


def test_trend_figures():
    values = [100.0] * 60 + [100.0 + 5 * i for i in range(1, 6)]
    s = frame({"A": values})
    (t,) = detect_trends(s.iloc[:61], s.index[60].date(), RAW)  # first day of the rise: MACD leaves 0
    col = s["A"].iloc[:61]
    assert t.direction == "up" and t.macd > t.signal > 0
    assert t.cost == 105.0 and t.avg7 == pytest.approx(col.iloc[-7:].mean())
    assert t.avg28 == pytest.approx(col.iloc[-28:].mean())


def test_flat_and_too_young_series_have_no_trend():
    assert detect_trends(frame({"A": [7.0] * 80}), D, RAW) == []
    assert detect_trends(frame({"A": [1.0, 2.0, 5.0]}), D, RAW) == []  # 2 baseline days < 14


def test_filter_off_is_exactly_raw_and_filter_on_is_quieter_on_noise():
    rng = np.random.default_rng(4)
    days = 200
    weekly = 1 + 0.2 * (np.arange(days) % 7 >= 5)[:, None]
    values = 50 * weekly * rng.lognormal(0, 0.05, (days, 500))
    s = pd.DataFrame(values, index=pd.date_range(end=pd.Timestamp(D), periods=days, freq="D"),
                     columns=[f"s{i}" for i in range(500)])
    raw = detect_trends(s, D, RAW)
    filtered = detect_trends(s, D, AlertParams())
    assert {t.service: t.direction for t in raw} == naive_crossovers(s, RAW)
    assert len(raw) > 50 and len(filtered) <= len(raw) // 10


def test_filter_reports_a_real_turn_in_the_right_direction():
    rng = np.random.default_rng(8)
    rise = [100 * (1 + 0.03 * i) for i in range(60)]
    fall = [rise[-1] - 3 * i for i in range(1, 15)]
    values = np.array(rise + fall) * rng.lognormal(0, 0.02, len(rise) + len(fall))
    s = frame({"A": list(values)})
    found = []
    for k in range(len(rise), len(values)):
        window = s.iloc[: k + 1]
        found += [(k - len(rise), t.direction) for t in detect_trends(window, window.index[-1].date(), AlertParams())]
    assert found and found[0][1] == "down" and found[0][0] <= 10
    assert all(direction == "down" for _, direction in found)


def test_filter_needs_the_dollar_floor():
    values = [0.5] * 60 + [0.5 * (1 + 0.05 * i) for i in range(1, 15)]
    s = frame({"A": values})
    hits = [t for k in range(60, len(values)) for t in detect_trends(s.iloc[: k + 1], s.index[k].date(),
                                                                      AlertParams())]
    assert hits == []  # a $0.35/day rise on a $0.50 service is below TREND_MIN_DELTA_USD


# --- totals ------------------------------------------------------------------------------------

def month_frame() -> pd.DataFrame:
    index = pd.date_range("2026-09-20", "2026-11-03", freq="D")
    a = pd.Series(1.0, index=index)
    b = pd.Series(np.nan, index=index)
    b.loc["2026-11-02":] = [5.0, 0.0]
    c = pd.Series(2.0, index=index)
    c.loc["2026-11-01":] = 0.0
    return pd.DataFrame({"A": a, "B": b, "C": c})


def test_month_to_date_and_daily_totals_on_first_days_of_month():
    s = month_frame()
    d = date(2026, 11, 3)
    assert [(x.service, x.cost) for x in metrics.month_to_date(s, d)] == [("B", 5.0), ("A", 3.0)]
    assert [(x.date, x.cost) for x in metrics.daily_totals(s, d)] == [
        (date(2026, 11, 1), 1.0), (date(2026, 11, 2), 6.0), (date(2026, 11, 3), 1.0)]
    first = date(2026, 11, 1)
    assert [(x.date, x.cost) for x in metrics.daily_totals(s, first)] == [(first, 1.0)]
    dbs = metrics.daily_by_service(s, d)
    assert list(dbs.columns) == ["B", "A"] and dbs.isna().sum().sum() == 0
    assert dbs["B"].tolist() == [0.0, 5.0, 0.0] and len(dbs) == 3


def test_summary():
    s = month_frame()
    sm = metrics.summary(s, date(2026, 11, 3))
    assert sm.total == 1.0 and sm.previous_day == 6.0 and sm.mtd_total == 8.0
    assert sm.avg7 == pytest.approx((3.0 * 5 + 1.0 + 6.0) / 7)
    assert sm.mtd_previous == 9.0  # Oct 1-3: A 1 + C 2 per day
    young = s.copy()
    young.loc[:"2026-10-14"] = np.nan  # data starts mid-October: no full previous month to compare with
    assert metrics.summary(young, date(2026, 11, 3)).mtd_previous is None


def test_analyse_end_to_end_and_estimated_dates():
    rows = [(D - timedelta(days=i), svc, "", 10.0 + (i % 3)) for i in range(40) for svc in ("A", "B")]
    rows.append((D, "A", "other", 100.0))
    costs = long(rows)
    costs.loc[costs.usage_date >= pd.Timestamp(D - timedelta(days=1)), "estimated"] = True
    a = analyse(costs, D, AlertParams())
    assert [s.service for s in a.spikes] == ["A"]
    assert a.estimated_dates == [D - timedelta(days=1), D]
    assert a.series.shape == (366, 2) and a.daily_by_service.index[0] == pd.Timestamp("2026-11-01")
    assert a.summary.total == pytest.approx(a.series.iloc[-1].sum())
    with pytest.raises(NoDataError):
        analyse(costs, D + timedelta(days=5), AlertParams())


def test_bad_input_one_day_all_zero_negative():
    rows = [(D, "New", "", 3.0), (D - timedelta(days=3), "Zero", "", 0.0), (D, "Zero", "", 0.0)]
    rows += [(D - timedelta(days=i), "Credit", "", -5.0 if i % 4 == 0 else 2.0) for i in range(30)]
    a = analyse(long(rows), D, RAW)
    assert "Zero" not in a.series.columns and a.series["New"].notna().sum() == 1
    assert all(s.service != "New" for s in a.spikes) and all(t.service != "New" for t in a.trends)
    for x in a.spikes + a.trends:
        assert all(math.isfinite(v) for v in vars(x).values() if isinstance(v, float))


# --- properties --------------------------------------------------------------------------------

series_values = st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=16, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series_values, st.floats(-1e3, 1e3), st.floats(0.01, 100.0))
def test_z_is_unchanged_by_shift_and_positive_scaling(values, shift, scale):
    params = AlertParams(spike_z_threshold=0.0, spike_min_delta_usd=0.0, min_daily_cost_usd=-1e9,
                         min_history_days=2)
    base = np.array(values[:-1])
    if base.std(ddof=1) <= 1e-6 * max(1.0, np.abs(base).max()):
        return  # near-constant baselines: z is ill-conditioned (std = 0 is tested on its own)
    a = detect_spikes(frame({"A": values}), D, params)
    b = detect_spikes(frame({"A": [v * scale + shift for v in values]}), D, params)
    za = a[0].zscore if a else 0.0
    zb = b[0].zscore if b else 0.0
    assert zb == pytest.approx(za, rel=1e-6, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-50, 1e4, allow_nan=False), st.just(0.0)), min_size=2, max_size=80),
       st.integers(0, 30), st.booleans())
def test_no_nan_or_inf_in_any_alert(values, leading_nan, trend_filter):
    s = frame({"A": values, "B": [np.nan] * leading_nan + values})
    params = AlertParams(spike_z_threshold=0.5, spike_min_delta_usd=0.0, min_history_days=2,
                         trend_filter=trend_filter)
    for alert in detect_spikes(s, D, params) + detect_trends(s, D, params):
        for value in vars(alert).values():
            if isinstance(value, float):
                assert math.isfinite(value)


def test_a_spike_on_d_is_not_also_reported_as_a_trend_when_the_filter_is_on():
    """One event, one alert: the spike drags the MACD across its signal the same day; only the spike is reported
    with TREND_FILTER=on, while the raw rule still shows the crossover (TREND_FILTER=off is exactly raw)."""
    rng = np.random.default_rng(7)
    days = pd.date_range(end=pd.Timestamp(D), periods=120, freq="D")
    values = 100 + rng.normal(0, 1.5, len(days))
    values[-4:-1] -= 6.0  # a small dip puts the MACD under its signal the day before
    values[-1] = 180.0
    rows = [(ts.date(), "EC2", "", float(v)) for ts, v in zip(days, values, strict=True)]
    raw = analyse(long(rows), D, RAW)
    filtered = analyse(long(rows), D, AlertParams())
    assert [(s.service, s.direction) for s in raw.spikes] == [("EC2", "up")]
    assert [(t.service, t.direction) for t in raw.trends] == [("EC2", "up")]
    assert [(s.service, s.direction) for s in filtered.spikes] == [("EC2", "up")]
    assert filtered.trends == []
    # Without the spike-echo rule the filter itself would have let this crossover through as material.
    assert [(t.service, t.direction) for t in detect_trends(filtered.series, D, AlertParams())] == [("EC2", "up")]


def test_drop_spike_echoes_drops_trends_made_mostly_of_the_spike():
    """delta/7 - delta/28 of the 7-day vs 28-day move comes from d's excess alone; a trend stays when at least half
    of its move is left without it."""
    spike = metrics.Spike(service="A", direction="up", cost=128.0, mean=100.0, std=2.0, zscore=14.0, delta=28.0,
                          history_days=365)
    excess = 28.0 * (1 / 7 - 1 / 28)  # = 3.0 USD/day
    echo = metrics.Trend(service="A", direction="up", macd=1.0, signal=0.0, cost=128.0, avg7=104.0, avg28=100.0)
    real = replace(echo, avg7=100.0 + 2 * excess)  # exactly half of the move is left: kept
    just_echo = replace(echo, avg7=100.0 + 2 * excess - 0.01)
    other = replace(echo, service="B")
    opposite = replace(echo, direction="down", avg7=96.0)
    assert metrics.drop_spike_echoes([echo, real, just_echo, other, opposite], [spike]) == [real, other, opposite]
    assert metrics.drop_spike_echoes([echo], []) == [echo]


# --- monthly charges (MONTHLY_CHARGE_FILTER) ---------------------------------------------------

FIRST = date(2026, 11, 1)
NO_MONTHLY = AlertParams(monthly_charge_filter=False)


def monthly(fee: float, daily: float = 0.0, end: date = FIRST, days: int = 200, on_day: int = 1,
            last: float | None = None, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """A service costing `daily` (plus noise) with `fee` on day `on_day` of each month; `last` replaces d's cost."""
    index = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    values = daily + np.random.default_rng(seed).normal(0.0, noise, days)
    values[np.asarray(index.day == on_day)] += fee
    if last is not None:
        values[-1] = last
    return pd.DataFrame({"Tax": values}, index=index)


def test_the_usual_monthly_charge_is_not_a_spike():
    """Tax on the 1st, as every month: z is huge against the daily baseline, but the bill looked the same on the
    1st of the months before. MONTHLY_CHARGE_FILTER=off gives the DESIGN rule exactly."""
    s = monthly(38.0)
    assert detect_spikes(s, FIRST, AlertParams()) == []
    (raw,) = detect_spikes(s, FIRST, NO_MONTHLY)
    assert raw.direction == "up" and raw.zscore > 5 and raw.delta == pytest.approx(38.0 - s["Tax"][:-1].mean())


@pytest.mark.parametrize("last, reported", [(38.0, False), (57.0, False), (57.5, True), (100.0, True)])
def test_a_monthly_charge_well_above_the_usual_is_reported(last, reported):
    """'About the same size' = at most MONTHLY_TOLERANCE (1.5) times the charge of the months before."""
    spikes = detect_spikes(monthly(38.0, last=last), FIRST, AlertParams())
    assert [s.direction for s in spikes] == (["up"] if reported else [])


def test_a_new_monthly_charge_is_reported_until_it_has_recurred():
    """It needs the same charge in MONTHLY_NEEDED (2) of the 3 months before: the first two are news."""
    young = monthly(38.0, days=40)  # Oct 1 and Nov 1 only
    assert [s.direction for s in detect_spikes(young, FIRST, replace(AlertParams(), min_history_days=14))] == ["up"]
    assert detect_spikes(monthly(38.0, days=70), FIRST, AlertParams()) == []  # Sep 1, Oct 1, Nov 1


def test_a_real_spike_on_the_first_of_the_month_is_still_reported():
    s = monthly(0.0, daily=100.0, noise=2.0, last=180.0)
    assert [sp.direction for sp in detect_spikes(s, FIRST, AlertParams())] == ["up"]


def test_a_fee_on_top_of_daily_usage_on_another_day_of_the_month():
    """Route 53 style: daily queries plus a fee on the 15th; d = the 15th."""
    d = date(2026, 11, 15)
    s = monthly(25.0, daily=3.0, noise=0.1, end=d, on_day=15)
    assert detect_spikes(s, d, AlertParams()) == []
    assert [sp.direction for sp in detect_spikes(s, d, NO_MONTHLY)] == ["up"]


@pytest.mark.parametrize("d, without_filter", [(FIRST, "up"), (date(2026, 11, 8), "down")])
def test_a_monthly_charge_does_not_make_a_trend(d, without_filter):
    """The fee enters the 7-day average on the 1st and leaves it on the 8th: a crossover and a material 7-day vs
    28-day move each time. Judged without the recurring fee, neither is a turn."""
    s = monthly(38.0, end=d)
    assert [(t.service, t.direction) for t in detect_trends(s, d, NO_MONTHLY)] == [("Tax", without_filter)]
    assert detect_trends(s, d, AlertParams()) == []


def test_monthly_charges_marks_only_recurring_days():
    d = date(2026, 3, 31)
    index = pd.date_range(end=pd.Timestamp(d), periods=150, freq="D")
    values = np.full((150, 3), 10.0)
    values[np.asarray(index.day == 1), 0] += 30.0  # fee on the 1st
    values[np.asarray(index.day == 31), 1] += 30.0  # fee on the 31st: Feb has none, so only Jan and Dec count
    values[-1, 2] += 30.0  # a one-off on d
    out = metrics.monthly_charges(values, index, 40)
    days = index[-40:]
    assert out.shape == (40, 3)
    assert np.array_equal(np.flatnonzero(out[:, 0]), np.flatnonzero(np.asarray(days.day == 1)))
    assert np.allclose(out[np.asarray(days.day == 1), 0], 30.0)
    assert np.flatnonzero(out[:, 1]).tolist() == [39]  # Mar 31: Dec 31 and Jan 31 had it (2 of 3)
    assert not out[:, 2].any()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_monthly_filter_changes_nothing_on_ordinary_services(seed):
    """Stationary noise with a weekly pattern has no recurring day of the month: same alerts on and off."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=pd.Timestamp(FIRST), periods=400, freq="D")
    weekly = np.where(np.asarray(index.day_of_week >= 5), 0.7, 1.1)[:, None]
    values = rng.uniform(5, 500, 300) * weekly * rng.lognormal(0.0, 0.08, (400, 300))
    s = pd.DataFrame(values, index=index, columns=[f"s{i}" for i in range(300)])
    loose = AlertParams(spike_z_threshold=2.0, spike_min_delta_usd=0.0)
    for t in range(-20, 0):
        day = index[t].date()
        assert detect_spikes(s, day, loose) == detect_spikes(s, day, replace(loose, monthly_charge_filter=False))
        assert detect_trends(s, day, loose) == detect_trends(s, day, replace(loose, monthly_charge_filter=False))


# --- float crumbs ------------------------------------------------------------------------------

def test_breakdown_sums_with_float_crumbs_keep_a_constant_baseline_constant():
    """0.1 + 0.2 (two breakdowns) on some days and 0.3 on others is the same cost: std 0, z null (DESIGN)."""
    days = [D - timedelta(days=k) for k in range(30, 0, -1)]
    rows = [(day, "Route 53", b, x) for i, day in enumerate(days)
            for b, x in ([("a", 0.1), ("b", 0.2)] if i % 2 else [("a", 0.3)])]
    (sp,) = analyse(long(rows + [(D, "Route 53", "a", 6.0)]), D, AlertParams()).spikes
    assert sp.std == 0.0 and sp.zscore is None and sp.direction == "up"


def test_a_service_whose_month_nets_to_zero_is_left_out_of_month_to_date():
    rows = [(date(2024, 5, 20), "Credit", "", 1.0), (date(2024, 6, 1), "Credit", "", 0.1),
            (date(2024, 6, 2), "Credit", "", 0.2), (date(2024, 6, 3), "Credit", "", -0.3),
            (date(2024, 6, 3), "EC2", "", 5.0)]
    a = analyse(long(rows), date(2024, 6, 3), AlertParams())
    assert [(m.service, m.cost) for m in a.mtd_by_service] == [("EC2", 5.0)]
    assert [t.cost for t in a.daily_totals] == [0.1, 0.2, 4.7]


# --- first seen ------------------------------------------------------------------------------------------------------

NEW_PARAMS = AlertParams(first_seen_min_usd=10.0, min_history_days=14)


def test_a_new_service_is_reported_on_the_day_it_first_reaches_the_threshold():
    s = frame({"Old": [50.0] * 40, "New": [0.5, 3.0, 12.0], "Small": [1.0, 2.0, 9.99]})
    found = metrics.detect_first_seen(s, D, NEW_PARAMS)
    assert found == [FirstSeen("New", D - timedelta(days=2), 12.0)]
    assert found[0].breakdown == "" and found[0].direction == "up"


def test_first_seen_is_reported_once_and_not_after_a_dip():
    s = frame({"Old": [50.0] * 40, "New": [4.0, 15.0, 2.0, 20.0]})
    day_before = D - timedelta(days=2)
    assert [f.service for f in metrics.detect_first_seen(s, day_before, NEW_PARAMS)] == ["New"]
    assert metrics.detect_first_seen(s, D - timedelta(days=1), NEW_PARAMS) == []
    assert metrics.detect_first_seen(s, D, NEW_PARAMS) == []  # 20 on d, but 15 two days before already crossed


def test_a_service_with_cost_at_the_start_of_the_window_is_not_new():
    s = frame({"Always": [0.0] * 10 + [25.0], "Late": [25.0]}, end=D)
    assert s["Always"].iloc[0] == 0.0  # a known zero on the window's first day: it may have cost before
    assert [f.service for f in metrics.detect_first_seen(s, D, NEW_PARAMS)] == ["Late"]


def test_first_seen_stops_once_the_service_has_the_history_to_spike():
    s = frame({"Old": [50.0] * 40, "New": [1.0] * 13 + [30.0], "Newer": [1.0] * 14 + [30.0]})
    assert [f.service for f in metrics.detect_first_seen(s, D, NEW_PARAMS)] == ["New"]  # 13 baseline days < 14


def test_first_seen_through_build_series_and_most_expensive_first():
    rows = [(D - timedelta(days=k), "Old", "", 40.0) for k in range(60)]
    rows += [(D - timedelta(days=3), "B", "acct1", 0.2), (D, "B", "acct1", 6.0), (D, "B", "acct2", 6.0),
             (D, "C", "", 400.0)]
    found = metrics.detect_first_seen(build_series(long(rows), D, 30), D, NEW_PARAMS)
    assert found == [FirstSeen("C", D, 400.0), FirstSeen("B", D - timedelta(days=3), 12.0)]


@given(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 30.0)), min_size=1, max_size=30),
       st.integers(1, 10), st.integers(2, 20), st.floats(0.5, 25.0))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_first_seen_matches_a_plain_python_reference_and_fires_at_most_once(values, lead, history, threshold):
    params = AlertParams(first_seen_min_usd=threshold, min_history_days=history)
    if values[0] == 0.0:
        values = [1e-3, *values[1:]]  # its first day has a cost (build_series' definition of the first day)
    s = frame({"Old": [5.0] * (lead + len(values)), "New": values})
    days = [ts.date() for ts in s.index]
    fired = [d for d in days if any(f.service == "New" for f in metrics.detect_first_seen(s, d, params))]
    # Reference: the first day whose cost reaches the threshold, if fewer than `history` days came before it.
    crossing = next((i for i, v in enumerate(values) if v >= threshold), None)
    expected = [days[lead + crossing]] if crossing is not None and crossing < history else []
    assert fired == expected


def test_analyse_reports_first_seen_services():
    days = [D - timedelta(days=i) for i in range(39, -1, -1)]
    rows = [(day, "Old", "", 50.0) for day in days]
    rows += [(D - timedelta(days=2), "New", "", 0.5), (D - timedelta(days=1), "New", "", 3.0), (D, "New", "", 12.0)]
    a = analyse(long(rows), D, NEW_PARAMS)
    assert a.first_seen == [FirstSeen("New", D - timedelta(days=2), 12.0)]
    assert a.alerts == 1 and a.spikes == [] and a.trends == []


# --- alerts per breakdown --------------------------------------------------------------------------------------------

def breakdown_costs(series: dict[tuple[str, str], np.ndarray], end: date = D) -> pd.DataFrame:
    """The long frame of (service, breakdown) -> daily USD ending at `end`."""
    rows = [(end - timedelta(days=len(v) - 1 - i), svc, bd, float(x))
            for (svc, bd), v in series.items() for i, x in enumerate(v)]
    return long(rows)


def lambda_accounts(seed: int = 3, days: int = 60) -> dict[tuple[str, str], np.ndarray]:
    """AWS Lambda in three accounts, ~$100/day each with ~$3 of noise."""
    rng = np.random.default_rng(seed)
    return {("AWS Lambda", acct): 100.0 + rng.normal(0.0, 3.0, days)
            for acct in ("111111111111", "222222222222", "333333333333")}


def netting(series: dict[tuple[str, str], np.ndarray], moves: dict[str, float]) -> dict:
    """Set d of each account to its baseline mean plus its move (USD)."""
    for (_, acct), v in series.items():
        v[-1] = v[:-1].mean() + moves.get(acct, 0.0)
    return series


def test_a_netting_pair_is_reported_once_with_its_offset():
    series = netting(lambda_accounts(), {"222222222222": 300.0, "333333333333": -290.0})
    a = analyse(breakdown_costs(series), D, RAW)
    assert [(s.service, s.breakdown, s.direction) for s in a.spikes] == [("AWS Lambda", "222222222222", "up")]
    (s,) = a.spikes
    base = {acct: v[:-1].mean() for (_, acct), v in series.items()}
    assert s.offset_by == "333333333333"
    assert s.offset == pytest.approx(series[("AWS Lambda", "333333333333")][-1] - base["333333333333"])
    assert s.offset == pytest.approx(-290.0) and s.delta == pytest.approx(300.0)
    total = sum(series.values())
    assert s.service_delta == pytest.approx(total[-1] - total[:-1].mean()) == pytest.approx(10.0)
    assert set(a.breakdown_series) == {("AWS Lambda", "222222222222")}
    assert a.breakdown_series[("AWS Lambda", "222222222222")].iloc[-1] == pytest.approx(
        series[("AWS Lambda", "222222222222")][-1])


def test_a_breakdown_spike_inside_a_service_spike_is_not_a_second_alert():
    series = lambda_accounts()
    series[("AWS Lambda", "222222222222")][-1] += 300.0
    a = analyse(breakdown_costs(series), D, RAW)
    assert [(s.service, s.breakdown, s.direction) for s in a.spikes] == [("AWS Lambda", "", "up")]
    assert a.breakdown_series == {}


def test_a_breakdown_spike_too_small_for_its_service_total_is_its_own_alert():
    series = lambda_accounts()
    rng = np.random.default_rng(5)
    series[("AWS Lambda", "999999999999")] = 5000.0 + rng.normal(0.0, 300.0, 60)  # a big, noisy account
    series[("AWS Lambda", "111111111111")][-1] += 60.0  # 20 sigma in its account, lost in the total's noise
    a = analyse(breakdown_costs(series), D, RAW)
    assert [(s.breakdown, s.direction) for s in a.spikes] == [("111111111111", "up")]
    assert a.spikes[0].service_delta is not None


def test_a_new_account_of_a_steady_service_is_first_seen_at_breakdown_level():
    series = lambda_accounts()
    rng = np.random.default_rng(8)
    series[("AWS Lambda", "444444444444")] = np.r_[[np.nan] * 57, [5.0, 8.0, 20.0] + rng.normal(0, 0.1, 3)]
    series[("AWS Lambda", "111111111111")][-3:] -= [5.0, 8.0, 20.0]  # moved from another account: total steady
    costs = breakdown_costs(series).dropna()
    a = analyse(costs, D, AlertParams(first_seen_min_usd=10.0, monthly_charge_filter=False))
    assert [(f.service, f.breakdown, f.first_date) for f in a.first_seen] == [
        ("AWS Lambda", "444444444444", D - timedelta(days=2))]
    assert a.spikes == []  # the drop in the account it moved from is the same event


def test_without_breakdown_data_nothing_changes():
    series = netting(lambda_accounts(), {"222222222222": 300.0, "333333333333": -290.0})
    by_account = breakdown_costs(series)
    total = by_account.groupby(["usage_date", "service"], as_index=False).agg(
        amount=("amount", "sum"), estimated=("estimated", "max"))
    total["breakdown"] = ""
    a = analyse(total, D, RAW)
    services = build_series(total, D, 365)
    assert (a.spikes, a.trends, a.first_seen) == (detect_spikes(services, D, RAW), detect_trends(services, D, RAW),
                                                  metrics.detect_first_seen(services, D, RAW))
    assert a.breakdown_series == {} and all(x.breakdown == "" for x in (*a.spikes, *a.trends))
    assert metrics.build_breakdown_series(total, D, 365).shape[1] == 0
    assert len(analyse(by_account, D, RAW).spikes) == len(a.spikes) + 1  # the stored breakdown shows the pair
    no_column = analyse(total.drop(columns="breakdown"), D, RAW)
    assert (no_column.spikes, no_column.trends, no_column.summary) == (a.spikes, a.trends, a.summary)


def test_breakdown_series_sum_to_the_service_series():
    series = lambda_accounts()
    costs = breakdown_costs(series)
    by = metrics.build_breakdown_series(costs, D, 365)
    assert list(by.columns) == sorted(series)
    pd.testing.assert_series_equal(by.T.groupby(level=0).sum(min_count=1).T["AWS Lambda"],
                                   build_series(costs, D, 365)["AWS Lambda"], check_names=False)


def test_false_alerts_per_series_day_on_noise_stay_at_the_service_level_figure():
    """Pure noise: the same rule on 600 account series gives the per-series-day rate of 600 service series."""
    rng = np.random.default_rng(20261125)
    days, n, checked = 120, 600, range(0, 20)
    index = pd.date_range(end=pd.Timestamp(D), periods=days, freq="D")
    noise = 200.0 + rng.normal(0.0, 20.0, (days, 2 * n))
    services = pd.DataFrame(noise[:, :n], index=index, columns=[f"S{i:03d}" for i in range(n)])
    # the breakdown side: 30 services x 20 accounts of the same noise
    cols = pd.MultiIndex.from_tuples([(f"B{i // 20:02d}", f"{i % 20:012d}") for i in range(n)],
                                     names=["service", "breakdown"])
    accounts = pd.DataFrame(noise[:, n:], index=index, columns=cols)
    totals = accounts.T.groupby(level=0).sum().T
    params = AlertParams()
    service_level = {"spikes": 0, "trends": 0}
    breakdown_level = {"spikes": 0, "trends": 0}
    for k in checked:
        d = D - timedelta(days=k)
        service_level["spikes"] += len(detect_spikes(services, d, params))
        service_level["trends"] += len(detect_trends(services, d, params))
        shown = (detect_spikes(totals, d, params), detect_trends(totals, d, params), [])
        b_spikes, b_trends, _ = metrics.breakdown_alerts(accounts, totals, d, params, shown)
        breakdown_level["spikes"] += len(b_spikes)
        breakdown_level["trends"] += len(b_trends)
    series_days = n * len(checked)
    for kind in ("spikes", "trends"):
        s_rate, b_rate = service_level[kind] / series_days, breakdown_level[kind] / series_days
        # 4 standard errors of the service-level count: the breakdown series add no false alerts of their own.
        slack = 4 * math.sqrt(max(service_level[kind], 1)) / series_days
        assert b_rate <= s_rate + slack, (kind, b_rate, s_rate)
    assert service_level["spikes"] > 0  # the noise is loud enough to test the rule at all


# --- the window as a matrix (window.load_window) ---------------------------------------------------------------

def as_matrix(costs: pd.DataFrame, start: date, end: date) -> CostMatrix:
    """The CostMatrix of a long frame with one row per (day, service, breakdown), as window.load_window makes it."""
    keys = pd.MultiIndex.from_tuples(sorted(set(zip(costs["service"], costs["breakdown"], strict=True))),
                                     names=["service", "breakdown"])
    n_days = (end - start).days + 1
    values = np.zeros((n_days, len(keys)))
    has_rows = np.zeros(n_days, dtype=bool)
    for day, service, breakdown, amount in costs[["usage_date", "service", "breakdown", "amount"]].itertuples(
            index=False):
        row = (day.date() - start).days
        values[row, keys.get_loc((service, breakdown))] = amount
        has_rows[row] = True
    flagged = sorted({d.date() for d in costs.loc[costs["estimated"], "usage_date"]})
    return CostMatrix(start, end, keys, values, has_rows, flagged)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["A", "B", "Zed"]), st.sampled_from(["", "x", "y"]),
                          st.one_of(st.just(0.0), st.floats(-5, 1e4, allow_nan=False).map(lambda v: round(v, 4)))),
                min_size=1, max_size=60, unique_by=lambda r: r[:3]),
       st.booleans())
def test_analyse_of_the_matrix_is_the_analysis_of_the_long_frame(rows, flagged):
    rows = rows + [(20, "A", "x", 1.0)]  # d has a row
    costs = long([(D - timedelta(days=20 - k), s, b, v) for k, s, b, v in rows if (k, s, b) != (20, "A", "x")]
                 + [(D, "A", "x", 1.0)], estimated=flagged)
    params = AlertParams(lookback_days=20, min_history_days=3)
    want, got = analyse(costs, D, params), analyse(as_matrix(costs, D - timedelta(days=20), D), D, params)
    for name in ("spikes", "trends", "first_seen", "mtd_by_service", "daily_totals", "summary", "estimated_dates"):
        assert getattr(got, name) == getattr(want, name), name
    pd.testing.assert_frame_equal(got.series, want.series, check_exact=True)
    assert got.breakdown_series.keys() == want.breakdown_series.keys()


def test_a_matrix_without_rows_on_d_says_so_as_the_long_frame_does():
    costs = long([(D - timedelta(days=3), "A", "", 2.0)])
    matrix = as_matrix(costs, D - timedelta(days=10), D)
    for data in (costs, matrix):
        with pytest.raises(NoDataError, match=f"no cost data for {D}"):
            analyse(data, D, AlertParams(lookback_days=10))
    empty = CostMatrix(D - timedelta(days=10), D, matrix.keys[:0], np.zeros((11, 0)), np.zeros(11, dtype=bool))
    with pytest.raises(NoDataError, match=f"no cost data on or before {D} in the 10-day window"):
        analyse(empty, D, AlertParams(lookback_days=10))
