"""Stage 1 end to end: plan the runs, one (paged) CE query per run, parse, upsert — sample, Stubber, moto, files."""

from __future__ import annotations

import copy
import json
import logging
import urllib.request
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from sqlalchemy import select

from _util import db
from _util.config import Settings
from _util.costexplorer import CostDataError, CostExplorerError, CostQuery
from _util.ingest import ingest
from _util.sample_data import SampleCostExplorer

DATA = Path(__file__).parent / "data" / "ce"
D = date(2026, 11, 25)
TODAY = date(2026, 11, 26)
CENT = Decimal("0.01")


class Recording:
    """Wraps a GetCostAndUsage client and keeps a copy of every response it handed out."""

    def __init__(self, inner):
        self.inner = inner
        self.responses: list[dict] = []

    def get_cost_and_usage(self, **kwargs):
        response = self.inner.get_cost_and_usage(**kwargs)
        self.responses.append(copy.deepcopy(response))
        return response


def settings(engine, **kw) -> Settings:
    base = {"database_url": engine.url.render_as_string(hide_password=False), "cost_source": "sample",
            "report_date": D, "lookback_days": 365}
    return Settings(**{**base, **kw})


def response_sums(responses, metric="UnblendedCost") -> dict[date, Decimal]:
    """Exact total per day of CE responses (later responses replace earlier ones for the same key)."""
    cells = {}
    for response in responses:
        for result in response["ResultsByTime"]:
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            for group in result["Groups"]:
                cells[(day, *group["Keys"])] = Decimal(group["Metrics"][metric]["Amount"])
    sums: dict[date, Decimal] = defaultdict(Decimal)
    for key, amount in cells.items():
        sums[key[0]] += amount
    return dict(sums)


def to_cent(sums: dict[date, Decimal]) -> dict[date, Decimal]:
    return {d: s.quantize(CENT) for d, s in sums.items()}


def dump(engine) -> tuple[list[tuple], list[tuple]]:
    """Both cost tables, every column, ordered by key."""
    out = []
    for tbl in (db.daily_cost, db.cost_day):
        with engine.connect() as conn:
            out.append([tuple(r) for r in conn.execute(select(tbl).order_by(*tbl.primary_key.columns)).all()])
    return out[0], out[1]


def without_fetched_at(engine):
    daily, days = dump(engine)
    return [r[:-1] for r in daily], [r[:-1] for r in days]


# --- sample source (the demo's path): paging, sums to the cent, one request on a re-run ----------------

def test_first_run_backfills_with_paging_and_stores_the_sums_of_the_responses(engine, caplog):
    client = Recording(SampleCostExplorer(D, page_groups=400, today=TODAY))
    with caplog.at_level(logging.INFO):
        result = ingest(settings(engine, lookback_days=60), engine, client=client, today=TODAY)
    requests = client.inner.requests
    assert result.requests == len(requests) == len(client.responses) > 1
    assert [r.get("NextPageToken") for r in requests] == [None] + [r["NextPageToken"] for r in client.responses[:-1]]
    assert (result.start, result.end) == (D - timedelta(days=60), D)
    assert result.days == 61 and result.estimated_days == 25  # 1..25 November
    expected = response_sums(client.responses)
    assert len(expected) == 61
    assert to_cent(db.daily_sums(engine, result.start, D)) == to_cent(expected)
    if engine.dialect.name != "sqlite":  # DECIMAL(28, 10) sums exactly; SQLite sums floats
        assert db.daily_sums(engine, result.start, D) == expected
    assert "first run: backfilling 2026-09-26..2026-11-25 (61 days)" in caplog.text


def test_second_run_for_the_same_date_is_exactly_one_request(engine, caplog):
    first = SampleCostExplorer(D, today=TODAY)
    ingest(settings(engine), engine, client=first, today=TODAY)
    assert len(first.requests) > 1  # 366 days x 31 services do not fit one page
    again = Recording(SampleCostExplorer(D, today=TODAY))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="_util.ingest"):
        result = ingest(settings(engine), engine, client=again, today=TODAY)
    assert result.requests == 1 and len(again.inner.requests) == 1
    # Only the still-Estimated days (November) are asked for again.
    assert again.inner.requests[0]["TimePeriod"] == {"Start": "2026-11-01", "End": "2026-11-26"}
    assert "sample Cost Explorer: 1 request(s)" in caplog.text
    assert to_cent(db.daily_sums(engine, date(2026, 11, 1), D)) == to_cent(response_sums(again.responses))


