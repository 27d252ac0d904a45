"""Slack delivery: the WebClient seam (retries), exactly-once posting with thread resume, and the dry-run outputs."""

from __future__ import annotations

import json
import logging
import random
import socket
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from . import db
from .config import Settings
from .files import write_atomic
from .logs import redact
from .slack_message import render_preview_html, validate_payload

log = logging.getLogger("aws_cost_tracking")

TIMEOUT_S = 15
MAX_RETRIES = 3  # per request, for each of: rate limit, connection error, server error
MAX_RETRY_AFTER_S = 60  # a longer Retry-After gives up rather than stall the cron job
REPLY_PACE_S = 1.0  # chat.postMessage allows about 1 message per second per channel
THREAD_PLACEHOLDER = "<ts of message 1>"
LEDGER_NAME = "slack_posts.json"  # OUTPUT_DIR/<d>/: each ts Slack gave, kept outside the database
RATE_LIMITED = ("ratelimited", "rate_limited")

# Slack error code -> what to fix (one line; {channel} is the configured channel id).
FIXES = {
    "invalid_auth": "SLACK_BOT_TOKEN is wrong or revoked — copy the Bot User OAuth Token (xoxb-…) again",
    "not_authed": "no token reached Slack — set SLACK_BOT_TOKEN",
    "account_inactive": "the bot's workspace or user is deactivated — reinstall the app and update SLACK_BOT_TOKEN",
    "token_revoked": "SLACK_BOT_TOKEN was revoked — reinstall the app and update SLACK_BOT_TOKEN",
    "token_expired": "SLACK_BOT_TOKEN expired (token rotation is on) — use a non-rotating bot token",
    "not_allowed_token_type": "SLACK_BOT_TOKEN is not a bot token — use the Bot User OAuth Token (xoxb-…)",
    "channel_not_found": "channel {channel} does not exist or the bot cannot see it — check SLACK_CHANNEL_ID "
                         "(the channel ID, e.g. C0123ABCD, from the channel's About tab) and invite the bot",
    "not_in_channel": "the bot is not in channel {channel} — invite it with /invite @yourbot in that channel",
    "is_archived": "channel {channel} is archived — unarchive it or set another SLACK_CHANNEL_ID",
    "missing_scope": "add chat:write to the bot token scopes (OAuth & Permissions) and reinstall the app",
    "restricted_action": "the workspace does not let this bot post in channel {channel} — ask an admin",
    "team_access_not_granted": "the token has no access to the workspace of channel {channel}",
    "msg_too_long": "the message is too long for Slack (a bug: please report it with slack_message.json)",
    "msg_blocks_too_long": "the message blocks are too long for Slack (a bug: please report it with "
                           "slack_message.json)",
    "invalid_blocks": "Slack rejected the message blocks (a bug: please report it with slack_message.json)",
    "invalid_blocks_format": "Slack rejected the message blocks (a bug: please report it with slack_message.json)",
}


class SlackDeliveryError(RuntimeError):
    """Posting failed; the message is one line saying what to fix (never contains the token)."""


