"""One list of the day's charts (ids, kinds, captions, order) and one source for each fact every output states."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd

from _util import charts, fmt, pages, report, site, view
from _util.config import Settings
from _util.model import (
    CUMULATIVE_CHART,
    DAILY_CHART,
    MTD_CHART,
    AlertParams,
    Spike,
    Trend,
    spike_chart_id,
    trend_chart_id,
)
from _util.slack_message import build_messages
from tests.slack_fixtures import D, all_urls, analysis, day_view, golden_analysis


def twice_alerted():
    """A service that is a spike and a trend, another listed twice as a spike."""
    return analysis([Spike("Amazon EC2", "up", 120.0, 40.0, 10.0, 8.0, 80.0, 90),
                     Spike("AWS Lambda", "down", 1.0, 9.0, 1.0, -8.0, -8.0, 30),
                     Spike("Amazon EC2", "up", 120.0, 40.0, 10.0, 8.0, 80.0, 90)],
                    [Trend("Amazon EC2", "up", 1.0, 0.5, 120.0, 60.0, 40.0)])


def test_day_charts_in_page_order_with_captions():
    specs = view.day_charts(twice_alerted())
    assert [(s.id, s.kind, s.service, s.caption) for s in specs] == [
        (MTD_CHART, "mtd", None, "Month-to-date spend by service"),
        (DAILY_CHART, "daily", None, "Daily spend by service this month"),
        (CUMULATIVE_CHART, "cumulative", None, "Month to date vs last month and budget"),
        (spike_chart_id("Amazon EC2"), "spike", "Amazon EC2", "Spike: Amazon EC2"),
        (spike_chart_id("AWS Lambda"), "spike", "AWS Lambda", "Spike: AWS Lambda"),
        (trend_chart_id("Amazon EC2"), "trend", "Amazon EC2", "Trend: Amazon EC2"),
    ]


def test_renderer_site_and_slack_use_the_same_list_in_the_same_order(tmp_path):
    a = twice_alerted()
    a.series = pd.DataFrame({"Amazon EC2": [1.0] * len(a.series.index), "AWS Lambda": 1.0},
                            index=a.series.index)
    ids = [s.id for s in view.day_charts(a)]
    jobs = charts.chart_jobs(a, view.build_view(a, view.Rules.from_settings(_settings(tmp_path))), AlertParams(),
                             tmp_path)
    assert [job[0] for job in jobs] == ids
    assert [job[1] for job in jobs] == [s.kind for s in view.day_charts(a)]
    assert [Path(job[3]).name for job in jobs] == [site.chart_filename(i) for i in ids]
    dv = _view(a)
    assert site.expected_chart_ids(dv) == ids
    page = pages.day_page(dv, {i: f"{n}.png" for n, i in enumerate(ids)}, index_href="../index.html", prev=None,
                          next=None)
    assert [page.index(f'src="{n}.png"') for n in range(len(ids))] == sorted(
        page.index(f'src="{n}.png"') for n in range(len(ids)))
    (top,) = build_messages(day_view(a, all_urls(a)))
    buttons = [e["url"] for b in top["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [all_urls(a)[MTD_CHART], all_urls(a)[DAILY_CHART], all_urls(a)[CUMULATIVE_CHART]]


def test_chart_ids_never_appear_in_text(tmp_path):
    a = golden_analysis()
    ids = [s.id for s in view.day_charts(a)]
    (top,) = build_messages(day_view(a, missing=ids))
    page = pages.day_page(view.with_links(_view(a), {}, None, ids), {}, index_href="../index.html", prev=None,
                          next=None)
    text = json.dumps(top, ensure_ascii=False) + page
    for cid in ids:
        assert cid not in text
    assert "Spike: Amazon EC2" in page and "Trend: Amazon SQS" in page
    result = site.publish(_view(a), {}, _settings(tmp_path))
    assert not any("spike:" in e or "trend:" in e or MTD_CHART in e for e in result.errors)


def _settings(tmp_path):
    return Settings(plots_destination=str(tmp_path / "site"), output_dir=str(tmp_path))


def _view(a) -> view.DayView:
    """The view model of an Analysis under the default rules."""
    from _util.config import Settings

    return view.build_view(a, view.Rules.from_settings(Settings()))


def test_one_wording_of_estimated_days_feeds_every_output(monkeypatch):
    """Change the wording in fmt alone: the Slack message, the site page, the terminal and report.json follow."""
    a = golden_analysis()
    a.estimated_dates = [D - timedelta(days=1), D]

    def outputs():
        (top,) = build_messages(day_view(a, all_urls(a)))
        page = pages.day_page(_view(a), {}, index_href="", prev=None, next=None)
        data = report.report_dict(_view(a), {}, 0)
        return (json.dumps(top, ensure_ascii=False), page, report.format_alerts_table(_view(a)),
                json.dumps(data["freshness"], ensure_ascii=False))

    before = outputs()
    assert all(fmt.estimated_days(a.estimated_dates) in text for text in before)
    monkeypatch.setattr(fmt, "ESTIMATED", "Provisional figures")
    after = outputs()
    assert all("Provisional figures: November 24–25" in text for text in after)
    assert not any("not final" in text for text in after)


def test_legend_money_has_the_subtitles_rounding():
    """The baseline mean in the legend reads as in the view's subtitle ($175.92, not $176 under $175.92)."""
    idx = pd.date_range(end=pd.Timestamp(D), periods=40)
    s = pd.Series([175.92] * 39 + [400.0], index=idx)
    spike = Spike("Amazon EC2", "up", 400.0, 175.92, 3.0, 74.7, 224.08, 39)
    fig = charts.spike_chart(s, spike, AlertParams(), *view.spike_chart_text(spike, D))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    subtitle = " ".join(t.get_text() for t in fig.texts)
    assert "baseline mean $175.92" in legend and "its normal $175.92/day" in subtitle
    assert f"{fmt.weekday(D)}: $400.00" in [t.get_text() for t in fig.axes[0].texts]


def test_one_threshold_setting_feeds_every_output():
    """SPIKE_Z_THRESHOLD is defined once (Settings): the message, the site page, report.json, the terminal and the
    spike chart all state the value of the run's settings, and none states the default."""
    from dataclasses import replace

    from tests.demo_day import demo_analysis, demo_settings

    settings = replace(demo_settings(), spike_z_threshold=3.1)
    a = demo_analysis()
    v = view.build_view(a, view.Rules.from_settings(settings))
    (top, *_) = build_messages(v)
    data = report.report_dict(v, settings.public(), 0)
    spike = next(s for s in a.spikes if s.service == "Amazon CloudFront")
    fig = charts.spike_chart(a.series[spike.service], spike, AlertParams.from_settings(settings),
                             *view.spike_chart_text(spike, a.report_date))
    legend = " ".join(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
    texts = {"slack": json.dumps(top, ensure_ascii=False),
             "site": pages.day_page(v, {}, index_href="", prev=None, next=None),
             "report.json": json.dumps(data["rules"], ensure_ascii=False),
             "chart": legend}
    for where, text in texts.items():
        assert "3.1" in text, where
        assert "2.75" not in text, where
    assert data["settings"]["spike_z_threshold"] == 3.1
    assert "at least 3.1 standard deviations" in texts["slack"] and "mean + 3.1σ" in legend
