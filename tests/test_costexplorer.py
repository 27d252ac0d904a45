"""Cost Explorer: the request, paging, the parser (on Stubber-validated CE responses) and the fetch plan."""

from __future__ import annotations

import copy
import json
import logging
import random
import threading
from datetime import date, timedelta
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from _util.costexplorer import (
    CE_CONNECT_TIMEOUT_SECONDS,
    CE_MAX_ATTEMPTS,
    CE_TIMEOUT_SECONDS,
    MAX_RUNS,
    MERGE_GAP_DAYS,
    CostDataError,
    CostExplorerError,
    CostQuery,
    ParsedCosts,
    earliest_fetchable,
    fetch,
    hang_bound_seconds,
    load_files,
    make_ce_client,
    parse_response,
    plan_runs,
)
from tests.ce_fakes import Paging, Silent, Throttling

DATA = Path(__file__).parent / "data" / "ce"


def fixture(name: str) -> dict:
    """A saved GetCostAndUsage response (tests/data/ce/<name>.json)."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def amounts(*responses: dict, metric: str = "UnblendedCost") -> dict[tuple[date, str, str], Decimal]:
    """Exact amount per (day, service, breakdown) read straight from responses, independently of the parser."""
    out = {}
    for response in responses:
        for result in response["ResultsByTime"]:
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            for group in result["Groups"]:
                keys = group["Keys"] + [""]
                out[(day, keys[0], keys[1])] = Decimal(group["Metrics"][metric]["Amount"])
    return out


@pytest.fixture
def ce():
    """A real boto3 CE client with a Stubber (validates every request and response against the service model)."""
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber


# --- the request -------------------------------------------------------------------------------

def test_request_is_daily_with_exclusive_end_service_grouping_and_credit_refund_filter():
    req = CostQuery(date(2026, 10, 30), date(2026, 11, 2)).request()
    assert req == {
        "TimePeriod": {"Start": "2026-10-30", "End": "2026-11-03"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}},
    }


def test_request_end_is_exclusive_across_a_year_boundary():
    req = CostQuery(date(2026, 12, 31), date(2026, 12, 31)).request()
    assert req["TimePeriod"] == {"Start": "2026-12-31", "End": "2027-01-01"}


@pytest.mark.parametrize(("group_by", "second"), [
    ("LINKED_ACCOUNT", {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}),
    ("USAGE_TYPE", {"Type": "DIMENSION", "Key": "USAGE_TYPE"}),
    ("TAG:team", {"Type": "TAG", "Key": "team"}),
    ("TAG:Cost Center", {"Type": "TAG", "Key": "Cost Center"}),
])
def test_request_second_grouping(group_by, second):
    req = CostQuery(date(2026, 11, 1), date(2026, 11, 1), group_by=group_by).request()
    assert req["GroupBy"] == [{"Type": "DIMENSION", "Key": "SERVICE"}, second]


def test_request_without_exclusions_has_no_filter_and_uses_the_metric():
    req = CostQuery(date(2026, 11, 1), date(2026, 11, 1), metric="AmortizedCost", exclude_record_types=()).request()
    assert "Filter" not in req
    assert req["Metrics"] == ["AmortizedCost"]


def test_request_with_other_exclusions():
    req = CostQuery(date(2026, 11, 1), date(2026, 11, 1), exclude_record_types=("Credit", "Refund", "Tax")).request()
    assert req["Filter"]["Not"]["Dimensions"] == {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund", "Tax"]}


# --- paging and parsing through botocore's Stubber -------------------------------------------

def test_fetch_follows_next_page_token_and_parses_every_page(ce):
    client, stubber = ce
    query = CostQuery(date(2026, 10, 30), date(2026, 11, 2))
    page1, page2 = fixture("service_page1"), fixture("service_page2")
    stubber.add_response("get_cost_and_usage", page1, query.request())
    # The second request must be the same query plus the token of the first page.
    stubber.add_response("get_cost_and_usage", page2, {**query.request(), "NextPageToken": "AAMA-EXAMPLE-TOKEN-page2"})

    parsed, requests = fetch(client, query)

    assert requests == 2
    stubber.assert_no_pending_responses()
    expected = amounts(page1, page2)
    assert {k: r.amount for k, r in parsed.rows.items()} == expected
    assert len(parsed.rows) == 10
    # A day split across the two pages keeps the groups of both.
    assert {k[1] for k in parsed.rows if k[0] == date(2026, 11, 1)} == {
        "AWS Lambda", "Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service", "Tax"}
    assert parsed.days == {date(2026, 10, 30): False, date(2026, 10, 31): False,
                           date(2026, 11, 1): True, date(2026, 11, 2): True}
    assert parsed.unit == "USD"
    assert parsed.duplicates == 0


def test_estimated_flag_is_per_day(ce):
    client, stubber = ce
    query = CostQuery(date(2026, 10, 30), date(2026, 11, 2))
    stubber.add_response("get_cost_and_usage", fixture("service_page1"), query.request())
    stubber.add_response("get_cost_and_usage", fixture("service_page2"))
    parsed, _ = fetch(client, query)
    flags = {(k[0], r.estimated) for k, r in parsed.rows.items()}
    assert flags == {(date(2026, 10, 30), False), (date(2026, 10, 31), False), (date(2026, 11, 1), True)}


def test_negative_and_ten_decimal_amounts_are_exact_decimals(ce):
    client, stubber = ce
    query = CostQuery(date(2026, 10, 30), date(2026, 11, 2))
    stubber.add_response("get_cost_and_usage", fixture("service_page1"), query.request())
    stubber.add_response("get_cost_and_usage", fixture("service_page2"))
    parsed, _ = fetch(client, query)
    rows = parsed.rows
    assert rows[(date(2026, 10, 31), "Amazon Relational Database Service", "")].amount == Decimal("-3.21")
    tiny = rows[(date(2026, 10, 30), "AWS Lambda", "")].amount
    assert isinstance(tiny, Decimal) and tiny == Decimal("0.0000000001")
    big = rows[(date(2026, 11, 1), "Amazon Elastic Compute Cloud - Compute", "")].amount
    assert str(big) == "856589.3443818037"  # 16 significant digits: a float would not keep them all
    assert sum(r.amount for r in parsed.sorted_rows()) == sum(amounts(fixture("service_page1"),
                                                                      fixture("service_page2")).values())


def test_a_single_page_is_one_request(ce):
    client, stubber = ce
    query = CostQuery(date(2026, 11, 20), date(2026, 11, 21), group_by="LINKED_ACCOUNT")
    stubber.add_response("get_cost_and_usage", fixture("linked_account"), query.request())
    _, requests = fetch(client, query)
    assert requests == 1
    stubber.assert_no_pending_responses()


def test_two_key_groups_service_and_linked_account(ce):
    client, stubber = ce
    query = CostQuery(date(2026, 11, 20), date(2026, 11, 21), group_by="LINKED_ACCOUNT")
    stubber.add_response("get_cost_and_usage", fixture("linked_account"), query.request())
    parsed, _ = fetch(client, query)
    assert {k: r.amount for k, r in parsed.rows.items()} == {
        (date(2026, 11, 20), "Amazon Elastic Compute Cloud - Compute", "111111111111"): Decimal("247.4074073407"),
        (date(2026, 11, 20), "Amazon Elastic Compute Cloud - Compute", "222222222222"): Decimal("123.7037036704"),
        (date(2026, 11, 20), "Amazon Simple Storage Service", "111111111111"): Decimal("-0.0000000017"),
        (date(2026, 11, 21), "Amazon Elastic Compute Cloud - Compute", "111111111111"): Decimal("250"),
    }
    assert all(r.breakdown == k[2] for k, r in parsed.rows.items())


def test_two_key_groups_service_and_tag(ce):
    client, stubber = ce
    query = CostQuery(date(2026, 11, 24), date(2026, 11, 24), group_by="TAG:team")
    stubber.add_response("get_cost_and_usage", fixture("tag_team"), query.request())
    parsed, _ = fetch(client, query)
    assert sorted((r.service, r.breakdown, r.amount) for r in parsed.sorted_rows()) == [
        ("AWS Lambda", "team$web", Decimal("9.8765432109")),
        ("Amazon Simple Storage Service", "team$", Decimal("1.2345678901")),
        ("Amazon Simple Storage Service", "team$data", Decimal("60.0000000001")),
    ]


def test_fetch_records_days_without_any_cost(ce):
    """A day CE lists with no groups is fetched and final (no cost that day), not missing."""
    client, stubber = ce
    query = CostQuery(date(2026, 11, 24), date(2026, 11, 25))
    answer = {"ResultsByTime": [
        {"TimePeriod": {"Start": "2026-11-24", "End": "2026-11-25"}, "Total": {}, "Estimated": False,
         "Groups": [{"Keys": ["EC2"], "Metrics": {"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}}}]},
        {"TimePeriod": {"Start": "2026-11-25", "End": "2026-11-26"}, "Total": {}, "Estimated": True, "Groups": []}]}
    stubber.add_response("get_cost_and_usage", answer, query.request())
    parsed, _ = fetch(client, query)
    assert parsed.days == {date(2026, 11, 24): False, date(2026, 11, 25): True}


def test_days_cost_explorer_leaves_out_are_not_recorded_as_fetched(ce, caplog):
    """CE's silence about a day is not "no cost": recording it would delete its stored rows and never ask again."""
    client, stubber = ce
    query = CostQuery(date(2026, 11, 24), date(2026, 11, 26), group_by="TAG:team")
    stubber.add_response("get_cost_and_usage", fixture("tag_team"), query.request())  # lists the 24th only
    with caplog.at_level(logging.WARNING):
        parsed, _ = fetch(client, query)
    assert parsed.days == {date(2026, 11, 24): True}
    assert "Cost Explorer left out 2 day(s) of 2026-11-24..2026-11-26 (first 2026-11-25)" in caplog.text


