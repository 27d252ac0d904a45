"""Cost Explorer: client seam, the plan of which days to ask for, one (paged) query per run of those days,
and the parser of its response shape."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .config import ConfigError, Settings
from .model import BREAKDOWN_MAX, SERVICE_MAX, CostColumns, CostRow, fit_name

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
# Bounds of one query (settings CE_MAX_PAGES, CE_TIMEOUT_SECONDS, CE_MAX_ATTEMPTS). A year of DAILY data grouped by
# service is a handful of pages; a few hundred allows a second grouping with thousands of keys while a Cost Explorer
# (or proxy) that pages forever costs at most a few dollars.
CE_MAX_PAGES = Settings.ce_max_pages
# Cost Explorer answers a page in seconds; 20 s leaves room for a slow day and a dead endpoint is given up on within
# hang_bound_seconds (5 x (5 + 20) + 15 = 140 s with these defaults). Attempts are shared with throttling
# (LimitExceededException), which botocore backs off exponentially.
CE_CONNECT_TIMEOUT_SECONDS = 5.0
CE_TIMEOUT_SECONDS = Settings.ce_timeout_seconds
CE_MAX_ATTEMPTS = Settings.ce_max_attempts
_BACKOFF_CAP_SECONDS = 20  # botocore's standard/adaptive retry: sleep up to min(2 ** (attempt - 1), 20) s


class CostDataError(ValueError):
    """A cost response is malformed; the message names where and what."""


class CostExplorerError(RuntimeError):
    """Cost Explorer failed (after botocore's retries); the message is safe to print."""


class IncompleteAnswerError(ConfigError):
    """Saved pages of one answer are missing from the inputs (a usage error: list every page)."""


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
        kind, sep, key = self.group_by.partition(":")
        if sep and kind in ("TAG", "COST_CATEGORY"):
            group.append({"Type": kind, "Key": key})
        elif self.group_by:
            group.append({"Type": "DIMENSION", "Key": self.group_by})
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": self.start.isoformat(), "End": (self.end + timedelta(days=1)).isoformat()},
            "Granularity": "DAILY",
            "Metrics": [self.metric],
            "GroupBy": group,
        }
        if self.exclude_record_types:
            kwargs["Filter"] = record_type_filter(self.exclude_record_types)
        return kwargs


