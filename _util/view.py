"""The one view model of a report day: every fact a reader sees, worded once.

`build_view(analysis, rules)` turns an `Analysis` and the rule settings into a `DayView`; the Slack message, the
preview, the site pages, report.json and the chart titles are views of it and word nothing themselves. Links are
added after publishing with `with_links`. Pure: no environment, clock or network.

Texts here are plain (no markup, nothing escaped): each medium escapes and styles them its own way.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from . import fmt
from .model import (
    CUMULATIVE_CHART,
    DAILY_CHART,
    MTD_CHART,
    Analysis,
    DayCost,
    FirstSeen,
    ServiceCost,
    Spike,
    Trend,
    alert_kind,
    first_seen_chart_id,
    spike_chart_id,
    trend_chart_id,
)

if TYPE_CHECKING:
    from .budgets import BudgetStatus, TeamMonth
    from .drilldown import RootCause, RootCauseResult
    from .forecast import Forecast, LastMonth
    from .teams import Teams

TREND_LONG_DAYS = 28  # a trend's long average (drilldown's normal of a trend's causes too)
DAYS_PER_MONTH = 30  # "about +$X/month at this pace": a trend's daily move times this


# ---- rules --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """The settings a reader is told about (thresholds, spans, what was measured); one source: the Settings."""

    spike_z_threshold: float
    spike_min_delta_usd: float
    lookback_days: int
    macd_fast: int
    macd_slow: int
    macd_signal: int
    trend_filter: bool
    metric: str
    exclude_record_types: tuple[str, ...]
    group_by: str

    @classmethod
    def from_settings(cls, settings) -> Rules:
        """The rules of a Settings object (field for field)."""
        return cls(**{name: getattr(settings, name) for name in ("spike_z_threshold", "spike_min_delta_usd",
                                                                 "lookback_days", "macd_fast", "macd_slow",
                                                                 "macd_signal", "trend_filter")},
                   metric=settings.cost_metric, exclude_record_types=tuple(settings.exclude_record_types),
                   group_by=settings.group_by)

    @property
    def macd(self) -> str:
        return f"MACD({self.macd_fast}, {self.macd_slow}, {self.macd_signal})"

    def lines(self) -> tuple[str, ...]:
        """The rule sentences (site footer, Slack context, report.json)."""
        spike = (f"Spike: the day's cost is at least {self.spike_z_threshold:g} standard deviations and "
                 f"{fmt.money(self.spike_min_delta_usd)} away from its normal (the mean of up to "
                 f"{self.lookback_days} days before)")
        trend = (f"Trend: the gap between the {self.macd_fast}- and {self.macd_slow}-day moving averages (MACD) "
                 f"crossed its {self.macd_signal}-day signal line"
                 + (", and the move is material (trend filter on)" if self.trend_filter
                    else " (trend filter off: every crossing)"))
        data = f"Metric: {self.metric}"
        if self.exclude_record_types:
            data += f" excluding {', '.join(self.exclude_record_types)}"
        if self.group_by:
            data += f", broken down by {self.group_by}"
        return spike, trend, data


# ---- charts -------------------------------------------------------------------------------------------------------

CAPTIONS = {"mtd": "Month-to-date spend by service", "daily": "Daily spend by service this month",
            "cumulative": "Month to date vs last month and budget",
            "spike": "Spike", "trend": "Trend", "first_seen": "New service"}
BUTTONS = {"mtd": "Plot month to date", "daily": "Plot daily by service", "cumulative": "Plot month vs budget",
           "spike": "Plot", "trend": "Plot", "first_seen": "Plot"}


@dataclass(frozen=True)
class ChartView:
    """One chart of the day: id (a key, never shown), kind (mtd | daily | spike | trend | first_seen), service
    (None for the all-services charts) and breakdown ("" = the service total), caption (what a reader sees), title
    and subtitle (drawn on the PNG), url once published."""

    id: str
    kind: str
    service: str | None
    caption: str
    title: str = ""
    subtitle: str = ""
    url: str | None = None
    breakdown: str = ""

    @property
    def button(self) -> str:
        """The label of its Slack button."""
        return BUTTONS[self.kind]

    @property
    def filename(self) -> str:
        return chart_filename(self.id)


def chart_filename(chart_id: str) -> str:
    """The PNG file name of a chart id: ASCII letters/digits/dashes plus a hash of the exact id (stable, safe)."""
    if chart_id == CUMULATIVE_CHART:
        return "month-vs-budget.png"  # not the id: a chart id never shows, not even in a link
    if chart_id in (MTD_CHART, DAILY_CHART):
        return chart_id.replace("_", "-") + ".png"
    ascii_text = unicodedata.normalize("NFKD", chart_id).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:60].rstrip("-") or "chart"
    digest = hashlib.sha256(chart_id.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}.png"


def day_charts(analysis: Analysis) -> list[ChartView]:
    """Every chart of the day in page order (month to date, daily by service, cumulative, spikes, new, trends; one per id), with
    captions but no titles (build_view adds them)."""
    specs = [ChartView(MTD_CHART, "mtd", None, CAPTIONS["mtd"]),
             ChartView(DAILY_CHART, "daily", None, CAPTIONS["daily"]),
             ChartView(CUMULATIVE_CHART, "cumulative", None, CAPTIONS["cumulative"])]
    specs += [ChartView(spike_chart_id(s.service, s.breakdown), "spike", s.service,
                        f"{CAPTIONS['spike']}: {label(s.service, s.breakdown)}", breakdown=s.breakdown)
              for s in analysis.spikes]
    specs += [ChartView(first_seen_chart_id(f.service, f.breakdown), "first_seen", f.service,
                        f"{CAPTIONS['first_seen']}: {label(f.service, f.breakdown)}", breakdown=f.breakdown)
              for f in analysis.first_seen]
    specs += [ChartView(trend_chart_id(t.service, t.breakdown), "trend", t.service,
                        f"{CAPTIONS['trend']}: {label(t.service, t.breakdown)}", breakdown=t.breakdown)
              for t in analysis.trends]
    unique: dict[str, ChartView] = {}
    for spec in specs:
        unique.setdefault(spec.id, spec)
    return list(unique.values())


def label(service: str, breakdown: str = "") -> str:
    """A series' name: the service, or "service in breakdown"."""
    return f"{service} in {breakdown}" if breakdown else service


