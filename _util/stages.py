"""What every stage shares around its work: the stage names (for the deadline), the one way a stage opens the
database, and the day's analysis read from it by a stage script run alone."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from . import db
from .config import Settings
from .model import AlertParams, Analysis

if TYPE_CHECKING:
    from .view import DayView

log = logging.getLogger("aws_cost_tracking")

_CURRENT: list[str] = []  # the stages entered and not yet left (innermost last); the deadline names the last


def current_stage() -> str:
    """The stage the run is in now ("start" before the first)."""
    return _CURRENT[-1] if _CURRENT else "start"


@contextmanager
def stage_name(name: str) -> Iterator[None]:
    """Mark the run as being in stage `name` (for the deadline's error line) without timing or logging it."""
    _CURRENT.append(name)
    try:
        yield
    finally:
        _CURRENT.pop()


@contextmanager
def stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time a stage and log one line for it."""
    started = time.perf_counter()
    try:
        with stage_name(name):  # named before the start line: a signal arriving from then on names this stage
            log.debug("stage %s: start", name)
            yield
    except BaseException:  # the deadline's RunTimeout too
        timings[name] = time.perf_counter() - started
        log.error("stage %s failed after %.2f s", name, timings[name])
        raise
    timings[name] = time.perf_counter() - started
    log.info("stage %s: %.2f s", name, timings[name])


@contextmanager
def open_database(settings: Settings, *, before_init: Callable[[Engine], None] | None = None,
                  demo_data: bool = True, after_init: Callable[[Engine], None] | None = None) -> Iterator[Engine]:
    """The stage's engine: DATABASE_URL with the DB_* timeouts; before_init (the pre-flight) runs first, then the
    schema is created or upgraded, after_init runs, and with --demo (and demo_data) the sample data up to d is
    stored, so every stage script runs on its own. Disposed on leaving."""
    engine = db.make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout_seconds,
                            timeout=settings.db_timeout_seconds)
    try:
        if before_init is not None:
            before_init(engine)
        with stage_name("database"):
            db.init_db(engine)
            if after_init is not None:
                after_init(engine)
        if demo_data and settings.demo:
            from .ingest import ingest

            ingest(settings, engine)
        yield engine
    finally:
        engine.dispose()


def load_day(settings: Settings, engine: Engine) -> Analysis:
    """Read [d - LOOKBACK_DAYS, d] from the database and compute d's summaries and alerts."""
    from . import metrics, window

    d = settings.day
    start = d - timedelta(days=settings.lookback_days)
    # The window as a days x series matrix, only the days changed since the last run read (OUTPUT_DIR/cache).
    costs = window.load_window(engine, start, d, cache_dir=window_cache_dir(settings))
    # With COST_GROUP_BY the alerts also judge each (service, breakdown) series; else only the service totals.
    return metrics.analyse(costs if settings.group_by else costs.by_service(), d, AlertParams.from_settings(settings))


def window_cache_dir(settings: Settings):
    """Where the analysis window's matrix is cached (OUTPUT_DIR/cache; local, rebuilt when missing)."""
    return settings.output_dir / "cache"


def day_view(settings: Settings, analysis: Analysis, root_causes=None, *, engine: Engine | None = None,
             ce_answer=None) -> DayView:
    """The view model of d: built once from the analysis, the rule settings and the alerts' root causes
    ((service, breakdown, kind) -> drilldown.RootCauseResult); every output is a view of it. A stage run alone
    passes its engine instead: the root causes the day's run stored are read back (no request is made); so is Cost
    Explorer's forecast with FORECAST_SOURCE=ce (ce_answer: the run's own, ce_forecast.CeAnswer)."""
    import pandas as pd

    from . import aws_budgets, ce_forecast, drilldown, forecast, view
    from .teams import load_teams

    if root_causes is None and engine is not None:
        root_causes = drilldown.stored([*analysis.spikes, *analysis.trends, *analysis.first_seen], engine,
                                       analysis.report_date)
    d = analysis.report_date
    # An Analysis made by hand may hold no series up to d: then there is nothing to forecast from.
    month_end = (forecast.month_end(analysis.series, d, estimated_dates=analysis.estimated_dates)
                 if pd.Timestamp(d) in analysis.series.index else None)
    if month_end is not None:
        review = forecast.last_month_review(analysis.series, d, estimated_dates=analysis.estimated_dates,
                                            interval=month_end.interval)
        month_end = replace(ce_forecast.day_forecast(settings, month_end, ce_answer), last_month=review)
    teams = load_teams(settings.teams_file) if settings.teams_file is not None else None
    amounts = aws_budgets.budget_amounts(settings, teams) if month_end is not None else None
    months = (day_teams(settings, analysis, month_end, engine, teams, amounts)
              if teams and month_end is not None else [])
    budgets = (day_budgets(settings, analysis, month_end, engine, teams, months, amounts)
               if month_end is not None else [])
    out = view.build_view(analysis, view.Rules.from_settings(settings), root_causes, forecast=month_end,
                          teams=teams, budgets=budgets, team_months=months)
    if amounts is not None and amounts.source == "aws":  # where the budgets came from, and what was left out
        out = replace(out, extra={**out.extra, "budgets_source": amounts.to_dict()})
    return out


def _amounts(settings: Settings, team_list, amounts):
    """The budgets as given, else the settings' (MONTHLY_BUDGET_USD and the teams file's monthly_budget_usd)."""
    from .aws_budgets import from_settings

    return amounts if amounts is not None else from_settings(settings, team_list)


def day_budgets(settings: Settings, analysis: Analysis, month_end, engine: Engine | None = None,
                team_list=None, months=None, amounts=None) -> list:
    """d's budgets (budgets.BudgetStatus): the account's budget against the account's forecast, then each team's
    against its own forecast (day_teams; months: its answer already computed). team_list: the teams file already
    read (else it is read here); amounts: aws_budgets.BudgetAmounts, the budgets as BUDGETS_SOURCE says (default:
    the settings')."""
    from . import budgets, teams

    if team_list is None and settings.teams_file:
        team_list = teams.load_teams(settings.teams_file)
    amounts = _amounts(settings, team_list, amounts)
    out = []
    if amounts.overall:
        out.append(budgets.budget_status(analysis.series.sum(axis=1), analysis.report_date, amounts.overall,
                                         month_end.forecast, month_end.low, month_end.high, level=month_end.interval))
    if months is None and team_list and any(amounts.teams.get(t.name) for t in team_list):
        months = day_teams(settings, analysis, month_end, engine, team_list, amounts)
    return out + [m.budget for m in months or () if m.budget is not None]


def day_teams(settings: Settings, analysis: Analysis, month_end, engine: Engine | None, team_list,
              amounts=None) -> list:
    """Each team's day and month (budgets.TeamMonth, file order, then the costs no team owns): forecast.month_end
    on the teams' daily costs (one column per owner, all in one call) with its budget (amounts: as day_budgets).
    The costs are the stored rows over the lookback with an engine (services, accounts and tags attributed), else
    the analysis' per-service series (service ownership only)."""
    import pandas as pd

    from . import budgets, forecast

    amounts = _amounts(settings, team_list, amounts)
    d = analysis.report_date
    index = analysis.series.index
    if engine is not None:  # the window load_day read, from its cache: only the days changed since are read
        from . import window

        matrix = window.load_window(engine, d - timedelta(days=settings.lookback_days), d,
                                    cache_dir=window_cache_dir(settings))
        daily = budgets.team_daily_matrix(matrix, team_list, settings.group_by)
    else:
        costs = (analysis.series.rename_axis(index="usage_date", columns="service").stack().rename("amount")
                 .reset_index().assign(breakdown=""))
        daily = budgets.team_daily_costs(costs, team_list, settings.group_by)
    daily.index = pd.to_datetime(daily.index)
    daily = daily.reindex(index, fill_value=0.0)
    month = forecast.month_end(daily, d, interval=month_end.interval)
    return budgets.team_months(daily, d, month, {name: v for name, v in amounts.teams.items() if v})
