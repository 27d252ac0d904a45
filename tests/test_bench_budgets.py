"""The budget-alert bench (bench/bench_budgets.py): its two metrics on hand-made team-days, and the rule it runs."""

from __future__ import annotations

import math

import numpy as np

from _util.budgets import EXCEEDED, OK, ON_PACE, pace_status
from bench import bench_budgets as bench


def row(team: str, day: int, share: float, status: str, month: str = "2026-11") -> dict:
    return {"team": team, "month": month, "day": day, "share": share, "status": status}


def test_false_alarms_count_on_pace_days_of_months_ending_at_least_5_percent_under():
    rows = [row("a", 1, 1.05, ON_PACE), row("a", 2, 1.05, OK), row("a", 3, 1.10, OK), row("a", 4, 1.20, OK),
            row("a", 1, 0.90, ON_PACE), row("a", 1, 1.02, ON_PACE)]  # overruns and 1.02 are not counted
    assert bench.false_alarm_share(rows) == 1 / 4
    assert math.isnan(bench.false_alarm_share([row("a", 1, 0.9, OK)]))


def test_an_overrun_counts_as_flagged_only_when_a_day_up_to_20_flags_it():
    rows = [row("a", 5, 0.9, OK), row("a", 20, 0.9, ON_PACE),  # flagged on day 20
            row("b", 20, 0.9, OK), row("b", 21, 0.9, EXCEEDED),  # too late
            row("c", 3, 0.8, EXCEEDED),  # flagged
            row("c", 3, 0.9, OK, month="2026-12"),  # another month of c: not flagged
            row("d", 1, 1.1, ON_PACE)]  # not an overrun
    assert bench.flagged_share(rows) == 2 / 4
    assert bench.flagged_share(rows, by_day=21) == 3 / 4


def test_the_rule_exceeded_before_on_pace_before_ok_on_arrays():
    status = pace_status(np.array([1200.0, 900.0, 900.0, 900.0, 1000.0]),
                         np.array([1500.0, 1100.0, 1100.0, 990.0, 1000.0]),
                         np.array([1400.0, 975.0, 965.0, 950.0, 990.0]), 0.0, 1000.0)
    # on pace needs the forecast over the budget and the low end over 97% of it; reaching it is not passing it
    assert status.tolist() == [EXCEEDED, ON_PACE, OK, OK, OK]


def test_another_rule_keeps_exceeded_and_recomputes_on_pace():
    rows = [{"mtd": 1200.0, "forecast": 1300.0, "low": 1250.0, "high": 1350.0, "budget": 1000.0, "status": ""},
            {"mtd": 500.0, "forecast": 1100.0, "low": 900.0, "high": 1200.0, "budget": 1000.0, "status": ""}]
    assert [r["status"] for r in bench.with_rule(rows, bench.RULES["low > budget"])] == [EXCEEDED, OK]
    assert [r["status"] for r in bench.with_rule(rows, bench.RULES["forecast > budget"])] == [EXCEEDED, ON_PACE]
