"""report.json content, its atomic write, and the terminal table."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest

from _util import metrics, report
from _util.model import AlertParams, Spike, Trend

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


def test_report_dict_matches_the_schema(analysis):
    data = report.report_dict(analysis, {"mtd_by_service": "https://x/m.png"}, {"lookback_days": 365}, 3)
    assert {"report_date", "spikes", "trends", "mtd_by_service", "daily_totals", "charts", "settings",
            "ce_requests"} <= set(data)
    assert data["report_date"] == "2026-11-25" and data["ce_requests"] == 3
    (sp,) = data["spikes"]
    assert {"service", "direction", "cost", "mean", "std", "zscore", "delta"} <= set(sp)
    assert sp["service"] == "Amazon EC2" and sp["direction"] == "up" and sp["cost"] == pytest.approx(500.0)
    (tr,) = data["trends"]
    assert {"service", "direction", "macd", "signal", "cost"} <= set(tr) and tr["macd"] == -0.123457
    assert data["mtd_by_service"][0]["service"] == "Amazon EC2"
    assert data["daily_totals"][0]["date"] == "2026-11-01" and len(data["daily_totals"]) == 25
    assert data["charts"] == {"mtd_by_service": "https://x/m.png"} and data["estimated_dates"] == ["2026-11-25"]
    for item in data["mtd_by_service"] + data["daily_totals"]:
        assert item["cost"] == round(item["cost"], 6)


def test_null_zscore_nan_and_negative_zero(analysis):
    analysis.spikes = [Spike("S", "up", 10.0, 1.0, 0.0, None, 9.0, 20),
                       Spike("T", "down", -1e-9, float("nan"), float("inf"), 1.0, -1e-9, 20)]
    data = report.report_dict(analysis, {}, {}, 0)
    assert data["spikes"][0]["zscore"] is None
    bad = data["spikes"][1]
    assert bad["mean"] is None and bad["std"] is None and math.copysign(1, bad["cost"]) == 1.0
    json.dumps(data, allow_nan=False)


def test_write_report_is_atomic_and_strict(tmp_path, analysis):
    path = tmp_path / "2026-11-25" / "report.json"
    data = report.report_dict(analysis, {}, {"a": 1}, 2)
    report.write_report(path, data)
    assert json.loads(path.read_text()) == data
    with pytest.raises(ValueError):
        report.write_report(path, {"x": float("nan")})
    assert json.loads(path.read_text()) == data  # the old file survives a failed write
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left behind


def test_alerts_table_shows_the_figures(analysis):
    text = report.format_alerts_table(analysis)
    assert "Spikes (1)" in text and "Amazon EC2" in text and "$500.00" in text
    assert "Trend reversals (1)" in text and "AWS Lambda" in text and "-0.12" in text
    assert "Estimated costs (the bill is not final yet): November 25" in text
    quiet = replace(analysis, spikes=[], trends=[], estimated_dates=[])
    out = report.format_alerts_table(quiet)
    assert "Spikes: none" in out and "Trend reversals: none" in out
