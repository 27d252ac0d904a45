"""Month-end forecast accuracy: backtest on days 7, 14 and 21 of many months, model vs the naive run rate.

Datasets: the sample world (_util/sample_data.daily_costs) and synthetic worlds with weekly seasonality, a step
change mid-month, a spike day, a fee on the 1st and a trend. Prints the absolute % error of the month-end total
(median and p90) per horizon for the model and the naive run rate (MTD / days x days in month) in the same run, the
80% interval's coverage, and PASS/FAIL against issue 13's targets. `--quick` uses fewer seeds and months.
"""

from __future__ import annotations

import argparse
import calendar
import sys
import time
from datetime import date

import numpy as np
import pandas as pd

from _util import sample_data
from _util.forecast import month_end
from bench.verdict import verdict

HORIZONS = (7, 14, 21)
START = date(2024, 1, 1)


def _frame(cols: dict[str, np.ndarray], start: date) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame(cols, index=pd.date_range(start, periods=n))


def sample_world(months: int) -> pd.DataFrame:
    end = date(2026, 10, 31)
    start = (pd.Timestamp(end) - pd.DateOffset(months=months + 12)).date().replace(day=1)
    return _frame(sample_data.daily_costs(start, end, anchor=end), start)


def synthetic(kind: str, seed: int, months: int) -> pd.DataFrame:
    """A small world of services; `kind` adds one difficulty to weekly seasonality and 4% noise."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(START, pd.Timestamp(START) + pd.DateOffset(months=months + 12) - pd.Timedelta(days=1))
    n = len(idx)
    wd = idx.day_of_week.to_numpy()
    cols = {}
    for i, (level, swing) in enumerate(((400.0, 0.10), (150.0, 0.3), (60.0, 0.02), (25.0, 0.5))):
        season = np.where(wd >= 5, 1 - swing, 1 + swing * 0.4)
        base = np.full(n, level * rng.uniform(0.8, 1.2))
        if kind == "step" and i < 2:
            # A step on a random mid-month day of every month (up or down by 10-40%).
            for m0 in pd.date_range(idx[0], idx[-1], freq="MS"):
                at = idx.get_loc(m0 + pd.Timedelta(days=int(rng.integers(10, 20))))
                base[at:] *= rng.choice([-1, 1]) * rng.uniform(0.1, 0.4) + 1
        if kind == "trend":
            base *= np.exp(rng.uniform(0.002, 0.006) * np.arange(n))
        values = base * season * (1 + 0.04 * rng.standard_normal(n))
        if kind == "spike":
            # One spike day (x3-x6) per month on a random day of a random service.
            for m0 in pd.date_range(idx[0], idx[-1], freq="MS"):
                if rng.integers(4) == i:
                    at = idx.get_loc(m0 + pd.Timedelta(days=int(rng.integers(0, 27))))
                    values[at] *= rng.uniform(3, 6)
        cols[f"svc{i}"] = values
    if kind == "fee":
        cols["Support"] = np.where(idx.day == 1, 2500.0, 0.0)
        cols["Tax"] = np.where(idx.day == 1, 900.0, 0.0)
    return pd.DataFrame(cols, index=idx)


def backtest(series: pd.DataFrame, months: int) -> list[tuple[int, float, float, bool]]:
    """(horizon, model abs % error, naive abs % error, interval covers) for days 7/14/21 of the last months."""
    out = []
    total = series.sum(axis=1)
    month_starts = pd.date_range(series.index[0], series.index[-1], freq="MS")[-months:]
    for m0 in month_starts:
        n_days = calendar.monthrange(m0.year, m0.month)[1]
        actual = float(total.loc[m0:m0 + pd.Timedelta(days=n_days - 1)].sum())
        for h in HORIZONS:
            d = (m0 + pd.Timedelta(days=h - 1)).date()
            f = month_end(series, d)
            mtd = float(total.loc[m0:pd.Timestamp(d)].sum())
            naive = mtd / h * n_days
            out.append((h, abs(f.forecast / actual - 1) * 100, abs(naive / actual - 1) * 100,
                        f.low <= actual <= f.high))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds and months (< 15 s)")
    args = ap.parse_args(argv)
    seeds, months = (5, 6) if args.quick else (12, 9)
    t0 = time.perf_counter()
    results: dict[str, list] = {"sample world": backtest(sample_world(months), months)}
    for kind in ("stationary", "step", "spike", "fee", "trend"):
        results[kind] = [r for s in range(seeds) for r in backtest(synthetic(kind, 1000 + s, months), months)]
    results["all"] = [r for rows in results.values() for r in rows]

    ok = True
    print(f"{'dataset':<13} {'day':>3} {'n':>4}  {'model med':>9} {'p90':>6}  {'naive med':>9} {'p90':>6}  "
          f"{'cover80':>7}  beats")
    for name, rows in results.items():
        arr = np.array(rows, dtype=float)
        for h in HORIZONS:
            a = arr[arr[:, 0] == h]
            mm, mp = np.median(a[:, 1]), np.percentile(a[:, 1], 90)
            nm, npc = np.median(a[:, 2]), np.percentile(a[:, 2], 90)
            beats = mm < nm
            ok &= bool(beats) if name == "all" else True
            print(f"{name:<13} {h:>3} {len(a):>4}  {mm:>8.2f}% {mp:>5.1f}%  {nm:>8.2f}% {npc:>5.1f}%  "
                  f"{a[:, 3].mean():>6.0%}  {'yes' if beats else 'no'}")
    arr = np.array(results["all"], dtype=float)
    stat = np.array(results["stationary"], dtype=float)
    coverage = arr[:, 3].mean()
    day14 = float(np.median(stat[stat[:, 0] == 14, 1]))
    beats_all = all(np.median(arr[arr[:, 0] == h, 1]) < np.median(arr[arr[:, 0] == h, 2]) for h in HORIZONS)
    checks = [("model beats naive (median, all datasets) at every horizon", beats_all),
              (f"stationary median error at day 14 {day14:.2f}% <= 3%", day14 <= 3.0),
              (f"80% interval coverage {coverage:.1%} in 75-85%", 0.75 <= coverage <= 0.85)]
    return verdict(checks, t0)


if __name__ == "__main__":
    sys.exit(main())