def captions(charts, chart_ids) -> list[str]:
    """The captions of chart ids (an id not among charts is "another chart": ids are never shown)."""
    by_id = {c.id: c.caption for c in charts}
    return [by_id.get(cid, "another chart") for cid in chart_ids]


# ---- comparisons and entries --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """A figure against a base: `value` now, `base` then (None: no data), described by `label`."""

    label: str  # what the base is: "Tue, November 24 (the day before)"
    value: float
    base: float | None
    short: str = ""  # the base in a few words, for notifications: "the day before"

    @property
    def delta(self) -> float | None:
        return None if self.base is None else self.value - self.base

    @property
    def pct(self) -> float | None:
        return None if self.base is None or self.base <= 0 else (self.value - self.base) / self.base

    @property
    def change(self) -> str:
        """"+$12.34 (+1.0%)", or "no data"."""
        if self.base is None:
            return "no data"
        return change_text(fmt.shown_difference(self.value, self.base), self.pct)  # adds up with the figures shown

    @property
    def text(self) -> str:
        """"+$12.34 (+1.0%) vs Tue, November 24 (the day before): $1,210.27"."""
        if self.base is None:
            return f"no data for {self.label}"
        return f"{self.change} vs {self.label}: {fmt.money(self.base)}"


HEADLINE_LEAD = "Biggest change"  # before the headline entry's sentence
# New services sit after spikes (a day's surprise, like them: ranked by the day's cost) and before trends.
GROUPS = {"spikes": "Spikes", "new": "New services", "trends": "Trending up", "savings": "Savings"}


@dataclass(frozen=True)
class Entry:
    """One service's alerts of the day, as one entry: a spike, a trend, or both (direction: the spike's), or a
    first-seen service. With COST_GROUP_BY an entry may be one (service, breakdown) series the total hides.

    `impact` (USD/day) ranks entries: a spike's distance from normal, a new service's cost, else the trend's 7-day
    vs 28-day move. `text` follows the service name ("spiked to $61.43 …", "in 2222… spiked …"); `detail` holds
    the statistics (site and charts)."""

    service: str
    group: str  # spikes | new | trends | savings
    direction: str  # up | down
    impact: float
    text: str
    detail: str
    chart_ids: tuple[str, ...]
    spike: Spike | None = None
    trend: Trend | None = None
    first_seen: FirstSeen | None = None
    breakdown: str = ""  # "" = the service total
    root_causes: RootCauseResult | None = None  # the spike's (for a spike and trend entry), else the trend's
    cause_text: str = ""  # the root causes in words ("" when none were asked)
    owner: str | None = None  # the owning team's name (TEAMS_FILE); None = unowned, or no teams file

    @property
    def cause_stack(self) -> CauseStack | None:
        """The root causes' daily costs over the drill-down window, for the spike chart (None: none to draw)."""
        return cause_stack(self.root_causes)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k, v in (("spike", self.spike), ("trend", self.trend), ("first_seen", self.first_seen))
                     if v is not None)

    @property
    def sentence(self) -> str:
        """The whole plain sentence: name and text."""
        return f"{self.service} {self.text}"


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    entries: tuple[Entry, ...]

    @property
    def note(self) -> str:
        return fmt.count(len(self.entries), "service")


def forecast_range(f: Forecast) -> str:
    """"80%: $21,900.00–$23,900.00", and how it was made when not by the model alone: the run rate (too little
    history), Cost Explorer's forecast (FORECAST_SOURCE=ce), or the model because Cost Explorer's was not there."""
    how = "; run rate, too little history for the model" if f.method == "run_rate" else ""
    if f.method == "ce":
        how = "; Cost Explorer's forecast"
    elif f.fallback:
        how += "; Cost Explorer's forecast unavailable"
    return f"{f.interval:.0%}: {fmt.money(f.low)}–{fmt.money(f.high)}{how}"


def last_month_text(review: LastMonth) -> str:
    """"October closed at $20,100.00 (near-final: 2 days still estimated) — 4.2% above the $19,290.00 forecast of
    October 14 (80%: $18,900.00–$19,700.00)"."""
    month = calendar.month_name[review.forecast_on.month]
    state = ("final" if not review.estimated_days
             else f"near-final: {fmt.count(review.estimated_days, 'day')} still estimated")
    text = f"{month} closed at {fmt.money(review.total)} ({state})"
    error = review.error
    if error is None:
        return text
    delta = fmt.shown_difference(review.total, review.forecast)
    side = "above" if delta > 0 else "below" if delta < 0 else "exactly at"
    size = f"{fmt.share(abs(error))} " if delta else ""
    return (f"{text} — {size}{side} the {fmt.money(review.forecast)} forecast of {fmt.day(review.forecast_on)} "
            f"({fmt.interval(review.low, review.high, review.interval)})")


