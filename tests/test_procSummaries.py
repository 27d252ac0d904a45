"""procSummaries.py: the CLI of the summaries/Slack stage — month-to-date and daily totals from a database filled
by the real ingest path (to the cent), the message and preview files, posting to a local Slack server exactly
once (--post, --force), and Plot buttons from the published.json of an earlier stage."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

import procPlotting
import procSummaries
import runCostReporting
from _util import db, fmt
from _util.slack_message import money
from tests.cli_helpers import error_lines, fill_with_sample, run_cli
from tests.slack_server import Reply, SlackServer

D = date(2026, 11, 25)  # the sample data is anchored on --date and plants its events on it
MONTH = [D.replace(day=1) + timedelta(days=i) for i in range(D.day)]
CHANNEL = "C0TEST123"
TOKEN = "xoxb-test-7777-SECRETtokenSECRET"
BASE = "https://costs.example.com"
CENT = Decimal("0.005")  # a printed 2-decimal figure is the exact one rounded to the cent


pytestmark = pytest.mark.usefixtures("isolated")  # conftest: an empty folder, logging given back


@pytest.fixture
def slack():
    with SlackServer() as server:
        yield server


@pytest.fixture
def slack_env(slack, monkeypatch) -> SlackServer:
    """A bot token and channel, with the Slack API at the local server."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    monkeypatch.setenv("SLACK_API_URL", f"{slack.url}/api/")
    return slack


def run(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, procSummaries.main, *argv)


def fill(url: str, capsys) -> str:
    return fill_with_sample(url, capsys, D)


@pytest.fixture
def filled(db_url, capsys) -> str:
    return fill(db_url, capsys)


@pytest.fixture
def filled_sqlite(sqlite_url, capsys) -> str:
    return fill(sqlite_url, capsys)


def month_by_service(url: str) -> dict[str, Decimal]:
    """Exact month-to-date cost of each service (summed over breakdown), straight from daily_cost."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(db.daily_cost.c.service, db.daily_cost.c.amount)
                                .where(db.daily_cost.c.usage_date.between(MONTH[0], D))).all()
    finally:
        engine.dispose()
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for service, amount in rows:
        sums[service] += amount
    return dict(sums)


def day_sums(url: str) -> dict[date, Decimal]:
    engine = db.make_engine(url)
    try:
        return db.daily_sums(engine, MONTH[0], D)
    finally:
        engine.dispose()


def usd(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("$", ""))


def parse_totals(out: str) -> tuple[Decimal, list[tuple[str, Decimal]], list[tuple[date, Decimal]]]:
    """(month-to-date total, [(service, cost)] in printed order, [(date, total)]) from procSummaries' stdout."""
    lines = out.splitlines()
    head = re.fullmatch(r"Month to date \((\d{4}-\d{2})\): (-?\$[\d,.]+)", lines[0])
    assert head and head.group(1) == f"{D:%Y-%m}", lines[0]
    services, days, i = [], [], 1
    while m := re.fullmatch(r"  +(-?\$[\d,.]+)  (.+)", lines[i]):
        services.append((m.group(2), usd(m.group(1))))
        i += 1
    assert lines[i] == "Daily totals:", lines[i]
    for line in lines[i + 1:]:
        if not (m := re.fullmatch(r"  (\d{4}-\d{2}-\d{2})  +(-?\$[\d,.]+)", line)):
            break
        days.append((date.fromisoformat(m.group(1)), usd(m.group(2))))
    return usd(head.group(2)), services, days


def written(out_dir: Path) -> list[dict]:
    return json.loads((out_dir / D.isoformat() / "slack_message.json").read_text(encoding="utf-8"))


def button_urls(bodies: list[dict]) -> list[str]:
    return [el["url"] for b in bodies for block in b["blocks"]
            for el in ([block.get("accessory")] if block.get("accessory") else block.get("elements", []))
            if isinstance(el, dict) and el.get("type") == "button" and "url" in el]


def chart_links(bodies: list[dict]) -> list[str]:
    """The Plot buttons' URLs and the charts linked inline (a spike's trend chart)."""
    inline = [url for b in bodies for block in b["blocks"] if block["type"] == "section"
              for url in re.findall(r"<(https?://[^|>]+\.png)\|", block["text"]["text"])]
    return button_urls(bodies) + inline


