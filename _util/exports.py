"""COST_SOURCE=export: AWS Data Exports (FOCUS 1.x or CUR 2.0) as files — local or s3:// — read with DuckDB.

The files are found and versioned here (one version per billing period: the newest), put behind one DuckDB view,
and queried with export_sql's query (the SQL Athena runs, transpiled). duckdb and pyarrow are an optional extra
(requirements-export.txt): imported only inside these functions.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from . import export_sql
from .costexplorer import CostDataError, ParsedCosts
from .model import CostColumns, CostRow

log = logging.getLogger(__name__)

# AWS may revise a billing period's export during the two weeks after the period ends (Data Exports, "Export
# refreshing"): its days stay Estimated until then, and are fetched again (whole period) while Estimated.
FINAL_AFTER_DAYS = 15
AWS_PROVIDERS = ("AWS", "Amazon Web Services")  # their services keep Cost Explorer's names, never qualified
DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz")
_PERIOD = re.compile(r"billing_period=(\d{4}-\d{2})", re.IGNORECASE)

# Columns renamed between FOCUS versions: the column this reads -> (the older/newer name, the version it is from).
FOCUS_RENAMES = {
    "ChargeCategory": ("ChargeType", "FOCUS 0.5 / 1.0-preview"),
    "EffectiveCost": ("AmortizedCost", "FOCUS 0.5"),
    "RegionId": ("Region", "FOCUS 0.5"),
    "ProviderName": ("ServiceProviderName", "FOCUS 1.3 (ProviderName deprecated)"),
    "ChargePeriodStart": ("UsageDateStart", "FOCUS 0.5-draft"),
}


class ExportError(CostDataError):
    """The export cannot be read as asked (one line: the file/column/setting and why)."""


@dataclass(frozen=True)
class ExportFile:
    """One data file of the export: where it is, its billing period (from BILLING_PERIOD=YYYY-MM in its path, or
    None), its version (the sub-folder under the period; '' = none), size (bytes) and mtime (epoch seconds)."""

    path: str
    period: str | None
    version: str
    size: int
    mtime: float

    @property
    def kind(self) -> str:
        return "parquet" if self.path.lower().endswith(".parquet") else "csv"


def _is_data(name: str) -> bool:
    return name.lower().endswith(DATA_SUFFIXES)


def _describe(path: str, root: str, size: int, mtime: float) -> ExportFile:
    matches = list(_PERIOD.finditer(path))  # the innermost BILLING_PERIOD= folder
    if not matches:
        return ExportFile(path, None, "", size, mtime)
    match = matches[-1]
    rest = path[match.end():].lstrip("/")
    version = rest.rsplit("/", 1)[0] if "/" in rest else ""
    return ExportFile(path, match.group(1), version, size, mtime)


def make_s3_filesystem():
    """pyarrow's S3 filesystem (boto3's default credential chain via env/profile; AWS_ENDPOINT_URL_S3 /
    AWS_ENDPOINT_URL honoured as boto3 does)."""
    import boto3
    from pyarrow import fs

    session = boto3.Session()
    creds = session.get_credentials()
    frozen = creds.get_frozen_credentials() if creds else None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs = {"region": session.region_name or "us-east-1"}
    if frozen:
        kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    return fs.S3FileSystem(**kwargs)


def discover(inputs: Sequence[str | Path], *, s3fs=None) -> list[ExportFile]:
    """Every data file (Parquet, CSV, CSV.gz) under the inputs (files or folders; local or s3://bucket/prefix)."""
    found: list[ExportFile] = []
    for raw in inputs:
        text = str(raw)
        if text.startswith("s3://"):
            from pyarrow import fs

            s3fs = s3fs or make_s3_filesystem()
            base = text[len("s3://"):].rstrip("/")
            info = s3fs.get_file_info(base)
            infos = [info] if info.type == fs.FileType.File else s3fs.get_file_info(
                fs.FileSelector(base, recursive=True, allow_not_found=True))
            for i in infos:
                if i.type == fs.FileType.File and _is_data(i.path):
                    found.append(_describe("s3://" + i.path, text, i.size or 0,
                                           i.mtime.timestamp() if i.mtime else 0.0))
            continue
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_data(p.name))
        elif path.is_file():
            files = [path]
        else:
            raise ExportError(f"--input {text}: no such file or folder")
        for p in files:
            st = p.stat()
            found.append(_describe(p.as_posix(), text, st.st_size, st.st_mtime))
    if not found:
        raise ExportError(f"--input {', '.join(str(i) for i in inputs)}: no Parquet or CSV(.gz) files found")
    return found


