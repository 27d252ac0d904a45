"""Monthly budgets: where the month stands against a budget (account or team), and each team's daily costs.

Pure: takes the month's daily costs, the report date d and the forecast as plain numbers (no clock, no settings).
Alerts fire on their day only: "on pace to exceed" each day the rule below says so, "exceeded" once, on the day
month to date first passes the budget (later days show the status, no alert).

The rule (pace_status), chosen by the backtest bench/bench_budgets.py: "on pace to exceed" when the month-end
forecast is above the budget AND the forecast interval's low end is above PACE_LOW_SHARE (97%) of it. The forecast
alone alerted on 6% of the days of months that ended >= 5% under budget when a cost stepped mid-month; requiring
the low end near the budget cuts that to 1.8% (0.4% over all the backtest's series) and still flags 98.5% of
overruns by day 20 (README "Budgets and teams"). A forecast above
the budget whose interval reaches further down is said ("could exceed …, too uncertain to alert"), not alerted; a
budget inside the interval is "borderline", said in the sentence.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from . import fmt
from .teams import UNOWNED, Teams

OK, ON_PACE, EXCEEDED = "ok", "on_pace_to_exceed", "exceeded"
PACE_LOW_SHARE = 0.97  # "on pace" needs the interval's low end above this share of the budget (bench_budgets)


@dataclass(frozen=True)
class BudgetStatus:
    """One budget on d: month to date and forecast (USD) against it, and what to say."""

    team: str | None  # None = the whole account (MONTHLY_BUDGET_USD)
    budget: float
    mtd: float
    forecast: float
    low: float  # the forecast's prediction interval (level: `level`)
    high: float
    status: str  # OK | ON_PACE | EXCEEDED
    exceed_date: date | None  # EXCEEDED: the day month to date passed it; ON_PACE: the day the forecast path does
    passed_today: bool  # month to date passed the budget on d itself (the one day "exceeded" alerts)
    borderline: bool  # the budget lies inside [low, high]: the forecast cannot tell either way
    level: float = 0.8

    @property
    def alert(self) -> bool:
        """True on the days this budget alerts: every day on pace to exceed, and the day it is passed."""
        return self.status == ON_PACE or self.passed_today

    @property
    def text(self) -> str:
        """The one sentence of this budget on d."""
        budget = fmt.money(self.budget)
        spread = fmt.interval(self.low, self.high, self.level)
        if self.status == EXCEEDED:
            if self.passed_today:
                return f"passed the {budget} budget today"
            return f"over the {budget} budget since the {fmt.day_of_month(self.exceed_date)}: " \
                   f"{fmt.money(self.mtd)} so far"
        if self.status == ON_PACE:
            over = fmt.money(fmt.shown_difference(self.forecast, self.budget))
            when = f" — around the {fmt.day_of_month(self.exceed_date)}" if self.exceed_date else ""
            edge = "; borderline: the budget is inside the interval" if self.borderline else ""
            return f"on pace to exceed the {budget} budget by {over}{when} ({spread}{edge})"
        if fmt.cents(self.forecast) > fmt.cents(self.budget):
            return f"could exceed the {budget} budget: {fmt.money(self.forecast)} forecast ({spread}), too " \
                   "uncertain to alert"
        if self.borderline:
            return f"within budget, narrowly: {fmt.money(self.forecast)} forecast of {budget} ({spread})"
        return f"within budget: {fmt.money(self.forecast)} forecast of {budget}"

    def to_dict(self) -> dict[str, Any]:
        """report.json's "budgets" entry (DESIGN "Forecast, budgets and teams"), with the interval and flags."""
        return {"team": self.team, "budget": self.budget, "mtd": fmt.cents(self.mtd),
                "forecast": fmt.cents(self.forecast), "low": fmt.cents(self.low), "high": fmt.cents(self.high),
                "status": self.status, "exceed_date": fmt.day_iso(self.exceed_date) if self.exceed_date else None,
                "passed_today": self.passed_today, "borderline": self.borderline}


def month_days(daily: pd.Series, d: date) -> pd.Series:
    """USD per day of d's month up to d (index: dates 1st..d; a day without costs is 0) from a daily series
    indexed by day (date or datetime64)."""
    first = d.replace(day=1)
    index = pd.date_range(first, d, freq="D")
    series = pd.Series(daily, dtype="float64")
    series.index = pd.to_datetime(series.index)
    series = series.groupby(level=0).sum().reindex(index, fill_value=0.0)
    series.index = series.index.date
    return series


def budget_status(daily: pd.Series, d: date, budget: float, forecast: float, low: float, high: float, *,
                  team: str | None = None, level: float = 0.8) -> BudgetStatus:
    """Where d's month stands against budget (USD): daily = the month's costs per day (the account's, or a
    team's owned costs), forecast/low/high = the month-end forecast and its interval (USD)."""
    if not budget > 0 or not math.isfinite(budget):
        raise ValueError(f"budget must be a finite number > 0, got {budget!r}")
    days = month_days(daily, d)
    # Compared to the cent: status and sentence agree ("$12,000.00 so far" is not over a $12,000.00 budget).
    cumulative = days.cumsum().map(fmt.cents)
    mtd = float(days.sum())
    over = cumulative[cumulative > fmt.cents(budget)]
    # The highest point so far: a month passed it stays passed when a later credit brings it back under.
    peak = float(cumulative.max()) if len(cumulative) else 0.0
    status = str(pace_status(peak, fmt.cents(forecast), low, high, fmt.cents(budget)))
    exceed_date: date | None = None
    if status == EXCEEDED:
        exceed_date = over.index[0]
    elif status == ON_PACE:
        exceed_date = _crossing(mtd, forecast, budget, d)
    return BudgetStatus(team=team, budget=float(budget), mtd=mtd, forecast=float(forecast), low=float(low),
                        high=float(high), status=status, exceed_date=exceed_date,
                        passed_today=status == EXCEEDED and exceed_date == d,
                        borderline=bool(low <= budget <= high), level=level)


