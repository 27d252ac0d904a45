"""procAmzAlerts.py: the CLI of the alerts stage — the planted spikes and trend reversals of the sample data, read
back from a database filled by the real ingest path, as a table and as report JSON; exit codes and error lines."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

import procAmzAlerts
from _util import db, fmt, metrics, view
from _util.config import Settings
from _util.model import AlertParams, Analysis
from tests.cli_helpers import error_lines, fill_with_sample, run_cli

D = date(2026, 11, 25)  # the sample data is anchored on --date and plants its events on it
LOOKBACK = 365
PLANTED_SPIKES = {("AWS Lambda", "up"), ("Amazon CloudFront", "up"), ("Amazon Relational Database Service", "down"),
                  ("Amazon Redshift", "up")}
PLANTED_TRENDS = {("Amazon Redshift", "up"), ("Amazon ElastiCache", "down")}
TOKEN = "xoxb-test-9999-SECRETtokenSECRET"


pytestmark = pytest.mark.usefixtures("isolated")  # conftest: an empty folder, logging given back


def run(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, procAmzAlerts.main, *argv)


@pytest.fixture
def filled(db_url, capsys) -> str:
    return fill_with_sample(db_url, capsys, D)


def expected_analysis(url: str, params: AlertParams | None = None) -> Analysis:
    """_util.metrics.analyse on the same stored data (the window the settings give: [d - LOOKBACK_DAYS, d])."""
    engine = db.make_engine(url)
    try:
        costs = db.load_service_costs(engine, D - timedelta(days=LOOKBACK), D)
    finally:
        engine.dispose()
    return metrics.analyse(costs, D, params or AlertParams())


def stored_series(url: str) -> dict[str, dict[date, Decimal]]:
    """Exact daily cost of each service (summed over breakdown) in [d - LOOKBACK_DAYS, d], straight from the table."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(db.daily_cost.c.usage_date, db.daily_cost.c.service, db.daily_cost.c.amount)
                                .where(db.daily_cost.c.usage_date.between(D - timedelta(days=LOOKBACK), D))).all()
    finally:
        engine.dispose()
    out: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for day, service, amount in rows:
        out[service][day if type(day) is date else day.date()] += amount
    return out


def sections(out: str) -> dict[str, list[str]]:
    """The text output's groups of entries split at blank lines: {'Spikes': lines, 'Trending up': lines, …}
    (a group's block starts with "<title> (<n> services):")."""
    found = {}
    for block in out.strip("\n").split("\n\n")[1:]:
        title, *lines = block.splitlines()
        if title.endswith("):"):
            found[title.split(" (")[0]] = lines
    return found


money = fmt.money  # the figures in the one style of every output (tests/test_fmt.py)


# --- usage ---------------------------------------------------------------------------------------------------


def test_help_exits_0_with_examples(capsys):
    code, out, err = run(capsys, "--help")
    assert code == 0
    assert "usage: procAmzAlerts.py" in out
    assert "examples:" in out
    assert "python procAmzAlerts.py --date 2026-11-25 --json" in out
    assert "TREND_FILTER=off python procAmzAlerts.py" in out
    assert "exit status" in out
    for flag in ("--json", "--date", "--db-url", "--output-dir", "--env-file", "-v"):
        assert flag in out
    assert error_lines(err) == []


@pytest.mark.parametrize("bad", ["2026-13-01", "25/11/2026", "yesterday", "2026-02-30"])
def test_bad_date_is_a_usage_error(capsys, bad):
    code, out, err = run(capsys, "--date", bad)
    assert code == 2
    assert out == ""
    assert err.splitlines() == [f"error: argument --date: --date must be YYYY-MM-DD, got '{bad}' (see --help)"]
    assert f"--date must be YYYY-MM-DD, got '{bad}'" in err


def test_unknown_flag_is_a_usage_error(capsys):
    code, out, err = run(capsys, "--csv")
    assert (code, out) == (2, "")
    assert "unrecognized arguments: --csv" in err


# --- the day's alerts ----------------------------------------------------------------------------------------


def test_text_lists_the_planted_alerts_as_the_view_words_them(capsys, filled):
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat())
    assert code == 0, err
    assert error_lines(err) == [] and "Traceback" not in err
    expected = expected_analysis(filled)
    assert {(s.service, s.direction) for s in expected.spikes} == PLANTED_SPIKES
    assert {(t.service, t.direction) for t in expected.trends} == PLANTED_TRENDS
    v = view.build_view(expected, view.Rules.from_settings(Settings(report_date=D)))

    lines = out.splitlines()
    assert lines[:2] == [v.title, v.headline_text]
    assert f"{v.total_label}: {money(v.total)}" in lines and v.mtd_comparison.text in out
    # Logs go to stderr: every stdout line belongs to the report.
    assert not re.search(r"^\d\d:\d\d:\d\d ", out, re.M)
    assert list(sections(out)) == [g.title for g in v.groups]  # spikes first
    for group in v.groups:
        assert f"{group.title} ({group.note}):" in lines
        assert sections(out)[group.title] == [line for e in group.entries
                                              for line in (f"  {e.sentence}", f"    {e.detail}")]
    assert {e.service for e in v.entries} == {s for s, _ in PLANTED_SPIKES | PLANTED_TRENDS}