def test_same_run_twice_leaves_identical_rows_except_fetched_at(engine, monkeypatch):
    times = iter([datetime(2026, 11, 26, 6, 0, 0), datetime(2026, 11, 26, 6, 0, 5)])
    monkeypatch.setattr(db, "utcnow", lambda: next(times))
    ingest(settings(engine, lookback_days=40), engine, client=SampleCostExplorer(D, today=TODAY), today=TODAY)
    before, before_raw = without_fetched_at(engine), dump(engine)
    ingest(settings(engine, lookback_days=40), engine, client=SampleCostExplorer(D, today=TODAY), today=TODAY)
    assert without_fetched_at(engine) == before
    assert dump(engine) != before_raw  # the refetched (Estimated) days carry the new fetched_at


def test_next_day_run_fetches_from_the_first_estimated_day(engine):
    ingest(settings(engine, lookback_days=40), engine, client=SampleCostExplorer(D, today=TODAY), today=TODAY)
    nxt = SampleCostExplorer(D + timedelta(days=1), today=TODAY + timedelta(days=1))
    result = ingest(settings(engine, lookback_days=40, report_date=D + timedelta(days=1)), engine, client=nxt,
                    today=TODAY + timedelta(days=1))
    assert (result.start, result.end, result.requests) == (date(2026, 11, 1), D + timedelta(days=1), 1)


def test_all_days_final_needs_no_request(engine, caplog):
    day0 = D - timedelta(days=40)
    db.store_costs(engine, [], {day0 + timedelta(days=i): False for i in range(41)})
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber, caplog.at_level(logging.INFO, logger="_util.ingest"):  # no response queued
        result = ingest(settings(engine, cost_source="ce", lookback_days=40), engine, client=client, today=TODAY)
        stubber.assert_no_pending_responses()
    assert result.requests == 0 and result.cost_usd == 0
    assert "no Cost Explorer request needed" in caplog.text


def test_run_for_the_day_before_a_backfill_asks_only_for_the_missing_and_estimated_days(engine, caplog):
    # The user's case: backfill for D (2025-11-25..D), then --date D - 1 the morning after it. Its window starts
    # at 2025-11-24, the one day missing; November is still Estimated. Small pages make the year many pages.
    ingest(settings(engine), engine, client=SampleCostExplorer(D, page_groups=400, today=TODAY), today=TODAY)
    before = db.daily_sums(engine, D - timedelta(days=366), D)
    assert min(before) == date(2025, 11, 25)
    day_before = D - timedelta(days=1)
    again = Recording(SampleCostExplorer(D, page_groups=400, today=D))  # same anchor: the same amounts
    with caplog.at_level(logging.INFO, logger="_util.ingest"):
        result = ingest(settings(engine, report_date=day_before), engine, client=again, today=D)
    periods = [r["TimePeriod"] for r in again.inner.requests if "NextPageToken" not in r]
    assert periods == [{"Start": "2025-11-24", "End": "2025-11-25"}, {"Start": "2026-11-01", "End": "2026-11-25"}]
    one_window = sample_pages(CostQuery(date(2025, 11, 24), day_before), page_groups=400)
    assert result.requests == len(again.inner.requests) == 3 < len(one_window)  # 1 + 2 pages, not 28
    assert (result.start, result.end, result.days, result.estimated_days) == (date(2025, 11, 24), day_before, 25, 24)
    assert ("sample Cost Explorer: 3 request(s) (USD 0.00) for 2025-11-24..2025-11-24, 2026-11-01..2026-11-24"
            in caplog.text)
    after = db.daily_sums(engine, D - timedelta(days=366), D)
    assert to_cent(after) == to_cent({**before, **response_sums(again.responses)})
    assert to_cent({k: v for k, v in after.items() if k in before}) == to_cent(before)  # stored sums unchanged
    assert set(after) - set(before) == {date(2025, 11, 24)}
    known = db.known_days(engine, date(2025, 11, 24), D)
    assert len(known) == 367 and known[date(2025, 11, 24)] is False and known[date(2026, 11, 1)] is True


# --- ce source through botocore's Stubber ----------------------------------------------------------------

