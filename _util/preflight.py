"""--dry-run's pre-flight: prove each configured service answers as the real run needs, without changing anything.

One Check per line on stdout (`check <name>: ok (…)` / `failed: why` / `skipped: why`). What is read, never written:
Slack auth.test and conversations.info; S3 HeadBucket and a one-key ListObjectsV2 of the prefix; the database's
SELECT 1 and table names; Cost Explorer one DAILY GetCostAndUsage of d, without GroupBy, only with --check-aws ($0.01);
COST_SOURCE=athena: Athena GetWorkGroup and Glue GetTable (free; no query).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine, inspect, text

from .config import Settings, mask_url
from .logs import redact

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


class PreflightError(RuntimeError):
    """A configured check failed (the lines on stdout say which and why)."""


@dataclass(frozen=True)
class Check:
    """The outcome of one pre-flight check."""

    name: str
    status: str  # ok | failed | skipped
    detail: str = ""

    def line(self) -> str:
        if self.status == OK:
            return f"check {self.name}: ok" + (f" ({self.detail})" if self.detail else "")
        return f"check {self.name}: {self.status}: {self.detail}"


# ---- settings ------------------------------------------------------------------------------------------------------


def check_settings(settings: Settings) -> Check:
    """The settings loaded (a bad one is exit 2 before any check); say what the real run will use."""
    slack = f"Slack channel {settings.slack_channel_id}" if settings.slack_bot_token else "no Slack, preview only"
    return Check("settings", OK, f"source {settings.cost_source}, d = {settings.day}, site "
                                 f"{settings.plots_destination}, {slack}")


# ---- database ------------------------------------------------------------------------------------------------------


def check_database(engine: Engine) -> Check:
    """Connect, SELECT 1, and list which of the project's tables exist (creates nothing)."""
    from . import db

    where = mask_url(str(engine.url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            existing = set(inspect(conn).get_table_names())
    except Exception as exc:  # OperationalError, driver errors: the reason without URL or password
        return Check("database", FAILED, f"cannot use {where}: {db._reason(exc)}")
    from . import migrate

    try:
        version = migrate.current_version(engine)
    except Exception as exc:
        return Check("database", FAILED, f"cannot read the schema version of {where}: {db._reason(exc)}")
    if version is None:
        return Check("database", OK, f"{where} reachable; no tables yet, the run creates them "
                                     f"(schema version {migrate.SCHEMA_VERSION})")
    if version > migrate.SCHEMA_VERSION:
        return Check("database", FAILED, f"{where} has schema version {version}, newer than this code's "
                                         f"{migrate.SCHEMA_VERSION}: update aws_cost_tracking (git pull)")
    if version < migrate.SCHEMA_VERSION:
        lacking = missing_schema_privileges(engine)
        if lacking:
            return Check("database", FAILED, f"{where} has schema version {version}, this code needs "
                                             f"{migrate.SCHEMA_VERSION}, and its user lacks {', '.join(lacking)}: "
                                             "run `python -m _util.migrate --db-url URL` once as a user that may "
                                             "(README \"Storage\")")
        return Check("database", OK, f"{where} reachable; schema version {version}, upgraded to "
                                     f"{migrate.SCHEMA_VERSION} by the run (or: python -m _util.migrate)")
    missing = [name for name in db.metadata.tables if name not in existing]
    if missing:
        return Check("database", OK, f"{where} reachable; schema version {version}; tables {', '.join(missing)} "
                                     "missing, created by the run")
    return Check("database", OK, f"{where} reachable and migrated (schema version {version})")


SCHEMA_PRIVILEGES = ("CREATE", "ALTER", "INDEX", "DROP")  # what an upgrade step may use (README "Storage")


def missing_schema_privileges(engine: Engine) -> list[str]:
    """The privileges a schema upgrade needs that the MySQL user visibly lacks on its database ([] when all are
    there, or when the grants cannot be read — roles, a proxy — so a doubt never fails the check)."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        return []
    grants = text(
        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = :grantee "
        "UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES "
        "WHERE GRANTEE = :grantee AND DATABASE() LIKE TABLE_SCHEMA")
    try:
        with engine.connect() as conn:
            user, _, host = str(conn.execute(text("SELECT CURRENT_USER()")).scalar()).rpartition("@")
            have = {str(p).upper() for p in conn.execute(grants, {"grantee": f"'{user}'@'{host}'"}).scalars()}
    except Exception:
        return []
    if not have:
        return []
    return [p for p in SCHEMA_PRIVILEGES if p not in have]


# ---- Slack ---------------------------------------------------------------------------------------------------------


def check_slack(settings: Settings, *, client=None) -> list[Check]:
    """auth.test, then conversations.info for SLACK_CHANNEL_ID: the channel exists and the bot is a member."""
    from slack_sdk.errors import SlackApiError

    from .slack import FIXES, make_slack_client

    if not settings.slack_bot_token:
        return [Check("slack", SKIPPED, "SLACK_BOT_TOKEN not set (the run writes the preview only)")]
    secrets = (str(settings.slack_bot_token),)
    client = client or make_slack_client(settings, max_retries=1, timeout_s=10)
    channel = settings.slack_channel_id

    def refused(exc: Exception, what: str) -> str:
        if isinstance(exc, SlackApiError):
            data = getattr(exc.response, "data", None)
            code = data.get("error") if isinstance(data, dict) else None
            if code:
                fix = FIXES.get(code, "").format(channel=channel)
                return redact(f"{code}" + (f" — {fix}" if fix else f" ({what})"), secrets)
            return f"{what}: HTTP {getattr(exc.response, 'status_code', '?')}"
        return redact(f"cannot reach {settings.slack_api_url} ({type(exc).__name__}: {exc}) — check the network/"
                      "proxy and SLACK_API_URL", secrets)[:300]

    try:
        auth = client.auth_test()
    except Exception as exc:
        return [Check("slack token", FAILED, refused(exc, "auth.test")),
                Check("slack channel", SKIPPED, "the token did not work")]
    who = f"bot {auth.get('user') or auth.get('user_id')} in workspace {auth.get('team') or auth.get('team_id')}"
    token = Check("slack token", OK, who)
    try:
        info = client.conversations_info(channel=channel)
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        if data.get("error") == "missing_scope":
            # The real run needs chat:write only; reading the channel needs one more scope, so this is unproven.
            needed = data.get("needed") or "channels:read (public channel) or groups:read (private channel)"
            return [token, Check("slack channel", SKIPPED,
                                 f"cannot look at {channel}: the token lacks the {needed} scope — add it under "
                                 "OAuth & Permissions and reinstall the app to let --dry-run check membership")]
        return [token, Check("slack channel", FAILED, refused(exc, "conversations.info"))]
    except Exception as exc:
        return [token, Check("slack channel", FAILED, refused(exc, "conversations.info"))]
    found = info.get("channel") or {}
    name = f"{channel} (#{found['name']})" if found.get("name") else channel
    if found.get("is_archived"):
        return [token, Check("slack channel", FAILED, FIXES["is_archived"].format(channel=channel))]
    if found.get("is_member") is False:
        return [token, Check("slack channel", FAILED, f"the bot is not a member of {name} — invite it with "
                                                      "/invite @yourbot in that channel")]
    return [token, Check("slack channel", OK, f"{name}, the bot is a member")]


# ---- site (S3 or a local folder) -----------------------------------------------------------------------------------


def check_site(settings: Settings, *, client=None) -> Check:
    """PLOTS_DESTINATION as the real run uses it: S3 bucket reachable and its prefix listable; a folder writable."""
    from .site import describe_s3_error, make_s3_client, parse_destination

    dest = parse_destination(settings.plots_destination)
    if dest.local_root is not None:
        return _check_folder(dest.local_root)
    client = client or make_s3_client(settings)
    prefix = f"{dest.prefix}/" if dest.prefix else ""
    try:
        client.head_bucket(Bucket=dest.bucket)
        # ListBucket on the prefix is what the run needs to rebuild the date index (docs/iam-upload.json).
        client.list_objects_v2(Bucket=dest.bucket, Prefix=prefix, MaxKeys=1)
    except Exception as exc:
        message, _fatal = describe_s3_error(exc, dest.bucket, prefix)
        return Check("site", FAILED, message)
    policy = _bucket_policy_verdict(client, dest.bucket, f"{prefix}{settings.day.isoformat()}/index.html")
    if policy.startswith("denies"):
        return Check("site", FAILED, f"{dest}: the bucket policy {policy}")
    # An allow can only be proven by writing (IAM, SCPs, KMS keys all take part); a dry run never writes to S3.
    return Check("site", OK, f"{dest}: bucket reachable, listing allowed, bucket policy {policy}; uploads "
                             "(s3:PutObject) not proven without writing — the real run names a denied upload at the "
                             "first object")


def _bucket_policy_verdict(client, bucket: str, key: str) -> str:
    """What the bucket policy says about s3:PutObject on key: "denies …" for an unconditional Deny that matches,
    else a short note (no policy, not readable, a conditional deny)."""
    import fnmatch
    import json

    from botocore.exceptions import ClientError

    try:
        document = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return "none" if code == "NoSuchBucketPolicy" else f"not readable ({code or 'refused'})"
    except (ValueError, KeyError, TypeError):
        return "not readable (not JSON)"
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    resource = f"arn:aws:s3:::{bucket}/{key}"

    def matches(values, target: str) -> bool:
        values = values if isinstance(values, list) else [values]
        return any(fnmatch.fnmatchcase(target.lower(), str(v).lower()) for v in values)

    conditional = False
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        if matches(st.get("Action", []), "s3:PutObject") and matches(st.get("Resource", []), resource):
            if not st.get("Condition"):
                return f"denies s3:PutObject on {resource} (statement {st.get('Sid') or 'without Sid'})"
            conditional = True
    return "has a conditional Deny of s3:PutObject that may apply" if conditional else "does not deny uploads"


def _check_folder(root: Path) -> Check:
    """A local site folder: it, or the nearest folder above it, must be writable (nothing is created)."""
    probe = root.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return Check("site", FAILED, f"{probe} is not a folder (PLOTS_DESTINATION {root})")
    if not os.access(probe, os.W_OK | os.X_OK):
        return Check("site", FAILED, f"{probe} is not writable by this user (PLOTS_DESTINATION {root})")
    made = "" if probe == root.resolve() else ", created by the run"
    return Check("site", OK, f"{root} writable{made}")


# ---- Cost Explorer -------------------------------------------------------------------------------------------------


def cost_explorer_probe(settings: Settings) -> dict:
    """The cheapest GetCostAndUsage: one DAILY day (d), the run's metric, no GroupBy, one page ($0.01)."""
    return {"TimePeriod": {"Start": settings.day.isoformat(), "End": (settings.day + timedelta(days=1)).isoformat()},
            "Granularity": "DAILY", "Metrics": [settings.cost_metric]}


def check_cost_explorer(settings: Settings, *, asked: bool, client=None) -> Check:
    """One GetCostAndUsage when asked (--check-aws); skipped otherwise, since each request costs $0.01."""
    if not asked:
        return Check("cost explorer", SKIPPED, "add --check-aws to make one request ($0.01)")
    if settings.cost_source != "ce":
        return Check("cost explorer", SKIPPED, f"COST_SOURCE is {settings.cost_source}")
    from botocore.exceptions import ClientError

    from .costexplorer import make_ce_client

    client = client or make_ce_client(retry_mode="standard", max_attempts=min(3, settings.ce_max_attempts),
                                      read_timeout=settings.ce_timeout_seconds)
    try:
        client.get_cost_and_usage(**cost_explorer_probe(settings))
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "?"), err.get("Message", "")
        hint = {"AccessDeniedException": "the role needs ce:GetCostAndUsage (docs/iam-policy.json); a new "
                                         "account must enable Cost Explorer once in the Billing console",
                "DataUnavailableException": "Cost Explorer has no data yet (up to 24 h after enabling it)"}.get(code)
        return Check("cost explorer", FAILED, f"Cost Explorer refused: {code}: {message}" + (f" — {hint}" if hint
                                                                                            else ""))
    except Exception as exc:  # no credentials, endpoint unreachable, timeouts
        return Check("cost explorer", FAILED, f"Cost Explorer did not answer: {type(exc).__name__}: {exc}"[:300])
    return Check("cost explorer", OK, f"GetCostAndUsage answered for {settings.day} (1 request, $0.01)")


def check_athena(settings: Settings, *, client=None, glue_client=None) -> list[Check]:
    """COST_SOURCE=athena: the workgroup and the export's table answer (free calls; no query is run)."""
    if settings.cost_source != "athena":
        return []
    from .athena import preflight_problems

    found, wrong = preflight_problems(settings, client=client, glue_client=glue_client)
    return [Check("athena", FAILED, "; ".join(wrong)) if wrong else Check("athena", OK, "; ".join(found))]


# ---- all of them ---------------------------------------------------------------------------------------------------


def run_checks(settings: Settings, engine: Engine, *, check_aws: bool = False,
               out: TextIO | None = None) -> list[Check]:
    """Every check in order, each line printed as soon as it is known; raise PreflightError if one failed."""
    import sys

    out = out or sys.stdout
    steps: Iterable[Callable[[], Check | list[Check]]] = (
        lambda: check_settings(settings),
        lambda: check_database(engine),
        lambda: check_slack(settings),
        lambda: check_site(settings),
        lambda: check_cost_explorer(settings, asked=check_aws),
        lambda: check_athena(settings),
    )
    checks: list[Check] = []
    for step in steps:
        result = step()
        for check in result if isinstance(result, list) else [result]:
            checks.append(check)
            print(check.line(), file=out, flush=True)
    failed = [c.name for c in checks if c.status == FAILED]
    if failed:
        raise PreflightError(f"pre-flight check failed: {', '.join(failed)}")
    return checks
