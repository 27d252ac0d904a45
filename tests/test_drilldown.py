"""Root causes (DESIGN.md "Root causes"): the maths on hand-made frames and against a plain-Python reference on
random data; the drill-down queries through botocore's Stubber (shapes, pages, the daily cap, a refused REGION);
storage, so a rerun of the day asks nothing."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from _util import db, drilldown
from _util.config import Settings
from _util.drilldown import DAILY_LIMIT, RootCauseResult, root_causes
from _util.model import FirstSeen, Spike, Trend
from tests.ce_fakes import answer as send_answer

D = date(2026, 11, 25)
START = D - timedelta(days=drilldown.BASELINE_DAYS)
DAYS = drilldown.BASELINE_DAYS + 1
PAIR = ("LINKED_ACCOUNT", "USAGE_TYPE")
REGION_PAIR = ("REGION", "OPERATION")


def series(normal: float, on_d: float) -> list[float]:
    """A group's 29 days: `normal` every baseline day, `on_d` on d."""
    return [normal] * (DAYS - 1) + [on_d]


def long_frame(groups: dict[tuple[str, ...], list[float]], dims: tuple[str, ...] = PAIR) -> pd.DataFrame:
    """The long drill-down frame of groups (each a list of DAYS values ending d); zero days left out, as CE does."""
    rows = [(START + timedelta(days=i), *key, v) for key, values in groups.items()
            for i, v in enumerate(values) if v != 0]
    frame = pd.DataFrame(rows, columns=["usage_date", *dims, "amount"])
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    return frame


def spike_of(groups: dict[tuple[str, ...], list[float]], service: str = "S", direction: str | None = None) -> Spike:
    """The spike the service total of these groups makes (baseline = the frame's days before d)."""
    totals = np.sum(list(groups.values()), axis=0)
    mean = float(totals[:-1].mean())
    delta = float(totals[-1] - mean)
    return Spike(service, direction or ("up" if delta >= 0 else "down"), float(totals[-1]), mean, 1.0, delta, delta,
                 DAYS - 1)


def trend_of(groups: dict[tuple[str, ...], list[float]], direction: str = "up") -> Trend:
    totals = np.sum(list(groups.values()), axis=0)
    return Trend("S", direction, 1.0, 0.5, float(totals[-1]), float(totals[-7:].mean()), float(totals[-28:].mean()))


def dims_of(result: RootCauseResult) -> list[tuple[str, ...]]:
    return [tuple(c.dimensions.values()) for c in result.causes]


# --- the maths -------------------------------------------------------------------------------------------------------

def test_one_group_explains_all():
    groups = {("111", "BoxUsage"): series(100.0, 100.0), ("222", "BoxUsage"): series(5.0, 105.0),
              ("111", "EBS"): series(20.0, 20.0)}
    result = root_causes(long_frame(groups), spike_of(groups), D)
    assert result.status == "ok" and result.pair == PAIR
    (cause,) = result.causes
    assert cause.dimensions == {"LINKED_ACCOUNT": "222", "USAGE_TYPE": "BoxUsage"}
    assert (cause.cost, cause.normal, cause.delta) == pytest.approx((105.0, 5.0, 100.0))
    assert cause.share == pytest.approx(1.0) and result.explained_share == pytest.approx(1.0)
    assert result.unexplained == pytest.approx(0.0, abs=1e-9)


def test_two_groups_are_kept_until_they_explain_the_change_and_the_rest_is_unexplained():
    groups = {("a", "x"): series(10.0, 70.0), ("b", "y"): series(10.0, 50.0), ("c", "z"): series(1.0, 1.5),
              ("d", "w"): series(3.0, 3.0)}
    result = root_causes(long_frame(groups), spike_of(groups), D)
    assert dims_of(result) == [("a", "x"), ("b", "y")]  # 60 alone is 60% of 100.5: the second is needed
    assert [c.share for c in result.causes] == pytest.approx([60 / 100.5, 40 / 100.5])
    assert result.unexplained == pytest.approx(0.5)
    assert result.explained_share == pytest.approx(100 / 100.5)


def test_an_offsetting_pair_shows_both_sides():
    groups = {("prod", "x"): series(100.0, 400.0), ("staging", "x"): series(300.0, 10.0),
              ("dev", "x"): series(50.0, 50.0)}
    result = root_causes(long_frame(groups), spike_of(groups), D)
    assert dims_of(result) == [("prod", "x"), ("staging", "x")]  # along the alert first, then what offset it
    assert [c.delta for c in result.causes] == pytest.approx([300.0, -290.0])
    assert [c.share for c in result.causes] == pytest.approx([30.0, -29.0])
    assert result.unexplained == pytest.approx(0.0, abs=1e-9)