# --- usage ---------------------------------------------------------------------------------------------------


def test_help_exits_0_with_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "usage: procSummaries.py" in out and "examples:" in out
    assert "python procSummaries.py --date 2026-11-25 --post" in out
    assert "--post" in out and "--force" in out and "exit status" in out


def test_bad_date_is_a_usage_error(capsys):
    code, out, err = run(capsys, "--date", "2026-11-250")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "--date must be YYYY-MM-DD" in err


# --- totals --------------------------------------------------------------------------------------------------


def test_prints_month_to_date_and_daily_totals_to_the_cent(capsys, filled, isolated):
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--output-dir", "out")
    assert code == 0, err
    assert error_lines(err) == [] and "Traceback" not in err
    mtd_total, services, days = parse_totals(out)

    exact_days = day_sums(filled)
    assert [d for d, _ in days] == MONTH
    for day, printed in days:
        assert abs(printed - exact_days[day]) <= CENT, (day, printed, exact_days[day])
    assert abs(mtd_total - sum(exact_days.values())) <= CENT

    exact_services = {s: v for s, v in month_by_service(filled).items() if v != 0}
    assert [s for s, _ in services] == sorted(exact_services, key=lambda s: -exact_services[s])
    for service, printed in services:
        assert abs(printed - exact_services[service]) <= CENT, (service, printed, exact_services[service])

    # The rest of stdout: where the message and its preview were written; no Slack line when nothing is posted.
    assert out.splitlines()[-2:] == [f"message: out/{D}/slack_message.json", f"preview: out/{D}/slack_preview.html"]
    assert "slack:" not in out


def test_writes_the_message_and_its_preview(capsys, filled_sqlite, isolated):
    code, _, err = run(capsys, "--db-url", filled_sqlite, "--date", D.isoformat(), "--output-dir", "out")
    assert code == 0, err
    bodies = written(isolated / "out")
    assert len(bodies) >= 1
    top = bodies[0]
    assert top["channel"] == "<channel>" and "thread_ts" not in top  # no SLACK_CHANNEL_ID set
    total = money(float(day_sums(filled_sqlite)[D]))
    assert total.startswith("$")
    header = top["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"] == f"AWS costs — {fmt.day_full(D)} · {total}"
    assert top["text"].startswith(f"AWS costs — {fmt.day_full(D)}: {total}")
    text = json.dumps(bodies, ensure_ascii=False)
    for service in ("AWS Lambda", "Amazon CloudFront", "Amazon Relational Database Service", "Amazon Redshift",
                    "Amazon ElastiCache"):
        assert f"*{service}*" in text, service
    preview = (isolated / "out" / D.isoformat() / "slack_preview.html").read_text(encoding="utf-8")
    assert preview.lstrip().lower().startswith("<!doctype html>")
    assert f"AWS costs — {fmt.day_full(D)}" in preview and "Amazon Relational Database Service" in preview
    assert "<script" not in preview.lower()


# --- Slack ---------------------------------------------------------------------------------------------------


def test_without_post_nothing_is_sent_even_with_a_token(capsys, filled_sqlite, isolated, slack_env):
    code, out, err = run(capsys, "--db-url", filled_sqlite, "--date", D.isoformat(), "--output-dir", "out")
    assert code == 0, err
    assert slack_env.requests == []
    assert "slack:" not in out
    assert written(isolated / "out")[0]["channel"] == CHANNEL
    assert TOKEN not in out and TOKEN not in err
    assert TOKEN not in (isolated / "out" / D.isoformat() / "slack_message.json").read_text()
    assert TOKEN not in (isolated / "out" / D.isoformat() / "slack_preview.html").read_text()


