"""The root-causes bench (bench/bench_root_causes.py): its scoring on hand-made labels and alerts, and one tiny world
run end to end through the stand-in over HTTP."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pandas as pd
import pytest

from _util import drilldown
from _util.costworld import Label
from _util.drilldown import DAILY_LIMIT, OK, RootCause, RootCauseResult
from _util.model import FirstSeen, Spike, Trend
from bench import bench_root_causes as bench

D = date(2026, 11, 25)
GROUP = {"LINKED_ACCOUNT": "111", "USAGE_TYPE": "USE1-Box", "REGION": "us-east-1", "OPERATION": "Run"}
OTHER = {"LINKED_ACCOUNT": "222", "USAGE_TYPE": "USE1-Box", "REGION": "us-east-1", "OPERATION": "Run"}
SPIKE = Label("spike", "S", D, (GROUP,), (100.0,))
DROP = Label("drop", "R", D, (GROUP,), (-50.0,))
TURN = Label("turn_up", "T", D - timedelta(days=6), (GROUP,), (30.0,))
NEW = Label("new_service", "N", D - timedelta(days=1), (GROUP,), (40.0,))
NETTING = Label("netting", "M", D, (OTHER, GROUP), (60.0, -60.0))
LABELS = [SPIKE, DROP, TURN, NEW, NETTING]


def spike(service: str, direction: str = "up", delta: float = 100.0) -> Spike:
    return Spike(service, direction, 200.0, 100.0, 5.0, delta / 5.0, delta, 28)


def trend(service: str, direction: str = "up") -> Trend:
    return Trend(service, direction, 1.0, 0.5, 120.0, 110.0, 100.0)


def result(*tops: dict[str, str], status: str = OK, share: float | None = 0.9) -> RootCauseResult:
    causes = [RootCause(dims, {}, 10.0, 1.0, 9.0, 0.9) for dims in tops]
    return RootCauseResult(status, causes, unexplained=1.0, explained_share=share)


@pytest.mark.parametrize(("alert", "day", "expected"), [
    (spike("S"), D, SPIKE),
    (spike("S", "down"), D, None),  # the wrong direction is a false alert
    (spike("S"), D - timedelta(days=1), None),  # the spike is on d only
    (spike("R", "down"), D, DROP),
    (spike("R"), D, None),
    (trend("T"), D - timedelta(days=3), TURN),
    (trend("T"), D - timedelta(days=7), None),  # before the turn started
    (trend("T", "down"), D, None),
    (spike("T"), D, TURN),  # a turning service's spike: its group drives it too
    (FirstSeen("N", D - timedelta(days=1), 40.0), D, NEW),
    (trend("S"), D, None),  # a spike's service trending is not what the label says
    (spike("unlabeled"), D, None),
])
def test_an_alert_is_matched_to_the_label_it_reports(alert, day, expected):
    assert bench.label_of(alert, day, LABELS) == expected


@pytest.mark.parametrize(("res", "label", "expected"), [
    (result({"LINKED_ACCOUNT": "111", "USAGE_TYPE": "USE1-Box"}), SPIKE, True),
    (result({"REGION": "us-east-1", "OPERATION": "Run"}), SPIKE, True),  # the other pair, the same group
    (result({"LINKED_ACCOUNT": "222", "USAGE_TYPE": "USE1-Box"}), SPIKE, False),
    (result({"LINKED_ACCOUNT": "222", "USAGE_TYPE": "USE1-Box"}, GROUP), SPIKE, False),  # only the top one counts
    (result({"LINKED_ACCOUNT": "222", "USAGE_TYPE": "USE1-Box"}), NETTING, True),  # either side of a pair
    (result({"LINKED_ACCOUNT": "111", "USAGE_TYPE": "USE1-Box"}, status=DAILY_LIMIT), SPIKE, False),
    (result(), SPIKE, False),
    (None, SPIKE, False),
])
def test_the_top_root_cause_is_the_injected_group_only_when_its_dimensions_are_the_groups(res, label, expected):
    assert bench.top_is_injected(res, label) is expected


def test_the_account_is_named_only_by_a_matching_linked_account_cause():
    assert bench.names_account(result({"LINKED_ACCOUNT": "111", "USAGE_TYPE": "USE1-Box"}), SPIKE)
    assert not bench.names_account(result({"REGION": "us-east-1", "OPERATION": "Run"}), SPIKE)
    assert not bench.names_account(result({"LINKED_ACCOUNT": "222", "USAGE_TYPE": "USE1-Box"}), SPIKE)
    assert not bench.names_account(None, SPIKE)


def test_outcomes_keep_each_turns_first_trend_and_the_results_of_its_day():
    day1, day2 = D - timedelta(days=2), D
    alerts = {day1: [trend("T")], day2: [trend("T"), spike("S"), spike("T"), spike("x")]}
    good = result({"LINKED_ACCOUNT": "111", "USAGE_TYPE": "USE1-Box"})
    results = {day1: {("T", "", "trend"): good}, day2: {("S", "", "spike"): good}}
    scored = bench.outcomes(LABELS, alerts, results)
    assert [(o.category, o.day, o.label.service) for o in scored] == [
        ("trend", day1, "T"), ("spike", day2, "S"), ("turn spike", day2, "T")]
    assert [o.result for o in scored] == [good, good, None]  # the turn spike was not asked: no result
    assert [o.analysed for o in scored] == [True, True, False]


def test_the_rate_counts_analysed_outcomes_only_and_the_shares_count_a_failure_as_0():
    hit = result({"LINKED_ACCOUNT": "111"}, share=0.95)
    miss = result({"LINKED_ACCOUNT": "999"}, share=0.5)
    limited = RootCauseResult(DAILY_LIMIT)
    gone = RootCauseResult(f"{drilldown.UNAVAILABLE}contradiction")
    scored = [bench.Outcome("spike", D, SPIKE, r) for r in (hit, miss, limited, gone)]
    rate = bench.top_cause_rate(scored, "spike")
    assert (rate.hits, rate.n) == (1, 3)
    assert bench.explained_shares(scored, ("spike",)) == [0.95, 0.5, 0.0]
    assert bench.top_cause_rate(scored, "trend").value is None


def test_a_netting_side_is_scored_at_5_sigma_and_10_usd_and_reported_by_a_spike_its_way():
    up, down = "M / 222", "M / 111"
    stats = {up: {"std": 10.0}, down: {"std": 13.0}}  # 60 = 6σ up, 4.6σ down
    assert bench.netting_sides(NETTING, stats) == [(up, "up", True), (down, "down", False)]
    assert bench.netting_reported(NETTING, stats, [spike(up)]) is True
    assert bench.netting_reported(NETTING, stats, [spike(down, "down", -60.0)]) is False  # not the scored side
    assert bench.netting_reported(NETTING, stats, [spike(up, "down", -60.0)]) is False  # the wrong way
    assert bench.netting_reported(NETTING, {up: {"std": 13.0}, down: {"std": 13.0}}, []) is None
    small = Label("netting", "M", D, (OTHER, GROUP), (8.0, -8.0))  # 8σ but under $10
    assert bench.netting_reported(small, {up: {"std": 1.0}, down: {"std": 1.0}}, [spike(up)]) is None
    assert bench.netting_reported(small, {up: {"std": 1.0}, down: {"std": 1.0}}, [spike(up)], min_usd=0.0) is True


def test_a_breakdown_spike_inside_a_service_spike_is_not_its_own_alert():
    inside, alone = spike("S / 111"), spike("M / 222")
    assert bench.breakdown_alerts([inside, alone], [spike("S")]) == [alone]


def test_the_first_qualifying_day_is_the_first_at_or_above_the_threshold_since_the_start():
    costs = pd.Series([12.0, 4.0, 9.99, 10.0, 30.0], index=pd.date_range(D - timedelta(days=4), D))
    assert bench.first_qualifying_day(costs, D - timedelta(days=3), 10.0) == D - timedelta(days=1)
    assert bench.first_qualifying_day(costs, D - timedelta(days=4), 10.0) == D - timedelta(days=4)
    assert bench.first_qualifying_day(costs, D, 31.0) is None


@pytest.mark.parametrize(("ingest", "drill", "analysed", "ok"), [
    (1, 0, 0, True), (1, 1, 0, False), (1, 4, 2, True), (1, 5, 2, False), (0, 5, 2, True)])
def test_requests_are_within_one_for_ingest_and_two_per_analysed_alert(ingest, drill, analysed, ok):
    assert bench.requests_within(ingest, drill, analysed) is ok


@pytest.mark.parametrize(("value", "target", "at_most", "expected"), [
    (0.95, 0.95, False, "PASS"), (0.949, 0.95, False, "FAIL"), (0.005, 0.005, True, "PASS"),
    (0.0051, 0.005, True, "FAIL"), (None, 0.95, False, "n/a")])
def test_verdicts(value, target, at_most, expected):
    assert bench.verdict(value, target, at_most=at_most) == expected


@pytest.mark.slow
def test_a_tiny_world_runs_through_the_stand_in_and_fills_every_row(tmp_path, monkeypatch):
    kinds = ("spike", "netting", "new_service")
    monkeypatch.delenv(bench.ENDPOINT_ENV, raising=False)
    out = bench.run_seed(3, n_services=3, kinds=kinds, run_days=2, workdir=tmp_path)
    assert [r.day for r in out.runs] == [D - timedelta(days=1), D]
    assert sorted(label.kind for label in out.labels) == sorted(kinds)
    assert all(o.label in out.labels for o in out.outcomes)
    assert {o.category for o in out.outcomes} <= {"spike", "turn spike", "trend", "first seen"}
    assert out.netting.n + out.netting_small == 1  # the one pair: scored or said to be too small
    noise = bench.noise_rates(3, n_services=3, days=2)
    assert set(noise) == {"service spikes", "service trends", "breakdown spikes", "breakdown trends"}
    assert noise["service spikes"][1] == 2 * 3  # series-days: 3 services on 2 days
    rows = bench.table([out], [noise], cap=20)
    assert {ok for *_, ok in rows} <= {"PASS", "FAIL", "n/a", "—"}
    assert bench.ENDPOINT_ENV not in os.environ  # the stand-in's address did not leak
