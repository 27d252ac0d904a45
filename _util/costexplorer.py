"""Cost Explorer: client seam, the plan of which days to ask for, one (paged) query per run of those days,
and the parser of its response shape."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .db import BREAKDOWN_MAX, SERVICE_MAX, CostRow, fit_name

log = logging.getLogger(__name__)

CE_REQUEST_USD = Decimal("0.01")  # AWS bills every GetCostAndUsage call, each page included
CE_HISTORY_MONTHS = 13  # DAILY data: the current month and the 13 before it
# A fetch plan joins two runs of days to fetch when at most this many stored, final days lie between them: one
# query across the gap pays for the gap's groups (a fraction of a page when a page holds more than a week of
# days), two queries pay at least one more request and round up two last pages instead of one.
MERGE_GAP_DAYS = 7
# More runs than this after the merge (scattered holes) are fetched as one query from the first to the last day:
# the number of requests stays bounded, and the window is never wider than from the first day to fetch to d.
MAX_RUNS = 3


class CostDataError(ValueError):
    """A cost response is malformed; the message names where and what."""


class CostExplorerError(RuntimeError):
    """Cost Explorer failed (after botocore's retries); the message is safe to print."""


@dataclass(frozen=True)
class CostQuery:
    """What one run asks Cost Explorer for: [start, end] inclusive UTC dates."""

    start: date
    end: date
    metric: str = "UnblendedCost"
    group_by: str = ""
    exclude_record_types: tuple[str, ...] = ("Credit", "Refund")

    def request(self) -> dict[str, Any]:
        """GetCostAndUsage keyword arguments (End is exclusive)."""
        group = [{"Type": "DIMENSION", "Key": "SERVICE"}]
        if self.group_by.startswith("TAG:"):
            group.append({"Type": "TAG", "Key": self.group_by[4:]})
        elif self.group_by:
            group.append({"Type": "DIMENSION", "Key": self.group_by})
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": self.start.isoformat(), "End": (self.end + timedelta(days=1)).isoformat()},
            "Granularity": "DAILY",
            "Metrics": [self.metric],
            "GroupBy": group,
        }
        if self.exclude_record_types:
            kwargs["Filter"] = {"Not": {"Dimensions": {"Key": "RECORD_TYPE",
                                                       "Values": list(self.exclude_record_types)}}}
        return kwargs


@dataclass
class ParsedCosts:
    """Rows parsed from one or more responses, and the days they cover (date -> Estimated)."""

    rows: dict[tuple[date, str, str], CostRow] = field(default_factory=dict)
    days: dict[date, bool] = field(default_factory=dict)
    unit: str | None = None
    duplicates: int = 0
    skipped: int = 0  # groups left out (a name that cannot be stored, such as one with a NUL), each logged

    def sorted_rows(self) -> list[CostRow]:
        return [self.rows[k] for k in sorted(self.rows)]

    def merge(self, other: ParsedCosts, *, where: str) -> ParsedCosts:
        """Add the rows and days of another query (later wins on the same key, as across pages); return self."""
        if other.unit is not None:
            if self.unit is None:
                self.unit = other.unit
            elif other.unit != self.unit:
                raise CostDataError(f"{where}: unit {other.unit!r} differs from {self.unit!r} seen before; "
                                    "mixed currencies cannot be summed")
        self.duplicates += other.duplicates + len(self.rows.keys() & other.rows.keys())
        self.skipped += other.skipped
        self.rows.update(other.rows)
        for day, estimated in other.days.items():
            self.days[day] = self.days.get(day, False) or estimated
        return self


def make_ce_client(retry_mode: str = "adaptive", max_attempts: int = 8):
    """The Cost Explorer client (boto3 default credential chain; throttling retried by botocore)."""
    import boto3
    from botocore.config import Config

    # Cost Explorer has one endpoint, in us-east-1; AWS_ENDPOINT_URL(_CE) still overrides it as boto3 does.
    config = Config(retries={"mode": retry_mode, "max_attempts": max_attempts}, connect_timeout=10,
                    read_timeout=60)
    return boto3.client("ce", region_name="us-east-1", config=config)


