"""The command line and who hears about a failure: one-line usage errors, -q for cron, the Slack failure notice,
HEARTBEAT_URL, and the README's cron recipe on a full disk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import procAmzAlerts
import procAmzData
import procPlotting
import procSummaries
import runCostReporting
from _util.runlock import EXIT_LOCKED, RunLock
from tests.blackhole import Blackhole
from tests.cli_helpers import error_lines, fill_disk, run_cli
from tests.slack_server import SlackServer

ROOT = Path(__file__).resolve().parents[1]
D = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
TOKEN = "xoxb-4242-4242-NOTICEtokenVALUE"
CHANNEL = "C0NOTICE1"
BROKEN_DB = "sqlite:////dev/null/no/costs.sqlite"  # a runtime failure (exit 1) before any Slack call

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch):
    for name in ("HEARTBEAT_URL", "RUN_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOOKBACK_DAYS", "40")
    monkeypatch.setenv("MPLBACKEND", "Agg")


# ---- usage errors and -q ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("main", [runCostReporting.main, procAmzData.main, procAmzAlerts.main, procPlotting.main,
                                  procSummaries.main])
@pytest.mark.parametrize(("argv", "message"), [
    (["--bogus"], "error: unrecognized arguments: --bogus (see --help)"),
    (["--date", "2026-13-01"], "error: argument --date: --date must be YYYY-MM-DD, got '2026-13-01' (see --help)"),
    (["--source", "nope"], "error: argument --source: invalid choice: 'nope' (choose from 'ce', 'sample', 'file') "
                           "(see --help)"),
])
def test_a_usage_error_is_one_error_line_and_exit_2(capsys, main, argv, message):
    code, out, err = run_cli(capsys, main, *argv)
    assert code == 2
    assert err.splitlines() == [message.replace("'ce', 'sample', 'file'", _choices(err))]
    assert out == ""


def _choices(err: str) -> str:
    found = re.search(r"choose from (.*)\) \(see", err)
    return found.group(1) if found else "'ce', 'sample', 'file'"


@pytest.mark.slow
def test_quiet_run_prints_nothing_on_stderr_and_keeps_info_in_the_log(capsys, tmp_path, quick_charts):
    code, out, err = run_cli(capsys, runCostReporting.main, "--source", "sample", "--date", D, "-q",
                             "--db-url", f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert code == 0, err
    assert err == ""
    assert "stage fetch+store" in (tmp_path / "output" / "cost_reporting.log").read_text()


# ---- Slack failure notice ---------------------------------------------------------------------------------------


@pytest.fixture
def slack(monkeypatch):
    with SlackServer() as server:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
        monkeypatch.setenv("SLACK_API_URL", server.url + "/api/")
        yield server


def test_a_failed_real_run_posts_one_line_failure_notice(capsys, slack):
    code, _, err = run_cli(capsys, runCostReporting.main, "--source", "sample", "--date", D, "--db-url", BROKEN_DB)
    assert code == 1
    [line] = error_lines(err)
    assert err.rstrip().splitlines()[-1] == line
    [notice] = slack.calls("chat.postMessage")
    assert notice.body["channel"] == CHANNEL
    assert notice.body["text"] == f"AWS cost report for {D} failed: {line.removeprefix('error: ')}"
    assert "blocks" not in notice.body
    assert "NOTICEtokenVALUE" not in notice.body["text"] + err


@pytest.mark.parametrize("case", ["dry run", "demo", "usage error", "lock busy"])
def test_no_failure_notice_for_dry_runs_usage_errors_or_a_busy_lock(capsys, slack, monkeypatch, tmp_path, case):
    argv = ["--source", "sample", "--date", D, "--db-url", BROKEN_DB]
    expected = 1
    if case == "dry run":
        argv.append("--dry-run")
    elif case == "demo":
        argv = ["--demo", "--db-url", BROKEN_DB]
    elif case == "usage error":
        monkeypatch.setenv("RUN_TIMEOUT_SECONDS", "0")
        expected = 2
    code = None
    if case == "lock busy":
        with RunLock(tmp_path / "output" / "cost_reporting.lock"):
            code, _, err = run_cli(capsys, runCostReporting.main, *argv)
        expected = EXIT_LOCKED
    else:
        code, _, err = run_cli(capsys, runCostReporting.main, *argv)
    assert code == expected, err
    assert slack.requests == []


@pytest.mark.slow
def test_a_slack_that_never_answers_delays_the_failure_by_one_short_attempt(capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    with Blackhole() as hole:
        monkeypatch.setenv("SLACK_API_URL", hole.url + "/api/")
        code, _, err = run_cli(capsys, runCostReporting.main, "--source", "sample", "--date", D, "--db-url",
                               BROKEN_DB)
    assert code == 1
    assert hole.connections == 1  # one attempt, no retries
    lines = err.rstrip().splitlines()
    assert [lines[-1]] == error_lines(err) and "cannot create folder" in lines[-1]
    assert any("Slack failure notice not posted" in line and "WARNING" in line for line in lines[:-1])
    assert "NOTICEtokenVALUE" not in err


# ---- HEARTBEAT_URL ----------------------------------------------------------------------------------------------


@pytest.fixture
def monitor(monkeypatch):
    """A cron monitor stand-in recording (method, path, body)."""
    pings: list[tuple[str, str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            length = int(self.headers.get("Content-Length") or 0)
            pings.append((self.command, self.path, self.rfile.read(length).decode() if length else ""))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_POST = do_GET

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("HEARTBEAT_URL", f"http://127.0.0.1:{httpd.server_address[1]}/ping/3f1c-check")
    yield pings
    httpd.shutdown()
    httpd.server_close()


def test_heartbeat_on_success_is_a_get_of_the_url(capsys, monitor, tmp_path, quick_charts):
    code, _, err = run_cli(capsys, runCostReporting.main, "--source", "sample", "--date", D,
                           "--db-url", f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert code == 0, err
    assert monitor == [("GET", "/ping/3f1c-check", "")]
    assert "3f1c-check" not in (tmp_path / "output" / "cost_reporting.log").read_text()


def test_heartbeat_on_failure_posts_the_error_line_to_url_fail(capsys, monitor):
    code, _, err = run_cli(capsys, runCostReporting.main, "--source", "sample", "--date", D, "--db-url", BROKEN_DB)
    assert code == 1
    [line] = error_lines(err)
    assert monitor == [("POST", "/ping/3f1c-check/fail", line.removeprefix("error: "))]


def test_no_heartbeat_on_a_dry_run(capsys, monitor, tmp_path, quick_charts):
    code, _, err = run_cli(capsys, runCostReporting.main, "--source", "sample", "--date", D, "--dry-run",
                           "--db-url", f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert code == 0, err
    assert monitor == []


@pytest.mark.slow
def test_a_heartbeat_that_fails_is_a_warning_not_a_failure(capsys, monkeypatch, tmp_path, quick_charts):
    with Blackhole() as hole:
        port = hole.port
    monkeypatch.setenv("HEARTBEAT_URL", f"http://127.0.0.1:{port}/ping/secret-id")  # closed port: refused
    code, _, err = run_cli(capsys, runCostReporting.main, "--source", "sample", "--date", D,
                           "--db-url", f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert code == 0, err
    [warning] = [line for line in err.splitlines() if "heartbeat ping" in line]
    assert "WARNING" in warning and "secret-id" not in warning


# ---- the README's cron recipe on a full disk --------------------------------------------------------------------


def readme_cron_command() -> str:
    """The crontab line of README "Running it unattended (EC2 + cron)", without its schedule fields."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running it unattended"):]
    [line] = [ln.strip() for ln in section.splitlines() if re.match(r"\s*0 7 \* \* \* ", ln)][:1]
    return line.split(None, 5)[5]