def _response(days: dict[date, tuple[bool, dict[str, str]]]) -> dict:
    return {"GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "ResultsByTime": [
                {"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                 "Total": {}, "Estimated": est,
                 "Groups": [{"Keys": [s], "Metrics": {"UnblendedCost": {"Amount": a, "Unit": "USD"}}}
                            for s, a in groups.items()]}
                for d, (est, groups) in sorted(days.items())],
            "DimensionValueAttributes": []}


def test_revised_estimated_day_replaces_the_stored_one(engine, monkeypatch, caplog):
    times = iter([datetime(2026, 11, 26, 6, 0, 0), datetime(2026, 11, 27, 6, 0, 0)])
    monkeypatch.setattr(db, "utcnow", lambda: next(times))
    s = settings(engine, cost_source="ce", lookback_days=30, exclude_record_types=())
    d0 = D - timedelta(days=30)
    first = {d0 + timedelta(days=i): (False, {"Amazon Route 53": "1.0000000000"}) for i in range(29)}
    first[D - timedelta(days=1)] = (True, {"Amazon Route 53": "1.5000000000", "AWS Glue": "4.4400000000"})
    first[D] = (True, {"Amazon Route 53": "1.2500000000", "AWS Glue": "0.0100000000"})
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("get_cost_and_usage", _response(first), CostQuery(d0, D, exclude_record_types=()).request())
        ingest(s, engine, client=client, today=TODAY)
        # Next day's run for the same d: CE has revised d - 1 (final now; AWS Glue gone) and d.
        revised = {D - timedelta(days=1): (False, {"Amazon Route 53": "-0.3000000001"}),
                   D: (True, {"Amazon Route 53": "1.7500000000", "AWS Glue": "0.0100000000"})}
        stubber.add_response("get_cost_and_usage", _response(revised),
                             CostQuery(D - timedelta(days=1), D, exclude_record_types=()).request())
        with caplog.at_level(logging.INFO, logger="_util.ingest"):
            result = ingest(s, engine, client=client, today=TODAY + timedelta(days=1))
        stubber.assert_no_pending_responses()
    assert result.requests == 1 and result.cost_usd == Decimal("0.01")
    assert "Cost Explorer: 1 request(s) (USD 0.01)" in caplog.text
    frame = db.load_costs(engine, D - timedelta(days=2), D)
    got = {(r.usage_date.date(), r.service): (r.amount, r.estimated) for r in frame.itertuples()}
    assert got == {(D - timedelta(days=2), "Amazon Route 53"): (1.0, False),
                   (D - timedelta(days=1), "Amazon Route 53"): (-0.3000000001, False),
                   (D, "Amazon Route 53"): (1.75, True), (D, "AWS Glue"): (0.01, True)}
    assert db.known_days(engine, D - timedelta(days=1), D) == {D - timedelta(days=1): False, D: True}


def _two_holes(engine) -> tuple[Settings, date]:
    """A database with D - 29..D - 1 final and D - 30 and D missing: two runs, far apart."""
    first = D - timedelta(days=30)
    db.store_costs(engine, [], {first + timedelta(days=i): False for i in range(1, 30)})
    return settings(engine, cost_source="ce", lookback_days=30, exclude_record_types=()), first


def test_two_runs_far_apart_are_two_queries_stored_together(engine, caplog):
    s, first = _two_holes(engine)
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber, caplog.at_level(logging.INFO, logger="_util.ingest"):
        stubber.add_response("get_cost_and_usage", _response({first: (False, {"AWS Glue": "2.5000000000"})}),
                             CostQuery(first, first, exclude_record_types=()).request())
        stubber.add_response("get_cost_and_usage", _response({D: (True, {"AWS Glue": "0.7500000000"})}),
                             CostQuery(D, D, exclude_record_types=()).request())
        result = ingest(s, engine, client=client, today=TODAY)
        stubber.assert_no_pending_responses()
    assert (result.start, result.end, result.requests, result.rows, result.days) == (first, D, 2, 2, 2)
    assert result.cost_usd == Decimal("0.02")
    assert "Cost Explorer: 2 request(s) (USD 0.02) for 2026-10-26..2026-10-26, 2026-11-25..2026-11-25" in caplog.text
    assert db.daily_sums(engine, first, D) == {first: Decimal("2.5"), D: Decimal("0.75")}
    assert db.known_days(engine, first, D) == {**{first + timedelta(days=i): False for i in range(30)}, D: True}


