"""report.json (DESIGN.md "Outputs") and the terminal text of the day: views of the DayView."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import fmt
from .budgets import TeamMonth
from .files import write_atomic
from .forecast import Forecast, LastMonth
from .model import FirstSeen, Spike, Trend
from .view import Comparison, DayView, Entry, TeamSection


def _usd(value: float | None) -> float | None:
    """USD rounded to 1e-6 (None stays None; NaN/inf become None; -0.0 becomes 0.0)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6) + 0.0


def _num(value: float | None) -> float | None:
    """A unitless figure, finite or None."""
    return float(value) if value is not None and math.isfinite(value) else None


def spike_dict(s: Spike) -> dict[str, Any]:
    out = {"service": s.service, "breakdown": s.breakdown, "direction": s.direction, "cost": _usd(s.cost),
           "mean": _usd(s.mean), "std": _usd(s.std), "zscore": _num(s.zscore), "delta": _usd(s.delta),
           "history_days": s.history_days}
    if s.breakdown:  # what hid it from the service total
        out.update(offset_by=s.offset_by, offset=_usd(s.offset), service_delta=_usd(s.service_delta))
    return out


def first_seen_dict(f: FirstSeen) -> dict[str, Any]:
    return {"service": f.service, "breakdown": f.breakdown, "first_date": f.first_date.isoformat(),
            "cost": _usd(f.cost)}


def trend_dict(t: Trend) -> dict[str, Any]:
    return {"service": t.service, "breakdown": t.breakdown, "direction": t.direction, "macd": _usd(t.macd),
            "signal": _usd(t.signal), "cost": _usd(t.cost), "avg7": _usd(t.avg7), "avg28": _usd(t.avg28),
            "crossed_days_ago": int(t.crossed_days_ago)}


NOT_ANALYSED = "not analysed"  # root_cause_status of an alert no drill-down was asked for (a stage run alone)


def root_cause_dict(result) -> dict[str, Any]:
    """DESIGN.md "Root causes" keys of one alert (result: drilldown.RootCauseResult or None)."""
    causes = [] if result is None else result.causes
    return {"root_causes": [{"dimensions": dict(c.dimensions), "names": dict(c.names), "cost": _usd(c.cost),
                             "normal": _usd(c.normal), "delta": _usd(c.delta), "share": _num(c.share)}
                            for c in causes],
            "root_cause_status": NOT_ANALYSED if result is None else result.status}


def with_root_causes(item: dict[str, Any], alert: Spike | Trend, day_view: DayView) -> dict[str, Any]:
    """A spike's or trend's report.json dict with its breakdown and root causes."""
    return {**item, "breakdown": getattr(alert, "breakdown", "") or "",
            **root_cause_dict(day_view.root_cause(alert))}


def comparison_dict(c: Comparison) -> dict[str, Any]:
    return {"label": c.label, "value": _usd(c.value), "base": _usd(c.base), "delta": _usd(c.delta),
            "pct": _num(c.pct)}


def alert_dict(e: Entry) -> dict[str, Any]:
    return {"service": e.service, "breakdown": e.breakdown, "group": e.group, "direction": e.direction, "kinds": list(e.kinds),
            "impact": _usd(e.impact), "text": e.text, "sentence": e.sentence, "detail": e.detail,
            "chart_ids": list(e.chart_ids), "cause_text": e.cause_text}


def report_dict(day_view: DayView, settings_public: dict, ce_requests: int, extra: dict | None = None) -> dict:
    """The report.json content of one run, a view of the DayView (DESIGN.md schema plus summary, estimated_dates,
    headline, comparisons, alerts and rules); `extra` (e.g. "slack") and the view's own extra keys come last."""
    v = day_view
    day_before, week, avg7 = v.day_comparisons
    data = {
        "report_date": v.report_date.isoformat(),
        "spikes": [with_root_causes(spike_dict(x), x, v) for x in v.spikes],
        "trends": [with_root_causes(trend_dict(x), x, v) for x in v.trends],
        "first_seen": [with_root_causes(first_seen_dict(x), x, v) for x in v.first_seen],
        "mtd_by_service": [{"service": x.service, "cost": _usd(x.cost)} for x in v.mtd_by_service],
        "daily_totals": [{"date": x.date.isoformat(), "cost": _usd(x.cost)} for x in v.daily_totals],
        "charts": v.urls,
        "settings": dict(settings_public),
        "ce_requests": int(ce_requests),
        "summary": {"total": _usd(v.total), "previous_day": _usd(day_before.base), "avg7": _usd(avg7.base),
                    "same_weekday": _usd(week.base), "mtd_total": _usd(v.mtd_total),
                    "mtd_previous": _usd(v.mtd_comparison.base)},
        "estimated_dates": [d.isoformat() for d in v.estimated_dates],
        "missing_charts": list(v.missing),
        "page_url": v.page_url,
        "headline": {"text": v.headline_text, "service": v.headline.service if v.headline else None},
        "comparisons": [comparison_dict(c) for c in (*v.day_comparisons, v.mtd_comparison)],
        "alerts": [alert_dict(e) for e in v.entries],
        "rules": list(v.rules),
        "freshness": v.freshness,
    }
    if v.forecast is not None:
        data["forecast"] = forecast_dict(v.forecast)
    data["budgets"] = [b.to_dict() for b in v.budgets]  # [] = no budget set
    data["teams"] = [team_dict(t) for t in v.team_sections]  # [] = no teams file
    data.update(v.extra)
    data.update(extra or {})
    return data


