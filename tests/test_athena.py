"""Athena: the query protocol (start, poll, fail, cancel on timeout, read the result file) against moto's Athena and
S3 on loopback, exact request shapes with botocore Stubber, the price of a scan, the poll backoff, the daily-cost
rows, and the settings of COST_SOURCE=athena."""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import urllib.request
from datetime import date, datetime
from decimal import Decimal

import boto3
import pyarrow as pa
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from _util import athena
from _util.athena import (
    ATHENA_CONNECT_TIMEOUT_SECONDS,
    ATHENA_MAX_ATTEMPTS,
    ATHENA_READ_TIMEOUT_SECONDS,
    DAILY_COLUMNS,
    AthenaError,
    athena_daily_costs,
    daily_cost_table,
    make_athena_client,
    poll_delays,
    run_query,
    scan_cost_usd,
)
from _util.config import ConfigError, Settings, load_settings
from _util.deadline import RunTimeout
from tests.export_gen import columns as gen_columns

BUCKET = "athena-results"
SQL = "SELECT usage_date, service, breakdown, amount, currency, billing_period FROM focus WHERE 1 = 1"
COLUMNS = [("usage_date", "date", 0, 0), ("service", "varchar", 0, 0), ("breakdown", "varchar", 0, 0),
           ("amount", "decimal", 38, 10), ("amount_double", "double", 17, 0), ("currency", "varchar", 0, 0),
           ("billing_period", "varchar", 0, 0)]
# Values as Athena writes them: decimals in plain text, doubles in Trino's notation, NULL breakdown.
ROWS = [("2026-11-01", "Amazon Elastic Compute Cloud - Compute", "111122223333", "1234567.8912345678", "1.2345E2",
         "USD", "2026-11"),
        ("2026-11-01", "Amazon Simple Storage Service", None, "0.1000000000", "0.1", "USD", "2026-11"),
        ("2026-11-02", "Amazon Simple Storage Service", "", "0.2", "0.2", "USD", "2026-11"),
        ("2026-11-02", "Tax, VAT", "222233334444", "-0.01", "-0.01", "USD", "2026-11")]


# ---- moto helpers -------------------------------------------------------------------------------------------------


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10)


def queue_results(moto_url: str, rows, columns=COLUMNS) -> None:
    """Queue one result for moto's next query: a header row then `rows` (None = NULL), with the column types."""
    info = [{"Name": n, "Label": n, "Type": t, "Precision": p, "Scale": s, "Nullable": "UNKNOWN",
             "CaseSensitive": True} for n, t, p, s in columns]
    data = [{"Data": [{"VarCharValue": n} for n, *_ in columns]}]
    data += [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows]
    _post(f"{moto_url}/moto-api/static/athena/query-results", {"results": [{"rows": data, "column_info": info}]})


@pytest.fixture
def moto_athena(moto_reset):
    """(athena client, s3 client, base URL) on moto with the result bucket created; query states back to
    immediate afterwards."""
    athena_client = boto3.client("athena", region_name="us-east-1", endpoint_url=moto_reset)
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_reset)
    s3.create_bucket(Bucket=BUCKET)
    yield athena_client, s3, moto_reset
    _post(f"{moto_reset}/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})


def _hold_queries(moto_url: str) -> None:
    """Keep every query QUEUED (moto advances an execution only after this many polls)."""
    _post(f"{moto_url}/moto-api/state-manager/set-transition",
          {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 10 ** 9}})


def _results_calls(client) -> list[dict]:
    """Record the parameters of every GetQueryResults call the client makes."""
    calls: list[dict] = []
    client.meta.events.register("provide-client-params.athena.GetQueryResults",
                                lambda params, **_: calls.append(dict(params)))
    return calls


def _expected(rows) -> dict[tuple, Decimal]:
    """Exact amount per (day, service, breakdown) from the queued strings, independently of the reader."""
    return {(date.fromisoformat(r[0]), r[1], r[2] or ""): Decimal(r[3]) for r in rows}


# ---- start -> poll -> succeeded -> read -----------------------------------------------------------------------------