def test_a_later_run_failing_writes_nothing_of_the_earlier_one(engine):
    s, first = _two_holes(engine)
    before = dump(engine)
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("get_cost_and_usage", _response({first: (False, {"AWS Glue": "2.5000000000"})}),
                             CostQuery(first, first, exclude_record_types=()).request())
        stubber.add_client_error("get_cost_and_usage", "LimitExceededException", "Rate exceeded", 400)
        with pytest.raises(CostExplorerError, match="LimitExceededException"):
            ingest(s, engine, client=client, today=TODAY)
    assert dump(engine) == before


@pytest.fixture
def stored(engine):
    """A database holding an earlier run (sample, 40 days); yields its full contents."""
    ingest(settings(engine, lookback_days=40), engine, client=SampleCostExplorer(D, today=TODAY), today=TODAY)
    return dump(engine)


def test_ce_failing_on_a_later_page_writes_nothing(engine, stored):
    client = boto3.client("ce", region_name="us-east-1")
    page1 = json.loads((DATA / "service_page1.json").read_text())
    with Stubber(client) as stubber:
        stubber.add_response("get_cost_and_usage", page1)
        stubber.add_client_error("get_cost_and_usage", "LimitExceededException", "Rate exceeded", 400)
        with pytest.raises(CostExplorerError, match="LimitExceededException"):
            ingest(settings(engine, cost_source="ce", report_date=D + timedelta(days=1), lookback_days=40),
                   engine, client=client, today=TODAY + timedelta(days=1))
    assert dump(engine) == stored


def test_bad_page_writes_nothing(engine, stored):
    client = boto3.client("ce", region_name="us-east-1")
    page1 = json.loads((DATA / "service_page1.json").read_text())
    page2 = json.loads((DATA / "service_page2.json").read_text())
    page2["ResultsByTime"][0]["Groups"][1]["Metrics"]["UnblendedCost"]["Unit"] = "EUR"
    with Stubber(client) as stubber:
        stubber.add_response("get_cost_and_usage", page1)
        stubber.add_response("get_cost_and_usage", page2)
        with pytest.raises(CostDataError, match=r"Cost Explorer page 2: .*unit 'EUR' differs from 'USD'"):
            ingest(settings(engine, cost_source="ce", report_date=D + timedelta(days=1), lookback_days=40),
                   engine, client=client, today=TODAY + timedelta(days=1))
    assert dump(engine) == stored


# --- ce source: a real boto3 client over HTTP against moto's server ---------------------------------------

def inject(moto_url: str, results: list[dict]) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                     data=json.dumps({"results": results}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def sample_pages(query: CostQuery, page_groups: int) -> list[dict]:
    """The pages the sample answers for one query, in order."""
    sample, pages, kwargs = SampleCostExplorer(D, page_groups=page_groups, today=TODAY), [], query.request()
    while True:
        pages.append(sample.get_cost_and_usage(**kwargs))
        if "NextPageToken" not in pages[-1]:
            return pages
        kwargs = {**kwargs, "NextPageToken": pages[-1]["NextPageToken"]}


def test_real_boto3_client_against_moto_with_injected_results(engine, moto_reset, caplog):
    s = settings(engine, cost_source="ce", lookback_days=45, group_by="LINKED_ACCOUNT")
    first = sample_pages(CostQuery(D - timedelta(days=45), D, group_by="LINKED_ACCOUNT"), page_groups=1500)
    second = sample_pages(CostQuery(date(2026, 11, 1), D, group_by="LINKED_ACCOUNT"), page_groups=5000)
    assert len(first) == 3 and len(second) == 1
    inject(moto_reset, first + second)
    client = boto3.client("ce", region_name="us-east-1", endpoint_url=moto_reset)

    result = ingest(s, engine, client=client, today=TODAY)
    assert result.requests == 3  # moto answered each page (a distinct body: its NextPageToken) in order
    assert to_cent(db.daily_sums(engine, D - timedelta(days=45), D)) == to_cent(response_sums(first))
    frame = db.load_costs(engine, D - timedelta(days=45), D)
    assert set(frame["breakdown"]) == {"111111111111", "222222222222", "333333333333"}
    assert len(frame) == sum(len(r["Groups"]) for p in first for r in p["ResultsByTime"])

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="_util.ingest"):
        again = ingest(s, engine, client=client, today=TODAY)
    assert again.requests == 1 and (again.start, again.end) == (date(2026, 11, 1), D)
    assert "Cost Explorer: 1 request(s) (USD 0.01) for 2026-11-01..2026-11-25" in caplog.text
    assert to_cent(db.daily_sums(engine, D - timedelta(days=45), D)) == to_cent(response_sums(first + second))


