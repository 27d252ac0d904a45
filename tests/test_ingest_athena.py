"""COST_SOURCE=athena end to end: the days plan, the Glue columns, the SQL sent, the rows stored — the same as
COST_SOURCE=export (DuckDB) on the same generated export — failure and timeout, and the whole job on moto."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import date, timedelta
from decimal import Decimal

import boto3
import pandas as pd
import pytest
from sqlalchemy import select

from _util import athena, db, export_sql, exports
from _util.config import Settings
from _util.export_sql import ExportQuery
from _util.ingest import ingest
from tests.export_gen import columns as gen_columns
from tests.export_gen import write_export

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

CENT = Decimal("0.01")
RESULTS = "athena-results"
DATABASE, TABLE = "cost_exports", "focus"
START, D = date(2026, 10, 1), date(2026, 11, 20)  # the export's first day; the report date (its last day)
TODAY = D + timedelta(days=1)  # October final (15 days after its end), November Estimated


# ---- helpers --------------------------------------------------------------------------------------------------------


def stored(engine) -> dict[tuple[date, str, str], Decimal]:
    """Every daily_cost row as stored, to the cent."""
    with engine.connect() as conn:
        rows = conn.execute(select(db.daily_cost.c.usage_date, db.daily_cost.c.service, db.daily_cost.c.breakdown,
                                   db.daily_cost.c.amount)).all()
    return {(db._as_date(d), s, b): Decimal(a).quantize(CENT) for d, s, b, a in rows}


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10)


def _athena_type(t) -> tuple[str, int, int]:
    import pyarrow as pa

    if pa.types.is_decimal(t):
        return "decimal", t.precision, t.scale
    if pa.types.is_date(t):
        return "date", 0, 0
    if pa.types.is_integer(t):
        return "bigint", 19, 0
    return "varchar", 0, 0


def _text(value) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def queue_duckdb_answer(moto_url: str, export_root, table: str, sql: str) -> None:
    """Queue as moto's next Athena result what DuckDB answers for the same Trino text over the export's files
    (moto runs no SQL: this is the honest stand-in), typed as Athena reports its columns."""
    t = exports.open_export([export_root])
    try:
        t.con.execute(f"CREATE VIEW {table} AS SELECT * FROM cost_export")  # noqa: S608
        result = t.run_arrow(sql)
    finally:
        t.close()
    cols = [(f.name, *_athena_type(f.type)) for f in result.schema]
    info = [{"Name": n, "Label": n, "Type": k, "Precision": p, "Scale": s, "Nullable": "UNKNOWN",
             "CaseSensitive": True} for n, k, p, s in cols]
    rows = [{"Data": [{"VarCharValue": n} for n, *_ in cols]}]
    rows += [{"Data": [{} if v is None else {"VarCharValue": _text(v)} for v in r.values()]}
             for r in result.to_pylist()]
    _post(f"{moto_url}/moto-api/static/athena/query-results", {"results": [{"rows": rows, "column_info": info}]})


def answering_client(moto_url: str, export_root, sent: list[str]):
    """An Athena client on moto that, as each query starts, records its SQL and queues DuckDB's answer to it."""
    client = boto3.client("athena", region_name="us-east-1", endpoint_url=moto_url)

    def before_start(params, **_):
        sent.append(params["QueryString"])
        queue_duckdb_answer(moto_url, export_root, TABLE, params["QueryString"])

    client.meta.events.register("provide-client-params.athena.StartQueryExecution", before_start)
    return client


def glue_catalog(moto_url: str, fmt: str, focus_version: str = "1.2") -> list[str]:
    """The export's table in moto's Glue as docs/athena/*.sql creates it (names lower-cased, as Athena's DDL does;
    billing_period partition); returns its column names."""
    glue = boto3.client("glue", region_name="us-east-1", endpoint_url=moto_url)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    cols = [{"Name": n.lower(), "Type": t} for n, t in gen_columns(fmt, focus_version)]
    glue.create_table(DatabaseName=DATABASE, TableInput={
        "Name": TABLE, "PartitionKeys": [{"Name": "billing_period", "Type": "string"}],
        "StorageDescriptor": {"Columns": cols, "Location": "s3://bills/cost-export/data/"}})
    return [c["Name"] for c in cols]