def test_succeeded_query_is_read_from_its_result_file_typed_to_the_cent(moto_athena, caplog):
    client, s3, _ = moto_athena
    queue_results(moto_athena[2], ROWS)
    calls = _results_calls(client)
    sent = []
    client.meta.events.register("before-call.athena.StartQueryExecution", lambda params, **_: sent.append(params))
    caplog.set_level("INFO", logger="_util.athena")
    result = run_query(client, SQL, database="cur", workgroup="primary", output_location=f"s3://{BUCKET}/q/",
                       timeout_seconds=10, poll_seconds=0.01, s3_client=s3)
    assert result.output_location == f"s3://{BUCKET}/q/{result.query_id}.csv"
    s3.head_object(Bucket=BUCKET, Key=f"q/{result.query_id}.csv")  # the file the rows came from
    assert calls == [{"QueryExecutionId": result.query_id, "MaxResults": 1}]  # metadata only; no row paging
    # botocore fills the idempotency token once per call: a retried start cannot run the query twice
    assert len(sent) == 1 and len(json.loads(sent[0]["body"])["ClientRequestToken"]) >= 32
    table = result.table
    assert table.column_names == [c[0] for c in COLUMNS]
    assert table.schema.field("amount").type == pa.decimal128(38, 10)
    assert table.schema.field("amount_double").type == pa.float64()
    assert table.schema.field("usage_date").type == pa.date32()
    got = table.to_pylist()
    assert [r["amount"] for r in got] == [Decimal(r[3]) for r in ROWS]  # exact, beyond the cent
    assert [r["amount_double"] for r in got] == [float(r[4]) for r in ROWS]
    assert [r["breakdown"] for r in got] == ["111122223333", None, "", "222233334444"]  # NULL vs ''
    assert got[3]["service"] == "Tax, VAT"
    assert sum(r["amount"] for r in got) == sum(Decimal(r[3]) for r in ROWS)
    assert result.rows == 4 and result.bytes_scanned == 0 and result.cost_usd == scan_cost_usd(0)
    line = next(r.getMessage() for r in caplog.records if "SUCCEEDED" in r.getMessage())
    assert result.query_id in line and "scanned 0 B (USD 0.000048)" in line and "4 rows" in line


def test_result_file_with_athenas_quoting_escapes_and_nulls_is_read_exactly():
    # As Athena writes it (RFC 4180): quotes doubled, a newline inside a value, NULL unquoted-empty, '' quoted-empty.
    # (moto's own file does not double quotes, so this one is given to a stubbed S3.)
    data = (b'"service","breakdown","amount","ts"\n'
            b'"Tax, ""quoted""","line\nbreak","-0.01","2026-11-01 00:00:00.000"\n'
            b'"S3",,"0.10",\n'
            b'"S3","","1E+1","2026-11-02 13:14:15.678"\n')
    s3 = boto3.client("s3", region_name="us-east-1")
    types = {"service": pa.string(), "breakdown": pa.string(), "amount": pa.decimal128(12, 2),
             "ts": pa.timestamp("ms")}
    with Stubber(s3) as stub:
        stub.add_response("get_object", {"Body": _body(data)}, {"Bucket": "b", "Key": "p/q.csv"})
        table = athena.read_result_csv(s3, "s3://b/p/q.csv", types)
    assert table.to_pylist() == [
        {"service": 'Tax, "quoted"', "breakdown": "line\nbreak", "amount": Decimal("-0.01"),
         "ts": datetime(2026, 11, 1)},
        {"service": "S3", "breakdown": None, "amount": Decimal("0.10"), "ts": None},
        {"service": "S3", "breakdown": "", "amount": Decimal("10.00"), "ts": datetime(2026, 11, 2, 13, 14, 15, 678000)}]


@pytest.mark.parametrize("data", [b"", b'"n","amount"\n'])
def test_a_bare_or_header_only_result_file_is_an_empty_typed_table(data):
    s3 = boto3.client("s3", region_name="us-east-1")
    types = {"n": pa.int64(), "amount": pa.decimal128(12, 2)}
    with Stubber(s3) as stub:
        stub.add_response("get_object", {"Body": _body(data)}, {"Bucket": "b", "Key": "q.csv"})
        table = athena.read_result_csv(s3, "s3://b/q.csv", types)
    assert table.num_rows == 0 and table.schema == pa.schema(types)


