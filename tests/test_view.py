"""The view model of a day: one entry per service, reading order, the headline, comparisons and rule wording."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _util import fmt, view
from _util.drilldown import RootCause, RootCauseResult
from _util.model import Analysis, DayCost, FirstSeen, ServiceCost, Spike, Summary, Trend
from _util.view import Rules, build_view, spike_text, with_links

D = date(2026, 11, 25)  # a Wednesday
RULES = Rules(spike_z_threshold=2.75, spike_min_delta_usd=5.0, lookback_days=365, macd_fast=12, macd_slow=26,
              macd_signal=18, trend_filter=True, metric="UnblendedCost", exclude_record_types=("Credit", "Refund"),
              group_by="")
MONEY = re.compile(r"\$[\d,]*(\.\d+)?")


def make(spikes=(), trends=(), d: date = D, summary: Summary | None = None, estimated=()) -> Analysis:
    """An Analysis for d with the given alerts and simple totals."""
    days = pd.date_range(pd.Timestamp(d.replace(day=1)), pd.Timestamp(d), freq="D")
    names = sorted({s.service for s in spikes} | {t.service for t in trends} | {"Amazon EC2"})
    return Analysis(
        report_date=d, spikes=list(spikes), trends=list(trends),
        mtd_by_service=[ServiceCost(n, 10.0 * (i + 1)) for i, n in enumerate(names)],
        daily_totals=[DayCost(x.date(), 100.0) for x in days],
        summary=summary or Summary(total=100.0, previous_day=90.0, avg7=95.0, mtd_total=2500.0,
                                   mtd_previous=2400.0, same_weekday=80.0),
        series=pd.DataFrame(index=days), daily_by_service=pd.DataFrame(index=days, columns=names, data=1.0),
        estimated_dates=list(estimated))


def spike(service: str, delta: float, direction: str | None = None) -> Spike:
    direction = direction or ("up" if delta > 0 else "down")
    return Spike(service, direction, 50.0 + delta, 50.0, 2.0, delta / 2.0, delta, 200)


def trend(service: str, move: float) -> Trend:
    return Trend(service, "up" if move > 0 else "down", move / 4, 0.0, 50.0, 50.0 + move, 50.0, 3)


def test_a_service_that_spikes_and_turns_is_one_entry_saying_both():
    v = build_view(make([spike("Amazon Redshift", 12.53)], [trend("Amazon Redshift", 4.05)]), RULES)
    (entry,) = v.entries
    assert entry.kinds == ("spike", "trend")
    assert entry.chart_ids == ("spike:Amazon Redshift", "trend:Amazon Redshift")
    assert "spiked to $62.53" in entry.text and "is also trending up" in entry.text
    assert "MACD" in entry.detail and "z = " in entry.detail  # the statistics live in the detail
    assert v.alerts == 1


def test_spikes_come_before_trends_and_savings_come_last_biggest_first():
    a = make([spike("Small spike", 6.0), spike("Big spike", 40.0), spike("Drop", -30.0)],
             [trend("Trend up", 3.0), trend("Trend down", -8.0)])
    v = build_view(a, RULES)
    assert [g.key for g in v.groups] == ["spikes", "trends", "savings"]
    assert [e.service for e in v.entries] == ["Big spike", "Small spike", "Trend up", "Drop", "Trend down"]
    assert v.counts == "2 spikes up, 1 trending up, 2 savings"


def test_the_headline_is_the_largest_dollar_change_spike_or_trend():
    v = build_view(make([spike("Spike", 6.0)], [trend("Trend", 9.0)]), RULES)
    assert v.headline is not None and v.headline.service == "Trend"
    assert v.headline_text == f"Biggest change: {v.headline.sentence}"
    assert v.headline_text.startswith("Biggest change: Trend is trending up: 7-day average $59.00/day")


def test_a_quiet_day_says_nothing_unusual_with_the_weekday_comparison():
    v = build_view(make(), RULES)
    assert v.headline is None and v.groups == () and v.counts == ""
    assert v.headline_text == ("Nothing unusual: $100.00 in all, +$20.00 (+25.0%) vs Wed, November 18 "
                               "(the same weekday last week)")


def test_comparisons_are_weekday_aligned_and_say_what_they_compare():
    v = build_view(make(), RULES)
    before, week, avg7 = v.day_comparisons
    assert before.label == "Tue, November 24 (the day before)" and before.change == "+$10.00 (+11.1%)"
    assert week.label.startswith("Wed, ") and "(the same weekday last week)" in week.label
    assert avg7.base == 95.0
    assert v.mtd_label == "November 1–25"
    assert v.mtd_comparison.label == "October 1–25 (the same 25 days last month)"
    assert v.mtd_comparison.text == "+$100.00 (+4.2%) vs October 1–25 (the same 25 days last month): $2,400.00"


@pytest.mark.parametrize(("d", "label"), [
    (date(2026, 12, 1), "November 1 (the same day last month)"),
    (date(2026, 3, 31), "February 1–28 (all 28 days of last month)"),
    (date(2026, 1, 15), "December 1–15 (the same 15 days last month)"),
])
def test_month_to_date_compares_the_same_number_of_days_and_says_so(d, label):
    v = build_view(make(d=d), RULES)
    assert v.mtd_comparison.label == label


def test_no_base_is_said_as_no_data_not_zero():
    s = Summary(total=100.0, previous_day=None, avg7=None, mtd_total=100.0, mtd_previous=None)
    v = build_view(make(summary=s), RULES)
    assert v.day_comparisons[0].text == "no data for Tue, November 24 (the day before)"
    assert v.day_comparisons[0].delta is None and v.mtd_comparison.change == "no data"


def test_rules_and_freshness_have_one_wording():
    v = build_view(make(estimated=[D - timedelta(days=1), D]), replace(RULES, spike_z_threshold=3.5))
    assert v.freshness == fmt.estimated_days([D - timedelta(days=1), D])
    assert v.rules[0].startswith("Spike: the day's cost is at least 3.5 standard deviations and $5.00 away")
    assert "trend filter on" in v.rules[1]
    assert v.rules[2] == "Metric: UnblendedCost excluding Credit, Refund"
    assert build_view(make(), RULES).freshness == "All days final"


def test_chart_titles_are_views_of_the_same_facts():
    a = make([spike("AWS Lambda", 28.26)], [trend("Amazon SQS", -2.0)])
    v = build_view(a, RULES)
    lam = v.chart("spike:AWS Lambda")
    assert lam.title == "AWS Lambda — spike up on Wed, November 25"
    assert lam.subtitle.startswith("$78.26 on the day, +$28.26 (+56.5%) vs its normal $50.00/day")
    assert v.chart("trend:Amazon SQS").caption == "Trend: Amazon SQS"
    assert v.chart("mtd_by_service").title.endswith(fmt.money(a.summary.mtd_total))


def test_links_are_added_after_publishing():
    v = build_view(make([spike("AWS Lambda", 28.26)]), RULES)
    linked = with_links(v, {"spike:AWS Lambda": "https://x/lambda.png"}, "https://x/index.html",
                        ["mtd_by_service", "mtd_by_service"])
    assert linked.urls == {"spike:AWS Lambda": "https://x/lambda.png"}
    assert linked.page_url == "https://x/index.html" and linked.missing == ("mtd_by_service",)
    assert v.urls == {}  # the view is immutable: publishing makes a new one


names = st.sampled_from(["Amazon EC2", "AWS Lambda", "Amazon S3", "Amazon RDS", "Amazon SQS", "AWS Glue"])
amounts = st.floats(min_value=-500, max_value=500, allow_nan=False).filter(lambda x: abs(x) > 0.01)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(names, amounts, max_size=5), st.dictionaries(names, amounts, max_size=5))
def test_every_alerted_service_is_exactly_one_entry_and_text_never_shows_ids(spiked, turned):
    a = make([spike(n, x) for n, x in spiked.items()], [trend(n, x) for n, x in turned.items()])
    v = build_view(a, RULES)
    services = [e.service for e in v.entries]
    assert sorted(services) == sorted(set(spiked) | set(turned))
    order = [list(view.GROUPS).index(e.group) for e in v.entries]
    assert order == sorted(order)
    texts = [v.headline_text, v.counts, *(e.text for e in v.entries), *(c.title for c in v.charts),
             *(c.subtitle for c in v.charts), *(c.caption for c in v.charts)]
    for text in texts:
        assert "spike:" not in text and "trend:" not in text and "_by_" not in text
        for m in MONEY.finditer(text):  # one precision: every dollar figure to the cent
            assert re.fullmatch(r"\$[\d,]+\.\d\d", m.group(0)), (m.group(0), text)


# --- first seen and breakdown entries ---------------------------------------------------------------------------------

def test_a_new_service_is_one_entry_in_new_services_after_spikes_and_before_trends():
    a = make([spike("Amazon Redshift", 12.53)], [trend("AWS Glue", 4.05)])
    a.first_seen = [FirstSeen("Amazon Bedrock", D - timedelta(days=6), 412.5)]
    v = build_view(a, RULES)
    assert [g.key for g in v.groups] == ["spikes", "new", "trends"]
    assert v.groups[1].title == "New services"
    (entry,) = v.groups[1].entries
    assert entry.sentence == ("Amazon Bedrock is new: $412.50 on Wed, November 25, its first cost on "
                              "Thu, November 19")
    assert entry.kinds == ("first_seen",) and entry.impact == 412.5 and entry.direction == "up"
    assert entry.detail == "no cost in the 359 days before Thu, November 19; 6 days of history, too few for the " \
                           "spike rule"
    assert entry.chart_ids == ("new:Amazon Bedrock",)
    chart = v.chart("new:Amazon Bedrock")
    assert chart.kind == "first_seen" and chart.caption == "New service: Amazon Bedrock"
    assert "$412.50" in chart.subtitle and "Amazon Bedrock" in chart.title
    assert v.headline is entry  # the largest $ of the day
    assert "1 new service" in v.counts


def test_a_service_new_on_the_day_says_so():
    a = make()
    a.first_seen = [FirstSeen("Amazon Bedrock", D, 20.0)]
    (entry,) = build_view(a, RULES).entries
    assert entry.text == "is new: $20.00 on Wed, November 25, its first day with cost"


def test_a_netting_breakdown_spike_says_what_offset_it():
    s = replace(spike("AWS Lambda", 300.0), breakdown="222222222222", offset_by="333333333333", offset=-290.0,
                service_delta=10.0)
    v = build_view(make([s]), RULES)
    (entry,) = v.entries
    assert entry.breakdown == "222222222222" and entry.group == "spikes"
    assert entry.sentence == ("AWS Lambda in 222222222222 spiked to $350.00 on Wed, November 25, $300.00 (600.0%) "
                              "above its normal $50.00/day, while 333333333333 moved -$290.00; the service net "
                              "+$10.00")
    assert entry.chart_ids == ("spike:AWS Lambda|222222222222",)
    chart = v.chart("spike:AWS Lambda|222222222222")
    assert chart.breakdown == "222222222222" and chart.caption == "Spike: AWS Lambda in 222222222222"
    assert chart.title.startswith("AWS Lambda in 222222222222 — spike up")


def test_a_breakdown_spike_and_the_service_spike_are_two_entries():
    total = spike("AWS Lambda", -40.0)
    hidden = replace(spike("AWS Lambda", 30.0), breakdown="111111111111", service_delta=-40.0)
    v = build_view(make([total, hidden]), RULES)
    assert [(e.service, e.breakdown, e.group) for e in v.entries] == [("AWS Lambda", "111111111111", "spikes"),
                                                                      ("AWS Lambda", "", "savings")]
    assert v.entries[0].text.endswith("above its normal $50.00/day; the service net -$40.00")


# ---- root causes ------------------------------------------------------------------------------------------------

ACCOUNT_PAIR = ("LINKED_ACCOUNT", "USAGE_TYPE")


def cause(account: str, usage: str, delta: float, share: float | None, name: str | None = None) -> RootCause:
    return RootCause({"LINKED_ACCOUNT": account, "USAGE_TYPE": usage},
                     {"LINKED_ACCOUNT": name} if name else {}, 50.0 + delta, 50.0, delta, share)


def analysed(*causes: RootCause, change: float) -> RootCauseResult:
    explained = sum(c.delta for c in causes)
    return RootCauseResult("ok", list(causes), unexplained=change - explained, explained_share=explained / change,
                           pair=ACCOUNT_PAIR)


def test_one_named_cause_reads_as_the_issue_example():
    result = analysed(cause("111122223333", "USE1-BoxUsage:m5.2xlarge", 790.0, 790 / 840, "prod"), change=840.0)
    assert view.cause_text(result) == ("mostly USE1-BoxUsage:m5.2xlarge in prod (1111…3333), +$790.00 of +$840.00 "
                                       "(the change vs its 28-day normal)")


def test_an_account_without_a_name_is_its_id():
    result = analysed(cause("444455556666", "USE1-Lambda-GB-Second", 24.58, 0.96), change=25.50)
    assert view.cause_text(result) == ("mostly USE1-Lambda-GB-Second in 444455556666, +$24.58 of +$25.50 "
                                       "(the change vs its 28-day normal)")


def test_two_causes_are_both_named_with_their_part_of_the_change():
    result = analysed(cause("111122223333", "USE1-BoxUsage:m5.large", 500.0, 0.6, "prod"),
                      cause("444455556666", "USE1-EBS:VolumeUsage.gp3", 300.0, 0.36), change=830.0)
    assert view.cause_text(result) == ("mostly USE1-BoxUsage:m5.large in prod (1111…3333), +$500.00, and "
                                       "USE1-EBS:VolumeUsage.gp3 in 444455556666, +$300.00, of +$830.00 "
                                       "(the change vs its 28-day normal)")


def test_more_causes_than_the_text_names_are_counted_and_a_trend_is_per_day():
    causes = [cause(f"{i}" * 12, f"U{i}", -1.0, 0.2) for i in range(1, 6)]
    text = view.cause_text(analysed(*causes, change=-5.0), "trend")
    assert text == ("mostly U1 in 111111111111, -$1.00/day, U2 in 222222222222, -$1.00/day, U3 in 333333333333, "
                    "-$1.00/day, and 2 more groups, of -$5.00/day (the 7- vs 28-day move)")


def test_region_and_operation_read_as_what_in_where():
    c = RootCause({"OPERATION": "RunInstances", "REGION": "us-east-1"}, {}, 90.0, 10.0, 80.0, 0.9)
    assert view.cause_label(c) == "RunInstances in us-east-1"


def test_a_resource_reads_as_its_short_id_with_its_usage_type_and_account():
    arn = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc1234567890def"
    c = RootCause({"RESOURCE_ID": arn, "USAGE_TYPE": "USE1-BoxUsage:m5.xlarge", "LINKED_ACCOUNT": "111122223333"},
                  {"LINKED_ACCOUNT": "prod"}, 500.0, 88.0, 412.0, 0.95)
    result = RootCauseResult("ok", [c], unexplained=21.0, explained_share=412 / 433,
                             pair=("RESOURCE_ID", "USAGE_TYPE", "LINKED_ACCOUNT"))
    assert view.cause_text(result) == ("mostly i-0abc1234567890def (USE1-BoxUsage:m5.xlarge, account prod), "
                                       "+$412.00 of +$433.00 (the change vs its 28-day normal)")
    assert view.dimension_value(c, "RESOURCE_ID") == arn  # the site's table: the whole id
    assert view.dimension_name("RESOURCE_ID") == "Resource"


@pytest.mark.parametrize(("resource_id", "short"), [
    ("arn:aws:ec2:us-east-1:111122223333:instance/i-0abc", "i-0abc"),
    ("arn:aws:s3:::my-bucket", "my-bucket"),
    ("arn:aws:lambda:us-east-1:111122223333:function:resize", "function:resize"),
    ("/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1", "vm-1"),
    ("i-0abc", "i-0abc"),
    ("ocid1.instance.oc1.phx." + "a" * 60 + "tail12345678", "ocid1.instance.oc1.phx.aaaa…tail12345678"),
])
def test_a_resource_id_is_shortened_for_a_sentence(resource_id, short):
    assert view.short_resource(resource_id) == short
    assert len(view.short_resource(resource_id)) <= view.RESOURCE_TEXT


def test_lines_without_a_resource_id_are_named_as_such():
    c = RootCause({"RESOURCE_ID": "(no resource id)", "USAGE_TYPE": "USE1-DataTransfer-Out-Bytes",
                   "LINKED_ACCOUNT": "111122223333"}, {}, 5.0, 1.0, 4.0, 0.8)
    assert view.cause_label(c) == "lines without a resource id (USE1-DataTransfer-Out-Bytes, account 111122223333)"


@pytest.mark.parametrize(("status", "text"), [
    ("not analysed (daily limit)", "root causes not analysed (daily limit)"),
    ("not analysed (DRILLDOWN=off)", "root causes not analysed (DRILLDOWN=off)"),
    ("unavailable: root causes need Cost Explorer (COST_SOURCE=ce or sample)",
     "root causes need Cost Explorer (COST_SOURCE=ce or sample)"),
    ("unavailable: Cost Explorer refused grouping by REGION",
     "root causes unavailable: Cost Explorer refused grouping by REGION"),
])
def test_without_causes_the_status_is_said(status, text):
    assert view.cause_text(RootCauseResult(status)) == text


def test_entries_carry_their_root_causes_the_spike_s_for_a_spike_and_trend():
    by_spike = analysed(cause("111122223333", "USE1-Node:ra3.4xlarge", 10.65, 0.95, "data"), change=11.20)
    by_trend = RootCauseResult("not analysed (daily limit)")
    a = make([spike("Amazon Redshift", 12.53)], [trend("Amazon Redshift", 4.05), trend("Amazon EC2", 3.0)])
    v = build_view(a, RULES, {("Amazon Redshift", "", "spike"): by_spike, ("Amazon Redshift", "", "trend"): by_trend})
    redshift, ec2 = v.entries
    assert redshift.root_causes is by_spike and redshift.cause_text == view.cause_text(by_spike)
    assert ec2.root_causes is None and ec2.cause_text == ""  # nothing asked: nothing said
    assert v.root_cause(a.trends[0]) is by_trend
    assert build_view(a, RULES).entries[0].cause_text == ""


def test_the_cause_stack_holds_each_cause_s_days_and_the_rest():
    days = [(D - timedelta(days=i)).isoformat() for i in (2, 1, 0)]
    result = replace(analysed(cause("111122223333", "U", 8.0, 0.8, "prod"), change=10.0), dates=days,
                     daily=[[1.0, 1.0, 9.0]], rest=[5.0, 5.0, 7.0])
    stack = view.cause_stack(result)
    assert stack.dates == tuple(date.fromisoformat(x) for x in days)
    assert stack.labels == ("U in prod (1111…3333)",) and stack.daily == ((1.0, 1.0, 9.0),)
    assert stack.rest == (5.0, 5.0, 7.0) and stack.rest_label == "the rest"
    assert view.cause_stack(RootCauseResult("not analysed (daily limit)")) is None


def _usd(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


@settings(max_examples=80, deadline=None)
@given(st.floats(min_value=0.0, max_value=1e5, allow_nan=False), st.floats(min_value=0.01, max_value=1e5))
def test_a_spike_s_three_figures_add_up_to_the_cent(cost, mean):
    """"$61.43, $42.08 above its normal $19.35": a reader's subtraction of the shown figures gives the shown change
    (the unrounded difference would round to $42.07)."""
    delta = cost - mean
    s = Spike("S", "up" if delta >= 0 else "down", cost, mean, 1.0, 3.0, delta, 100)
    shown = re.fullmatch(r"(?:spiked|dropped) to (\$[\d,.]+) on .*, (\$[\d,.]+) \(.*\) (above|below) its normal "
                         r"(\$[\d,.]+)/day", spike_text(s, D))
    assert shown, spike_text(s, D)
    on_d, change, side, normal = shown.groups()
    assert _usd(on_d) - _usd(normal) == (_usd(change) if side == "above" else -_usd(change))
    c = view.Comparison("x", cost, mean)
    assert Decimal(fmt.signed_money(fmt.shown_difference(cost, mean)).replace("$", "").replace(",", "")) == \
        _usd(fmt.money(cost)) - _usd(fmt.money(mean))
    assert c.change.split(" ")[0] == fmt.signed_money(fmt.shown_difference(cost, mean))


def test_the_demo_s_rounding_case_adds_up():
    """CloudFront on the demo day: $61.43 vs $19.35 is $42.08 shown, though cost - mean rounds to $42.07."""
    s = Spike("Amazon CloudFront", "up", 61.4254, 19.3526, 3.0, 14.0, 61.4254 - 19.3526, 365)
    assert fmt.money(s.delta) == "$42.07"
    assert "$61.43 on Wed, November 25, $42.08 (217.4%) above its normal $19.35/day" in spike_text(s, D)


def test_causes_that_overshoot_the_change_say_what_offset_them():
    """"-$119.91 of -$119.30" alone reads as a mistake: the other groups' +$0.61 is said."""
    result = analysed(cause("111111111111", "USE1-InstanceUsage:db.r6g.2xlarge", -119.91, 1.005), change=-119.30)
    assert view.cause_text(result) == ("mostly USE1-InstanceUsage:db.r6g.2xlarge in 111111111111, -$119.91 of "
                                       "-$119.30 (the change vs its 28-day normal); the other groups moved +$0.61")
    plain = analysed(cause("111111111111", "U", -100.0, 0.9), change=-110.0)  # the rest moved the same way
    assert "other groups" not in view.cause_text(plain)