def test_a_down_spike_ranks_the_groups_that_fell_first():
    groups = {("a", "x"): series(100.0, 20.0), ("b", "y"): series(10.0, 15.0), ("c", "z"): series(50.0, 45.0)}
    result = root_causes(long_frame(groups), spike_of(groups), D)
    assert result.causes[0].dimensions["LINKED_ACCOUNT"] == "a"
    assert result.causes[0].share == pytest.approx(-80.0 / -80.0)


def test_at_most_top_causes_are_kept():
    groups = {(f"acct{i}", "x"): series(10.0, 20.0) for i in range(8)}
    result = root_causes(long_frame(groups), spike_of(groups), D, top=3)
    assert len(result.causes) == 3
    assert result.explained_share == pytest.approx(3 / 8) and result.unexplained == pytest.approx(50.0)


def test_a_trend_is_explained_by_the_7_vs_28_day_move():
    rising = [10.0] * 22 + [40.0] * 7  # 7-day mean 40, 28-day mean (21 x 10 + 7 x 40) / 28 = 17.5
    groups = {("a", "x"): rising, ("b", "y"): [30.0] * DAYS}
    result = root_causes(long_frame(groups), trend_of(groups), D)
    (cause,) = result.causes
    assert (cause.cost, cause.normal, cause.delta, cause.share) == pytest.approx((40.0, 17.5, 22.5, 1.0))


def test_a_contradiction_says_so_and_invents_no_share():
    groups = {("a", "x"): series(10.0, 50.0)}
    spike = spike_of(groups)
    wrong = Spike(spike.service, "up", spike.cost + 0.02, spike.mean, 1.0, None, spike.delta + 0.02, 28)
    result = root_causes(long_frame(groups), wrong, D)
    assert result.status.startswith("unavailable: ") and "50.00" in result.status and "50.02" in result.status
    assert result.causes == [] and result.explained_share is None and result.unexplained is None
    assert root_causes(long_frame(groups), Spike("S", "up", spike.cost + 0.009, 10, 1, None, 40, 28), D).status == "ok"


def test_an_empty_answer_is_unavailable():
    result = root_causes(long_frame({}), Spike("S", "up", 0.0, 0.0, 0.0, None, 0.0, 28), D)
    assert result.status.startswith("unavailable: ") and result.causes == []


def test_names_are_given_where_known():
    groups = {("111", "x"): series(1.0, 30.0), ("222", "y"): series(1.0, 30.0)}
    result = drilldown._named(root_causes(long_frame(groups), spike_of(groups), D),
                              {"LINKED_ACCOUNT": {"111": "prod"}})
    assert [c.names for c in result.causes] == [{"LINKED_ACCOUNT": "prod"}, {}]


amounts = st.floats(0.0, 500.0, allow_nan=False).map(lambda v: round(v, 2))


@given(st.lists(st.lists(amounts, min_size=DAYS, max_size=DAYS), min_size=1, max_size=12),
       st.sampled_from(["spike", "trend"]), st.sampled_from(["up", "down"]), st.integers(1, 6), st.randoms())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_contributions_match_a_plain_python_reference(values, kind, direction, top, rnd):
    assume(any(v for row in values for v in row))  # an empty answer is "unavailable" (tested above)
    groups = {(f"acct{i}", f"use{i % 3}"): v for i, v in enumerate(values)}
    frame = long_frame(groups).sample(frac=1.0, random_state=rnd.randint(0, 2 ** 31))  # any row order
    alert = spike_of(groups, direction=direction) if kind == "spike" else trend_of(groups, direction)
    result = root_causes(frame, alert, D, top=top)

    def contribution(v: list[float]) -> tuple[float, float]:
        if kind == "spike":
            return v[-1], sum(v[:-1]) / (DAYS - 1)
        return sum(v[-7:]) / 7, sum(v[-28:]) / 28

    ref = {key: contribution(v) for key, v in groups.items()}
    change = sum(c - n for c, n in ref.values())
    assert result.status == "ok" and len(result.causes) <= top
    sign = 1.0 if direction == "up" else -1.0
    for cause in result.causes:
        cost, normal = ref[tuple(cause.dimensions.values())]
        assert (cause.cost, cause.normal, cause.delta) == pytest.approx((cost, normal, cost - normal), abs=1e-9)
        if abs(change) >= 0.01:
            assert cause.share == pytest.approx((cost - normal) / change)
    kept = sum(c.delta for c in result.causes)
    assert result.unexplained == pytest.approx(change - kept, abs=1e-9)
    # Along the alert's direction first, largest first; no group left out moved more along it than a kept one.
    moved = [sign * c.delta for c in result.causes]
    along = [m for m in moved if m > 0]
    assert moved[:len(along)] == along and along == sorted(along, reverse=True)
    skipped = [sign * (c - n) for key, (c, n) in ref.items() if key not in set(dims_of(result))]
    if along:
        assert max(skipped, default=0.0) <= min(along) + 1e-9