def budget_text(b: BudgetStatus) -> str:
    """"Monthly budget: on pace to exceed the $12,000.00 budget by $1,400.00 — around the 24th (80%: …)", or
    "Team data budget: …" for a team's budget."""
    return f"{budget_label(b)}: {b.text}"


def budget_label(b: BudgetStatus) -> str:
    """"Monthly budget" (the account's), or "Team data budget"."""
    return "Monthly budget" if b.team is None else f"Team {b.team} budget"


def change_text(delta: float, pct: float | None) -> str:
    """A change in USD with its percent when there is one: "+$12.34 (+1.0%)", "+$5.00"."""
    return fmt.signed_money(delta) + (f" ({fmt.pct(pct)})" if pct is not None else "")


def spike_text(s: Spike, d: date) -> str:
    """"spiked to $61.43 on Wed, November 25, $42.08 (217.4%) above its normal $19.35/day"."""
    verb, side = ("spiked to", "above") if s.direction == "up" else ("dropped to", "below")
    pct = f" ({fmt.share(abs(s.pct))})" if s.pct is not None else ""
    delta = fmt.shown_difference(s.cost, s.mean)  # the two figures shown add up to the cent
    return (f"{verb} {fmt.money(s.cost)} on {fmt.weekday(d)}, {fmt.money(abs(delta))}{pct} {side} its normal "
            f"{fmt.money(s.mean)}/day")


def trend_text(t: Trend, lead: str = "is trending") -> str:
    """"is trending up: 7-day average $69.94/day, +6.1% vs its 28-day average; about +$121.50/month at this pace"."""
    vs = (f"{fmt.pct(t.pct)} vs its 28-day average" if t.pct is not None
          else f"vs {fmt.money(t.avg28)}/day over 28 days")
    return (f"{lead} {t.direction}: 7-day average {fmt.money(t.avg7)}/day, {vs}; about "
            f"{fmt.signed_money((t.avg7 - t.avg28) * DAYS_PER_MONTH)}/month at this pace")


def offset_text(s: Spike) -> str:
    """What hid a breakdown spike from its service total: ", while 333333333333 moved -$290.00; the service net
    +$10.00" ("" for a service spike)."""
    if not s.breakdown:
        return ""
    out = f", while {s.offset_by} moved {fmt.signed_money(s.offset)}" if s.offset_by else ""
    if s.service_delta is not None:
        out += f"; the service net {fmt.signed_money(s.service_delta)}"
    return out


def first_seen_text(f: FirstSeen, d: date) -> str:
    """"is new: $412.50 on Wed, November 25, its first cost on Thu, November 19"."""
    first = "its first day with cost" if f.first_date >= d else f"its first cost on {fmt.weekday(f.first_date)}"
    return f"is new: {fmt.money(f.cost)} on {fmt.weekday(d)}, {first}"


def first_seen_detail(f: FirstSeen, d: date, rules: Rules) -> str:
    """"no cost in the 365 days before Thu, November 19; 6 days of history, too few for the spike rule"."""
    history = (d - f.first_date).days
    return (f"no cost in the {fmt.count((f.first_date - d).days + rules.lookback_days, 'day')} before "
            f"{fmt.weekday(f.first_date)}; {fmt.count(history, 'day')} of history, too few for the spike rule")


def _in(breakdown: str) -> str:
    return f"in {breakdown} " if breakdown else ""


def spike_detail(s: Spike) -> str:
    """The spike's statistics: "z = +14.0, σ $3.01 over 365 baseline days"."""
    z = f"z = {s.zscore:+.1f}" if s.zscore is not None else "flat baseline (σ = 0)"
    sigma = f", σ {fmt.money(s.std)}" if s.zscore is not None else ""
    return f"{z}{sigma} over {fmt.count(s.history_days, 'baseline day')}"


def trend_detail(t: Trend, rules: Rules) -> str:
    """The trend's statistics: "MACD(12, 26, 18) crossed above its signal 5 days ago: +$2.19 vs +$0.59"."""
    ago = t.crossed_days_ago
    when = "on the day" if ago <= 0 else ("the day before" if ago == 1 else f"{ago} days before")
    side = "above" if t.direction == "up" else "below"
    return (f"{rules.macd} crossed {side} its signal {when}: MACD {fmt.signed_money(t.macd)} vs signal "
            f"{fmt.signed_money(t.signal)}")


def _entries(analysis: Analysis, rules: Rules) -> list[Entry]:
    """One entry per service, in reading order: spikes up, trends up, then savings; biggest $ first in each."""
    d = analysis.report_date
    trends = {(t.service, t.breakdown): t for t in analysis.trends}
    out: list[Entry] = []
    for s in analysis.spikes:
        t = trends.pop((s.service, s.breakdown), None)
        text = _in(s.breakdown) + spike_text(s, d) + offset_text(s)
        detail, ids = spike_detail(s), [spike_chart_id(s.service, s.breakdown)]
        if t is not None:
            text += f", and {trend_text(t, 'is also trending')}"
            detail += f"; {trend_detail(t, rules)}"
            ids.append(trend_chart_id(t.service, t.breakdown))
        group = "spikes" if s.direction == "up" else "savings"
        out.append(Entry(s.service, group, s.direction, s.delta, text, detail, tuple(ids), s, t,
                         breakdown=s.breakdown))
    for f in analysis.first_seen:
        out.append(Entry(f.service, "new", f.direction, f.cost, _in(f.breakdown) + first_seen_text(f, d),
                         first_seen_detail(f, d, rules), (first_seen_chart_id(f.service, f.breakdown),),
                         first_seen=f, breakdown=f.breakdown))
    for t in trends.values():
        group = "trends" if t.direction == "up" else "savings"
        out.append(Entry(t.service, group, t.direction, t.avg7 - t.avg28, _in(t.breakdown) + trend_text(t),
                         trend_detail(t, rules), (trend_chart_id(t.service, t.breakdown),), None, t,
                         breakdown=t.breakdown))
    order = list(GROUPS)
    # Within savings, spikes (a day's drop) come before trends, as everywhere.
    return sorted(out, key=lambda e: (order.index(e.group), e.spike is None, -abs(e.impact), e.service,
                                      e.breakdown))