def pace_status(mtd, forecast, low, high, budget):
    """The budget rule on numbers or numpy arrays (USD): EXCEEDED when month to date is over the budget, ON_PACE
    when the forecast is over it and the interval's low end over PACE_LOW_SHARE of it, else OK (high: unused,
    the callers' one signature)."""
    mtd, forecast, low, budget = np.asarray(mtd), np.asarray(forecast), np.asarray(low), np.asarray(budget)
    on_pace = (forecast > budget) & (low > PACE_LOW_SHARE * budget)
    return np.where(mtd > budget, EXCEEDED, np.where(on_pace, ON_PACE, OK))


def _crossing(mtd: float, forecast: float, budget: float, d: date) -> date | None:
    """The day the forecast path, linear from mtd after d to forecast at month end, first passes budget."""
    remaining = calendar.monthrange(d.year, d.month)[1] - d.day
    rate = (forecast - mtd) / remaining if remaining else 0.0  # USD per remaining day
    if rate <= 0:
        return None  # d is the month's last day (or the forecast adds nothing): no day left to pass it
    k = min(max(math.floor((budget - mtd) / rate) + 1, 1), remaining)
    return d + timedelta(days=k)


def team_daily_costs(costs: pd.DataFrame, teams: Teams, group_by: str = "") -> pd.DataFrame:
    """Daily USD per owner from the long cost frame (usage_date, service, breakdown, amount): one column per team
    in file order, then "unowned"; each row's owner is teams.owner (the first matching team)."""
    columns = [t.name for t in teams] + [UNOWNED]
    if costs.empty:
        return pd.DataFrame(columns=columns, dtype="float64")
    pairs = costs[["service", "breakdown"]].drop_duplicates().itertuples(index=False, name=None)
    owner_of = {}
    for service, breakdown in pairs:
        team = teams.owner(service, breakdown, group_by)
        owner_of[(service, breakdown)] = team.name if team else UNOWNED
    owners = pd.MultiIndex.from_frame(costs[["service", "breakdown"]]).map(owner_of)
    table = (costs.assign(owner=list(owners))
             .pivot_table(index="usage_date", columns="owner", values="amount", aggfunc="sum", fill_value=0.0))
    return table.reindex(columns=columns, fill_value=0.0).rename_axis(columns=None)


def team_daily_matrix(matrix, teams: Teams, group_by: str = "") -> pd.DataFrame:
    """Daily USD per owner from the window's matrix (model.CostMatrix: days x (service, breakdown)), as
    team_daily_costs gives from the long frame: one column per team in file order, then "unowned". The owner is
    decided once per series, the sums are one vector step per owner."""
    columns = [t.name for t in teams] + [UNOWNED]
    owners = np.array([(team.name if (team := teams.owner(service, breakdown, group_by)) else UNOWNED)
                       for service, breakdown in matrix.keys], dtype=object)
    sums = {name: matrix.values[:, owners == name].sum(axis=1) for name in columns}
    return pd.DataFrame(sums, index=pd.Index(matrix.dates.date, name="usage_date"), columns=columns)


@dataclass(frozen=True)
class TeamMonth:
    """One owner's day and month on d (USD): its cost on d and the days before, month to date, the month-end
    forecast with its interval, and its budget (None: the team has none)."""

    team: str | None  # None = the costs no team owns
    day_cost: float  # on d
    previous_day: float | None  # on d - 1 (None: not in the data)
    same_weekday: float | None  # on d - 7
    avg7: float | None  # the mean of the 7 days before d (None: not all in the data)
    mtd: float
    forecast: float
    low: float
    high: float
    level: float = 0.8
    method: str = "model"  # forecast.Forecast.method
    budget: BudgetStatus | None = None


def team_months(daily: pd.DataFrame, d: date, month_end, budgets: dict[str, float] | None = None) -> list[TeamMonth]:
    """Each owner's TeamMonth on d from daily (USD per day, one column per team then "unowned", as
    team_daily_costs gives) and month_end (forecast.month_end of daily on d: one by_service entry per column);
    budgets: team name -> monthly budget (USD)."""
    budgets = budgets or {}
    series = daily.copy()
    series.index = pd.to_datetime(series.index)
    at = pd.Timestamp(d)
    by = {f.service: f for f in month_end.by_service}

    def on(day: pd.Timestamp, column: str) -> float | None:
        return float(series.at[day, column]) if day in series.index else None

    week = pd.date_range(at - pd.Timedelta(days=7), periods=7)
    full_week = week.isin(series.index).all()
    out = []
    for column in series.columns:
        f = by.get(column)
        mtd, fc, low, high = (f.mtd, f.forecast, f.low, f.high) if f is not None else (0.0, 0.0, 0.0, 0.0)
        team = None if column == UNOWNED else str(column)
        budget = budgets.get(team) if team else None
        status = (budget_status(series[column], d, budget, fc, low, high, team=team, level=month_end.interval)
                  if budget else None)
        out.append(TeamMonth(team=team, day_cost=on(at, column) or 0.0,
                             previous_day=on(at - pd.Timedelta(days=1), column),
                             same_weekday=on(at - pd.Timedelta(days=7), column),
                             avg7=float(series.loc[week, column].mean()) if full_week else None, mtd=mtd, forecast=fc, low=low,
                             high=high, level=month_end.interval, method=month_end.method, budget=status))
    return out
