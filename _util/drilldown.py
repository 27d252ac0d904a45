"""Root causes of the day's alerts: which groups (account x usage type, region x operation) moved.

Three parts: the pure maths (root_causes: one service's drill-down frame and its alert in, ranked contributions
out), the Cost Explorer plan and client (one GetCostAndUsage per dimension pair per alert, largest alerts first,
within DRILLDOWN_MAX_REQUESTS a day), and storage (db.root_cause) so a rerun of the day asks nothing again.
DESIGN.md "Root causes".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from . import db
from .costexplorer import CostExplorerError, NoSavedAnswer, fetch_pages, make_ce_client
from .model import FirstSeen, Spike, Trend, alert_kind

log = logging.getLogger(__name__)

Alert = Spike | Trend | FirstSeen

# The dimension pairs asked for each alert (Cost Explorer takes at most 2 GroupBy keys). REGION is accepted in
# GroupBy in practice but not documented there: a refusal drops that pair for the run, the other one still works.
PAIRS: tuple[tuple[str, ...], ...] = (("LINKED_ACCOUNT", "USAGE_TYPE"), ("REGION", "OPERATION"))
# An export (COST_SOURCE=export) knows each line's resource: one more grouping, asked first, keyed by the resource
# with its usage type and account (a resource has one of each; three keys, past Cost Explorer's two: the export's
# answerer takes them). Lines without a resource id (tax, support, most data transfer) group under NO_RESOURCE_ID.
RESOURCE_PAIR = ("RESOURCE_ID", "USAGE_TYPE", "LINKED_ACCOUNT")
EXPORT_PAIRS: tuple[tuple[str, ...], ...] = (RESOURCE_PAIR, *PAIRS)
NO_RESOURCE_ID = "(no resource id)"
# best()'s order of preference: each pair gives way to a later one only when that one's top cause explains
# FIRST_PAIR_PREFERENCE more of the change (per place further down the list).
PAIR_ORDER: tuple[tuple[str, ...], ...] = EXPORT_PAIRS
FIRST_PAIR_PREFERENCE = 0.1  # share of the change by which a later pair's top cause must beat an earlier pair's
BASELINE_DAYS = 28  # a group's normal: the mean of the 28 days before d (a trend's long window is 28 days too)
TREND_SHORT_DAYS = 7  # a trend's contribution: the group's 7-day mean minus its 28-day mean, both ending d
TOP = 5  # causes kept at most per alert
# Causes are added, largest first, until they explain the change to within this fraction of it.
EXPLAIN_TOLERANCE = 0.1
CONTRADICTION_USD = 0.01  # grouped sums on d further than a cent from the service total: no shares invented
MIN_CAUSE_USD = 0.005  # a group that moved less than half a cent is never a cause
OK = "ok"
DAILY_LIMIT = "not analysed (daily limit)"
UNAVAILABLE = "unavailable: "


@dataclass(frozen=True)
class RootCause:
    """One group's move (USD; for a trend cost and normal are its 7- and 28-day means, USD/day)."""

    dimensions: dict[str, str]
    names: dict[str, str]
    cost: float
    normal: float
    delta: float  # the group's contribution to the alert's change: cost - normal
    share: float | None  # delta / the alert's change (None when no share can be given)


@dataclass(frozen=True)
class RootCauseResult:
    """The root causes of one alert: status ok | not analysed (daily limit) | unavailable: <reason>."""

    status: str
    causes: list[RootCause] = field(default_factory=list)
    unexplained: float | None = None  # USD of the change the kept causes leave out
    explained_share: float | None = None  # the kept causes' part of the change (1.0 = all of it)
    pair: tuple[str, ...] = ()  # the dimensions the causes are grouped by
    # The drill-down window day by day (for the spike chart, so a rerun draws it without asking): ISO dates, each
    # kept cause's daily cost (USD, in causes' order) and the rest of the service's cost.
    dates: list[str] = field(default_factory=list)
    daily: list[list[float]] = field(default_factory=list)
    rest: list[float] = field(default_factory=list)

    def to_json(self) -> str:
        """The result as stored (JSON)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RootCauseResult:
        """A result read back from to_json."""
        raw = json.loads(text)
        causes = [RootCause(**c) for c in raw.get("causes", [])]
        return cls(status=raw["status"], causes=causes, unexplained=raw.get("unexplained"),
                   explained_share=raw.get("explained_share"), pair=tuple(raw.get("pair", ())),
                   dates=list(raw.get("dates", ())), daily=[list(x) for x in raw.get("daily", ())],
                   rest=list(raw.get("rest", ())))


def impact(alert: Alert) -> float:
    """USD/day the alert moved: a spike's delta, a trend's 7-day minus 28-day mean, a new service's cost."""
    if isinstance(alert, Spike):
        return alert.delta
    if isinstance(alert, Trend):
        return alert.avg7 - alert.avg28
    return alert.cost