def newest_versions(files: Iterable[ExportFile]) -> list[ExportFile]:
    """One version per billing period: the newest (latest file mtime, then the greatest version name); logged."""
    by_period: dict[str | None, dict[str, list[ExportFile]]] = {}
    for f in files:
        by_period.setdefault(f.period, {}).setdefault(f.version, []).append(f)
    out: list[ExportFile] = []
    for period, versions in sorted(by_period.items(), key=lambda kv: kv[0] or ""):
        if period is None or len(versions) == 1:
            for group in versions.values():
                out.extend(group)
            continue
        newest = max(versions, key=lambda v: (max(f.mtime for f in versions[v]), v))
        log.info("billing period %s: %d export versions (%s); using the newest, %s", period, len(versions),
                 ", ".join(sorted(v or "(top level)" for v in versions)), newest or "(top level)")
        out.extend(versions[newest])
    return sorted(out, key=lambda f: f.path)


def fingerprint(files: Iterable[ExportFile]) -> dict[str, str]:
    """billing period -> a text that changes when the period's chosen files change (names, sizes, mtimes)."""
    parts: dict[str, list[str]] = {}
    for f in files:
        parts.setdefault(f.period or "", []).append(f"{f.path}|{f.size}|{int(f.mtime)}")
    return {p: "\n".join(sorted(v)) for p, v in parts.items()}


@dataclass
class ExportTable:
    """The chosen files behind one DuckDB view (`cost_export`): its connection, format, columns, files."""

    con: object
    fmt: str
    columns: frozenset[str]
    files: list[ExportFile]
    partitioned: bool
    tags: str = "json"
    tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def query(self, start: date, end: date, *, metric: str = "UnblendedCost", group_by: str = "",
              exclude: tuple[str, ...] = ()) -> export_sql.ExportQuery:
        """The ExportQuery for days [start, end] on this table."""
        return export_sql.ExportQuery(self.fmt, start, end, metric, group_by, tuple(exclude), "cost_export",
                                      self.columns, self.tags, self.partitioned)

    def run_arrow(self, trino_sql: str):
        """Run Trino SQL (transpiled to DuckDB) and return a pyarrow Table (amounts exact: decimal128)."""
        return self.con.sql(export_sql.to_duckdb(trino_sql)).to_arrow_table()

    def run(self, trino_sql: str):
        """Run Trino SQL (transpiled to DuckDB) and return a pandas DataFrame (amounts exact: Decimal objects)."""
        return self.run_arrow(trino_sql).to_pandas()

    def close(self) -> None:
        self.con.close()
        if self.tmp is not None:
            self.tmp.cleanup()


def detect_format(columns: Iterable[str], fmt: str = "") -> str:
    """EXPORT_FORMAT, or (unset) the format the columns show; unknown value or unknown columns fail naming them."""
    if fmt:
        return export_sql.check_format(fmt)
    lower = {c.lower() for c in columns}
    if "line_item_usage_start_date" in lower:
        return "cur2"
    if lower & {"chargeperiodstart", "billedcost", "chargetype", "usagedatestart"}:
        return "focus"
    raise ExportError("EXPORT_FORMAT is unset and the files look like neither FOCUS (ChargePeriodStart, BilledCost) "
                      "nor CUR 2.0 (line_item_usage_start_date): set EXPORT_FORMAT=focus or cur2")