def team_dict(t: TeamSection) -> dict:
    """report.json's "teams" entry (DESIGN "Forecast, budgets and teams") of a team, or of what no team owns
    (name and channel None), with its mention, forecast and budget (None when it has none)."""
    return {"name": t.name, "channel": t.channel or None, "mention": t.mention or None,
            "items": [{"kind": kind, "service": service, "breakdown": breakdown}
                      for kind, service, breakdown in t.items],
            "forecast": team_forecast_dict(t.month) if t.month is not None else None,
            "budget": t.budget.to_dict() if t.budget is not None else None}


def team_forecast_dict(m: TeamMonth) -> dict:
    """A team's "forecast": the keys of the account's (DESIGN) without month, last month and services, plus its
    cost on the day."""
    return {"mtd": _usd(m.mtd), "forecast": _usd(m.forecast), "low": _usd(m.low), "high": _usd(m.high),
            "interval": m.level, "method": m.method, "day_cost": _usd(m.day_cost)}


def forecast_dict(f: Forecast) -> dict:
    """report.json's "forecast" (DESIGN.md "Forecast, budgets and teams"); "note" only when there is one."""
    data = {"month": f.month, "mtd": _usd(f.mtd), "forecast": _usd(f.forecast), "low": _usd(f.low),
            "high": _usd(f.high), "interval": f.interval, "method": f.method,
            "last_month_total": _usd(f.last_month_total),
            "by_service": [{"service": x.service, "mtd": _usd(x.mtd), "forecast": _usd(x.forecast),
                            "low": _usd(x.low), "high": _usd(x.high)} for x in f.by_service]}
    if f.note:
        data["note"] = f.note
    for name, side in f.compared.items():  # FORECAST_SOURCE=ce: the model and Cost Explorer side by side
        data[name] = {"forecast": _usd(side.forecast), "low": _usd(side.low), "high": _usd(side.high)}
    if f.fallback:
        data["fallback"] = f.fallback
    if f.last_month is not None:
        data["last_month"] = last_month_dict(f.last_month)
    return data


def last_month_dict(r: LastMonth) -> dict:
    """report.json's forecast.last_month: last month's total against its forecast as made on its 14th."""
    return {"month": r.month, "total": _usd(r.total), "estimated_days": r.estimated_days,
            "forecast_on": r.forecast_on.isoformat(), "forecast": _usd(r.forecast), "low": _usd(r.low),
            "high": _usd(r.high), "interval": r.interval, "method": r.method, "within_interval": r.within_interval}


def write_report(path: Path, data: dict) -> Path:
    """Write data as JSON to path atomically (files.write_atomic); no NaN allowed. Raises OutputWriteError
    (an OSError naming the path) when the disk says no."""
    return write_atomic(path, json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n")


def format_alerts_table(day_view: DayView) -> str:
    """The day for a terminal: the view's headline, totals with their comparisons, freshness, then each group's
    entries (sentence, and the statistics below it), spikes first."""
    v = day_view
    out = [v.title, v.headline_text, "", f"{v.total_label}: {fmt.money(v.total)}"]
    out += [f"  {c.text}" for c in v.day_comparisons]
    out += [f"{v.mtd_heading}: {fmt.money(v.mtd_total)}", f"  {v.mtd_comparison.text}", v.freshness]
    for group in v.groups:
        out += ["", f"{group.title} ({group.note}):"]
        for entry in group.entries:
            out += [f"  {entry.sentence}", f"    {entry.detail}"]
            if entry.cause_text:
                out.append(f"    {entry.cause_text}")
    return "\n".join(out)
