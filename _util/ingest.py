"""Stage 1: fetch daily costs from the configured source and store them (one CE query per run of missing days)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Engine

from . import db
from .config import Settings
from .costexplorer import (
    CE_REQUEST_USD,
    CostQuery,
    ParsedCosts,
    fetch,
    load_files,
    make_ce_client,
    plan_runs,
)
from .sample_data import SampleCostExplorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What one fetch did: first and last day asked for, CE requests made (USD 0.01 each) and rows stored."""

    source: str
    start: date | None
    end: date | None
    requests: int
    rows: int
    days: int
    estimated_days: int
    athena: AthenaUsage | None = None  # COST_SOURCE=athena: its queries, bytes scanned and their price

    @property
    def cost_usd(self) -> Decimal:
        if self.athena is not None:
            return self.athena.cost_usd
        return CE_REQUEST_USD * self.requests if self.source == "ce" else Decimal(0)


@dataclass(frozen=True)
class AthenaUsage:
    """What COST_SOURCE=athena spent in one run: queries run, their ids, bytes scanned and price (USD)."""

    queries: int = 0
    bytes_scanned: int = 0
    cost_usd: Decimal = Decimal(0)
    query_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """report.json's "athena" entry (cost a float rounded to 1e-6, as every amount there)."""
        return {"queries": self.queries, "query_ids": list(self.query_ids), "bytes_scanned": self.bytes_scanned,
                "cost_usd": round(float(self.cost_usd), 6)}


def source_today(settings: Settings) -> date:
    """Today as the source sees it (UTC): the sample world is anchored on d, so there it is always the morning
    after d, whatever the clock says."""
    return settings.day + timedelta(days=1) if settings.cost_source == "sample" else datetime.now(timezone.utc).date()


def make_cost_client(settings: Settings, today: date | None = None):
    """The GetCostAndUsage client for the source: real Cost Explorer, or the built-in sample (anchored on d)."""
    today = source_today(settings) if today is None else today
    if settings.cost_source == "sample":
        return SampleCostExplorer(anchor=settings.day, today=today)
    return make_ce_client(max_attempts=settings.ce_max_attempts, read_timeout=settings.ce_timeout_seconds)


def ingest(settings: Settings, engine: Engine, *, client=None, today: date | None = None) -> IngestResult:
    """Fetch what the database lacks (or still holds as Estimated) up to d and upsert it in one transaction.

    One paged CE query per run of such days (costexplorer.plan_runs); all of them are stored together, or nothing.
    """
    if today is None:
        today = source_today(settings)
    d = settings.day
    first = d - timedelta(days=settings.lookback_days)
    if settings.cost_source == "export":
        return _ingest_export(settings, engine, today, first)
    if settings.cost_source == "athena":
        return _ingest_athena(settings, engine, today, first, client=client)
    if settings.cost_source == "file":
        parsed = load_files(settings.input_files, settings.cost_metric)
        requests, start, end = 0, min(parsed.days, default=None), max(parsed.days, default=None)
        log.info("read %d file(s): %d rows over %d days", len(settings.input_files), len(parsed.rows),
                 len(parsed.days))
        _refuse_mixing(engine, settings, first, set(parsed.days), "the --input files do not list them")
        # A saved file may be the last page of an answer (a response does not say which request it answered):
        # it adds and updates rows, and replaces whole only the days stored under other settings.
        replace = set(db.other_settings_days(engine, first, d, settings.cost_metric, settings.group_by)) & set(
            parsed.days)
    else:
        replace = None  # every fetched day is replaced whole: Cost Explorer's answer is complete
        # Days fetched under another COST_METRIC / COST_GROUP_BY count as missing: fetched again, replaced whole.
        known = db.known_days(engine, first, d, metric=settings.cost_metric, group_by=settings.group_by)
        runs = plan_runs(d, settings.lookback_days, today, known)
        planned = {a + timedelta(days=i) for a, b in runs for i in range((b - a).days + 1)}
        _refuse_mixing(engine, settings, first, planned, "Cost Explorer no longer serves them")
        if not runs:
            log.info("all days up to %s are stored and final: no Cost Explorer request needed", d)
            return IngestResult(settings.cost_source, None, None, 0, 0, 0, 0)
        start, end = runs[0][0], runs[-1][1]
        if not known:
            log.info("first run: backfilling %s..%s (%d days)", start, end, (end - start).days + 1)
        client = client or make_cost_client(settings, today)
        parsed, requests = ParsedCosts(), 0
        for run_start, run_end in runs:
            query = CostQuery(run_start, run_end, settings.cost_metric, settings.group_by,
                              settings.exclude_record_types)
            part, n = fetch(client, query, settings.ce_max_pages)
            parsed.merge(part, where=f"Cost Explorer {run_start}..{run_end}")
            requests += n
        label = "Cost Explorer" if settings.cost_source == "ce" else "sample Cost Explorer"
        log.info("%s: %d request(s) (USD %.2f) for %s", label, requests,
                 CE_REQUEST_USD * requests if settings.cost_source == "ce" else 0,
                 ", ".join(f"{a}..{b}" for a, b in runs))
    _check_window(parsed, settings)
    rows = db.store_costs(engine, parsed.sorted_rows(), parsed.days, metric=settings.cost_metric,
                          group_by=settings.group_by, replace=replace)
    estimated = sum(parsed.days.values())
    log.info("stored %d rows for %d days (%d Estimated)%s%s", rows, len(parsed.days), estimated,
             f"; {parsed.duplicates} repeated keys, last kept" if parsed.duplicates else "",
             f"; {parsed.skipped} group(s) left out (names that cannot be stored)" if parsed.skipped else "")
    return IngestResult(settings.cost_source, start, end, requests, rows, len(parsed.days), estimated)


