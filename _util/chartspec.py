"""The one list of the day's charts: id, kind, service and caption, in page order (charts, site and Slack use it).

A chart id is a key (report.json, {chart id: url}, file names), never text for a reader: captions are.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from .model import DAILY_CHART, MTD_CHART, Analysis, spike_chart_id, trend_chart_id

# kind -> caption (a service's charts add ": <service>")
CAPTIONS = {"mtd": "Month-to-date spend by service", "daily": "Daily spend by service this month",
            "spike": "Spike", "trend": "Trend reversal"}
BUTTONS = {"mtd": "Plot month to date", "daily": "Plot daily by service", "spike": "Plot", "trend": "Plot"}


@dataclass(frozen=True)
class ChartSpec:
    """One chart of the day: its id (a key), kind (mtd | daily | spike | trend), service (None for the
    all-services charts) and caption (the text a reader sees)."""

    id: str
    kind: str
    service: str | None
    caption: str

    @property
    def button(self) -> str:
        """The label of its Slack button."""
        return BUTTONS[self.kind]

    @property
    def filename(self) -> str:
        return chart_filename(self.id)


def _spec(kind: str, service: str | None = None) -> ChartSpec:
    if kind == "mtd":
        return ChartSpec(MTD_CHART, kind, None, CAPTIONS[kind])
    if kind == "daily":
        return ChartSpec(DAILY_CHART, kind, None, CAPTIONS[kind])
    cid = spike_chart_id(service) if kind == "spike" else trend_chart_id(service)
    return ChartSpec(cid, kind, service, f"{CAPTIONS[kind]}: {service}")


def day_charts(analysis: Analysis) -> list[ChartSpec]:
    """Every chart of the day in page order: month to date, daily by service, spikes, trends (one per id)."""
    specs = [_spec("mtd"), _spec("daily")]
    specs += [_spec("spike", s.service) for s in analysis.spikes]
    specs += [_spec("trend", t.service) for t in analysis.trends]
    unique: dict[str, ChartSpec] = {}
    for spec in specs:
        unique.setdefault(spec.id, spec)
    return list(unique.values())


def captions(specs: list[ChartSpec], chart_ids) -> list[str]:
    """The captions of chart ids (an id not among specs is "another chart": ids are never shown)."""
    by_id = {s.id: s.caption for s in specs}
    return [by_id.get(cid, "another chart") for cid in chart_ids]


def chart_filename(chart_id: str) -> str:
    """The PNG file name of a chart id: ASCII letters/digits/dashes plus a hash of the exact id (stable, safe)."""
    if chart_id in (MTD_CHART, DAILY_CHART):
        return chart_id.replace("_", "-") + ".png"
    ascii_text = unicodedata.normalize("NFKD", chart_id).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:60].rstrip("-") or "chart"
    digest = hashlib.sha256(chart_id.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}.png"
