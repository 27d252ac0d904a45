"""Budgets: hand-made months against a budget; alerts on their day only; sentences to the cent; team costs."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from _util.budgets import EXCEEDED, OK, ON_PACE, budget_status, team_daily_costs, team_months
from _util.teams import UNOWNED, parse_teams

RDS = "Amazon Relational Database Service"
EC2 = "Amazon Elastic Compute Cloud - Compute"


def flat(first: date, last: date, usd: float) -> pd.Series:
    """usd on each day from first to last."""
    days = pd.date_range(first, last, freq="D")
    return pd.Series(usd, index=days)


def test_under_budget_is_ok_and_says_the_forecast():
    d = date(2026, 11, 14)
    s = budget_status(flat(date(2026, 11, 1), d, 300.0), d, 12000, forecast=9100, low=8800, high=9400)
    assert (s.status, s.mtd, s.exceed_date, s.passed_today, s.borderline, s.alert) == \
           (OK, 14 * 300.0, None, False, False, False)
    assert s.text == "within budget: $9,100.00 forecast of $12,000.00"


def test_on_pace_gives_the_day_the_linear_path_passes_the_budget():
    # Nov 10: 4,000 so far; 20 days left to reach 16,000 = 600 a day; 4,000 + 13 x 600 = 11,800 (Nov 23),
    # 4,000 + 14 x 600 = 12,400 (Nov 24).
    d = date(2026, 11, 10)
    s = budget_status(flat(date(2026, 11, 1), d, 400.0), d, 12000, forecast=16000, low=15000, high=17000)
    assert (s.status, s.exceed_date, s.passed_today, s.borderline, s.alert) == \
           (ON_PACE, date(2026, 11, 24), False, False, True)
    assert s.text == "on pace to exceed the $12,000.00 budget by $4,000.00 — around the 24th " \
                     "(80%: $15,000.00–$17,000.00)"


def test_the_sentence_of_the_issue_to_the_cent():
    # Nov 20: 11,200 so far; 10 days to 13,400 = 220 a day; 11,200 + 4 x 220 = 12,080 on Nov 24 (11,860 on 23).
    d = date(2026, 11, 20)
    s = budget_status(flat(date(2026, 11, 1), d, 560.0), d, 12000, forecast=13400, low=11700, high=14100)
    assert s.text == "on pace to exceed the $12,000.00 budget by $1,400.00 — around the 24th " \
                     "(80%: $11,700.00–$14,100.00; borderline: the budget is inside the interval)"
    assert s.borderline and s.alert  # 12,000 lies inside the interval, whose low end is above 97% of it
    odd = budget_status(flat(date(2026, 11, 1), d, 560.0), d, 12000.5, forecast=13400.125, low=12100.004,
                        high=14100.005)
    assert odd.text == "on pace to exceed the $12,000.50 budget by $1,399.63 — around the 24th " \
                       "(80%: $12,100.00–$14,100.01)"  # half up: 13,400.13 - 12,000.50


def test_a_forecast_over_the_budget_with_an_interval_reaching_far_below_it_is_said_not_alerted():
    d = date(2026, 11, 20)
    s = budget_status(flat(date(2026, 11, 1), d, 560.0), d, 12000, forecast=13400, low=11600, high=14100)
    assert (s.status, s.alert, s.borderline) == (OK, False, True)  # 11,600 < 97% of 12,000 = 11,640
    assert s.text == "could exceed the $12,000.00 budget: $13,400.00 forecast (80%: $11,600.00–$14,100.00), " \
                     "too uncertain to alert"


def test_passed_today_alerts_once_and_not_the_next_day():
    month = flat(date(2026, 11, 1), date(2026, 11, 30), 110.0)  # 990 on Nov 9, 1,100 on Nov 10
    before, on, after = (budget_status(month[:pd.Timestamp(d)], d, 1000, forecast=3300, low=3000, high=3600)
                         for d in (date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 11)))
    assert (before.status, before.alert) == (ON_PACE, True)
    assert (on.status, on.exceed_date, on.passed_today, on.alert) == (EXCEEDED, date(2026, 11, 10), True, True)
    assert on.text == "passed the $1,000.00 budget today"
    assert (after.status, after.exceed_date, after.passed_today, after.alert) == \
           (EXCEEDED, date(2026, 11, 10), False, False)
    assert after.text == "over the $1,000.00 budget since the 10th: $1,210.00 so far"


def test_reaching_the_budget_to_the_cent_is_not_passing_it():
    d = date(2026, 11, 10)
    s = budget_status(flat(date(2026, 11, 1), d, 100.0), d, 1000, forecast=1000.004, low=990, high=1010)
    assert (s.status, s.passed_today, s.borderline) == (OK, False, True)
    assert s.text == "within budget, narrowly: $1,000.00 forecast of $1,000.00 (80%: $990.00–$1,010.00)"


@pytest.mark.parametrize("forecast, low, high, borderline, status", [
    (12500, 11600, 14100, True, OK),  # the low end under 97% of the budget (11,640): not on pace
    (12500, 11650, 14100, True, ON_PACE),
    (11800, 11000, 12600, True, OK),
    (12500, 12100, 12900, False, ON_PACE),
    (11000, 10500, 11500, False, OK),
    (12000.0, 12000.0, 12400, True, OK),  # the interval's ends count as inside; reaching it is not exceeding it
])
def test_borderline_means_the_budget_is_inside_the_interval(forecast, low, high, borderline, status):
    d = date(2026, 11, 15)
    s = budget_status(flat(date(2026, 11, 1), d, 100.0), d, 12000, forecast=forecast, low=low, high=high)
    assert s.borderline is borderline
    assert s.status == status
    assert ("borderline" in s.text or "narrowly" in s.text or "uncertain" in s.text) is borderline


def test_a_budget_exceeded_on_the_first_of_the_month():
    d = date(2026, 12, 1)
    daily = pd.Series({pd.Timestamp("2026-11-30"): 5000.0, pd.Timestamp("2026-12-01"): 1500.0})
    s = budget_status(daily, d, 1000, forecast=6000, low=5000, high=7000)
    assert (s.status, s.mtd, s.exceed_date, s.passed_today, s.alert) == \
           (EXCEEDED, 1500.0, d, True, True)  # last month's 5,000 is not this month's
    assert s.text == "passed the $1,000.00 budget today"
    next_day = budget_status(pd.concat([daily, pd.Series({pd.Timestamp("2026-12-02"): 10.0})]),
                             d + timedelta(days=1), 1000, forecast=6000, low=5000, high=7000)
    assert (next_day.passed_today, next_day.alert) == (False, False)


def test_on_the_last_day_of_the_month_there_is_no_day_left_to_pass_it():
    d = date(2026, 11, 30)
    s = budget_status(flat(date(2026, 11, 1), d, 30.0), d, 1000, forecast=1000.5, low=990, high=1010)
    assert (s.status, s.exceed_date) == (ON_PACE, None)
    assert s.text == "on pace to exceed the $1,000.00 budget by $0.50 (80%: $990.00–$1,010.00; borderline: the " \
                     "budget is inside the interval)"


def test_days_without_costs_count_as_zero_and_the_report_entry_follows_the_contract():
    d = date(2026, 11, 5)
    daily = pd.Series({date(2026, 11, 2): 100.0, date(2026, 11, 4): 50.255})
    s = budget_status(daily, d, 500, forecast=900, low=800, high=1000, team="payments")
    assert s.to_dict() == {"team": "payments", "budget": 500.0, "mtd": 150.26, "forecast": 900.0, "low": 800.0,
                           "high": 1000.0, "status": ON_PACE, "exceed_date": s.exceed_date.isoformat(),
                           "passed_today": False, "borderline": False}


def test_a_budget_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="budget"):
        budget_status(pd.Series(dtype=float), date(2026, 11, 5), 0, forecast=1, low=1, high=1)


TEAMS = f"""
[[team]]
name = "payments"
channel = "C0PAYMENTS"
monthly_budget_usd = 1000
services = ["{RDS}"]
tags = ["team$payments"]