# --- the queries -----------------------------------------------------------------------------------------------------

def answer(groups: dict[tuple[str, ...], list[float]], pair=PAIR, pages: int = 1) -> list[dict]:
    """GetCostAndUsage pages for these groups over START..D, as Cost Explorer shapes them."""
    results = []
    for i in range(DAYS):
        day = START + timedelta(days=i)
        results.append({
            "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()}, "Total": {},
            "Groups": [{"Keys": list(key), "Metrics": {"UnblendedCost": {"Amount": f"{v[i]:.10f}", "Unit": "USD"}}}
                       for key, v in groups.items() if v[i] != 0],
            "Estimated": False})
    chunks = np.array_split(np.arange(DAYS), pages)
    out = []
    for n, chunk in enumerate(chunks):
        # As Cost Explorer does, an answer grouped by LINKED_ACCOUNT names its accounts.
        accounts = sorted({key[pair.index("LINKED_ACCOUNT")] for key in groups} if "LINKED_ACCOUNT" in pair else ())
        attributes = [{"Value": a, "Attributes": {"description": ACCOUNT_NAMES[a]}} for a in accounts
                      if a in ACCOUNT_NAMES]
        page = {"ResultsByTime": [results[i] for i in chunk], "DimensionValueAttributes": attributes,
                "GroupDefinitions": [{"Type": "DIMENSION", "Key": k} for k in pair]}
        if n < pages - 1:
            page["NextPageToken"] = f"token-{n + 1}"
        out.append(page)
    return out


PROD = {("111122223333", "USE1-BoxUsage:m5.large"): series(10.0, 110.0), ("444455556666", "USE1-EBS"): series(5.0, 5.0)}
REGIONS = {("us-east-1", "RunInstances"): series(14.0, 114.0), ("eu-west-1", "CreateVolume"): series(1.0, 1.0)}
ACCOUNT_NAMES = {"111122223333": "prod"}


@pytest.fixture
def ce():
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def conf(cap: int = 20, **kw) -> Settings:
    return Settings(drilldown_max_requests=cap, report_date=D, **kw)


def expect(stub: Stubber, groups, pair=PAIR, pages: int = 1, service: str = "S") -> None:
    for n, page in enumerate(answer(groups, pair, pages)):
        params = {"TimePeriod": ANY, "Granularity": "DAILY", "Metrics": ["UnblendedCost"], "Filter": ANY,
                  "GroupBy": [{"Type": "DIMENSION", "Key": k} for k in pair]}
        if n:
            params["NextPageToken"] = f"token-{n}"
        stub.add_response("get_cost_and_usage", page, params)


def never():
    raise AssertionError("no Cost Explorer client may be made")


def test_the_drill_down_request_filters_the_service_and_excludes_record_types():
    (alert, query), _ = drilldown.plan([spike_of(PROD, "Amazon EC2")], D, conf())
    assert query.request() == {
        "TimePeriod": {"Start": "2026-10-28", "End": "2026-11-26"}, "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        "Filter": {"And": [
            {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon EC2"], "MatchOptions": ["EQUALS"]}},
            {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}]}}
    bare = drilldown.plan([alert], D, conf(exclude_record_types=()))[1][1].request()
    assert bare["Filter"] == {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon EC2"], "MatchOptions": ["EQUALS"]}}
    assert bare["GroupBy"][0]["Key"] == "REGION"


@pytest.mark.parametrize("group_by, breakdown, expected", [
    ("TAG:team", "team$payments", {"Tags": {"Key": "team", "Values": ["payments"], "MatchOptions": ["EQUALS"]}}),
    ("TAG:team", "team$", {"Tags": {"Key": "team", "MatchOptions": ["ABSENT"]}}),
    ("COST_CATEGORY:unit", "unit$core", {"CostCategories": {"Key": "unit", "Values": ["core"],
                                                            "MatchOptions": ["EQUALS"]}}),
    ("LINKED_ACCOUNT", "111122223333", {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["111122223333"],
                                                       "MatchOptions": ["EQUALS"]}}),
])
def test_an_alert_on_a_breakdown_is_filtered_to_it(group_by, breakdown, expected):
    alert = FirstSeen("S", D, 40.0, breakdown=breakdown)
    query = drilldown.plan([alert], D, conf(group_by=group_by))[0][1]
    assert query.request()["Filter"]["And"][1] == expected


