"""Cost Explorer answered from a cost frame (_util/ce_answer.py), directly and over HTTP with boto3 (ce_standin)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from itertools import combinations

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _util.ce_answer import CEError, answer_cost_and_usage, dimension_values
from _util.costworld import ACCOUNT_NAMES, sample_world
from tests.ce_standin import serve

D = date(2026, 11, 25)
START = D - timedelta(days=13)
COLUMN = {"SERVICE": "service", "LINKED_ACCOUNT": "linked_account", "USAGE_TYPE": "usage_type", "REGION": "region",
          "OPERATION": "operation", "RECORD_TYPE": "record_type"}
PAIRS = list(combinations(["SERVICE", "LINKED_ACCOUNT", "USAGE_TYPE", "REGION", "OPERATION"], 2))
LAMBDA = {"Dimensions": {"Key": "SERVICE", "Values": ["AWS Lambda"], "MatchOptions": ["EQUALS"]}}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    world = sample_world(START, D, D)
    # Credits against some Lambda usage in the last days, as CE books them (record type Credit, negative amounts).
    credits = world[(world["service"] == "AWS Lambda") & (world["usage_date"] >= pd.Timestamp(D - timedelta(days=2)))]
    world = pd.concat([world, credits.assign(record_type="Credit", amount=-0.5 * credits["amount"])],
                      ignore_index=True)
    # A team tag on part of the Lambda cost: the rest is untagged, as CE reports it ("team$").
    tagged = (world["service"] == "AWS Lambda") & (world["linked_account"] != "333333333333")
    world["tag:team"] = np.where(tagged, np.where(world["region"] == "us-east-1", "web", "batch"), None)
    return world


@pytest.fixture(scope="module")
def standin(frame):
    with serve(frame, account_names=ACCOUNT_NAMES, estimated=date(2026, 11, 1)) as (url, server):
        yield url, server


@pytest.fixture
def ce(standin):
    return boto3.client("ce", region_name="us-east-1", endpoint_url=standin[0])


def request(start=START, end=D, group_by=(), flt=None, **extra) -> dict:
    """GetCostAndUsage keyword arguments for [start, end] inclusive, grouped by DIMENSION keys."""
    kwargs = {"TimePeriod": {"Start": start.isoformat(), "End": (end + timedelta(days=1)).isoformat()},
              "Granularity": "DAILY", "Metrics": ["UnblendedCost"],
              "GroupBy": [{"Type": "DIMENSION", "Key": k} for k in group_by], **extra}
    if flt is not None:
        kwargs["Filter"] = flt
    return kwargs


def all_pages(call, kwargs: dict) -> list[dict]:
    pages = []
    while True:
        page = call(**kwargs)
        pages.append(page)
        if not page.get("NextPageToken"):
            return pages
        kwargs = {**kwargs, "NextPageToken": page["NextPageToken"]}


def group_sums(pages, metric="UnblendedCost") -> pd.Series:
    """USD by (day, *keys) from the pages' groups."""
    rows = [(r["TimePeriod"]["Start"], *g["Keys"], float(g["Metrics"][metric]["Amount"]))
            for p in pages for r in p["ResultsByTime"] for g in r["Groups"]]
    table = pd.DataFrame(rows)
    return table.groupby(list(table.columns[:-1]))[table.columns[-1]].sum()


def expected_sums(rows: pd.DataFrame, keys) -> pd.Series:
    """The same sums computed independently from the frame with pandas."""
    by = [rows["usage_date"].dt.strftime("%Y-%m-%d")] + [rows[COLUMN[k]] for k in keys]
    return rows.groupby(by)["amount"].sum()


def totals(pages) -> dict[str, float]:
    return {r["TimePeriod"]["Start"]: float(r["Total"]["UnblendedCost"]["Amount"])
            for p in pages for r in p["ResultsByTime"]}


@pytest.mark.parametrize("pair", PAIRS, ids="x".join)
def test_every_pair_of_dimensions_over_http_sums_to_the_frame_and_the_ungrouped_total(ce, frame, pair):
    pages = all_pages(ce.get_cost_and_usage, request(group_by=pair, flt=LAMBDA))
    got = group_sums(pages)
    lam = frame[frame["service"] == "AWS Lambda"]
    want = expected_sums(lam, pair)
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-8)
    per_day = got.groupby(level=0).sum()
    ungrouped = totals(all_pages(ce.get_cost_and_usage, request(flt=LAMBDA)))
    assert ungrouped.keys() == per_day.to_dict().keys()
    np.testing.assert_allclose(per_day.to_numpy(), [ungrouped[d] for d in per_day.index], atol=1e-8)
    assert all(p["GroupDefinitions"] == [{"Type": "DIMENSION", "Key": k} for k in pair] for p in pages)
    assert all(r["Total"] == {} for p in pages for r in p["ResultsByTime"])