def _ingest_export(settings: Settings, engine: Engine, today: date, first: date) -> IngestResult:
    """COST_SOURCE=export: the billing periods with missing, Estimated or changed days, read whole from the files
    (exports.fetch) and stored as Cost Explorer's answer would be (every fetched day replaced whole)."""
    from . import exports

    d = settings.day
    known = db.known_days(engine, first, d, metric=settings.cost_metric, group_by=settings.group_by)
    state_path = settings.output_dir / exports.STATE_FILE
    state = exports.load_state(state_path)
    got = exports.fetch(settings.input_files, settings.export_format, first, d, known, metric=settings.cost_metric,
                        group_by=settings.group_by, exclude=settings.exclude_record_types, today=today, state=state)
    parsed = got.parsed
    _refuse_mixing(engine, settings, first, set(parsed.days), "the export does not cover them")
    if not parsed.days:
        log.info("export: every day up to %s it covers is stored and final: nothing read", d)
        return IngestResult("export", None, None, 0, 0, 0, 0)
    start, end = min(parsed.days), max(parsed.days)
    log.info("export: d = %s; read %s (%d file(s)): days %s..%s", d,
             ", ".join(got.periods) or "the files without billing period folders", got.files, start, end)
    _check_window(parsed, settings)
    rows = db.store_costs(engine, parsed.for_storage(), parsed.days, metric=settings.cost_metric,
                          group_by=settings.group_by)
    exports.save_state(state_path, {**state, **got.state})
    estimated = sum(parsed.days.values())
    log.info("stored %d rows for %d days (%d Estimated)", rows, len(parsed.days), estimated)
    return IngestResult("export", start, end, 0, rows, len(parsed.days), estimated)


