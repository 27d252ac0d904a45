"""Teams routing (TEAMS_FILE): owners on the main message, one message per team channel and day, exactly once."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pandas as pd
import pytest

from _util import fmt, pipeline, report, slack, view
from _util.budgets import BudgetStatus, TeamMonth, budget_status
from _util.config import Secret, Settings
from _util.slack import make_slack_client
from _util.slack_message import build_messages
from _util.teams import parse_teams
from tests.slack_fixtures import D, all_urls, golden_analysis, rules
from tests.slack_server import Reply, SlackServer

MAIN = "C0MAINCHAN"
TEAMS = parse_teams('''
[[team]]
name = "compute"
channel = "C0COMPUTE"
mention = "S0COMPGRP"
services = ["Amazon EC2", "AWS Lambda"]

[[team]]
name = "data"
channel = "C0DATATEAM"
mention = "U0DATALEAD"
services = ["Amazon RDS", "Amazon DynamoDB"]

[[team]]
name = "quiet"
channel = "C0QUIETTEAM"
services = ["Amazon Athena"]
''')
CHANNELS = {t.name: t.channel for t in TEAMS}


def team_view() -> view.DayView:
    a = golden_analysis()
    return view.with_links(view.build_view(a, rules(), teams=TEAMS), all_urls(a), None)


def texts(payloads: list[dict]) -> str:
    return json.dumps([p["blocks"] for p in payloads], ensure_ascii=False)


def test_each_entry_names_its_owner_or_unowned_in_the_main_message():
    v = team_view()
    main = texts(build_messages(v))
    for e in v.entries:
        owner = TEAMS.owner(e.service)
        assert e.owner == (owner.name if owner else None)
        assert v.owner_text(e) == (owner.name if owner else "unowned")
    assert {e.owner for e in v.entries} == {"compute", "data", None}
    assert "· compute" in main and "· data" in main and "· unowned" in main
    # Without a teams file nothing is said about owners.
    plain = view.build_view(golden_analysis(), rules())
    assert all(plain.owner_text(e) == "" for e in plain.entries)
    assert "unowned" not in texts(build_messages(plain))


@pytest.mark.parametrize("team", ["compute", "data"])
def test_a_team_view_holds_only_its_entries_with_its_title_counts_and_headline(team):
    v = team_view()
    tv = view.for_team(v, team)
    mine = [e for e in v.entries if e.owner == team]
    assert tv.entries and list(tv.entries) == mine
    assert tv.title == f"AWS costs for {team} — Wednesday, November 25, 2026"
    assert tv.headline in mine and tv.headline_text.endswith(tv.headline.sentence)
    assert sum(int(part.split()[0]) for part in tv.counts.split(", ")) == len(mine)
    assert (tv.total, tv.mtd_total, tv.day_comparisons) == (v.total, v.mtd_total, v.day_comparisons)
    message = texts(build_messages(tv))
    for e in v.entries:
        assert (json.dumps(e.text, ensure_ascii=False)[1:-1] in message) == (e.owner == team), e.service
    assert view.for_team(v, "quiet").groups == ()


def test_the_team_mention_is_slack_markup_in_the_first_section():
    v = team_view()
    first = {t: build_messages(view.for_team(v, t))[0]["blocks"][1]["text"]["text"] for t in ("compute", "data")}
    assert first["compute"].startswith("<!subteam^S0COMPGRP> *Biggest change:*")
    assert first["data"].startswith("<@U0DATALEAD> *Biggest change:*")
    assert "<@" not in texts(build_messages(v)) and "subteam" not in texts(build_messages(v))


def settings_for(slack_server: SlackServer, tmp_path) -> Settings:
    return Settings(slack_bot_token=Secret("xoxb-test"), slack_channel_id=MAIN, slack_api_url=slack_server.url + "/api/",
                    output_dir=tmp_path, report_date=D)


def run(settings, sqlite_engine):
    teams: list[pipeline.TeamDelivery] = []
    delivery, json_path, preview = pipeline.build_and_send(
        settings, sqlite_engine, team_view(), slack_client=make_slack_client(settings, backoff_s=0.0), teams_out=teams)
    return delivery, teams, json_path, preview


def posted_by_channel(slack_server: SlackServer) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for body in slack_server.posted:
        out.setdefault(body["channel"], []).append(body)
    return out


def test_each_team_channel_gets_its_message_once_and_a_rerun_posts_nothing(slack_server, sqlite_engine, tmp_path):
    settings = settings_for(slack_server, tmp_path)
    delivery, teams, json_path, preview = run(settings, sqlite_engine)
    by_channel = posted_by_channel(slack_server)
    assert list(by_channel) == [MAIN, CHANNELS["compute"], CHANNELS["data"]]  # main first; "quiet" has no items
    assert all(len(bodies) == 1 for bodies in by_channel.values())
    v = team_view()
    for t in teams:
        assert t.error is None and t.delivery.posted == 1
        sent = json.dumps(by_channel[t.channel][0]["blocks"], ensure_ascii=False)
        assert all((json.dumps(e.text, ensure_ascii=False)[1:-1] in sent) == (e.owner == t.team) for e in v.entries)
    # The files show every channel's bodies and one preview section per team.
    bodies = json.loads(json_path.read_text())
    assert [b["channel"] for b in bodies] == [MAIN, CHANNELS["compute"], CHANNELS["data"]]
    html = preview.read_text()
    assert "AWS costs for compute" in html and "Team data (C0DATATEAM)" in html
    ledger = json.loads(slack.ledger_path(tmp_path, D).read_text())["posts"]
    assert sorted(p["channel"] for p in ledger) == sorted(by_channel)

    again, teams2, _, _ = run(settings, sqlite_engine)
    assert len(slack_server.posted) == 3
    assert again.skipped and all(t.delivery.skipped and t.delivery.posted == 0 for t in teams2)
    assert [t.as_dict()["skipped"] for t in teams2] == [True, True]


def test_a_failed_team_post_does_not_block_the_others_and_a_rerun_posts_only_it(slack_server, sqlite_engine, tmp_path, caplog):
    settings = settings_for(slack_server, tmp_path)
    slack_server.script("chat.postMessage", Reply(), Reply(body={"ok": False, "error": "not_in_channel"}))
    with caplog.at_level(logging.ERROR):
        delivery, teams, _, _ = run(settings, sqlite_engine)  # does not raise
    assert delivery.posted == 1
    failed, ok = teams
    assert failed.team == "compute" and "not_in_channel" in failed.error and CHANNELS["compute"] in failed.error
    assert failed.as_dict()["posted"] == 0 and ok.delivery.posted == 1 and ok.error is None
    assert "team compute" in caplog.text
    extra = pipeline.slack_extra(delivery, teams)["slack"]["teams"]
    assert [(t["team"], t["error"] is not None) for t in extra] == [("compute", True), ("data", False)]
    assert list(posted_by_channel(slack_server)) == [MAIN, CHANNELS["data"]]

    run(settings, sqlite_engine)
    assert [b["channel"] for b in slack_server.posted] == [MAIN, CHANNELS["data"], CHANNELS["compute"]]


def test_a_failed_main_post_raises_as_before_and_posts_no_team(slack_server, sqlite_engine, tmp_path):
    settings = settings_for(slack_server, tmp_path)
    slack_server.script("chat.postMessage", Reply(body={"ok": False, "error": "channel_not_found"}))
    with pytest.raises(slack.SlackDeliveryError, match="channel_not_found"):
        run(settings, sqlite_engine)
    assert slack_server.posted == []
    run(settings, sqlite_engine)  # the rerun posts every channel
    assert list(posted_by_channel(slack_server)) == [MAIN, CHANNELS["compute"], CHANNELS["data"]]


# ---- each team's own figures and budget ---------------------------------------------------------------------------

def month(team: str | None, *, budget=None, day_cost: float = 50.0) -> TeamMonth:
    """A team's day and month: $50 on d, $40 the day before, $900 month to date, $1,200 forecast."""
    return TeamMonth(team, day_cost, 40.0, 45.0, 42.0, 900.0, 1200.0, 1150.0, 1260.0, budget=budget)