@pytest.mark.parametrize(("flt", "select"), [
    (LAMBDA, lambda f: f["service"] == "AWS Lambda"),
    ({"And": [LAMBDA, {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["222222222222"]}}]},
     lambda f: (f["service"] == "AWS Lambda") & (f["linked_account"] == "222222222222")),
    ({"Not": {"Dimensions": {"Key": "SERVICE", "Values": ["AWS Lambda", "Tax"]}}},
     lambda f: ~f["service"].isin(["AWS Lambda", "Tax"])),
    ({"Or": [LAMBDA, {"Dimensions": {"Key": "REGION", "Values": ["eu-west-1"]}}]},
     lambda f: (f["service"] == "AWS Lambda") | (f["region"] == "eu-west-1")),
    ({"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}},
     lambda f: ~f["record_type"].isin(["Credit", "Refund"])),
], ids=["service", "and-account", "not", "or-region", "not-record-type"])
def test_filters_select_the_rows_they_name(ce, frame, flt, select):
    pages = all_pages(ce.get_cost_and_usage, request(group_by=("SERVICE", "LINKED_ACCOUNT"), flt=flt))
    want = expected_sums(frame[select(frame)], ("SERVICE", "LINKED_ACCOUNT"))
    got = group_sums(pages)
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-8)


def test_paging_through_boto3_splits_days_across_pages_and_loses_nothing(frame):
    kwargs = request(group_by=("LINKED_ACCOUNT", "USAGE_TYPE"), flt=LAMBDA)
    whole = answer_cost_and_usage(frame, kwargs)
    n_groups = sum(len(r["Groups"]) for r in whole["ResultsByTime"])
    with serve(frame, page_groups=7) as (url, server):
        pages = all_pages(boto3.client("ce", region_name="us-east-1", endpoint_url=url).get_cost_and_usage, kwargs)
        assert server.calls() == len(pages) == math.ceil(n_groups / 7) > 1
        tokens = [body.get("NextPageToken") for _, body in server.requests]
    assert tokens == [None] + [p["NextPageToken"] for p in pages[:-1]]
    assert all(sum(len(r["Groups"]) for r in p["ResultsByTime"]) == 7 for p in pages[:-1])
    pd.testing.assert_series_equal(group_sums(pages), group_sums([whole]))


def test_region_refused_as_a_validation_exception_other_pairs_still_answered(frame):
    with serve(frame, refuse=("REGION",)) as (url, server):
        ce = boto3.client("ce", region_name="us-east-1", endpoint_url=url)
        with pytest.raises(ClientError) as caught:
            ce.get_cost_and_usage(**request(group_by=("REGION", "OPERATION"), flt=LAMBDA))
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "Group Definition dimension is invalid" in caught.value.response["Error"]["Message"]
        # REGION in a Filter is documented and still answered; so is every other GroupBy.
        region = {"Dimensions": {"Key": "REGION", "Values": ["us-east-1"]}}
        page = ce.get_cost_and_usage(**request(group_by=("LINKED_ACCOUNT", "OPERATION"),
                                               flt={"And": [LAMBDA, region]}))
        assert page["ResultsByTime"][0]["Groups"]
        assert server.calls() == 2


def test_an_exports_answerer_groups_by_resource_with_three_keys(frame):
    flat = frame.assign(resource_id=np.where(np.arange(len(frame)) % 2, "i-1", "i-2"))
    kwargs = request(group_by=("RESOURCE_ID", "USAGE_TYPE", "LINKED_ACCOUNT"), flt=LAMBDA)
    with pytest.raises(CEError, match="at most 2"):  # Cost Explorer's own limits stay the default
        answer_cost_and_usage(flat, kwargs)
    with pytest.raises(CEError, match="dimension is invalid"):
        answer_cost_and_usage(flat, request(group_by=("RESOURCE_ID",), flt=LAMBDA))
    page = answer_cost_and_usage(flat, kwargs, extra_dimensions=("RESOURCE_ID",), max_group_by=3)
    got = {(r["TimePeriod"]["Start"], *g["Keys"]): float(g["Metrics"]["UnblendedCost"]["Amount"])
           for r in page["ResultsByTime"] for g in r["Groups"]}
    rows = flat[(flat["service"] == "AWS Lambda") & (pd.to_datetime(flat["usage_date"]) >= pd.Timestamp(START))
                & (pd.to_datetime(flat["usage_date"]) <= pd.Timestamp(D))]
    want = rows.groupby([pd.to_datetime(rows["usage_date"]).dt.strftime("%Y-%m-%d"), "resource_id", "usage_type",
                         "linked_account"])["amount"].sum()
    assert got.keys() == set(want.index)
    assert list(got.values()) == pytest.approx([want[k] for k in got], abs=1e-9)