def test_other_thresholds_from_the_environment_apply_to_stored_data(capsys, filled, monkeypatch):
    monkeypatch.setenv("SPIKE_Z_THRESHOLD", "12")
    monkeypatch.setenv("TREND_FILTER", "off")
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--json")
    assert code == 0, err
    data = json.loads(out)
    expected = expected_analysis(filled, AlertParams(spike_z_threshold=12.0, trend_filter=False))
    # Only CloudFront's planted spike (z ≈ 14) clears 12; trends are the raw crossovers on d itself.
    assert [(s["service"], s["direction"]) for s in data["spikes"]] == [
        (s.service, s.direction) for s in expected.spikes] == [("Amazon CloudFront", "up")]
    assert [(t["service"], t["direction"]) for t in data["trends"]] == [(t.service, t.direction)
                                                                        for t in expected.trends]
    assert all(t.get("crossed_days_ago", 0) == 0 for t in data["trends"])
    assert len(data["trends"]) > len(PLANTED_TRENDS)  # unfiltered: the weekly wiggles cross too
    assert data["settings"]["spike_z_threshold"] == 12.0 and data["settings"]["trend_filter"] is False


def _reject_constant(name: str):
    raise AssertionError(f"{name} in JSON output")


def _finite(node) -> None:
    if isinstance(node, float):
        assert math.isfinite(node)
    elif isinstance(node, dict):
        for value in node.values():
            _finite(value)
    elif isinstance(node, list):
        for value in node:
            _finite(value)


def test_json_is_the_report_with_the_design_keys(capsys, filled, monkeypatch):
    # A token in the environment must not reach the output (settings are the non-secret ones).
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_CHANNEL_ID", "C123")
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--json")
    assert code == 0, err
    assert TOKEN not in out and TOKEN not in err
    data = json.loads(out, parse_constant=_reject_constant)  # NaN / Infinity would raise here
    _finite(data)
    assert {"report_date", "spikes", "trends", "mtd_by_service", "daily_totals", "charts", "settings",
            "ce_requests"} <= set(data)
    assert data["report_date"] == D.isoformat()
    assert data["charts"] == {} and data["ce_requests"] == 0
    assert {"headline", "comparisons", "alerts", "rules"} <= set(data) and data["alerts"]  # the view's facts
    assert "slack_bot_token" not in data["settings"]
    assert data["settings"]["slack_channel_id"] == "C123"

    expected = expected_analysis(filled)
    assert [(s["service"], s["direction"]) for s in data["spikes"]] == [(s.service, s.direction)
                                                                        for s in expected.spikes]
    assert {(s["service"], s["direction"]) for s in data["spikes"]} == PLANTED_SPIKES
    for got, want in zip(data["spikes"], expected.spikes, strict=True):
        assert {"service", "direction", "cost", "mean", "std", "zscore", "delta"} <= set(got)
        for key in ("cost", "mean", "std", "delta"):
            assert got[key] == pytest.approx(getattr(want, key), abs=1e-6), key
        assert got["zscore"] == pytest.approx(want.zscore, rel=1e-12)
        assert (got["zscore"] > 0) == (got["direction"] == "up") and got["delta"] * got["zscore"] > 0

    assert {(t["service"], t["direction"]) for t in data["trends"]} == PLANTED_TRENDS
    for got, want in zip(data["trends"], expected.trends, strict=True):
        assert {"service", "direction", "macd", "signal", "cost"} <= set(got)
        assert (got["service"], got["direction"]) == (want.service, want.direction)
        for key in ("macd", "signal", "cost"):
            assert got[key] == pytest.approx(getattr(want, key), abs=1e-6), key
        assert (got["macd"] > got["signal"]) == (got["direction"] == "up")

    assert [x["service"] for x in data["mtd_by_service"]] == [x.service for x in expected.mtd_by_service]
    assert [x["cost"] for x in data["mtd_by_service"]] == pytest.approx([x.cost for x in expected.mtd_by_service],
                                                                        abs=1e-6)
    month = [D.replace(day=1) + timedelta(days=i) for i in range(D.day)]
    assert [x["date"] for x in data["daily_totals"]] == [d.isoformat() for d in month]
    engine = db.make_engine(filled)
    try:
        exact = db.daily_sums(engine, month[0], D)
    finally:
        engine.dispose()
    assert [x["cost"] for x in data["daily_totals"]] == pytest.approx([float(exact[d]) for d in month], abs=1e-6)


