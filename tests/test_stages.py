"""stages: the one way a stage opens the database (timeouts, order, demo data, dispose) and reads its day."""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import inspect, select, update

from _util import db, metrics, stages
from _util.config import DEMO_DATE, Settings, load_settings
from _util.model import AlertParams
from _util.sample_data import LINKED_ACCOUNTS

D = date(2026, 11, 25)


@pytest.fixture
def engines(monkeypatch):
    """Every engine open_database makes, with the keyword arguments it was made with."""
    made: list[tuple[object, dict]] = []
    real = db.make_engine

    def spy(url, **kwargs):
        engine = real(url, **kwargs)
        made.append((engine, kwargs))
        return engine

    monkeypatch.setattr(db, "make_engine", spy)
    return made


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_the_engine_has_the_settings_timeouts_the_schema_and_is_disposed(sqlite_url, engines, monkeypatch):
    settings = Settings(database_url=sqlite_url, db_connect_timeout_seconds=3, db_timeout_seconds=7, report_date=D)
    with stages.open_database(settings) as engine:
        assert {"daily_cost", "slack_post", "run"} <= tables(engine)
        disposed = []
        monkeypatch.setattr(engine, "dispose", lambda: disposed.append(True))
    assert engines == [(engine, {"connect_timeout": 3, "timeout": 7})]
    assert disposed == [True]


def test_it_is_disposed_when_the_stage_fails(sqlite_url, engines, monkeypatch):
    disposed = []
    with pytest.raises(RuntimeError, match="stage broke"), \
            stages.open_database(Settings(database_url=sqlite_url, report_date=D)) as engine:
        monkeypatch.setattr(engine, "dispose", lambda: disposed.append(True))
        raise RuntimeError("stage broke")
    assert disposed == [True]


def test_before_init_runs_on_an_untouched_database_and_after_init_inside_the_database_stage(sqlite_url):
    seen = []
    settings = Settings(database_url=sqlite_url, report_date=D)
    with stages.open_database(settings, before_init=lambda e: seen.append(("before", tables(e))),
                              after_init=lambda e: seen.append(("after", stages.current_stage()))):
        seen.append(("body", stages.current_stage()))
    assert seen == [("before", set()), ("after", "database"), ("body", "start")]


def test_before_init_failing_leaves_no_tables(sqlite_url):
    def refuse(engine):
        raise RuntimeError("pre-flight failed")

    with pytest.raises(RuntimeError, match="pre-flight failed"), \
            stages.open_database(Settings(database_url=sqlite_url, report_date=D), before_init=refuse):
        pass
    engine = db.make_engine(sqlite_url)
    try:
        assert tables(engine) == set()
    finally:
        engine.dispose()


@pytest.fixture
def demo_settings(tmp_path) -> Settings:
    return load_settings(argparse.Namespace(demo=True, output_dir=tmp_path / "out"), environ={})


def test_demo_data_is_stored_first_unless_the_stage_stores_its_own(demo_settings):
    with stages.open_database(demo_settings, demo_data=False) as engine:
        assert db.known_days(engine, DEMO_DATE - timedelta(days=3), DEMO_DATE) == {}
    with stages.open_database(demo_settings) as engine:
        assert DEMO_DATE in db.known_days(engine, DEMO_DATE - timedelta(days=3), DEMO_DATE)


def test_load_day_is_the_analysis_of_the_stored_window(demo_settings):
    with stages.open_database(demo_settings) as engine:
        got = stages.load_day(demo_settings, engine)
        d = demo_settings.day
        costs = db.load_service_costs(engine, d - timedelta(days=demo_settings.lookback_days), d)
    want = metrics.analyse(costs, d, AlertParams.from_settings(demo_settings))
    assert got.report_date == d == DEMO_DATE
    assert (got.spikes, got.trends, got.summary) == (want.spikes, want.trends, want.summary)
    assert got.spikes  # the demo day has alerts: the comparison above is not between two empty lists


