"""Pure maths of the daily report: cost series, spikes (z-score), trend reversals (MACD), totals.

Everything works on one days x services matrix at once (README "Methodology", DESIGN.md "Definitions").
Nothing here reads the environment, the clock or the network.
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from .model import AlertParams, Analysis, CostMatrix, DayCost, FirstSeen, ServiceCost, Spike, Summary, Trend

# Trend filter (TREND_FILTER=on), chosen with bench/bench_alerts.py; see README "Methodology".
TREND_FILTER_K = 3.5  # |avg7 - avg28| must be this many standard errors of the service's own noise ...
# ... and at least TREND_MIN_DELTA_USD (AlertParams.trend_min_delta_usd) per day
TREND_CONFIRM_DAYS = 10  # a crossover stays reportable this many days while it waits to become material
_NOISE_DAYS = 56  # days before d used to estimate a service's day-to-day noise (robustly)
# Amounts are stored with 10 decimals (db.ExactAmount): sums of them are exact at that precision, so rounding a
# float sum there removes binary crumbs (0.1 + 0.2) that would fake a nonzero std or a $0.00 service.
AMOUNT_DECIMALS = 10
_AVG_SE = float(np.sqrt(1 / 7 - 1 / 28))  # SE of avg7 - avg28 in units of the daily noise (independent days)
# Monthly charges (MONTHLY_CHARGE_FILTER=on): Tax, Support, RI/Savings Plans fees... land on one day of the month.
MONTHLY_LOOKBACK = 3  # previous months compared, same day of the month ...
MONTHLY_NEEDED = 2  # ... of which this many must have had a charge of about the same size ...
MONTHLY_TOLERANCE = 1.5  # ... i.e. the day's excess is at most this many times theirs


class NoDataError(ValueError):
    """There is no cost data to analyse for the report date; the message says what to do."""


def _day(ts: date) -> pd.Timestamp:
    return pd.Timestamp(ts).normalize()


# --- series ------------------------------------------------------------------------------------

def build_series(costs: pd.DataFrame, report_date: date, lookback_days: int) -> pd.DataFrame:
    """Daily USD per service over [d - lookback_days, d] (days x services, NaN before a service's first cost day).

    `costs` is the long frame of db.load_costs. Rows are summed over breakdown; missing days after a service's
    first nonzero day are 0; services with no nonzero cost in the window are dropped. Raises NoDataError when
    there is no row for d.
    """
    d = _day(report_date)
    start = d - pd.Timedelta(days=lookback_days)
    index = pd.date_range(start, d, freq="D")
    dates = pd.DatetimeIndex(costs["usage_date"]).normalize() if len(costs) else pd.DatetimeIndex([])
    in_window = (dates >= start) & (dates <= d)
    if not (dates == d).any():
        if not in_window.any():
            earliest = f"; the earliest stored day is {dates.min().date()}" if len(dates) and dates.min() > d else ""
            raise NoDataError(f"no cost data on or before {d.date()} in the {lookback_days}-day window{earliest} "
                              f"— run procAmzData.py first or check the date")
        raise NoDataError(f"no cost data for {d.date()} — run procAmzData.py first or check the date")

    return _matrix(costs, in_window, start, index, pd.Index(costs["service"].to_numpy()[in_window]))


def build_breakdown_series(costs: pd.DataFrame, report_date: date, lookback_days: int) -> pd.DataFrame:
    """Daily USD per (service, breakdown) over [d - lookback_days, d], built as build_series builds the service
    series (columns: a MultiIndex service x breakdown); empty when no stored row has a breakdown."""
    d = _day(report_date)
    start = d - pd.Timedelta(days=lookback_days)
    index = pd.date_range(start, d, freq="D")
    broken_down = costs["breakdown"].to_numpy() != "" if len(costs) and "breakdown" in costs else np.zeros(0, bool)
    if not broken_down.any():
        return pd.DataFrame(index=index, columns=pd.MultiIndex.from_tuples([], names=["service", "breakdown"]))
    dates = pd.DatetimeIndex(costs["usage_date"]).normalize()
    in_window = (dates >= start) & (dates <= d) & broken_down  # "" (no breakdown) is no breakdown series
    keys = pd.MultiIndex.from_arrays([costs["service"].to_numpy()[in_window],
                                      costs["breakdown"].to_numpy()[in_window]], names=["service", "breakdown"])
    return _matrix(costs, in_window, start, index, keys)


def _matrix(costs: pd.DataFrame, in_window: np.ndarray, start: pd.Timestamp, index: pd.DatetimeIndex,
            keys: pd.Index) -> pd.DataFrame:
    """days x keys of summed amounts (rows in_window), NaN before each column's first nonzero day."""
    dates = pd.DatetimeIndex(costs["usage_date"]).normalize()
    amounts = costs["amount"].to_numpy(dtype="float64")[in_window]
    day_codes = ((dates[in_window] - start) // pd.Timedelta(days=1)).to_numpy()
    key_codes, names = keys.factorize(sort=True)
    n_days, n_keys = len(index), len(names)
    flat = np.bincount(day_codes * n_keys + key_codes, weights=amounts, minlength=n_days * n_keys)
    return _series_frame(flat.reshape(n_days, n_keys), index, names)


def _series_frame(sums: np.ndarray, index: pd.DatetimeIndex, names: pd.Index) -> pd.DataFrame:
    """days x names of summed amounts, rounded to the stored decimals, NaN before each column's first nonzero day
    (columns never nonzero dropped)."""
    n_days = len(index)
    matrix = np.round(sums, AMOUNT_DECIMALS)

    nonzero = matrix != 0
    has_cost = nonzero.any(axis=0)
    matrix, nonzero = matrix[:, has_cost], nonzero[:, has_cost]
    first = nonzero.argmax(axis=0)
    matrix[np.arange(n_days)[:, None] < first[None, :]] = np.nan
    columns = names[has_cost] if isinstance(names, pd.MultiIndex) else pd.Index(names[has_cost], dtype=object)
    return pd.DataFrame(matrix, index=index, columns=columns)


def matrix_series(costs: CostMatrix, report_date: date, lookback_days: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[date]]:
    """build_series, build_breakdown_series and the Estimated days of the window, from a CostMatrix (no long frame).

    Bit for bit what the long frame of the same rows gives: a service's day is the sum of its breakdowns added in
    (service, breakdown) order, as the long frame's rows are summed in that order.
    """
    d = _day(report_date)
    start = d - pd.Timedelta(days=lookback_days)
    index = pd.date_range(start, d, freq="D")
    first = (start - pd.Timestamp(costs.start)).days  # matrix row of the window's first day (may be outside)
    rows = np.arange(first, first + len(index))
    inside = (rows >= 0) & (rows < costs.values.shape[0])
    values = np.zeros((len(index), costs.values.shape[1]))
    values[inside] = costs.values[rows[inside]]
    has_rows = np.zeros(len(index), dtype=bool)
    has_rows[inside] = np.asarray(costs.has_rows, dtype=bool)[rows[inside]]
    if not has_rows[-1]:
        if not has_rows.any():
            raise NoDataError(f"no cost data on or before {d.date()} in the {lookback_days}-day window "
                              f"— run procAmzData.py first or check the date")
        raise NoDataError(f"no cost data for {d.date()} — run procAmzData.py first or check the date")

    breakdowns = np.asarray(costs.keys.get_level_values(1), dtype=object)
    names, sums = costs.service_sums(values)
    series = _series_frame(sums, index, pd.Index(names, dtype=object))

    broken_down = breakdowns != ""
    if broken_down.any():
        keys = costs.keys[broken_down]
        by_breakdown = _series_frame(values[:, broken_down], index,
                                     pd.MultiIndex.from_arrays([keys.get_level_values(0), keys.get_level_values(1)],
                                                               names=["service", "breakdown"]))
    else:
        by_breakdown = pd.DataFrame(index=index, columns=pd.MultiIndex.from_tuples([], names=["service", "breakdown"]))
    window = (start.date(), d.date())
    estimated = [day for day in costs.estimated_dates if window[0] <= day <= window[1]]
    return series, by_breakdown, sorted(estimated)


def _names(column) -> dict[str, str]:
    """service (and breakdown) of a series column: a service name, or a (service, breakdown) pair."""
    if isinstance(column, tuple):
        return {"service": str(column[0]), "breakdown": str(column[1])}
    return {"service": str(column)}


def _upto(series: pd.DataFrame, report_date: date) -> np.ndarray:
    """The matrix rows up to and including d (d must be in the index)."""
    d = _day(report_date)
    if d not in series.index:
        raise NoDataError(f"no cost data for {d.date()} — run procAmzData.py first or check the date")
    return series.loc[:d].to_numpy(dtype="float64")


# --- spikes ------------------------------------------------------------------------------------

def spike_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column baseline statistics of the last row against the rows before it (NaN = no data yet)."""
    base, cost = values[:-1], values[-1]
    known = ~np.isnan(base)
    n = known.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(known, base, 0.0).sum(axis=0) / n
        dev = np.where(known, base - mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=0) / (n - 1))
        # A constant baseline has std exactly 0 (the two-pass formula can leave rounding crumbs).
        constant = np.nanmax(np.where(known, base, -np.inf), axis=0) == np.nanmin(np.where(known, base, np.inf),
                                                                                  axis=0)
        std = np.where(constant, 0.0, std)
        delta = cost - mean
        z = np.where(std > 0, delta / std, np.nan)
    return {"n": n, "mean": mean, "std": std, "cost": cost, "delta": delta, "z": z}


def detect_spikes(series: pd.DataFrame, report_date: date, params: AlertParams) -> list[Spike]:
    """Services whose cost on d is SPIKE_Z_THRESHOLD std and SPIKE_MIN_DELTA_USD away from their baseline."""
    values = _upto(series, report_date)
    if values.shape[0] < 2 or values.shape[1] == 0:
        return []
    st = spike_stats(values)
    n, mean, std, cost, delta, z = st["n"], st["mean"], st["std"], st["cost"], st["delta"], st["z"]
    with np.errstate(invalid="ignore"):
        eligible = (n >= params.min_history_days) & np.isfinite(cost) & np.isfinite(mean) & np.isfinite(std)
        # MIN_DAILY_COST_USD applies to the larger of cost(d) and the baseline mean, so a service that
        # dropped to 0 on d can still raise a down spike while tiny services never alert.
        eligible &= np.fmax(cost, mean) >= params.min_daily_cost_usd
        flat = std == 0
        up = np.where(flat, True, z >= params.spike_z_threshold) & (delta >= params.spike_min_delta_usd)
        down = np.where(flat, True, z <= -params.spike_z_threshold) & (-delta >= params.spike_min_delta_usd)
    if params.monthly_charge_filter:
        # Up only: a monthly fee is a charge; the same fee last month(s) makes today's "spike" business as usual.
        cand = np.flatnonzero(up & eligible)  # only the few candidates: cheap on 20,000 series
        up[cand] &= monthly_charges(values[:, cand], series.index[:len(values)], 1)[-1] == 0
    hits = np.flatnonzero(eligible & (up | down))
    names = series.columns
    spikes = [
        Spike(**_names(names[i]), direction="up" if up[i] else "down", cost=float(cost[i]),
              mean=float(mean[i]), std=float(std[i]), zscore=None if flat[i] else float(z[i]),
              delta=float(delta[i]), history_days=int(n[i]))
        for i in hits
    ]
    return sorted(spikes, key=lambda s: (-abs(s.delta), s.service, s.breakdown))  # the biggest $ surprise first


# --- first seen --------------------------------------------------------------------------------

def detect_first_seen(series: pd.DataFrame, report_date: date, params: AlertParams) -> list[FirstSeen]:
    """Services new in the window whose cost on d first reaches FIRST_SEEN_MIN_USD (USD/day), most expensive first.

    New: no cost on the series' first day (NaN there: its first cost day lies inside the window, so nothing before
    it in the lookback). Reported once, on the first day it reaches the threshold, and only while it has fewer than
    MIN_HISTORY_DAYS baseline days (after that the spike rule judges it).
    """
    values = _upto(series, report_date)
    if values.shape[0] < 2 or values.shape[1] == 0:
        return []  # one day alone cannot tell a new service from an old one
    base, cost = values[:-1], values[-1]
    known = ~np.isnan(base)
    n = known.sum(axis=0)
    earlier_max = np.where(known, base, -np.inf).max(axis=0)
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero(np.isnan(values[0]) & (cost >= params.first_seen_min_usd)
                              & (earlier_max < params.first_seen_min_usd) & (n < params.min_history_days))
    first_row = (~np.isnan(values)).argmax(axis=0)
    found = [FirstSeen(**_names(series.columns[i]), first_date=series.index[first_row[i]].date(),
                       cost=float(cost[i])) for i in hits]
    return sorted(found, key=lambda f: (-f.cost, f.service, f.breakdown))


# --- trends ------------------------------------------------------------------------------------

def _ema_step(weighted: np.ndarray, cur: np.ndarray, alpha: float) -> np.ndarray:
    """One step of pandas' ewm(adjust=False) recursion, bit for bit (NaN weighted = not started yet)."""
    old, new = 1.0 - alpha, alpha
    out = (old * weighted + new * cur) / (old + new)
    # pandas keeps the value when it equals the observation and seeds with the first observation.
    return np.where(np.isnan(weighted) | (weighted == cur), cur, out)


def macd_last(values: np.ndarray, fast: int, slow: int, signal: int, keep: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """MACD and signal lines of every column over its last `keep` rows (keep x columns each).

    EMA_span is pandas' ewm(span, adjust=False) seeded with each column's first non-NaN value; MACD =
    EMA_fast - EMA_slow; signal = EMA_signal(MACD). One vector step per day for all columns at once (pandas'
    column-by-column ewm takes ~0.4 s per EMA for 20,000 columns; this takes ~0.05 s).
    """
    a_fast, a_slow, a_sig = 2.0 / (fast + 1), 2.0 / (slow + 1), 2.0 / (signal + 1)
    n_days, n_cols = values.shape
    ef = np.full(n_cols, np.nan)
    es = np.full(n_cols, np.nan)
    sg = np.full(n_cols, np.nan)
    keep = min(keep, n_days)
    macd_out = np.full((keep, n_cols), np.nan)
    sig_out = np.full((keep, n_cols), np.nan)
    for t in range(n_days):
        cur = values[t]
        ef = _ema_step(ef, cur, a_fast)
        es = _ema_step(es, cur, a_slow)
        macd = ef - es
        sg = _ema_step(sg, macd, a_sig)
        row = t - (n_days - keep)
        if row >= 0:
            macd_out[row], sig_out[row] = macd, sg
    return macd_out, sig_out


def _robust_noise(values: np.ndarray) -> np.ndarray:
    """Day-to-day noise (USD, 1 std) of each column from the last _NOISE_DAYS days before d.

    Uses 7-day differences (they cancel weekly seasonality and most of a trend) and their median absolute
    deviation, so one spike does not inflate it.
    """
    base = values[:-1][-_NOISE_DAYS:]
    diffs = base[7:] - base[:-7]
    if diffs.shape[0] == 0:
        return np.full(values.shape[1], np.nan)
    mad = _nanmedian(np.abs(diffs - _nanmedian(diffs)))
    return 1.4826 * mad / np.sqrt(2.0)


def _nanmedian(values: np.ndarray) -> np.ndarray:
    """Median of each column ignoring NaN (NaN when a column has none); sort-based, much faster than nanmedian."""
    ordered = np.sort(values, axis=0)  # NaN sorts last
    count = (~np.isnan(values)).sum(axis=0)
    cols = np.arange(values.shape[1])
    lo = ordered[np.maximum((count - 1) // 2, 0), cols]
    hi = ordered[np.maximum(count // 2, 0), cols]
    return np.where(count > 0, (lo + hi) / 2, np.nan)


def _window_means(values: np.ndarray, days: int, rows: int) -> np.ndarray:
    """Mean over the last `days` rows ending at each of the last `rows` rows (rows x columns; known days only)."""
    tail = values[-(days + rows - 1):]
    known = ~np.isnan(tail)
    zero = np.zeros((1, tail.shape[1]))
    total = np.concatenate([zero, np.cumsum(np.where(known, tail, 0.0), axis=0)])
    count = np.concatenate([zero, np.cumsum(known, axis=0)])
    hi = np.arange(len(tail) - rows + 1, len(tail) + 1)
    lo = np.maximum(hi - days, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total[hi] - total[lo]) / (count[hi] - count[lo])


def monthly_charges(values: np.ndarray, index: pd.DatetimeIndex, rows: int,
                    noise: np.ndarray | None = None) -> np.ndarray:
    """USD of each of the last `rows` days (rows x columns) that is a recurring monthly charge, 0 on other days.

    A day's excess is its cost above the service's median of the _NOISE_DAYS days before d. It is a recurring
    charge when it stands out of the service's noise (3.5 sigma, as the trend filter) and on the same day of the
    month, in at least MONTHLY_NEEDED of the MONTHLY_LOOKBACK months before, the excess was at least 1 /
    MONTHLY_TOLERANCE of it: the bill looked like this on this day last month(s).
    """
    n_days, n_cols = values.shape
    rows = min(rows, n_days)
    base = values[:-1][-_NOISE_DAYS:] if n_days > 1 else values[:0]
    level = _nanmedian(base) if len(base) else np.full(n_cols, np.nan)
    noise = _robust_noise(values) if noise is None else noise  # trend_stats has it already
    stands_out = TREND_FILTER_K * np.nan_to_num(noise, nan=0.0)
    days = index[n_days - rows:n_days]
    excess = values[-rows:] - level
    with np.errstate(invalid="ignore"):
        charge = excess > stands_out
        seen = np.zeros((rows, n_cols), dtype=np.int8)
        for k in range(1, MONTHLY_LOOKBACK + 1):  # 3 vectorised steps, one per month back
            earlier = days - pd.DateOffset(months=k)
            pos = np.asarray((earlier - index[0]).days)
            valid = (pos >= 0) & np.asarray(earlier.day == days.day)  # no "31st" in a 30-day month
            past = np.where(valid[:, None], values[np.clip(pos, 0, n_days - 1)], np.nan) - level
            seen += (past > stands_out) & (past * MONTHLY_TOLERANCE >= excess)
        recurring = charge & (seen >= MONTHLY_NEEDED)
    return np.where(recurring, excess, 0.0)


def trend_stats(values: np.ndarray, params: AlertParams, index: pd.DatetimeIndex | None = None) -> dict[str, np.ndarray]:
    """Per-column MACD/signal, crossovers and materiality over the last TREND_CONFIRM_DAYS + 1 days (last row = d).

    Keys: macd, signal, cost, n (baseline days), avg7, avg28 (at d); raw_up, raw_down (crossover at d); up, down
    (filtered: the latest crossover of the last TREND_CONFIRM_DAYS days, still holding, first material at d);
    crossed_days_ago (of that crossover, -1 when none). With `index` (the dates of the rows) and
    MONTHLY_CHARGE_FILTER on, materiality is judged without recurring monthly charges (monthly_charges).
    """
    n_days, n_cols = values.shape
    rows = min(TREND_CONFIRM_DAYS + 1, n_days - 1)  # days that can carry a crossover (each needs the day before)
    macd, sig = macd_last(values, params.macd_fast, params.macd_slow, params.macd_signal, keep=rows + 1)
    with np.errstate(invalid="ignore"):
        above, below = macd > sig, macd < sig
        up_x = (macd[:-1] <= sig[:-1]) & above[1:]  # rows x cols: crossover on each of the last `rows` days
        down_x = (macd[:-1] >= sig[:-1]) & below[1:]
    avg7, avg28 = _window_means(values, 7, rows), _window_means(values, 28, rows)
    out = {"macd": macd[-1], "signal": sig[-1], "cost": values[-1], "n": (~np.isnan(values[:-1])).sum(axis=0),
           "avg7": avg7[-1], "avg28": avg28[-1], "raw_up": up_x[-1], "raw_down": down_x[-1]}

    # Filtered: find the latest crossover in the window, check it still holds, and fire on its first material day.
    crossed = up_x | down_x
    any_x = crossed.any(axis=0)
    last = rows - 1 - np.argmax(crossed[::-1], axis=0)  # row of the latest crossover
    cols = np.arange(n_cols)
    going_up = up_x[last, cols]
    after = np.arange(rows)[:, None] >= last[None, :]
    holds = np.where(going_up, (above[1:] | ~after).all(axis=0), (below[1:] | ~after).all(axis=0))
    sign = np.where(going_up, 1.0, -1.0)
    min_usd = params.trend_min_delta_usd
    noise = _robust_noise(values)
    tail = values[-(28 + rows - 1):]
    if index is not None and params.monthly_charge_filter:
        cand = np.flatnonzero(any_x)  # only services with a crossover to judge
        tail = tail.copy()
        tail[:, cand] -= monthly_charges(values[:, cand], index, len(tail), noise[cand])
        avg7, avg28 = avg7.copy(), avg28.copy()
        avg7[:, cand], avg28[:, cand] = _window_means(tail[:, cand], 7, rows), _window_means(tail[:, cand], 28, rows)
    gap = np.abs(avg7 - avg28)
    recent = tail[-rows:]
    week_before = tail[-rows - 7:-7] if len(tail) >= rows + 7 else np.full_like(recent, np.nan)
    with np.errstate(invalid="ignore"):
        material = ((gap >= TREND_FILTER_K * _AVG_SE * noise) & (gap >= min_usd)
                    & (sign * (recent - week_before) > 0))  # cost moved the alert's way vs the same weekday
    earlier = (material[:-1] & after[:-1]).any(axis=0)
    fire = any_x & holds & material[-1] & ~earlier
    out.update(up=fire & going_up, down=fire & ~going_up,
               crossed_days_ago=np.where(any_x, rows - 1 - last, -1))
    return out


def detect_trends(series: pd.DataFrame, report_date: date, params: AlertParams) -> list[Trend]:
    """Services whose MACD crossed its signal line (raw: on d; filtered: see README "Methodology")."""
    values = _upto(series, report_date)
    if values.shape[0] < 2 or values.shape[1] == 0:
        return []
    st = trend_stats(values, params, series.index[:len(values)])
    up, down = (st["up"], st["down"]) if params.trend_filter else (st["raw_up"], st["raw_down"])
    cost, avg28 = st["cost"], st["avg28"]
    ok = (up | down) & (st["n"] >= params.min_history_days)
    with np.errstate(invalid="ignore"):
        # As for spikes: a service fading to 0 can still report its down turn.
        ok &= np.fmax(cost, avg28) >= params.min_daily_cost_usd
        ok &= np.isfinite(st["macd"]) & np.isfinite(st["signal"]) & np.isfinite(st["avg7"]) & np.isfinite(avg28)
        ok &= np.isfinite(cost)
    names = series.columns
    trends = [
        Trend(**_names(names[i]), direction="up" if up[i] else "down", macd=float(st["macd"][i]),
              signal=float(st["signal"][i]), cost=float(cost[i]), avg7=float(st["avg7"][i]),
              avg28=float(avg28[i]), crossed_days_ago=int(st["crossed_days_ago"][i]))
        for i in np.flatnonzero(ok)
    ]
    return sorted(trends, key=lambda t: (-t.cost, t.service, t.breakdown))


# --- totals ------------------------------------------------------------------------------------

def _month(series: pd.DataFrame, report_date: date) -> pd.DataFrame:
    d = _day(report_date)
    return series.loc[d.replace(day=1):d].fillna(0.0)


def month_to_date(series: pd.DataFrame, report_date: date) -> list[ServiceCost]:
    """USD per service over [first of d's month, d], most expensive first (services at 0 omitted)."""
    mtd = _month(series, report_date).sum(axis=0).round(AMOUNT_DECIMALS)
    mtd = mtd[mtd != 0]
    order = sorted(zip(mtd.index, mtd.to_numpy(), strict=True), key=lambda kv: (-kv[1], str(kv[0])))
    return [ServiceCost(str(name), float(cost)) for name, cost in order]


def daily_totals(series: pd.DataFrame, report_date: date) -> list[DayCost]:
    """USD over all services for each day of [first of d's month, d]."""
    totals = _month(series, report_date).sum(axis=1).round(AMOUNT_DECIMALS)
    return [DayCost(ts.date(), float(v)) for ts, v in totals.items()]


def daily_by_service(series: pd.DataFrame, report_date: date) -> pd.DataFrame:
    """Days of d's month up to d x services with cost this month (0-filled), most expensive month first."""
    month = _month(series, report_date)
    mtd = month.sum(axis=0).round(AMOUNT_DECIMALS)
    keep = mtd[(month != 0).any(axis=0)]
    order = sorted(keep.index, key=lambda name: (-keep[name], str(name)))
    return month[order]


def summary(series: pd.DataFrame, report_date: date) -> Summary:
    """Headline totals for d: total, previous day, 7-day average, month to date and the previous month's pace."""
    d = _day(report_date)
    known = series.notna().any(axis=1)
    totals = series.fillna(0.0).sum(axis=1).round(AMOUNT_DECIMALS)

    def covered(start: pd.Timestamp, end: pd.Timestamp) -> bool:
        days = pd.date_range(start, end, freq="D")
        return bool(len(days)) and days.isin(known.index[known.to_numpy()]).all()

    prev = d - pd.Timedelta(days=1)
    week_start = d - pd.Timedelta(days=7)
    prev_end_of_month = d.replace(day=1) - pd.Timedelta(days=1)
    prev_start = prev_end_of_month.replace(day=1)
    prev_days = calendar.monthrange(prev_start.year, prev_start.month)[1]
    prev_until = prev_start.replace(day=min(d.day, prev_days))
    # The previous month counts only once data had started by its first day.
    first_known = known.index[known.to_numpy()].min() if known.any() else None
    return Summary(
        total=float(totals.get(d, 0.0)),
        previous_day=float(totals[prev]) if covered(prev, prev) else None,
        avg7=float(totals.loc[week_start:prev].mean()) if covered(week_start, prev) else None,
        same_weekday=float(totals[week_start]) if covered(week_start, week_start) else None,
        mtd_total=float(totals.loc[d.replace(day=1):d].sum()),
        mtd_previous=(float(totals.loc[prev_start:prev_until].sum())
                      if first_known is not None and first_known <= prev_start else None),
    )


def drop_spike_echoes(trends: list[Trend], spikes: list[Spike]) -> list[Trend]:
    """Trends without the echoes of d's spikes (USD/day): most of the 7-day vs 28-day move is d's excess alone.

    A one-day spike lifts the 7-day average by delta/7 and the 28-day one by delta/28 and can drag the MACD across
    its signal line: the same event would be reported twice. A trend of a spiking service stays when at least
    half of its move remains without d's excess (a real turn that also spikes on d).
    """
    excess = {(s.service, s.breakdown, s.direction): s.delta for s in spikes}
    kept = []
    for t in trends:
        delta = excess.get((t.service, t.breakdown, t.direction))
        move = t.avg7 - t.avg28
        if delta is None or abs(move - delta * (1 / 7 - 1 / 28)) >= 0.5 * abs(move):
            kept.append(t)
    return kept


# --- alerts per breakdown ----------------------------------------------------------------------

def breakdown_alerts(breakdowns: pd.DataFrame, series: pd.DataFrame, report_date: date, params: AlertParams,
                     shown: tuple[list[Spike], list[Trend], list[FirstSeen]],
                     ) -> tuple[list[Spike], list[Trend], list[FirstSeen]]:
    """Spikes, trends and first-seen items of the (service, breakdown) series that the service totals do not show.

    Each series is judged by the same rules as a service (so the false-alert rate per series-day is the service
    level's). One event, one alert: a breakdown alert in the direction of its service's own alert of the same kind
    (or of a service new on d) is that alert's root cause, not a second alert; what remains is a move the service
    total hides (offset by another breakdown, or too small a share). A remaining spike carries the breakdown of
    the same service that moved most the other way on d (offset_by, offset in USD) and the service's net move;
    that offsetting breakdown is not reported again as a spike of its own (one event: +X here, -X there), nor is a
    spike offset by a breakdown new on d (a move to a new account is reported once, as new).
    """
    if breakdowns.shape[1] == 0:
        return [], [], []
    spikes, trends, first_seen = shown
    b_spikes = detect_spikes(breakdowns, report_date, params)
    b_trends = detect_trends(breakdowns, report_date, params)
    if params.trend_filter:
        b_trends = drop_spike_echoes(b_trends, b_spikes)
    b_new = detect_first_seen(breakdowns, report_date, params)
    new = {f.service for f in first_seen}
    spiked = {(s.service, s.direction) for s in spikes}
    turned = {(t.service, t.direction) for t in trends}
    b_spikes = [s for s in b_spikes if s.service not in new and (s.service, s.direction) not in spiked]
    b_trends = [t for t in b_trends if t.service not in new and (t.service, t.direction) not in turned]
    b_new = [f for f in b_new if f.service not in new and (f.service, "up") not in spiked]
    if b_spikes:
        b_delta = np.nan_to_num(spike_stats(_upto(breakdowns, report_date))["delta"])
        s_delta = dict(zip(series.columns, spike_stats(_upto(series, report_date))["delta"], strict=True))
        owners = breakdowns.columns.get_level_values(0)
        names = breakdowns.columns.get_level_values(1)
        out, told = [], {(f.service, f.breakdown) for f in b_new}
        for s in b_spikes:  # the largest $ first
            if (s.service, s.breakdown) in told:
                continue  # the offset of a larger spike already reported: the same event
            sign = 1.0 if s.direction == "up" else -1.0
            other = np.where(owners == s.service, -sign * b_delta, 0.0)  # moves the other way, > 0
            i = int(np.argmax(other))
            by, offset = (str(names[i]), float(b_delta[i])) if other[i] > 0 else ("", 0.0)
            if (s.service, by) in told and by:
                continue  # the other side of a move already reported (to a new breakdown, or a larger spike)
            net = float(s_delta[s.service])
            out.append(replace(s, offset_by=by, offset=offset, service_delta=net if np.isfinite(net) else None))
            told.add((s.service, by))
        b_spikes = out
    return b_spikes, b_trends, b_new


def _estimated_dates(costs: pd.DataFrame, report_date: date, lookback_days: int) -> list[date]:
    """Days of the window with an Estimated row in the long frame."""
    if not len(costs):
        return []
    d = _day(report_date)
    start = d - pd.Timedelta(days=lookback_days)
    dates = pd.DatetimeIndex(costs["usage_date"]).normalize()
    flagged = costs["estimated"].to_numpy(dtype=bool) & (dates >= start) & (dates <= d)
    return sorted({ts.date() for ts in dates[flagged].unique()})


# --- everything --------------------------------------------------------------------------------

def analyse(costs: pd.DataFrame | CostMatrix, report_date: date, params: AlertParams) -> Analysis:
    """Summaries and alerts for d from the long cost frame of db.load_costs, or from the CostMatrix of the same rows
    (window.load_window; the same Analysis), over the window LOOKBACK_DAYS."""
    if isinstance(costs, CostMatrix):
        series, breakdowns, estimated = matrix_series(costs, report_date, params.lookback_days)
    else:
        series = build_series(costs, report_date, params.lookback_days)
        breakdowns = build_breakdown_series(costs, report_date, params.lookback_days)
        estimated = _estimated_dates(costs, report_date, params.lookback_days)
    spikes = detect_spikes(series, report_date, params)
    trends = detect_trends(series, report_date, params)
    if params.trend_filter:
        trends = drop_spike_echoes(trends, spikes)
    first_seen = detect_first_seen(series, report_date, params)
    # With COST_GROUP_BY stored, every (service, breakdown) series is judged too (breakdown_alerts).
    b_spikes, b_trends, b_new = breakdown_alerts(breakdowns, series, report_date, params,
                                                 (spikes, trends, first_seen))
    alerted = dict.fromkeys((a.service, a.breakdown) for a in (*b_spikes, *b_trends, *b_new))
    spikes = sorted(spikes + b_spikes, key=lambda s: (-abs(s.delta), s.service, s.breakdown))
    trends = sorted(trends + b_trends, key=lambda t: (-t.cost, t.service, t.breakdown))
    first_seen = sorted(first_seen + b_new, key=lambda f: (-f.cost, f.service, f.breakdown))
    return Analysis(
        report_date=report_date,
        spikes=spikes,
        trends=trends,
        mtd_by_service=month_to_date(series, report_date),
        daily_totals=daily_totals(series, report_date),
        summary=summary(series, report_date),
        series=series,
        daily_by_service=daily_by_service(series, report_date),
        estimated_dates=estimated,
        first_seen=first_seen,
        breakdown_series={key: breakdowns[key].rename(None) for key in alerted},
    )


__all__ = [
    "NoDataError", "build_series", "matrix_series", "build_breakdown_series", "breakdown_alerts", "detect_first_seen", "detect_spikes", "detect_trends", "month_to_date", "daily_totals",
    "daily_by_service", "summary", "analyse", "drop_spike_echoes", "macd_last", "monthly_charges", "spike_stats",
    "trend_stats",
]