def check_columns(fmt: str, columns: Iterable[str], metric: str, group_by: str) -> None:
    """Fail naming the first column the query needs that the export lacks (and the FOCUS version it looks like)."""
    lower = {c.lower() for c in columns}
    if fmt == "focus":
        need = list(export_sql.FOCUS_COLUMNS) + [export_sql.FOCUS_METRICS.get(metric, "BilledCost")]
        if group_by in ("REGION",):
            need.append("RegionId")
        if group_by == "LINKED_ACCOUNT":
            need.append("SubAccountId")
        for col in need:
            if col.lower() in lower:
                continue
            old = FOCUS_RENAMES.get(col)
            if old and old[0].lower() in lower:
                raise ExportError(f"the export has no {col} column but has {old[0]}: it looks like {old[1]}; "
                                  f"this reads FOCUS 1.0–1.2 (re-create the export as FOCUS 1.0 or 1.2)")
            raise ExportError(f"the export has no {col} column (FOCUS 1.0–1.2 has it): not a complete FOCUS export")
    else:
        need = list(export_sql.CUR_COLUMNS)
        if metric in export_sql.CUR_METRICS and metric != "AmortizedCost":
            need.append(export_sql.CUR_METRICS[metric])
        for col in need:
            if col.lower() not in lower:
                raise ExportError(f"the export has no {col} column: not a CUR 2.0 export (set EXPORT_FORMAT?)")


def _local_copies(files: list[ExportFile], s3fs=None) -> tuple[list[str], tempfile.TemporaryDirectory | None]:
    """Local paths of the files: s3:// ones copied under a temporary folder (keeping their key, so BILLING_PERIOD=
    stays in the path) — DuckDB's httpfs extension is not needed."""
    remote = [f for f in files if f.path.startswith("s3://")]
    if not remote:
        return [f.path for f in files], None
    s3fs = s3fs or make_s3_filesystem()
    tmp = tempfile.TemporaryDirectory(prefix="cost-export-")
    paths = []
    for f in files:
        if not f.path.startswith("s3://"):
            paths.append(f.path)
            continue
        key = f.path[len("s3://"):]
        target = Path(tmp.name) / key
        target.parent.mkdir(parents=True, exist_ok=True)
        with s3fs.open_input_stream(key) as src, open(target, "wb") as dst:
            while chunk := src.read(8 << 20):
                dst.write(chunk)
        paths.append(target.as_posix())
    return paths, tmp


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def open_export(inputs: Sequence[str | Path], fmt: str = "", *, s3fs=None, periods: Iterable[str] | None = None
                ) -> ExportTable:
    """The export's newest files (only those of `periods`, YYYY-MM, when given) behind DuckDB view cost_export."""
    import duckdb

    files = newest_versions(discover(inputs, s3fs=s3fs))
    if periods is not None:
        wanted = set(periods)
        files = [f for f in files if f.period is None or f.period in wanted]
    kinds = {f.kind for f in files}
    if len(kinds) > 1:
        raise ExportError("the inputs mix Parquet and CSV files: give one kind per run")
    paths, tmp = _local_copies(files, s3fs)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # stderr is the cron log
    # Every query orders its own result: rows need not keep the files' order (less memory, streaming aggregates).
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET threads = {max(1, os.cpu_count() or 1)}")
    # Usage days are UTC dates (as Cost Explorer's): a zoned timestamp must not move with the host's time zone.
    con.execute("SET TimeZone = 'UTC'")
    partitioned = bool(files) and all(f.period for f in files)
    if not files:
        con.execute("CREATE VIEW cost_export AS SELECT NULL AS billing_period WHERE false")
        return ExportTable(con, export_sql.check_format(fmt) if fmt else "focus", frozenset(), [], False, tmp=tmp)
    if kinds == {"parquet"}:
        source = f"read_parquet({_sql_list(paths)}, union_by_name = true, filename = true)"
    else:
        # FOCUS CSV as AWS and the FinOps sample write it: unquoted NULL literals, "" inside quoted JSON; every
        # column read as text (amounts cast exactly in the query: 11 decimals kept).
        source = (f"read_csv({_sql_list(paths)}, header = true, all_varchar = true, nullstr = 'NULL', "
                  f"quote = '\"', escape = '\"', union_by_name = true, filename = true)")
    period = r"regexp_extract(filename, '(?i)billing_period=(\d{4}-\d{2})', 1)"
    # Parquet stays a view (each query reads only its columns); CSV is parsed once into a table (spills to disk).
    kind = "VIEW" if kinds == {"parquet"} else "TEMP TABLE"
    con.execute(f"CREATE {kind} cost_export AS SELECT * EXCLUDE (filename), {period} AS billing_period "  # noqa: S608
                f"FROM {source}")
    columns = frozenset(r[0] for r in con.execute("DESCRIBE cost_export").fetchall()) - {"billing_period"}
    detected = detect_format(columns, fmt)
    if not fmt:
        log.info("EXPORT_FORMAT unset: the columns are %s's", "CUR 2.0" if detected == "cur2" else "FOCUS")
    tags = "json"
    if detected == "focus" and "tags" in {c.lower() for c in columns}:
        kind = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'cost_export' "
                           "AND lower(column_name) = 'tags'").fetchall()
        tags = "map" if kind and str(kind[0][0]).upper().startswith("MAP") else "json"
    return ExportTable(con, detected, columns, files, partitioned, tags, tmp)