def test_an_unparseable_result_file_is_one_line_naming_it():
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("get_object", {"Body": _body(b'"amount"\n"12.3.4"\n')}, {"Bucket": "b", "Key": "q.csv"})
        with pytest.raises(AthenaError, match=r"^result file s3://b/q.csv does not parse: .*12\.3\.4"):
            athena.read_result_csv(s3, "s3://b/q.csv", {"amount": pa.decimal128(12, 2)})


def test_without_result_file_rows_are_paged_through_get_query_results_typed_alike(moto_athena):
    client, s3, _ = moto_athena
    queue_results(moto_athena[2], ROWS)
    calls = _results_calls(client)
    result = run_query(client, SQL, database="cur", workgroup="primary", output_location=None,
                       timeout_seconds=10, poll_seconds=0.01, s3_client=s3)
    assert result.output_location is None
    assert [c["MaxResults"] for c in calls] == [1000]  # one bounded page: moto has no NextToken
    assert result.table.schema.field("amount").type == pa.decimal128(38, 10)
    assert result.table.column("amount").to_pylist() == [Decimal(r[3]) for r in ROWS]
    assert result.table.column("breakdown").to_pylist() == ["111122223333", None, "", "222233334444"]


def test_paging_fallback_stops_at_its_page_bound(monkeypatch):
    class Endless:
        def get_query_results(self, **kwargs):
            return {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "1"}]}],
                                  "ResultSetMetadata": {"ColumnInfo": [{"Name": "n", "Type": "bigint"}]}},
                    "NextToken": "more"}

    monkeypatch.setattr(athena, "ATHENA_FALLBACK_MAX_PAGES", 3)
    with pytest.raises(AthenaError, match="more than 3000 rows and no result file: set ATHENA_OUTPUT_LOCATION"):
        athena._page_results(Endless(), "q-1")


def test_missing_result_file_is_one_line_with_the_query_id(moto_athena):
    client, s3, _ = moto_athena
    queue_results(moto_athena[2], ROWS)
    with pytest.raises(AthenaError) as err:
        run_query(client, SQL, database="cur", workgroup="primary", output_location="s3://no-such-bucket/q/",
                  timeout_seconds=10, poll_seconds=0.01, s3_client=s3)
    text = str(err.value)
    assert re.fullmatch(r"Athena query [0-9a-f-]{36}: cannot read its result s3://no-such-bucket/q/[0-9a-f-]{36}"
                        r"\.csv: NoSuchBucket: .*", text)
    assert "\n" not in text


def test_empty_result_keeps_the_columns_and_types(moto_athena):
    client, s3, _ = moto_athena
    queue_results(moto_athena[2], [])
    result = run_query(client, SQL, database="cur", workgroup="primary", output_location=f"s3://{BUCKET}/q",
                       timeout_seconds=10, poll_seconds=0.01, s3_client=s3)
    assert result.rows == 0
    assert result.table.schema.field("amount").type == pa.decimal128(38, 10)


# ---- failed, cancelled, timed out -----------------------------------------------------------------------------------


def _execution(state: str, **status) -> dict:
    return {"QueryExecution": {"QueryExecutionId": "q-1", "Status": {"State": state, **status},
                               "Statistics": {"DataScannedInBytes": 5 * 1024 ** 3,
                                              "EngineExecutionTimeInMillis": 1200}}}


@pytest.mark.parametrize("state, status, said", [
    ("FAILED", {"StateChangeReason": "COLUMN_NOT_FOUND: line 1:8: Column 'x'\ncannot be resolved",
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006,
                                "ErrorMessage": "Query exhausted resources at this scale factor"}},
     "Athena query q-1 FAILED: COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved — Query exhausted "
     "resources at this scale factor"),
    ("FAILED", {"AthenaError": {"ErrorMessage": "Access denied when writing output to url: s3://r/"}},
     "Athena query q-1 FAILED: Access denied when writing output to url: s3://r/"),
    ("CANCELLED", {"StateChangeReason": "Query cancelled by user"},
     "Athena query q-1 CANCELLED: Query cancelled by user"),
])
def test_failed_or_cancelled_query_is_one_line_with_id_and_reason(state, status, said):
    client = make_athena_client()
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", _execution(state, **status), {"QueryExecutionId": "q-1"})
        with pytest.raises(AthenaError) as err:
            run_query(client, SQL, database="cur", workgroup="primary", output_location=None, timeout_seconds=10)
        stub.assert_no_pending_responses()
    assert str(err.value) == said