# ---- root causes -------------------------------------------------------------------------------------------------

# Dimensions that say where the cost is (after "in"); the others say what it is (usage type, operation, ...).
WHERE_DIMENSIONS = ("LINKED_ACCOUNT", "REGION")
CAUSES_IN_TEXT = 3  # causes named in an entry's cause text; the rest are counted
REST_LABEL = "the rest"  # the spike chart's stack above the named causes
STATUS_OK = "ok"  # DESIGN.md "Root causes": root_cause_status of an analysed alert


DIMENSION_NAMES = {"LINKED_ACCOUNT": "Account", "USAGE_TYPE": "Usage type", "REGION": "Region",
                   "OPERATION": "Operation", "SERVICE": "Service", "RESOURCE_ID": "Resource", "SKU": "SKU"}


def dimension_name(key: str) -> str:
    """A Cost Explorer dimension key for a reader: "LINKED_ACCOUNT" -> "Account"."""
    return DIMENSION_NAMES.get(key, key.replace("_", " ").capitalize())


def dimension_value(cause: RootCause, key: str) -> str:
    """One dimension's value of a root cause for a reader (an account with its name when known)."""
    value = cause.dimensions.get(key, "")
    if key == "LINKED_ACCOUNT":
        return account_text(value, cause.names.get(key))
    name = cause.names.get(key)
    return f"{name} ({value})" if name and name != value else value


def account_text(account_id: str, name: str | None) -> str:
    """"prod (1111…3333)" when the account's name is known, else its id."""
    if not name:
        return account_id
    short = f"{account_id[:4]}…{account_id[-4:]}" if len(account_id) > 9 else account_id
    return f"{name} ({short})"


RESOURCE_TEXT = 40  # characters of a resource id kept in text (the site's table shows it whole)
NO_RESOURCE_TEXT = "lines without a resource id"


def short_resource(resource_id: str) -> str:
    """A resource id for a sentence: an ARN's (or a path's) last part, a long id elided in the middle:
    "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc" -> "i-0abc"."""
    text = resource_id
    if text.startswith("arn:"):
        text = text.split(":", 5)[-1]  # the resource part: "instance/i-0abc", "table/orders", "my-bucket"
    text = text.rstrip("/").rsplit("/", 1)[-1] or resource_id
    if len(text) > RESOURCE_TEXT:
        text = f"{text[:RESOURCE_TEXT - 13]}…{text[-12:]}"
    return text


def cause_label(cause: RootCause) -> str:
    """One root cause's group in words: "USE1-BoxUsage:m5.2xlarge in prod (1111…3333)"; a resource first:
    "i-0abc (USE1-BoxUsage:m5.xlarge, account prod)"."""
    if "RESOURCE_ID" in cause.dimensions:
        from .drilldown import NO_RESOURCE_ID

        resource = cause.dimensions["RESOURCE_ID"]
        parts = [v for k, v in cause.dimensions.items() if k not in WHERE_DIMENSIONS and k != "RESOURCE_ID" and v]
        parts += [f"account {cause.names.get(k) or v}" if k == "LINKED_ACCOUNT" else cause.names.get(k) or v
                  for k, v in cause.dimensions.items() if k in WHERE_DIMENSIONS and v]
        head = NO_RESOURCE_TEXT if resource in ("", NO_RESOURCE_ID) else short_resource(resource)
        return f"{head} ({', '.join(parts)})" if parts else head
    what = [v for k, v in cause.dimensions.items() if k not in WHERE_DIMENSIONS and v]
    where = [account_text(v, cause.names.get(k)) if k == "LINKED_ACCOUNT" else cause.names.get(k) or v
             for k, v in cause.dimensions.items() if k in WHERE_DIMENSIONS and v]
    if not what:
        return ", ".join(where) or "(no value)"
    return " / ".join(what) + (f" in {', '.join(where)}" if where else "")


def cause_change(result: RootCauseResult) -> float:
    """The change the root causes explain part of (USD; per day for a trend): their deltas plus the unexplained."""
    return sum(c.delta for c in result.causes) + (result.unexplained or 0.0)


def cause_window(result: RootCauseResult, kind: str = "spike") -> int:
    """Days of the causes' normal: a spike's the days of the drill-down window before d, a trend's the long
    average's days ending d (at most 28)."""
    days = len(result.dates) - 1 if result.dates else TREND_LONG_DAYS  # the window's days before d
    return min(TREND_LONG_DAYS, days + 1) if kind == "trend" else days