def is_estimated(period: str, today: date) -> bool:
    """True while AWS may still revise the billing period (until FINAL_AFTER_DAYS after it ends)."""
    y, m = int(period[:4]), int(period[5:7])
    end = date(y + (m == 12), m % 12 + 1, 1)  # first day after the period
    return today < end + timedelta(days=FINAL_AFTER_DAYS)


def qualify(provider: str, service: str, providers: set[str] | None = None) -> str:
    """The stored service name: AWS's as the export names it; any other provider's prefixed "<provider>: " —
    always, so a service keeps one name whichever providers a run's billing periods happen to hold."""
    if provider and provider not in AWS_PROVIDERS:
        return f"{provider}: {service}"
    return service


def daily_costs(table: ExportTable, start: date, end: date, *, metric: str, group_by: str,
                exclude: tuple[str, ...], today: date) -> ParsedCosts:
    """Daily cost per service (and breakdown) of days [start, end] as Cost Explorer's ParsedCosts: every day the
    export has a line item for in the range is answered (with no rows where its cost was excluded),
    Estimated by billing period."""
    check_columns(table.fmt, table.columns, metric, group_by)
    if not table.files:
        return ParsedCosts()
    q = table.query(start, end, metric=metric, group_by=group_by, exclude=exclude)
    t0 = time.perf_counter()
    frame = table.run_arrow(export_sql.daily_cost_sql(q))
    covered = _column(table.run_arrow(export_sql.covered_days_sql(q)), "usage_date")
    parsed = parse_daily_frame(frame, start, end, today, covered)
    seconds = time.perf_counter() - t0
    lines = _total(frame, "line_items")
    log.info("export %s..%s: %d line items from %d file(s) in %.2f s (%.0f rows/s): %s", start, end, lines,
             len(table.files), seconds, lines / seconds if seconds else 0,
             ", ".join(f.path for f in table.files[:5]) + (f" and {len(table.files) - 5} more"
                                                            if len(table.files) > 5 else ""))
    return parsed


def _total(frame, name: str) -> int:
    """The sum of an integer column (pyarrow Table or pandas DataFrame)."""
    if hasattr(frame, "column_names"):
        import pyarrow.compute as pc

        return int(pc.sum(frame.column(name)).as_py() or 0)
    return int(frame[name].sum())


def _as_date(value) -> date:
    return value.date() if hasattr(value, "date") else value