def alert_key(alert: Alert) -> tuple[str, str, str]:
    """(service, breakdown, kind): the key of explain()'s answer."""
    return alert.service, getattr(alert, "breakdown", "") or "", alert_kind(alert)


# --- the maths ---------------------------------------------------------------------------------------------------

def root_causes(frame: pd.DataFrame, alert: Alert, report_date: date, *, top: int = TOP,
                baseline_days: int = BASELINE_DAYS) -> RootCauseResult:
    """Rank the groups of one service's drill-down frame by their contribution to the alert's change (USD).

    frame: usage_date, one column per dimension, amount (USD), long (a missing group-day is 0). A group's normal
    is its mean over the baseline_days before d; a spike's (or new service's) contribution is its cost on d minus
    that, a trend's its 7-day mean minus its 28-day mean ending d. The change is the same figure for the frame's
    service total, so contributions add up to it. Causes: groups in the alert's direction by |contribution| until
    they explain the change (within EXPLAIN_TOLERANCE), then opposite groups while the kept ones overshoot it (an
    offsetting pair), at most `top`. Causes carry no names (explain adds the accounts' from the answers).
    """
    dims = [c for c in frame.columns if c not in ("usage_date", "amount")]
    if frame.empty or not dims:
        return RootCauseResult(f"{UNAVAILABLE}the drill-down found no costs for {alert.service} in the "
                               f"{baseline_days + 1} days to {report_date}")
    d = pd.Timestamp(report_date).normalize()
    days = pd.date_range(d - pd.Timedelta(days=baseline_days), d, freq="D")
    dates = pd.to_datetime(frame["usage_date"]).dt.normalize()
    inside = frame.loc[(dates >= days[0]) & (dates <= d), dims + ["amount"]].assign(usage_date=dates)
    matrix = (inside.groupby([*dims, "usage_date"], sort=True)["amount"].sum()
              .unstack("usage_date", fill_value=0.0).reindex(columns=days, fill_value=0.0))
    values = matrix.to_numpy(dtype="float64")
    totals = values.sum(axis=0)
    on_d = float(totals[-1]) if len(values) else 0.0
    if abs(on_d - alert.cost) > CONTRADICTION_USD:
        return RootCauseResult(
            f"{UNAVAILABLE}the drill-down adds up to {on_d:.2f} USD on {report_date}, the service total is "
            f"{alert.cost:.2f} USD (Cost Explorer's figures differ): no shares given", pair=tuple(dims))
    if isinstance(alert, Trend):
        cost = values[:, -TREND_SHORT_DAYS:].mean(axis=1)
        normal = values[:, -min(28, baseline_days + 1):].mean(axis=1)
        change = float(totals[-TREND_SHORT_DAYS:].mean() - totals[-min(28, baseline_days + 1):].mean())
    else:
        cost, normal = values[:, -1], values[:, :-1].mean(axis=1)
        change = float(totals[-1] - totals[:-1].mean())
    delta = cost - normal
    sign = -1.0 if alert.direction == "down" else 1.0

    kept = _pick(delta * sign, change * sign, top)
    shares = abs(change) >= CONTRADICTION_USD  # a change under a cent has no meaningful shares
    keys = matrix.index.to_frame(index=False).to_numpy(dtype=object)[kept]
    causes = [
        RootCause(dimensions=dict(zip(dims, map(str, row), strict=True)),
                  names={},
                  cost=float(cost[i]), normal=float(normal[i]), delta=float(delta[i]),
                  share=float(delta[i] / change) if shares else None)
        for i, row in zip(kept, keys, strict=True)
    ]
    explained = float(delta[kept].sum())
    daily = values[kept]
    return RootCauseResult(OK, causes, unexplained=change - explained,
                           explained_share=explained / change if shares else None, pair=tuple(dims),
                           dates=[x.date().isoformat() for x in days], daily=daily.round(6).tolist(),
                           rest=(totals - daily.sum(axis=0)).round(6).tolist())