def cause_text(result: RootCauseResult | None, kind: str = "spike") -> str:
    """An alert's root causes in plain words: "mostly USE1-BoxUsage:m5.2xlarge in prod (1111…3333), +$790.00 of
    +$840.00"; the status when there are none ("root causes not analysed (daily limit)"); "" when none asked.
    kind: spike | trend (a trend's figures are per day)."""
    if result is None:
        return ""
    if result.status != STATUS_OK:
        reason = result.status.removeprefix("unavailable: ")
        return reason if reason.startswith("root causes") else f"root causes {result.status}"
    if not result.causes:
        return "root causes: no group moved by a cent or more"
    unit = "/day" if kind == "trend" else ""
    lead = "mostly" if (result.explained_share or 0.0) >= 0.5 else "partly"
    # The drill-down's change is against the groups' normal of its own window, not the alert's year: say which.
    days = cause_window(result, kind)
    window = f"the 7- vs {days}-day move" if kind == "trend" else f"the change vs its {days}-day normal"
    change = f"{fmt.signed_money(cause_change(result))}{unit} ({window})"
    named = [f"{cause_label(c)}, {fmt.signed_money(c.delta)}{unit}" for c in result.causes[:CAUSES_IN_TEXT]]
    more = len(result.causes) - len(named)
    # Causes that move more than the whole change were partly offset by the other groups: say by how much, so
    # "-$119.91 of -$119.30" does not read as a mistake.
    rest = result.unexplained or 0.0
    offset = (f"; the other groups moved {fmt.signed_money(rest)}{unit}"
              if fmt.cents(rest) != 0 and abs(cause_change(result) - rest) > abs(cause_change(result)) else "")
    if len(named) == 1 and not more:
        return f"{lead} {named[0]} of {change}{offset}"
    if more:
        named.append(fmt.count(more, "more group"))
    return f"{lead} {', '.join(named[:-1])}, and {named[-1]}, of {change}{offset}"


@dataclass(frozen=True)
class CauseStack:
    """Daily costs (USD) of an alert's root causes over the drill-down window, bottom of the stack first, and
    "the rest" of the service's cost; labels worded by cause_label."""

    dates: tuple[date, ...]
    labels: tuple[str, ...]
    daily: tuple[tuple[float, ...], ...]
    rest: tuple[float, ...]
    rest_label: str = REST_LABEL


def cause_stack(result: RootCauseResult | None) -> CauseStack | None:
    """The chart data of an analysed alert's root causes (None when there is nothing to draw)."""
    if result is None or result.status != STATUS_OK or not result.causes or not result.dates:
        return None
    return CauseStack(tuple(date.fromisoformat(x) for x in result.dates),
                      tuple(cause_label(c) for c in result.causes), tuple(tuple(x) for x in result.daily),
                      tuple(result.rest))


def _with_causes(entry: Entry, root_causes: Mapping) -> Entry:
    alert = entry.spike or entry.trend or entry.first_seen
    kind = alert_kind(alert)
    result = root_causes.get((entry.service, getattr(alert, "breakdown", "") or "", kind))
    return replace(entry, root_causes=result, cause_text=cause_text(result, "trend" if kind == "trend" else "spike"))


# ---- teams -------------------------------------------------------------------------------------------------------

NOT_OWNED = "Not owned by any team"


def team_forecast_text(m: TeamMonth) -> str:
    """"On track for $8,500.00 this month (80%: $8,100.00–$8,900.00)"."""
    how = "; run rate, too little history for the model" if m.method == "run_rate" else ""
    return f"On track for {fmt.money(m.forecast)} this month ({fmt.interval(m.low, m.high, m.level)}{how})"


def team_month_text(m: TeamMonth) -> str:
    """"Month to date $7,100.00 · on track for $8,500.00 this month (80%: $8,100.00–$8,900.00)"."""
    forecast = team_forecast_text(m)
    return f"Month to date {fmt.money(m.mtd)} · {forecast[0].lower()}{forecast[1:]}"


@dataclass(frozen=True)
class TeamSection:
    """One owner's part of the day: its entries, its month and budget. name None: what no team owns."""

    name: str | None
    channel: str
    mention: str
    entries: tuple[Entry, ...]
    month: TeamMonth | None  # None: no team figures (a view built without them)

    @property
    def title(self) -> str:
        """"Team payments", or "Not owned by any team"."""
        return f"Team {self.name}" if self.name is not None else NOT_OWNED

    @property
    def budget(self) -> BudgetStatus | None:
        return self.month.budget if self.month is not None else None

    @property
    def month_text(self) -> str:
        """Month to date and forecast ("" without team figures)."""
        return team_month_text(self.month) if self.month is not None else ""

    @property
    def items(self) -> tuple[tuple[str, str | None, str], ...]:
        """(kind, service, breakdown) of each of its alerts today: one per kind of each entry (spike, trend,
        first_seen), then ("budget", None, "") when its budget alerts today."""
        out = [(kind, e.service, e.breakdown) for e in self.entries for kind in e.kinds]
        if self.budget is not None and self.budget.alert:
            out.append(("budget", None, ""))
        return tuple(out)