def _column(frame, name: str) -> list:
    """One column as a Python list, from a pyarrow Table (C-speed conversion) or a pandas DataFrame."""
    if hasattr(frame, "column_names"):
        import pyarrow as pa
        import pyarrow.compute as pc

        col = frame.column(name)
        if pa.types.is_decimal(col.type):  # text then Decimal: twice as fast as Arrow's own Decimal objects
            return list(map(Decimal, pc.cast(col, pa.string()).to_pylist()))
        if pa.types.is_date(col.type) or pa.types.is_string(col.type):  # few distinct values: converted once each
            encoded = pc.dictionary_encode(col.combine_chunks())
            values = encoded.dictionary.to_pylist()
            return [values[i] for i in encoded.indices.to_numpy(zero_copy_only=False)]
        return col.to_pylist()
    return frame[name].tolist()


def parse_daily_frame(frame, start: date, end: date, today: date, covered: Iterable | None = None) -> ParsedCosts:
    """The rows of export_sql.daily_cost_sql's result (a pyarrow Table, as DuckDB and Athena's result file give
    it, or a pandas DataFrame) as ParsedCosts, the same for both sources: other providers' services qualified
    by provider (qualify), one currency or an ExportError naming them, amounts exact. Days answered: each billing period's days
    from its 1st (or start) to its last covered day (later days are not exported yet), `covered` = the days with
    any line item (default: the days with a row in frame)."""
    # Millions of new objects and no cycles among them: the cyclic GC would rescan them all, again and again
    # (a month of 900,000 series-days: 11 s with it, a few without).
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _parse_daily_frame(frame, start, end, today, covered)
    finally:
        if gc_was_on:
            gc.enable()


def _parse_daily_frame(frame, start: date, end: date, today: date, covered: Iterable | None) -> ParsedCosts:
    parsed = ParsedCosts()
    arrow = hasattr(frame, "column_names")
    if arrow and frame.num_rows and _columnar(frame):  # distinct values only: no Python object per row
        usage_days = [_as_date(v) for v in _distinct(frame, "usage_date")]
        usage = None
    else:
        usage = _column(frame, "usage_date")
        if usage and (isinstance(usage[0], datetime) or not isinstance(usage[0], date)):  # timestamps: their dates
            usage = [_as_date(v) for v in usage]
        usage_days = list(set(usage))
    days = usage_days if covered is None else [_as_date(v) for v in covered]
    last_by_period: dict[str, date] = {}
    for day in set(days):
        key = f"{day:%Y-%m}"
        last_by_period[key] = max(last_by_period.get(key, day), day)
    for key, last in last_by_period.items():
        first = max(start, date(int(key[:4]), int(key[5:7]), 1))
        estimated = is_estimated(key, today)
        for i in range((min(last, end) - first).days + 1):
            parsed.days[first + timedelta(days=i)] = estimated
    if not usage_days:
        return parsed
    currencies = sorted(set(_distinct(frame, "currency")) - {""})
    if len(currencies) > 1:
        raise ExportError(f"the export mixes currencies ({', '.join(currencies)}): amounts in different currencies "
                          "cannot be summed; give one currency's files per run")
    parsed.unit = unit = currencies[0] if currencies else "USD"
    estimated_of: dict[date, bool] = {}
    for day in usage_days:
        estimated_of[day] = parsed.days.get(day, is_estimated(f"{day:%Y-%m}", today))
    if usage is None:
        parsed.columns = _cost_columns(frame, unit, {day for day, est in estimated_of.items() if est})
        return parsed
    provider_col, services = _column(frame, "provider"), _column(frame, "service")
    if set(provider_col) - set(AWS_PROVIDERS):
        services = [qualify(p, s) for p, s in zip(provider_col, services, strict=True)]
    rows = parsed.rows
    amounts = _column(frame, "amount")
    if amounts and not isinstance(amounts[0], Decimal):  # a result file that typed the sum as double
        amounts = [Decimal(str(a)) for a in amounts]
    for day, service, breakdown, value in zip(usage, services, _column(frame, "breakdown"), amounts, strict=True):
        key = (day, service, breakdown)
        if key in rows:  # "AWS" and "Amazon Web Services" rows of one service: summed, counted
            parsed.duplicates += 1
            value += rows[key].amount
        rows[key] = CostRow(day, service, breakdown, value, unit, estimated_of[day])
    return parsed


