"""Budget alerts, backtested: every day of many simulated team-months against budgets set around each month's total.

Teams are the forecast bench's synthetic worlds (weekly seasonality with a step mid-month, a spike day, fees on the
1st, a trend, or nothing more) split in two teams each, and the sample world split by docs/teams.example.toml. For
every day of every month the team's month-end forecast (forecast.month_end on the team columns, as the report does)
and the budget rule (budgets.pace_status, the report's own) give a status against budgets placed at a fixed share
of the month's eventual total: below it (the month overruns) or at least 5% above it (the month ends under budget).
Prints (a) the share of team-days "on pace to exceed" when the month ends >= 5% under budget (target <= 2%) and
(b) the share of eventual overruns flagged ("on pace" or "exceeded") by day 20 (target >= 90%), per dataset and
budget share, with PASS/FAIL; then other "on pace" rules tried on the same days (the report's rule is
"forecast > budget, low > 97%", budgets.PACE_LOW_SHARE). `--quick` uses fewer seeds and months.
"""

from __future__ import annotations

import argparse
import calendar
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _util import budgets
from _util.forecast import month_end
from _util.teams import load_teams
from bench.bench_forecast import sample_world, synthetic
from bench.verdict import verdict

# Budget as a share of the month's eventual total: < 1 overruns, >= 1.05 ends at least 5% under.
UNDER = (0.80, 0.90, 0.95, 0.98)
OVER = (1.05, 1.10, 1.20)
FLAG_BY_DAY = 20
TEAMS_FILE = Path(__file__).resolve().parent.parent / "docs" / "teams.example.toml"


def synthetic_teams(kind: str, seeds: range, months: int) -> pd.DataFrame:
    """Two teams per seed of one synthetic kind: "<seed>a" (the two big services and any fee), "<seed>b"."""
    cols = {}
    for seed in seeds:
        world = synthetic(kind, seed, months)
        fees = world.drop(columns=[c for c in world if c.startswith("svc")]).sum(axis=1)
        cols[f"{seed}a"] = world["svc0"] + world["svc1"] + fees
        cols[f"{seed}b"] = world["svc2"] + world["svc3"]
    return pd.DataFrame(cols)


def sample_teams(months: int) -> pd.DataFrame:
    """The sample world's services summed per owner of the demo teams file (the rest: "unowned")."""
    world = sample_world(months)
    teams = load_teams(TEAMS_FILE)
    owner = {s: getattr(teams.owner(s), "name", "unowned") for s in world.columns}
    return world.T.groupby(owner).sum().T


def simulate(series: pd.DataFrame, months: int) -> list[dict]:
    """One row per (team, month, day, budget share): day of month, share, status (the report's rule), and the
    figures the rule saw (USD: month to date, forecast, low, high, budget) to try other rules on."""
    rows = []
    for m0 in pd.date_range(series.index[0], series.index[-1], freq="MS")[-months:]:
        n_days = calendar.monthrange(m0.year, m0.month)[1]
        month = series.loc[m0:m0 + pd.Timedelta(days=n_days - 1)]
        outcome = month.sum(axis=0)  # each team's eventual month total
        cumulative = month.cumsum(axis=0)
        shares = np.array(UNDER + OVER)
        for day in range(1, n_days + 1):
            d = (m0 + pd.Timedelta(days=day - 1)).date()
            by = {f.service: f for f in month_end(series.loc[:pd.Timestamp(d)], d).by_service}
            for team in series.columns:
                f = by.get(team)
                if f is None or outcome[team] <= 0:
                    continue
                mtd, budget = cumulative[team].iloc[day - 1], outcome[team] * shares
                status = budgets.pace_status(mtd, f.forecast, f.low, f.high, budget)
                rows += [{"team": team, "month": m0.strftime("%Y-%m"), "day": day, "share": float(sh),
                          "status": str(st), "mtd": mtd, "forecast": f.forecast, "low": f.low, "high": f.high,
                          "budget": b} for sh, st, b in zip(shares, status, budget, strict=True)]
    return rows