@pytest.fixture
def moto_aws(moto_reset, monkeypatch):
    """moto (reset) as every boto3 client's endpoint, with the result bucket; query states immediate."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    boto3.client("s3", region_name="us-east-1", endpoint_url=moto_reset).create_bucket(Bucket=RESULTS)
    return moto_reset


def athena_settings(tmp_path, **kw) -> Settings:
    values = {"cost_source": "athena", "athena_database": DATABASE, "athena_table": TABLE,
              "athena_output_location": f"s3://{RESULTS}/q/", "report_date": D, "lookback_days": 50,
              "output_dir": tmp_path / "out-athena", **kw}
    return Settings(**values)


# ---- the same results as Athena on the same data ---------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "version", "group_by"), [
    ("focus", "1.2", "TAG:team"), ("focus", "1.0", "USAGE_TYPE"), ("focus", "1.2", "USAGE_TYPE"),
    ("cur2", "1.2", "LINKED_ACCOUNT")])
def test_athena_stores_what_the_export_source_stores_and_sends_daily_cost_sql(moto_aws, tmp_path, fmt, version,
                                                                              group_by, caplog):
    truth = write_export(tmp_path / "export", fmt, START, days=(D - START).days + 1, n_accounts=3, n_services=4,
                         n_series=24, rows_per_day=96, focus_version=version, seed=3)
    names = glue_catalog(moto_aws, fmt, version)
    sent: list[str] = []
    client = answering_client(moto_aws, truth.export_dir, sent)

    by_export = db.make_engine(f"sqlite:///{tmp_path / 'export.sqlite'}")
    db.init_db(by_export)
    ingest(Settings(cost_source="export", input_files=(truth.export_dir,), output_dir=tmp_path / "out-export",
                    report_date=D, lookback_days=50, group_by=group_by), by_export, today=TODAY)
    by_athena = db.make_engine(f"sqlite:///{tmp_path / 'athena.sqlite'}")
    db.init_db(by_athena)
    caplog.set_level("INFO")
    result = ingest(athena_settings(tmp_path, group_by=group_by), by_athena, client=client, today=TODAY)

    want = stored(by_export)
    assert want and stored(by_athena) == want  # every row, to the cent
    assert db.known_days(by_athena, START, D) == db.known_days(by_export, START, D)
    assert {b for _, _, b in want} != {""}  # the breakdown was read, not left empty
    # the SQL Athena ran is daily_cost_sql's Trino text over the table's Glue columns, pruned to the planned periods
    q = ExportQuery(fmt, START, D, "UnblendedCost", group_by, ("Credit", "Refund"), TABLE, frozenset(names),
                    "map", True, ("2026-10", "2026-11"))
    assert sent == [export_sql.daily_cost_sql(q)]
    assert "billing_period IN ('2026-10', '2026-11')" in sent[0]
    # the run's Athena usage: one query, its id and price in the log
    (query_id,) = result.athena.query_ids
    assert result.athena.queries == 1 and result.athena.cost_usd == athena.scan_cost_usd(0)
    assert any(query_id in r.getMessage() and "USD 0.000048" in r.getMessage() for r in caplog.records)
    if group_by == "LINKED_ACCOUNT":  # and both are the generator's own truth (summed from its arrays)
        d = truth.daily
        keep = ~(d["charge_category"].isin(["Credit", "Refund"]) | d["line_item_type"].isin(["Credit", "Refund"]))
        sums = d[keep].groupby(["usage_date", "service_code", "account"], observed=True)["billed"].sum()
        independent = {(pd.Timestamp(day).date(), str(s), str(a)): Decimal(str(v)) for (day, s, a), v in sums.items()}
        assert set(want) == set(independent)
        assert all(abs(want[k] - independent[k]) <= CENT for k in want)
    by_export.dispose()
    by_athena.dispose()


def test_a_rerun_with_every_day_final_sends_no_query(moto_aws, tmp_path, engine):
    end = date(2026, 11, 30)
    truth = write_export(tmp_path / "export", "focus", START, days=(end - START).days + 1, n_accounts=2,
                         n_services=3, n_series=8, rows_per_day=24)
    glue_catalog(moto_aws, "focus")
    sent: list[str] = []
    client = answering_client(moto_aws, truth.export_dir, sent)
    settings = athena_settings(tmp_path, report_date=end, lookback_days=60)
    first = ingest(settings, engine, client=client, today=date(2026, 12, 10))  # November still Estimated
    assert len(sent) == 1 and "billing_period IN ('2026-10', '2026-11')" in sent[0]
    assert (first.days, first.estimated_days) == (61, 30)
    again = ingest(settings, engine, client=client, today=date(2026, 12, 10))  # October final: not asked again
    assert len(sent) == 2 and "billing_period IN ('2026-11')" in sent[1] and again.days == 30
    final = ingest(settings, engine, client=client, today=date(2026, 12, 20))  # November final now
    assert len(sent) == 3 and (final.days, final.estimated_days) == (30, 0)
    rerun = ingest(settings, engine, client=client, today=date(2026, 12, 20))
    assert len(sent) == 3  # nothing missing, nothing Estimated: no query
    assert (rerun.rows, rerun.athena.queries, rerun.cost_usd) == (0, 0, Decimal(0))


# ---- failures (stand-ins: no server) --------------------------------------------------------------------------------------


class FakeGlue:
    def __init__(self, fmt: str = "focus"):
        self.fmt = fmt

    def get_table(self, **kwargs):
        cols = [{"Name": n.lower(), "Type": t} for n, t in gen_columns(self.fmt)]
        return {"Table": {"Name": kwargs["Name"], "StorageDescriptor": {"Columns": cols},
                          "PartitionKeys": [{"Name": "billing_period", "Type": "string"}]}}


class FakeAthena:
    """An Athena stand-in whose query ends in `state` (or never ends: RUNNING)."""

    def __init__(self, state: str, reason: str = ""):
        self.state, self.reason, self.calls = state, reason, []

    def start_query_execution(self, **kwargs):
        self.calls.append(("start", kwargs["QueryString"]))
        return {"QueryExecutionId": "7e57-q"}

    def get_query_execution(self, **kwargs):
        self.calls.append(("get", None))
        return {"QueryExecution": {"Status": {"State": self.state, "StateChangeReason": self.reason},
                                   "Statistics": {"DataScannedInBytes": 0}}}

    def stop_query_execution(self, **kwargs):
        self.calls.append(("stop", kwargs["QueryExecutionId"]))
        return {}


def _run_fetch(monkeypatch, tmp_path, client, capsys, *extra):
    import procAmzData

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(athena, "make_athena_client", lambda *a, **k: client)
    monkeypatch.setattr(athena, "make_glue_client", lambda *a, **k: FakeGlue())
    for name, value in (("ATHENA_DATABASE", DATABASE), ("ATHENA_TABLE", TABLE),
                        ("ATHENA_OUTPUT_LOCATION", f"s3://{RESULTS}/q/"), *extra):
        monkeypatch.setenv(name, value)
    code = procAmzData.main(["--source", "athena", "--date", D.isoformat(), "--db-url",
                             f"sqlite:///{tmp_path / 'f.sqlite'}"])
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_failed_query_is_one_line_with_its_id_and_reason_exit_1(monkeypatch, tmp_path, capsys, restore_logging):
    client = FakeAthena("FAILED", "COLUMN_NOT_FOUND: line 3:8: Column 'skumeter' cannot be resolved")
    code, err = _run_fetch(monkeypatch, tmp_path, client, capsys)
    assert code == 1
    (line,) = [x for x in err if x.startswith("error:")]
    assert line.startswith("error: Athena query 7e57-q FAILED: COLUMN_NOT_FOUND: line 3:8: Column 'skumeter'")


def test_a_query_past_its_timeout_is_stopped_and_said_cancelled(monkeypatch, tmp_path, capsys, restore_logging):
    clock = type("Clock", (), {"now": 100.0})()
    clock.monotonic = lambda: clock.now

    def sleep(s):
        clock.now += s

    clock.sleep = sleep
    monkeypatch.setattr(athena, "time", clock)
    client = FakeAthena("RUNNING")
    code, err = _run_fetch(monkeypatch, tmp_path, client, capsys, ("ATHENA_TIMEOUT_SECONDS", "30"))
    assert code == 1
    assert ("stop", "7e57-q") in client.calls
    (line,) = [x for x in err if x.startswith("error:")]
    assert re.match(r"error: Athena query 7e57-q cancelled after 30 s \(ATHENA_TIMEOUT_SECONDS=30\)", line)


def test_the_glue_columns_decide_the_format_and_a_missing_column_is_named(tmp_path):
    settings = athena_settings(tmp_path)
    cur = athena.glue_table(settings, glue_client=FakeGlue("cur2"))
    assert athena.daily_query(settings, cur, START, D).fmt == "cur2"  # EXPORT_FORMAT unset: told by the columns
    focus = athena.glue_table(settings, glue_client=FakeGlue("focus"))
    assert focus.partitioned and focus.tags == "map"
    without = athena.GlueTable(focus.name, {k: v for k, v in focus.columns.items() if k != "billedcost"},
                               focus.partition_keys)
    with pytest.raises(exports.ExportError, match="no BilledCost column"):
        athena.daily_query(settings, without, START, D)


# ---- the whole job ------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_whole_job_runs_on_athena_against_moto(moto_aws, isolated, quick_charts, monkeypatch, capsys):
    import runCostReporting

    truth = write_export(isolated / "export", "focus", START, days=(D - START).days + 1, n_accounts=2, n_services=4,
                         n_series=16, rows_per_day=48)
    glue_catalog(moto_aws, "focus")
    sent: list[str] = []
    client = answering_client(moto_aws, truth.export_dir, sent)
    monkeypatch.setattr(athena, "make_athena_client", lambda *a, **k: client)
    for name, value in (("ATHENA_DATABASE", DATABASE), ("ATHENA_TABLE", TABLE),
                        ("ATHENA_OUTPUT_LOCATION", f"s3://{RESULTS}/q/"), ("LOOKBACK_DAYS", "50")):
        monkeypatch.setenv(name, value)
    code = runCostReporting.main(["--source", "athena", "--date", D.isoformat(), "--dry-run"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((isolated / "output" / D.isoformat() / "report.json").read_text())
    alerts = [*report["spikes"], *report["trends"], *report["first_seen"]]
    # One daily query; the day's alerts add one drill-down query (every alerted service at once), answered too.
    assert alerts  # the generated world has alerts: the drill-down query is exercised
    assert report["report_date"] == D.isoformat() and len(sent) == 1 + bool(alerts)
    assert all(not a["root_cause_status"].startswith("unavailable") for a in alerts), alerts
    assert report["athena"]["queries"] == 1 and report["athena"]["cost_usd"] == round(float(athena.scan_cost_usd(0)), 6)
    assert report["ce_requests"] == 0
    d = truth.daily
    day_total = d[(d["usage_date"] == D) & ~d["charge_category"].isin(["Credit"])]["billed"].sum()
    (last,) = [x["cost"] for x in report["daily_totals"] if x["date"] == D.isoformat()]
    assert abs(last - day_total) < 0.01