def test_start_refused_names_workgroup_and_database():
    client = make_athena_client()
    with Stubber(client) as stub:
        stub.add_client_error("start_query_execution", "InvalidRequestException",
                              "line 1:1: Schema 'nope' does not exist", http_status_code=400)
        with pytest.raises(AthenaError, match=r"^Athena could not start the query \(workgroup wg, database nope\): "
                                              r"InvalidRequestException: line 1:1: Schema 'nope' does not exist$"):
            run_query(client, SQL, database="nope", workgroup="wg", output_location=None, timeout_seconds=10)


def test_losing_sight_of_a_running_query_stops_it_and_says_so():
    client = make_athena_client()
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_client_error("get_query_execution", "ThrottlingException", "Rate exceeded", http_status_code=400)
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
        with pytest.raises(AthenaError, match=r"^Athena query q-1: cannot follow it \(ThrottlingException: Rate "
                                              r"exceeded\); stopped$"):
            run_query(client, SQL, database="cur", workgroup="primary", output_location=None, timeout_seconds=10)
        stub.assert_no_pending_responses()


def test_timeout_stops_the_query_and_it_shows_cancelled(moto_athena):
    client, s3, url = moto_athena
    _hold_queries(url)
    with pytest.raises(AthenaError) as err:
        run_query(client, SQL, database="cur", workgroup="primary", output_location=f"s3://{BUCKET}/q/",
                  timeout_seconds=0.3, poll_seconds=0.05, s3_client=s3)
    (query_id,) = client.list_query_executions()["QueryExecutionIds"]
    assert str(err.value) == f"Athena query {query_id} cancelled after 0 s (ATHENA_TIMEOUT_SECONDS=0.3)"
    assert client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_the_runs_deadline_cuts_the_wait_short_and_says_so(moto_athena):
    client, s3, url = moto_athena
    _hold_queries(url)
    with pytest.raises(AthenaError, match=r"cancelled after 0 s \(the run's deadline \(RUN_TIMEOUT_SECONDS\)"):
        run_query(client, SQL, database="cur", workgroup="primary", output_location=f"s3://{BUCKET}/q/",
                  timeout_seconds=600, poll_seconds=0.05, s3_client=s3, deadline=athena.time.monotonic() + 0.2)
    (query_id,) = client.list_query_executions()["QueryExecutionIds"]
    assert client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "CANCELLED"