def test_stubbed_requests_are_valid_and_the_day_is_explained_named_and_stored(engine, ce, caplog):
    client, stub = ce
    expect(stub, PROD)
    expect(stub, REGIONS, REGION_PAIR)
    alert = spike_of(PROD)
    with caplog.at_level(logging.INFO, logger="_util.drilldown"):
        out = drilldown.explain([alert], conf(), engine, client, D)
    result = out[("S", "", "spike")]
    assert result.status == "ok" and result.pair == PAIR
    (cause,) = result.causes
    assert cause.dimensions == {"LINKED_ACCOUNT": "111122223333", "USAGE_TYPE": "USE1-BoxUsage:m5.large"}
    assert cause.names == {"LINKED_ACCOUNT": "prod"} and cause.delta == pytest.approx(100.0)
    stored = db.load_root_causes(engine, D)
    assert sorted(r.pair for r in stored) == ["LINKED_ACCOUNT,USAGE_TYPE", "REGION,OPERATION"]
    assert sum(r.requests for r in stored) == 2  # two queries; the account's name came with the first answer
    assert "2 Cost Explorer request(s)" in caplog.text


class Counting:
    """A Cost Explorer client that counts calls and answers from a table of pages (pair -> pages)."""

    def __init__(self, answers: dict[tuple[str, ...], list[dict]], refuse: str = "") -> None:
        self.answers, self.refuse, self.calls = answers, refuse, 0
        self.meta = boto3.client("ce", region_name="us-east-1").meta

    def get_cost_and_usage(self, **kwargs):
        from botocore.exceptions import ClientError

        self.calls += 1
        pair = tuple(g["Key"] for g in kwargs["GroupBy"])
        if self.refuse and self.refuse in pair:
            raise ClientError({"Error": {"Code": "ValidationException",
                                         "Message": f"Invalid group by dimension: {self.refuse}"}}, "GetCostAndUsage")
        pages = self.answers[pair]
        token = kwargs.get("NextPageToken")
        return pages[int(token.rsplit("-", 1)[1]) if token else 0]


def test_a_rerun_of_the_day_makes_no_request(engine):
    first = Counting({PAIR: answer(PROD), REGION_PAIR: answer(REGIONS)})
    alerts = [spike_of(PROD)]
    before = drilldown.explain(alerts, conf(), engine, first, D)
    assert first.calls == 2
    again = drilldown.explain(alerts, conf(), engine, None, D, client_factory=never)
    assert again == before


def test_pages_count_and_the_cap_goes_to_the_largest_alerts_first(engine):
    small = {("1", "a"): series(1.0, 11.0)}
    big = {("2", "b"): series(1.0, 501.0)}
    client = Counting({PAIR: answer(big, pages=2), REGION_PAIR: answer(big, REGION_PAIR)})
    alerts = [spike_of(small, "Small"), spike_of(big, "Big")]
    out = drilldown.explain(alerts, conf(cap=3), engine, client, D)
    assert client.calls == 3  # two pages for the first pair, one for the second; nothing left for names
    assert out[("Big", "", "spike")].status == "ok"
    assert out[("Small", "", "spike")] == RootCauseResult(DAILY_LIMIT)
    assert sum(r.requests for r in db.load_root_causes(engine, D)) == 3
    # The cap is per day: a rerun has nothing left to spend and asks nothing.
    rerun = drilldown.explain(alerts, conf(cap=3), engine, None, D, client_factory=never)
    assert rerun[("Small", "", "spike")].status == DAILY_LIMIT


def test_a_cap_reached_mid_query_leaves_the_alert_not_analysed(engine):
    client = Counting({PAIR: answer(PROD, pages=3)})
    out = drilldown.explain([spike_of(PROD)], conf(cap=2), engine, client, D)
    assert client.calls == 2 and out[("S", "", "spike")].status == DAILY_LIMIT
    # A higher cap later that day finishes it; the requests already spent count.
    client = Counting({PAIR: answer(PROD, pages=3), REGION_PAIR: answer(REGIONS, REGION_PAIR)})
    out = drilldown.explain([spike_of(PROD)], conf(cap=6), engine, client, D)
    assert client.calls == 4 and out[("S", "", "spike")].status == "ok"  # 3 pages + 1; names: no budget left