def _pick(moved: np.ndarray, target: float, top: int) -> np.ndarray:
    """Row numbers of the causes: moved is each group's contribution signed so the alert's direction is positive,
    target the change signed the same way."""
    size = np.abs(moved)
    material = size >= MIN_CAUSE_USD
    order = np.lexsort((np.arange(len(moved)), -size))  # largest first, ties in the groups' order
    along = order[(moved[order] > 0) & material[order]]
    against = order[(moved[order] < 0) & material[order]]
    low, high = target - EXPLAIN_TOLERANCE * abs(target), target + EXPLAIN_TOLERANCE * abs(target)
    running = np.cumsum(moved[along])
    # The first groups along the alert's direction that reach the change (at least one, when there is one).
    n_along = min(int(np.argmax(running >= low)) + 1 if (running >= low).any() else len(along), top)
    n_along = max(n_along, min(1, len(along), top))
    reached = float(running[n_along - 1]) if n_along else 0.0
    n_against = 0
    if reached > high and n_along < top:  # they overshoot: the groups that offset them belong to the picture
        back = reached + np.cumsum(moved[against])
        n_against = min(int(np.argmax(back <= high)) + 1 if (back <= high).any() else len(against), top - n_along)
    return np.concatenate([along[:n_along], against[:n_against]]).astype(int)


# --- the Cost Explorer queries -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DrillQuery:
    """One drill-down GetCostAndUsage: one service (and breakdown), grouped by a dimension pair, DAILY over
    [start, end] (inclusive UTC dates); the duck type costexplorer.fetch_pages takes."""

    service: str
    pair: tuple[str, ...]
    start: date
    end: date
    metric: str = "UnblendedCost"
    breakdown: str = ""
    group_by: str = ""  # COST_GROUP_BY: what the breakdown is
    exclude_record_types: tuple[str, ...] = ("Credit", "Refund")

    def request(self) -> dict[str, Any]:
        """GetCostAndUsage keyword arguments (End is exclusive)."""
        parts: list[dict[str, Any]] = [{"Dimensions": {"Key": "SERVICE", "Values": [self.service],
                                                       "MatchOptions": ["EQUALS"]}}]
        if self.group_by:
            parts.append(breakdown_filter(self.group_by, self.breakdown))
        if self.exclude_record_types:
            parts.append({"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": list(self.exclude_record_types)}}})
        return {
            "TimePeriod": {"Start": self.start.isoformat(), "End": (self.end + timedelta(days=1)).isoformat()},
            "Granularity": "DAILY",
            "Metrics": [self.metric],
            "GroupBy": [{"Type": "DIMENSION", "Key": key} for key in self.pair],
            "Filter": parts[0] if len(parts) == 1 else {"And": parts},  # And takes two expressions or more
        }


