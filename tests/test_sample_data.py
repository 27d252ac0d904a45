"""The built-in sample: a deterministic Cost Explorer stand-in answering in CE's own (paged) shape."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date, timedelta
from decimal import Decimal

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from _util.costexplorer import CostQuery, fetch
from _util.costworld import ACCOUNT_NAMES, sample_labels
from _util.sample_data import EVENTS, LINKED_ACCOUNTS, SERVICES, SampleCostExplorer, daily_costs

D = date(2026, 11, 25)
TODAY = date(2026, 11, 26)


def _groups(responses) -> int:
    return sum(len(r["Groups"]) for resp in responses for r in resp["ResultsByTime"])


def test_responses_validate_against_the_cost_explorer_service_model():
    """Every page the sample emits is accepted by botocore's Stubber, which validates against CE's model."""
    sample = SampleCostExplorer(D, page_groups=400, today=TODAY)
    query = CostQuery(D - timedelta(days=40), D, group_by="LINKED_ACCOUNT")
    client = boto3.client("ce", region_name="us-east-1")
    pages = []
    kwargs = query.request()
    while True:
        page = sample.get_cost_and_usage(**kwargs)
        pages.append(page)
        if "NextPageToken" not in page:
            break
        kwargs = {**kwargs, "NextPageToken": page["NextPageToken"]}
    assert len(pages) > 1
    with Stubber(client) as stubber:
        for page in pages:
            stubber.add_response("get_cost_and_usage", page)  # raises ParamValidationError on a bad shape
        parsed, requests = fetch(client, query)
    assert requests == len(pages)
    assert len(parsed.rows) == _groups(pages)


def test_paging_splits_groups_and_loses_nothing():
    query = CostQuery(D - timedelta(days=60), D)
    one = SampleCostExplorer(D, today=TODAY)
    paged = SampleCostExplorer(D, page_groups=97, today=TODAY)
    whole, one_requests = fetch(one, query)
    split, requests = fetch(paged, query)
    assert one_requests == 1
    assert requests == math.ceil(len(whole.rows) / 97) > 1
    assert len(paged.requests) == requests
    assert "NextPageToken" not in paged.requests[0]
    assert [r["NextPageToken"] for r in paged.requests[1:]] == [str(97 * i) for i in range(1, requests)]
    assert all({k: v for k, v in r.items() if k != "NextPageToken"} == query.request() for r in paged.requests)
    assert split.rows == whole.rows
    assert split.days == whole.days


def test_deterministic_and_independent_of_the_range_asked():
    a = fetch(SampleCostExplorer(D, today=TODAY), CostQuery(D - timedelta(days=90), D))[0]
    b = fetch(SampleCostExplorer(D, today=TODAY), CostQuery(D - timedelta(days=90), D))[0]
    c = fetch(SampleCostExplorer(D, today=TODAY), CostQuery(D - timedelta(days=5), D))[0]
    assert a.rows == b.rows
    assert {k: v for k, v in a.rows.items() if k[0] >= D - timedelta(days=5)} == c.rows


def test_realistic_services_amounts_and_units():
    parsed, _ = fetch(SampleCostExplorer(D, today=TODAY), CostQuery(D - timedelta(days=30), D))
    services = {k[1] for k in parsed.rows}
    assert len(services) >= 25
    assert {"Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service", "AWS Lambda"} <= services
    assert parsed.unit == "USD"
    assert all(r.amount > 0 and -r.amount.as_tuple().exponent == 10 for r in parsed.rows.values())
    # Tax is billed on the 1st of the month only; CE omits services with no cost that day.
    assert {k[0] for k in parsed.rows if k[1] == "Tax"} == {date(2026, 11, 1)}


def test_estimated_days_are_the_unbilled_months():
    query = CostQuery(date(2026, 9, 20), D)
    late = fetch(SampleCostExplorer(D, today=TODAY), query)[0].days
    assert {d for d, est in late.items() if est} == {d for d in late if d >= date(2026, 11, 1)}
    early = fetch(SampleCostExplorer(date(2026, 12, 2), today=date(2026, 12, 3)), query)[0].days
    # Before the 5th, the previous month's bill is not final yet either.
    assert {d for d, est in early.items() if est} == {d for d in early if d >= date(2026, 11, 1)}


def test_two_keys_split_each_service_over_the_linked_accounts_to_the_cent():
    query = CostQuery(D - timedelta(days=10), D)
    one = fetch(SampleCostExplorer(D, today=TODAY), query)[0]
    two = fetch(SampleCostExplorer(D, today=TODAY), CostQuery(query.start, query.end, group_by="LINKED_ACCOUNT"))[0]
    assert {k[2] for k in two.rows} == set(LINKED_ACCOUNTS)
    totals: dict[tuple[date, str], Decimal] = {}
    for (day, service, _), row in two.rows.items():
        totals[(day, service)] = totals.get((day, service), Decimal(0)) + row.amount
    assert {k: v.quantize(Decimal("0.01")) for k, v in totals.items()} == {
        (k[0], k[1]): r.amount.quantize(Decimal("0.01")) for k, r in one.rows.items()}


def test_weekly_seasonality_growth_and_events_near_the_report_date():
    start = D - timedelta(days=364)
    costs = daily_costs(start, D, D)
    days = [start + timedelta(days=i) for i in range(365)]
    weekend = np.array([d.weekday() >= 5 for d in days])
    ec2 = costs["Amazon Elastic Compute Cloud - Compute"]
    assert ec2[weekend].mean() < 0.9 * ec2[~weekend].mean()
    assert ec2[-60:].mean() > ec2[:60].mean() * 1.1  # 25 %/year growth
    lam = costs["AWS Lambda"]
    assert lam[-1] > 2 * np.median(lam[-30:-1])  # the one-day spike on d
    rds = costs["Amazon Relational Database Service"]
    assert rds[-1] < 0.5 * np.median(rds[-30:-1])  # the drop on d
    assert {s for s, _, _ in EVENTS} <= {s for s, *_ in SERVICES}


@pytest.mark.parametrize("page_groups", [1, 31, 5000])
def test_every_page_size_gives_the_same_rows(page_groups):
    query = CostQuery(D - timedelta(days=3), D)
    expected = fetch(SampleCostExplorer(D, today=TODAY), query)[0]
    parsed, requests = fetch(SampleCostExplorer(D, page_groups=page_groups, today=TODAY), query)
    assert parsed.rows == expected.rows
    assert requests == math.ceil(len(expected.rows) / page_groups)


def _all_pages(sample: SampleCostExplorer, kwargs: dict) -> list[dict]:
    pages = []
    while True:
        pages.append(sample.get_cost_and_usage(**kwargs))
        if "NextPageToken" not in pages[-1]:
            return pages
        kwargs = {**kwargs, "NextPageToken": pages[-1]["NextPageToken"]}


@pytest.mark.parametrize(("query", "page_groups", "digest"), [
    (CostQuery(D - timedelta(days=365), D), 5000,
     "f7815bf77249222f80e0c25711f24f8517884b9385e80a0e4b4ef5a60b28c152"),
    (CostQuery(D - timedelta(days=45), D, group_by="LINKED_ACCOUNT"), 400,
     "c347ad9b2143bab7da0d461f48058db9c30944629fd584e00888acc45715c030"),
    (CostQuery(D - timedelta(days=10), D, exclude_record_types=()), 31,
     "36c2179e1a36859e8e5dd46340b63c23ac9cbb529e38e54f2a9f9a3440d386c9"),
    (CostQuery(date(2026, 9, 28), D, metric="AmortizedCost", group_by="LINKED_ACCOUNT"), 5000,
     "3832d19dd3669f4c6b35c20a48a0506f7536007e9f881f064c88d70aad7ac75f"),
], ids=["service-year", "account-paged", "no-filter", "account-amortized"])
def test_ingest_answers_are_byte_identical_to_before_the_drill_down_world(query, page_groups, digest):
    """A regression pin, acceptable here: the digests are of the pages the sample answered before drill-down
    queries were routed to costworld (computed from that implementation), so the demo's numbers stay the same."""
    pages = _all_pages(SampleCostExplorer(D, page_groups=page_groups, today=TODAY), query.request())
    assert hashlib.sha256(json.dumps(pages, sort_keys=True).encode()).hexdigest() == digest