class Running:
    """An Athena stand-in whose query never ends; records the calls."""

    def __init__(self):
        self.calls: list[str] = []

    def start_query_execution(self, **kwargs):
        self.calls.append("start")
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, **kwargs):
        self.calls.append("get")
        return {"QueryExecution": {"Status": {"State": "RUNNING"}}}

    def stop_query_execution(self, **kwargs):
        self.calls.append("stop")
        return {}


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_backoff_doubles_is_capped_and_never_sleeps_past_the_timeout(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(athena, "time", clock)
    client = Running()
    with pytest.raises(AthenaError, match="cancelled after 20 s"):
        run_query(client, SQL, database="cur", workgroup="primary", output_location=None, timeout_seconds=20,
                  poll_seconds=0.5)
    assert max(clock.sleeps) <= athena.POLL_CAP_SECONDS
    assert clock.sleeps[:4] == [0.5, 1.0, 2.0, 4.0]  # doubling from poll_seconds
    assert sum(clock.sleeps) == pytest.approx(20)  # the last sleep is cut to the time left
    assert client.calls == ["start"] + ["get"] * (len(clock.sleeps) + 1) + ["stop"]


@given(first=st.floats(0.01, 10), cap=st.floats(0.01, 60))
def test_poll_delays_are_bounded_and_non_decreasing(first, cap):
    delays = list(itertools.islice(poll_delays(first, cap), 30))
    assert delays[0] == first
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert all(d <= max(first, cap) for d in delays)


@pytest.mark.parametrize("interrupt", [RunTimeout("run timed out after 1800 s in stage ingest"), KeyboardInterrupt()])
def test_run_deadline_or_ctrl_c_while_waiting_stops_the_query_first(monkeypatch, interrupt):
    def sleep(seconds):
        raise interrupt

    monkeypatch.setattr(athena.time, "sleep", sleep)
    client = Running()
    with pytest.raises(type(interrupt)):
        run_query(client, SQL, database="cur", workgroup="primary", output_location=None, timeout_seconds=60)
    assert client.calls == ["start", "get", "stop"]


# ---- request shapes (what moto cannot show) --------------------------------------------------------------------------


def _body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.mark.parametrize("output_location", ["s3://mine/athena/", None])
def test_request_shapes_and_the_workgroups_result_location_is_read(output_location):
    client, s3 = make_athena_client(), boto3.client("s3", region_name="us-east-1")
    enforced = "s3://wg-results/enforced/q-1.csv"  # the workgroup's location wins when it enforces its own
    start = {"QueryString": SQL, "QueryExecutionContext": {"Database": "cur_db"}, "WorkGroup": "cost-watch"}
    if output_location:
        start["ResultConfiguration"] = {"OutputLocation": output_location}
    finished = _execution("SUCCEEDED")
    finished["QueryExecution"]["ResultConfiguration"] = {"OutputLocation": enforced}
    metadata = {"ResultSet": {"Rows": [], "ResultSetMetadata": {"ColumnInfo": [
        {"Name": "service", "Type": "varchar"}, {"Name": "amount", "Type": "decimal", "Precision": 20, "Scale": 2}]}}}
    with Stubber(client) as stub, Stubber(s3) as s3_stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"}, start)
        stub.add_response("get_query_execution", finished, {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_results", metadata, {"QueryExecutionId": "q-1", "MaxResults": 1})
        s3_stub.add_response("get_object", {"Body": _body(b'"service","amount"\n"AWS Lambda","12.34"\n')},
                             {"Bucket": "wg-results", "Key": "enforced/q-1.csv"})
        result = run_query(client, SQL, database="cur_db", workgroup="cost-watch", output_location=output_location,
                           timeout_seconds=10, s3_client=s3)
        stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
    assert result.table.to_pylist() == [{"service": "AWS Lambda", "amount": Decimal("12.34")}]
    assert (result.bytes_scanned, result.engine_seconds, result.output_location) == (5 * 1024 ** 3, 1.2, enforced)
    assert result.cost_usd == Decimal(5) * 5 / 1024  # 5 GB of a TB at USD 5


def test_make_athena_client_uses_bounded_botocore_retries_and_timeouts():
    client = make_athena_client()
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": ATHENA_MAX_ATTEMPTS}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (
        ATHENA_CONNECT_TIMEOUT_SECONDS, ATHENA_READ_TIMEOUT_SECONDS)
    assert make_athena_client("standard", 3).meta.config.retries == {"mode": "standard", "total_max_attempts": 3}


# ---- price ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scanned, usd", [
    (0, Decimal(5) * 10 / 1024 ** 2),                        # nothing scanned still pays the 10 MB minimum
    (10 * 1024 ** 2, Decimal(5) * 10 / 1024 ** 2),
    (10 * 1024 ** 2 + 1, Decimal(5) * 11 / 1024 ** 2),       # rounded up to the next MB
    (1024 ** 4, Decimal("5.00")),                            # 1 TB = USD 5
    (3 * 1024 ** 4 + 512 * 1024 ** 3, Decimal("17.50")),
])
def test_scan_price(scanned, usd):
    assert scan_cost_usd(scanned) == usd


def test_a_reused_result_costs_nothing():
    assert scan_cost_usd(1024 ** 4, reused=True) == 0


@given(st.integers(0, 2 ** 50))
def test_scan_price_is_whole_mb_at_least_ten_and_never_below_the_bytes_price(scanned):
    usd = scan_cost_usd(scanned)
    mb = usd * 1024 ** 2 / 5
    assert mb == mb.to_integral_value() and mb >= 10
    assert usd >= Decimal(scanned) * 5 / 1024 ** 4
    assert mb - 1 < max(math.ceil(scanned / 1024 ** 2), 10) + 1e-9  # not more than one MB above the bytes
    assert scan_cost_usd(scanned + 1) >= usd