def _distinct(frame, name: str) -> list:
    """The distinct values of one column (pyarrow Table or pandas DataFrame)."""
    if hasattr(frame, "column_names"):
        import pyarrow.compute as pc

        return pc.unique(frame.column(name)).to_pylist()
    return list(frame[name].unique())


def _columnar(frame) -> bool:
    """Whether a pyarrow result can be stored column-wise as it is: DATE days, exact (decimal) sums, one provider
    (AWS's: nothing to qualify) and one currency value — so, as daily_cost_sql groups and orders it, each (day, service, breakdown) is one row
    in key order. Else (other providers to qualify, several to sum, a double-typed result file) rows are built one by one."""
    import pyarrow as pa

    schema = frame.schema
    return (pa.types.is_date32(schema.field("usage_date").type) and pa.types.is_decimal(schema.field("amount").type)
            and len(providers := _distinct(frame, "provider")) == 1 and providers[0] in AWS_PROVIDERS
            and len(_distinct(frame, "currency")) == 1)


def _cost_columns(frame, unit: str, estimated_days: set[date]) -> CostColumns:
    """daily_cost_sql's pyarrow result as CostColumns (vectorised: amounts as plain exact decimal text)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    day = frame.column("usage_date").combine_chunks()
    text = pc.cast(frame.column("amount").combine_chunks(), pa.string())
    small = pc.match_substring(text, "E")  # Arrow writes |x| < 1e-6 (zero too) as 0E-12: plain, as Decimal("f")
    if pc.any(small).as_py():
        values = text.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(small.to_numpy(zero_copy_only=False)):
            values[i] = format(Decimal(values[i]), "f")
        text = pa.array(values, pa.string())
    estimated = pc.is_in(day, value_set=pa.array(sorted(estimated_days), pa.date32()))
    table = pa.table({"usage_date": day, "service": frame.column("service").combine_chunks(),
                      "breakdown": frame.column("breakdown").combine_chunks(), "amount": text,
                      "estimated": estimated})
    return CostColumns(table, unit)


def detail_frame(inputs: Sequence[str | Path], start: date, end: date, services: Iterable[str] = (), *,
                 fmt: str = "", metric: str = "UnblendedCost", exclude: tuple[str, ...] = ("Credit", "Refund"),
                 s3fs=None):
    """The long frame (export_sql.DETAIL_COLUMNS) of days [start, end] and the given services (as stored:
    qualified names allowed; none = all) from the export's files — root causes down to the resource id."""
    return drill_frame(inputs, start, end, services, fmt=fmt, metric=metric, exclude=exclude, s3fs=s3fs,
                       names=False)[0]


def drill_frame(inputs: Sequence[str | Path], start: date, end: date, services: Iterable[str] = (), *,
                fmt: str = "", metric: str = "UnblendedCost", exclude: tuple[str, ...] = ("Credit", "Refund"),
                s3fs=None, names: bool = True, group_by: str = ""):
    """(detail_frame's frame, account id -> name) from one read of the export: the root causes' line items (names
    from SubAccountName / line_item_usage_account_name where the export has them; {} with names=False); with
    group_by TAG:<key>, the frame also has that tag's column "tag:<key>"."""
    import pandas as pd

    periods = export_sql.billing_periods(start, end)
    table = open_export(inputs, fmt, s3fs=s3fs, periods=periods)
    accounts: dict[str, str] = {}
    try:
        if not table.files:
            empty = [f"tag:{group_by[4:]}"] if group_by.startswith("TAG:") else []
            return pd.DataFrame(columns=[*export_sql.DETAIL_COLUMNS, *empty]), accounts
        check_columns(table.fmt, table.columns, metric, "")
        providers = set(table.run(export_sql.providers_sql(table.query(start, end)))["provider"])
        raw = {s.split(": ", 1)[1] if s.split(": ", 1)[0] in providers - set(AWS_PROVIDERS) else s
               for s in services}
        tag = group_by if group_by.startswith("TAG:") else ""
        frame = table.run(export_sql.detail_sql(table.query(start, end, metric=metric, exclude=exclude,
                                                            group_by=tag), raw))
        sql = export_sql.account_names_sql(table.query(start, end)) if names else None
        if sql is not None:
            found = table.run(sql)
            accounts = dict(zip(found["account"].astype(str), found["name"].astype(str), strict=True))
    finally:
        table.close()
    frame["usage_date"] = frame["usage_date"].map(_as_date)
    frame["service"] = [qualify(p, s) for p, s in zip(frame["provider"], frame["service"], strict=True)]
    extra = [c for c in frame.columns if c.startswith("tag:")]
    return frame[[*export_sql.DETAIL_COLUMNS, *extra]], accounts