@dataclass(frozen=True)
class DeliveryResult:
    """What deliver did: messages posted now, whether it skipped, the top message ts and thread ts."""

    posted: int
    skipped: bool
    ts: str | None
    thread_ts: str | None
    reason: str
    attempt: int | None = None


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """429 → wait Retry-After (slack_sdk's handler), unless Slack asks for longer than max_wait_s."""

    def __init__(self, max_retry_count: int = MAX_RETRIES, max_wait_s: float = MAX_RETRY_AFTER_S):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        for key, value in (response.headers or {}).items():
            if key.lower() == "retry-after":
                raw = value[0] if isinstance(value, list) else value
                try:
                    return float(raw) <= self.max_wait_s
                except (TypeError, ValueError):
                    return True
        return True


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """Retries every 5xx (slack_sdk's own handler covers only 500 and 503)."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code <= 599


def _not_sent(error: BaseException | None) -> bool:
    """True when the request cannot have reached Slack: connection refused, or the host name did not resolve."""
    reason = getattr(error, "reason", error)  # urllib's URLError wraps the socket error
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror))


class NotSentRetryHandler(ConnectionErrorRetryHandler):
    """Retries connection errors only when the request never reached Slack. A reset or a lost answer can come
    after Slack posted the message: a retry would post it twice (slack_sdk's own handler retries those too)."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is None and _not_sent(error)


class AttemptCounter(RetryHandler):
    """Never retries: notes slack_sdk's RetryState of the request that failed last, so an error can say how many
    attempts were made (listed first, it is consulted on every failed attempt)."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=0)
        self.state = None

    def can_retry(self, *, state, request, response=None, error=None) -> bool:
        self.state = state
        return False

    def reset(self) -> None:
        self.state = None

    @property
    def attempts(self) -> int:
        """Requests sent for the last call: 1 + the retries slack_sdk made."""
        return 1 + (self.state.current_attempt if self.state is not None else 0)


class ProportionalJitter(Jitter):
    """Jitter of 50–150 % of the backoff (slack_sdk's default adds up to 1 s, whatever the backoff)."""

    def recalculate(self, duration: float) -> float:
        return duration * (0.5 + random.random())


def make_slack_client(settings: Settings, *, max_retries: int = MAX_RETRIES, backoff_s: float = 0.5,
                      timeout_s: int = TIMEOUT_S) -> WebClient:
    """The one WebClient for SLACK_BOT_TOKEN at SLACK_API_URL, with bounded retries (429, connection, 5xx)."""
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_s, jitter=ProportionalJitter())
    return WebClient(
        token=str(settings.slack_bot_token) or None,
        base_url=base_url,
        timeout=timeout_s,
        retry_handlers=[
            AttemptCounter(),
            BoundedRateLimitRetryHandler(max_retry_count=max_retries),
            NotSentRetryHandler(max_retry_count=max_retries, interval_calculator=backoff),
            AnyServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=backoff),
        ],
    )


def request_body(payload: dict, channel: str, thread_ts: str | None = None) -> dict:
    """The chat.postMessage arguments for one payload (exactly what is posted)."""
    body = {"channel": channel, "text": payload["text"], "blocks": payload["blocks"],
            "unfurl_links": False, "unfurl_media": False}
    if thread_ts is not None:
        body["thread_ts"] = thread_ts
    return body


def _header(response, name: str) -> str | None:
    for key, value in (getattr(response, "headers", None) or {}).items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) else value)
    return None


def _retries(attempts: int | None) -> str:
    n = (attempts or 1) - 1
    return "not retried" if n == 0 else f"after {n} retr{'y' if n == 1 else 'ies'}"


def explain(exc: BaseException, channel: str, base_url: str = "", secrets: tuple[str, ...] = (),
            attempts: int | None = None) -> str:
    """One line saying what failed, whether it was retried (attempts = requests sent, when known) and what to fix
    (token redacted)."""
    if isinstance(exc, SlackApiError):
        data = getattr(exc.response, "data", None)
        status = getattr(exc.response, "status_code", None)
        code = data.get("error") if isinstance(data, dict) else None
        if code in RATE_LIMITED or status == 429:
            wait = _header(exc.response, "Retry-After")
            try:
                too_long = wait is not None and float(wait) > MAX_RETRY_AFTER_S
            except ValueError:
                too_long = False
            if too_long and (attempts or 1) == 1:
                how = f"not retried: Slack asked to wait {wait} s (Retry-After), more than the {MAX_RETRY_AFTER_S} s a run waits"
            elif attempts is None:
                how = f"HTTP {status}" + (f", Retry-After {wait} s" if wait else "")
            else:
                how = f"{_retries(attempts)} (HTTP {status}, " + (f"Retry-After {wait} s" if wait else "no Retry-After") + ")"
            text = f"Slack: {code or 'ratelimited'} — rate limited, {how} — nothing posted; rerun later"
        elif code in FIXES:
            text = f"Slack: {code} — {FIXES[code].format(channel=channel)}"
        elif status is not None and status >= 500:
            how = "" if attempts is None else f" {_retries(attempts)}"
            text = f"Slack: chat.postMessage failed with HTTP {status}{how} — Slack may be down; rerun later"
        elif code:
            text = f"Slack: chat.postMessage failed: {code}" + (f" (HTTP {status})" if status != 200 else "")
        else:
            text = f"Slack: chat.postMessage failed with HTTP {status}"
    elif isinstance(exc, TimeoutError) or not _not_sent(exc):
        what = "no answer in time" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: " + str(
            getattr(exc, "reason", None) or exc)
        text = (f"Slack: {base_url or 'the Slack API'} did not confirm the post ({what}) — the message may have "
                "been posted anyway: check the channel, then rerun with --force only if it is missing")
    else:
        reason = getattr(exc, "reason", None) or exc
        how = "" if attempts is None else f", {attempts} attempt{'s' if attempts > 1 else ''}"
        text = (f"Slack: cannot reach {base_url or 'the Slack API'} ({type(exc).__name__}: {reason}{how}) — "
                "check the network/proxy and SLACK_API_URL")
    return redact(" ".join(text.split()), secrets)


