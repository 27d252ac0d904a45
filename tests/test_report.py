"""report.json content, its atomic write, and the terminal table."""

from __future__ import annotations

import json
import math
import stat
from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest

from _util import metrics, report, view
from _util.config import Settings
from _util.drilldown import RootCause, RootCauseResult
from _util.model import AlertParams, FirstSeen, Spike, Trend

D = date(2026, 11, 25)


@pytest.fixture
def analysis():
    rows = [(D - timedelta(days=i), svc, "", base + (i % 3) * 0.123456789)
            for i in range(60) for svc, base in (("Amazon EC2", 100.0), ("AWS Lambda", 5.0))]
    rows.append((D, "Amazon EC2", "x", 400.0))
    costs = pd.DataFrame(rows, columns=["usage_date", "service", "breakdown", "amount"])
    costs["usage_date"] = pd.to_datetime(costs["usage_date"])
    costs["estimated"] = costs["usage_date"] == pd.Timestamp(D)
    a = metrics.analyse(costs, D, AlertParams(trend_filter=False))
    a.trends = [Trend("AWS Lambda", "down", -0.1234567891, 0.2, 5.0, 5.1, 5.2)]
    return a


RULES = view.Rules.from_settings(Settings(report_date=D))


def day_view(analysis, urls=None, page_url=None, missing=()):
    return view.with_links(view.build_view(analysis, RULES), urls or {}, page_url, missing)


def test_report_dict_matches_the_schema(analysis):
    v = day_view(analysis, {"mtd_by_service": "https://x/m.png"}, "https://x/2026-11-25/index.html",
                 ["daily_by_service"])
    data = report.report_dict(v, {"lookback_days": 365}, 3, {"slack": {"ts": "1.2"}})
    assert {"report_date", "spikes", "trends", "mtd_by_service", "daily_totals", "charts", "settings",
            "ce_requests", "summary", "estimated_dates", "missing_charts", "page_url", "slack", "headline",
            "comparisons", "alerts", "rules"} <= set(data)
    assert data["report_date"] == "2026-11-25" and data["ce_requests"] == 3 and data["slack"] == {"ts": "1.2"}
    (sp,) = data["spikes"]
    assert {"service", "direction", "cost", "mean", "std", "zscore", "delta"} <= set(sp)
    assert sp["service"] == "Amazon EC2" and sp["direction"] == "up" and sp["cost"] == pytest.approx(500.0)
    (tr,) = data["trends"]
    assert {"service", "direction", "macd", "signal", "cost"} <= set(tr) and tr["macd"] == -0.123457
    assert data["mtd_by_service"][0]["service"] == "Amazon EC2"
    assert data["daily_totals"][0]["date"] == "2026-11-01" and len(data["daily_totals"]) == 25
    assert data["charts"] == {"mtd_by_service": "https://x/m.png"} and data["estimated_dates"] == ["2026-11-25"]
    assert data["page_url"] == "https://x/2026-11-25/index.html" and data["missing_charts"] == ["daily_by_service"]
    for item in data["mtd_by_service"] + data["daily_totals"]:
        assert item["cost"] == round(item["cost"], 6)
    s = analysis.summary
    assert data["summary"] == {"total": pytest.approx(s.total), "previous_day": pytest.approx(s.previous_day),
                               "avg7": pytest.approx(s.avg7), "same_weekday": pytest.approx(s.same_weekday),
                               "mtd_total": pytest.approx(s.mtd_total), "mtd_previous": pytest.approx(s.mtd_previous)}


def test_the_view_facts_are_the_views_words(analysis):
    """headline, comparisons, alerts and rules are taken from the DayView, not worded again."""
    v = day_view(analysis)
    data = report.report_dict(v, {}, 0)
    assert data["headline"] == {"text": v.headline_text, "service": v.headline.service}
    assert data["rules"] == list(v.rules)
    comparisons = (*v.day_comparisons, v.mtd_comparison)
    assert [c["label"] for c in data["comparisons"]] == [c.label for c in comparisons]
    for got, c in zip(data["comparisons"], comparisons, strict=True):
        assert (got["value"], got["base"]) == (pytest.approx(c.value), pytest.approx(c.base))
        assert got["delta"] == pytest.approx(c.delta) and got["pct"] == pytest.approx(c.pct)
    assert [(a["service"], a["group"], a["direction"], a["kinds"], a["text"], a["detail"], a["chart_ids"])
            for a in data["alerts"]] == [(e.service, e.group, e.direction, list(e.kinds), e.text, e.detail,
                                          list(e.chart_ids)) for e in v.entries]
    assert [a["service"] for a in data["alerts"]] == ["Amazon EC2", "AWS Lambda"]  # the spike first
    assert data["alerts"][0]["impact"] == pytest.approx(v.entries[0].impact)