@pytest.mark.parametrize(("code", "hint"), [
    ("LimitExceededException", "throttled"),
    ("AccessDeniedException", "ce:GetCostAndUsage"),
    ("DataUnavailableException", "no data"),
])
def test_client_errors_become_cost_explorer_error(ce, code, hint):
    client, stubber = ce
    stubber.add_client_error("get_cost_and_usage", service_error_code=code, service_message="nope",
                             http_status_code=400)
    with pytest.raises(CostExplorerError) as err:
        fetch(client, CostQuery(date(2026, 11, 1), date(2026, 11, 1)))
    assert code in str(err.value) and hint in str(err.value) and "nope" in str(err.value)


def test_error_on_the_second_page_fails_the_whole_fetch(ce):
    client, stubber = ce
    stubber.add_response("get_cost_and_usage", fixture("service_page1"))
    stubber.add_client_error("get_cost_and_usage", service_error_code="LimitExceededException",
                             http_status_code=400)
    with pytest.raises(CostExplorerError, match="LimitExceededException"):
        fetch(client, CostQuery(date(2026, 10, 30), date(2026, 11, 2)))
    stubber.assert_no_pending_responses()


# --- retries over real HTTP ---------------------------------------------------------------------

@pytest.fixture
def throttling_endpoint(monkeypatch):
    """A local CE endpoint that always throttles; botocore's backoff made instant. Yields the handler class."""
    import botocore.retries.standard

    handler = type("Handler", (Throttling,), {"calls": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
    yield handler
    server.shutdown()
    server.server_close()


def test_throttling_is_retried_by_botocore_then_reported(throttling_endpoint):
    client = make_ce_client(retry_mode="standard", max_attempts=4)
    with pytest.raises(CostExplorerError, match="LimitExceededException: Rate exceeded"):
        fetch(client, CostQuery(date(2026, 11, 1), date(2026, 11, 1)))
    # max_attempts counts every attempt (AWS_MAX_ATTEMPTS' meaning): the first call and 3 retries
    assert throttling_endpoint.calls == 4


def test_make_ce_client_uses_bounded_botocore_retries_and_timeouts_and_us_east_1():
    client = make_ce_client()
    assert client.meta.endpoint_url == "https://ce.us-east-1.amazonaws.com"
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": CE_MAX_ATTEMPTS}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (
        CE_CONNECT_TIMEOUT_SECONDS, CE_TIMEOUT_SECONDS)
    # the documented worst case of a Cost Explorer that never answers, with the defaults
    assert hang_bound_seconds(CE_MAX_ATTEMPTS, CE_TIMEOUT_SECONDS) == 5 * (5 + 20) + (1 + 2 + 4 + 8)


@pytest.fixture
def paging(monkeypatch):
    """Start a Paging stand-in (same token forever, or fresh=True) and point boto3 at it; yields a starter."""
    servers = []

    def start(fresh: bool):
        handler = type("Handler", (Paging,), {"calls": 0, "fresh": fresh})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", f"http://127.0.0.1:{server.server_address[1]}")
        return handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_repeated_next_page_token_stops_the_query_naming_range_pages_and_cost(paging, caplog):
    """Seen: 756 pages in 45 s and no end. The second answer repeats the first page's token: stop there."""
    handler = paging(fresh=False)
    with caplog.at_level(logging.INFO, logger="_util.costexplorer"), pytest.raises(CostExplorerError) as err:
        fetch(make_ce_client(), CostQuery(date(2026, 11, 1), date(2026, 11, 24)), max_pages=300)
    assert handler.calls == 2
    text = str(err.value)
    assert text.startswith("Cost Explorer repeated a NextPageToken on page 2 of 2026-11-01..2026-11-24 (first "
                           "given on page 1): stopped after 2 requests (USD 0.02)"), text
    assert "\n" not in text
    assert "Cost Explorer page 2:" in caplog.text  # progress is at INFO (cron logs show it)


def test_fresh_tokens_forever_stop_at_ce_max_pages(paging):
    handler = paging(fresh=True)
    with pytest.raises(CostExplorerError) as err:
        fetch(make_ce_client(), CostQuery(date(2026, 11, 1), date(2026, 11, 24)), max_pages=7)
    assert handler.calls == 7  # never more requests than CE_MAX_PAGES
    assert str(err.value).startswith("Cost Explorer 2026-11-01..2026-11-24 still had more pages after 7 requests "
                                     "(USD 0.07, CE_MAX_PAGES=7): stopped"), err.value


def test_exactly_ce_max_pages_pages_is_fine(ce):
    client, stubber = ce
    query = CostQuery(date(2026, 10, 30), date(2026, 11, 2))
    stubber.add_response("get_cost_and_usage", fixture("service_page1"), query.request())
    stubber.add_response("get_cost_and_usage", fixture("service_page2"))
    _, requests = fetch(client, query, max_pages=2)
    assert requests == 2


@pytest.mark.slow
def test_cost_explorer_that_never_answers_fails_within_timeout_times_attempts(monkeypatch):
    """Seen: 554 s. Each attempt waits read_timeout; botocore retries a bounded number of times, then one line."""
    import botocore.retries.standard

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
    silent = Silent()
    monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", silent.url)
    try:
        client = make_ce_client(max_attempts=2, read_timeout=1, connect_timeout=1)
        with pytest.raises(CostExplorerError) as err:
            fetch(client, CostQuery(date(2026, 11, 1), date(2026, 11, 1)))
    finally:
        silent.close()
    assert silent.accepted == 2  # the call and one retry, each given up after the read timeout
    assert str(err.value).startswith(f"Cost Explorer did not answer within 1 s (read timeout, 2 attempts) at "
                                     f"{silent.url}"), err.value


@pytest.mark.slow
def test_cost_explorer_that_never_answers_is_one_error_line_from_the_job(monkeypatch, capsys, tmp_path,
                                                                         restore_logging):
    import procAmzData
    from tests.cli_helpers import error_lines, run_cli

    silent = Silent()
    monkeypatch.chdir(tmp_path)
    for name, value in {"AWS_ENDPOINT_URL_COST_EXPLORER": silent.url, "CE_TIMEOUT_SECONDS": "1",
                        "CE_MAX_ATTEMPTS": "2", "LOOKBACK_DAYS": "30"}.items():
        monkeypatch.setenv(name, value)
    try:
        code, out, err = run_cli(capsys, procAmzData.main, "--source", "ce", "--db-url",
                                 f"sqlite:///{tmp_path / 'c.sqlite'}")
    finally:
        silent.close()
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(
        "error: Cost Explorer did not answer within 1 s (read timeout, 2 attempts)"), err
    assert "CE_TIMEOUT_SECONDS" in lines[0]
    assert silent.accepted == 2


# --- parser errors --------------------------------------------------------------------------------

def _good() -> dict:
    return copy.deepcopy(fixture("service_page1"))


def _group(r: dict) -> dict:
    return r["ResultsByTime"][1]["Groups"][1]


def _set(path, value):
    def mutate(r):
        *head, last = path
        node = r
        for key in head:
            node = node[key]
        node[last] = value
    return mutate


def _delete(path):
    def mutate(r):
        *head, last = path
        node = r
        for key in head:
            node = node[key]
        del node[last]
    return mutate


G = ("ResultsByTime", 1, "Groups", 1)
BAD = [
    ("no ResultsByTime", _delete(("ResultsByTime",)), "no ResultsByTime list"),
    ("ResultsByTime not a list", _set(("ResultsByTime",), {}), "no ResultsByTime list"),
    ("result not an object", _set(("ResultsByTime", 1), "x"), "ResultsByTime[1] is not an object"),
    ("no TimePeriod", _delete(("ResultsByTime", 1, "TimePeriod")), "ResultsByTime[1]: missing TimePeriod.Start"),
    ("no Start", _delete(("ResultsByTime", 1, "TimePeriod", "Start")), "missing TimePeriod.Start"),
    ("impossible date", _set(("ResultsByTime", 1, "TimePeriod", "Start"), "2026-02-30"),
     "TimePeriod.Start '2026-02-30' is not a YYYY-MM-DD date"),
    ("not a date", _set(("ResultsByTime", 1, "TimePeriod", "Start"), "yesterday"), "'yesterday' is not a YYYY-MM-DD"),
    ("numeric date", _set(("ResultsByTime", 1, "TimePeriod", "Start"), 20261031), "20261031 is not a YYYY-MM-DD"),
    ("Estimated not bool", _set(("ResultsByTime", 1, "Estimated"), "yes"), "Estimated must be true or false"),
    ("Groups not a list", _set(("ResultsByTime", 1, "Groups"), {}), "Groups is not a list"),
    ("group not an object", _set(G, 7), "ResultsByTime[1].Groups[1] is not an object"),
    ("no Keys", _delete((*G, "Keys")), "ResultsByTime[1].Groups[1]: Keys must be a list of 1 or 2 strings"),
    ("empty Keys", _set((*G, "Keys"), []), "Keys must be a list of 1 or 2 strings"),
    ("three Keys", _set((*G, "Keys"), ["a", "b", "c"]), "Keys must be a list of 1 or 2 strings"),
    ("non-string key", _set((*G, "Keys"), [5]), "Keys must be a list of 1 or 2 strings"),
    ("no Metrics", _delete((*G, "Metrics")), "metric UnblendedCost missing (has: none)"),
    ("other metric only", _set((*G, "Metrics"), {"BlendedCost": {"Amount": "1", "Unit": "USD"}}),
     "metric UnblendedCost missing (has: BlendedCost)"),
    ("no Amount", _delete((*G, "Metrics", "UnblendedCost", "Amount")), "UnblendedCost.Amount missing"),
    ("non-numeric Amount", _set((*G, "Metrics", "UnblendedCost", "Amount"), "12,50"),
     "UnblendedCost.Amount '12,50' is not a number"),
    ("empty Amount", _set((*G, "Metrics", "UnblendedCost", "Amount"), ""), "Amount '' is not a number"),
    ("null Amount", _set((*G, "Metrics", "UnblendedCost", "Amount"), None), "Amount None is not a number"),
    ("NaN Amount", _set((*G, "Metrics", "UnblendedCost", "Amount"), "NaN"), "is not a finite number"),
    ("infinite Amount", _set((*G, "Metrics", "UnblendedCost", "Amount"), "-Infinity"), "is not a finite number"),
    ("no Unit", _delete((*G, "Metrics", "UnblendedCost", "Unit")), "UnblendedCost.Unit missing"),
    ("other Unit", _set((*G, "Metrics", "UnblendedCost", "Unit"), "EUR"),
     "unit 'EUR' differs from 'USD' seen before"),
]


@pytest.mark.parametrize(("mutate", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_parser_rejects_bad_responses_naming_where_and_what(mutate, message):
    response = _good()
    mutate(response)
    with pytest.raises(CostDataError) as err:
        parse_response(response, "UnblendedCost", ParsedCosts(), where="nov.json")
    text = str(err.value)
    assert text.startswith("nov.json")
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize("response", [None, [], "ResultsByTime", 3])
def test_parser_rejects_non_objects(response):
    with pytest.raises(CostDataError, match=r"^x\.json: not a GetCostAndUsage response"):
        parse_response(response, "UnblendedCost", ParsedCosts(), where="x.json")


def test_unit_must_match_the_first_one_seen_across_responses():
    parsed = parse_response(_good(), "UnblendedCost", ParsedCosts(), where="a.json")
    other = _good()
    for result in other["ResultsByTime"]:
        for group in result["Groups"]:
            group["Metrics"]["UnblendedCost"]["Unit"] = "EUR"
    with pytest.raises(CostDataError, match=r"^b\.json: ResultsByTime\[0\]\.Groups\[0\]: unit 'EUR' differs"):
        parse_response(other, "UnblendedCost", parsed, where="b.json")


def test_255_char_names_are_accepted_exactly():
    response = _good()
    name = "Ä" * 254 + "&"
    _set((*G, "Keys"), [name, "/" * 255])(response)
    parsed = parse_response(response, "UnblendedCost", ParsedCosts(), where="x")
    assert (date(2026, 10, 31), name, "/" * 255) in parsed.rows


def test_other_metric_is_read():
    response = _good()
    for result in response["ResultsByTime"]:
        for group in result["Groups"]:
            group["Metrics"] = {"AmortizedCost": group["Metrics"]["UnblendedCost"]}
    parsed = parse_response(response, "AmortizedCost", ParsedCosts(), where="x")
    assert len(parsed.rows) == 8


def test_missing_estimated_and_groups_mean_final_and_no_cost():
    response = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}}]}
    parsed = parse_response(response, "UnblendedCost", ParsedCosts(), where="x")
    assert parsed.days == {date(2026, 11, 1): False} and parsed.rows == {}