def ledger_path(out_dir: Path, report_date: date) -> Path:
    """OUTPUT_DIR/<d>/slack_posts.json: the posts Slack confirmed, kept outside the database."""
    return Path(out_dir) / report_date.isoformat() / LEDGER_NAME


def read_ledger(path: Path) -> list[db.PostRecord]:
    """The posts kept in a ledger file ([] when there is none; an unreadable one is logged and ignored)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return [db.PostRecord(date.fromisoformat(p["report_date"]), p["channel"], int(p["attempt"]),
                              int(p["part"]), int(p["parts"]), str(p["ts"]), p.get("thread_ts"))
                for p in data["posts"] if p.get("ts")]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("slack: ignoring %s: %s", path, exc)
        return []


def _remember(path: Path, post: db.PostRecord) -> OSError | None:
    """Add a confirmed post to the ledger (atomically); return the write error instead of raising it."""
    key = (post.report_date, post.channel, post.attempt, post.part)
    posts = [p for p in read_ledger(path) if (p.report_date, p.channel, p.attempt, p.part) != key] + [post]
    rows = [{"report_date": p.report_date.isoformat(), "channel": p.channel, "attempt": p.attempt, "part": p.part,
             "parts": p.parts, "ts": p.ts, "thread_ts": p.thread_ts} for p in posts]
    try:
        write_atomic(path, json.dumps({"posts": rows}, indent=2) + "\n")
    except OSError as exc:
        log.error("slack: %s", exc)
        return exc
    return None


def reconcile(engine: Engine, ledger: Path, report_date: date, channel: str) -> int:
    """Write back to slack_post the confirmed posts of the ledger that the database lacks (a run posted them, then
    could not record them); return how many."""
    kept = [p for p in read_ledger(ledger) if p.report_date == report_date and p.channel == channel]
    if not kept:
        return 0
    stored = {(r.attempt, r.part): r for r in db.slack_posts(engine, report_date, channel)}
    done = 0
    for post in kept:
        row = stored.get((post.attempt, post.part))
        if row is not None and row.ts:
            continue
        if row is None:
            db.record_slack_post(engine, post)
        else:
            db.confirm_slack_post(engine, post)
        done += 1
        log.warning("slack: recorded part %d of attempt %d (ts %s) from %s — it was posted but the database could "
                    "not record it then", post.part + 1, post.attempt, post.ts, ledger)
    return done


def _ts(response) -> str | None:
    """The ts of Slack's answer, or None when it has none (then the post is unconfirmed)."""
    try:
        value = response.get("ts")
    except AttributeError:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value.strip() or None if isinstance(value, str) else None


def _db_reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).splitlines() or [type(orig).__name__])[0] or type(orig).__name__


def _complete(records: list[db.PostRecord]) -> bool:
    parts = records[0].parts
    return {r.part for r in records} >= set(range(parts))


