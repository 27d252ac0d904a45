"""Storage: engine seam, tables, batched dialect upserts and queries (SQLAlchemy Core)."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    cast,
    create_engine,
    func,
    select,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

from .config import Settings, mask_url
from .model import BREAKDOWN_MAX, SERVICE_MAX, CostColumns, CostRow

UPSERT_BATCH = 1000
DEADLOCK_RETRIES = 6  # attempts of one transaction that MySQL chose as a deadlock victim (1213)
RETRYABLE_MYSQL_ERRORS = (1213,)

log = logging.getLogger(__name__)

metadata = MetaData()


class ExactAmount(TypeDecorator):
    """DECIMAL(28,10) on MySQL; exact decimal text on SQLite, whose NUMERIC is a float and loses digits."""

    impl = Numeric(28, 10, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(28, 10, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return format(Decimal(value), "f")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


daily_cost = Table(
    "daily_cost",
    metadata,
    Column("usage_date", Date, primary_key=True),
    Column("service", String(SERVICE_MAX), primary_key=True),
    Column("breakdown", String(BREAKDOWN_MAX), primary_key=True, default=""),
    # CE reports up to 10 decimals; 28 digits keeps sums of large accounts exact.
    Column("amount", ExactAmount(), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("estimated", Boolean, nullable=False),
    Column("fetched_at", DateTime, nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",  # migrate switches this to a NO PAD binary collation where the server has one
)

# Binary collations that do not ignore trailing spaces: "EC2" and "EC2 " stay two keys (utf8mb4_bin pads).
NOPAD_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")

# Every day Cost Explorer has answered for, with its Estimated flag: a day with no cost at all has no
# daily_cost rows, and without this record it would look "missing" and be fetched again every run.
cost_day = Table(
    "cost_day",
    metadata,
    Column("usage_date", Date, primary_key=True),
    Column("estimated", Boolean, nullable=False),
    # What the day's rows measure (COST_METRIC, COST_GROUP_BY; "" = none): a run with other settings fetches the
    # day again instead of mixing. NULL = fetched before schema version 2, taken to match the current settings.
    Column("metric", String(64)),
    Column("group_by", String(160)),
    Column("fetched_at", DateTime, nullable=False),
)

slack_post = Table(
    "slack_post",
    metadata,
    Column("report_date", Date, primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("attempt", Integer, primary_key=True),  # 1, then +1 for each --force
    Column("part", Integer, primary_key=True),  # 0 = the top message, 1.. = thread replies
    Column("parts", Integer, nullable=False),  # how many messages this attempt has in all
    Column("ts", String(32), nullable=False),
    Column("thread_ts", String(32)),
    Column("posted_at", DateTime, nullable=False),
    mysql_charset="utf8mb4",
)

run = Table(
    "run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("report_date", Date, nullable=False),
    Column("status", String(16), nullable=False),  # running | ok | failed | killed
    Column("ce_requests", Integer, nullable=False, default=0),
    Column("rows_upserted", Integer, nullable=False, default=0),
    Column("alerts", Integer, nullable=False, default=0),
    Column("message_ts", String(32)),
    Column("error", Text),
    Column("host", String(255)),  # where the run ran, and its process: a killed run is recognised by the next one
    Column("pid", Integer),
    mysql_charset="utf8mb4",
)

# Root causes of one alert from one drill-down query (a dimension pair): kept so a rerun of the day asks Cost
# Explorer nothing again, and so the day's requests count against DRILLDOWN_MAX_REQUESTS. The natural key is
# (report_date, service, breakdown, kind, pair); service + breakdown alone take 3044 of InnoDB's 3072 key bytes, so
# the key holds their digest (alert_key, root_cause_key) and the names themselves sit beside it.
root_cause = Table(
    "root_cause",
    metadata,
    Column("report_date", Date, primary_key=True),
    Column("alert_key", String(64), primary_key=True),  # root_cause_key(service, breakdown)
    Column("kind", String(16), primary_key=True),  # spike | trend | first_seen
    Column("pair", String(64), primary_key=True),  # the dimensions grouped by, "LINKED_ACCOUNT,USAGE_TYPE"
    Column("service", String(SERVICE_MAX), nullable=False),
    Column("breakdown", String(BREAKDOWN_MAX), nullable=False, default=""),
    Column("status", String(512), nullable=False),  # ok | not analysed (daily limit) | unavailable: <reason>
    Column("result", Text, nullable=False),  # JSON: causes, unexplained, explained_share
    Column("requests", Integer, nullable=False, default=0),  # Cost Explorer requests it took (pages included)
    Column("fetched_at", DateTime, nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)


def root_cause_key(service: str, breakdown: str) -> str:
    """The stored key of (service, breakdown): 64 hex digits of SHA-256 (two different pairs, two keys)."""
    raw = f"{service}\x00{breakdown}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class StoredRootCause:
    """One stored drill-down outcome (result: the JSON text as written)."""

    report_date: date
    service: str
    breakdown: str
    kind: str
    pair: str
    status: str
    result: str
    requests: int


def load_root_causes(engine: Engine, report_date: date) -> list[StoredRootCause]:
    """Every drill-down outcome stored for report_date."""
    t = root_cause
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.service, t.c.breakdown, t.c.kind, t.c.pair, t.c.status, t.c.result,
                                   t.c.requests).where(t.c.report_date == report_date)).all()
    return [StoredRootCause(report_date, r.service, r.breakdown, r.kind, r.pair, r.status, r.result,
                            int(r.requests)) for r in rows]


def store_root_causes(engine: Engine, rows: Iterable[StoredRootCause]) -> int:
    """Upsert drill-down outcomes in one transaction; return how many."""
    fetched_at = utcnow()
    records = [{"report_date": r.report_date, "alert_key": root_cause_key(r.service, r.breakdown), "kind": r.kind,
                "pair": r.pair, "service": r.service, "breakdown": r.breakdown, "status": r.status[:512],
                "result": r.result, "requests": r.requests, "fetched_at": fetched_at} for r in rows]
    if not records:
        return 0

    def work(conn: Connection) -> None:
        conn.execute(_upsert_statement(conn, root_cause, ("report_date", "alert_key", "kind", "pair")), records)

    retrying(engine, work)
    return len(records)


# The schema version (one row), kept by _util/migrate.py.
schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("upgraded_at", DateTime, nullable=False),
)


class DatabaseError(RuntimeError):
    """The database cannot be reached or used; the message is safe to print (no password)."""


class MixedCostsError(DatabaseError):
    """Stored costs in one window measure different things (metric, grouping or currency): never summed."""


def utcnow() -> datetime:
    """Now in UTC, naive (DATETIME columns hold UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def make_engine(url: str, *, connect_timeout: int = Settings.db_connect_timeout_seconds,
                timeout: int = Settings.db_timeout_seconds) -> Engine:
    """Create the engine for DATABASE_URL (SQLite folder created; MySQL: TCP connect within connect_timeout (s), every
    read/write within timeout (s), lock waits end after timeout // 2 s with the server's own error)."""
    parsed = make_url(url)
    kwargs: dict = {"future": True}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"DATABASE_URL {mask_url(url)}: cannot create folder {folder}: "
                                    f"{exc.strerror or exc}") from None
        kwargs["connect_args"] = {"timeout": 30}
    elif backend in ("mysql", "mariadb"):
        kwargs["pool_pre_ping"] = True
        lock_wait = max(1, timeout // 2)  # shorter than read_timeout: the server's "Lock wait timeout" names it
        kwargs["connect_args"] = {
            "connect_timeout": connect_timeout, "read_timeout": timeout, "write_timeout": timeout,
            "charset": "utf8mb4",
            "init_command": f"SET SESSION lock_wait_timeout = {lock_wait}, innodb_lock_wait_timeout = {lock_wait}"}
    return create_engine(parsed, **kwargs)


def init_db(engine: Engine) -> None:
    """Create the tables of a fresh database or upgrade an older schema (migrate.upgrade); raise DatabaseError
    (migrate.SchemaError for a newer, unknown or not upgradable schema) with a safe one-line message."""
    from . import migrate

    try:
        migrate.upgrade(engine)
    except DatabaseError:
        raise
    except Exception as exc:  # OperationalError and driver errors: strip the URL/password
        raise DatabaseError(f"cannot use database {mask_url(str(engine.url))}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    return text[:300]


def _upsert_statement(conn: Connection, table: Table, keys: Sequence[str]):
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        stmt = insert(table)
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert

        stmt = insert(table)
        updates = {c.name: stmt.inserted[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_duplicate_key_update(**updates)
    raise DatabaseError(f"unsupported database dialect {dialect}")


def retrying(engine: Engine, work: Callable[[Connection], object], *, attempts: int = DEADLOCK_RETRIES):
    """Run work(conn) in one transaction; run it again when MySQL picked it as a deadlock victim (1213): the
    transaction was rolled back whole, so a repeat is safe. Bounded by attempts. A lock wait timeout (1205) is not
    tried again: it already waited lock_wait_timeout, and a backup's lock must end the run within its bound."""
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            code = _mysql_code(exc)
            if code not in RETRYABLE_MYSQL_ERRORS or attempt == attempts:
                raise
            pause = min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random())
            log.info("database: deadlock (MySQL %d); trying the transaction again in %.2f s (%d/%d)", code, pause,
                     attempt, attempts - 1)
            time.sleep(pause)
    raise AssertionError("unreachable")


def _mysql_code(exc: BaseException) -> int | None:
    """The MySQL error number of a driver error (PyMySQL puts it first in args), else None."""
    args = getattr(getattr(exc, "orig", None), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def store_costs(engine: Engine, rows: Iterable[CostRow] | CostColumns, days: dict[date, bool], *,
                metric: str | None = None, group_by: str | None = None, replace: Iterable[date] | None = None,
                fetched_at: datetime | None = None, batch: int = UPSERT_BATCH) -> int:
    """Upsert the rows of the fetched days in batches, in one transaction; return the number of rows.

    `days` maps every day the source answered for to its Estimated flag; rows stored earlier for the days to
    `replace` (default: all of them) that the source no longer lists (a revised Estimated day) are removed, so each
    day matches its source. Other days are merged: rows added or updated, none removed.
    metric and group_by (COST_METRIC, COST_GROUP_BY) are recorded with each day. A deadlock is retried whole.
    rows may be CostColumns (the export source's millions of rows, column-wise): stored the same, without a
    Python object per row.
    """
    fetched_at = fetched_at or utcnow()
    if not isinstance(rows, CostColumns):
        rows = list(rows)
    day_records = [{"usage_date": d, "estimated": est, "fetched_at": fetched_at, "metric": metric,
                    "group_by": group_by} for d, est in sorted(days.items())]

    whole = sorted(days) if replace is None else sorted(set(replace))

    def work(conn: Connection) -> None:
        _store(conn, rows, whole, day_records, fetched_at, batch)

    retrying(engine, work)  # one transaction: a failure leaves the previous data as it was
    return len(rows)


def _store(conn: Connection, rows: list[CostRow] | CostColumns, ordered: list[date], day_records: list[dict],
           fetched_at: datetime, batch: int) -> None:
    # Each day to replace is deleted first, so a row the source no longer lists (a revised Estimated day)
    # goes even when a quick re-run stores it within the same second.
    for start in range(0, len(ordered), batch):
        conn.execute(daily_cost.delete().where(daily_cost.c.usage_date.in_(ordered[start:start + batch])))
    if isinstance(rows, CostColumns):
        if len(rows):
            _store_columns(conn, rows, fetched_at)
    elif rows:
        stmt = _upsert_statement(conn, daily_cost, ("usage_date", "service", "breakdown"))
        _executemany(conn, stmt, _cost_columns(conn, rows, fetched_at), len(rows), batch)
    if day_records:
        conn.execute(_upsert_statement(conn, cost_day, ("usage_date",)), day_records)


def _cost_columns(conn: Connection, rows: list[CostRow], fetched_at: datetime) -> dict[str, list]:
    """The daily_cost parameters column by column, in the form the driver stores them."""
    columns: dict[str, list] = {
        "usage_date": [r.usage_date for r in rows],
        "service": [r.service for r in rows],
        "breakdown": [r.breakdown for r in rows],
        "amount": [r.amount for r in rows],
        "unit": [r.unit for r in rows],
        "estimated": [r.estimated for r in rows],
        "fetched_at": [fetched_at] * len(rows),
    }
    if conn.dialect.name == "sqlite":
        # The storage formats of SQLAlchemy's SQLite Date, DateTime and Boolean, and of ExactAmount.
        iso = {d: d.isoformat() for d in set(columns["usage_date"])}
        columns["usage_date"] = [iso[d] for d in columns["usage_date"]]
        columns["amount"] = [None if a is None else format(Decimal(a), "f") for a in columns["amount"]]
        columns["estimated"] = [int(e) for e in columns["estimated"]]
        columns["fetched_at"] = [fetched_at.strftime("%Y-%m-%d %H:%M:%S.%f")] * len(rows)
    return columns


def _executemany(conn: Connection, stmt, columns: dict[str, list], count: int, batch: int) -> None:
    """Run the dialect's upsert for many rows as DBAPI executemany batches.

    SQLAlchemy's per-row parameter processing costs ~20 µs a row (15 s for a 2,000-series backfill); the statement
    is still SQLAlchemy's own upsert, compiled once, with the values already in the form its types would bind.
    """
    compiled = stmt.compile(dialect=conn.dialect)
    if compiled.positiontup:  # qmark (sqlite3)
        params: list = list(zip(*(columns[name] for name in compiled.positiontup), strict=True))
    else:  # pyformat (PyMySQL takes date, datetime, Decimal and bool as they are)
        names = list(columns)
        params = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    for start in range(0, count, batch):
        conn.exec_driver_sql(compiled.string, params[start:start + batch])


COLUMN_CHUNK = 50_000  # CostColumns rows turned into driver values (SQLite) or one INSERT statement (MySQL) at a time


def _store_columns(conn: Connection, rows: CostColumns, fetched_at: datetime) -> None:
    """Upsert CostColumns chunk by chunk, values made column-wise by Arrow (no Python object per row and value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    stmt = _upsert_statement(conn, daily_cost, ("usage_date", "service", "breakdown"))
    compiled = stmt.compile(dialect=conn.dialect)
    table = rows.table
    day_text = pc.cast(table.column("usage_date"), pa.string())
    if conn.dialect.name == "sqlite":
        # The storage formats of SQLAlchemy's SQLite Date, DateTime and Boolean, and of ExactAmount (the text).
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute("PRAGMA cache_size = -262144")  # 256 MiB of pages for the key index during a bulk load
        # unit and fetched_at are the same for every row: SQL literals, two values fewer to bind per row
        constants = {"unit": rows.unit, "fetched_at": fetched_at.strftime("%Y-%m-%d %H:%M:%S.%f")}
        arrays = {"usage_date": day_text, "service": table.column("service"), "breakdown": table.column("breakdown"),
                  "amount": table.column("amount"), "estimated": pc.cast(table.column("estimated"), pa.int8())}
        names = compiled.positiontup
        placeholders = "VALUES (" + ", ".join("?" for _ in names) + ")"
        if placeholders not in compiled.string or set(names) != set(arrays) | set(constants):
            raise DatabaseError(f"unexpected SQLite upsert text: {compiled.string[:200]}")
        sql = compiled.string.replace(placeholders, "VALUES (" + ", ".join(
            "'" + constants[n].replace("'", "''") + "'" if n in constants else "?" for n in names) + ")", 1)
        bound = [n for n in names if n in arrays]
        for start in range(0, len(rows), COLUMN_CHUNK):
            n = min(COLUMN_CHUNK, len(rows) - start)
            cursor.executemany(sql, zip(*(arrays[name].slice(start, n).to_pylist() for name in bound), strict=True))
        cursor.execute("PRAGMA cache_size = -2000")  # SQLite's default again for the connection's next user
        return
    # MySQL/MariaDB: multi-row INSERT … ON DUPLICATE KEY UPDATE, literals escaped as PyMySQL escapes text.
    text = compiled.string
    values_at = text.index(" VALUES (")
    # VALUES (%(usage_date)s, …, %(fetched_at)s): the clause ends at the first ")s)"; tail: [AS new] ON DUPLICATE …
    head, tail = text[:values_at], text[text.index(")s)", values_at) + 3:]
    names = [n.strip() for n in head[head.index("(") + 1:head.rindex(")")].split(",")]

    def quoted(values) -> pa.Array:
        for old, new in (("\\", "\\\\"), ("'", "\\'"), ("\x00", "\\0")):
            values = pc.replace_substring(values, old, new)
        return pc.binary_join_element_wise("'", values, "'", "")

    unit = rows.unit.replace("\\", "\\\\").replace("'", "\\'")
    cursor = conn.connection.dbapi_connection.cursor()
    for start in range(0, len(rows), COLUMN_CHUNK):
        part = table.slice(start, COLUMN_CHUNK)
        literals = {"usage_date": pc.binary_join_element_wise("'", day_text.slice(start, COLUMN_CHUNK), "'", ""),
                    "service": quoted(part.column("service")), "breakdown": quoted(part.column("breakdown")),
                    "amount": pc.binary_join_element_wise("'", part.column("amount"), "'", ""),  # exact text
                    "unit": pa.scalar(f"'{unit}'"), "estimated": pc.if_else(part.column("estimated"), "1", "0"),
                    "fetched_at": pa.scalar(f"'{fetched_at:%Y-%m-%d %H:%M:%S}'")}
        values = pc.binary_join_element_wise(*(literals[n] for n in names), ",")
        cursor.execute(f"{head} VALUES ({'),('.join(values.to_pylist())}){tail}")


def known_days(engine: Engine, start: date, end: date, *, metric: str | None = None,
               group_by: str | None = None) -> dict[date, bool]:
    """Days in [start, end] already fetched, mapped to whether they were still Estimated.

    With metric (and group_by, "" = none), a day fetched under other settings counts as missing: it is fetched
    again and replaced whole rather than summed with the new rows."""
    query = select(cost_day.c.usage_date, cost_day.c.estimated).where(cost_day.c.usage_date.between(start, end))
    if metric is not None:
        query = query.where(_same_settings(metric, group_by))
    with engine.connect() as conn:
        result = conn.execute(query).all()
    return {_as_date(d): bool(est) for d, est in result}


def _same_settings(metric: str, group_by: str | None):
    """cost_day rows fetched with these settings (or before settings were recorded: NULL)."""
    return cost_day.c.metric.is_(None) | ((cost_day.c.metric == metric)
                                          & (func.coalesce(cost_day.c.group_by, "") == (group_by or "")))


def other_settings_days(engine: Engine, start: date, end: date, metric: str,
                        group_by: str | None) -> dict[date, tuple[str, str]]:
    """Days in [start, end] stored under another COST_METRIC or COST_GROUP_BY: date -> (metric, group_by)."""
    query = (select(cost_day.c.usage_date, cost_day.c.metric, cost_day.c.group_by)
             .where(cost_day.c.usage_date.between(start, end), ~_same_settings(metric, group_by)))
    with engine.connect() as conn:
        return {_as_date(d): (m, g or "") for d, m, g in conn.execute(query).all()}


def check_uniform(conn: Connection, start: date, end: date) -> None:
    """Raise MixedCostsError (one line) when the stored costs of [start, end] are in more than one currency or
    were fetched with more than one COST_METRIC / COST_GROUP_BY: such rows are never summed."""
    units = conn.execute(
        select(daily_cost.c.unit, func.min(daily_cost.c.usage_date), func.max(daily_cost.c.usage_date))
        .where(daily_cost.c.usage_date.between(start, end)).group_by(daily_cost.c.unit)
        .order_by(func.min(daily_cost.c.usage_date))).all()
    if len(units) > 1:
        raise_mixed_units(start, end, [(u, _as_date(a), _as_date(b)) for u, a, b in units])
    check_settings_uniform(conn, start, end)


def raise_mixed_units(start: date, end: date, units: Sequence[tuple[str, date, date]]) -> None:
    """Raise the MixedCostsError of check_uniform for (unit, first day, last day) spans, earliest first."""
    spans = ", ".join(f"{u} ({a}..{b})" for u, a, b in units)
    raise MixedCostsError(
        f"stored costs of {start}..{end} are in more than one currency: {spans}; they are never summed — "
        f"fetch the older days again in the current currency: {_forget_hint(units[0][2])}")


def check_settings_uniform(conn: Connection, start: date, end: date) -> None:
    """check_uniform's COST_METRIC / COST_GROUP_BY rule alone (it reads cost_day only: one row per day)."""
    kinds = conn.execute(
        select(cost_day.c.metric, func.coalesce(cost_day.c.group_by, ""), func.min(cost_day.c.usage_date),
               func.max(cost_day.c.usage_date))
        .where(cost_day.c.usage_date.between(start, end), cost_day.c.metric.is_not(None))
        .group_by(cost_day.c.metric, func.coalesce(cost_day.c.group_by, ""))
        .order_by(func.min(cost_day.c.usage_date))).all()
    if len(kinds) > 1:
        spans = ", ".join(f"{m}/{g or '(none)'} ({_as_date(a)}..{_as_date(b)})" for m, g, a, b in kinds)
        raise MixedCostsError(
            f"stored costs of {start}..{end} were fetched with different COST_METRIC/COST_GROUP_BY: {spans}; "
            "they are never summed — run procAmzData.py with the current settings to fetch them again, or "
            f"{_forget_hint(_as_date(kinds[0][3]))}")


def _forget_hint(last: date) -> str:
    return (f"`python -m _util.migrate --forget-until {last}` (the next run fetches what Cost Explorer still "
            "serves), or lower LOOKBACK_DAYS")


def forget_days(engine: Engine, until: date) -> int:
    """Delete the stored costs of every day up to until (inclusive); return the number of days forgotten."""
    def work(conn: Connection) -> int:
        conn.execute(daily_cost.delete().where(daily_cost.c.usage_date <= until))
        return conn.execute(cost_day.delete().where(cost_day.c.usage_date <= until)).rowcount

    return int(retrying(engine, work) or 0)


def load_costs(engine: Engine, start: date, end: date) -> pd.DataFrame:
    """Rows with usage_date in [start, end]: usage_date (datetime64), service, breakdown, amount (float), estimated."""
    query = (
        select(daily_cost.c.usage_date, daily_cost.c.service, daily_cost.c.breakdown, daily_cost.c.amount,
               daily_cost.c.estimated)
        .where(daily_cost.c.usage_date.between(start, end))
        .order_by(daily_cost.c.usage_date, daily_cost.c.service, daily_cost.c.breakdown)
    )
    with engine.connect() as conn:
        check_uniform(conn, start, end)
        return _cost_frame(conn.execute(query).all())


def load_service_costs(engine: Engine, start: date, end: date) -> pd.DataFrame:
    """Like load_costs, summed over breakdown in the database (breakdown ""): one row per day and service."""
    amount = daily_cost.c.amount
    if engine.dialect.name == "sqlite":
        amount = cast(amount, Float)  # stored as exact text there
    total = func.sum(amount, type_=Float).label("amount")
    query = (
        select(daily_cost.c.usage_date, daily_cost.c.service, total,
               func.max(cast(daily_cost.c.estimated, Integer)).label("estimated"))
        .where(daily_cost.c.usage_date.between(start, end))
        .group_by(daily_cost.c.usage_date, daily_cost.c.service)
        .order_by(daily_cost.c.usage_date, daily_cost.c.service)
    )
    with engine.connect() as conn:
        check_uniform(conn, start, end)
        rows = conn.execute(query).all()
    return _cost_frame([(day, service, "", amount, estimated) for day, service, amount, estimated in rows])


def _cost_frame(rows) -> pd.DataFrame:
    """The long cost frame: usage_date (datetime64), service, breakdown, amount (float), estimated (bool)."""
    frame = pd.DataFrame(rows, columns=["usage_date", "service", "breakdown", "amount", "estimated"])
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    frame["amount"] = frame["amount"].astype("float64")
    frame["estimated"] = frame["estimated"].astype(bool)
    frame["service"] = frame["service"].astype(str)
    frame["breakdown"] = frame["breakdown"].astype(str)
    return frame


def daily_sums(engine: Engine, start: date, end: date) -> dict[date, Decimal]:
    """Exact total per day over all services and breakdowns (for checks to the cent)."""
    # Summed in Python over exact Decimals: SQLite's SUM would go through floats.
    with engine.connect() as conn:
        check_uniform(conn, start, end)
        rows = conn.execute(
            select(daily_cost.c.usage_date, daily_cost.c.amount).where(daily_cost.c.usage_date.between(start, end))
        ).all()
    totals: dict[date, Decimal] = {}
    for day, amount in rows:
        key = _as_date(day)
        totals[key] = totals.get(key, Decimal(0)) + amount
    return totals


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


# --- run records -------------------------------------------------------------------------------

def start_run(engine: Engine, report_date: date) -> int:
    """Insert a run record with status 'running' (with this host and pid); return its id."""
    with engine.begin() as conn:
        result = conn.execute(run.insert().values(started_at=utcnow(), report_date=report_date,
                                                  status="running", ce_requests=0, rows_upserted=0, alerts=0,
                                                  host=socket.gethostname()[:255], pid=os.getpid()))
        return int(result.inserted_primary_key[0])


def mark_killed_runs(engine: Engine) -> int:
    """Mark as 'killed' (finished now) the runs of this host still 'running' whose process is gone; return how
    many. Call it holding the run lock: a run that died (SIGKILL, power loss) never closed its own record."""
    host = socket.gethostname()[:255]
    with engine.connect() as conn:
        stale = conn.execute(select(run.c.id, run.c.pid).where(run.c.status == "running", run.c.host == host)).all()
    dead = [run_id for run_id, pid in stale if pid is None or pid == os.getpid() or not _alive(pid)]
    if dead:
        with engine.begin() as conn:
            conn.execute(run.update().where(run.c.id.in_(dead), run.c.status == "running").values(
                status="killed", finished_at=utcnow(), error="the run's process ended without closing its record"))
        log.warning("marked %d earlier run(s) of this host as killed (process gone): id %s", len(dead),
                    ", ".join(map(str, dead)))
    return len(dead)


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def finish_run(engine: Engine, run_id: int, *, status: str, ce_requests: int = 0, rows_upserted: int = 0,
               alerts: int = 0, message_ts: str | None = None, error: str | None = None) -> None:
    """Close a run record."""
    with engine.begin() as conn:
        conn.execute(run.update().where(run.c.id == run_id).values(
            finished_at=utcnow(), status=status, ce_requests=ce_requests, rows_upserted=rows_upserted,
            alerts=alerts, message_ts=message_ts, error=(error or None) and error[:2000]))


# --- slack posts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PostRecord:
    """One Slack message recorded as posted (ts "" = claimed, its post not confirmed: in flight or unknown)."""

    report_date: date
    channel: str
    attempt: int
    part: int
    parts: int
    ts: str
    thread_ts: str | None


def slack_posts(engine: Engine, report_date: date, channel: str) -> list[PostRecord]:
    """Recorded posts for (date, channel), ordered by attempt then part."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(slack_post).where(slack_post.c.report_date == report_date, slack_post.c.channel == channel)
            .order_by(slack_post.c.attempt, slack_post.c.part)
        ).all()
    return [PostRecord(_as_date(r.report_date), r.channel, r.attempt, r.part, r.parts, r.ts, r.thread_ts)
            for r in rows]


def confirm_slack_post(engine: Engine, post: PostRecord) -> None:
    """Set the ts (and thread) of a claimed message once Slack confirmed it (committed at once)."""
    key = (slack_post.c.report_date == post.report_date, slack_post.c.channel == post.channel,
           slack_post.c.attempt == post.attempt, slack_post.c.part == post.part)
    with engine.begin() as conn:
        conn.execute(slack_post.update().where(*key).values(ts=post.ts, thread_ts=post.thread_ts))


def release_slack_post(engine: Engine, post: PostRecord) -> None:
    """Drop a claim whose message surely was not posted (Slack said no, or was never reached)."""
    key = (slack_post.c.report_date == post.report_date, slack_post.c.channel == post.channel,
           slack_post.c.attempt == post.attempt, slack_post.c.part == post.part, slack_post.c.ts == "")
    with engine.begin() as conn:
        conn.execute(slack_post.delete().where(*key))


def record_slack_post(engine: Engine, post: PostRecord) -> None:
    """Record one message (ts "" claims it before posting: a second run, here or on another host, cannot post
    it too, because the key is unique). Committed at once."""
    with engine.begin() as conn:
        conn.execute(slack_post.insert().values(
            report_date=post.report_date, channel=post.channel, attempt=post.attempt, part=post.part,
            parts=post.parts, ts=post.ts, thread_ts=post.thread_ts, posted_at=utcnow()))