@pytest.mark.parametrize("setting", [{"cap": 0}, {"drilldown": False}])
def test_a_cap_of_0_or_drilldown_off_asks_nothing_and_says_so_once(engine, caplog, setting):
    cap = setting.get("cap", 20)
    s = conf(cap=cap, drilldown=setting.get("drilldown", True))
    with caplog.at_level(logging.INFO, logger="_util.drilldown"):
        out = drilldown.explain([spike_of(PROD), spike_of(REGIONS, "T")], s, engine, None, D, client_factory=never)
    assert out == {}
    assert len([r for r in caplog.records if r.name == "_util.drilldown"]) == 1
    assert ("DRILLDOWN_MAX_REQUESTS=0" if cap == 0 else "DRILLDOWN=off") in caplog.text


def test_a_refused_region_is_one_warning_and_the_other_pair_is_used(engine, caplog):
    other = {("111122223333", "Lambda-GB-Second"): series(2.0, 52.0)}
    client = Counting({}, refuse="REGION")
    alerts = [spike_of(PROD), spike_of(other, "Lambda")]

    def by_service(**kwargs):
        pair = tuple(g["Key"] for g in kwargs["GroupBy"])
        service = kwargs["Filter"]["And"][0]["Dimensions"]["Values"][0]
        if "REGION" in pair:
            return Counting.get_cost_and_usage(client, **kwargs)
        client.calls += 1
        return answer(PROD if service == "S" else other)[0]

    client.get_cost_and_usage = by_service
    with caplog.at_level(logging.WARNING, logger="_util.drilldown"):
        out = drilldown.explain(alerts, conf(), engine, client, D)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "REGION" in warnings[0] and "other dimension pair is still used" in warnings[0]
    assert client.calls == 3  # both alerts by account x usage type, REGION once; names come with the answers
    assert out[("S", "", "spike")].status == "ok" and out[("Lambda", "", "spike")].status == "ok"
    assert out[("Lambda", "", "spike")].causes[0].names == {"LINKED_ACCOUNT": "prod"}
    assert drilldown.explain(alerts, conf(), engine, None, D, client_factory=never) == out


def test_cost_explorer_down_stops_the_drill_down_for_the_run(engine, caplog):
    from botocore.exceptions import ClientError

    class Throttled(Counting):
        def get_cost_and_usage(self, **kwargs):
            self.calls += 1
            raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "Rate exceeded"}},
                              "GetCostAndUsage")

    client = Throttled({})
    with caplog.at_level(logging.WARNING, logger="_util.drilldown"):
        out = drilldown.explain([spike_of(PROD), spike_of(REGIONS, "T")], conf(), engine, client, D)
    assert client.calls == 1
    assert all(r.status.startswith("unavailable: Cost Explorer LimitExceededException") for r in out.values())
    assert len(caplog.records) == 1
    assert db.load_root_causes(engine, D) == []  # not stored: the next run asks again


def test_best_prefers_the_pair_with_the_most_concentrated_top_cause():
    def result(share: float, pair):
        cause = drilldown.RootCause({pair[0]: "v"}, {}, 1.0, 0.0, 1.0, share)
        return RootCauseResult("ok", [cause], 0.0, share, pair)

    assert drilldown.best([result(0.6, PAIR), result(0.9, REGION_PAIR)]).pair == REGION_PAIR
    assert drilldown.best([result(0.9, PAIR), result(0.9, REGION_PAIR)]).pair == PAIR
    # account x usage type is kept unless the other pair explains clearly more (the region a service runs in)
    assert drilldown.best([result(0.95, PAIR), result(0.99, REGION_PAIR)]).pair == PAIR
    assert drilldown.best([result(0.8, PAIR), result(0.99, REGION_PAIR)]).pair == REGION_PAIR
    refused = RootCauseResult("unavailable: refused", pair=REGION_PAIR)
    assert drilldown.best([RootCauseResult(DAILY_LIMIT), refused]) == refused
    assert drilldown.best([RootCauseResult(DAILY_LIMIT)]).status == DAILY_LIMIT


def test_a_result_survives_its_json():
    groups = {("111", "x"): series(1.0, 30.0), ("222", "y"): series(1.0, 30.0)}
    result = drilldown._named(root_causes(long_frame(groups), spike_of(groups), D),
                              {"LINKED_ACCOUNT": {"111": "prod"}})
    assert RootCauseResult.from_json(result.to_json()) == result


def test_a_malformed_answer_is_unavailable_and_not_asked_again(engine, caplog):
    bad = answer(PROD)
    bad[0]["ResultsByTime"][-1]["Groups"][0]["Metrics"] = {"BlendedCost": {"Amount": "1", "Unit": "USD"}}
    nan = answer(REGIONS, REGION_PAIR)
    nan[0]["ResultsByTime"][-1]["Groups"][0]["Metrics"]["UnblendedCost"]["Amount"] = "NaN"
    client = Counting({PAIR: bad, REGION_PAIR: nan})
    with caplog.at_level(logging.WARNING, logger="_util.drilldown"):
        out = drilldown.explain([spike_of(PROD)], conf(), engine, client, D)
    assert out[("S", "", "spike")].status.startswith("unavailable: Cost Explorer's answer is not understood")
    assert len(caplog.records) == 2 and client.calls == 2
    assert drilldown.explain([spike_of(PROD)], conf(), engine, None, D, client_factory=never) == out