def deliver(payloads: list[dict], settings: Settings, engine: Engine, report_date: date, *, client=None,
            force: bool = False, pace_s: float = REPLY_PACE_S, ledger: Path | None = None,
            channel: str | None = None) -> DeliveryResult:
    """Post the payloads (top message, then thread replies) once per (date, channel), recording each post;
    channel: a team's channel id (default SLACK_CHANNEL_ID). One ledger holds every channel's posts, by channel.

    A complete earlier attempt → skip. An interrupted attempt (crash between messages) → post only its missing
    parts, in the same thread. force → always a new attempt (a new top message). Each ts Slack gives is also
    kept in `ledger` (OUTPUT_DIR/<d>/slack_posts.json), and posts found there but not in the database are
    written back first. Raises SlackDeliveryError.
    """
    channel = channel or settings.slack_channel_id
    if not channel:
        raise SlackDeliveryError("Slack: SLACK_CHANNEL_ID is not set")
    if not payloads:
        raise ValueError("no payloads to post")
    for payload in payloads:
        validate_payload(payload)
    secrets = (str(settings.slack_bot_token),)
    if ledger is not None:
        reconcile(engine, ledger, report_date, channel)
    records = db.slack_posts(engine, report_date, channel)
    latest = max((r.attempt for r in records), default=0)
    previous = [r for r in records if r.attempt == latest]
    thread_ts: str | None = None
    if any(not r.ts for r in previous) and not force:
        raise SlackDeliveryError(
            f"Slack: a post of {report_date} to {channel} is unconfirmed: another run is posting it now, or Slack "
            "never answered — check the channel, then rerun with --force only if it is missing")
    if previous and _complete(previous) and not force:
        top = next(r for r in previous if r.part == 0)
        return DeliveryResult(0, True, top.ts, top.ts, f"already posted for {report_date} to {channel} "
                              f"(ts {top.ts}); use --force to post again", latest)
    if previous and not force and not _complete(previous):
        attempt = latest
        top = next((r for r in previous if r.part == 0), None)
        thread_ts = top.ts if top else None
        total = previous[0].parts
        if total != len(payloads):
            log.warning("slack: the message has %d part(s) now, %d when first posted; resuming by part number",
                        len(payloads), total)
        done = {r.part for r in previous}
        todo = [p for p in range(min(total, len(payloads))) if p not in done]
        verb = f"resumed attempt {attempt} in thread {thread_ts}"
    else:
        attempt, total, todo, verb = latest + 1, len(payloads), list(range(len(payloads))), f"attempt {latest + 1}"

    client = client or make_slack_client(settings)
    counter = next((h for h in getattr(client, "retry_handlers", None) or [] if isinstance(h, AttemptCounter)),
                   None)
    posted = 0
    last_post = 0.0
    top_ts = thread_ts
    for part in todo:
        body = request_body(payloads[part], channel, thread_ts if part > 0 else None)
        wait = pace_s - (time.monotonic() - last_post)
        if posted and wait > 0:
            time.sleep(wait)
        # Claim the message first: the unique key lets one run only (any host, any OUTPUT_DIR) post it.
        claim = db.PostRecord(report_date, channel, attempt, part, total, "", None if part == 0 else thread_ts)
        try:
            db.record_slack_post(engine, claim)
        except IntegrityError:
            raise SlackDeliveryError(f"Slack: another run is posting the report of {report_date} to {channel} "
                                     "right now; not posting it twice") from None
        if counter is not None:
            counter.reset()
        try:
            response = client.chat_postMessage(**body)
        except SlackApiError as exc:  # Slack answered: nothing was posted
            db.release_slack_post(engine, claim)
            raise SlackDeliveryError(explain(exc, channel, settings.slack_api_url, secrets,
                                             counter.attempts if counter else None)) from None
        except (OSError, TimeoutError) as exc:  # URLError and socket errors, after the (safe) retries
            if _not_sent(exc):
                db.release_slack_post(engine, claim)  # never reached Slack: a plain rerun posts it
            raise SlackDeliveryError(explain(exc, channel, settings.slack_api_url, secrets,
                                             counter.attempts if counter else None)) from None
        last_post = time.monotonic()
        ts = _ts(response)
        if ts is None:  # the claim stays unconfirmed: no reply may hang off a thread that may not exist
            raise SlackDeliveryError(
                f"Slack: chat.postMessage answered ok without a ts for part {part + 1}/{total} of {report_date} to "
                f"{channel}, so the post is unconfirmed — check the channel, then rerun with --force only if it is "
                "missing")
        if part == 0:
            top_ts = thread_ts = ts
        done = replace(claim, ts=ts)
        log.info("slack: posted part %d/%d to %s (ts %s)", part + 1, total, channel, ts)
        kept = None if ledger is None else _remember(ledger, done)
        try:
            db.confirm_slack_post(engine, done)
        except Exception as exc:  # whatever failed, the message is out: its ts must reach a person
            if ledger is not None and kept is None:
                where = f"it is kept in {ledger}: the next run records it and does not post again"
            else:
                where = ((f"and {kept} — " if kept else "")
                         + "a plain rerun will refuse (unconfirmed); --force would post a second copy")
            raise SlackDeliveryError(
                f"Slack: posted part {part + 1}/{total} of {report_date} to {channel} (ts {ts}) but the database "
                f"could not record it ({_db_reason(exc)}); {where}") from None
        posted += 1
    return DeliveryResult(posted, False, top_ts, thread_ts,
                          f"posted {posted} message(s) to {channel}, {verb} (ts {top_ts})", attempt)