def last_day(inputs: Sequence[str | Path], fmt: str = "", *, s3fs=None) -> date | None:
    """The last usage day the export covers (the default report date for COST_SOURCE=export). With billing period
    folders only the newest period holding rows is read (an S3 export is not copied whole for one date)."""
    files = newest_versions(discover(inputs, s3fs=s3fs))
    periods = sorted({f.period for f in files if f.period}, reverse=True)
    if files and all(f.period for f in files):
        for period in periods:
            found = _last_day(inputs, fmt, s3fs, [period])
            if found is not None:
                return found
        return None
    return _last_day(inputs, fmt, s3fs, None)


def _last_day(inputs, fmt: str, s3fs, periods) -> date | None:
    table = open_export(inputs, fmt, s3fs=s3fs, periods=periods)
    try:
        if not table.files:
            return None
        col = "ChargePeriodStart" if table.fmt == "focus" else "line_item_usage_start_date"
        value = table.con.execute(f"SELECT max(CAST(CAST({col} AS TIMESTAMP) AS DATE)) FROM cost_export"  # noqa: S608
                                  ).fetchall()
    finally:
        table.close()
    return value[0][0] if value else None


def period_days(period: str, first: date, last: date) -> list[date]:
    """The days of billing period YYYY-MM within [first, last]."""
    y, m = int(period[:4]), int(period[5:7])
    start = max(first, date(y, m, 1))
    end = min(last, date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1))
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def plan_periods(available: Iterable[str], first: date, d: date, known: dict[date, bool],
                 changed: Iterable[str] = ()) -> list[str]:
    """The billing periods to read, oldest first: those of [first, d] the export has with a day missing from the
    database or still Estimated, or whose files changed since they were read (`changed`); each is read whole."""
    changed = set(changed)
    out = []
    for period in sorted(set(available)):
        days = period_days(period, first, d)
        if days and (period in changed or any(known.get(day, True) for day in days)):
            out.append(period)
    return out