def _ingest_athena(settings: Settings, engine: Engine, today: date, first: date, *, client=None,
                   glue_client=None, s3_client=None) -> IngestResult:
    """COST_SOURCE=athena: the billing periods of the window with a day missing or still Estimated (the export's
    plan), read whole by one query in Athena pruned to them, parsed as the export source parses DuckDB's rows and
    stored alike (every fetched day replaced whole). A run with every day stored and final sends no query.

    No "changed since read" check as for files: a final period (15 days after its end) is not revised any more,
    and while it may be the plan reads it anyway (its days are Estimated) — that costs nothing extra."""
    from . import athena, exports
    from .export_sql import billing_periods, daily_cost_sql

    d = settings.day
    known = db.known_days(engine, first, d, metric=settings.cost_metric, group_by=settings.group_by)
    periods = exports.plan_periods(billing_periods(first, d), first, d, known)
    if not periods:
        _refuse_mixing(engine, settings, first, set(), "Athena is not queried for them")
        log.info("athena: every day up to %s is stored and final: no query", d)
        return IngestResult("athena", None, None, 0, 0, 0, 0, AthenaUsage())
    start = exports.period_days(periods[0], first, d)[0]
    end = exports.period_days(periods[-1], first, d)[-1]
    table = athena.glue_table(settings, glue_client=glue_client)
    query = athena.daily_query(settings, table, start, end, periods)
    log.info("athena: d = %s; billing period(s) %s of %s (%s, %d columns%s): days %s..%s", d, ", ".join(periods),
             table.name, query.fmt, len(table.columns), ", partitioned" if query.partitioned else "", start, end)
    frame = athena.athena_daily_costs(settings, daily_cost_sql(query), client=client, s3_client=s3_client)
    meta = {k.decode(): v.decode() for k, v in (frame.schema.metadata or {}).items()}
    usage = AthenaUsage(1, int(meta.get("athena_bytes_scanned", 0)), Decimal(meta.get("athena_cost_usd", "0")),
                        (meta.get("athena_query_id", ""),))
    parsed = exports.parse_daily_frame(frame, start, end, today)
    keep = {day for p in periods for day in exports.period_days(p, first, d)}
    if parsed.columns is not None:  # an unpartitioned table: planned days only
        if not set(parsed.days) <= keep:
            parsed.columns = parsed.columns.only_days(keep)
    else:
        parsed.rows = {k: v for k, v in parsed.rows.items() if k[0] in keep}
    parsed.days = {k: v for k, v in parsed.days.items() if k in keep}
    # A final period with rows is complete: its days without a row had no cost. One without any row is not in the
    # export (before it was created): left unanswered, asked again next run at no extra scan (no files to read).
    answered = {f"{day:%Y-%m}" for day in parsed.days}
    for p in periods:
        if p in answered and not exports.is_estimated(p, today):
            for day in exports.period_days(p, first, d):
                parsed.days.setdefault(day, False)
    _refuse_mixing(engine, settings, first, set(parsed.days), "the export does not cover them")
    log.info("athena: query %s scanned %d bytes (USD %.6f); %d rows for %d days", usage.query_ids[0],
             usage.bytes_scanned, usage.cost_usd, parsed.count, len(parsed.days))
    _check_window(parsed, settings)
    rows = db.store_costs(engine, parsed.for_storage(), parsed.days, metric=settings.cost_metric,
                          group_by=settings.group_by)
    estimated = sum(parsed.days.values())
    log.info("stored %d rows for %d days (%d Estimated)%s", rows, len(parsed.days), estimated,
             f"; {parsed.duplicates} repeated keys summed" if parsed.duplicates else "")
    if not parsed.days:
        return IngestResult("athena", None, None, 0, 0, 0, 0, usage)
    return IngestResult("athena", min(parsed.days), max(parsed.days), 0, rows, len(parsed.days), estimated, usage)


def _refuse_mixing(engine: Engine, settings: Settings, first: date, replaced: set[date], why: str) -> None:
    """Raise MixedCostsError (one line) when days of the window stored under other settings would stay."""
    other = db.other_settings_days(engine, first, settings.day, settings.cost_metric, settings.group_by)
    kept = sorted(set(other) - replaced)
    if kept:
        metric, group_by = other[kept[0]]
        raise db.MixedCostsError(
            f"{len(kept)} stored day(s) {kept[0]}..{kept[-1]} were fetched with COST_METRIC={metric} "
            f"COST_GROUP_BY={group_by or '(none)'}, not {settings.cost_metric} / {settings.group_by or '(none)'}, "
            f"and {why}: set those settings back, lower LOOKBACK_DAYS to {(settings.day - kept[-1]).days - 1}, "
            f"or drop them with `python -m _util.migrate --forget-until {kept[-1]}`")


def _check_window(parsed: ParsedCosts, settings: Settings) -> None:
    if parsed.unit not in (None, "USD"):
        log.warning("costs are in %s, not USD: thresholds in USD settings apply to %s amounts",
                    parsed.unit, parsed.unit)