# --- over real HTTP: the client botocore makes from AWS_ENDPOINT_URL -------------------------------------------------

@pytest.fixture
def ce_http(monkeypatch):
    """A tiny Cost Explorer on 127.0.0.1 answering GetCostAndUsage (by GroupBy, paged, accounts named);
    yields the list of (operation, request body) it received."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, dict]] = []
    answers = {PAIR: answer(PROD, pages=2), REGION_PAIR: answer(REGIONS, REGION_PAIR)}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            operation = self.headers["X-Amz-Target"].rsplit(".", 1)[1]
            seen.append((operation, body))
            pages = answers[tuple(g["Key"] for g in body["GroupBy"])]
            token = body.get("NextPageToken")
            out = pages[int(token.rsplit("-", 1)[1]) if token else 0]
            send_answer(self, 200, out)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
    yield seen
    server.shutdown()
    server.server_close()


def test_over_http_the_pages_pairs_and_names_are_asked_once_each(engine, ce_http):
    out = drilldown.explain([spike_of(PROD)], conf(), engine, None, D)  # the client made from the settings
    assert [op for op, _ in ce_http] == ["GetCostAndUsage"] * 3  # no request of its own for the account names
    assert ce_http[1][1]["NextPageToken"] == "token-1"
    assert ce_http[0][1]["Filter"]["And"][0]["Dimensions"]["Values"] == ["S"]
    (cause,) = out[("S", "", "spike")].causes
    assert cause.names == {"LINKED_ACCOUNT": "prod"} and cause.delta == pytest.approx(100.0)
    drilldown.explain([spike_of(PROD)], conf(), engine, None, D)
    assert len(ce_http) == 3  # the rerun asked nothing


def test_pages_taken_before_cost_explorer_failed_still_count_today(engine):
    from botocore.exceptions import ClientError

    class FailsOnPage2(Counting):
        def get_cost_and_usage(self, **kwargs):
            if kwargs.get("NextPageToken"):
                self.calls += 1
                raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "Rate exceeded"}},
                                  "GetCostAndUsage")
            return super().get_cost_and_usage(**kwargs)

    client = FailsOnPage2({PAIR: answer(PROD), REGION_PAIR: answer(REGIONS, REGION_PAIR, pages=2)})
    out = drilldown.explain([spike_of(PROD)], conf(), engine, client, D)
    assert out[("S", "", "spike")].status == "ok"  # the first pair answered
    stored = db.load_root_causes(engine, D)
    assert [r.pair for r in stored] == ["LINKED_ACCOUNT,USAGE_TYPE"]  # the failed pair is asked again next run
    assert sum(r.requests for r in stored) == 2  # its first page was paid for all the same


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_on_random_worlds_through_the_stand_in_the_contributions_match_an_independent_computation(
        engine, monkeypatch, seed):
    """Random groups under one service, served over HTTP by the Cost Explorer stand-in and asked through boto3:
    every cause's cost, normal and delta equal a plain pandas computation of the same window, the kept causes and
    the unexplained rest add up to the service's change, and the injected group is the top cause."""
    from tests.ce_standin import serve

    rng = np.random.default_rng(seed)
    accounts = [f"{n:012d}" for n in rng.choice(10**6, size=4, replace=False)]
    usages = [f"USE1-Usage{i}" for i in range(6)]
    days = [START + timedelta(days=i) for i in range(DAYS)]
    rows = [(day, "S", acc, usage, "us-east-1", "Op", "Usage", float(rng.lognormal(1.0, 0.8)))
            for acc in accounts for usage in usages for day in days if rng.random() > 0.1]  # some days missing
    frame = pd.DataFrame(rows, columns=["usage_date", "service", "linked_account", "usage_type", "region",
                                        "operation", "record_type", "amount"])
    hit = (accounts[int(rng.integers(4))], usages[int(rng.integers(6))])
    frame.loc[len(frame)] = (D, "S", *hit, "us-east-1", "Op", "Usage", 300.0)  # the injected event on d
    totals = frame.groupby("usage_date")["amount"].sum().reindex(days, fill_value=0.0).to_numpy()
    mean = float(totals[:-1].mean())
    spike = Spike("S", "up", float(totals[-1]), mean, 1.0, 9.9, float(totals[-1] - mean), DAYS - 1)

    # The independent computation: cost on d minus the mean of the 28 days before (a missing day is 0).
    wide = frame.pivot_table(index=["linked_account", "usage_type"], columns="usage_date", values="amount",
                             aggfunc="sum").reindex(columns=days, fill_value=0.0).fillna(0.0)
    expected = pd.DataFrame({"cost": wide[D], "normal": wide[days[:-1]].mean(axis=1)})
    expected["delta"] = expected["cost"] - expected["normal"]

    with serve(frame) as (url, server):
        monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", url)
        out = drilldown.explain([spike], conf(), engine, None, D)
        asked = server.calls()
    result = out[("S", "", "spike")]
    assert asked == 2 and result.status == "ok" and result.pair == PAIR
    top = result.causes[0]
    assert (top.dimensions["LINKED_ACCOUNT"], top.dimensions["USAGE_TYPE"]) == hit
    for cause in result.causes:
        want = expected.loc[(cause.dimensions["LINKED_ACCOUNT"], cause.dimensions["USAGE_TYPE"])]
        assert (cause.cost, cause.normal, cause.delta) == pytest.approx(
            (want["cost"], want["normal"], want["delta"]), abs=1e-6)
        assert cause.share == pytest.approx(want["delta"] / spike.delta, abs=1e-6)
    assert sum(c.delta for c in result.causes) + result.unexplained == pytest.approx(spike.delta, abs=1e-6)