STATE_FILE = "export_periods.json"  # under OUTPUT_DIR: billing period -> fingerprint of the files last read


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_state(path: Path) -> dict[str, str]:
    """The fingerprints of the billing periods read before ({} when none or unreadable)."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_state(path: Path, state: dict[str, str]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(state.items())), indent=1))
    tmp.replace(path)


@dataclass
class ExportFetch:
    """What one export read did: the costs, the billing periods read, the fingerprints to save once stored."""

    parsed: ParsedCosts
    periods: list[str]
    state: dict[str, str]
    files: int


def fetch(inputs: Sequence[str | Path], fmt: str, first: date, d: date, known: dict[date, bool], *,
          metric: str, group_by: str, exclude: tuple[str, ...], today: date, state: dict[str, str],
          s3fs=None) -> ExportFetch:
    """Read what the database lacks: the planned billing periods (plan_periods) of the export, whole.

    Files outside BILLING_PERIOD= folders (a single CSV) have no period to plan by: they are read for [first, d]
    every run (local files: cheap) and the days they cover replaced."""
    files = newest_versions(discover(inputs, s3fs=s3fs))
    prints = {p: _digest(t) for p, t in fingerprint(files).items()}
    available = {f.period for f in files if f.period}
    changed = {p for p in available if p in state and state[p] != prints[p]}
    for p in sorted(changed):
        log.info("billing period %s: the export's files changed since last read: its days are read again", p)
    periods = plan_periods(available, first, d, known, changed)
    loose = [f for f in files if not f.period]
    if not periods and not loose:
        return ExportFetch(ParsedCosts(), [], {}, 0)
    table = open_export(inputs, fmt, s3fs=s3fs, periods=periods)
    try:
        if periods and not loose:
            start = max(first, period_days(periods[0], first, d)[0])
            end = min(d, period_days(periods[-1], first, d)[-1])
        else:
            start, end = first, d
        parsed = daily_costs(table, start, end, metric=metric, group_by=group_by, exclude=exclude, today=today)
        if periods and not loose:  # periods between the planned ones were read in the same scan: keep only planned
            keep = {day for p in periods for day in period_days(p, first, d)}
            if parsed.columns is not None:
                if not set(parsed.days) <= keep:  # a period between the planned ones was read: drop its rows
                    parsed.columns = parsed.columns.only_days(keep)
            else:
                parsed.rows = {k: v for k, v in parsed.rows.items() if k[0] in keep}
            parsed.days = {k: v for k, v in parsed.days.items() if k in keep}
        for p in periods:  # a final period is complete: its days without a row had no cost (an empty period)
            if not is_estimated(p, today):
                for day in period_days(p, first, d):
                    parsed.days.setdefault(day, False)
        n = len(table.files)
    finally:
        table.close()
    return ExportFetch(parsed, periods, {p: prints[p] for p in periods}, n)


def athena_drill_frame(settings, start: date, end: date, services: Iterable[str] = (), *, client=None,
                       s3_client=None, glue_client=None, deadline: float | None = None):
    """COST_SOURCE=athena: drill_frame's (frame, account names) through one Athena query of export_sql.detail_sql
    over the export's table (ATHENA_DATABASE.ATHENA_TABLE, EXPORT_FORMAT), pruned to the window's billing periods;
    its scan is priced and logged by athena.run_query. Account names are not asked (a second query, another 10 MB
    minimum): {}. A service stored qualified by provider ("Microsoft: Virtual Machines") is matched as such."""
    import pandas as pd

    from . import athena

    if client is None:
        client = athena.make_athena_client()
    if s3_client is None:
        from .site import make_s3_client

        s3_client = make_s3_client(settings)
    wanted = set(services)
    raw = wanted | {s.split(": ", 1)[1] for s in wanted if ": " in s}  # a qualified name's own service too
    tag = settings.group_by if settings.group_by.startswith("TAG:") else ""
    # The table's real columns (Glue GetTable, free), as the daily query uses: FOCUS 1.0 and 1.2 name the usage
    # type differently, and a column the query needs that the table lacks is named before anything is paid for.
    q = dataclasses.replace(athena.daily_query(settings, athena.glue_table(settings, glue_client=glue_client), start,
                                               end), group_by=tag)
    result = athena.run_query(client, export_sql.detail_sql(q, raw), database=settings.athena_database,
                              workgroup=settings.athena_workgroup,
                              output_location=settings.athena_output_location or None,
                              timeout_seconds=settings.athena_timeout_seconds, s3_client=s3_client,
                              deadline=deadline)
    log.info("root causes: Athena query %s scanned %d bytes (USD %s) for %d service(s), %s..%s", result.query_id,
             result.bytes_scanned, result.cost_usd, len(wanted), start, end)
    frame = result.table.to_pandas()
    columns = [*export_sql.DETAIL_COLUMNS, *([f"tag:{tag[4:]}"] if tag else [])]
    if frame.empty:
        return pd.DataFrame(columns=columns), {}
    frame["usage_date"] = frame["usage_date"].map(_as_date)
    for col in columns:
        if col not in ("usage_date", "amount"):
            frame[col] = frame[col].fillna("").astype(str)
    qualified = frame["provider"] + ": " + frame["service"]
    frame["service"] = qualified.where(qualified.isin(wanted), frame["service"])
    return frame[columns], {}
