"""Slack delivery against a local Slack API server: retries, errors, exactly-once, thread resume, outputs."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from _util import db, fmt
from _util.config import Secret, Settings
from _util.slack import (
    AnyServerErrorRetryHandler,
    AttemptCounter,
    BoundedRateLimitRetryHandler,
    NotSentRetryHandler,
    SlackDeliveryError,
    deliver,
    make_slack_client,
    request_body,
    write_outputs,
)
from _util.slack_message import build_messages
from tests.slack_fixtures import BASE, D, all_urls, day_view, golden_analysis, many_alerts
from tests.slack_server import Reply, SlackServer

TOKEN = "xoxb-1111-2222-SECRETsecretSECRET"
CHANNEL = "C0123ABCD"
PAGE = f"{BASE}/{D.isoformat()}/"


@pytest.fixture
def server(slack_server):
    return slack_server


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


def make_settings(server: SlackServer | None = None, *, api_url: str = "", channel: str = CHANNEL) -> Settings:
    url = api_url or server.url + "/api/"
    return Settings(slack_bot_token=Secret(TOKEN), slack_channel_id=channel, slack_api_url=url)


def client_for(settings: Settings):
    """The production client (same retry handlers) with no backoff, so tests do not sleep on 5xx."""
    return make_slack_client(settings, backoff_s=0.0)


def payloads_for(n_alerts: int | None = None) -> list[dict]:
    a = golden_analysis() if n_alerts is None else many_alerts(n_alerts)
    return build_messages(day_view(a, all_urls(a), PAGE))


def send(payloads, settings, engine, **kw):
    return deliver(payloads, settings, engine, D, client=client_for(settings), pace_s=0, **kw)


def test_posts_exact_payload_with_token_in_header_only(server, engine):
    settings = make_settings(server)
    payloads = payloads_for()
    result = send(payloads, settings, engine)
    assert (result.posted, result.skipped) == (1, False)
    (req,) = server.calls("chat.postMessage")
    assert req.body == request_body(payloads[0], CHANNEL)
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in json.dumps(req.body)
    assert result.ts == "1764000000.000001"
    (rec,) = db.slack_posts(engine, D, CHANNEL)
    assert (rec.attempt, rec.part, rec.parts, rec.ts, rec.thread_ts) == (1, 0, 1, result.ts, None)


def test_many_alerts_go_out_as_a_thread(server, engine):
    settings = make_settings(server)
    payloads = payloads_for(200)
    assert len(payloads) > 1
    result = send(payloads, settings, engine)
    assert result.posted == len(payloads)
    posted = server.posted
    assert [p["blocks"] for p in posted] == [p["blocks"] for p in payloads]
    assert "thread_ts" not in posted[0]
    assert all(p["thread_ts"] == result.ts for p in posted[1:])
    assert all(p["text"] for p in posted)
    recs = db.slack_posts(engine, D, CHANNEL)
    assert [r.part for r in recs] == list(range(len(payloads)))
    assert {r.parts for r in recs} == {len(payloads)}


@pytest.mark.slow
def test_rate_limited_then_success_posts_once(server, engine):
    settings = make_settings(server)
    server.script("chat.postMessage", Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))
    result = send(payloads_for(), settings, engine)
    assert result.posted == 1
    assert len(server.calls("chat.postMessage")) == 2
    assert len(server.posted) == 1


def test_server_error_then_success(server, engine):
    settings = make_settings(server)
    server.script("chat.postMessage", Reply(500, "<html>oops</html>"), Reply(502, "bad gateway"))
    result = send(payloads_for(), settings, engine)
    assert result.posted == 1
    assert len(server.calls("chat.postMessage")) == 3
    assert len(server.posted) == 1


def test_server_errors_are_retried_a_bounded_number_of_times(server, engine):
    settings = make_settings(server)
    server.script("chat.postMessage", *[Reply(503, "down")] * 10)
    with pytest.raises(SlackDeliveryError, match="HTTP 503"):
        send(payloads_for(), settings, engine)
    assert len(server.calls("chat.postMessage")) == 4  # 1 + 3 retries
    assert db.slack_posts(engine, D, CHANNEL) == []


def test_a_lost_answer_is_not_retried_and_blocks_a_plain_rerun(server, engine):
    """Slack posted the message but the answer never came back: a retry or a plain rerun would post it twice.
    The run says so, the claim stays, the next run refuses until --force."""
    settings = make_settings(server)
    server.script("chat.postMessage", Reply(drop_after_post=True))
    with pytest.raises(SlackDeliveryError, match="did not confirm the post .* may have been posted anyway"):
        send(payloads_for(), settings, engine)
    assert len(server.posted) == 1 and len(server.calls("chat.postMessage")) == 1
    assert [r.ts for r in db.slack_posts(engine, D, CHANNEL)] == [""]  # claimed, not confirmed
    with pytest.raises(SlackDeliveryError, match="unconfirmed: another run is posting it now, or Slack never"):
        send(payloads_for(), settings, engine)
    assert len(server.posted) == 1
    forced = send(payloads_for(), settings, engine, force=True)
    assert (forced.posted, forced.attempt) == (1, 2) and len(server.posted) == 2


def test_a_refused_connection_is_retried_and_a_rerun_posts(engine):
    """Refused: the request never reached Slack, so retrying (and a plain rerun) cannot post twice."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(api_url=f"http://127.0.0.1:{port}/api/")
    with pytest.raises(SlackDeliveryError, match="cannot reach"):
        send(payloads_for(), settings, engine)
    assert db.slack_posts(engine, D, CHANNEL) == []  # the claim was released


