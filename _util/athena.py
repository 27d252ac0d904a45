"""Athena: client seam, one query run to the end (start, poll, fail/cancel, the typed result read from S3), its
price, and the daily-cost query of COST_SOURCE=athena (the SQL text itself is written elsewhere).

Results are read from the result file every SELECT writes (ResultConfiguration.OutputLocation, `<id>.csv`), streamed
through pyarrow's CSV reader with the column types Athena reports (one GetQueryResults call for the metadata), not
paged through GetQueryResults (1,000 rows a call). Why not UNLOAD to Parquet: the daily query returns an aggregate
(days x services x breakdowns: a few MB to ~100 MB of CSV at 20,000 series), small next to what it scans; the CSV is
written anyway by the workgroup (also where it enforces its own location), needs no second S3 prefix kept empty, no
s3:ListBucket on the result location, no clean-up of Parquet files per run, and works with result reuse; decimals
stay exact in its text. GetQueryResults paging remains for an execution without an OutputLocation (Athena's managed
query results), bounded to ATHENA_FALLBACK_MAX_PAGES pages.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .config import Settings

log = logging.getLogger(__name__)

MB = 1024 ** 2
TB = 1024 ** 4
# Athena's price: USD 5 per TB scanned, each query rounded up to the megabyte with a 10 MB minimum. Failed queries
# are free; cancelled ones pay for what they scanned; reused results scan (and cost) nothing.
ATHENA_USD_PER_TB = Decimal(5)
ATHENA_MIN_MB = 10
# Each API call (start, poll, stop, results metadata) answers in well under a second: 20 s read timeout, 5 attempts
# shared with throttling (TooManyRequestsException), which botocore backs off. StartQueryExecution is safe to retry:
# botocore fills its ClientRequestToken once per call, so a retried start does not run the query twice.
ATHENA_CONNECT_TIMEOUT_SECONDS = 5.0
ATHENA_READ_TIMEOUT_SECONDS = 20.0
ATHENA_MAX_ATTEMPTS = 5
# Polls start at POLL_SECONDS and double up to POLL_CAP_SECONDS: a 3 s query is seen done within ~1 s, a 10 min
# one costs ~130 GetQueryExecution calls (free of charge, far under the 100/s quota).
POLL_SECONDS = 0.5
POLL_CAP_SECONDS = 5.0
ATHENA_FALLBACK_MAX_PAGES = 50  # GetQueryResults pages (1,000 rows each) read when there is no result file
PAGE_ROWS = 1000
ATHENA_IAM_HINT = ("IAM needs athena:StartQueryExecution/GetQueryExecution/StopQueryExecution/GetQueryResults, "
                   "glue:GetTable/GetPartitions, s3:GetObject/ListBucket on the export and s3:PutObject/GetObject "
                   "on the result location (README \"Athena\")")
# The columns athena_daily_costs returns, in this order (export_sql.daily_cost_sql's SELECT list, as
# exports.parse_daily_frame reads it; a `unit` column is read as `currency`).
DAILY_COLUMNS = ("usage_date", "provider", "service", "breakdown", "currency", "amount")
_RUNNING = ("QUEUED", "RUNNING")


class AthenaError(RuntimeError):
    """An Athena query failed, was cancelled or timed out, or its result could not be read; one printable line
    naming the query id."""


@dataclass(frozen=True)
class AthenaResult:
    """One finished query: its id, the typed rows, bytes scanned, engine and wall time (s), and price (USD)."""

    query_id: str
    table: Any  # pyarrow.Table
    bytes_scanned: int
    engine_seconds: float
    seconds: float
    cost_usd: Decimal
    output_location: str | None = None

    @property
    def rows(self) -> int:
        return self.table.num_rows


def make_athena_client(retry_mode: str = "adaptive", max_attempts: int = ATHENA_MAX_ATTEMPTS,
                       read_timeout: float = ATHENA_READ_TIMEOUT_SECONDS,
                       connect_timeout: float = ATHENA_CONNECT_TIMEOUT_SECONDS):
    """The Athena client (boto3 default credential chain and region; AWS_ENDPOINT_URL honoured): timeouts in
    seconds, max_attempts counts every attempt; throttling and timeouts retried by botocore."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": retry_mode, "total_max_attempts": max_attempts},
                    connect_timeout=min(connect_timeout, read_timeout), read_timeout=read_timeout)
    return boto3.client("athena", config=config)