# ---- the daily costs ----------------------------------------------------------------------------------------------------


def _settings(**kw) -> Settings:
    values = {"cost_source": "athena", "athena_database": "cur_db", "athena_table": "focus",
              "athena_output_location": f"s3://{BUCKET}/daily/", **kw}
    return Settings(**values)


def test_athena_daily_costs_returns_the_daily_rows_to_the_cent(moto_athena):
    client, s3, url = moto_athena
    queue_results(url, ROWS)
    table = athena_daily_costs(_settings(), SQL, client=client, s3_client=s3)
    assert tuple(table.column_names) == DAILY_COLUMNS
    assert table.schema.field("usage_date").type == pa.date32()
    assert table.schema.field("amount").type == pa.decimal128(38, 10)
    got = {(r["usage_date"], r["service"], r["breakdown"]): r["amount"] for r in table.to_pylist()}
    assert got == _expected(ROWS)
    assert set(table.column("currency").to_pylist()) == {"USD"}
    assert set(table.column("provider").to_pylist()) == {""}  # no provider column: "" (one provider)
    meta = table.schema.metadata
    (query_id,) = client.list_query_executions()["QueryExecutionIds"]
    assert meta[b"athena_query_id"].decode() == query_id
    assert Decimal(meta[b"athena_cost_usd"].decode()) == scan_cost_usd(0)
    execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["QueryExecutionContext"] == {"Database": "cur_db"}
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://{BUCKET}/daily/{query_id}.csv"


def test_daily_cost_table_normalises_types_and_optional_columns():
    table = pa.table({"USAGE_DATE": pa.array([pa.scalar(1_700_000_000, pa.timestamp("s"))]),
                      "service": ["AWS Lambda"], "amount": ["1.25"], "unit": ["EUR"],
                      "provider": pa.array([None], pa.string())})
    out = daily_cost_table(table)
    assert out.to_pylist() == [{"usage_date": date(2023, 11, 14), "provider": "", "service": "AWS Lambda",
                                "breakdown": "", "currency": "EUR", "amount": 1.25}]


@pytest.mark.parametrize("columns, said", [
    ({"usage_date": ["2026-11-01"], "service": ["S3"]}, "returned no amount, currency column(s)"),
    ({"usage_date": [None], "service": ["S3"], "amount": [1.0], "unit": ["USD"]}, "1 row(s) with a NULL usage_date"),
])
def test_daily_cost_table_refuses_rows_it_cannot_store(columns, said):
    with pytest.raises(AthenaError, match=re.escape(said)):
        daily_cost_table(pa.table(columns))


# ---- pre-flight --------------------------------------------------------------------------------------------------------