# --- hand-made cases through the stand-in over HTTP ------------------------------------------------------------------
# Each case is one service of one frame served by tests/ce_standin.py and asked through boto3 (the client explain()
# makes). Every (account, usage type) group's cost is split half and half between two region x operation groups, so
# the region pair never concentrates a change more than account x usage type does and the cause shown is by PAIR.

A1, A2, A3 = "111111111111", "222222222222", "333333333333"
NEW_FROM = D - timedelta(days=2)  # the new service's first day with cost
HAND_MADE = {
    "one": {(A1, "BoxUsage"): series(100.0, 100.0), (A2, "BoxUsage"): series(5.0, 105.0),
            (A1, "EBS"): series(20.0, 20.0)},
    "two": {(A1, "BoxUsage"): series(10.0, 70.0), (A2, "EBS"): series(10.0, 50.0), (A3, "NatGateway"): series(3.0, 3.0)},
    "offset": {(A1, "BoxUsage"): series(100.0, 400.0), (A2, "BoxUsage"): series(300.0, 10.0),
               (A3, "BoxUsage"): series(50.0, 50.0)},
    "new": {(A3, "NewUsage"): [0.0] * (DAYS - 3) + [40.0] * 3, (A1, "NewUsage"): [0.0] * (DAYS - 3) + [0.5] * 3},
    # Not an alert: a large service in the same accounts that the SERVICE filter must keep out.
    "quiet": {(A1, "BoxUsage"): series(500.0, 900.0), (A2, "NewUsage"): series(7.0, 7.0)},
}
# The groups each case must show, in order (along the alert first, then what offset it).
EXPECTED_CAUSES = {"one": [(A2, "BoxUsage")], "two": [(A1, "BoxUsage"), (A2, "EBS")],
                   "offset": [(A1, "BoxUsage"), (A2, "BoxUsage")], "new": [(A3, "NewUsage")]}
HALVES = (("us-east-1", "RunInstances"), ("eu-west-1", "CreateVolume"))


def hand_made_frame() -> pd.DataFrame:
    """The stand-in's frame of every hand-made service (zero days left out, as Cost Explorer does)."""
    rows = [(START + timedelta(days=i), service, acc, usage, region, op, "Usage", v / 2)
            for service, groups in HAND_MADE.items() for (acc, usage), values in groups.items()
            for i, v in enumerate(values) if v != 0 for region, op in HALVES]
    return pd.DataFrame(rows, columns=["usage_date", "service", "linked_account", "usage_type", "region",
                                       "operation", "record_type", "amount"])


def independent(frame: pd.DataFrame, service: str) -> tuple[pd.DataFrame, pd.Series]:
    """Each (account, usage type) group's cost on d, normal (mean of the 28 days before, a missing day 0) and
    delta, by plain pandas; and the service's daily totals over the window."""
    days = [START + timedelta(days=i) for i in range(DAYS)]
    wide = (frame[frame["service"] == service]
            .pivot_table(index=["linked_account", "usage_type"], columns="usage_date", values="amount", aggfunc="sum")
            .reindex(columns=days).fillna(0.0))
    groups = pd.DataFrame({"cost": wide[D], "normal": wide[days[:-1]].mean(axis=1)})
    groups["delta"] = groups["cost"] - groups["normal"]
    return groups, wide.sum(axis=0)


