"""--dry-run's pre-flight: every setting the real run uses is checked and, where set, proven without changing
anything — Slack (local server), S3 and Cost Explorer (moto's server), the database (SQLite / MariaDB)."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from sqlalchemy import create_engine, inspect, text

import runCostReporting
from _util import db, migrate, preflight
from _util.config import ConfigError, Settings, load_settings
from tests.slack_server import Reply, SlackServer

TOKEN = "xoxb-test-4242-SECRETtokenSECRET"
CHANNEL = "C0COSTS"
D = date(2026, 11, 25)


@pytest.fixture
def slack():
    with SlackServer() as server:
        yield server


def slack_settings(server: SlackServer, **kw) -> Settings:
    return Settings(slack_bot_token=TOKEN, slack_channel_id=CHANNEL, slack_api_url=f"{server.url}/api/",
                    dry_run=True, report_date=D, **kw)


def by_name(checks: list[preflight.Check]) -> dict[str, preflight.Check]:
    return {c.name: c for c in checks}


# ---- settings ----------------------------------------------------------------------------------------------------


def test_a_token_without_a_channel_is_a_usage_error_on_a_dry_run_too():
    """The real run would stop with exit 2: the pre-flight must not pass it."""
    with pytest.raises(ConfigError, match="SLACK_CHANNEL_ID is required when SLACK_BOT_TOKEN is set"):
        load_settings(environ={"SLACK_BOT_TOKEN": TOKEN}, args=_args("--dry-run"))


def test_the_demo_ignores_slack_settings():
    s = load_settings(environ={"SLACK_BOT_TOKEN": TOKEN}, args=_args("--demo", "--output-dir", "out"))
    assert s.demo and not s.post_to_slack


def _args(*argv: str):
    import argparse

    from _util.cli import add_common_arguments

    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    return parser.parse_args(list(argv))


# ---- Slack -------------------------------------------------------------------------------------------------------


def test_slack_auth_and_channel_membership_ok(slack):
    checks = by_name(preflight.check_slack(slack_settings(slack)))
    assert checks["slack token"].status == "ok" and "costbot" in checks["slack token"].detail
    assert checks["slack channel"].status == "ok" and CHANNEL in checks["slack channel"].detail
    assert [r.method for r in slack.requests] == ["auth.test", "conversations.info"]
    assert slack.calls("conversations.info")[0].body["channel"] == CHANNEL
    assert slack.posted == []


def test_slack_invalid_auth_fails_and_names_the_setting(slack):
    slack.script("auth.test", Reply(body={"ok": False, "error": "invalid_auth"}))
    checks = by_name(preflight.check_slack(slack_settings(slack)))
    assert checks["slack token"].status == "failed"
    assert "invalid_auth" in checks["slack token"].detail and "SLACK_BOT_TOKEN" in checks["slack token"].detail
    assert checks["slack channel"].status == "skipped"
    assert TOKEN not in str(checks)


def test_slack_channel_not_found_fails(slack):
    slack.script("conversations.info", Reply(body={"ok": False, "error": "channel_not_found"}))
    check = by_name(preflight.check_slack(slack_settings(slack)))["slack channel"]
    assert check.status == "failed" and "channel_not_found" in check.detail and "SLACK_CHANNEL_ID" in check.detail


def test_slack_bot_not_a_member_fails_with_the_invite_command(slack):
    slack.script("conversations.info", Reply(body={"ok": True, "channel": {"id": CHANNEL, "name": "costs",
                                                                             "is_member": False}}))
    check = by_name(preflight.check_slack(slack_settings(slack)))["slack channel"]
    assert check.status == "failed" and "/invite" in check.detail and "not a member" in check.detail


def test_slack_without_the_read_scope_says_which_scope_and_does_not_fail(slack):
    """chat:write is all the real run needs: membership is then unproven (skipped), with the scope to add."""
    slack.script("conversations.info", Reply(body={"ok": False, "error": "missing_scope", "needed": "groups:read",
                                                   "provided": "chat:write"}))
    check = by_name(preflight.check_slack(slack_settings(slack)))["slack channel"]
    assert check.status == "skipped" and "groups:read" in check.detail


def test_slack_not_configured_is_skipped():
    checks = preflight.check_slack(Settings(dry_run=True))
    assert [(c.name, c.status) for c in checks] == [("slack", "skipped")]
    assert "not set" in checks[0].detail


# ---- S3 ----------------------------------------------------------------------------------------------------------


def _s3(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.mark.slow  # moto's server or a whole run
def test_s3_bucket_that_exists_is_ok_and_nothing_is_written(moto_reset, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    client = _s3(moto_reset)
    client.create_bucket(Bucket="cost-site")
    check = preflight.check_site(Settings(plots_destination="s3://cost-site/costs", dry_run=True))
    assert check.status == "ok" and "s3://cost-site/costs" in check.detail
    assert "not proven" in check.detail  # what cannot be proven without writing is said
    assert client.list_objects_v2(Bucket="cost-site").get("KeyCount", 0) == 0


@pytest.mark.slow  # moto's server or a whole run
def test_s3_missing_bucket_fails(moto_reset, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    check = preflight.check_site(Settings(plots_destination="s3://no-such-bucket/costs", dry_run=True))
    assert check.status == "failed" and "no-such-bucket" in check.detail and "does not exist" in check.detail


@pytest.mark.slow  # moto's server
@pytest.mark.parametrize(("statement", "status", "said"), [
    (None, "ok", "bucket policy none"),
    ({"Sid": "NoUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:Put*",
      "Resource": "arn:aws:s3:::cost-site/costs/*"}, "failed", "denies s3:PutObject on arn:aws:s3:::cost-site/costs/"),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::cost-site/*",
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, "ok", "conditional Deny"),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::cost-site/*"},
     "ok", "does not deny uploads"),
])
def test_s3_bucket_policy_that_denies_uploads_fails_the_check(moto_reset, monkeypatch, statement, status, said):
    import json

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    client = _s3(moto_reset)
    client.create_bucket(Bucket="cost-site")
    if statement:
        client.put_bucket_policy(Bucket="cost-site", Policy=json.dumps({"Version": "2012-10-17",
                                                                        "Statement": [statement]}))
    check = preflight.check_site(Settings(plots_destination="s3://cost-site/costs", dry_run=True, report_date=D))
    assert check.status == status and said in check.detail, check.line()


def test_a_local_site_is_checked_without_writing(tmp_path):
    site = tmp_path / "site"
    check = preflight.check_site(Settings(plots_destination=str(site), dry_run=True))
    assert check.name == "site" and check.status == "ok" and not site.exists()


# ---- Cost Explorer -----------------------------------------------------------------------------------------------


def test_cost_explorer_is_skipped_unless_asked():
    check = preflight.check_cost_explorer(Settings(dry_run=True, report_date=D), asked=False)
    assert check.status == "skipped" and "--check-aws" in check.detail


@pytest.mark.slow  # moto's server or a whole run
def test_cost_explorer_one_cheap_call_when_asked(moto_reset, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    check = preflight.check_cost_explorer(Settings(dry_run=True, report_date=D), asked=True)
    assert check.status == "ok", check.detail  # moto answered the probe (its body: the next test)


def test_cost_explorer_request_is_one_day_without_group_by():
    request = preflight.cost_explorer_probe(Settings(cost_metric="AmortizedCost", report_date=D))
    assert request == {"TimePeriod": {"Start": "2026-11-25", "End": "2026-11-26"}, "Granularity": "DAILY",
                       "Metrics": ["AmortizedCost"]}


def test_cost_explorer_refusal_fails(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: connection refused
    check = preflight.check_cost_explorer(Settings(dry_run=True, report_date=D, ce_max_attempts=1), asked=True)
    assert check.status == "failed" and "Cost Explorer" in check.detail


# ---- database ----------------------------------------------------------------------------------------------------


def test_database_fresh_is_ok_and_says_the_run_creates_the_tables(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'costs.sqlite'}")
    check = preflight.check_database(engine)
    assert check.status == "ok" and "no tables yet" in check.detail
    assert inspect(engine).get_table_names() == []  # the check creates nothing


def test_database_with_the_tables_is_ok(db_url):
    engine = db.make_engine(db_url)
    db.init_db(engine)
    check = preflight.check_database(engine)
    assert check.status == "ok" and f"migrated (schema version {migrate.SCHEMA_VERSION})" in check.detail


def test_database_unreachable_fails_without_the_password():
    engine = db.make_engine("mysql+pymysql://cost:s3cretpw@127.0.0.1:1/costs", connect_timeout=2)
    check = preflight.check_database(engine)
    assert check.status == "failed" and "s3cretpw" not in check.detail and "127.0.0.1:1" in check.detail


def test_database_created_before_versioning_is_upgraded_by_the_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'costs.sqlite'}"
    engine = db.make_engine(url)
    db.metadata.tables["daily_cost"].create(create_engine(url))
    check = preflight.check_database(engine)
    assert check.status == "ok" and "schema version 0, upgraded to" in check.detail
    assert migrate.current_version(engine) == 0  # the check changed nothing


def test_database_with_a_newer_schema_fails_as_the_run_would(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'costs.sqlite'}")
    db.init_db(engine)
    with engine.begin() as conn:
        conn.execute(db.schema_version.update().values(version=migrate.SCHEMA_VERSION + 1))
    check = preflight.check_database(engine)
    assert check.status == "failed" and "newer than this code's" in check.detail


@pytest.mark.mysql
def test_database_behind_with_a_user_that_may_not_upgrade_it_fails_naming_the_command(mysql_url):
    import uuid

    admin = db.make_engine(mysql_url)
    user, name = f"costs_ro_{uuid.uuid4().hex[:8]}", admin.url.database
    try:
        with admin.begin() as conn:
            conn.execute(text("CREATE TABLE daily_cost (usage_date DATE NOT NULL, service VARCHAR(255) NOT NULL, "
                              "amount DECIMAL(12,2) NOT NULL, PRIMARY KEY (usage_date, service))"))
            conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'"))
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'%'"))
        limited = db.make_engine(admin.url.set(username=user, password=f"pw-{user}")
                                 .render_as_string(hide_password=False))
        try:
            check = preflight.check_database(limited)
        finally:
            limited.dispose()
        assert check.status == "failed", check.line()
        assert "lacks CREATE, ALTER, INDEX, DROP" in check.detail and "python -m _util.migrate" in check.detail
        assert f"pw-{user}" not in check.line()
        assert preflight.check_database(admin).status == "ok"  # root may: the run upgrades it
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        admin.dispose()


# ---- the whole dry run -------------------------------------------------------------------------------------------


@pytest.fixture
def cwd(tmp_path, monkeypatch, restore_logging):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow  # moto's server or a whole run
def test_dry_run_prints_one_line_per_check_and_posts_nothing(cwd, slack, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    monkeypatch.setenv("SLACK_API_URL", f"{slack.url}/api/")
    code = runCostReporting.main(["--dry-run", "--source", "sample", "--date", "2026-11-25"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("check ")]
    names = [line.split(":")[0] for line in lines]
    assert names == ["check settings", "check database", "check slack token", "check slack channel",
                     "check site", "check cost explorer"]
    assert "check cost explorer: skipped" in out
    assert slack.posted == [] and TOKEN not in out


@pytest.mark.slow  # moto's server or a whole run
def test_dry_run_fails_with_exit_1_when_a_configured_check_fails(cwd, slack, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    monkeypatch.setenv("SLACK_API_URL", f"{slack.url}/api/")
    slack.script("auth.test", Reply(body={"ok": False, "error": "invalid_auth"}))
    code = runCostReporting.main(["--dry-run", "--source", "sample", "--date", "2026-11-25"])
    captured = capsys.readouterr()
    assert code == 1
    assert "check slack token: failed: invalid_auth" in captured.out
    assert captured.err.strip().splitlines()[-1] == "error: pre-flight check failed: slack token"
    assert slack.posted == [] and not list(cwd.glob("output/2026-11-25/report.json"))  # stopped before the run


def test_dry_run_with_a_token_but_no_channel_is_exit_2(cwd, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    assert runCostReporting.main(["--dry-run", "--source", "sample", "--date", "2026-11-25"]) == 2
    assert "SLACK_CHANNEL_ID is required" in capsys.readouterr().err


def test_check_aws_needs_dry_run(cwd, capsys):
    assert runCostReporting.main(["--check-aws", "--source", "sample"]) == 2
    assert "--check-aws" in capsys.readouterr().err


@pytest.mark.slow  # moto's server or a whole run
def test_the_demo_runs_no_pre_flight(cwd, capsys):
    assert runCostReporting.main(["--demo"]) == 0
    assert "check " not in capsys.readouterr().out
