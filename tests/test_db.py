"""Storage: tables, exact amounts, names stored as given, batched upserts in one transaction (SQLite and MariaDB)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from _util import db, model
from _util.model import CostRow

ROOT = Path(__file__).resolve().parents[1]

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
T1 = datetime(2026, 11, 4, 6, 0, 0)
T2 = datetime(2026, 11, 5, 6, 0, 0)


def table(engine, tbl=db.daily_cost, *, without=()) -> list[tuple]:
    """Every row of tbl, ordered by its key, optionally without some columns."""
    cols = [c for c in tbl.columns if c.name not in without]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(*tbl.primary_key.columns)).all()]


def row(day, service, amount, breakdown="", estimated=False, unit="USD") -> CostRow:
    return CostRow(day, service, breakdown, Decimal(amount), unit, estimated)


def stored_amounts(engine) -> dict[tuple[date, str, str], Decimal]:
    with engine.connect() as conn:
        rows = conn.execute(select(db.daily_cost.c.usage_date, db.daily_cost.c.service, db.daily_cost.c.breakdown,
                                   db.daily_cost.c.amount)).all()
    return {(db._as_date(d), s, b): Decimal(a) for d, s, b, a in rows}


# --- engine and tables ----------------------------------------------------------------------------

def test_make_engine_creates_the_sqlite_folder_and_init_db_the_tables(tmp_path):
    path = tmp_path / "deep" / "er" / "costs.sqlite"
    eng = db.make_engine(f"sqlite:///{path}")
    db.init_db(eng)
    db.init_db(eng)  # a second time is harmless
    assert path.is_file()
    assert {"daily_cost", "cost_day", "slack_post", "run"} <= set(inspect(eng).get_table_names())
    assert inspect(eng).get_pk_constraint("daily_cost")["constrained_columns"] == ["usage_date", "service",
                                                                                    "breakdown"]
    eng.dispose()


def test_init_db_unreachable_mysql_names_the_url_without_the_password():
    eng = db.make_engine("mysql+pymysql://cost:s3cretpw@127.0.0.1:1/costs", connect_timeout=2)
    with pytest.raises(db.DatabaseError) as err:
        db.init_db(eng)
    assert "cannot use database mysql+pymysql://cost:***@127.0.0.1:1/costs" in str(err.value)
    assert "s3cretpw" not in str(err.value)


# --- exact storage -----------------------------------------------------------------------------------

AMOUNTS = ["0.0000000001", "-0.0000000001", "-3.2100000000", "412.3456789012", "73.9999999999",
           "98765.4321098765", "856589.3443818037", "0", "12345678.9"]


def test_negative_and_ten_decimal_amounts_round_trip_exactly(engine):
    rows = [row(D1, f"service {i}", a) for i, a in enumerate(AMOUNTS)]
    db.store_costs(engine, rows, {D1: False})
    assert stored_amounts(engine) == {(D1, f"service {i}", ""): Decimal(a) for i, a in enumerate(AMOUNTS)}


NAMES = [
    "Amazon Elastic Compute Cloud - Compute",
    "Savings Plans for AWS Compute usage",
    "Compute & Storage / Backup",
    "AT&T/Peering",
    'Service "quoted" and \'single\' and `back`',
    "Überwachung – Datenschutz ✓ 日本語 🚀",
    "amazon elastic compute cloud - compute",  # differs from the first only in case
    "percent % underscore _ backslash \\ semicolon ;",
    "x" * 255,
    "🚀" * 255,  # 255 characters of 4 bytes each
]


def test_service_and_breakdown_names_are_stored_exactly(engine):
    rows = [row(D1, name, str(i + 1), breakdown=name[::-1]) for i, name in enumerate(NAMES)]
    db.store_costs(engine, rows, {D1: False})
    assert stored_amounts(engine) == {(D1, n, n[::-1]): Decimal(i + 1) for i, n in enumerate(NAMES)}
    frame = db.load_costs(engine, D1, D1)
    assert sorted(frame["service"]) == sorted(NAMES)


def test_names_differing_only_by_trailing_space_stay_distinct(engine):
    # Tag values such as "team$web " do occur; a PAD SPACE collation would merge them into one key.
    db.store_costs(engine, [row(D1, "AWS Lambda", "1", "team$web"), row(D1, "AWS Lambda", "2", "team$web ")],
                   {D1: False})
    assert stored_amounts(engine) == {(D1, "AWS Lambda", "team$web"): Decimal(1),
                                      (D1, "AWS Lambda", "team$web "): Decimal(2)}


# --- upsert -----------------------------------------------------------------------------------------

def test_same_rows_twice_leave_an_identical_table(engine):
    rows = [row(D1, "A", "1.1"), row(D1, "B", "-2.2", "111111111111"), row(D2, "A", "3.3", estimated=True)]
    db.store_costs(engine, rows, {D1: False, D2: True}, fetched_at=T1)
    first = table(engine, without=("fetched_at",))
    first_days = table(engine, db.cost_day, without=("fetched_at",))
    assert db.store_costs(engine, rows, {D1: False, D2: True}, fetched_at=T2) == 3
    assert table(engine, without=("fetched_at",)) == first
    assert table(engine, db.cost_day, without=("fetched_at",)) == first_days
    assert {r[-1] for r in table(engine)} == {T2}


def test_revised_estimated_day_is_replaced(engine):
    db.store_costs(engine, [row(D1, "A", "1"), row(D2, "A", "5.5", estimated=True),
                            row(D2, "Gone", "7", estimated=True)], {D1: False, D2: True}, fetched_at=T1)
    # The revision lists D2 only: A changed, "Gone" vanished, D1 untouched.
    db.store_costs(engine, [row(D2, "A", "6.0000000001")], {D2: False}, fetched_at=T2)
    assert stored_amounts(engine) == {(D1, "A", ""): Decimal(1), (D2, "A", ""): Decimal("6.0000000001")}
    assert db.known_days(engine, D1, D3) == {D1: False, D2: False}
    frame = db.load_costs(engine, D1, D3)
    assert list(zip(frame["service"], frame["estimated"], strict=True)) == [("A", False), ("A", False)]


def test_revised_day_stored_within_the_same_second_drops_vanished_rows(engine):
    """Two runs in the same second (a quick re-run; utcnow() has 1 s resolution) share fetched_at."""
    db.store_costs(engine, [row(D2, "A", "5.5", estimated=True), row(D2, "Gone", "7", estimated=True)], {D2: True},
                   fetched_at=T1)
    db.store_costs(engine, [row(D2, "A", "6")], {D2: False}, fetched_at=T1)
    assert stored_amounts(engine) == {(D2, "A", ""): Decimal(6)}


def test_a_day_listed_without_rows_clears_that_day(engine):
    db.store_costs(engine, [row(D1, "A", "1", estimated=True)], {D1: True}, fetched_at=T1)
    db.store_costs(engine, [], {D1: False}, fetched_at=T2)
    assert stored_amounts(engine) == {}
    assert db.known_days(engine, D1, D1) == {D1: False}


def test_many_rows_in_several_batches(engine):
    rows = [row(D1 + timedelta(days=i % 7), f"service {i:04d}", f"{i}.{i:010d}") for i in range(2500)]
    days = {D1 + timedelta(days=i): False for i in range(7)}
    assert db.store_costs(engine, rows, days, batch=1000) == 2500
    assert stored_amounts(engine) == {(r.usage_date, r.service, ""): r.amount for r in rows}


# --- column-wise rows (the export source at scale) -----------------------------------------------------

def columns(rows: list[CostRow]) -> model.CostColumns:
    """CostRows as CostColumns (amount as the plain exact text the export source makes)."""
    import pyarrow as pa

    return model.CostColumns(pa.table({
        "usage_date": pa.array([r.usage_date for r in rows], pa.date32()),
        "service": [r.service for r in rows], "breakdown": [r.breakdown for r in rows],
        "amount": [format(r.amount, "f") for r in rows], "estimated": [r.estimated for r in rows]}),
        rows[0].unit if rows else "USD")


def test_column_wise_rows_are_stored_exactly_as_cost_rows_are(engine):
    names = [(n, n[::-1]) for n in NAMES] + [(f"service {i}", "") for i in range(len(AMOUNTS))]
    amounts = AMOUNTS + [str(i) + ".5" for i in range(len(NAMES))]
    given = [row(D1, s, a, breakdown=b, estimated=i % 2 == 1)
             for i, ((s, b), a) in enumerate(zip(names, amounts, strict=True))]
    again = [CostRow(D2, r.service, r.breakdown, r.amount, r.unit, r.estimated) for r in given]
    db.store_costs(engine, given, {D1: False}, fetched_at=T1)
    assert db.store_costs(engine, columns(sorted(again, key=lambda r: (r.service, r.breakdown))), {D2: False},
                          fetched_at=T1) == len(given)
    stored = table(engine)
    by_day = {day: sorted(r[1:] for r in stored if db._as_date(r[0]) == day) for day in (D1, D2)}
    assert by_day[D1] == by_day[D2]  # every column as the database holds it: amount text/decimal, flags, times
    assert len(by_day[D2]) == len(given)


def test_column_wise_rows_upsert_and_replace_like_cost_rows(engine):
    db.store_costs(engine, columns([row(D1, "A", "1"), row(D1, "B", "2"), row(D2, "A", "5")]),
                   {D1: True, D2: False}, fetched_at=T1)
    # merged (replace nothing): A updated, B kept
    db.store_costs(engine, columns([row(D1, "A", "3.0000000001")]), {D1: True}, replace=(), fetched_at=T2)
    assert stored_amounts(engine) == {(D1, "A", ""): Decimal("3.0000000001"), (D1, "B", ""): Decimal(2),
                                      (D2, "A", ""): Decimal(5)}
    # replaced whole (the default): B, no longer listed, goes; D2 untouched
    db.store_costs(engine, columns([row(D1, "A", "4")]), {D1: False}, fetched_at=T2)
    assert stored_amounts(engine) == {(D1, "A", ""): Decimal(4), (D2, "A", ""): Decimal(5)}
    assert db.known_days(engine, D1, D2) == {D1: False, D2: False}


# --- a failure mid-store changes nothing ---------------------------------------------------------------

@pytest.fixture
def stored(engine):
    db.store_costs(engine, [row(D1, "A", "1.5"), row(D1, "B", "-0.25"), row(D2, "A", "2", estimated=True)],
                   {D1: False, D2: True}, fetched_at=T1)
    return table(engine), table(engine, db.cost_day)


def test_constraint_violation_in_a_later_batch_leaves_the_previous_data(engine, stored):
    revised = [row(D2, "A", "3"), row(D2, "B", "4"), row(D3, "A", "5"),
               CostRow(D3, "C", "", None, "USD", False)]  # amount NULL violates NOT NULL in the 2nd batch
    with pytest.raises(SQLAlchemyError):
        db.store_costs(engine, revised, {D2: False, D3: False}, fetched_at=T2, batch=2)
    assert (table(engine), table(engine, db.cost_day)) == stored


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
def test_failure_at_any_statement_leaves_the_previous_data(engine, stored, fail_at):
    """Raise on the n-th statement sent to the database (batch=2: the delete, 2 upsert batches, cost_day)."""
    calls = {"n": 0}

    def failing(conn, cursor, statement, parameters, context, executemany):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", failing)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            db.store_costs(engine, [row(D2, "A", "3"), row(D2, "B", "4"), row(D3, "A", "5")],
                           {D2: False, D3: False}, fetched_at=T2, batch=2)
    finally:
        event.remove(engine, "before_cursor_execute", failing)
    assert calls["n"] == fail_at
    assert (table(engine), table(engine, db.cost_day)) == stored


# --- queries ------------------------------------------------------------------------------------------------

def test_known_days_daily_sums_and_load_costs(engine):
    db.store_costs(engine, [row(D1, "A", "1.0000000001"), row(D1, "B", "-0.0000000001", "x"),
                            row(D2, "A", "2.5", estimated=True)], {D1: False, D2: True, D3: True})
    assert db.known_days(engine, D1, D3) == {D1: False, D2: True, D3: True}
    assert db.known_days(engine, D2, D2) == {D2: True}
    sums = db.daily_sums(engine, D1, D3)
    assert {d: s.quantize(Decimal("0.01")) for d, s in sums.items()} == {D1: Decimal("1.00"), D2: Decimal("2.50")}
    frame = db.load_costs(engine, D1, D3)
    assert list(frame.columns) == ["usage_date", "service", "breakdown", "amount", "estimated"]
    assert frame["amount"].dtype == "float64" and frame["estimated"].dtype == bool
    assert list(frame["estimated"]) == [False, False, True]
    assert str(frame["usage_date"].dtype).startswith("datetime64")
    assert db.load_costs(engine, D3, D3).empty


def test_load_service_costs_sums_breakdowns_like_load_costs(engine):
    db.store_costs(engine, [row(D1, "A", "1.0000000001", "x"), row(D1, "A", "2.5", "y"), row(D1, "B", "-0.25"),
                            row(D2, "A", "4", "x", estimated=True), row(D2, "A", "1", "y")], {D1: False, D2: True})
    by_service = db.load_service_costs(engine, D1, D3)
    long = db.load_costs(engine, D1, D3)
    expected = (long.groupby(["usage_date", "service"], as_index=False)
                .agg(amount=("amount", "sum"), estimated=("estimated", "max")))
    assert list(by_service.columns) == ["usage_date", "service", "breakdown", "amount", "estimated"]
    assert (by_service["breakdown"] == "").all()
    assert by_service[["usage_date", "service", "estimated"]].values.tolist() == \
        expected[["usage_date", "service", "estimated"]].values.tolist()
    assert by_service["amount"].tolist() == pytest.approx(expected["amount"].tolist(), abs=1e-9)
    assert by_service["amount"].tolist() == pytest.approx([3.5000000001, -0.25, 5.0], abs=1e-9)
    assert db.load_service_costs(engine, D3, D3).empty


# --- what the rows measure (issue 10, item 9) ----------------------------------------------------------------------

D = date(2026, 11, 25)
TODAY = date(2026, 11, 26)


class Scaled:
    """The sample Cost Explorer, with AmortizedCost amounts twice the UnblendedCost ones; counts requests."""

    def __init__(self):
        from _util.sample_data import SampleCostExplorer

        self.inner = SampleCostExplorer(anchor=D, today=TODAY)
        self.requests = 0

    def get_cost_and_usage(self, **kwargs):
        self.requests += 1
        response = self.inner.get_cost_and_usage(**kwargs)
        if kwargs["Metrics"] == ["AmortizedCost"]:
            for result in response["ResultsByTime"]:
                for group in result["Groups"]:
                    cell = group["Metrics"]["AmortizedCost"]
                    cell["Amount"] = str(Decimal(cell["Amount"]) * 2)
        return response


def ingest_settings(engine, **kw):
    from _util.config import Settings

    base = {"database_url": engine.url.render_as_string(hide_password=False), "cost_source": "sample",
            "report_date": D, "lookback_days": 20}
    return Settings(**{**base, **kw})


def test_a_changed_cost_metric_fetches_the_window_again_and_never_mixes(engine):
    from _util.ingest import ingest

    ingest(ingest_settings(engine), engine, client=Scaled(), today=TODAY)
    before = db.daily_sums(engine, D - timedelta(days=20), D)
    client = Scaled()
    ingest(ingest_settings(engine, cost_metric="AmortizedCost"), engine, client=client, today=TODAY)
    assert client.requests >= 1
    after = db.daily_sums(engine, D - timedelta(days=20), D)
    assert after == {day: total * 2 for day, total in before.items()}  # every day replaced, none kept or summed
    with engine.connect() as conn:
        assert set(conn.execute(select(db.cost_day.c.metric, db.cost_day.c.group_by)).all()) == {("AmortizedCost", "")}
    assert not db.load_service_costs(engine, D - timedelta(days=20), D).empty


def test_days_cost_explorer_no_longer_serves_under_other_settings_are_refused(engine):
    from _util.ingest import ingest

    old = date(2025, 6, 1)  # before the 13 months Cost Explorer keeps on TODAY
    db.store_costs(engine, [row(old, "A", "1")], {old: False}, metric="UnblendedCost", group_by="")
    client = Scaled()
    with pytest.raises(db.MixedCostsError) as err:
        ingest(ingest_settings(engine, cost_metric="AmortizedCost", lookback_days=600), engine, client=client,
               today=TODAY)
    message = str(err.value)
    assert client.requests == 0  # refused before paying for a query
    assert "1 stored day(s) 2025-06-01..2025-06-01 were fetched with COST_METRIC=UnblendedCost" in message
    assert "python -m _util.migrate --forget-until 2025-06-01" in message and "\n" not in message


def test_usd_and_jpy_rows_are_never_summed(engine):
    db.store_costs(engine, [row(D1, "A", "434"), row(D2, "A", "838", unit="JPY")], {D1: False, D2: False})
    for load in (db.load_costs, db.load_service_costs, db.daily_sums):
        with pytest.raises(db.MixedCostsError) as err:
            load(engine, D1, D3)
        assert "more than one currency: USD (2026-11-01..2026-11-01), JPY (2026-11-02..2026-11-02)" in str(err.value)
        assert "\n" not in str(err.value)
    assert len(db.load_costs(engine, D2, D2)) == 1  # one currency: loads
    assert db.forget_days(engine, D1) == 1
    assert len(db.load_costs(engine, D1, D3)) == 1


def test_rows_fetched_with_different_metrics_are_never_summed(engine):
    db.store_costs(engine, [row(D1, "A", "1")], {D1: False}, metric="UnblendedCost", group_by="")
    db.store_costs(engine, [row(D2, "A", "2")], {D2: False}, metric="AmortizedCost", group_by="")
    with pytest.raises(db.MixedCostsError, match="different COST_METRIC/COST_GROUP_BY: UnblendedCost/"):
        db.load_service_costs(engine, D1, D3)


# --- long and odd names (issue 10, item 11) --------------------------------------------------------------------------

def test_long_names_are_stored_and_one_bad_group_never_blocks_the_others(engine, caplog):
    from _util.costexplorer import ParsedCosts, parse_response

    tag, service300, service500 = "team$" + "v" * 256, "S" * 300, "L" * 500
    keys = [[service300, tag], ["Amazon\x00S3", "x"], [service500, ""], ["AWS Lambda", "team$" + "é" * 395]]
    response = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Estimated": False,
                                   "Groups": [{"Keys": k, "Metrics": {"UnblendedCost": {"Amount": str(i + 1),
                                                                                        "Unit": "USD"}}}
                                              for i, k in enumerate(keys)]}]}
    with caplog.at_level("WARNING"):
        parsed = parse_response(response, "UnblendedCost", ParsedCosts(), where="nov.json")
    assert parsed.skipped == 1
    assert "'Amazon\\x00S3' cannot be stored" in caplog.text
    short = model.fit_name(service500, model.SERVICE_MAX)
    assert len(short) == model.SERVICE_MAX and short == model.fit_name(service500, model.SERVICE_MAX) != \
        model.fit_name(service500 + "x", model.SERVICE_MAX)
    db.store_costs(engine, parsed.sorted_rows(), parsed.days)
    assert stored_amounts(engine) == {(D1, service300, tag): 1, (D1, short, ""): 3,
                                      (D1, "AWS Lambda", model.fit_name("team$" + "é" * 395, model.BREAKDOWN_MAX)): 4}


# --- killed runs (issue 10, item 13) ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_sigkilled_run_is_marked_killed_by_the_next_run(engine, tmp_path, monkeypatch, restore_logging,
                                                            quick_charts):
    import os
    import signal
    import subprocess
    import sys

    import runCostReporting

    url = engine.url.render_as_string(hide_password=False)
    script = ("import sys, time; from datetime import date; from _util import db; "
              "e = db.make_engine(sys.argv[1]); db.init_db(e); print(db.start_run(e, date(2026, 11, 20)), "
              "flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", script, url], cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    try:
        run_id = int(child.stdout.readline())
        db.mark_killed_runs(engine)
        assert _run_row(engine, run_id).status == "running"  # alive: left alone
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    monkeypatch.chdir(tmp_path)
    assert runCostReporting.main(["--date", "2026-11-20", "--db-url", url, "--source", "sample", "--dry-run",
                                  "--output-dir", str(tmp_path / "out")]) == 0
    killed = _run_row(engine, run_id)
    assert (killed.status, killed.pid, killed.finished_at is not None) == ("killed", child.pid, True)
    assert _run_row(engine, run_id + 1).status == "ok"


def _run_row(engine, run_id):
    with engine.connect() as conn:
        return conn.execute(select(db.run).where(db.run.c.id == run_id)).one()