def record_type_filter(exclude_record_types: Iterable[str]) -> dict[str, Any]:
    """The Filter leaving out COST_EXCLUDE_RECORD_TYPES (Credit, Refund…): the same in every Cost Explorer request."""
    return {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": list(exclude_record_types)}}}


@dataclass
class ParsedCosts:
    """Rows parsed from one or more responses, and the days they cover (date -> Estimated)."""

    _rows: dict[tuple[date, str, str], CostRow] = field(default_factory=dict)
    days: dict[date, bool] = field(default_factory=dict)
    unit: str | None = None
    duplicates: int = 0
    skipped: int = 0  # groups left out (a name that cannot be stored, such as one with a NUL), each logged
    # The rows held column-wise instead (the export source at scale): made CostRows only if `rows` is read.
    columns: CostColumns | None = None

    @property
    def rows(self) -> dict[tuple[date, str, str], CostRow]:
        """(day, service, breakdown) -> CostRow (column-wise rows turned into objects on first read)."""
        if self.columns is not None:
            self._rows = {(r.usage_date, r.service, r.breakdown): r for r in self.columns.rows()}
            self.columns = None
        return self._rows

    @rows.setter
    def rows(self, value: dict[tuple[date, str, str], CostRow]) -> None:
        self._rows, self.columns = value, None

    @property
    def count(self) -> int:
        """How many rows (without turning column-wise rows into objects)."""
        return len(self.columns) if self.columns is not None else len(self._rows)

    def sorted_rows(self) -> list[CostRow]:
        return [self.rows[k] for k in sorted(self.rows)]

    def for_storage(self) -> CostColumns | list[CostRow]:
        """The rows as db.store_costs takes them: column-wise when held so, else CostRows in key order."""
        return self.columns if self.columns is not None else self.sorted_rows()

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


def make_ce_client(retry_mode: str = "adaptive", max_attempts: int = CE_MAX_ATTEMPTS,
                   read_timeout: float = CE_TIMEOUT_SECONDS, connect_timeout: float = CE_CONNECT_TIMEOUT_SECONDS):
    """The Cost Explorer client (boto3 default credential chain): timeouts in seconds, max_attempts counts every
    attempt (the first and its retries, AWS_MAX_ATTEMPTS' meaning); throttling and timeouts retried by botocore."""
    import boto3
    from botocore.config import Config

    # Cost Explorer has one endpoint, in us-east-1; AWS_ENDPOINT_URL(_COST_EXPLORER) still overrides it as boto3 does.
    config = Config(retries={"mode": retry_mode, "total_max_attempts": max_attempts},
                    connect_timeout=min(connect_timeout, read_timeout), read_timeout=read_timeout)
    return boto3.client("ce", region_name="us-east-1", config=config)


def hang_bound_seconds(max_attempts: int = CE_MAX_ATTEMPTS, read_timeout: float = CE_TIMEOUT_SECONDS,
                       connect_timeout: float = CE_CONNECT_TIMEOUT_SECONDS) -> float:
    """Worst case seconds one request to a Cost Explorer that never answers takes to fail: every attempt waits for
    its connect and read timeouts, and botocore sleeps up to min(2 ** (n - 1), 20) s before retry n."""
    backoff = sum(min(2 ** (n - 1), _BACKOFF_CAP_SECONDS) for n in range(1, max_attempts))
    return max_attempts * (min(connect_timeout, read_timeout) + read_timeout) + backoff


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


def fetch_pages(client, query: CostQuery, max_pages: int = CE_MAX_PAGES) -> Iterator[dict[str, Any]]:
    """Yield every page of one GetCostAndUsage query (boto3 has no paginator: loop on NextPageToken).

    Stops with CostExplorerError when a token comes back again (it would loop forever, at USD 0.01 a page) or the
    query still has more pages after max_pages requests.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    kwargs = query.request()
    seen: dict[str, int] = {}  # token -> the page that gave it
    pages = 0
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
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise CostExplorerError(_timeout_message(client, exc, isinstance(exc, ReadTimeoutError))) from None
        except BotoCoreError as exc:
            raise CostExplorerError(f"Cost Explorer unreachable: {exc}") from None
        pages += 1
        yield page
        token = page.get("NextPageToken")
        if not token:
            return
        spent = f"USD {CE_REQUEST_USD * pages:.2f}"
        if token in seen:
            raise CostExplorerError(
                f"Cost Explorer repeated a NextPageToken on page {pages} of {query.start}..{query.end} (first given "
                f"on page {seen[token]}): stopped after {pages} requests ({spent}) — it would page forever; "
                "nothing stored, try again later")
        if pages >= max_pages:
            raise CostExplorerError(
                f"Cost Explorer {query.start}..{query.end} still had more pages after {pages} requests ({spent}, "
                f"CE_MAX_PAGES={max_pages}): stopped, nothing stored — raise CE_MAX_PAGES if a query this large is "
                "expected (a COST_GROUP_BY with many values), or lower LOOKBACK_DAYS")
        seen[token] = pages
        kwargs["NextPageToken"] = token


def _timeout_message(client, exc: Exception, read: bool) -> str:
    """One line naming Cost Explorer, the timeout and the attempts made (from the client's own config)."""
    config = client.meta.config
    attempts = (config.retries or {}).get("total_max_attempts", "?")
    endpoint = getattr(exc, "kwargs", {}).get("endpoint_url") or client.meta.endpoint_url
    if read:
        what = f"did not answer within {config.read_timeout:g} s (read timeout, {attempts} attempts)"
    else:
        what = f"could not be reached within {config.connect_timeout:g} s (connect timeout, {attempts} attempts)"
    return f"Cost Explorer {what} at {endpoint} — CE_TIMEOUT_SECONDS / CE_MAX_ATTEMPTS set these bounds"


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


def fetch(client, query: CostQuery, max_pages: int = CE_MAX_PAGES) -> tuple[ParsedCosts, int]:
    """Run the query, parse every page; return the parsed rows and the number of requests made."""
    parsed = ParsedCosts()
    requests = 0
    for requests, page in enumerate(fetch_pages(client, query, max_pages), start=1):
        parse_response(page, query.metric, parsed, where=f"Cost Explorer page {requests}")
        if page.get("NextPageToken") or requests > 1:
            # A first backfill can take dozens of pages: progress at INFO, on a terminal and in cron logs alike.
            log.info("Cost Explorer page %d: %d rows, days up to %s of %s..%s", requests, len(parsed.rows),
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
    """Parse saved `aws ce get-cost-and-usage --output json` responses; later files win on the same key.

    A paged answer is loaded whole or not at all (stored days are replaced whole): a file with a NextPageToken must
    be followed, next in the inputs, by its next page — same GroupDefinitions, first day from the page's first day
    to the day after its last — and the answer ends with a page without a token (IncompleteAnswerError otherwise).
    """
    parsed = ParsedCosts()
    previous: tuple[Path, dict[str, Any], list[date]] | None = None  # the last file, when it had a NextPageToken
    for path in paths:
        data = _read_json(path)
        if is_saved_answer(data):
            saved_pages(data, str(path))  # checked here, so a bad one stops the run like any bad input
            log.debug("%s: a saved drill-down answer, not service totals: left to the root causes", path)
            continue
        parse_response(data, metric, parsed, where=str(path))
        days = [_parse_day(r["TimePeriod"]["Start"], str(path)) for r in data["ResultsByTime"]]
        if previous is not None:
            _check_next_page(*previous, path, data, days)
        previous = (Path(path), data, days) if data.get("NextPageToken") else None
    if previous is not None:
        raise IncompleteAnswerError(
            f"{previous[0]}: has a NextPageToken but its next page is not among the inputs — give every page of "
            "that answer, in order (--input page1.json page2.json …); one page alone would replace whole stored "
            "days with part of them")
    return parsed


def _read_json(path: Path) -> Any:
    """The JSON of one --input file; CostDataError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CostDataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CostDataError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CostDataError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _check_next_page(path: Path, page: dict[str, Any], days: list[date], nxt: Path, data: dict[str, Any],
                     nxt_days: list[date]) -> None:
    """Raise IncompleteAnswerError unless `data` (file nxt) can be the page after `page` (file path).

    The response does not echo the token it answered, so the rule is about shape: the same grouping, and pages of
    one answer go forward in time — the next page starts on the first day of this one at the earliest and on the
    day after its last at the latest (a day's groups can be split across two pages).
    """
    why = ""
    if page.get("GroupDefinitions") != data.get("GroupDefinitions"):
        why = "it is grouped differently"
    elif days and nxt_days and not days[0] <= nxt_days[0] <= days[-1] + timedelta(days=1):
        why = (f"it starts on {nxt_days[0]}, the next page starts between {days[0]} and "
               f"{days[-1] + timedelta(days=1)}")
    if why:
        raise IncompleteAnswerError(
            f"{path}: has a NextPageToken but the next input {nxt} is not its next page ({why}) — give every page "
            "of that answer, in order (--input page1.json page2.json …)")


# --- saved drill-down answers (COST_SOURCE=file) -----------------------------------------------------------------

# What makes two GetCostAndUsage requests the same question (NextPageToken only picks the page of the answer).
MATCHED_KEYS = ("TimePeriod", "Granularity", "Metrics", "GroupBy", "Filter")


class NoSavedAnswer(CostExplorerError):
    """The saved drill-down answers hold none for this query: that query only, the others may have one."""


def is_saved_answer(data: Any) -> bool:
    """Whether a saved file is a drill-down answer {"request": …, "response": …}, not service totals."""
    return isinstance(data, dict) and "request" in data and "response" in data and "ResultsByTime" not in data


def saved_pages(data: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(request, pages) of a saved drill-down answer; the response is one page or {"pages": [page, …]}."""
    request, response = data["request"], data["response"]
    if not isinstance(request, dict):
        raise CostDataError(f"{where}: a saved drill-down answer's request must be a GetCostAndUsage request object")
    pages = response.get("pages") if isinstance(response, dict) and "ResultsByTime" not in response else [response]
    if not isinstance(pages, list) or not pages or not all(
            isinstance(p, dict) and isinstance(p.get("ResultsByTime"), list) for p in pages):
        raise CostDataError(f"{where}: a saved drill-down answer's response must be a GetCostAndUsage response "
                            "(ResultsByTime) or {\"pages\": [response, …]}")
    return request, pages


def _request_key(request: dict[str, Any]) -> str:
    return json.dumps({k: request.get(k) for k in MATCHED_KEYS}, sort_keys=True)


def _filtered_service(expression: Any) -> str:
    """The SERVICE a Filter expression selects ("" when none)."""
    if isinstance(expression, dict):
        dims = expression.get("Dimensions")
        if isinstance(dims, dict) and dims.get("Key") == "SERVICE" and dims.get("Values"):
            return ", ".join(map(str, dims["Values"]))
        for part in expression.get("And") or []:
            if found := _filtered_service(part):
                return found
    return ""


class SavedAnswers:
    """A GetCostAndUsage client answering from saved drill-down answers: costs no request (free)."""

    free = True  # drilldown.explain takes none of DRILLDOWN_MAX_REQUESTS for it and counts no request

    def __init__(self, answers: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]] = ()) -> None:
        self._pages = {_request_key(request): pages for request, pages in answers}  # a later file wins

    def __len__(self) -> int:
        return len(self._pages)

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> SavedAnswers:
        """The saved drill-down answers among the --input files (the others are service totals, left out)."""
        answers = []
        for path in paths:
            data = _read_json(path)
            if is_saved_answer(data):
                answers.append(saved_pages(data, str(path)))
        return cls(answers)

    def get_cost_and_usage(self, **kwargs: Any) -> dict[str, Any]:
        """The saved page answering this request; NoSavedAnswer when there is none."""
        keys = " x ".join(str(g.get("Key")) for g in kwargs.get("GroupBy") or [])
        what = f"{_filtered_service(kwargs.get('Filter')) or 'all services'} by {keys or 'nothing'}"
        pages = self._pages.get(_request_key(kwargs))
        if pages is None:
            # The exact request to save an answer for (README: saved drill-down answers).
            log.info("no saved drill-down answer for %s; its request: %s", what,
                     json.dumps({k: kwargs[k] for k in MATCHED_KEYS if k in kwargs}, sort_keys=True))
            raise NoSavedAnswer(f"no saved drill-down answer for {what}")
        token = kwargs.get("NextPageToken")
        if not token:
            return pages[0]
        for page, following in zip(pages, pages[1:], strict=False):
            if page.get("NextPageToken") == token:
                return following
        raise NoSavedAnswer(f"the saved drill-down answer for {what} lacks the page after NextPageToken {token}")