def figures_view(**budgets) -> view.DayView:
    """The routing view with each owner's figures; budgets: team name -> its BudgetStatus on D."""
    a = golden_analysis()
    months = [month(t.name, budget=budgets.get(t.name)) for t in TEAMS] + [month(None)]
    v = view.build_view(a, rules(), teams=TEAMS, budgets=list(budgets.values()), team_months=months)
    return view.with_links(v, all_urls(a), None)


def test_a_team_message_shows_its_own_day_month_and_forecast_and_points_to_the_main_report():
    v = figures_view()
    payloads = build_messages(view.for_team(v, "compute"))
    totals = payloads[0]["blocks"][2]["text"]["text"]
    assert totals.splitlines() == [
        "*Team compute on Wed, November 25:* $50.00",
        "+$10.00 (+25.0%) vs Tue, November 24 (the day before): $40.00",
        "+$5.00 (+11.1%) vs Wed, November 18 (the same weekday last week): $45.00",
        "*Team compute, month to date, November 1–25:* $900.00",
        "On track for $1,200.00 this month (80%: $1,150.00–$1,260.00)",
        f"_Whole account: {fmt.money(v.total)} on Wed, November 25, {fmt.money(v.mtd_total)} month to date — "
        "every alert, owner and the account's forecast are in the main report_"]
    assert payloads[0]["text"].startswith("AWS costs for compute — Wednesday, November 25, 2026: $50.00, +$10.00")
    assert "*Month to date, November 1–25:*" in texts(build_messages(v))  # the main message keeps the account's