def test_a_spike_that_is_also_a_trend_is_one_alert(analysis):
    spike = analysis.spikes[0]
    analysis.trends = [Trend(spike.service, "up", 2.0, 1.0, spike.cost, 150.0, 110.0)]
    (alert,) = report.report_dict(day_view(analysis), {}, 0)["alerts"]
    assert alert["kinds"] == ["spike", "trend"] and alert["chart_ids"] == [f"spike:{spike.service}",
                                                                            f"trend:{spike.service}"]


def test_null_zscore_nan_and_negative_zero(analysis):
    analysis.spikes = [Spike("S", "up", 10.0, 1.0, 0.0, None, 9.0, 20),
                       Spike("T", "down", -1e-9, float("nan"), float("inf"), 1.0, -1e-9, 20)]
    data = report.report_dict(day_view(analysis), {}, 0)
    assert data["spikes"][0]["zscore"] is None
    bad = data["spikes"][1]
    assert bad["mean"] is None and bad["std"] is None and math.copysign(1, bad["cost"]) == 1.0
    json.dumps(data, allow_nan=False)


def test_write_report_is_atomic_strict_and_readable(tmp_path, analysis):
    path = tmp_path / "2026-11-25" / "report.json"
    data = report.report_dict(day_view(analysis), {"a": 1}, 2)
    report.write_report(path, data)
    assert json.loads(path.read_text()) == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # an output for people and tools: not 0600 as mkstemp's
    with pytest.raises(ValueError):
        report.write_report(path, {"x": float("nan")})
    assert json.loads(path.read_text()) == data  # the old file survives a failed write
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left behind


def test_the_terminal_text_words_entries_as_the_view_does(analysis):
    v = day_view(analysis)
    text = report.format_alerts_table(v)
    lines = text.splitlines()
    assert lines[:2] == [v.title, v.headline_text]
    for e in v.entries:
        at = lines.index(f"  {e.sentence}")
        assert lines[at + 1] == f"    {e.detail}"
    assert text.index("Amazon EC2 spiked") < text.index("AWS Lambda is trending down")  # spikes first
    assert v.freshness in lines and "Estimated" in v.freshness
    assert "spike:" not in text and "trend:" not in text  # chart ids never in text
    quiet = day_view(replace(analysis, spikes=[], trends=[], estimated_dates=[]))
    out = report.format_alerts_table(quiet).splitlines()
    assert out[1] == quiet.headline_text and "All days final" in out
    assert not any(line.endswith("):") for line in out)  # no group of entries


def test_first_seen_and_breakdowns_are_in_the_report(analysis):
    analysis.first_seen = [FirstSeen("Amazon Bedrock", D - timedelta(days=6), 412.5)]
    analysis.spikes = analysis.spikes + [Spike("AWS Lambda", "up", 310.0, 10.0, 3.0, 100.0, 300.0, 59,
                                               breakdown="222222222222", offset_by="333333333333", offset=-290.0,
                                               service_delta=10.0)]
    v = day_view(analysis)
    data = report.report_dict(v, {}, 0)
    assert data["first_seen"] == [{"service": "Amazon Bedrock", "breakdown": "",
                                   "first_date": (D - timedelta(days=6)).isoformat(), "cost": 412.5,
                                   "root_causes": [], "root_cause_status": "not analysed"}]
    service_spike, hidden = data["spikes"]
    assert service_spike["breakdown"] == "" and "offset_by" not in service_spike
    assert (hidden["breakdown"], hidden["offset_by"], hidden["offset"], hidden["service_delta"]) == (
        "222222222222", "333333333333", -290.0, 10.0)
    assert all(t["breakdown"] == "" for t in data["trends"])
    by_kind = {tuple(a["kinds"]): a for a in data["alerts"]}
    assert by_kind[("first_seen",)]["group"] == "new" and by_kind[("first_seen",)]["breakdown"] == ""
    assert [a["breakdown"] for a in data["alerts"] if a["service"] == "AWS Lambda" and "spike" in a["kinds"]] == [
        "222222222222"]
    assert "spike:AWS Lambda|222222222222" in {c.id for c in v.charts}