# --- file source ---------------------------------------------------------------------------------------------

def test_file_source_stores_the_sums_of_the_files_and_makes_no_request(engine):
    files = (DATA / "service_page1.json", DATA / "service_page2.json")
    result = ingest(settings(engine, cost_source="file", input_files=files), engine, today=TODAY)
    responses = [json.loads(f.read_text()) for f in files]
    assert (result.requests, result.rows, result.days, result.estimated_days) == (0, 10, 4, 2)
    assert (result.start, result.end) == (date(2026, 10, 30), date(2026, 11, 2))
    assert to_cent(db.daily_sums(engine, date(2026, 10, 30), date(2026, 11, 2))) == to_cent(response_sums(responses))
    assert db.known_days(engine, date(2026, 10, 30), date(2026, 11, 2)) == {
        date(2026, 10, 30): False, date(2026, 10, 31): False, date(2026, 11, 1): True, date(2026, 11, 2): True}


def test_file_source_two_keys(engine):
    files = (DATA / "linked_account.json", DATA / "tag_team.json")
    ingest(settings(engine, cost_source="file", input_files=files), engine, today=TODAY)
    frame = db.load_costs(engine, date(2026, 11, 20), date(2026, 11, 24))
    assert sorted(zip(frame["service"], frame["breakdown"], strict=True)) == sorted([
        ("Amazon Elastic Compute Cloud - Compute", "111111111111"),
        ("Amazon Elastic Compute Cloud - Compute", "222222222222"),
        ("Amazon Simple Storage Service", "111111111111"),
        ("Amazon Elastic Compute Cloud - Compute", "111111111111"),
        ("Amazon Simple Storage Service", "team$"), ("Amazon Simple Storage Service", "team$data"),
        ("AWS Lambda", "team$web")])


NAMES = ["Compute & Storage / Backup", 'Service "quoted" and \'single\'', "Überwachung – Datenschutz ✓ 日本語 🚀",
         "amazon simple storage service", "Amazon Simple Storage Service", "x" * 255, "🚀" * 255]


def test_file_source_stores_names_exactly(engine, tmp_path):
    response = {"ResultsByTime": [{
        "TimePeriod": {"Start": "2026-11-24", "End": "2026-11-25"}, "Estimated": True,
        "Groups": [{"Keys": [name, f"team${name[:200]}"],
                    "Metrics": {"UnblendedCost": {"Amount": f"{i}.0000000001", "Unit": "USD"}}}
                   for i, name in enumerate(NAMES)]}]}
    path = tmp_path / "names.json"
    path.write_text(json.dumps(response, ensure_ascii=False), encoding="utf-8")
    ingest(settings(engine, cost_source="file", input_files=(path,)), engine, today=TODAY)
    daily, _ = dump(engine)
    assert sorted((r[1], r[2], r[3]) for r in daily) == sorted(
        (name, f"team${name[:200]}", Decimal(f"{i}.0000000001")) for i, name in enumerate(NAMES))


# --- file source: a paged answer is loaded whole or not at all (procAmzData.py in-process) -------------------------

PAGES = (DATA / "service_page1.json", DATA / "service_page2.json")  # one two-page answer: 8 + 2 rows, 4 days


@pytest.fixture
def two_pages_stored(db_url, capsys, tmp_path, monkeypatch, restore_logging):
    """A database holding the whole two-page answer (10 rows); yields (url, its contents)."""
    import procAmzData

    monkeypatch.chdir(tmp_path)
    assert procAmzData.main(["--input", *map(str, PAGES), "--db-url", db_url]) == 0, capsys.readouterr().err
    capsys.readouterr()
    engine = db.make_engine(db_url)
    before = dump(engine)
    engine.dispose()
    assert len(before[0]) == 10
    return db_url, before