def forecast(method="model", last=20100.0):
    from _util.forecast import Forecast, ServiceForecast

    return Forecast("2026-11", 19000.0, 22800.0, 21900.0, 23900.0, 0.8, method, last,
                    [ServiceForecast("Amazon EC2", 19000.0, 22800.0, 21900.0, 23900.0)])


def test_forecast_line_words_the_forecast_and_last_month():
    v = build_view(make(), RULES, forecast=forecast())
    assert v.forecast_text == ("On track for $22,800.00 this month (80%: $21,900.00–$23,900.00) · last month "
                               "$20,100.00 (+13.4%)")
    assert v.forecast_heading == "On track for this month (80%: $21,900.00–$23,900.00)"
    assert v.forecast_comparison.label == "October (last month)" and v.forecast_comparison.base == 20100.0


def test_forecast_line_says_run_rate_and_omits_an_unknown_last_month():
    v = build_view(make(), RULES, forecast=forecast("run_rate", None))
    assert v.forecast_text == ("On track for $22,800.00 this month (80%: $21,900.00–$23,900.00; run rate, too "
                               "little history for the model)")
    assert build_view(make(), RULES).forecast_text == "" and build_view(make(), RULES).forecast_comparison is None


def budget(team=None, amount=20000.0, mtd_per_day=800.0, fc=22800.0, low=21900.0, high=23900.0, d=D):
    from _util.budgets import budget_status

    days = pd.Series(mtd_per_day, index=pd.date_range(d.replace(day=1), d))
    return budget_status(days, d, amount, fc, low, high, team=team)