def earliest_fetchable(today: date) -> date:
    """First day Cost Explorer serves DAILY data for: the 1st of the month 13 months before today's."""
    month_index = today.year * 12 + (today.month - 1) - CE_HISTORY_MONTHS
    return date(month_index // 12, month_index % 12 + 1, 1)


def plan_runs(report_date: date, lookback_days: int, today: date,
              known_days: dict[date, bool]) -> list[tuple[date, date]]:
    """The [start, end] ranges to ask Cost Explorer for, oldest first; [] when every day is stored and final.

    known_days maps each day already fetched to whether CE still marked it Estimated. Within [d − lookback
    (clamped to what CE serves), d], every day missing or still Estimated is fetched: the first run backfills the
    whole window as one range, a daily run asks for the still-Estimated days up to d. Runs of such days at most
    MERGE_GAP_DAYS final days apart are joined; more than MAX_RUNS runs become one range from the first to the last.
    """
    start = report_date - timedelta(days=lookback_days)
    floor = earliest_fetchable(today)
    if start < floor:
        log.info("lookback starts %s but Cost Explorer serves DAILY data only from %s (current month + %d): "
                 "clamped", start, floor, CE_HISTORY_MONTHS)
        start = floor
    if report_date < start:
        raise CostExplorerError(f"--date {report_date} is older than Cost Explorer keeps daily data "
                                f"(earliest {floor})")
    runs: list[tuple[date, date]] = []
    day = start
    while day <= report_date:
        if known_days.get(day, True):  # missing (default True) or still Estimated
            if runs and (day - runs[-1][1]).days - 1 <= MERGE_GAP_DAYS:
                runs[-1] = (runs[-1][0], day)
            else:
                runs.append((day, day))
        day += timedelta(days=1)
    if len(runs) > MAX_RUNS:
        log.debug("%d separate runs of days to fetch: one query for %s..%s instead", len(runs), runs[0][0],
                  runs[-1][1])
        return [(runs[0][0], runs[-1][1])]
    return runs


def fetch_pages(client, query: CostQuery) -> Iterator[dict[str, Any]]:
    """Yield every page of one GetCostAndUsage query (boto3 has no paginator: loop on NextPageToken)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    kwargs = query.request()
    while True:
        try:
            page = client.get_cost_and_usage(**kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code, message = err.get("Code", "Unknown"), err.get("Message", "")
            hint = {
                "AccessDeniedException": " — the role needs ce:GetCostAndUsage (docs/iam-policy.json)",
                "LimitExceededException": " — throttled even after retries; try again later",
                "DataUnavailableException": " — Cost Explorer has no data for this range yet",
            }.get(code, "")
            raise CostExplorerError(f"Cost Explorer {code}: {message}{hint}") from None
        except NoCredentialsError as exc:
            raise CostExplorerError(f"Cost Explorer: no AWS credentials ({exc}) — attach the instance role, or set "
                                    "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
        except BotoCoreError as exc:
            raise CostExplorerError(f"Cost Explorer unreachable: {exc}") from None
        yield page
        token = page.get("NextPageToken")
        if not token:
            return
        kwargs["NextPageToken"] = token


def parse_response(response: Any, metric: str, parsed: ParsedCosts, *, where: str) -> ParsedCosts:
    """Add the rows of one GetCostAndUsage response to parsed; raise CostDataError naming `where`."""
    if not isinstance(response, dict) or not isinstance(response.get("ResultsByTime"), list):
        raise CostDataError(f"{where}: not a GetCostAndUsage response (no ResultsByTime list)")
    for i, result in enumerate(response["ResultsByTime"]):
        at = f"{where}: ResultsByTime[{i}]"
        if not isinstance(result, dict):
            raise CostDataError(f"{at} is not an object")
        period = result.get("TimePeriod")
        if not isinstance(period, dict) or "Start" not in period:
            raise CostDataError(f"{at}: missing TimePeriod.Start")
        day = _parse_day(period["Start"], at)
        estimated = result.get("Estimated", False)
        if not isinstance(estimated, bool):
            raise CostDataError(f"{at}: Estimated must be true or false, got {estimated!r}")
        parsed.days[day] = parsed.days.get(day, False) or estimated
        groups = result.get("Groups", [])
        if not isinstance(groups, list):
            raise CostDataError(f"{at}: Groups is not a list")
        for j, group in enumerate(groups):
            row = _parse_group(group, day, estimated, metric, parsed, f"{at}.Groups[{j}]")
            if row is None:
                parsed.skipped += 1
                continue
            key = (row.usage_date, row.service, row.breakdown)
            if key in parsed.rows:
                parsed.duplicates += 1
            parsed.rows[key] = row
    return parsed


def _parse_day(raw: Any, at: str) -> date:
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            pass
    raise CostDataError(f"{at}: TimePeriod.Start {raw!r} is not a YYYY-MM-DD date")


def _parse_group(group: Any, day: date, estimated: bool, metric: str, parsed: ParsedCosts,
                 at: str) -> CostRow | None:
    if not isinstance(group, dict):
        raise CostDataError(f"{at} is not an object")
    keys = group.get("Keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= 2 or not all(isinstance(k, str) for k in keys):
        raise CostDataError(f"{at}: Keys must be a list of 1 or 2 strings, got {keys!r}")
    service, breakdown = keys[0], (keys[1] if len(keys) == 2 else "")
    for label, value in (("service", service), ("breakdown", breakdown)):
        # One odd name never blocks the other groups: a name no database stores is left out, logged and counted.
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            log.warning("%s: %s name %r cannot be stored (NUL or lone surrogate): group left out", at, label,
                        value[:80])
            return None
    if len(service) > SERVICE_MAX or len(breakdown) > BREAKDOWN_MAX:
        log.warning("%s: name longer than the database keeps (%d/%d characters): stored under a shortened key "
                    "%r", at, SERVICE_MAX, BREAKDOWN_MAX, (service if len(service) > SERVICE_MAX else breakdown)[:80])
        service, breakdown = fit_name(service, SERVICE_MAX), fit_name(breakdown, BREAKDOWN_MAX)
    metrics = group.get("Metrics")
    if not isinstance(metrics, dict) or metric not in metrics:
        present = ", ".join(metrics) if isinstance(metrics, dict) else "none"
        raise CostDataError(f"{at}: metric {metric} missing (has: {present})")
    cell = metrics[metric]
    if not isinstance(cell, dict) or "Amount" not in cell:
        raise CostDataError(f"{at}: {metric}.Amount missing")
    try:
        amount = Decimal(str(cell["Amount"]))
    except InvalidOperation:
        raise CostDataError(f"{at}: {metric}.Amount {cell['Amount']!r} is not a number") from None
    if not amount.is_finite():
        raise CostDataError(f"{at}: {metric}.Amount {cell['Amount']!r} is not a finite number")
    unit = cell.get("Unit")
    if not isinstance(unit, str) or not unit:
        raise CostDataError(f"{at}: {metric}.Unit missing")
    if parsed.unit is None:
        parsed.unit = unit
    elif unit != parsed.unit:
        raise CostDataError(f"{at}: unit {unit!r} differs from {parsed.unit!r} seen before; "
                            "mixed currencies cannot be summed")
    return CostRow(day, service, breakdown, amount, unit, estimated)


def fetch(client, query: CostQuery) -> tuple[ParsedCosts, int]:
    """Run the query, parse every page; return the parsed rows and the number of requests made."""
    parsed = ParsedCosts()
    requests = 0
    # A first backfill can take dozens of pages: show progress on a terminal, keep cron mail quiet.
    level = logging.INFO if sys.stderr.isatty() else logging.DEBUG
    for requests, page in enumerate(fetch_pages(client, query), start=1):
        parse_response(page, query.metric, parsed, where=f"Cost Explorer page {requests}")
        if page.get("NextPageToken") or requests > 1:
            log.log(level, "Cost Explorer page %d: %d rows, days up to %s of %s..%s", requests, len(parsed.rows),
                    max(parsed.days, default=query.start), query.start, query.end)
    # CE lists every day of the range, even one with no cost. A day it left out is not recorded as fetched: its
    # stored rows stay, and the next run asks for it again (never "final and empty" on CE's silence).
    expected = (query.end - query.start).days + 1
    left_out = [query.start + timedelta(days=i) for i in range(expected)
                if query.start + timedelta(days=i) not in parsed.days]
    if left_out:
        log.warning("Cost Explorer left out %d day(s) of %s..%s (first %s): kept as they were, asked again next "
                    "run", len(left_out), query.start, query.end, left_out[0])
    return parsed, requests


def load_files(paths: Iterable[Path], metric: str) -> ParsedCosts:
    """Parse saved `aws ce get-cost-and-usage --output json` responses; later files win on the same key."""
    parsed = ParsedCosts()
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CostDataError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CostDataError(f"{path}: cannot read: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CostDataError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        parse_response(data, metric, parsed, where=str(path))
    return parsed