def test_tag_groups_come_back_as_key_dollar_value(ce, frame):
    kwargs = request(flt=LAMBDA)
    kwargs["GroupBy"] = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "TAG", "Key": "team"}]
    pages = all_pages(ce.get_cost_and_usage, kwargs)
    got = group_sums(pages)
    lam = frame[frame["service"] == "AWS Lambda"]
    want = lam.groupby([lam["usage_date"].dt.strftime("%Y-%m-%d"), "linked_account",
                        "team$" + lam["tag:team"].fillna("")])["amount"].sum()
    assert {k[2] for k in got.index} == {"team$web", "team$batch", "team$"}
    assert {k[1] for k in got.index if k[2] == "team$"} == {"333333333333"}
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-8)
    assert list(got.index) == list(want.index)


def test_the_endpoint_environment_variable_points_boto3_at_the_standin(standin, monkeypatch):
    url, server = standin
    monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", url)
    before = server.calls()
    page = boto3.client("ce", region_name="us-east-1").get_cost_and_usage(**request(flt=LAMBDA))
    assert server.calls() == before + 1
    assert len(page["ResultsByTime"]) == 14


def test_a_day_without_cost_is_listed_empty_and_estimated_days_marked(ce):
    tax = {"Dimensions": {"Key": "SERVICE", "Values": ["Tax"]}}
    start = date(2026, 10, 30)
    grouped = ce.get_cost_and_usage(**request(start, date(2026, 11, 2), ("LINKED_ACCOUNT",), tax))
    assert [len(r["Groups"]) for r in grouped["ResultsByTime"]] == [0, 0, 0, 0]  # before the frame: no cost
    inside = ce.get_cost_and_usage(**request(START, START + timedelta(days=1), ("LINKED_ACCOUNT",), tax))
    assert [len(r["Groups"]) for r in inside["ResultsByTime"]] == [0, 0]
    flat = ce.get_cost_and_usage(**request(start, date(2026, 11, 2), flt=tax))
    assert [r["Total"]["UnblendedCost"] for r in flat["ResultsByTime"]] == [{"Amount": "0", "Unit": "USD"}] * 4
    assert [r["Estimated"] for r in flat["ResultsByTime"]] == [False, False, True, True]


def test_several_metrics_and_monthly_granularity(frame):
    kwargs = request(D - timedelta(days=30), D, flt=LAMBDA, Metrics=["UnblendedCost", "AmortizedCost"],
                     Granularity="MONTHLY")
    answer = answer_cost_and_usage(frame, kwargs)
    assert [r["TimePeriod"] for r in answer["ResultsByTime"]] == [
        {"Start": "2026-10-26", "End": "2026-11-01"}, {"Start": "2026-11-01", "End": "2026-11-26"}]
    lam = frame[frame["service"] == "AWS Lambda"]
    total = answer["ResultsByTime"][1]["Total"]
    assert total["UnblendedCost"] == total["AmortizedCost"]
    assert float(total["UnblendedCost"]["Amount"]) == pytest.approx(lam["amount"].sum(), abs=1e-8)


def test_linked_account_names_as_dimension_value_attributes(ce, frame):
    values = ce.get_dimension_values(TimePeriod=request()["TimePeriod"], Dimension="LINKED_ACCOUNT")
    assert [(v["Value"], v["Attributes"]) for v in values["DimensionValues"]] == [
        (a, {"description": ACCOUNT_NAMES[a]}) for a in sorted(frame["linked_account"].unique())]
    page = ce.get_cost_and_usage(**request(group_by=("LINKED_ACCOUNT", "USAGE_TYPE"), flt=LAMBDA))
    assert {a["Value"]: a["Attributes"] for a in page["DimensionValueAttributes"]} == {
        a: {"description": n} for a, n in ACCOUNT_NAMES.items()}
    regions = dimension_values(frame, {"TimePeriod": request()["TimePeriod"], "Dimension": "REGION",
                                       "Filter": LAMBDA})
    assert [v["Value"] for v in regions["DimensionValues"]] == sorted(frame["region"].unique())