# ---- the day ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayView:
    """Everything a reader is told about report date d, worded once (USD)."""

    report_date: date
    title: str  # "AWS costs — Wednesday, November 25, 2026"
    total: float
    headline: Entry | None  # the largest $ change of the day (None: nothing unusual)
    headline_text: str  # plain: "Biggest change: …" or "Nothing unusual: …"
    counts: str  # "3 spikes up, 1 trending up, 2 savings" ("" when nothing)
    day_comparisons: tuple[Comparison, ...]  # the day before, the same weekday last week, the 7-day average
    mtd_total: float
    mtd_label: str  # "November 1–25"
    mtd_comparison: Comparison  # the same number of days last month
    groups: tuple[Group, ...]  # non-empty groups in reading order
    charts: tuple[ChartView, ...]  # page order
    freshness: str  # the estimated-days sentence, or "All days final"
    rules: tuple[str, ...]
    mtd_by_service: tuple[ServiceCost, ...]
    daily_totals: tuple[DayCost, ...]
    spikes: tuple[Spike, ...]
    trends: tuple[Trend, ...]
    estimated_dates: tuple[date, ...] = ()
    first_seen: tuple[FirstSeen, ...] = ()
    page_url: str | None = None  # the day's site page, once published
    missing: tuple[str, ...] = ()  # chart ids not published
    extra: dict = field(default_factory=dict)  # report.json keys added by later stages (never worded here)
    # (service, breakdown, kind) -> drilldown.RootCauseResult of every alert analysed (or said why not)
    root_causes: Mapping = field(default_factory=dict)
    forecast: Forecast | None = None  # forecast.month_end of d's month (None: not computed)
    teams: Teams | None = None  # the teams file's teams (None: no TEAMS_FILE); entries carry their owner
    team: str | None = None  # the team this view is for (for_team), None = the whole account

    def owner_text(self, entry: Entry) -> str:
        """Who owns an entry: its team's name, "unowned", or "" without a teams file."""
        if self.teams is None:
            return ""
        from .teams import UNOWNED

        return entry.owner or UNOWNED

    @property
    def team_mention(self) -> str:
        """The Slack user (U…/W…) or user-group (S…) id to mention in a team's view ("" = none)."""
        team = self.teams.get(self.team) if self.teams is not None and self.team else None
        return team.mention if team else ""
    budgets: tuple[BudgetStatus, ...] = ()  # the overall budget (team None) first, then the teams' in file order
    # Each team's day and month (file order, then what no team owns, team None); () without a teams file.
    team_months: tuple[TeamMonth, ...] = ()
    account_note: str = ""  # a team's view: the one line pointing to the whole account's report

    @property
    def team_month(self) -> TeamMonth | None:
        """The TeamMonth of the team this view is for (None: the account's view, or no team figures)."""
        if self.team is None:
            return None
        return next((m for m in self.team_months if m.team == self.team), None)

    @property
    def team_sections(self) -> tuple[TeamSection, ...]:
        """One section per team in file order, then what no team owns (only when it has entries or costs this
        month); () without a teams file."""
        if self.teams is None:
            return ()
        months = {m.team: m for m in self.team_months}
        out = [TeamSection(t.name, t.channel, t.mention, tuple(e for e in self.entries if e.owner == t.name),
                           months.get(t.name)) for t in self.teams]
        rest = TeamSection(None, "", "", tuple(e for e in self.entries if e.owner is None), months.get(None))
        if rest.entries or (rest.month is not None and rest.month.mtd):
            out.append(rest)
        return tuple(out)

    @property
    def team_forecast_text(self) -> str:
        """A team's view: "On track for $8,500.00 this month (80%: $8,100.00–$8,900.00)" ("" otherwise)."""
        m = self.team_month
        return team_forecast_text(m) if m is not None else ""

    @property
    def budget(self) -> BudgetStatus | None:
        """The overall monthly budget (MONTHLY_BUDGET_USD), None when unset."""
        return next((b for b in self.budgets if b.team is None), None)

    @property
    def budget_lines(self) -> tuple[str, ...]:
        """The budget lines of the message: every budget that alerts today (on pace to exceed, passed today), and
        the overall budget even when quiet (within budget / over since)."""
        if self.team is not None:  # a team's view: its own budget, every day (alerting or not)
            return tuple(budget_text(b) for b in self.budgets if b.team == self.team)
        return tuple(budget_text(b) for b in self.budgets if b.alert or b.team is None)

    @property
    def alerting_budgets(self) -> tuple[BudgetStatus, ...]:
        """The budgets that alert today (on pace to exceed, or passed on d); a team's view: only its own."""
        return tuple(b for b in self.budgets if b.alert and (self.team is None or b.team == self.team))

    @property
    def has_items(self) -> bool:
        """True when there is something to tell: an entry, or a budget alerting today."""
        return bool(self.groups or self.alerting_budgets)

    @property
    def total_label(self) -> str:
        """"Total on Wed, November 25" ("Team payments on Wed, November 25" in a team's view)."""
        if self.team_month is not None:
            return f"Team {self.team} on {fmt.weekday(self.report_date)}"
        return f"Total on {fmt.weekday(self.report_date)}"

    @property
    def mtd_heading(self) -> str:
        """"Month to date, November 1–25" ("Team payments, month to date, November 1–25" in a team's view)."""
        if self.team_month is not None:
            return f"Team {self.team}, month to date, {self.mtd_label}"
        return f"Month to date, {self.mtd_label}"

    @property
    def forecast_heading(self) -> str:
        """"On track for this month (80%: $21,900.00–$23,900.00)" ("" without a forecast)."""
        f = self.forecast
        if f is None:
            return ""
        return f"On track for this month ({forecast_range(f)})"

    @property
    def forecast_comparison(self) -> Comparison | None:
        """The month-end forecast against last month's total (None without a forecast)."""
        f = self.forecast
        if f is None:
            return None
        last = self.report_date.replace(day=1) - timedelta(days=1)
        return Comparison(f"{calendar.month_name[last.month]} (last month)", f.forecast, f.last_month_total,
                          "last month")

    @property
    def forecast_text(self) -> str:
        """"On track for $22,800.00 this month (80%: $21,900.00–$23,900.00) · last month $20,100.00 (+13.4%)"."""
        f, cmp = self.forecast, self.forecast_comparison
        if f is None or cmp is None:
            return ""
        text = f"On track for {fmt.money(f.forecast)} this month ({forecast_range(f)})"
        if cmp.base is not None:
            text += f" · last month {fmt.money(cmp.base)}" + (f" ({fmt.pct(cmp.pct)})" if cmp.pct is not None else "")
        return text

    @property
    def last_month_text(self) -> str:
        """In the month's first days, how last month closed against its forecast ("" otherwise)."""
        review = self.forecast.last_month if self.forecast is not None else None
        return last_month_text(review) if review is not None else ""

    def root_cause(self, alert: Spike | Trend | FirstSeen) -> RootCauseResult | None:
        """The root causes of one of the day's alerts (None: none asked)."""
        return self.root_causes.get((alert.service, getattr(alert, "breakdown", "") or "", alert_kind(alert)))

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(e for g in self.groups for e in g.entries)

    @property
    def alerts(self) -> int:
        """Services with an alert (a spike that is also a trend counts once)."""
        return len(self.entries)

    @property
    def urls(self) -> dict[str, str]:
        """{chart id: url} of the published charts."""
        return {c.id: c.url for c in self.charts if c.url}

    def chart(self, chart_id: str) -> ChartView | None:
        return next((c for c in self.charts if c.id == chart_id), None)


