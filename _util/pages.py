"""The site's pages as views of the day's view model: HTML only (Jinja2 templates with autoescape), no I/O.

Every figure and sentence comes from the DayView (worded there) or from fmt; the pages add only headings.
Chart ids never reach the text: they appear only inside href/id attributes, through chart_filename.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from . import fmt, templating
from .view import (
    GROUPS,
    Comparison,
    DayView,
    Entry,
    budget_label,
    captions,
    cause_change,
    cause_window,
    change_text,
    chart_filename,
    dimension_name,
    dimension_value,
)


@dataclass(frozen=True)
class DayRow:
    """One published day on the index (USD; None where unknown, e.g. a folder without a manifest row)."""

    date: date
    href: str
    total: float | None = None
    change: float | None = None  # vs the day before
    change_pct: float | None = None  # fraction
    alerts: int | None = None

    @classmethod
    def of(cls, d: date, href: str, total: float | None, previous_day: float | None,
           alerts: int | None) -> DayRow:
        """The row of d from its total and the day before's (the change worked out as the view does)."""
        if total is None:
            return cls(d, href, None, None, None, alerts)
        cmp = Comparison("", total, previous_day)
        shown = None if previous_day is None else fmt.shown_difference(total, previous_day)  # as the page shows it
        return cls(d, href, total, shown, cmp.pct, alerts)


def anchor(chart_id: str) -> str:
    """The id attribute of a chart's figure (from its safe file name, never the raw id)."""
    return "chart-" + chart_filename(chart_id).removesuffix(".png")


def _nav(link: tuple[str, str] | None) -> dict | None:
    """(ISO date, href) as a nav link labelled with the weekday ("Tue, November 24")."""
    if link is None:
        return None
    iso, href = link
    return {"label": fmt.weekday(date.fromisoformat(iso)), "href": href}


def _totals(view: DayView) -> list[dict]:
    def row(label: str, cost: float | None, change: str = "") -> dict:
        return {"label": label, "cost": fmt.money(cost), "change": change}

    rows = [row(view.total_label, view.total)]
    rows += [row(c.label, c.base, c.change) for c in view.day_comparisons]
    rows.append(row(view.mtd_heading, view.mtd_total))
    rows.append(row(view.mtd_comparison.label, view.mtd_comparison.base, view.mtd_comparison.change))
    cmp = view.forecast_comparison
    if view.forecast is not None and cmp is not None:
        rows.append(row(view.forecast_heading, view.forecast.forecast))
        rows.append(row(cmp.label, cmp.base, cmp.change))
    return rows


def _cause_table(entry: Entry) -> dict | None:
    """The table of an entry's root causes (None when it has none): one row per cause, then the unexplained."""
    result = entry.root_causes
    if result is None or not result.causes:
        return None
    change = cause_change(result)
    trend = entry.spike is None
    days = cause_window(result, "trend" if trend else "spike")

    def share(part: float | None) -> str:
        return fmt.share(part) if part is not None else fmt.MISSING

    rows = [{"cells": [dimension_value(c, k) for k in result.pair], "cost": fmt.money(c.cost),
             "normal": fmt.money(c.normal), "delta": fmt.signed_money(fmt.shown_difference(c.cost, c.normal)),
             "share": share(c.share)} for c in result.causes]
    unexplained = result.unexplained or 0.0
    return {"service": entry.service, "kind": "trend" if trend else "spike",
            "dimensions": [dimension_name(k) for k in result.pair], "rows": rows,
            "cost_heading": "7-day average" if trend else "Cost on the day",
            "normal_heading": f"{days}-day average" if trend else f"Normal ({fmt.count(days, 'day')})",
            "unexplained": fmt.signed_money(unexplained),
            "unexplained_share": share(unexplained / change if result.explained_share is not None and change
                                       else None)}


def day_page(view: DayView, images: dict[str, str], *, index_href: str, prev: tuple[str, str] | None,
             next: tuple[str, str] | None) -> str:  # noqa: A002 - the page's "next" link
    """The day's page (images: chart id -> img src; prev/next: (ISO date, href) of the nearest published days)."""
    by_id = {c.id: c for c in view.charts}

    def link(cid: str) -> dict:
        (caption,) = captions(view.charts, [cid])
        return {"caption": caption, "href": f"#{anchor(cid)}" if cid in images and cid in by_id else None}

    groups = [{"title": g.title, "note": g.note,
               "entries": [{"service": e.service, "text": e.text, "detail": e.detail, "cause_text": e.cause_text,
                            "links": [link(cid) for cid in e.chart_ids], "owner": view.owner_text(e)}
                           for e in g.entries],
               "causes": [t for t in map(_cause_table, g.entries) if t]}
              for g in view.groups]
    teams = [{"title": t.title, "month": t.month_text, "budget": t.budget.text if t.budget else "",
              "alert": bool(t.budget and t.budget.alert),
              "entries": [{"service": e.service, "group": GROUPS[e.group],
                           "href": link(e.chart_ids[0])["href"] if e.chart_ids else None} for e in t.entries]}
             for t in view.team_sections]
    figures = [{"anchor": anchor(c.id), "src": images[c.id], "caption": c.caption}
               for c in view.charts if c.id in images]
    total = view.mtd_total
    month_end = {f.service: f for f in view.forecast.by_service} if view.forecast is not None else {}
    level = view.forecast.interval if view.forecast is not None else 0.8
    mtd_rows = [{"service": sc.service, "cost": fmt.money(sc.cost),
                 "share": fmt.share(sc.cost / total) if total > 0 else fmt.MISSING,
                 "forecast": (f"{fmt.money(f.forecast)} ({fmt.interval(f.low, f.high, level)})"
                              if (f := month_end.get(sc.service)) is not None else fmt.MISSING)}
                for sc in view.mtd_by_service]
    n = len(view.mtd_by_service)
    return templating.render(
        "day.html.j2", title=view.title, index_href=index_href, prev=_nav(prev), next=_nav(next),
        freshness=view.freshness, freshness_class="note" if view.estimated_dates else "fresh",
        headline=view.headline_text, counts=view.counts, totals=_totals(view), groups=groups, charts=figures,
        owners=view.teams is not None, teams=teams, last_month=view.last_month_text,
        budgets=[{"label": budget_label(b), "budget": fmt.money(b.budget), "mtd": fmt.money(b.mtd),
                  "forecast": fmt.money(b.forecast), "status": b.text} for b in view.budgets],
        missing=", ".join(captions(view.charts, view.missing)), mtd_rows=mtd_rows, mtd_total=fmt.money(total),
        forecasts=bool(month_end), forecast_total=(fmt.money(view.forecast.forecast) if view.forecast else ""),
        services_note=fmt.count(n, "service"), rules=view.rules)


def index_page(days: list[DayRow]) -> str:
    """The top-level page: one row per published day, latest first (date, total, change, alerts)."""
    rows = []
    for r in sorted(days, key=lambda r: r.date, reverse=True):
        change = fmt.MISSING if r.change is None else change_text(r.change, r.change_pct)
        rows.append({"href": r.href, "day": fmt.day_full(r.date), "total": fmt.money(r.total), "change": change,
                     "alerts": fmt.MISSING if r.alerts is None else str(r.alerts)})
    n = len(rows)
    return templating.render("index.html.j2", title="AWS cost reports", rows=rows,
                             note=f"{fmt.count(n, 'day')}, latest first.")