[[team]]
name = "platform"
channel = "C0PLATFORM"
services = ["{EC2}"]
"""


def test_team_daily_costs_sums_each_owners_rows_per_day():
    rows = [("2026-11-01", RDS, "team$search", 10.0), ("2026-11-01", EC2, "team$payments", 4.0),
            ("2026-11-01", "Tax", "", 7.0), ("2026-11-02", RDS, "team$search", 11.0),
            ("2026-11-02", EC2, "team$platform", 5.0), ("2026-11-02", "AWS Lambda", "team$payments", 2.5)]
    costs = pd.DataFrame(rows, columns=["usage_date", "service", "breakdown", "amount"])
    costs["usage_date"] = pd.to_datetime(costs["usage_date"])
    teams = parse_teams(TEAMS)
    with pytest.warns(UserWarning, match="'payments' gets it"):  # EC2 tagged team$payments: both teams match
        by_owner = team_daily_costs(costs, teams, group_by="TAG:team")
    assert list(by_owner.columns) == ["payments", "platform", UNOWNED]
    assert by_owner.loc["2026-11-01"].tolist() == [14.0, 0.0, 7.0]
    assert by_owner.loc["2026-11-02"].tolist() == [13.5, 5.0, 0.0]
    assert by_owner.to_numpy().sum() == pytest.approx(costs["amount"].sum())  # every dollar has one owner

    s = budget_status(by_owner["payments"], date(2026, 11, 2), 1000, forecast=400, low=350, high=450,
                      team="payments")
    assert (s.mtd, s.status) == (27.5, OK)


def test_team_daily_matrix_gives_the_long_frames_owner_sums():
    """The window's matrix (the daily run's path) and the long frame give each owner the same daily sums."""
    import numpy as np

    from _util.budgets import team_daily_matrix
    from _util.model import CostMatrix

    rng = np.random.default_rng(7)
    keys = pd.MultiIndex.from_tuples(sorted([(RDS, "team$search"), (EC2, "team$payments"), ("Tax", ""),
                                             (EC2, "team$platform"), ("AWS Lambda", "team$payments")]),
                                     names=["service", "breakdown"])
    start, end = date(2026, 11, 1), date(2026, 11, 6)
    values = np.round(rng.uniform(0, 50, size=(6, len(keys))), 2)
    values[2, 1] = 0.0  # a series with no row on a day
    matrix = CostMatrix(start, end, keys, values, np.ones(6, dtype=bool))
    long = pd.DataFrame([(day, s, b, values[i, j]) for i, day in enumerate(matrix.dates)
                         for j, (s, b) in enumerate(keys)], columns=["usage_date", "service", "breakdown", "amount"])
    teams = parse_teams(TEAMS)
    with pytest.warns(UserWarning, match="'payments' gets it"):
        expected = team_daily_costs(long, teams, group_by="TAG:team")
        got = team_daily_matrix(matrix, teams, group_by="TAG:team")
    assert list(got.columns) == list(expected.columns)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    assert [pd.Timestamp(x) for x in got.index] == [pd.Timestamp(x) for x in expected.index]


def test_team_months_give_every_owner_its_day_month_forecast_and_only_budgeted_teams_a_budget():
    from _util.forecast import month_end

    d = date(2026, 11, 25)
    days = pd.date_range(date(2026, 10, 1), d, freq="D")
    daily = pd.DataFrame({"payments": 100.0, "platform": 40.0, UNOWNED: 10.0}, index=days)
    daily.loc[pd.Timestamp(d), "payments"] = 130.0
    daily.loc[pd.Timestamp(d - timedelta(days=1)), "payments"] = 90.0
    fc = month_end(daily, d)
    months = team_months(daily, d, fc, {"payments": 2000.0})
    assert [m.team for m in months] == ["payments", "platform", None]
    pay, plat, rest = months
    assert (pay.day_cost, pay.previous_day, pay.same_weekday) == (130.0, 90.0, 100.0)
    assert pay.avg7 == pytest.approx((6 * 100.0 + 90.0) / 7)
    assert pay.mtd == pytest.approx(24 * 100.0 - 10.0 + 130.0) and plat.mtd == pytest.approx(25 * 40.0)
    by = {f.service: f for f in fc.by_service}
    for m, column in zip(months, ["payments", "platform", UNOWNED], strict=True):
        assert (m.forecast, m.low, m.high, m.level, m.method) == \
               (by[column].forecast, by[column].low, by[column].high, fc.interval, fc.method)
    assert pay.budget is not None and pay.budget.team == "payments" and pay.budget.status == EXCEEDED
    assert pay.budget.exceed_date == date(2026, 11, 21)  # 100 a day: $2,000 reached on the 20th, passed the 21st
    assert plat.budget is None and rest.budget is None