def test_a_post_claimed_by_another_run_is_not_posted_again(server, engine):
    """Two runs the file lock does not cover (another OUTPUT_DIR, another host, procSummaries --post beside the
    cron job): the database key lets one of them post."""
    settings = make_settings(server)
    db.record_slack_post(engine, db.PostRecord(D, CHANNEL, 1, 0, 1, "", None))  # the other run, mid-post
    with pytest.raises(SlackDeliveryError, match="unconfirmed: another run is posting it now"):
        send(payloads_for(), settings, engine)
    assert server.posted == []


def test_claims_race_one_wins(server, engine, monkeypatch):
    """Both runs saw no record, then both try to claim part 0: the second claim fails on the unique key."""
    settings = make_settings(server)
    real = db.slack_posts
    monkeypatch.setattr(db, "slack_posts", lambda *a: [])  # as if read before the other run's claim
    db.record_slack_post(engine, db.PostRecord(D, CHANNEL, 1, 0, 1, "", None))
    with pytest.raises(SlackDeliveryError, match="another run is posting the report of .* right now"):
        send(payloads_for(), settings, engine)
    assert server.posted == [] and len(real(engine, D, CHANNEL)) == 1


@pytest.mark.parametrize("code,fix", [
    ("invalid_auth", "Slack: invalid_auth — SLACK_BOT_TOKEN is wrong or revoked"),
    ("channel_not_found", f"channel {CHANNEL} does not exist"),
    ("not_in_channel", f"the bot is not in channel {CHANNEL} — invite it with /invite"),
    ("missing_scope", "add chat:write to the bot token scopes"),
    ("token_revoked", "reinstall the app"),
    ("is_archived", "archived"),
    ("msg_blocks_too_long", "slack_message.json"),
])
def test_slack_errors_say_what_to_fix(server, engine, caplog, code, fix):
    settings = make_settings(server)
    server.script("chat.postMessage", Reply(200, {"ok": False, "error": code}))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SlackDeliveryError) as info:
        send(payloads_for(), settings, engine)
    message = str(info.value)
    assert fix in message
    assert "\n" not in message
    assert TOKEN not in message and "SECRET" not in message
    assert TOKEN not in caplog.text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert db.slack_posts(engine, D, CHANNEL) == []  # a failed post is not recorded: a rerun posts it


def test_unreachable_slack_fails_with_one_line(engine):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(api_url=f"http://127.0.0.1:{port}/api/")
    with pytest.raises(SlackDeliveryError, match=r"Slack: cannot reach http://127\.0\.0\.1:\d+/api/") as info:
        send(payloads_for(), settings, engine)
    assert TOKEN not in str(info.value)


@pytest.mark.slow
def test_timeout_is_not_retried_and_says_the_post_may_exist(server, engine):
    settings = make_settings(server)
    server.script("chat.postMessage", Reply(delay_s=1.5))
    client = make_slack_client(settings, backoff_s=0.0, timeout_s=1)
    with pytest.raises(SlackDeliveryError, match="may have been posted") as info:
        deliver(payloads_for(), settings, engine, D, client=client, pace_s=0)
    assert len(server.calls("chat.postMessage")) == 1  # a retry could post twice
    assert TOKEN not in str(info.value)