def test_answers_validate_against_the_cost_explorer_service_model(frame):
    """botocore's Stubber checks every response against CE's model (ParamValidationError on a bad shape)."""
    client = boto3.client("ce", region_name="us-east-1")
    answers = [answer_cost_and_usage(frame, request(flt=LAMBDA)),
               answer_cost_and_usage(frame, request(group_by=("LINKED_ACCOUNT", "USAGE_TYPE"), flt=LAMBDA),
                                     account_names=ACCOUNT_NAMES, estimated=D)]
    with Stubber(client) as stubber:
        for answer in answers:
            stubber.add_response("get_cost_and_usage", answer)
            client.get_cost_and_usage(**request())


@pytest.mark.parametrize(("kwargs", "message"), [
    (request(D, D - timedelta(days=1)), "Start date"),
    (request(group_by=("SERVICE", "SERVICE")), "duplicated"),
    (request(group_by=("SERVICE", "LINKED_ACCOUNT", "REGION")), "at most 2"),
    (request(group_by=("BILLING_ENTITY",)), "dimension is invalid"),
    (request(flt={"And": [LAMBDA]}), "at least 2"),
    (request(flt={**LAMBDA, "Not": LAMBDA}), "one root"),
    (request(flt={"Dimensions": {"Key": "SERVICE", "Values": ["x"], "MatchOptions": ["STARTS_WITH"]}}),
     "MatchOptions"),
    (request(group_by=("SERVICE",), NextPageToken="nope"), "NextPageToken"),
    (request(Metrics=["UsageQuantity"]), "cost metrics"),
])
def test_invalid_requests_are_validation_exceptions(frame, kwargs, message):
    with pytest.raises(CEError, match=message) as caught:
        answer_cost_and_usage(frame, kwargs)
    assert (caught.value.code, caught.value.status) == ("ValidationException", 400)


DIMS = ["SERVICE", "LINKED_ACCOUNT", "USAGE_TYPE", "REGION", "OPERATION"]


@st.composite
def frames(draw):
    n = draw(st.integers(0, 40))
    day0 = date(2026, 11, 1).toordinal()
    pick = st.sampled_from
    rows = draw(st.lists(st.tuples(st.integers(0, 6), pick(["A", "B", "C"]), pick(["1", "2"]),
                                   pick(["u1", "u2", "u3"]),
                                   pick(["r1", "r2"]), pick(["o1", "o2"]),
                                   st.floats(-50, 500, allow_nan=False).map(lambda x: round(x, 4))),
                         min_size=n, max_size=n))
    frame = pd.DataFrame(rows, columns=["day", "service", "linked_account", "usage_type", "region", "operation",
                                        "amount"])
    frame["usage_date"] = pd.to_datetime([date.fromordinal(day0 + d) for d in frame["day"]])
    frame["record_type"] = "Usage"
    frame["amount"] = frame["amount"].astype(float)
    return frame.drop(columns="day")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames(), pair=st.permutations(DIMS).map(lambda p: tuple(p[:2])),
       services=st.sets(st.sampled_from(["A", "B", "C"]), min_size=1), page=st.integers(4, 30))
def test_groups_sum_per_day_to_the_frames_filtered_daily_sums(frame, pair, services, page):
    start = date(2026, 11, 1)
    kwargs = request(start, start + timedelta(days=6), pair,
                     {"Dimensions": {"Key": "SERVICE", "Values": sorted(services)}})
    pages = all_pages(lambda **kw: answer_cost_and_usage(frame, kw, page_groups=page), kwargs)
    assert len({r["TimePeriod"]["Start"] for p in pages for r in p["ResultsByTime"]}) == 7
    got = {}
    for p in pages:
        for r in p["ResultsByTime"]:
            for g in r["Groups"]:
                got[r["TimePeriod"]["Start"]] = got.get(r["TimePeriod"]["Start"], 0.0) + float(
                    g["Metrics"]["UnblendedCost"]["Amount"])
    rows = frame[frame["service"].isin(services)]
    want = rows.groupby(rows["usage_date"].dt.strftime("%Y-%m-%d"))["amount"].sum()
    assert got.keys() == want.to_dict().keys()
    np.testing.assert_allclose([got[d] for d in want.index], want.to_numpy(), atol=1e-7)