def hand_made_alert(frame: pd.DataFrame, case: str):
    """The alert the service makes on d: a FirstSeen for the new service, else a Spike of its total."""
    _, totals = independent(frame, case)
    if case == "new":
        first = min(day for day, v in totals.items() if v > 0)
        return FirstSeen(case, first, float(totals[D]))
    mean = float(totals.iloc[:-1].mean())
    delta = float(totals[D] - mean)
    return Spike(case, "up" if delta >= 0 else "down", float(totals[D]), mean, 1.0, 9.9, delta, DAYS - 1)


@pytest.fixture
def standin(monkeypatch):
    """The stand-in serving the hand-made frame; boto3's Cost Explorer client is pointed at it."""
    from tests.ce_standin import serve

    frame = hand_made_frame()
    with serve(frame) as (url, server):
        monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", url)
        yield frame, server


@pytest.mark.parametrize("case", ["one", "two", "offset", "new"])
def test_hand_made_cases_through_the_stand_in_show_the_groups_that_moved(engine, standin, case):
    """One group explains all; two groups share it; an offsetting pair shows both sides of a small net change; a new
    service's carrying group is its top cause: exact groups, amounts from an independent pandas computation."""
    frame, server = standin
    alert = hand_made_alert(frame, case)
    assert (alert.first_date == NEW_FROM) if case == "new" else (alert.delta > 0)  # the case is what it names
    out = drilldown.explain([alert], conf(), engine, None, D)
    expected, totals = independent(frame, case)
    change = float(totals[D] - totals.iloc[:-1].mean())
    kind = "first_seen" if case == "new" else "spike"
    result = out[(case, "", kind)]
    assert server.calls() == 2 and result.status == "ok" and result.pair == PAIR
    assert dims_of(result) == EXPECTED_CAUSES[case]
    for cause in result.causes:
        want = expected.loc[tuple(cause.dimensions.values())]
        assert (cause.cost, cause.normal, cause.delta) == pytest.approx(
            (want["cost"], want["normal"], want["delta"]), abs=1e-6)
        assert cause.share == pytest.approx(want["delta"] / change, abs=1e-6)
    kept = sum(expected.loc[key, "delta"] for key in EXPECTED_CAUSES[case])
    assert result.unexplained == pytest.approx(change - kept, abs=1e-6)
    if case == "one":
        assert result.causes[0].share == pytest.approx(1.0) and result.unexplained == pytest.approx(0.0, abs=1e-6)
    elif case == "two":
        assert [c.share for c in result.causes] == pytest.approx([0.6, 0.4])
        assert result.unexplained == pytest.approx(0.0, abs=1e-6)
    elif case == "offset":
        assert change == pytest.approx(10.0)  # +300 in one account, -290 in another: the alert's net change
        assert [c.delta for c in result.causes] == pytest.approx([300.0, -290.0])
        assert result.unexplained == pytest.approx(0.0, abs=1e-6)
    else:
        assert alert.cost == pytest.approx(40.5)  # the carrying group plus a half-dollar group, both new
        assert (result.causes[0].cost, result.causes[0].normal) == pytest.approx((40.0, 80.0 / 28))


def test_a_cap_reached_through_the_stand_in_analyses_the_largest_alert_only(engine, standin):
    frame, server = standin
    big, small = hand_made_alert(frame, "one"), hand_made_alert(frame, "new")
    assert drilldown.impact(big) > drilldown.impact(small)
    cap = 2  # DRILLDOWN_MAX_REQUESTS: both pairs of one alert
    out = drilldown.explain([small, big], conf(cap=cap), engine, None, D)
    assert out[("one", "", "spike")].status == "ok" and dims_of(out[("one", "", "spike")]) == EXPECTED_CAUSES["one"]
    assert out[("new", "", "first_seen")].status == DAILY_LIMIT
    assert server.calls() == cap
    assert drilldown.explain([small, big], conf(cap=cap), engine, None, D) == out  # the day's cap holds on a rerun
    assert server.calls() == cap and sum(r.requests for r in db.load_root_causes(engine, D)) == cap


def test_a_rerun_of_the_day_through_the_stand_in_makes_no_request(engine, standin):
    frame, server = standin
    alerts = [hand_made_alert(frame, case) for case in EXPECTED_CAUSES]
    first = drilldown.explain(alerts, conf(), engine, None, D)
    asked = server.calls()
    assert asked == 2 * len(alerts) and all(r.status == "ok" for r in first.values())
    assert drilldown.explain(alerts, conf(), engine, None, D) == first
    assert server.calls() == asked
