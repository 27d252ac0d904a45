"""Fixed Analysis objects and their DayViews for the Slack message and delivery tests (built straight from
_util/model.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from _util import model, view
from _util.config import Settings
from _util.model import Analysis, DayCost, ServiceCost, Spike, Summary, Trend

D = date(2026, 11, 25)
BASE = "https://costs.example.com/site"


def analysis(spikes: list[Spike] | None = None, trends: list[Trend] | None = None, *, d: date = D,
             estimated: list[date] | None = None) -> Analysis:
    """An Analysis for d with the given alerts and fixed totals."""
    spikes = spikes or []
    trends = trends or []
    days = [d.replace(day=1) + timedelta(days=i) for i in range(d.day)]
    names = sorted({s.service for s in spikes} | {t.service for t in trends} | {"Amazon EC2"})
    return Analysis(
        report_date=d,
        spikes=spikes,
        trends=trends,
        mtd_by_service=[ServiceCost(n, 100.0 * (len(names) - i)) for i, n in enumerate(names)],
        daily_totals=[DayCost(day, 1200.0 + i) for i, day in enumerate(days)],
        summary=Summary(total=1234.56, previous_day=1222.22, avg7=1275.0, mtd_total=28000.0,
                        mtd_previous=26640.0, same_weekday=1250.0),
        series=pd.DataFrame(index=pd.DatetimeIndex([pd.Timestamp(x) for x in days])),
        daily_by_service=pd.DataFrame(index=pd.DatetimeIndex([pd.Timestamp(x) for x in days])),
        estimated_dates=list(estimated or []),
    )


def golden_analysis() -> Analysis:
    """The golden fixture: two trends each way, spikes up and down, one with a flat baseline."""
    spikes = [
        Spike("Amazon EC2", "up", 123.45, 43.45, 12.0, 6.67, 80.0, 90),
        Spike("AWS Lambda", "up", 9.5, 2.0, 0.0, None, 7.5, 30),
        Spike("Amazon RDS", "down", 10.0, 50.0, 8.0, -5.0, -40.0, 120),
        Spike("Amazon S3 & <Glacier>", "up", 0.004, 0.001, 0.0005, 6.0, 0.003, 60),
    ]
    trends = [
        Trend("Amazon CloudFront", "up", 0.42, 0.31, 12.34, 11.0, 9.0),
        Trend("Amazon DynamoDB", "up", 1.5, 1.2, 40.0, 38.0, 30.0),
        Trend("Amazon SQS", "down", -0.2, -0.1, 3.0, 2.5, 3.2),
    ]
    return analysis(spikes, trends, estimated=[D - timedelta(days=1), D])


def all_urls(a: Analysis, base: str = BASE) -> dict[str, str]:
    """A chart URL for every chart id the analysis can link to."""
    d = a.report_date.isoformat()
    urls = {model.MTD_CHART: f"{base}/{d}/mtd.png", model.DAILY_CHART: f"{base}/{d}/daily.png",
            model.CUMULATIVE_CHART: f"{base}/{d}/month.png"}
    for i, s in enumerate(a.spikes):
        urls[model.spike_chart_id(s.service)] = f"{base}/{d}/spike-{i}.png"
    for i, t in enumerate(a.trends):
        urls[model.trend_chart_id(t.service)] = f"{base}/{d}/trend-{i}.png"
    return urls


def rules(**kw) -> view.Rules:
    """The default settings' rules, with kw replacing some."""
    return view.Rules.from_settings(Settings(**kw))


def day_view(a: Analysis, urls: dict[str, str] | None = None, page_url: str | None = None, missing=(),
             **settings) -> view.DayView:
    """The DayView of a with links (chart URLs, page, charts not published); settings change the rules."""
    return view.with_links(view.build_view(a, rules(**settings)), urls or {}, page_url, missing)


def many_alerts(n: int) -> Analysis:
    """n alerts: a quarter trend reversals, the rest spikes, with distinct costs."""
    trends = [Trend(f"Service trend {i:03d}", "up" if i % 2 else "down", 0.5, 0.4, 100.0 - i * 0.1, 10.0, 9.0)
              for i in range(n // 4)]
    spikes = [Spike(f"Service spike {i:03d} (eu-west-1)", "up" if i % 3 else "down", 500.0 - i, 100.0, 10.0,
                    4.0 + i / 100, 400.0 - i, 365) for i in range(n - n // 4)]
    return analysis(spikes, trends)