@pytest.fixture
def catalog(moto_athena):
    """A workgroup with a result location and a 10 GB scan limit, and the export's table in Glue, on moto."""
    client, _, url = moto_athena
    glue = boto3.client("glue", region_name="us-east-1", endpoint_url=url)
    glue.create_database(DatabaseInput={"Name": "cur_db"})
    glue.create_table(DatabaseName="cur_db", TableInput={
        "Name": "focus", "PartitionKeys": [{"Name": "billing_period", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": n.lower(), "Type": t} for n, t in gen_columns("focus")]}})
    client.create_work_group(Name="cost-watch", Configuration={
        "ResultConfiguration": {"OutputLocation": "s3://wg-results/athena/"}, "EnforceWorkGroupConfiguration": True,
        "BytesScannedCutoffPerQuery": 10 * 1024 ** 3})
    return client, glue


def test_preflight_finds_the_workgroup_its_results_and_scan_limit_and_the_table(catalog):
    from _util.preflight import check_athena

    client, glue = catalog
    settings = _settings(athena_workgroup="cost-watch")
    (check,) = check_athena(settings, client=client, glue_client=glue)
    # the workgroup enforces its own location: that one is used, not ATHENA_OUTPUT_LOCATION
    assert check.line() == ("check athena: ok (workgroup cost-watch: results s3://wg-results/athena/, scan limit "
                            "10 GB/query; table cur_db.focus: 60 columns, partitioned by billing_period)")


@pytest.mark.parametrize("overrides, said", [
    ({"athena_workgroup": "primary", "athena_output_location": ""},
     "workgroup primary has no result location: set ATHENA_OUTPUT_LOCATION"),
    ({"athena_workgroup": "nope"}, "workgroup nope: LookupError: no such workgroup"),
    ({"athena_workgroup": "cost-watch", "athena_table": "cur2"}, "table cur_db.cur2: EntityNotFoundException"),
])
def test_preflight_fails_naming_what_is_missing(catalog, overrides, said):
    from _util.preflight import FAILED, check_athena

    client, glue = catalog
    (check,) = check_athena(_settings(**overrides), client=client, glue_client=glue)
    assert check.status == FAILED and said in check.detail


def test_preflight_names_a_column_the_daily_query_needs_and_the_table_lacks(catalog):
    from _util.preflight import FAILED, check_athena

    client, glue = catalog
    glue.update_table(DatabaseName="cur_db", TableInput={
        "Name": "focus", "PartitionKeys": [{"Name": "billing_period", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": n.lower(), "Type": t} for n, t in gen_columns("focus")
                                          if n != "EffectiveCost"]}})
    (check,) = check_athena(_settings(athena_workgroup="cost-watch", cost_metric="AmortizedCost"), client=client,
                            glue_client=glue)
    assert check.status == FAILED and "table cur_db.focus: the export has no EffectiveCost column" in check.detail


def test_preflight_has_no_athena_line_for_other_sources():
    from _util.preflight import check_athena

    assert check_athena(Settings(cost_source="ce")) == []


# ---- settings ------------------------------------------------------------------------------------------------------------


def test_athena_settings_are_read_and_the_workgroup_defaults_to_primary():
    s = load_settings(environ={"COST_SOURCE": "athena", "ATHENA_DATABASE": "cur_db", "ATHENA_TABLE": "focus_1_2",
                               "ATHENA_OUTPUT_LOCATION": "s3://my-results/athena/", "ATHENA_TIMEOUT_SECONDS": "120"},
                      env_file=None)
    assert (s.cost_source, s.athena_database, s.athena_table, s.athena_workgroup, s.athena_output_location,
            s.athena_timeout_seconds) == ("athena", "cur_db", "focus_1_2", "primary", "s3://my-results/athena/", 120)
    assert Settings().athena_timeout_seconds == 600


@pytest.mark.parametrize("env, said", [
    ({"ATHENA_TABLE": "focus"}, "COST_SOURCE=athena needs ATHENA_DATABASE"),
    ({"ATHENA_DATABASE": "cur"}, "COST_SOURCE=athena needs ATHENA_TABLE"),
    ({"ATHENA_DATABASE": "cur", "ATHENA_TABLE": "focus", "ATHENA_WORKGROUP": " "}, "needs ATHENA_WORKGROUP"),
    ({"ATHENA_DATABASE": "cur", "ATHENA_TABLE": 'focus"; DROP TABLE x; --'}, "ATHENA_TABLE must be a name"),
    ({"ATHENA_DATABASE": "cur", "ATHENA_TABLE": "t", "ATHENA_OUTPUT_LOCATION": "https://b/x"},
     "ATHENA_OUTPUT_LOCATION must be an s3://bucket/prefix/ URL"),
    ({"ATHENA_DATABASE": "cur", "ATHENA_TABLE": "t", "ATHENA_OUTPUT_LOCATION": "s3://"}, "ATHENA_OUTPUT_LOCATION"),
    ({"ATHENA_DATABASE": "cur", "ATHENA_TABLE": "t", "ATHENA_TIMEOUT_SECONDS": "0"}, "ATHENA_TIMEOUT_SECONDS"),
])
def test_athena_settings_fail_fast_naming_the_setting(env, said):
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_settings(environ={"COST_SOURCE": "athena", **env})


def test_athena_settings_are_not_required_by_other_sources():
    assert load_settings(environ={"COST_SOURCE": "ce"}, env_file=None).athena_database == ""