def test_post_once_then_not_again_then_force(capsys, filled, isolated, slack_env):
    argv = ["--db-url", filled, "--date", D.isoformat(), "--output-dir", "out"]
    code, out, err = run(capsys, *argv, "--post")
    assert code == 0, err
    bodies = written(isolated / "out")
    calls = slack_env.calls("chat.postMessage")
    assert len(calls) == len(slack_env.posted) == len(bodies)
    assert slack_env.posted[0] == bodies[0]  # exactly what slack_message.json says
    assert calls[0].headers["Authorization"] == f"Bearer {TOKEN}"
    first_ts = "1764000000.000001"
    assert f"slack:   posted {len(bodies)} message(s) to {CHANNEL}, attempt 1 (ts {first_ts})" in out
    assert TOKEN not in out and TOKEN not in err
    engine = db.make_engine(filled)
    try:
        assert [(p.attempt, p.part, p.ts) for p in db.slack_posts(engine, D, CHANNEL)][:1] == [(1, 0, first_ts)]
    finally:
        engine.dispose()

    # The same date again: already posted, nothing sent.
    code, out, err = run(capsys, *argv, "--post")
    assert code == 0, err
    assert len(slack_env.calls("chat.postMessage")) == len(bodies)
    assert (f"slack:   already posted for {D} to {CHANNEL} (ts {first_ts}); use --force to post again"
            in out)

    # --force: a new copy.
    code, out, err = run(capsys, *argv, "--post", "--force")
    assert code == 0, err
    assert len(slack_env.calls("chat.postMessage")) == 2 * len(bodies)
    assert slack_env.posted[len(bodies)] == bodies[0]
    assert f"posted {len(bodies)} message(s) to {CHANNEL}, attempt 2" in out
    engine = db.make_engine(filled)
    try:
        assert {p.attempt for p in db.slack_posts(engine, D, CHANNEL)} == {1, 2}
    finally:
        engine.dispose()