def test_each_spike_and_trend_carries_its_root_causes_as_design_md_says(analysis):
    spike = analysis.spikes[0]
    cause = RootCause({"LINKED_ACCOUNT": "111122223333", "USAGE_TYPE": "USE1-BoxUsage:m5.large"},
                      {"LINKED_ACCOUNT": "prod"}, 1234.5, 400.0, 834.5, 0.92)
    ok = RootCauseResult("ok", [cause], unexplained=72.56, explained_share=0.92,
                         pair=("LINKED_ACCOUNT", "USAGE_TYPE"), dates=[D.isoformat()], daily=[[1234.5]], rest=[1.0])
    limited = RootCauseResult("not analysed (daily limit)")
    causes = {(spike.service, "", "spike"): ok, ("AWS Lambda", "", "trend"): limited}
    v = view.with_links(view.build_view(analysis, RULES, causes), {}, None)
    data = json.loads(json.dumps(report.report_dict(v, {}, 1), allow_nan=False))
    (s,) = data["spikes"]
    (t,) = data["trends"]
    assert {"breakdown", "root_causes", "root_cause_status"} <= set(s) and s["breakdown"] == ""
    assert s["root_cause_status"] == "ok"
    assert s["root_causes"] == [{"dimensions": {"LINKED_ACCOUNT": "111122223333",
                                                "USAGE_TYPE": "USE1-BoxUsage:m5.large"},
                                 "names": {"LINKED_ACCOUNT": "prod"}, "cost": 1234.5, "normal": 400.0,
                                 "delta": 834.5, "share": 0.92}]
    assert (t["breakdown"], t["root_causes"], t["root_cause_status"]) == ("", [], "not analysed (daily limit)")
    # the alert's words carry them too, as every medium does
    entry = next(a for a in data["alerts"] if a["service"] == spike.service)
    assert entry["cause_text"] == view.cause_text(ok)
    # no drill-down asked (a stage run alone with nothing stored): said, not invented
    plain = report.report_dict(day_view(analysis), {}, 1)
    assert [(x["root_causes"], x["root_cause_status"]) for x in plain["spikes"] + plain["trends"]] == [
        ([], "not analysed")] * 2


def test_report_dict_has_the_forecast_when_the_view_has_one(analysis):
    from _util.forecast import month_end

    assert "forecast" not in report.report_dict(day_view(analysis), {}, 0)
    f = month_end(analysis.series, analysis.report_date)
    data = report.report_dict(view.build_view(analysis, RULES, forecast=f), {}, 0)
    assert set(data["forecast"]) >= {"month", "mtd", "forecast", "low", "high", "interval", "method",
                                     "last_month_total", "by_service"}
    assert data["forecast"]["month"] == "2026-11" and data["forecast"]["forecast"] == pytest.approx(f.forecast)
    assert [x["service"] for x in data["forecast"]["by_service"]] == [x.service for x in f.by_service]
    assert ("note" in data["forecast"]) == bool(f.note)
    json.dumps(data, allow_nan=False)


def test_report_dict_has_the_views_budgets(analysis):
    from _util.budgets import budget_status

    assert report.report_dict(day_view(analysis), {}, 0)["budgets"] == []  # no budget set
    daily = analysis.series.sum(axis=1)
    overall = budget_status(daily, D, 1000.0, 1500.0, 1400.0, 1600.0)
    team = budget_status(analysis.series["AWS Lambda"], D, 1e6, 200.0, 180.0, 220.0, team="data")
    data = report.report_dict(view.build_view(analysis, RULES, budgets=[overall, team]), {}, 0)
    first, second = data["budgets"]
    assert {"team", "budget", "mtd", "forecast", "status", "exceed_date"} <= set(first)
    assert (first["team"], first["budget"], first["status"]) == (None, 1000.0, "exceeded")
    assert first["exceed_date"] == overall.exceed_date.isoformat() and first["mtd"] == round(overall.mtd, 2)
    assert (second["team"], second["status"], second["exceed_date"]) == ("data", "ok", None)
    json.dumps(data)  # plain JSON


def test_report_forecast_has_last_month_and_both_sides_when_the_view_does(analysis):
    from dataclasses import replace

    from _util.forecast import Estimate, LastMonth, month_end

    f = month_end(analysis.series, analysis.report_date)
    assert not {"last_month", "model", "ce", "fallback"} & set(report.forecast_dict(f))
    r = LastMonth("2026-10", 20100.0, 2, date(2026, 10, 14), 19290.0, 18900.0, 19700.0, 0.8, "model")
    both = replace(f, method="ce", forecast=30.0, low=20.0, high=40.0, last_month=r,
                   compared={"model": Estimate(f.forecast, f.low, f.high), "ce": Estimate(30.0, 20.0, 40.0)})
    data = report.forecast_dict(both)
    assert data["last_month"] == {"month": "2026-10", "total": 20100.0, "estimated_days": 2,
                                  "forecast_on": "2026-10-14", "forecast": 19290.0, "low": 18900.0, "high": 19700.0,
                                  "interval": 0.8, "method": "model", "within_interval": False}
    assert data["method"] == "ce" and data["forecast"] == 30.0
    assert data["ce"] == {"forecast": 30.0, "low": 20.0, "high": 40.0}
    assert data["model"]["forecast"] == pytest.approx(f.forecast) and data["model"]["low"] == pytest.approx(f.low)
    fell = report.forecast_dict(replace(f, fallback="ce: DataUnavailableException"))
    assert fell["method"] == "model" and fell["fallback"] == "ce: DataUnavailableException"
    json.dumps(data, allow_nan=False)