def test_stage_names_nest_and_unwind():
    assert stages.current_stage() == "start"
    timings: dict[str, float] = {}
    with stages.stage("outer", timings):
        with stages.stage_name("inner"):
            assert stages.current_stage() == "inner"
        assert stages.current_stage() == "outer"
    assert stages.current_stage() == "start" and set(timings) == {"outer"}


def test_day_view_states_the_rules_of_these_settings():
    from tests.slack_fixtures import golden_analysis

    a = golden_analysis()
    view = stages.day_view(Settings(report_date=a.report_date, spike_z_threshold=3.5, macd_signal=9), a)
    assert view.report_date == a.report_date
    assert "at least 3.5 standard deviations" in view.rules[0] and "its 9-day signal line" in view.rules[1]


@pytest.fixture
def by_account(tmp_path) -> Settings:
    """The demo (sample source) stored per SERVICE x LINKED_ACCOUNT."""
    return load_settings(argparse.Namespace(demo=True, output_dir=tmp_path / "out"),
                         environ={"COST_GROUP_BY": "LINKED_ACCOUNT"})


@pytest.mark.slow
def test_with_cost_group_by_the_accounts_are_judged_and_add_no_alert_the_totals_explain(by_account):
    s = by_account
    with stages.open_database(s) as engine:
        got = stages.load_day(s, engine)
        start = s.day - timedelta(days=s.lookback_days)
        costs = db.load_costs(engine, start, s.day)
        totals = metrics.analyse(db.load_service_costs(engine, start, s.day), s.day, AlertParams.from_settings(s))
    assert set(costs["breakdown"]) == set(LINKED_ACCOUNTS)
    # The sample splits each service over its accounts in fixed shares: every account alert lies inside its
    # service's alert, so the day's alerts are the service totals' (and the accounts were judged: they alert too).
    assert (got.spikes, got.trends, got.first_seen, got.summary) == (totals.spikes, totals.trends,
                                                                     totals.first_seen, totals.summary)
    accounts = metrics.build_breakdown_series(costs, s.day, s.lookback_days)
    raw = metrics.detect_spikes(accounts, s.day, AlertParams.from_settings(s))
    assert raw and {(x.service, x.direction) for x in raw} <= {(x.service, x.direction) for x in totals.spikes}


@pytest.mark.slow
def test_with_cost_group_by_a_move_between_accounts_is_one_alert_with_its_offset(by_account):
    s = by_account
    with stages.open_database(s) as engine:
        before = stages.load_day(s, engine)
        alerted = {x.service for x in (*before.spikes, *before.trends)}
        top = next(x.service for x in before.mtd_by_service if x.service not in alerted)
        a, b = LINKED_ACCOUNTS[:2]
        day = db.daily_cost.c
        with engine.begin() as conn:
            rows = dict(conn.execute(select(day.breakdown, day.amount).where(
                (day.usage_date == s.day) & (day.service == top))).all())
            moved = Decimal(rows[b]) * Decimal("0.6")  # 60% of account b's day moves to account a
            for acct, amount in ((a, Decimal(rows[a]) + moved), (b, Decimal(rows[b]) - moved + Decimal("1"))):
                conn.execute(update(db.daily_cost).where((day.usage_date == s.day) & (day.service == top)
                                                        & (day.breakdown == acct)).values(amount=amount))
        after = stages.load_day(s, engine)
    new = [x for x in after.spikes if x.breakdown]
    assert [(x.service, x.breakdown, x.direction, x.offset_by) for x in new] == [(top, a, "up", b)]
    assert new[0].offset < 0 and new[0].delta > 0
    assert [x for x in after.spikes if not x.breakdown] == before.spikes  # the total hardly moved: no other alert
    assert list(after.breakdown_series) == [(top, a)]


TEAMS = """
[[team]]
name = "compute"
channel = "C0COMPUTE"
monthly_budget_usd = 1000
services = ["Amazon Elastic Compute Cloud - Compute"]

[[team]]
name = "nobudget"
channel = "C0NOBUDGET"
services = ["Amazon Simple Storage Service"]
"""