def _drill(start, group_by, service="AWS Lambda", **extra) -> dict:
    return {"TimePeriod": {"Start": start.isoformat(), "End": (D + timedelta(days=1)).isoformat()},
            "Granularity": "DAILY", "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "DIMENSION", "Key": k} for k in group_by],
            "Filter": {"And": [{"Dimensions": {"Key": "SERVICE", "Values": [service], "MatchOptions": ["EQUALS"]}},
                               {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}]},
            **extra}


@pytest.mark.parametrize("group_by", [("LINKED_ACCOUNT", "USAGE_TYPE"), ("REGION", "OPERATION")])
def test_drill_down_queries_answer_from_the_labeled_world(group_by):
    start = D - timedelta(days=28)
    sample = SampleCostExplorer(D, page_groups=40, today=TODAY)
    pages = _all_pages(sample, _drill(start, group_by))
    assert len(pages) > 1 and len(sample.requests) == len(pages)
    days: dict[str, float] = {}
    on_d: dict[tuple[str, ...], float] = {}
    for page in pages:
        for result in page["ResultsByTime"]:
            for group in result["Groups"]:
                amount = float(group["Metrics"]["UnblendedCost"]["Amount"])
                days[result["TimePeriod"]["Start"]] = days.get(result["TimePeriod"]["Start"], 0.0) + amount
                if result["TimePeriod"]["Start"] == D.isoformat():
                    on_d[tuple(group["Keys"])] = on_d.get(tuple(group["Keys"]), 0.0) + amount
    lam = daily_costs(start, D, D)["AWS Lambda"]
    np.testing.assert_allclose([days[(start + timedelta(days=i)).isoformat()] for i in range(29)], lam, atol=1e-8)
    (label,) = [lab for lab in sample_labels(D) if lab.service == "AWS Lambda"]
    assert max(on_d, key=on_d.get) == tuple(label.groups[0][k] for k in group_by)