def statuses(d=D) -> dict[str, BudgetStatus]:
    """The "quiet" team's $1,000 budget on D: the day before it is passed, the day, the day after (in each case
    D is the report date; month to date crosses $1,000 after, on, or before D)."""
    def on(*days_usd) -> BudgetStatus:
        daily = pd.Series({pd.Timestamp(x): usd for x, usd in days_usd})
        return budget_status(daily, d, 1000.0, 1300.0, 1250.0, 1350.0, team="quiet")
    first = (D.replace(day=1), 990.0)
    return {"before": on(first), "on": on(first, (D, 20.0)),
            "after": on(first, (D - timedelta(days=1), 20.0), (D, 5.0))}


@pytest.mark.parametrize("case, alerts, line", [
    ("before", True, "Team quiet budget: on pace to exceed the $1,000.00 budget by $300.00 — around the 26th "
                     "(80%: $1,250.00–$1,350.00)"),
    ("on", True, "Team quiet budget: passed the $1,000.00 budget today"),
    ("after", False, "Team quiet budget: over the $1,000.00 budget since the 24th: $1,015.00 so far"),
])
def test_budget_alerts_on_their_day_only(case, alerts, line, slack_server, tmp_path):
    """A team with no entries: its budget alone brings it a message, on the days the budget alerts."""
    v = figures_view(quiet=statuses()[case])
    settings = settings_for(slack_server, tmp_path)
    messages = {t.team: t for t in pipeline.team_messages(settings, v)}
    assert ("quiet" in messages) is alerts
    assert (line in texts(build_messages(v))) is alerts  # the main message names alerting budgets only
    quiet = view.for_team(v, "quiet")
    assert line in texts(build_messages(quiet))  # its own status line, every day
    if alerts:
        assert quiet.headline_text.startswith(line)  # its only news: the budget
        assert texts(messages["quiet"].payloads) == texts(build_messages(quiet))
    section = next(s for s in v.team_sections if s.name == "quiet")
    assert (("budget", None, "") in section.items) is alerts
    assert line.removeprefix("Team quiet budget: ") == section.budget.text  # the site and report say it too


def test_report_json_teams_follow_the_contract():
    v = figures_view(quiet=statuses()["on"])
    data = report.report_dict(v, {}, 0)
    names = [t["name"] for t in data["teams"]]
    assert names == ["compute", "data", "quiet", None]  # file order, then what no team owns
    by_name = {t["name"]: t for t in data["teams"]}
    for t in data["teams"]:
        assert set(t) == {"name", "channel", "mention", "items", "forecast", "budget"}
        assert all(set(i) == {"kind", "service", "breakdown"} for i in t["items"])
        assert t["forecast"] == {"mtd": 900.0, "forecast": 1200.0, "low": 1150.0, "high": 1260.0,
                                 "interval": 0.8, "method": "model", "day_cost": 50.0}
    assert by_name["compute"]["channel"] == "C0COMPUTE" and by_name["compute"]["mention"] == "S0COMPGRP"
    for name in ("compute", "data", None):
        mine = [(k, e.service, e.breakdown) for e in v.entries if e.owner == name for k in e.kinds]
        assert [(i["kind"], i["service"], i["breakdown"]) for i in by_name[name]["items"]] == mine
        assert mine  # each has entries in the routing view
    assert by_name["quiet"]["items"] == [{"kind": "budget", "service": None, "breakdown": ""}]
    assert by_name["quiet"]["budget"]["status"] == "exceeded" and by_name["quiet"]["budget"]["passed_today"]
    assert by_name[None]["channel"] is None and by_name[None]["budget"] is None
    assert report.report_dict(view.build_view(golden_analysis(), rules()), {}, 0)["teams"] == []