def test_repeated_key_is_counted_and_the_last_kept():
    response = _good()
    dup = copy.deepcopy(_group(response))
    dup["Metrics"]["UnblendedCost"]["Amount"] = "1.5"
    response["ResultsByTime"][1]["Groups"].append(dup)
    parsed = parse_response(response, "UnblendedCost", ParsedCosts(), where="x")
    assert parsed.duplicates == 1
    assert parsed.rows[(date(2026, 10, 31), "Amazon Relational Database Service", "")].amount == Decimal("1.5")


# --- saved files -------------------------------------------------------------------------------

def test_load_files_reads_saved_responses():
    parsed = load_files([DATA / "service_page1.json", DATA / "service_page2.json"], "UnblendedCost")
    assert {k: r.amount for k, r in parsed.rows.items()} == amounts(fixture("service_page1"),
                                                                     fixture("service_page2"))
    assert parsed.days[date(2026, 11, 2)] is True


def test_load_files_later_file_wins_on_the_same_key(tmp_path):
    later = _good()
    _set((*G, "Metrics", "UnblendedCost", "Amount"), "-9.9900000000")(later)
    del later["NextPageToken"]  # a complete answer of its own, after the two-page one
    path = tmp_path / "revised.json"
    path.write_text(json.dumps(later), encoding="utf-8")
    parsed = load_files([DATA / "service_page1.json", DATA / "service_page2.json", path], "UnblendedCost")
    assert parsed.rows[(date(2026, 10, 31), "Amazon Relational Database Service", "")].amount == Decimal("-9.99")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "invalid JSON (Expecting value at line 1 column 1)"),
    (b"{not json}", "invalid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
    (None, "invalid JSON"),  # truncated: the first half of a real response
    (b"\xff\xfe{}", "cannot read"),
    (b"[]", "not a GetCostAndUsage response"),
])
def test_load_files_bad_content_names_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is None:
        text = (DATA / "service_page1.json").read_bytes()
        content = text[: len(text) // 2]
    path.write_bytes(content)
    with pytest.raises(CostDataError) as err:
        load_files([DATA / "service_page1.json", path], "UnblendedCost")
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_load_files_missing_path(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(CostDataError, match=f"^{missing}: no such file$"):
        load_files([missing], "UnblendedCost")


# --- the date window ------------------------------------------------------------------------------

def _days(start: date, end: date, estimated: bool = False) -> dict[date, bool]:
    return {start + timedelta(days=i): estimated for i in range((end - start).days + 1)}


D = date(2026, 11, 25)
TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(("today", "floor"), [
    (date(2026, 11, 26), date(2025, 10, 1)),
    (date(2026, 1, 31), date(2024, 12, 1)),
    (date(2026, 12, 1), date(2025, 11, 1)),
    (date(2027, 2, 28), date(2026, 1, 1)),
])
def test_earliest_fetchable_is_the_first_of_the_month_13_months_back(today, floor):
    assert earliest_fetchable(today) == floor


def test_first_run_backfills_the_lookback():
    assert plan_runs(D, 30, TODAY, {}) == [(D - timedelta(days=30), D)]


def test_first_run_is_clamped_to_what_cost_explorer_serves(caplog):
    with caplog.at_level(logging.INFO, logger="_util.costexplorer"):
        runs = plan_runs(D, 500, TODAY, {})
    assert runs == [(date(2025, 10, 1), D)]
    assert "clamped" in caplog.text and "2025-10-01" in caplog.text


def test_daily_run_after_final_days_asks_for_d_only():
    known = _days(D - timedelta(days=365), D - timedelta(days=1))
    assert plan_runs(D, 365, TODAY, known) == [(D, D)]


def test_daily_run_starts_at_the_first_estimated_day():
    # October is final; November is still Estimated up to d - 1.
    known = {**_days(date(2025, 11, 25), date(2026, 10, 31)), **_days(date(2026, 11, 1), D - timedelta(days=1), True)}
    assert plan_runs(D, 365, TODAY, known) == [(date(2026, 11, 1), D)]


def test_an_old_estimated_day_is_fetched_alone():
    known = _days(D - timedelta(days=365), D)
    known[date(2026, 9, 14)] = True
    assert plan_runs(D, 365, TODAY, known) == [(date(2026, 9, 14), date(2026, 9, 14))]


def test_a_missing_day_is_fetched_alone():
    known = _days(D - timedelta(days=365), D)
    del known[date(2026, 3, 3)]
    assert plan_runs(D, 365, TODAY, known) == [(date(2026, 3, 3), date(2026, 3, 3))]


def test_all_days_stored_and_final_needs_no_request():
    assert plan_runs(D, 365, TODAY, _days(date(2025, 1, 1), D)) == []


def test_days_before_the_window_do_not_widen_it():
    known = {**_days(date(2025, 1, 1), date(2025, 6, 1), True), **_days(D - timedelta(days=30), D - timedelta(days=1))}
    assert plan_runs(D, 30, TODAY, known) == [(D, D)]


def test_days_older_than_cost_explorer_keeps_are_never_asked_for():
    # Stored history from before the clamp is irrelevant: the window starts at the clamp at the earliest.
    known = _days(date(2025, 10, 1), D)
    known[date(2025, 9, 1)] = True
    assert plan_runs(D, 500, TODAY, known) == []


def test_report_date_older_than_cost_explorer_keeps_is_an_error():
    with pytest.raises(CostExplorerError, match=r"--date 2025-09-30 is older than Cost Explorer keeps.*2025-10-01"):
        plan_runs(date(2025, 9, 30), 365, TODAY, {})


def test_run_for_the_day_before_a_backfill_asks_for_its_first_day_and_the_estimated_days_only():
    # The user's case: a backfill for D (2025-11-25..D, November Estimated), then --date D - 1 the morning after it.
    known = {**_days(date(2025, 11, 25), date(2026, 10, 31)), **_days(date(2026, 11, 1), D, True)}
    assert plan_runs(D - timedelta(days=1), 365, D, known) == [
        (date(2025, 11, 24), date(2025, 11, 24)), (date(2026, 11, 1), D - timedelta(days=1))]


@pytest.mark.parametrize(("gap", "runs"), [
    (0, [(date(2026, 11, 10), D)]),  # adjacent: one run anyway
    (1, [(date(2026, 11, 10), D)]),
    (MERGE_GAP_DAYS, [(date(2026, 11, 10), D)]),
    (MERGE_GAP_DAYS + 1, [(date(2026, 11, 10), date(2026, 11, 12)), (date(2026, 11, 13) + timedelta(days=8), D)]),
])
def test_runs_a_short_gap_of_final_days_apart_are_one_query(gap, runs):
    # Missing: 10..12 November, and from 13 November + gap through d; final between them.
    first_end = date(2026, 11, 12)
    known = _days(D - timedelta(days=60), D)
    for day in (date(2026, 11, 10), date(2026, 11, 11), first_end):
        del known[day]
    day = first_end + timedelta(days=gap + 1)
    while day <= D:
        known[day] = True
        day += timedelta(days=1)
    assert plan_runs(D, 60, TODAY, known) == runs


def test_up_to_max_runs_stay_separate():
    known = _days(D - timedelta(days=365), D)
    holes = [date(2026, 1, 5), date(2026, 4, 5), date(2026, 7, 5)][:MAX_RUNS]
    for day in holes:
        del known[day]
    assert plan_runs(D, 365, TODAY, known) == [(h, h) for h in holes]


def test_many_scattered_holes_are_one_query_from_the_first_to_the_last(caplog):
    known = _days(D - timedelta(days=365), D)
    holes = [date(2026, 1, 5), date(2026, 3, 5), date(2026, 5, 5), date(2026, 7, 5), date(2026, 9, 5)]
    for day in holes:
        known[day] = True
    with caplog.at_level(logging.DEBUG, logger="_util.costexplorer"):
        runs = plan_runs(D, 365, TODAY, known)
    assert runs == [(date(2026, 1, 5), date(2026, 9, 5))]  # d itself is final: not asked for again
    assert "5 separate runs of days to fetch: one query for 2026-01-05..2026-09-05 instead" in caplog.text


@pytest.mark.parametrize("seed", range(40))
def test_plan_covers_every_day_to_fetch_within_the_old_window_and_bounded(seed):
    rng = random.Random(seed)
    lookback = rng.choice([10, 60, 365, 500])
    holes = [0.002, 0.01, 0.05, 0.5][seed % 4]  # share of days missing or Estimated: 1 run to many
    known: dict[date, bool] = {}
    for i in range(lookback + 1):
        if rng.random() >= holes / 2:  # the other half of the holes: stored but Estimated
            known[D - timedelta(days=i)] = rng.random() < holes / 2
    runs = plan_runs(D, lookback, TODAY, known)
    start = max(D - timedelta(days=lookback), earliest_fetchable(TODAY))
    wanted = [start + timedelta(days=i) for i in range((D - start).days + 1)
              if known.get(start + timedelta(days=i), True)]
    if not wanted:
        assert runs == []
        return
    assert 1 <= len(runs) <= MAX_RUNS
    assert runs[0][0] == wanted[0] and runs[-1][1] == wanted[-1]  # never wider than the old one window
    assert all(a <= b for a, b in runs)
    assert all(b1 + timedelta(days=MERGE_GAP_DAYS + 1) < a2 for (_, b1), (a2, _) in zip(runs[:-1], runs[1:], strict=True))
    assert all(any(a <= day <= b for a, b in runs) for day in wanted)
    assert all(known.get(a, True) and known.get(b, True) for a, b in runs)  # no final day at a run's edge


def test_merging_parsed_costs_of_two_queries_keeps_both_and_checks_the_unit():
    first = parse_response(fixture("service_page1"), "UnblendedCost", ParsedCosts(), where="a")
    second = parse_response(fixture("service_page2"), "UnblendedCost", ParsedCosts(), where="b")
    merged = ParsedCosts().merge(copy.deepcopy(first), where="x").merge(copy.deepcopy(second), where="y")
    together = parse_response(fixture("service_page2"), "UnblendedCost",
                              parse_response(fixture("service_page1"), "UnblendedCost", ParsedCosts(), where="a"),
                              where="b")
    assert (merged.rows, merged.days, merged.unit, merged.duplicates) == (
        together.rows, together.days, together.unit, together.duplicates)
    eur = copy.deepcopy(second)
    eur.unit = "EUR"
    with pytest.raises(CostDataError, match=r"^Cost Explorer 2026-11-01\.\.2026-11-02: unit 'EUR' differs from 'USD'"):
        copy.deepcopy(first).merge(eur, where="Cost Explorer 2026-11-01..2026-11-02")


def test_no_credentials_says_what_to_set(monkeypatch, tmp_path):
    """Not "unreachable": the network is fine, the credentials are missing — name the ways to provide them."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup on this box
    client = boto3.session.Session().client("ce", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(CostExplorerError, match=r"^Cost Explorer: no AWS credentials .* attach the instance role"):
        fetch(client, CostQuery(date(2026, 11, 1), date(2026, 11, 1)))