def test_two_runs_post_once_and_force_posts_again(server, engine):
    settings = make_settings(server)
    payloads = payloads_for()
    first = send(payloads, settings, engine)
    second = send(payloads, settings, engine)
    assert (second.posted, second.skipped, second.ts) == (0, True, first.ts)
    assert "--force" in second.reason
    assert len(server.posted) == 1
    forced = send(payloads, settings, engine, force=True)
    assert (forced.posted, forced.skipped, forced.attempt) == (1, False, 2)
    assert forced.ts != first.ts
    assert len(server.posted) == 2
    assert [r.attempt for r in db.slack_posts(engine, D, CHANNEL)] == [1, 2]
    # Another channel is another audience: it gets its own post.
    other = send(payloads, make_settings(server, channel="C999"), engine)
    assert other.posted == 1


def test_failure_before_posting_posts_on_rerun(server, engine):
    settings = make_settings(server)
    server.script("chat.postMessage", Reply(200, {"ok": False, "error": "not_in_channel"}))
    with pytest.raises(SlackDeliveryError):
        send(payloads_for(), settings, engine)
    assert server.posted == []
    result = send(payloads_for(), settings, engine)
    assert (result.posted, result.skipped, result.attempt) == (1, False, 1)
    assert len(server.posted) == 1


def test_failure_between_chunks_resumes_in_the_same_thread(server, engine):
    settings = make_settings(server)
    payloads = payloads_for(200)
    n = len(payloads)
    assert n >= 3
    # The third message fails for good (after the server answered ok to the first two).
    server.script("chat.postMessage", Reply(), Reply(), Reply(200, {"ok": False, "error": "fatal_error"}))
    with pytest.raises(SlackDeliveryError, match="fatal_error"):
        send(payloads, settings, engine)
    assert len(server.posted) == 2
    top_ts = db.slack_posts(engine, D, CHANNEL)[0].ts
    result = send(payloads, settings, engine)
    assert result.posted == n - 2
    assert result.thread_ts == top_ts
    posted = server.posted
    assert len(posted) == n  # every part exactly once
    assert [p["blocks"] for p in posted] == [p["blocks"] for p in payloads]
    assert all(p["thread_ts"] == top_ts for p in posted[1:])
    recs = db.slack_posts(engine, D, CHANNEL)
    assert [(r.attempt, r.part) for r in recs] == [(1, p) for p in range(n)]
    # And now it is complete: a third run posts nothing.
    assert send(payloads, settings, engine).skipped


def test_pacing_between_replies(server, engine, monkeypatch):
    """Replies are spaced by pace_s (chat.postMessage allows ~1 message/s per channel)."""
    import _util.slack as slack

    sleeps: list[float] = []
    monkeypatch.setattr(slack.time, "sleep", sleeps.append)
    payloads = payloads_for(200)
    settings = make_settings(server)
    deliver(payloads, settings, engine, D, client=client_for(settings), pace_s=1.0)
    assert len(sleeps) == len(payloads) - 1
    assert all(0 < s <= 1.0 for s in sleeps)


def test_make_slack_client_uses_settings():
    settings = make_settings(api_url="https://slack-gov.com/api")
    client = make_slack_client(settings)
    assert client.base_url == "https://slack-gov.com/api/"
    assert client.token == TOKEN
    assert client.timeout == 15
    counter, *retrying = client.retry_handlers
    assert isinstance(counter, AttemptCounter) and counter.max_retry_count == 0  # consulted first, never retries
    assert {type(h) for h in retrying} == {BoundedRateLimitRetryHandler, NotSentRetryHandler,
                                           AnyServerErrorRetryHandler}
    assert all(h.max_retry_count == 3 for h in retrying)