def test_post_without_a_channel_is_one_error_line(capsys, filled_sqlite, slack, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", f"{slack.url}/api/")
    code, out, err = run(capsys, "--db-url", filled_sqlite, "--date", D.isoformat(), "--post")
    assert (code, out) == (2, "")  # a setting is missing: a usage error
    assert error_lines(err) == ["error: SLACK_CHANNEL_ID is required when SLACK_BOT_TOKEN is set"]
    assert slack.requests == []


def test_slack_error_exits_1_with_what_to_fix(capsys, filled_sqlite, slack_env):
    slack_env.script("chat.postMessage", Reply(200, body={"ok": False, "error": "not_in_channel"}))
    code, out, err = run(capsys, "--db-url", filled_sqlite, "--date", D.isoformat(), "--post")
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1 and f"the bot is not in channel {CHANNEL}" in lines[0], err
    assert TOKEN not in err
    assert slack_env.posted == []


# --- Plot buttons from an earlier stage's published.json ---------------------------------------------------------


@pytest.mark.slow
def test_buttons_come_from_what_runCostReporting_published(capsys, filled_sqlite, isolated, quick_charts,
                                                          monkeypatch):
    monkeypatch.setenv("PLOT_BASE_URL", BASE)
    monkeypatch.setenv("PLOTS_DESTINATION", str(isolated / "site"))
    common = ["--db-url", filled_sqlite, "--date", D.isoformat(), "--output-dir", "out"]
    assert runCostReporting.main([*common, "--source", "sample"]) == 0, capsys.readouterr().err  # no token: no post
    capsys.readouterr()
    report = json.loads((isolated / "out" / D.isoformat() / "report.json").read_text())
    assert report["charts"] and all(u.startswith(f"{BASE}/") for u in report["charts"].values())
    (isolated / "out" / D.isoformat() / "slack_message.json").unlink()

    code, _, err = run(capsys, *common)
    assert code == 0, err
    bodies = written(isolated / "out")
    buttons = chart_links(bodies)
    assert sorted(buttons) == sorted(report["charts"].values())  # one Plot button or link per published chart
    assert all(u.startswith(f"{BASE}/") for u in buttons)
    assert report["page_url"] in json.dumps(bodies)
    assert "not published" not in json.dumps(bodies)
    again = json.loads((isolated / "out" / D.isoformat() / "report.json").read_text())  # rewritten by this stage
    assert (again["charts"], again["page_url"]) == (report["charts"], report["page_url"])


@pytest.mark.slow
def test_run_alone_after_the_day_s_run_it_keeps_the_root_causes_and_asks_nothing(capsys, filled_sqlite, isolated,
                                                                                   quick_charts):
    """procSummaries.py (and procPlotting.py) run alone read the root causes the run stored: the message and
    report.json still say why, and no Cost Explorer request is made."""
    common = ["--db-url", filled_sqlite, "--date", D.isoformat(), "--output-dir", "out"]
    assert runCostReporting.main([*common, "--source", "sample"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    day = isolated / "out" / D.isoformat()
    before = json.loads((day / "report.json").read_text())
    causes = {x["service"]: x["root_causes"] for x in before["spikes"]}
    assert any(causes.values()) and "mostly " in json.dumps(written(isolated / "out"), ensure_ascii=False)
    engine = db.make_engine(filled_sqlite)
    try:
        spent = sum(r.requests for r in db.load_root_causes(engine, D))
        assert procPlotting.main(common) == 0
        code, _, err = run(capsys, *common)
        assert code == 0, err
        assert sum(r.requests for r in db.load_root_causes(engine, D)) == spent  # nothing asked again
    finally:
        engine.dispose()
    after = json.loads((day / "report.json").read_text())
    assert {x["service"]: x["root_causes"] for x in after["spikes"]} == causes
    assert [a["cause_text"] for a in after["alerts"]] == [a["cause_text"] for a in before["alerts"]]
    assert "mostly " in json.dumps(written(isolated / "out"), ensure_ascii=False)


def test_buttons_come_from_procPlotting(capsys, filled_sqlite, isolated, quick_charts, monkeypatch):
    monkeypatch.setenv("PLOT_BASE_URL", BASE)
    monkeypatch.setenv("PLOTS_DESTINATION", str(isolated / "site"))
    common = ["--db-url", filled_sqlite, "--date", D.isoformat(), "--output-dir", "out"]
    assert procPlotting.main(common) == 0
    plotted = json.loads(capsys.readouterr().out)
    assert plotted["charts"] and all(u.startswith(f"{BASE}/") for u in plotted["charts"].values())

    day = isolated / "out" / D.isoformat()
    assert (day / "published.json").is_file() and not (day / "report.json").exists()  # one writer of report.json

    code, _, err = run(capsys, *common)
    assert code == 0, err
    buttons = chart_links(written(isolated / "out"))
    assert buttons and all(u.startswith(f"{BASE}/") for u in buttons)
    assert sorted(buttons) == sorted(plotted["charts"].values())
    report = json.loads((day / "report.json").read_text())
    assert report["charts"] == plotted["charts"] and report["page_url"] == plotted["page_url"]
    assert [a["service"] for a in report["alerts"]] and report["headline"]["text"]


def test_an_unreadable_published_json_is_one_error_line_naming_it(capsys, filled_sqlite, isolated):
    path = isolated / "out" / D.isoformat() / "published.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"urls": [')
    code, out, err = run(capsys, "--db-url", filled_sqlite, "--date", D.isoformat(), "--output-dir", "out")
    assert code == 1
    assert error_lines(err) == [f"error: {path.relative_to(isolated)} is not a valid published.json "
                                "(JSONDecodeError: Expecting value: line 1 column 11 (char 10)); run procPlotting.py "
                                "for the day again"], err


# --- runtime errors ------------------------------------------------------------------------------------------


def test_empty_database_exits_1_and_writes_nothing(capsys, sqlite_url, isolated, slack_env):
    code, out, err = run(capsys, "--db-url", sqlite_url, "--date", D.isoformat(), "--output-dir", "out", "--post")
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"error: no cost data on or before {D}"), err
    assert not (isolated / "out" / D.isoformat() / "slack_message.json").exists()
    assert slack_env.requests == []


def test_date_with_no_data_exits_1(capsys, filled_sqlite, slack_env):
    after = D + timedelta(days=1)
    code, out, err = run(capsys, "--db-url", filled_sqlite, "--date", after.isoformat(), "--post")
    assert (code, out) == (1, "")
    assert error_lines(err) == [f"error: no cost data for {after} — run procAmzData.py first or check the date"]
    assert slack_env.requests == []


@pytest.mark.parametrize("extra, why", [((), "no SLACK_BOT_TOKEN"), (("--dry-run",), "--dry-run/--demo")])
def test_post_that_cannot_post_is_a_usage_error(capsys, filled_sqlite, monkeypatch, extra, why):
    """--post asks for a post: without a token, or with --dry-run, say so instead of quietly not posting."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    if extra:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    code, out, err = run(capsys, "--db-url", filled_sqlite, "--date", D.isoformat(), "--post", *extra)
    assert (code, out) == (2, "")
    assert error_lines(err) == [f"error: --post cannot post: {why}"]
