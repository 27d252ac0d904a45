"""report.json (DESIGN.md "Outputs") and the terminal table of alerts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import fmt
from .files import write_atomic
from .model import Analysis, Spike, Trend


def _usd(value: float | None) -> float | None:
    """USD rounded to 1e-6 (None stays None; NaN/inf become None; -0.0 becomes 0.0)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6) + 0.0


def _num(value: float | None) -> float | None:
    """A unitless figure, finite or None."""
    return float(value) if value is not None and math.isfinite(value) else None


def spike_dict(s: Spike) -> dict[str, Any]:
    return {"service": s.service, "direction": s.direction, "cost": _usd(s.cost), "mean": _usd(s.mean),
            "std": _usd(s.std), "zscore": _num(s.zscore), "delta": _usd(s.delta), "history_days": s.history_days}


def trend_dict(t: Trend) -> dict[str, Any]:
    out = {"service": t.service, "direction": t.direction, "macd": _usd(t.macd), "signal": _usd(t.signal),
           "cost": _usd(t.cost), "avg7": _usd(t.avg7), "avg28": _usd(t.avg28)}
    if hasattr(t, "crossed_days_ago"):
        out["crossed_days_ago"] = int(t.crossed_days_ago)
    return out


def report_dict(analysis: Analysis, charts: dict[str, str], settings_public: dict, ce_requests: int) -> dict:
    """The report.json content for one run (DESIGN.md schema plus summary and estimated_dates)."""
    s = analysis.summary
    return {
        "report_date": analysis.report_date.isoformat(),
        "spikes": [spike_dict(x) for x in analysis.spikes],
        "trends": [trend_dict(x) for x in analysis.trends],
        "mtd_by_service": [{"service": x.service, "cost": _usd(x.cost)} for x in analysis.mtd_by_service],
        "daily_totals": [{"date": x.date.isoformat(), "cost": _usd(x.cost)} for x in analysis.daily_totals],
        "charts": dict(charts),
        "settings": dict(settings_public),
        "ce_requests": int(ce_requests),
        "summary": {"total": _usd(s.total), "previous_day": _usd(s.previous_day), "avg7": _usd(s.avg7),
                    "mtd_total": _usd(s.mtd_total), "mtd_previous": _usd(s.mtd_previous)},
        "estimated_dates": [d.isoformat() for d in analysis.estimated_dates],
    }


def write_report(path: Path, data: dict) -> Path:
    """Write data as JSON to path atomically (files.write_atomic); no NaN allowed. Raises OutputWriteError
    (an OSError naming the path) when the disk says no."""
    return write_atomic(path, json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n")


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    """Columns padded to width; the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                 strict=True)))
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_alerts_table(analysis: Analysis) -> str:
    """The day's spikes and trend reversals as plain-text tables (USD)."""
    a, s = analysis, analysis.summary
    money, pct = fmt.money, fmt.pct
    out = [f"Report date {a.report_date}: total {money(s.total)}, month to date {money(s.mtd_total)}"]
    if a.estimated_dates:
        out.append(fmt.estimated_days(a.estimated_dates))
    out.append("")
    if a.spikes:
        out.append(f"Spikes ({len(a.spikes)}): cost on d vs the mean and std of the days before")
        rows = [[x.service, x.direction, money(x.cost), money(x.mean), money(x.std),
                 fmt.MISSING if x.zscore is None else f"{x.zscore:+.1f}", fmt.signed_money(x.delta), pct(x.pct),
                 str(x.history_days)] for x in a.spikes]
        out += _table(["service", "dir", "cost", "mean", "std", "z", "delta", "delta %", "days"], rows, left=2)
    else:
        out.append("Spikes: none")
    out.append("")
    if a.trends:
        out.append(f"Trend reversals ({len(a.trends)}): MACD crossed its signal line")
        rows = [[x.service, x.direction, money(x.cost), money(x.avg7), money(x.avg28), pct(x.pct),
                 f"{x.macd:+,.2f}", f"{x.signal:+,.2f}"] for x in a.trends]
        out += _table(["service", "dir", "cost", "avg 7d", "avg 28d", "7d vs 28d", "MACD", "signal"], rows, left=2)
    else:
        out.append("Trend reversals: none")
    return "\n".join(out)