def test_spike_figures_match_the_stored_rows(capsys, filled):
    """mean/std/z of each spike recomputed from the raw daily_cost rows (exact Decimals, statistics module)."""
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--json")
    assert code == 0, err
    series = stored_series(filled)
    for spike in json.loads(out)["spikes"]:
        days = series[spike["service"]]
        first = min(d for d, v in days.items() if v != 0)
        baseline = [days.get(first + timedelta(days=i), Decimal(0)) for i in range((D - first).days)]
        assert spike["history_days"] == len(baseline) == LOOKBACK
        mean, std = statistics.mean(baseline), statistics.stdev(baseline)
        assert spike["cost"] == pytest.approx(float(days[D]), abs=1e-6)
        assert spike["mean"] == pytest.approx(float(mean), abs=1e-6)
        assert spike["std"] == pytest.approx(float(std), abs=1e-6)
        assert spike["delta"] == pytest.approx(float(days[D] - mean), abs=1e-6)
        assert spike["zscore"] == pytest.approx(float((days[D] - mean) / std), rel=1e-9)


# --- runtime errors: exit 1, one `error:` line, nothing on stdout ---------------------------------------------


@pytest.mark.parametrize("as_json", [False, True])
def test_date_with_no_data_exits_1_with_one_error_line(capsys, filled, as_json):
    after = D + timedelta(days=1)  # rows exist before it, none on it
    code, out, err = run(capsys, "--db-url", filled, "--date", after.isoformat(), *(["--json"] if as_json else []))
    assert (code, out) == (1, "")
    assert error_lines(err) == [f"error: no cost data for {after} — run procAmzData.py first or check the date"]
    assert "Traceback" not in err


def test_date_before_any_data_exits_1(capsys, filled):
    old = D - timedelta(days=2 * LOOKBACK)
    code, out, err = run(capsys, "--db-url", filled, "--date", old.isoformat())
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"error: no cost data on or before {old}"), err


def test_empty_database_exits_1_with_one_error_line(capsys, db_url):
    code, out, err = run(capsys, "--db-url", db_url, "--date", D.isoformat(), "--json")
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: no cost data on or before {D}") and "run procAmzData.py first" in lines[0]
    assert "Traceback" not in err


def test_unreachable_database_exits_1_without_its_password(capsys):
    code, out, err = run(capsys, "--db-url", "mysql+pymysql://cost:Pa55w0rd@127.0.0.1:1/costs", "--date",
                         D.isoformat())
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1 and "127.0.0.1:1" in lines[0], err
    assert "Pa55w0rd" not in err


@pytest.mark.slow
def test_demo_runs_on_its_own_in_a_fresh_output_dir(capsys, isolated):
    """`procAmzAlerts.py --demo` needs no earlier step: it stores the sample data for its date first."""
    code, out, err = run(capsys, "--demo", "--output-dir", "fresh")
    assert code == 0, err
    assert "Wednesday, November 25, 2026" in out.splitlines()[0]
    assert any(line.startswith("  Amazon CloudFront spiked") for line in sections(out)["Spikes"])
    assert (isolated / "fresh" / "demo" / "costs-2026-11-25.sqlite").is_file()


def test_the_error_line_is_also_in_the_log_file(capsys, isolated):
    """Cron sends stderr elsewhere: the reason a run failed must be in LOG_FILE too, and once on stderr."""
    code, _, err = run(capsys, "--db-url", f"sqlite:///{isolated / 'empty.sqlite'}", "--date", "2026-11-25")
    assert code == 1
    (line,) = error_lines(err)
    assert line.startswith("error: no cost data")
    log = (isolated / "output" / "cost_reporting.log").read_text()
    assert f"ERROR aws_cost_tracking: {line} (exit 1)" in log


@pytest.mark.slow
def test_root_causes_stored_by_the_full_run_are_shown_without_asking(capsys, filled, monkeypatch):
    from _util import drilldown, pipeline
    from _util.sample_data import SampleCostExplorer

    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--json")
    assert code == 0, err
    before = json.loads(out)
    assert {s["root_cause_status"] for s in before["spikes"] + before["trends"]} == {"not analysed"}

    # The full run's root causes stage, on the same database.
    settings = Settings(cost_source="sample", report_date=D, database_url=filled)
    engine = db.make_engine(filled)
    try:
        found = pipeline.find_root_causes(settings, engine, expected_analysis(filled), client=SampleCostExplorer(D))
    finally:
        engine.dispose()

    def no_request(*args, **kwargs):
        raise AssertionError("procAmzAlerts.py asked Cost Explorer")

    monkeypatch.setattr(drilldown, "explain", no_request)
    monkeypatch.setattr(SampleCostExplorer, "get_cost_and_usage", no_request)
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--json")
    assert code == 0, err
    data = json.loads(out)
    lambda_spike = next(s for s in data["spikes"] if s["service"] == "AWS Lambda")
    stored = found[("AWS Lambda", "", "spike")]
    assert lambda_spike["root_cause_status"] == "ok"
    assert [c["dimensions"] for c in lambda_spike["root_causes"]] == [c.dimensions for c in stored.causes]
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat())
    assert code == 0, err
    assert view.cause_text(stored) in out  # the table says it too