def breakdown_filter(group_by: str, breakdown: str) -> dict[str, Any]:
    """The Filter expression for one stored breakdown value of COST_GROUP_BY (CE's keys: a tag's "key$value",
    "key$" when untagged; a cost category's "name$value"; a dimension's value as is)."""
    kind, sep, key = group_by.partition(":")
    if sep and kind in ("TAG", "COST_CATEGORY"):
        value = breakdown.partition("$")[2] if "$" in breakdown else breakdown
        what = "Tags" if kind == "TAG" else "CostCategories"
        if not value:
            return {what: {"Key": key, "MatchOptions": ["ABSENT"]}}
        return {what: {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}
    return {"Dimensions": {"Key": group_by, "Values": [breakdown], "MatchOptions": ["EQUALS"]}}


def window(report_date: date) -> tuple[date, date]:
    """The drill-down's days [start, end] (inclusive): the baseline and d (spikes, trends and new services)."""
    return report_date - timedelta(days=BASELINE_DAYS), report_date


def plan(alerts: Iterable[Alert], report_date: date, settings, pairs: Sequence[tuple[str, ...]] = PAIRS,
         ) -> list[tuple[Alert, DrillQuery]]:
    """The drill-down queries of the day, largest |impact| first: one per dimension pair per alert."""
    start, end = window(report_date)
    ordered = sorted(alerts, key=lambda a: (-abs(impact(a)), a.service, alert_kind(a)))
    return [(a, DrillQuery(a.service, pair, start, end, settings.cost_metric, getattr(a, "breakdown", "") or "",
                           settings.group_by if getattr(a, "breakdown", "") else "",
                           tuple(settings.exclude_record_types)))
            for a in ordered for pair in pairs]


def parse_pages(pages: Sequence[dict[str, Any]], pair: Sequence[str], metric: str) -> pd.DataFrame:
    """The long frame (usage_date, pair..., amount) of a grouped GetCostAndUsage answer, all pages."""
    rows = [(r["TimePeriod"]["Start"][:10], *g["Keys"], g["Metrics"][metric]["Amount"])
            for page in pages for r in page.get("ResultsByTime", []) for g in r.get("Groups", [])]
    frame = pd.DataFrame(rows, columns=["usage_date", *pair, "amount"])
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    frame["amount"] = pd.to_numeric(frame["amount"]).astype("float64")
    if not np.isfinite(frame["amount"].to_numpy()).all():
        raise ValueError("an Amount is not a finite number")
    return frame


class Budget:
    """Requests left for the day (each page is one request, USD 0.01)."""

    def __init__(self, left: int) -> None:
        self.left = max(left, 0)
        self.spent = 0

    def take(self) -> None:
        self.left -= 1
        self.spent += 1


class DailyLimit(Exception):
    """The budget ran out before the query's last page."""


def run_query(client, query: DrillQuery, budget: Budget, max_pages: int) -> tuple[list[dict[str, Any]], int]:
    """Every page of one drill-down query within the budget; return the pages and the requests made.

    Raises DailyLimit (after spending what it took) when a page still has a next one and the budget is spent;
    CostExplorerError as costexplorer.fetch_pages does. A free client (saved answers) takes nothing of the budget."""
    if getattr(client, "free", False):
        return list(fetch_pages(client, query, max_pages)), 0
    if budget.left <= 0:
        raise DailyLimit
    pages: list[dict[str, Any]] = []
    for page in fetch_pages(client, query, max_pages):
        budget.take()
        pages.append(page)
        if page.get("NextPageToken") and budget.left <= 0:
            raise DailyLimit
    return pages, len(pages)


def answer_names(pages: Sequence[dict[str, Any]], dimension: str = "LINKED_ACCOUNT") -> dict[str, str]:
    """value -> name of a grouped GetCostAndUsage answer: Cost Explorer returns each linked account's name in
    DimensionValueAttributes ({"Value", "Attributes": {"description": name}}) with the groups, at no extra request."""
    out: dict[str, str] = {}
    for page in pages:
        for item in page.get("DimensionValueAttributes") or []:
            name = (item.get("Attributes") or {}).get("description")
            if item.get("Value") and name:
                out[str(item["Value"])] = str(name)
    return out


# --- an export's answers (COST_SOURCE=export) ---------------------------------------------------------------------

class FrameAnswers:
    """A GetCostAndUsage client answering the drill-down's requests from one long cost frame (an export's
    exports.detail_frame, read once for all the day's alerted services), through ce_answer: free (no request, no
    charge: DRILLDOWN_MAX_REQUESTS is not taken) and its outcomes stored (a rerun reads them back, reading nothing).

    load: () -> the frame (usage_date, service, linked_account, usage_type, region, operation, resource_id, sku,
    record_type, amount), called on the first request only; account_names: LINKED_ACCOUNT -> name."""

    free = True
    keeps_stored = True
    EXTRA_DIMENSIONS = ("RESOURCE_ID", "SKU")

    def __init__(self, load: Callable[[], pd.DataFrame], account_names: Mapping[str, str] | None = None,
                 page_groups: int = 100_000) -> None:
        self._load = load
        self._by_service: dict[str, pd.DataFrame] | None = None
        self._empty: pd.DataFrame | None = None
        self.account_names = dict(account_names or {})
        self.page_groups = page_groups
        self.requests = 0
        self.loads = 0

    def _frames(self) -> dict[str, pd.DataFrame]:
        if self._by_service is None:
            frame = prepare_frame(self._load())
            self.loads += 1
            self._empty = frame.iloc[:0]
            self._by_service = {str(k): g for k, g in frame.groupby("service", sort=False, observed=True)}
        return self._by_service

    def get_cost_and_usage(self, **kwargs: Any) -> dict[str, Any]:
        """The answer ce_answer gives from the frame (only the filtered service's rows are looked at); a request it
        refuses raises CostExplorerError as fetch_pages would."""
        from . import ce_answer
        from .costexplorer import _filtered_service

        self.requests += 1
        try:
            frames = self._frames()
        except (ValueError, OSError, RuntimeError) as exc:  # ExportError, AthenaError: one line naming what failed
            raise CostExplorerError(f"the export's line items cannot be read ({exc})") from None
        service = _filtered_service(kwargs.get("Filter"))
        frame = frames.get(service, self._empty) if service and ", " not in service else pd.concat(
            [self._empty, *frames.values()])
        try:
            return ce_answer.answer_cost_and_usage(frame, kwargs, page_groups=self.page_groups,
                                                   account_names=self.account_names,
                                                   extra_dimensions=self.EXTRA_DIMENSIONS, max_group_by=3)
        except ce_answer.CEError as exc:
            raise CostExplorerError(f"export drill-down {exc.code}: {exc.message}") from None


def prepare_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """An export's detail frame as FrameAnswers reads it: amounts as float USD, lines without a resource id under
    NO_RESOURCE_ID, text columns as categories (a month of resources stays small)."""
    out = frame.copy()
    out["amount"] = pd.to_numeric(out["amount"].map(float) if out["amount"].dtype == object else out["amount"],
                                  errors="raise").astype("float64")
    if "resource_id" in out:
        ids = out["resource_id"].fillna("").astype(str)
        out["resource_id"] = ids.mask(ids == "", NO_RESOURCE_ID)
    for col in out.columns:
        if col not in ("usage_date", "amount"):
            out[col] = out[col].fillna("").astype(str).astype("category")
    return out


# --- the day's root causes ---------------------------------------------------------------------------------------

def explain(alerts: Iterable[Alert], settings, engine, client, report_date: date, *,
            client_factory: Callable[[], Any] | None = None, top: int = TOP,
            pairs: Sequence[tuple[str, ...]] = PAIRS) -> dict[tuple[str, str, str], RootCauseResult]:
    """Root causes of the day's alerts: (service, breakdown, kind) -> RootCauseResult; {} when drill-down is off.

    Stored outcomes of report_date are used first (a rerun asks nothing again) and their requests count against
    DRILLDOWN_MAX_REQUESTS; the rest is asked, largest alert first, while the day's budget lasts. client may be None:
    one is made (client_factory, else make_ce_client with the CE settings) only when a request is needed. A free
    client (attribute free=True) takes nothing of the budget; unless it also keeps_stored, it is asked again rather
    than read back from storage. pairs: the groupings asked per alert (EXPORT_PAIRS for an export's answerer).
    """
    alerts = list(alerts)
    if not alerts:
        return {}
    # Saved answers (COST_SOURCE=file) and an export's answerer cost no request: no budget taken. Saved answers
    # are asked again rather than read back from storage (a rerun may list more of them); an export's are stored.
    free = getattr(client, "free", False)
    again = free and not getattr(client, "keeps_stored", False)
    if not settings.drilldown or (settings.drilldown_max_requests == 0 and not free):
        why = "DRILLDOWN=off" if not settings.drilldown else "DRILLDOWN_MAX_REQUESTS=0"
        log.info("root causes: none asked (%s)", why)
        return {}
    stored = {(r.service, r.breakdown, r.kind, r.pair): r for r in db.load_root_causes(engine, report_date)}
    budget = Budget(settings.drilldown_max_requests - sum(r.requests for r in stored.values()))
    made: dict[tuple[str, str, str, str], tuple[RootCauseResult, int]] = {}
    per_alert: dict[tuple[str, str, str], dict[tuple[str, ...], RootCauseResult]] = {}
    refused: set[str] = set()
    down: str | None = None  # Cost Explorer failed: the rest of the run asks nothing more
    unrecorded = 0  # requests spent outside any stored outcome (a query that failed midway)
    accounts: dict[str, str] = {}  # LINKED_ACCOUNT -> name, from the answers' DimensionValueAttributes

    def get_client():
        nonlocal client
        if client is None:
            client = (client_factory or (lambda: make_ce_client(
                max_attempts=settings.ce_max_attempts, read_timeout=settings.ce_timeout_seconds)))()
        return client

    for alert, query in plan(alerts, report_date, settings, pairs):
        key = alert_key(alert)
        slot = per_alert.setdefault(key, {})
        pair_name = ",".join(query.pair)
        old = stored.get((*key, pair_name))
        if old is not None and old.status != DAILY_LIMIT and not again:
            slot[query.pair] = RootCauseResult.from_json(old.result)
            continue
        spent_before = old.requests if old is not None else 0
        if down is not None:
            slot[query.pair] = RootCauseResult(f"{UNAVAILABLE}{down}", pair=query.pair)
            continue
        if refused & set(query.pair):
            result = RootCauseResult(f"{UNAVAILABLE}Cost Explorer refused grouping by "
                                     f"{', '.join(sorted(refused & set(query.pair)))}", pair=query.pair)
            made[(*key, pair_name)] = result, spent_before
            slot[query.pair] = result
            continue
        left = budget.left
        try:
            if left <= 0 and not free:
                raise DailyLimit  # before making a client: a rerun past the cap touches nothing
            pages, _ = run_query(get_client(), query, budget, settings.ce_max_pages)
        except DailyLimit:
            result = RootCauseResult(DAILY_LIMIT, pair=query.pair)
            made[(*key, pair_name)] = result, spent_before + (left - budget.left)
            slot[query.pair] = result
            continue
        except NoSavedAnswer as exc:  # this query only: the other alerts may have theirs
            result = RootCauseResult(f"{UNAVAILABLE}{exc}", pair=query.pair)
            made[(*key, pair_name)] = result, spent_before
            slot[query.pair] = result
            continue
        except CostExplorerError as exc:
            text = str(exc)
            if "ValidationException" in text:
                for dim in query.pair:
                    if dim in text and dim not in refused:
                        refused.add(dim)
                        log.warning("root causes: Cost Explorer refused grouping by %s (%s); the other dimension "
                                    "pair is still used", dim, text)
                if not refused & set(query.pair):
                    log.warning("root causes of %s by %s: %s", alert.service, pair_name, text)
                result = RootCauseResult(f"{UNAVAILABLE}{text}", pair=query.pair)
                made[(*key, pair_name)] = result, spent_before + (left - budget.left)
                slot[query.pair] = result
            else:
                down = text
                unrecorded += left - budget.left  # pages taken before it failed still count today
                log.warning("root causes: %s; the remaining alerts are not analysed this run", text)
                slot[query.pair] = RootCauseResult(f"{UNAVAILABLE}{text}", pair=query.pair)
            continue
        try:
            frame = parse_pages(pages, query.pair, settings.cost_metric)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("root causes of %s by %s: Cost Explorer's answer is not understood (%s: %s)", alert.service,
                        pair_name, type(exc).__name__, exc)
            result = RootCauseResult(f"{UNAVAILABLE}Cost Explorer's answer is not understood "
                                     f"({type(exc).__name__}: {exc})", pair=query.pair)
        else:
            result = root_causes(frame, alert, report_date, top=top)
            if "LINKED_ACCOUNT" in query.pair:
                accounts.update(answer_names(pages, "LINKED_ACCOUNT"))
        made[(*key, pair_name)] = result, spent_before + (left - budget.left)
        slot[query.pair] = result

    if accounts:  # names from the answers themselves: no request of their own
        names = {"LINKED_ACCOUNT": accounts}
        made = {k: (_named(r, names), n) for k, (r, n) in made.items()}
        per_alert = {key: {pair: _named(r, names) for pair, r in slot.items()} for key, slot in per_alert.items()}
    if budget.spent:
        log.info("root causes: %d Cost Explorer request(s) (USD %.2f), %d left of DRILLDOWN_MAX_REQUESTS=%d today",
                 budget.spent, budget.spent * 0.01, budget.left, settings.drilldown_max_requests)
    # Requests outside any outcome are counted with the run's first stored row: every request of the day counts.
    db.store_root_causes(engine, [
        db.StoredRootCause(report_date, *k, r.status, r.to_json(), n + (unrecorded if i == 0 else 0))
        for i, (k, (r, n)) in enumerate(made.items())])
    return {key: best(list(slot.values())) for key, slot in per_alert.items()}


def _named(result: RootCauseResult, names: Mapping[str, Mapping[str, str]]) -> RootCauseResult:
    """The result with the known names of its causes' dimension values."""
    causes = [RootCause(c.dimensions, {**c.names, **{k: names[k][v] for k, v in c.dimensions.items()
                                                     if v in names.get(k, {})}}, c.cost, c.normal, c.delta, c.share)
              for c in result.causes]
    return replace(result, causes=causes)


def best(results: Sequence[RootCauseResult]) -> RootCauseResult:
    """The one result to show of an alert's pairs: an ok one whose top cause explains the most, each pair of
    PAIR_ORDER preferred to a later one unless that one explains FIRST_PAIR_PREFERENCE more (the earlier pair on a
    tie); else the first refusal or contradiction; else not analysed."""
    ok = [r for r in results if r.status == OK]
    if ok:
        # A resource is the most actionable answer: shown when it explains (almost) as much as its account x usage
        # type. Account x usage type names what to look at; region x operation often just names the one region a
        # service runs in: each wins only when its top cause explains clearly more.
        return max(ok, key=_preference)
    unavailable = [r for r in results if r.status.startswith(UNAVAILABLE)]
    return unavailable[0] if unavailable else RootCauseResult(DAILY_LIMIT)


def _preference(result: RootCauseResult) -> float:
    """best()'s score: the top cause's share, less FIRST_PAIR_PREFERENCE per place down PAIR_ORDER. Resources
    split what one account x usage type group holds (a new service's two jobs): the resource pair counts the share
    its kept causes explain together (at most TOP resources)."""
    pair = tuple(result.pair)
    place = PAIR_ORDER.index(pair) if pair in PAIR_ORDER else len(PAIR_ORDER)
    top = result.causes[0] if result.causes else None
    if top is None:
        return -1.0 - FIRST_PAIR_PREFERENCE * place
    share = top.share or 0.0
    if "RESOURCE_ID" in top.dimensions:
        share = max(share, result.explained_share or 0.0)
        if top.dimensions["RESOURCE_ID"] == NO_RESOURCE_ID:
            place = len(PAIR_ORDER)  # lines without a resource: the resource pair says no more than the others
    return share - FIRST_PAIR_PREFERENCE * place


def stored(alerts: Iterable[Alert], engine, report_date: date) -> dict[tuple[str, str, str], RootCauseResult]:
    """The root causes stored for report_date's alerts (explain's answer, asking nothing); alerts without any
    stored outcome are left out."""
    by_key: dict[tuple[str, str, str], list[RootCauseResult]] = {}
    order = [",".join(p) for p in PAIR_ORDER]  # best() prefers the earlier pair on a tie, as explain() does
    rows = sorted(db.load_root_causes(engine, report_date),
                  key=lambda r: order.index(r.pair) if r.pair in order else len(order))
    for r in rows:
        by_key.setdefault((r.service, r.breakdown, r.kind), []).append(RootCauseResult.from_json(r.result))
    return {key: best(by_key[key]) for key in map(alert_key, alerts) if key in by_key}