def test_long_retry_after_is_not_waited_for(server, engine):
    settings = make_settings(server)
    server.script("chat.postMessage", Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3600"}))
    with pytest.raises(SlackDeliveryError, match="ratelimited"):
        send(payloads_for(), settings, engine)
    assert len(server.calls("chat.postMessage")) == 1


def test_write_outputs(tmp_path):
    payloads = payloads_for(200)
    json_path, html_path = write_outputs(payloads, tmp_path, D, CHANNEL)
    assert json_path == tmp_path / D.isoformat() / "slack_message.json"
    bodies = json.loads(json_path.read_text())
    assert bodies[0] == request_body(payloads[0], CHANNEL)
    assert all(b["thread_ts"] == "<ts of message 1>" and b["channel"] == CHANNEL for b in bodies[1:])
    assert [b["blocks"] for b in bodies] == [p["blocks"] for p in payloads]
    page = html_path.read_text()
    assert f"AWS costs — {fmt.day_full(D)}" in page and page.count('class="message reply"') == len(payloads) - 1


# ---- a post Slack confirmed without a ts; what rate limiting really did ------------------------------------------


@pytest.mark.parametrize("answer", [{"ok": True}, {"ok": True, "ts": ""}, {"ok": True, "ts": None}])
def test_ok_without_a_ts_is_unconfirmed_and_sends_no_reply(server, engine, answer):
    """Slack said ok but gave no ts: the claim stays unconfirmed (never the string "None"), the run fails saying
    so, and no reply goes out with a bogus thread_ts."""
    settings = make_settings(server)
    payloads = payloads_for(200)
    assert len(payloads) > 1
    server.script("chat.postMessage", Reply(200, answer))
    with pytest.raises(SlackDeliveryError, match=r"answered ok without a ts for part 1/\d+ .* so the post is "
                                                 r"unconfirmed — check the channel") as info:
        send(payloads, settings, engine)
    assert "None" not in str(info.value)
    assert len(server.calls("chat.postMessage")) == 1  # no reply
    assert [(r.part, r.ts) for r in db.slack_posts(engine, D, CHANNEL)] == [(0, "")]
    with pytest.raises(SlackDeliveryError, match="unconfirmed"):  # a plain rerun does not post a second copy
        send(payloads, settings, engine)
    assert len(server.calls("chat.postMessage")) == 1


@pytest.fixture
def no_retry_after_sleep(monkeypatch):
    """slack_sdk's rate-limit handler sleeps Retry-After + up to 1 s: keep the test fast (it counts, not waits)."""
    import slack_sdk.http_retry.builtin_handlers as handlers

    waits: list[float] = []
    monkeypatch.setattr(handlers.time, "sleep", waits.append)
    return waits


@pytest.mark.parametrize("replies,calls,says", [
    ([Reply(200, {"ok": False, "error": "ratelimited"})], 1,
     "Slack: ratelimited — rate limited, not retried (HTTP 200, no Retry-After) — nothing posted; rerun later"),
    ([Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3600"})], 1,
     "Slack: ratelimited — rate limited, not retried: Slack asked to wait 3600 s (Retry-After), more than the 60 s "
     "a run waits — nothing posted; rerun later"),
    ([Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "2"})] * 4, 4,
     "Slack: ratelimited — rate limited, after 3 retries (HTTP 429, Retry-After 2 s) — nothing posted; rerun later"),
    ([Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "2"}),
      Reply(200, {"ok": False, "error": "ratelimited"})], 2,
     "Slack: ratelimited — rate limited, after 1 retry (HTTP 200, no Retry-After) — nothing posted; rerun later"),
    ([Reply(503, "down")] * 4, 4,
     "Slack: chat.postMessage failed with HTTP 503 after 3 retries — Slack may be down; rerun later"),
])
def test_rate_limits_and_errors_say_whether_they_were_retried(server, engine, no_retry_after_sleep, replies, calls,
                                                              says):
    settings = make_settings(server)
    server.script("chat.postMessage", *replies)
    with pytest.raises(SlackDeliveryError) as info:
        send(payloads_for(), settings, engine)
    assert str(info.value) == says
    assert len(server.calls("chat.postMessage")) == calls  # what the message claims is what the server saw
    assert db.slack_posts(engine, D, CHANNEL) == []


# ---- the database goes away between claim and confirm ---------------------------------------------------------


def _database_gone(monkeypatch, fail_parts: set[int] = frozenset({0})):
    """confirm_slack_post fails (the database went away after the claim) for the given parts."""
    from sqlalchemy.exc import OperationalError

    real = db.confirm_slack_post

    def confirm(engine, post):
        if post.part in fail_parts:
            raise OperationalError("UPDATE slack_post", {}, Exception("(2013, 'Lost connection to MySQL server "
                                                                      "during query')"))
        return real(engine, post)

    monkeypatch.setattr(db, "confirm_slack_post", confirm)