def scan_cost_usd(bytes_scanned: int, *, reused: bool = False) -> Decimal:
    """Athena's price (USD) of one query that scanned `bytes_scanned` bytes: rounded up to the MB, 10 MB minimum,
    USD 5 per TB (binary units: 1 TB = 2**40 bytes); a reused result costs nothing."""
    if reused:
        return Decimal(0)
    mb = max(math.ceil(max(bytes_scanned, 0) / MB), ATHENA_MIN_MB)
    return Decimal(mb) * ATHENA_USD_PER_TB / (TB // MB)


def poll_delays(first: float = POLL_SECONDS, cap: float = POLL_CAP_SECONDS) -> Iterator[float]:
    """Seconds to sleep before each poll: first, then doubling, never more than cap (cap >= first)."""
    delay = max(first, 0.01)
    cap = max(cap, delay)
    while True:
        yield delay
        delay = min(delay * 2, cap)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _client_error(exc: Exception) -> str:
    """One line for a botocore exception: the service's code and message, or the exception itself."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        code, message = err.get("Code") or "?", _one_line(err.get("Message") or "")
        hint = f" — {ATHENA_IAM_HINT}" if code in ("AccessDeniedException", "AccessDenied") else ""
        return f"{code}: {message}{hint}" if message else f"{code}{hint}"
    return _one_line(f"{type(exc).__name__}: {exc}")


def human_bytes(n: int) -> str:
    """Bytes in binary units, 3 significant digits (1.23 GB)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _stop(client, query_id: str) -> None:
    """StopQueryExecution, best effort: a query left running keeps scanning (and billing)."""
    try:
        client.stop_query_execution(QueryExecutionId=query_id)
        log.info("Athena query %s: StopQueryExecution sent", query_id)
    except Exception as exc:
        log.warning("Athena query %s: StopQueryExecution failed (%s); it may still be running", query_id,
                    _client_error(exc))


def _wait(client, query_id: str, limit: float, poll_seconds: float, started: float) -> dict | None:
    """Poll GetQueryExecution with bounded backoff until the query leaves QUEUED/RUNNING; past `limit`
    (time.monotonic()) return None."""
    delays = poll_delays(poll_seconds, max(POLL_CAP_SECONDS, poll_seconds))
    while True:
        execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution.get("Status", {}).get("State", "?")
        if state not in _RUNNING:
            return execution
        remaining = limit - time.monotonic()
        if remaining <= 0:
            return None
        log.debug("Athena query %s %s after %.1f s", query_id, state, time.monotonic() - started)
        time.sleep(min(next(delays), remaining))


def run_query(client, sql: str, *, database: str, workgroup: str, output_location: str | None,
              timeout_seconds: float, poll_seconds: float = POLL_SECONDS, s3_client=None,
              deadline: float | None = None) -> AthenaResult:
    """Run one Athena query to the end and read its rows (pyarrow Table typed as Athena reports them).

    timeout_seconds bounds the wait for the query (s); deadline (a time.monotonic() instant, e.g. the run's end)
    bounds it too. Past either the query is stopped and AthenaError says "cancelled after N s". FAILED or CANCELLED:
    AthenaError with the query id and Athena's reason. The run's own deadline (RunTimeout) or Ctrl-C stops the query
    before propagating."""
    started = time.monotonic()
    limit = started + timeout_seconds
    why = f"ATHENA_TIMEOUT_SECONDS={timeout_seconds:g}"
    if deadline is not None and deadline < limit:
        limit, why = deadline, "the run's deadline (RUN_TIMEOUT_SECONDS) is near"
    request: dict[str, Any] = {"QueryString": sql, "QueryExecutionContext": {"Database": database},
                               "WorkGroup": workgroup}
    if output_location:  # else the workgroup's own result location (which it may enforce anyway)
        request["ResultConfiguration"] = {"OutputLocation": output_location}
    try:
        query_id = client.start_query_execution(**request)["QueryExecutionId"]
    except Exception as exc:
        raise AthenaError(f"Athena could not start the query (workgroup {workgroup}, database {database}): "
                          f"{_client_error(exc)}") from None
    log.info("Athena query %s started (workgroup %s, database %s)", query_id, workgroup, database)
    try:
        execution = _wait(client, query_id, limit, poll_seconds, started)
    except BaseException as exc:  # RunTimeout, Ctrl-C, GetQueryExecution failing after retries: do not leave it running
        _stop(client, query_id)
        if isinstance(exc, Exception):
            raise AthenaError(f"Athena query {query_id}: cannot follow it ({_client_error(exc)}); stopped") from None
        raise
    if execution is None:
        _stop(client, query_id)
        elapsed = time.monotonic() - started
        log.info("Athena query %s CANCELLED after %.1f s", query_id, elapsed)
        raise AthenaError(f"Athena query {query_id} cancelled after {elapsed:.0f} s ({why})")

    status, stats = execution.get("Status", {}), execution.get("Statistics", {})
    state = status.get("State", "?")
    scanned = int(stats.get("DataScannedInBytes") or 0)
    reused = bool(stats.get("ResultReuseInformation", {}).get("ReusedPreviousResult"))
    engine_s = (stats.get("EngineExecutionTimeInMillis") or 0) / 1000
    if state != "SUCCEEDED":
        cost = scan_cost_usd(scanned, reused=reused) if state == "CANCELLED" else Decimal(0)
        log.info("Athena query %s %s after %.1f s: scanned %s (USD %.6f)", query_id, state,
                 time.monotonic() - started, human_bytes(scanned), cost)
        reason = _one_line(status.get("StateChangeReason", ""))
        detail = _one_line(status.get("AthenaError", {}).get("ErrorMessage", ""))
        if detail and detail not in reason:
            reason = f"{reason} — {detail}" if reason else detail
        raise AthenaError(f"Athena query {query_id} {state}: {reason or 'no reason given'}")

    output = (execution.get("ResultConfiguration") or {}).get("OutputLocation")
    cost = scan_cost_usd(scanned, reused=reused)
    try:
        if output:
            types = _column_types(client.get_query_results(QueryExecutionId=query_id, MaxResults=1))
            table = read_result_csv(s3_client or _s3(), output, types)
        else:
            table = _page_results(client, query_id)
    except Exception as exc:
        log.info("Athena query %s SUCCEEDED: scanned %s (USD %.6f), %.1f s; its result cannot be read", query_id,
                 human_bytes(scanned), cost, time.monotonic() - started)
        if isinstance(exc, AthenaError):
            raise AthenaError(f"Athena query {query_id}: {exc}") from None
        where = output or "GetQueryResults"
        raise AthenaError(f"Athena query {query_id}: cannot read its result {where}: {_client_error(exc)}") from None
    elapsed = time.monotonic() - started
    log.info("Athena query %s SUCCEEDED: scanned %s (USD %.6f%s), %d rows, %.1f s (engine %.1f s)", query_id,
             human_bytes(scanned), cost, ", reused result" if reused else "", table.num_rows, elapsed, engine_s)
    return AthenaResult(query_id, table, scanned, engine_s, elapsed, cost, output)


def _s3():
    from .site import make_s3_client

    return make_s3_client()


# ---- result types and readers -------------------------------------------------------------------------------------


def arrow_type(info: dict):
    """The pyarrow type for one Athena ColumnInfo (decimal(p, s) exact; unknown or nested types as strings)."""
    import pyarrow as pa

    name = str(info.get("Type", "varchar")).lower()
    simple = {"boolean": pa.bool_(), "tinyint": pa.int8(), "smallint": pa.int16(), "integer": pa.int32(),
              "int": pa.int32(), "bigint": pa.int64(), "real": pa.float32(), "float": pa.float64(),
              "double": pa.float64(), "date": pa.date32(), "timestamp": pa.timestamp("ms")}
    if name == "decimal":
        precision, scale = int(info.get("Precision") or 38), int(info.get("Scale") or 0)
        return pa.decimal128(min(max(precision, 1), 38), scale)
    return simple.get(name, pa.string())


def _column_types(response: dict) -> dict[str, Any]:
    """{column name: pyarrow type} from a GetQueryResults response's metadata, in the SELECT list's order."""
    infos = response.get("ResultSet", {}).get("ResultSetMetadata", {}).get("ColumnInfo", [])
    return {info.get("Name") or info.get("Label"): arrow_type(info) for info in infos}


def read_result_csv(s3_client, url: str, types: dict[str, Any]):
    """Stream Athena's result file (header row, every value quoted, NULL as an empty unquoted field) into a typed
    pyarrow Table; a quoted "" stays an empty string."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    bucket, _, key = url.removeprefix("s3://").partition("/")
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        convert = pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                       quoted_strings_can_be_null=False,
                                       timestamp_parsers=["%Y-%m-%d %H:%M:%S.%f", pacsv.ISO8601])
        # 4 MB blocks: a few batches for a typical daily answer, bounded memory for a large one.
        reader = pacsv.open_csv(body, read_options=pacsv.ReadOptions(block_size=4 * MB),
                                convert_options=convert)
        table = reader.read_all()
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):  # a SELECT with no rows still writes the header; tolerate a bare file
            return pa.table({name: pa.array([], type=t) for name, t in types.items()})
        raise AthenaError(f"result file {url} does not parse: {_one_line(str(exc))}") from None
    finally:
        body.close()
    return table


def _page_results(client, query_id: str):
    """Rows through GetQueryResults (no result file): at most ATHENA_FALLBACK_MAX_PAGES pages, typed like the CSV."""
    import pyarrow as pa
    import pyarrow.compute as pc

    types: dict[str, Any] | None = None
    columns: list[list[str | None]] = []
    token, pages = None, 0
    while True:
        if pages >= ATHENA_FALLBACK_MAX_PAGES:
            raise AthenaError(f"more than {ATHENA_FALLBACK_MAX_PAGES * PAGE_ROWS} rows and no result file: "
                              "set ATHENA_OUTPUT_LOCATION (or a result location on the workgroup)")
        kwargs = {"QueryExecutionId": query_id, "MaxResults": PAGE_ROWS}
        if token:
            kwargs["NextToken"] = token
        page = client.get_query_results(**kwargs)
        pages += 1
        rows = page.get("ResultSet", {}).get("Rows", [])
        if types is None:
            types = _column_types(page)
            columns = [[] for _ in types]
            names = list(types)
            if rows and [c.get("VarCharValue") for c in rows[0].get("Data", [])] == names:
                rows = rows[1:]  # a SELECT's first row holds the column labels
        for row in rows:
            data = row.get("Data", [])
            for i, column in enumerate(columns):
                column.append(data[i].get("VarCharValue") if i < len(data) else None)
        token = page.get("NextToken")
        if not token:
            break
    types = types or {}
    arrays = [pc.cast(pa.array(values, type=pa.string()), t) for values, t in zip(columns, types.values(), strict=True)]
    return pa.table(arrays, names=list(types)) if arrays else pa.table({})


# ---- the daily costs of COST_SOURCE=athena ------------------------------------------------------------------------


def daily_cost_table(table):
    """The daily query's rows as DAILY_COLUMNS: usage_date date32, provider/service/breakdown/currency strings
    (provider and breakdown "" when absent or NULL), amount as Athena typed it (decimal exact, or float64)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = {name.lower(): name for name in table.column_names}
    if "currency" not in names and "unit" in names:
        names["currency"] = names["unit"]
    missing = [c for c in ("usage_date", "service", "amount", "currency") if c not in names]
    if missing:
        raise AthenaError(f"the daily query returned no {', '.join(missing)} column(s) "
                          f"(got {', '.join(table.column_names) or 'none'}; expected {', '.join(DAILY_COLUMNS)})")
    n = table.num_rows

    def col(name):
        return table.column(names[name])

    def text(name):
        if name not in names:
            return pa.array([""] * n, type=pa.string())
        return pc.fill_null(pc.cast(col(name), pa.string()), "")

    day = col("usage_date")
    if pa.types.is_timestamp(day.type) or pa.types.is_string(day.type):
        day = pc.cast(day, pa.date32())
    amount = col("amount")
    if not (pa.types.is_decimal(amount.type) or pa.types.is_floating(amount.type)):
        amount = pc.cast(amount, pa.float64())
    out = pa.table([day, text("provider"), pc.cast(col("service"), pa.string()), text("breakdown"),
                    text("currency"), amount], names=list(DAILY_COLUMNS))
    for name in ("usage_date", "service"):
        nulls = out.column(name).null_count
        if nulls:
            raise AthenaError(f"the daily query returned {nulls} row(s) with a NULL {name}")
    return out


def athena_daily_costs(settings: Settings, sql: str, *, client=None, s3_client=None, deadline: float | None = None):
    """Run the daily-cost SQL in the settings' Athena database and workgroup; the rows as daily_cost_table, with
    the query id, bytes scanned and price (USD) in the schema metadata (athena_query_id, athena_bytes_scanned,
    athena_cost_usd)."""
    if client is None:
        client = make_athena_client()
    if s3_client is None:
        from .site import make_s3_client

        s3_client = make_s3_client(settings)
    result = run_query(client, sql, database=settings.athena_database, workgroup=settings.athena_workgroup,
                       output_location=settings.athena_output_location or None,
                       timeout_seconds=settings.athena_timeout_seconds, s3_client=s3_client, deadline=deadline)
    table = daily_cost_table(result.table)
    return table.replace_schema_metadata({"athena_query_id": result.query_id,
                                          "athena_bytes_scanned": str(result.bytes_scanned),
                                          "athena_cost_usd": str(result.cost_usd)})


@dataclass(frozen=True)
class GlueTable:
    """The export's table as Glue GetTable describes it (a free call): its columns {name as Glue spells it (lower
    case for a DDL table): Glue type} and partition keys."""

    name: str
    columns: dict[str, str]
    partition_keys: tuple[str, ...] = ()

    @property
    def partitioned(self) -> bool:
        """True when the table has the billing_period partition to prune on."""
        from .export_sql import PARTITION_COLUMN

        return PARTITION_COLUMN in {k.lower() for k in self.partition_keys}

    @property
    def tags(self) -> str:
        """How FOCUS Tags is stored: "map" (Parquet tables, as Data Exports write it) or "json" (text)."""
        kind = next((t for c, t in self.columns.items() if c.lower() == "tags"), "")
        return "map" if kind.lower().startswith("map") else "json"


def glue_table(settings: Settings, *, glue_client=None) -> GlueTable:
    """ATHENA_DATABASE.ATHENA_TABLE from Glue GetTable; AthenaError (one line naming it) when it cannot be read."""
    glue_client = glue_client or make_glue_client()
    where = f"{settings.athena_database}.{settings.athena_table}"
    try:
        table = glue_client.get_table(DatabaseName=settings.athena_database, Name=settings.athena_table)["Table"]
    except Exception as exc:
        raise AthenaError(f"table {where} (Glue GetTable): {_client_error(exc)}") from None
    columns = {c["Name"]: str(c.get("Type", "")) for c in (table.get("StorageDescriptor") or {}).get("Columns") or []}
    if not columns:
        raise AthenaError(f"table {where} has no columns in Glue (create it with docs/athena/*.sql)")
    keys = tuple(k["Name"] for k in table.get("PartitionKeys") or [])
    return GlueTable(where, columns, keys)


def table_ref(name: str) -> str:
    """ATHENA_TABLE as the query names it: as is, or double-quoted where it is not a plain identifier (a-b)."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def daily_query(settings: Settings, table: GlueTable, start, end, periods=None):
    """The export_sql.ExportQuery of COST_SOURCE=athena for days [start, end] (dates) and the billing periods
    `periods` (None: all of them): the table's real columns from Glue, its Tags type and partitioning; EXPORT_FORMAT,
    or (unset) the format the columns show. A column the query needs that the table lacks: ExportError naming it."""
    from . import export_sql, exports

    fmt = exports.detect_format(table.columns, settings.export_format)
    if not settings.export_format:
        log.info("EXPORT_FORMAT unset: table %s has %s's columns", table.name, "CUR 2.0" if fmt == "cur2" else "FOCUS")
    exports.check_columns(fmt, table.columns, settings.cost_metric, settings.group_by)
    return export_sql.ExportQuery(fmt, start, end, settings.cost_metric, settings.group_by,
                                  tuple(settings.exclude_record_types), table_ref(settings.athena_table),
                                  frozenset(table.columns), table.tags, table.partitioned,
                                  None if periods is None else tuple(periods))


# ---- pre-flight (--dry-run) ---------------------------------------------------------------------------------------


def make_glue_client(read_timeout: float = ATHENA_READ_TIMEOUT_SECONDS):
    """The Glue Data Catalog client (the export's table definition), bounded like the Athena client."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 3},
                    connect_timeout=min(ATHENA_CONNECT_TIMEOUT_SECONDS, read_timeout), read_timeout=read_timeout)
    return boto3.client("glue", config=config)


def preflight_problems(settings: Settings, *, client=None, glue_client=None) -> tuple[list[str], list[str]]:
    """(what was found, what is wrong) for COST_SOURCE=athena without running a query (free calls only):
    GetWorkGroup (enabled, a result location, its scan limit) and Glue GetTable (the export's table)."""
    found: list[str] = []
    wrong: list[str] = []
    client = client or make_athena_client(retry_mode="standard", max_attempts=3)
    glue_client = glue_client or make_glue_client()
    try:
        group = client.get_work_group(WorkGroup=settings.athena_workgroup).get("WorkGroup")
        if not group:
            raise LookupError("no such workgroup")
    except Exception as exc:
        wrong.append(f"workgroup {settings.athena_workgroup}: {_client_error(exc)}")
    else:
        config = group.get("Configuration", {})
        own = (config.get("ResultConfiguration") or {}).get("OutputLocation")
        managed = (config.get("ManagedQueryResultsConfiguration") or {}).get("Enabled")
        enforced = config.get("EnforceWorkGroupConfiguration")
        results = own if own and (enforced or not settings.athena_output_location) else (
            settings.athena_output_location or ("managed by Athena" if managed else ""))
        limit = config.get("BytesScannedCutoffPerQuery")
        if group.get("State", "ENABLED") != "ENABLED":
            wrong.append(f"workgroup {settings.athena_workgroup} is {group.get('State')}")
        if not results:
            wrong.append(f"workgroup {settings.athena_workgroup} has no result location: set ATHENA_OUTPUT_LOCATION")
        found.append(f"workgroup {settings.athena_workgroup}: results {results or 'nowhere'}, "
                     + (f"scan limit {human_bytes(limit)}/query" if limit else "no scan limit (README \"Athena\")"))
    try:
        table = glue_client.get_table(DatabaseName=settings.athena_database, Name=settings.athena_table)["Table"]
    except Exception as exc:
        wrong.append(f"table {settings.athena_database}.{settings.athena_table}: {_client_error(exc)}")
    else:
        columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
        keys = [k.get("Name") for k in table.get("PartitionKeys") or []]
        where = f"{settings.athena_database}.{settings.athena_table}"
        found.append(f"table {where}: {len(columns)} columns"
                     + (f", partitioned by {', '.join(keys)}" if keys else ", not partitioned (every query scans all)"))
        # the daily query written for these columns (pure): a column or setting it cannot use is said now, unpaid
        from .costexplorer import CostDataError
        from .export_sql import daily_cost_sql

        glue = GlueTable(where, {c.get("Name", ""): str(c.get("Type", "")) for c in columns}, tuple(keys))
        try:
            daily_cost_sql(daily_query(settings, glue, settings.day, settings.day))
        except (CostDataError, ValueError) as exc:
            wrong.append(f"table {where}: {exc}")
    return found, wrong
