"""Schema versions: older databases (built here with raw SQL, SQLite and MariaDB) are upgraded once, step by step;
a newer or unknown schema, or a user that may not ALTER, stops the job with one line; concurrent first runs."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, inspect, select, text

import procAmzData
from _util import db, migrate
from _util.model import CostRow
from tests.cli_helpers import error_lines

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


@pytest.fixture
def raw(db_url):
    """An engine on an empty database (nothing created): the legacy schema is built by the test."""
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


def execute(engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def is_mysql(engine) -> bool:
    return engine.dialect.name != "sqlite"


def legacy_daily_cost(engine, *, amount: str = "DECIMAL(28,10)", breakdown: bool = True,
                      collate: str = "utf8mb4_bin") -> None:
    """daily_cost as older versions created it (SQLite: amount as given, else exact text)."""
    mysql = is_mysql(engine)
    sqlite_amount = "VARCHAR(40)" if amount == "DECIMAL(28,10)" else amount
    cols = ["usage_date DATE NOT NULL", "service VARCHAR(255) NOT NULL"]
    if breakdown:
        cols.append("breakdown VARCHAR(255) NOT NULL")
    cols += [f"amount {amount if mysql else sqlite_amount} NOT NULL", "unit VARCHAR(16) NOT NULL",
             "estimated BOOLEAN NOT NULL", "fetched_at DATETIME NOT NULL",
             f"PRIMARY KEY (usage_date, service{', breakdown' if breakdown else ''})"]
    tail = f" CHARACTER SET utf8mb4 COLLATE {collate}" if mysql else ""
    execute(engine, f"CREATE TABLE daily_cost ({', '.join(cols)}){tail}",
            "CREATE TABLE cost_day (usage_date DATE NOT NULL, estimated BOOLEAN NOT NULL, "
            "fetched_at DATETIME NOT NULL, PRIMARY KEY (usage_date))")


def amounts(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(select(db.daily_cost.c.usage_date, db.daily_cost.c.service, db.daily_cost.c.breakdown,
                                   db.daily_cost.c.amount)).all()
    return {(db._as_date(d), s, b): Decimal(a) for d, s, b, a in rows}


# --- versions --------------------------------------------------------------------------------------------------------

def test_a_fresh_database_is_created_at_the_latest_version(raw):
    assert migrate.current_version(raw) is None
    db.init_db(raw)
    assert migrate.current_version(raw) == migrate.SCHEMA_VERSION
    db.init_db(raw)  # nothing more to do
    assert migrate.current_version(raw) == migrate.SCHEMA_VERSION


def test_a_database_from_before_versioning_is_version_0(raw):
    legacy_daily_cost(raw)
    assert migrate.current_version(raw) == 0
    assert migrate.upgrade(raw) == 0
    assert migrate.current_version(raw) == migrate.SCHEMA_VERSION
    assert {"daily_cost", "cost_day", "slack_post", "run", "schema_version"} <= set(inspect(raw).get_table_names())


def test_a_newer_schema_refuses_with_one_line(raw, isolated, capsys):
    db.init_db(raw)
    execute(raw, "UPDATE schema_version SET version = 99")
    newer = rf"schema is version 99, newer than this code's {migrate.SCHEMA_VERSION}: update"
    with pytest.raises(migrate.SchemaError, match=newer):
        db.init_db(raw)
    assert issubclass(migrate.SchemaError, db.DatabaseError)
    code = procAmzData.main(["--db-url", str(raw.url.render_as_string(hide_password=False)), "--source", "sample",
                             "--date", "2026-11-20"])
    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert len(lines) == 1 and "schema is version 99" in lines[0], lines


def test_an_unknown_daily_cost_refuses(raw):
    execute(raw, "CREATE TABLE daily_cost (day DATE NOT NULL, cost INTEGER NOT NULL)")
    with pytest.raises(migrate.SchemaError, match="daily_cost has no column amount, service, usage_date"):
        db.init_db(raw)


# --- the legacy databases of issue 10 -------------------------------------------------------------------------------

def test_a_amount_rounded_to_cents_is_widened_and_its_days_fetched_again(raw):
    legacy_daily_cost(raw, amount="DECIMAL(12,2)")
    execute(raw, "INSERT INTO daily_cost VALUES ('2026-11-01', 'A', '', 1.23, 'USD', 0, '2026-11-03 06:00:00')",
            "INSERT INTO cost_day VALUES ('2026-11-01', 0, '2026-11-03 06:00:00')")
    db.init_db(raw)
    assert amounts(raw) == {(D1, "A", ""): Decimal("1.23")}  # kept until fetched again
    assert db.known_days(raw, D1, D2) == {}  # ... which the next run does, where Cost Explorer still serves it
    exact = Decimal("412.3456789012")
    db.store_costs(raw, [CostRow(D1, "A", "", exact, "USD", False)], {D1: False})
    assert amounts(raw) == {(D1, "A", ""): exact}


def test_b_daily_cost_without_breakdown_gets_it_in_its_key(raw):
    legacy_daily_cost(raw, breakdown=False)
    execute(raw, "INSERT INTO daily_cost VALUES ('2026-11-01', 'A', '7.5', 'USD', 0, '2026-11-03 06:00:00')",
            "INSERT INTO cost_day VALUES ('2026-11-01', 0, '2026-11-03 06:00:00')")
    db.init_db(raw)
    assert inspect(raw).get_pk_constraint("daily_cost")["constrained_columns"] == ["usage_date", "service",
                                                                                    "breakdown"]
    assert amounts(raw) == {(D1, "A", ""): Decimal("7.5")}
    assert db.known_days(raw, D1, D1) == {D1: False}  # exact amounts: nothing to fetch again
    db.store_costs(raw, [CostRow(D2, "A", "x", Decimal(1), "USD", False),
                         CostRow(D2, "A", "y", Decimal(2), "USD", False)], {D2: False})
    assert amounts(raw)[(D2, "A", "y")] == 2


def test_c_older_slack_post_keeps_its_posts_as_attempt_1(raw):
    execute(raw, "CREATE TABLE slack_post (report_date DATE NOT NULL, channel VARCHAR(64) NOT NULL, "
                 "ts VARCHAR(32) NOT NULL, posted_at DATETIME NOT NULL, PRIMARY KEY (report_date, channel))",
            "INSERT INTO slack_post VALUES ('2026-11-01', 'C1', '1700000000.000100', '2026-11-03 06:00:00')")
    db.init_db(raw)
    assert db.slack_posts(raw, D1, "C1") == [db.PostRecord(D1, "C1", 1, 0, 1, "1700000000.000100", None)]
    db.record_slack_post(raw, db.PostRecord(D1, "C1", 2, 0, 2, "", None))  # a --force run claims attempt 2
    db.record_slack_post(raw, db.PostRecord(D1, "C1", 2, 1, 2, "", None))
    assert [(p.attempt, p.part) for p in db.slack_posts(raw, D1, "C1")] == [(1, 0), (2, 0), (2, 1)]


@pytest.mark.mysql
def test_d_pad_collation_becomes_no_pad(mysql_url):
    engine = db.make_engine(mysql_url)
    try:
        legacy_daily_cost(engine, collate="utf8mb4_bin")
        db.init_db(engine)
        with engine.connect() as conn:
            collation = conn.execute(text("SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE "
                                          "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'daily_cost'")).scalar()
        assert collation in db.NOPAD_COLLATIONS
        db.store_costs(engine, [CostRow(D1, "A", "team$web", Decimal(1), "USD", False),
                                CostRow(D1, "A", "team$web ", Decimal(2), "USD", False)], {D1: False})
        assert len(amounts(engine)) == 2
    finally:
        engine.dispose()


def test_the_schema_of_the_previous_release_takes_long_names_and_records_settings(raw):
    legacy_daily_cost(raw)
    auto = " AUTO_INCREMENT" if is_mysql(raw) else ""
    execute(raw, f"CREATE TABLE run (id INTEGER NOT NULL{auto} PRIMARY KEY, started_at DATETIME NOT NULL, "
                 "finished_at DATETIME, report_date DATE NOT NULL, status VARCHAR(16) NOT NULL, "
                 "ce_requests INTEGER NOT NULL, rows_upserted INTEGER NOT NULL, alerts INTEGER NOT NULL, "
                 "message_ts VARCHAR(32), error TEXT)")
    db.init_db(raw)
    tag = "team$" + "v" * 256
    db.store_costs(raw, [CostRow(D1, "S" * 300, tag, Decimal(1), "USD", False)], {D1: False},
                   metric="UnblendedCost", group_by="TAG:team")
    assert amounts(raw) == {(D1, "S" * 300, tag): Decimal(1)}
    assert db.known_days(raw, D1, D1, metric="AmortizedCost", group_by="TAG:team") == {}
    assert db.start_run(raw, D1) >= 1


def test_version_2_gets_the_root_cause_table_and_keeps_its_costs(raw):
    db.init_db(raw)
    db.store_costs(raw, [CostRow(D1, "A", "", Decimal("1.5"), "USD", False)], {D1: False})
    db.root_cause.drop(raw)
    execute(raw, "UPDATE schema_version SET version = 2")
    assert migrate.current_version(raw) == 2
    assert migrate.upgrade(raw) == 2
    assert migrate.current_version(raw) == 3 == migrate.SCHEMA_VERSION
    assert "root_cause" in inspect(raw).get_table_names()
    assert amounts(raw) == {(D1, "A", ""): Decimal("1.5")}
    long_service, tag = "S" * db.SERVICE_MAX, "team$" + "v" * 300  # the longest names still make one key
    rows = [db.StoredRootCause(D1, long_service, tag, "spike", "LINKED_ACCOUNT,USAGE_TYPE", "ok", '{"x": 1}', 2),
            db.StoredRootCause(D1, long_service, tag, "spike", "REGION,OPERATION", "ok", '{"x": 2}', 1)]
    db.store_root_causes(raw, rows)
    db.store_root_causes(raw, rows[:1])  # stored again: replaced, not doubled
    assert sorted(db.load_root_causes(raw, D1), key=lambda r: r.pair) == sorted(rows, key=lambda r: r.pair)
    assert db.load_root_causes(raw, D2) == []


# --- a user that may not change the schema -----------------------------------------------------------------------

def test_sqlite_read_only_file_names_the_upgrade_command(tmp_path):
    path = tmp_path / "old.sqlite"
    legacy = create_engine(f"sqlite:///{path}")
    legacy_daily_cost(legacy)
    legacy.dispose()
    read_only = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(migrate.SchemaError) as err:
            db.init_db(read_only)
    finally:
        read_only.dispose()
    assert (f"schema is version 0, this code needs version {migrate.SCHEMA_VERSION}, and the database user may not "
            "change it") in str(err.value)
    assert "python -m _util.migrate --db-url URL" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.mysql
def test_mysql_user_without_alter_names_the_upgrade_command(mysql_url):
    admin = db.make_engine(mysql_url)
    user = f"costs_ro_{uuid.uuid4().hex[:8]}"
    name = admin.url.database
    try:
        legacy_daily_cost(admin, amount="DECIMAL(12,2)")
        execute(admin, f"CREATE USER '{user}'@'%%' IDENTIFIED BY 'pw-{user}'",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'%%'")
        limited = db.make_engine(admin.url.set(username=user, password=f"pw-{user}")
                                 .render_as_string(hide_password=False))
        try:
            with pytest.raises(migrate.SchemaError) as err:
                db.init_db(limited)
        finally:
            limited.dispose()
        assert (f"this code needs version {migrate.SCHEMA_VERSION}, and the database user may not change it"
                in str(err.value))
        assert f"pw-{user}" not in str(err.value)
        db.init_db(admin)  # the documented way out: once, as a user that may
        assert migrate.current_version(admin) == migrate.SCHEMA_VERSION
    finally:
        execute(admin, f"DROP USER IF EXISTS '{user}'@'%%'")
        admin.dispose()


def test_the_upgrade_command(raw, isolated, capsys):
    legacy_daily_cost(raw, amount="DECIMAL(12,2)")
    url = raw.url.render_as_string(hide_password=False)
    assert migrate.main(["--db-url", url, "--check"]) == 1
    assert capsys.readouterr().out == f"schema: version 0 (this code: version {migrate.SCHEMA_VERSION})\n"
    assert migrate.main(["--db-url", url]) == 0
    assert capsys.readouterr().out == f"schema: version {migrate.SCHEMA_VERSION}\n"
    assert migrate.main(["--db-url", url, "--check"]) == 0


# --- concurrency: several hosts start on a fresh database at once ----------------------------------------------------

WORKERS, TRIALS, DAYS = 4, 3, 6


def _worker(url: str, index: int, start_at: float) -> int:
    """One 'host': init_db and store DAYS days overlapping its neighbours', twice; return rows stored."""
    engine = db.make_engine(url)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        db.init_db(engine)
        stored = 0
        for _ in range(2):
            days = {D1 + timedelta(days=index + i): False for i in range(DAYS)}
            stored += db.store_costs(engine, [CostRow(d, s, "", _amount(d, s), "USD", False)
                                              for d in days for s in ("A", "B", "C")], days,
                                     metric="UnblendedCost", group_by="")
        return stored
    finally:
        engine.dispose()