def test_monthly_budget_and_team_budgets_reach_report_json(tmp_path):
    from _util import report
    from tests.demo_day import demo_analysis

    teams = tmp_path / "teams.toml"
    teams.write_text(TEAMS, encoding="utf-8")
    a = demo_analysis()
    settings = Settings(report_date=a.report_date, monthly_budget_usd=12345.0, teams_file=teams)
    data = report.report_dict(stages.day_view(settings, a), {}, 0)
    budgets = data["budgets"]
    assert [(b["team"], b["budget"]) for b in budgets] == [(None, 12345.0), ("compute", 1000.0)]
    first = pd.Timestamp(a.report_date.replace(day=1))
    month = a.series.loc[first:pd.Timestamp(a.report_date)]
    # Every team gets its own month and forecast, budget or not; then what no team owns; all adding up.
    teams_out = {t["name"]: t for t in data["teams"]}
    assert list(teams_out) == ["compute", "nobudget", None]
    assert teams_out["nobudget"]["budget"] is None and teams_out["compute"]["budget"]["team"] == "compute"
    s3 = "Amazon Simple Storage Service"
    assert teams_out["nobudget"]["forecast"]["mtd"] == pytest.approx(month[s3].sum(), abs=0.01)
    assert sum(t["forecast"]["mtd"] for t in data["teams"]) == pytest.approx(month.sum().sum(), abs=0.01)
    for t in data["teams"]:
        f = t["forecast"]
        assert f["low"] <= f["forecast"] <= f["high"] and f["forecast"] >= f["mtd"] - 0.01
    assert budgets[0]["mtd"] == pytest.approx(month.sum().sum(), abs=0.01)
    ec2 = "Amazon Elastic Compute Cloud - Compute"
    assert budgets[1]["mtd"] == pytest.approx(month[ec2].sum(), abs=0.01) and budgets[1]["status"] == "exceeded"
    assert report.report_dict(stages.day_view(Settings(report_date=a.report_date), a), {}, 0)["budgets"] == []


def test_the_demo_has_a_budget_unless_one_is_set(tmp_path):
    out = argparse.Namespace(demo=True, output_dir=tmp_path / "out")
    assert load_settings(out, environ={}).monthly_budget_usd > 0
    assert load_settings(out, environ={"MONTHLY_BUDGET_USD": "1234"}).monthly_budget_usd == 1234.0


def month_start_analysis(d: date):
    """200 days of two flat services up to d, October's last 3 days and d's month still Estimated."""
    days = pd.date_range(d - timedelta(days=200), d)
    costs = pd.DataFrame([(x.date(), svc, "", amount, x.date() >= date(2026, 10, 29))
                          for x in days for svc, amount in (("Amazon EC2", 100.0), ("AWS Lambda", 20.0))],
                         columns=["usage_date", "service", "breakdown", "amount", "estimated"])
    return metrics.analyse(costs, d, AlertParams.from_settings(Settings(report_date=d)))


@pytest.mark.parametrize("d, shown", [(date(2026, 11, 1), True), (date(2026, 11, 3), True),
                                      (date(2026, 11, 10), False)])
def test_month_start_days_say_how_last_month_closed_in_the_view_and_report_json(d, shown):
    from _util import report

    v = stages.day_view(Settings(report_date=d), month_start_analysis(d))
    data = report.report_dict(v, {}, 0)["forecast"]
    if not shown:
        assert "last_month" not in data and v.last_month_text == ""
        return
    assert data["last_month"] == {"month": "2026-10", "total": 31 * 120.0, "estimated_days": 3,
                                  "forecast_on": "2026-10-14", "forecast": pytest.approx(31 * 120.0),
                                  "low": pytest.approx(31 * 120.0), "high": pytest.approx(31 * 120.0),
                                  "interval": 0.8, "method": "model", "within_interval": True}
    assert v.last_month_text.startswith("October closed at $3,720.00 (near-final: 3 days still estimated)")