def _month_comparison(d: date, mtd: float, previous: float | None) -> tuple[str, Comparison]:
    last_month_end = d.replace(day=1) - timedelta(days=1)
    start = last_month_end.replace(day=1)
    n = min(d.day, calendar.monthrange(start.year, start.month)[1])
    # Short last month (March 30 vs February): all of it, said so.
    same = ("the same day" if n == 1 else f"the same {n} days") if n == d.day else f"all {n} days of"
    label = f"{fmt.day_range(start, start.replace(day=n))} ({same} last month)"
    return fmt.day_range(d.replace(day=1), d), Comparison(label, mtd, previous)


def _headline(entries: list[Entry], total: float, week: Comparison) -> tuple[Entry | None, str]:
    if not entries:
        vs = f", {week.change} vs {week.label}" if week.base is not None else ""
        return None, f"Nothing unusual: {fmt.money(total)} in all{vs}"
    top = max(entries, key=lambda e: (abs(e.impact), e.group == "spikes"))
    return top, f"{HEADLINE_LEAD}: {top.sentence}"


def _counts(groups: list[Group]) -> str:
    words = {"spikes": ("spike up", "spikes up"), "new": ("new service", "new services"),
             "trends": ("trending up", "trending up"),
             "savings": ("saving", "savings")}
    return ", ".join(f"{len(g.entries)} {words[g.key][len(g.entries) != 1]}" for g in groups)


def spike_chart_text(s: Spike, d: date) -> tuple[str, str]:
    """(title, subtitle) of a spike chart."""
    kind = "spike up" if s.direction == "up" else "drop"
    return (f"{label(s.service, s.breakdown)} — {kind} on {fmt.weekday(d)}",
            f"{fmt.money(s.cost)} on the day, {change_text(fmt.shown_difference(s.cost, s.mean), s.pct)} vs its normal "
            f"{fmt.money(s.mean)}/day · "
            f"{spike_detail(s)}")


def first_seen_chart_text(f: FirstSeen, d: date) -> tuple[str, str]:
    """(title, subtitle) of a new service's chart."""
    return (f"{label(f.service, f.breakdown)} — new on {fmt.weekday(d)}",
            f"{fmt.money(f.cost)} on the day · first cost on {fmt.weekday(f.first_date)}")


def trend_chart_text(t: Trend, d: date, rules: Rules) -> tuple[str, str]:
    """(title, subtitle) of a trend chart."""
    vs = f" ({fmt.pct(t.pct)})" if t.pct is not None else ""
    return (f"{label(t.service, t.breakdown)} — trending {t.direction} ({fmt.weekday(d)})",
            f"7-day average {fmt.money(t.avg7)}/day vs 28-day {fmt.money(t.avg28)}/day{vs} · "
            f"{trend_detail(t, rules)}")


def _titled(chart: ChartView, analysis: Analysis, rules: Rules, mtd_label: str, forecast: Forecast | None = None,
            budgets=()) -> ChartView:
    d, a = analysis.report_date, analysis
    if chart.kind == "cumulative":
        overall = next((b for b in budgets if b.team is None), None)
        title, subtitle = cumulative_chart_text(d, a.summary.mtd_total, forecast, overall)
        return replace(chart, title=title, subtitle=subtitle)
    if chart.kind == "mtd":
        n = len(a.mtd_by_service)
        return replace(chart, title=f"{CAPTIONS['mtd']} — total {fmt.money(a.summary.mtd_total)}",
                       subtitle=f"{mtd_label}, {d.year} · {fmt.count(n, 'service')}")
    if chart.kind == "daily":
        n = a.daily_by_service.shape[1]
        return replace(chart, title=f"Daily spend by service — {d:%B %Y}",
                       subtitle=f"month to date {fmt.money(a.summary.mtd_total)} · {fmt.count(n, 'service')} · "
                                f"through {fmt.weekday(d)}")
    key = (chart.service, chart.breakdown)
    if chart.kind == "spike":
        spike = next(s for s in a.spikes if (s.service, s.breakdown) == key)
        title, subtitle = spike_chart_text(spike, d)
    elif chart.kind == "first_seen":
        title, subtitle = first_seen_chart_text(next(f for f in a.first_seen if (f.service, f.breakdown) == key), d)
    else:
        trend = next(t for t in a.trends if (t.service, t.breakdown) == key)
        title, subtitle = trend_chart_text(trend, d, rules)
    return replace(chart, title=title, subtitle=subtitle)