def write_outputs(payloads: list[dict], out_dir: Path, report_date: date, channel: str,
                  site_url: str | None = None, teams: list[tuple[str, str, list[dict]]] = ()) -> tuple[Path, Path]:
    """Write OUTPUT_DIR/<d>/slack_message.json (the exact request bodies: the main channel's, then each team's,
    each body naming its channel) and slack_preview.html (one section per channel); teams: (team, channel,
    payloads). Both files are tried, then the first failure is raised (an OSError naming the path)."""
    day = Path(out_dir) / report_date.isoformat()
    bodies = [request_body(p, ch, THREAD_PLACEHOLDER if i else None)
              for ch, ps in [(channel, payloads), *((c, ps) for _, c, ps in teams)] for i, p in enumerate(ps)]
    page = render_preview_html(payloads, f"Slack preview — AWS costs {report_date.isoformat()} ({channel})",
                               site_url, teams=[(f"Team {team} ({ch})", ps) for team, ch, ps in teams])
    files = {day / "slack_message.json": json.dumps(bodies, indent=2, ensure_ascii=False) + "\n",
             day / "slack_preview.html": page}
    errors: list[OSError] = []
    for path, text in files.items():
        try:
            write_atomic(path, text)
        except OSError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
    json_path, html_path = files
    return json_path, html_path


# ---- failure notice (runCostReporting.py) -------------------------------------------------------------------------

NOTICE_TIMEOUT_S = 5  # one attempt: the notice must not hold a run that has already failed


def post_failure_notice(settings: Settings, line: str, *, client=None) -> str | None:
    """Post "AWS cost report for <d> failed: <line>" once (plain text, no retries, 5 s); return None when Slack
    took it, else one line saying why not (token redacted)."""
    channel = settings.slack_channel_id
    client = client or make_slack_client(settings, max_retries=0, timeout_s=NOTICE_TIMEOUT_S)
    try:
        reply = client.chat_postMessage(channel=channel, text=f"AWS cost report for {settings.day} failed: {line}",
                                        unfurl_links=False, unfurl_media=False)
        return None if reply.get("ok") else f"Slack failure notice not posted ({reply.get('error')})"
    except SlackApiError as exc:
        data = getattr(exc.response, "data", None)
        why = data.get("error") if isinstance(data, dict) else None
        why = why or f"HTTP {getattr(exc.response, 'status_code', '?')}"
    except Exception as exc:  # no answer in time, connection refused…
        why = f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"
    return redact(f"Slack failure notice not posted ({' '.join(str(why).split())})", (str(settings.slack_bot_token),))