def _amount(day: date, service: str) -> Decimal:
    return Decimal(f"{day.day}.{ord(service)}")


@pytest.mark.slow
def test_concurrent_first_runs_on_a_fresh_database_all_succeed(db_url):
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    for _trial in range(TRIALS):
        engine = db.make_engine(db_url)
        db.metadata.drop_all(engine)
        engine.dispose()
        with context.Pool(WORKERS) as pool:
            start_at = time.time() + 0.5
            results = [pool.apply_async(_worker, (db_url, i, start_at)) for i in range(WORKERS)]
            assert [r.get(timeout=60) for r in results] == [2 * 3 * DAYS] * WORKERS
        engine = db.make_engine(db_url)
        try:
            all_days = [D1 + timedelta(days=i) for i in range(WORKERS - 1 + DAYS)]
            assert amounts(engine) == {(d, s, ""): _amount(d, s) for d in all_days for s in ("A", "B", "C")}
            assert db.known_days(engine, D1, all_days[-1], metric="UnblendedCost", group_by="") == \
                dict.fromkeys(all_days, False)
            assert migrate.current_version(engine) == migrate.SCHEMA_VERSION
        finally:
            engine.dispose()


def test_a_deadlock_is_retried_a_bounded_number_of_times(raw, monkeypatch):
    """MySQL's deadlock (1213) rolls the transaction back: store_costs runs it again, then gives up."""
    from sqlalchemy.exc import OperationalError

    db.init_db(raw)
    calls = {"n": 0}
    real = db._store

    def deadlocking(conn, *args):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise OperationalError("DELETE …", {}, Exception(1213, "Deadlock found when trying to get lock"))
        return real(conn, *args)

    monkeypatch.setattr(db, "_store", deadlocking)
    monkeypatch.setattr(db.time, "sleep", lambda s: None)
    failures = 2
    db.store_costs(raw, [CostRow(D1, "A", "", Decimal(1), "USD", False)], {D1: False})
    assert calls["n"] == 3 and amounts(raw) == {(D1, "A", ""): Decimal(1)}
    calls["n"], failures = 0, 100
    with pytest.raises(OperationalError, match="Deadlock"):
        db.store_costs(raw, [CostRow(D1, "A", "", Decimal(2), "USD", False)], {D1: False})
    assert calls["n"] == db.DEADLOCK_RETRIES