def test_budget_lines_say_each_alerting_budget_and_the_overall_one_even_when_quiet():
    overall, on_pace, quiet = budget(amount=30000.0), budget("data"), budget("web", amount=30000.0)
    v = build_view(make(), RULES, forecast=forecast(), budgets=[overall, on_pace, quiet])
    assert v.budgets == (overall, on_pace, quiet) and v.budget is overall
    assert v.budget_lines == ("Monthly budget: within budget: $22,800.00 forecast of $30,000.00",
                              f"Team data budget: {on_pace.text}")
    assert on_pace.text.startswith("on pace to exceed the $20,000.00 budget by $2,800.00")
    assert build_view(make(), RULES).budget_lines == () and build_view(make(), RULES).budget is None


def test_a_team_budget_passed_today_is_said_and_an_older_pass_of_a_team_is_not():
    today = budget("data", amount=19950.0)  # 25 x $800 = $20,000 passes $19,950 on d
    earlier = budget("web", amount=10000.0)
    v = build_view(make(), RULES, budgets=[today, earlier])
    assert today.passed_today and not earlier.passed_today
    assert v.budget_lines == ("Team data budget: passed the $19,950.00 budget today",)


def test_the_cumulative_chart_is_titled_by_the_view_with_the_forecast_and_the_budget():
    v = build_view(make(), RULES, forecast=forecast(), budgets=[budget(amount=30000.0)])
    chart = v.chart(view.CUMULATIVE_CHART)
    assert chart.caption == "Month to date vs last month and budget" and chart.service is None
    assert chart.title == "Month to date vs last month — November 2026"
    assert "forecast $22,800.00 (80%: $21,900.00–$23,900.00)" in chart.subtitle
    assert chart.subtitle.endswith("budget $30,000.00")
    assert "budget" not in build_view(make(), RULES, forecast=forecast()).chart(view.CUMULATIVE_CHART).subtitle