@pytest.mark.parametrize("n_alerts", [None, 200])
def test_a_post_the_database_could_not_record_is_written_back_and_never_posted_twice(server, engine, tmp_path,
                                                                                     monkeypatch, n_alerts):
    settings = make_settings(server)
    payloads = payloads_for(n_alerts)
    ledger = tmp_path / "out" / D.isoformat() / "slack_posts.json"
    _database_gone(monkeypatch)
    with pytest.raises(SlackDeliveryError) as info:
        deliver(payloads, settings, engine, D, client=client_for(settings), pace_s=0, ledger=ledger)
    ts = "1764000000.000001"
    assert str(info.value) == (
        f"Slack: posted part 1/{len(payloads)} of {D} to {CHANNEL} (ts {ts}) but the database could not record it "
        f"((2013, 'Lost connection to MySQL server during query')); it is kept in {ledger}: the next run records "
        "it and does not post again")
    assert len(server.posted) == 1  # stopped there: no reply without a recorded top message
    assert [r.ts for r in db.slack_posts(engine, D, CHANNEL)] == [""]  # the claim, unconfirmed
    kept = json.loads(ledger.read_text())["posts"]
    assert [(p["attempt"], p["part"], p["ts"], p["channel"]) for p in kept] == [(1, 0, ts, CHANNEL)]

    monkeypatch.undo()  # the database is back
    again = deliver(payloads, settings, engine, D, client=client_for(settings), pace_s=0, ledger=ledger)
    recs = db.slack_posts(engine, D, CHANNEL)
    assert recs[0].ts == ts  # written back from the ledger
    if len(payloads) == 1:
        assert (again.posted, again.skipped, again.ts) == (0, True, ts) and "already posted" in again.reason
        assert len(server.posted) == 1
    else:  # the replies go out once, in the thread of the message already posted
        assert (again.posted, again.thread_ts) == (len(payloads) - 1, ts)
        assert len(server.posted) == len(payloads)
        assert all(p["thread_ts"] == ts for p in server.posted[1:])
    assert send(payloads, settings, engine).skipped  # and a third run posts nothing
    forced = deliver(payloads, settings, engine, D, client=client_for(settings), pace_s=0, ledger=ledger,
                     force=True)
    assert (forced.posted, forced.attempt) == (len(payloads), 2)  # --force: a deliberate second copy


def test_database_and_disk_both_failing_leave_the_ts_in_the_error_line(server, engine, tmp_path, monkeypatch):
    settings = make_settings(server)
    (tmp_path / "a-file").write_text("x")
    ledger = tmp_path / "a-file" / D.isoformat() / "slack_posts.json"  # cannot be written
    _database_gone(monkeypatch)
    with pytest.raises(SlackDeliveryError) as info:
        deliver(payloads_for(), settings, engine, D, client=client_for(settings), pace_s=0, ledger=ledger)
    line = str(info.value)
    assert "(ts 1764000000.000001)" in line and f"cannot write {ledger}: Not a directory" in line
    assert "--force would post a second copy" in line and "\n" not in line
    monkeypatch.undo()
    with pytest.raises(SlackDeliveryError, match="unconfirmed"):  # nothing to reconcile from: a person decides
        deliver(payloads_for(), settings, engine, D, client=client_for(settings), pace_s=0, ledger=ledger)
    assert len(server.posted) == 1


def test_the_ledger_is_written_atomically_as_each_post_is_confirmed(server, engine, tmp_path):
    settings = make_settings(server)
    ledger = tmp_path / D.isoformat() / "slack_posts.json"
    payloads = payloads_for(200)
    result = deliver(payloads, settings, engine, D, client=client_for(settings), pace_s=0, ledger=ledger)
    kept = json.loads(ledger.read_text())["posts"]
    assert [(p["part"], p["ts"], p["thread_ts"]) for p in kept] == [
        (r.part, r.ts, r.thread_ts) for r in db.slack_posts(engine, D, CHANNEL)]
    assert kept[0]["ts"] == result.ts and oct(ledger.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["slack_posts.json"]