def test_a_lock_wait_timeout_is_not_tried_again(raw, monkeypatch):
    """A lock wait (1205) already lasted lock_wait_timeout: the run fails within that bound, not a multiple of it."""
    from sqlalchemy.exc import OperationalError

    db.init_db(raw)
    calls = {"n": 0}

    def waiting(conn, *args):
        calls["n"] += 1
        raise OperationalError("DELETE …", {}, Exception(1205, "Lock wait timeout exceeded; try restarting"))

    monkeypatch.setattr(db, "_store", waiting)
    monkeypatch.setattr(db.time, "sleep", lambda s: None)
    with pytest.raises(OperationalError, match="Lock wait timeout"):
        db.store_costs(raw, [CostRow(D1, "A", "", Decimal(2), "USD", False)], {D1: False})
    assert calls["n"] == 1


def test_the_schema_lock_serialises_migrations(raw):
    """While one connection holds the schema lock, another migration waits (and gives up after its timeout)."""
    if raw.dialect.name == "sqlite":
        pytest.skip("SQLite waits on its busy timeout (BEGIN IMMEDIATE); covered by the concurrent runs")
    with raw.connect() as conn, migrate._schema_lock(conn, 1):
        with pytest.raises(migrate.SchemaError, match="another host holds the schema lock"):
            migrate.upgrade(raw, lock_timeout=1)
    assert migrate.upgrade(raw) is None



def test_its_help_lists_only_the_flags_that_reach_the_database(capsys):
    """A schema upgrade takes the database flags; --date, --source, --dry-run… would mean nothing and are refused."""
    assert migrate.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--db-url" in out and "--env-file" in out and "--check" in out
    for flag in ("--date", "--source", "--dry-run", "--demo", "--force", "--input"):
        assert flag not in out, flag
    assert migrate.main(["--date", "2026-11-25"]) == 2
    assert "unrecognized arguments: --date" in capsys.readouterr().err