def review(total=20100.0, estimated=2, fc=19290.0, low=18900.0, high=19700.0):
    from _util.forecast import LastMonth

    return LastMonth("2026-10", total, estimated, date(2026, 10, 14), fc, low, high, 0.8, "model")


@pytest.mark.parametrize("r, words", [
    (review(), "October closed at $20,100.00 (near-final: 2 days still estimated) — 4.2% above the $19,290.00 "
               "forecast of October 14 (80%: $18,900.00–$19,700.00)"),
    (review(18000.0, 0), "October closed at $18,000.00 (final) — 6.7% below the $19,290.00 forecast of October 14 "
                         "(80%: $18,900.00–$19,700.00)"),
    (review(19290.0, 1), "October closed at $19,290.00 (near-final: 1 day still estimated) — exactly at the "
                         "$19,290.00 forecast of October 14 (80%: $18,900.00–$19,700.00)"),
    (review(fc=0.0), "October closed at $20,100.00 (near-final: 2 days still estimated)"),
])
def test_last_month_line_words_the_close_against_the_forecast_of_the_14th(r, words):
    v = build_view(make(), RULES, forecast=replace(forecast(), last_month=r))
    assert v.last_month_text == words
    assert build_view(make(), RULES, forecast=forecast()).last_month_text == ""  # after the first week: none
    assert build_view(make(), RULES).last_month_text == ""


def test_forecast_line_names_cost_explorer_or_its_fallback():
    ce = replace(forecast("ce"))
    assert build_view(make(), RULES, forecast=ce).forecast_text.startswith(
        "On track for $22,800.00 this month (80%: $21,900.00–$23,900.00; Cost Explorer's forecast)")
    fell = replace(forecast(), fallback="ce: DataUnavailableException")
    assert "(80%: $21,900.00–$23,900.00; Cost Explorer's forecast unavailable)" in build_view(
        make(), RULES, forecast=fell).forecast_text