def test_ingest_with_another_second_grouping_answers_from_the_world():
    query = CostQuery(D - timedelta(days=5), D, group_by="USAGE_TYPE")
    parsed, _ = fetch(SampleCostExplorer(D, today=TODAY), query)
    plain, _ = fetch(SampleCostExplorer(D, today=TODAY), CostQuery(query.start, query.end))
    assert "USE1-Lambda-GB-Second" in {k[2] for k in parsed.rows}
    totals: dict[tuple[date, str], Decimal] = {}
    for (day, service, _), row in parsed.rows.items():
        totals[(day, service)] = totals.get((day, service), Decimal(0)) + row.amount
    assert {k: v.quantize(Decimal("0.01")) for k, v in totals.items()} == {
        (k[0], k[1]): r.amount.quantize(Decimal("0.01")) for k, r in plain.rows.items()}


def test_refused_grouping_raises_like_boto3_and_account_names_are_served():
    sample = SampleCostExplorer(D, today=TODAY, refuse=("REGION",))
    with pytest.raises(ClientError) as caught:
        sample.get_cost_and_usage(**_drill(D - timedelta(days=28), ("REGION", "OPERATION")))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    by_account = sample.get_cost_and_usage(**_drill(D, ("LINKED_ACCOUNT", "OPERATION")))
    assert by_account["ResultsByTime"][0]["Groups"]
    values = by_account["DimensionValueAttributes"]
    assert {v["Value"]: v["Attributes"]["description"] for v in values} == ACCOUNT_NAMES