# Other rules tried in the same run (USD arrays -> on pace?), beside the report's budgets.pace_status.
RULES = {
    "forecast > budget": lambda f, lo, hi, b: f > b,
    "low > budget": lambda f, lo, hi, b: lo > b,
    "forecast > budget, low > 97%": lambda f, lo, hi, b: (f > b) & (lo > 0.97 * b),
    "forecast > 101% of budget": lambda f, lo, hi, b: f > 1.01 * b,
}


def with_rule(rows: list[dict], rule) -> list[dict]:
    """The rows with their status under another "on pace" rule ("exceeded" is month to date over the budget)."""
    get = {k: np.array([r[k] for r in rows], dtype=float) for k in ("mtd", "forecast", "low", "high", "budget")}
    on_pace = rule(get["forecast"], get["low"], get["high"], get["budget"])
    status = np.where(get["mtd"] > get["budget"], budgets.EXCEEDED, np.where(on_pace, budgets.ON_PACE, budgets.OK))
    return [{**r, "status": str(st)} for r, st in zip(rows, status, strict=True)]


def false_alarm_share(rows: list[dict]) -> float:
    """Share of team-days "on pace to exceed" among months ending >= 5% under budget (share >= 1.05); NaN if none."""
    days = [r for r in rows if r["share"] >= 1.05 - 1e-9]
    return sum(r["status"] == budgets.ON_PACE for r in days) / len(days) if days else float("nan")


def flagged_share(rows: list[dict], by_day: int = FLAG_BY_DAY) -> float:
    """Share of eventual overruns (share < 1) flagged ("on pace" or "exceeded") on some day <= by_day; NaN if none."""
    months: dict[tuple, bool] = {}
    for r in rows:
        if r["share"] < 1:
            key = (r["team"], r["month"], r["share"])
            hit = r["day"] <= by_day and r["status"] in (budgets.ON_PACE, budgets.EXCEEDED)
            months[key] = months.get(key, False) or hit
    return sum(months.values()) / len(months) if months else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds and months")
    args = ap.parse_args(argv)
    seeds, months = (range(2000, 2004), 3) if args.quick else (range(2000, 2010), 6)
    t0 = time.perf_counter()
    results = {"sample world": simulate(sample_teams(months), months)}
    for kind in ("stationary", "step", "spike", "fee", "trend"):
        results[kind] = simulate(synthetic_teams(kind, seeds, months), months)
    results["all"] = [{**r, "team": f"{name}/{r['team']}"} for name, rows in results.items() for r in rows]

    print(f"{'dataset':<13} {'team-months':>11}  {'on pace, >=5% under':>20}  {'overruns flagged by day 20':>26}")
    for name, rows in results.items():
        n = len({(r["team"], r["month"]) for r in rows})
        print(f"{name:<13} {n:>11}  {false_alarm_share(rows):>20.2%}  {flagged_share(rows):>26.1%}")
    print()
    print(f"{'budget/outcome':>14}  {'on pace days':>12}  {'flagged by day 20':>17}")
    rows = results["all"]
    for share in UNDER + OVER:
        sub = [r for r in rows if r["share"] == share]
        on_pace = sum(r["status"] == budgets.ON_PACE for r in sub) / len(sub)
        flagged = flagged_share(sub) if share < 1 else float("nan")
        print(f"{share:>14.2f}  {on_pace:>12.1%}  {'' if np.isnan(flagged) else f'{flagged:.1%}':>17}".rstrip())
    print()
    print(f"{'rule tried (on pace when)':<30} {'on pace, >=5% under':>20} {'flagged by day 20':>18} "
          f"{'step: on pace, >=5% under':>26}")
    step = [r for r in rows if r["team"].startswith("step/")]
    for name, rule in RULES.items():
        ruled, ruled_step = with_rule(rows, rule), with_rule(step, rule)
        print(f"{name:<30} {false_alarm_share(ruled):>20.2%} {flagged_share(ruled):>18.1%} "
              f"{false_alarm_share(ruled_step):>26.2%}")
    print()
    fa, fl = false_alarm_share(rows), flagged_share(rows)
    checks = [(f"'on pace to exceed' on {fa:.2%} of team-days of months ending >= 5% under budget (<= 2%)",
               fa <= 0.02),
              (f"{fl:.1%} of eventual overruns flagged by day {FLAG_BY_DAY} (>= 90%)", fl >= 0.90)]
    return verdict(checks, t0)


if __name__ == "__main__":
    sys.exit(main())