@pytest.fixture
def full_tmpfs(tmpfs):
    """A 1 MiB tmpfs holding an empty output/, filled to the last byte."""
    mnt = tmpfs("full", "1m")
    (mnt / "output").mkdir()
    fill_disk(mnt)
    return mnt


@pytest.mark.slow
def test_readme_cron_recipe_on_a_full_disk_exits_non_zero_with_an_error_line_and_a_notice(tmp_path, full_tmpfs):
    command = readme_cron_command()
    assert command.startswith("cd /opt/aws_cost_tracking && "), command
    # The install folder is the full disk (OUTPUT_DIR defaults to its output/); the code and Python are this one's.
    command = command.replace("cd /opt/aws_cost_tracking", f"cd {full_tmpfs}").replace(
        ".venv/bin/python runCostReporting.py", f"{sys.executable} {ROOT / 'runCostReporting.py'}")
    with SlackServer() as server:
        env = {k: v for k, v in os.environ.items() if k not in ("HEARTBEAT_URL", "DATABASE_URL", "OUTPUT_DIR")}
        env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'costs.sqlite'}", PYTHONPATH=str(ROOT),
                   COST_SOURCE="sample", LOOKBACK_DAYS="40", MPLBACKEND="Agg", SLACK_BOT_TOKEN=TOKEN,
                   SLACK_CHANNEL_ID=CHANNEL, SLACK_API_URL=server.url + "/api/")
        # What cron does: run the line with sh, collect what it prints (the mail), look at the status.
        done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)
        mail = done.stdout + done.stderr
        assert done.returncode != 0, mail
        assert mail.strip(), "cron would mail nothing"
        assert "--- Logging error ---" not in mail and "Traceback" not in mail, mail
        assert done.stderr.rstrip().splitlines()[-1].startswith("error: "), mail
        assert done.stdout == ""
        *report, notice = server.calls("chat.postMessage")
        assert notice.body["text"].startswith(f"AWS cost report for {D} failed: ")
        assert notice.body["text"].endswith(done.stderr.rstrip().splitlines()[-1].removeprefix("error: "))
        # The report itself does not depend on the disk: it went out before the files that could not be written.
        assert report and not any(r.body["text"].startswith("AWS cost report for") for r in report)