@pytest.mark.parametrize(("inputs", "refused", "why"), [
    ((PAGES[0],), PAGES[0], "its next page is not among the inputs"),  # the reported defect: 10 -> 8 rows
    ((PAGES[1], PAGES[0]), PAGES[0], "its next page is not among the inputs"),  # pages in the wrong order
    ((PAGES[0], DATA / "linked_account.json"), PAGES[0], "is not its next page"),  # another answer follows
    ((PAGES[0], PAGES[0]), PAGES[0], "its next page is not among the inputs"),  # the same page twice
])
def test_a_page_without_its_continuation_is_refused_and_changes_nothing(two_pages_stored, capsys, inputs, refused,
                                                                       why):
    import procAmzData

    url, before = two_pages_stored
    code = procAmzData.main(["--input", *map(str, inputs), "--db-url", url])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err  # a usage error: the inputs are incomplete
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {refused}: has a NextPageToken"), err
    assert why in lines[0]
    engine = db.make_engine(url)
    assert dump(engine) == before
    engine.dispose()


def test_a_whole_paged_answer_in_order_and_a_single_page_still_load(two_pages_stored, capsys):
    import procAmzData

    url, before = two_pages_stored
    assert procAmzData.main(["--input", *map(str, PAGES), "--db-url", url]) == 0
    assert capsys.readouterr().out == "10 rows stored for 4 days; 0 Cost Explorer request(s)\n"
    engine = db.make_engine(url)
    assert [r[:-1] for r in dump(engine)[0]] == [r[:-1] for r in before[0]]  # the same rows (fetched_at aside)
    engine.dispose()
    # a complete answer of one page, then one of two pages, in one run
    assert procAmzData.main(["--input", str(DATA / "linked_account.json"), *map(str, PAGES), "--db-url", url]) == 0
    assert capsys.readouterr().out == "14 rows stored for 6 days; 0 Cost Explorer request(s)\n"


def test_the_last_page_given_alone_adds_and_updates_but_never_removes_stored_rows(two_pages_stored, capsys):
    """A saved last page looks like a whole one-page answer (a response does not name its request): loading it
    alone must not replace the stored days it shares with page 1 (issue 10, item 8)."""
    import procAmzData

    url, before = two_pages_stored
    assert procAmzData.main(["--input", str(PAGES[-1]), "--db-url", url]) == 0, capsys.readouterr().err
    engine = db.make_engine(url)
    try:
        assert [r[:-1] for r in dump(engine)[0]] == [r[:-1] for r in before[0]]  # still all 10 rows, same amounts
    finally:
        engine.dispose()


# --- ce source that pages forever: one error line, nothing stored (procAmzData.py in-process) ----------------------

@pytest.mark.slow
@pytest.mark.parametrize(("fresh", "requests", "message"), [
    (False, 2, "Cost Explorer repeated a NextPageToken on page 2 of "),
    (True, 4, "still had more pages after 4 requests (USD 0.04, CE_MAX_PAGES=4): stopped"),
])
def test_a_cost_explorer_paging_forever_is_one_error_line_and_stores_nothing(db_url, capsys, tmp_path, monkeypatch,
                                                                           restore_logging, fresh, requests, message):
    import threading
    from http.server import ThreadingHTTPServer

    import procAmzData
    from tests.ce_fakes import Paging

    monkeypatch.chdir(tmp_path)
    assert procAmzData.main(["--input", *map(str, PAGES), "--db-url", db_url]) == 0
    engine = db.make_engine(db_url)
    before = dump(engine)
    handler = type("Handler", (Paging,), {"calls": 0, "fresh": fresh})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, value in {"AWS_ENDPOINT_URL_COST_EXPLORER": f"http://127.0.0.1:{server.server_address[1]}",
                        "CE_MAX_PAGES": "4", "LOOKBACK_DAYS": "30"}.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    try:
        code = procAmzData.main(["--source", "ce", "--db-url", db_url])
    finally:
        server.shutdown()
        server.server_close()
    out, err = capsys.readouterr()
    assert (code, out, handler.calls) == (1, "", requests)
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and message in lines[0], err
    assert dump(engine) == before
    engine.dispose()
    # each page after the first showed at INFO, the job's default level (cron logs included)
    assert f"Cost Explorer page {requests}:" in err


def test_settings_defaults_are_the_cost_explorer_bounds():
    from _util import costexplorer

    s = Settings()
    assert (s.ce_max_pages, s.ce_timeout_seconds, s.ce_max_attempts) == (
        costexplorer.CE_MAX_PAGES, costexplorer.CE_TIMEOUT_SECONDS, costexplorer.CE_MAX_ATTEMPTS)