def cumulative_chart_text(d: date, mtd: float, forecast: Forecast | None, budget: BudgetStatus | None
                          ) -> tuple[str, str]:
    """(title, subtitle) of the cumulative month-to-date chart."""
    parts = [f"month to date {fmt.money(mtd)} through {fmt.weekday(d)}"]
    if forecast is not None:
        parts.append(f"forecast {fmt.money(forecast.forecast)} ({forecast_range(forecast)})")
    if budget is not None:
        parts.append(f"budget {fmt.money(budget.budget)}")
    return f"Month to date vs last month — {d:%B %Y}", " · ".join(parts)


def build_view(analysis: Analysis, rules: Rules, root_causes: Mapping | None = None, *,
               forecast: Forecast | None = None, teams: Teams | None = None, budgets=(), team_months=()) -> DayView:
    """The view model of d from its Analysis and the rule settings; root_causes: (service, breakdown, kind) ->
    drilldown.RootCauseResult of the alerts analysed (drilldown.explain's answer); forecast: forecast.month_end;
    teams: the teams file (each entry gets its owner by service and breakdown with rules.group_by); budgets:
    budgets.BudgetStatus of d (the overall one, team None, first); team_months: budgets.TeamMonth of each owner."""
    a, s, d = analysis, analysis.summary, analysis.report_date
    root_causes = dict(root_causes or {})
    entries = [_with_causes(e, root_causes) for e in _entries(a, rules)]
    if teams is not None:
        entries = [replace(e, owner=getattr(teams.owner(e.service, e.breakdown, rules.group_by), "name", None))
                   for e in entries]
    groups = [Group(key, title, tuple(e for e in entries if e.group == key)) for key, title in GROUPS.items()]
    groups = [g for g in groups if g.entries]
    day_before = Comparison(f"{fmt.weekday(d - timedelta(days=1))} (the day before)", s.total, s.previous_day,
                            "the day before")
    week = Comparison(f"{fmt.weekday(d - timedelta(days=7))} (the same weekday last week)", s.total,
                      s.same_weekday, "the same weekday last week")
    avg7 = Comparison("the average of the 7 days before", s.total, s.avg7, "the 7-day average")
    mtd_label, mtd_cmp = _month_comparison(d, s.mtd_total, s.mtd_previous)
    top, headline = _headline(entries, s.total, week)
    return DayView(
        report_date=d, title=f"AWS costs — {fmt.day_full(d)}", total=s.total, headline=top,
        headline_text=headline, counts=_counts(groups), day_comparisons=(day_before, week, avg7),
        mtd_total=s.mtd_total, mtd_label=mtd_label, mtd_comparison=mtd_cmp, groups=tuple(groups),
        charts=tuple(_titled(c, a, rules, mtd_label, forecast, budgets) for c in day_charts(a)),
        freshness=fmt.estimated_days(a.estimated_dates) or "All days final", rules=rules.lines(),
        mtd_by_service=tuple(a.mtd_by_service), daily_totals=tuple(a.daily_totals), spikes=tuple(a.spikes),
        trends=tuple(a.trends), estimated_dates=tuple(a.estimated_dates), first_seen=tuple(a.first_seen),
        root_causes=root_causes, forecast=forecast, teams=teams, budgets=tuple(budgets),
        team_months=tuple(team_months))


def for_team(day_view: DayView, team_name: str) -> DayView:
    """The view of one team: its entries, groups, counts, headline and title ("AWS costs for payments — …"); with
    the team's figures (team_months), its own day total, comparisons, month to date, forecast and budget, and one
    line on the whole account (account_note). Charts not published are only those of its entries."""
    groups = [Group(g.key, g.title, tuple(e for e in g.entries if e.owner == team_name)) for g in day_view.groups]
    groups = [g for g in groups if g.entries]
    entries = [e for g in groups for e in g.entries]
    own = {cid for e in entries for cid in e.chart_ids} | {c.id for c in day_view.charts if c.service is None}
    d = day_view.report_date
    out = replace(day_view, title=f"AWS costs for {team_name} — {fmt.day_full(d)}", groups=tuple(groups),
                  counts=_counts(groups), missing=tuple(m for m in day_view.missing if m in own), team=team_name)
    m = out.team_month
    if m is not None:
        before, week, avg7 = day_view.day_comparisons
        out = replace(out, total=m.day_cost, mtd_total=m.mtd,
                      day_comparisons=(replace(before, value=m.day_cost, base=m.previous_day),
                                       replace(week, value=m.day_cost, base=m.same_weekday),
                                       replace(avg7, value=m.day_cost, base=m.avg7)),
                      mtd_comparison=replace(day_view.mtd_comparison, value=m.mtd, base=None),
                      account_note=f"Whole account: {fmt.money(day_view.total)} on {fmt.weekday(d)}, "
                                   f"{fmt.money(day_view.mtd_total)} month to date — every alert, owner and the "
                                   "account's forecast are in the main report")
    top, headline = _headline(entries, out.total, out.day_comparisons[1])
    if top is None and out.alerting_budgets:
        headline = budget_text(out.alerting_budgets[0])  # a team's only news today is its budget
    return replace(out, headline=top, headline_text=headline)


def with_links(view: DayView, urls: dict[str, str], page_url: str | None, missing=()) -> DayView:
    """The view with the published chart URLs, the day's page and the charts that could not be published."""
    charts = tuple(replace(c, url=urls.get(c.id)) for c in view.charts)
    return replace(view, charts=charts, page_url=page_url, missing=tuple(dict.fromkeys(missing)))
