"""Faults and security of the daily job: a run SIGKILLed mid-upsert, two runs at once, a stale lock, secrets never
written anywhere, `.env` permissions, hostile service names end to end, progress on a terminal."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import warnings
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import markupsafe
import pytest
from sqlalchemy import select as sql_select
from sqlalchemy import text
from sqlalchemy.engine import make_url

import runCostReporting
from _util import db
from _util.config import load_settings
from _util.costexplorer import CostQuery, fetch
from _util.logs import redact
from _util.runlock import EXIT_LOCKED, LockBusy, RunLock
from _util.sample_data import SampleCostExplorer
from _util.slack_message import escape
from tests.cli_helpers import error_lines
from tests.slack_server import Reply, SlackServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
JOB = str(ROOT / "runCostReporting.py")
TODAY = datetime.now(timezone.utc).date()
D = TODAY - timedelta(days=1)
LOOKBACK = 40  # short windows keep every run to a couple of seconds
START = D - timedelta(days=LOOKBACK)
CHANNEL = "C0FAULTS1"
TOKEN = "xoxb-4242-4242-SECRETtokenVALUE"
TOKEN_MARK = "SECRETtokenVALUE"
PASSWORD = "pw@SECRETpwVALUE"  # URL-encoded in DATABASE_URL as pw%40SECRETpwVALUE
PASSWORD_URL = "pw%40SECRETpwVALUE"
PASSWORD_MARK = "SECRETpwVALUE"


# ---- helpers ----------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, restore_logging):
    """Run in an empty folder (no ./.env) and give the logging set-up back after in-process runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOKBACK_DAYS", str(LOOKBACK))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.fixture
def children():
    """Subprocesses a test starts; any still alive at the end (a failed test) is killed."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def slack():
    with SlackServer() as server:
        yield server


def job_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a job subprocess: everything under tmp_path, the repository importable."""
    env = dict(os.environ)
    env.update(OUTPUT_DIR=str(tmp_path / "out"), LOCK_FILE=str(tmp_path / "run.lock"),
               LOG_FILE=str(tmp_path / "logs" / "job.log"), PLOTS_DESTINATION=str(tmp_path / "site"),
               LOOKBACK_DAYS=str(LOOKBACK), MPLBACKEND="Agg", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def slack_env(server: SlackServer, token: str = TOKEN) -> dict[str, str]:
    return {"SLACK_API_URL": server.url + "/api/", "SLACK_BOT_TOKEN": token, "SLACK_CHANNEL_ID": CHANNEL}


def run_job(tmp_path: Path, *argv: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([PY, JOB, *argv], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout)


def dump(url: str) -> tuple:
    """Every row of every table, every column, ordered by key."""
    engine = db.make_engine(url)
    try:
        db.init_db(engine)
        with engine.connect() as conn:
            return tuple([tuple(r) for r in conn.execute(sql_select(t).order_by(*t.primary_key.columns)).all()]
                         for t in db.metadata.sorted_tables)
    finally:
        engine.dispose()


def runs(url: str) -> list:
    """The run table, oldest first (rows with attribute access)."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sql_select(db.run).order_by(db.run.c.id)).all()
    finally:
        engine.dispose()


def sample_costs(start: date, end: date):
    """What the built-in sample Cost Explorer gives for [start, end] when d = D."""
    parsed, _ = fetch(SampleCostExplorer(anchor=D, today=TODAY), CostQuery(start, end))
    return parsed


def wait_for_line(proc: subprocess.Popen, marker: str, timeout: float = 60) -> str:
    """Read proc's stdout until a line starting with marker (fail on exit or timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(marker):
                return line
            if not line and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
    proc.kill()
    out, err = proc.communicate(timeout=10)
    pytest.fail(f"child never printed {marker!r} (exit {proc.returncode}): {out} {err}")


def sigkill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


# ---- 1. SIGKILL in the middle of the upsert ----------------------------------------------------------------------

CHILD_UPSERT = r"""
import dataclasses, re, sys, time
from datetime import date
from sqlalchemy import event
from _util import db
from _util.costexplorer import CostQuery, fetch
from _util.sample_data import SampleCostExplorer

url, d, start, today = sys.argv[1], *(date.fromisoformat(x) for x in sys.argv[2:5])
parsed, _ = fetch(SampleCostExplorer(anchor=d, today=today), CostQuery(start, d))
rows = [dataclasses.replace(r, amount=r.amount * 2) for r in parsed.sorted_rows()]  # visibly different data
engine = db.make_engine(url)
db.init_db(engine)
batches = 0

@event.listens_for(engine, "after_cursor_execute")  # every statement, whether from Core or exec_driver_sql
def pause(conn, cursor, statement, parameters, context, executemany):
    global batches
    if re.match(r"\s*INSERT\s+INTO\s+[`\"]?daily_cost\b", statement, re.IGNORECASE):
        batches += 1
        if batches == 2:  # two batches of the new rows are written, inside the open transaction
            print("PAUSED", len(rows), flush=True)
            time.sleep(300)

db.store_costs(engine, rows, {day: False for day in parsed.days}, batch=100)
print("COMMITTED", flush=True)
"""


def test_sigkill_mid_upsert_leaves_database_as_before_and_next_run_completes(db_url, tmp_path, children):
    # Before: the first 25 days of the window stored (final), and a finished run record.
    engine = db.make_engine(db_url)
    db.init_db(engine)
    prior = sample_costs(START, D - timedelta(days=16))
    db.store_costs(engine, prior.sorted_rows(), {day: False for day in prior.days})
    db.finish_run(engine, db.start_run(engine, D - timedelta(days=16)), status="ok", rows_upserted=len(prior.rows))
    engine.dispose()
    before = dump(db_url)
    assert len(before[0]) > 0 and len(before[1]) > 0

    child = subprocess.Popen([PY, "-c", CHILD_UPSERT, db_url, D.isoformat(), START.isoformat(), TODAY.isoformat()],
                             cwd=tmp_path, env=job_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    children.append(child)
    line = wait_for_line(child, "PAUSED")
    assert int(line.split()[1]) > 200  # more rows than the two batches written
    sigkill(child)
    if db_url.startswith("sqlite"):  # killed inside the transaction: SQLite's journal (or WAL) is still there
        path = make_url(db_url).database
        assert Path(path + "-journal").exists() or Path(path + "-wal").exists()

    assert dump(db_url) == before  # not one row of the killed upsert, nothing deleted, the run table untouched

    code = runCostReporting.main(["--source", "sample", "--date", D.isoformat(), "--db-url", db_url,
                                  "--output-dir", str(tmp_path / "out"), "--dry-run"])
    assert code == 0
    expected: dict[date, Decimal] = {}
    for row in sample_costs(START, D).rows.values():
        expected[row.usage_date] = expected.get(row.usage_date, Decimal(0)) + row.amount
    engine = db.make_engine(db_url)
    try:
        assert db.daily_sums(engine, START, D) == expected  # exact, to the last stored digit
        assert set(db.known_days(engine, START, D)) == {START + timedelta(days=i) for i in range(LOOKBACK + 1)}
    finally:
        engine.dispose()
    assert [r.status for r in runs(db_url)] == ["ok", "ok"]
    report = json.loads((tmp_path / "out" / D.isoformat() / "report.json").read_text())
    assert report["daily_totals"][-1]["cost"] == pytest.approx(float(expected[D]), abs=1e-6)


# ---- 2. two runs at once, stale lock ----------------------------------------------------------------------------


def test_two_runs_at_once_give_one_report_and_one_slack_post(tmp_path, slack, sqlite_url, children):
    # The first post is answered after 2 s, so the winner holds the lock well after the loser tried it.
    slack.script("chat.postMessage", Reply(delay_s=2.0))
    env = job_env(tmp_path, DATABASE_URL=sqlite_url, **slack_env(slack))
    argv = [PY, JOB, "--source", "sample", "--date", D.isoformat()]
    procs, outs = [], []
    for i in range(2):
        out, err = open(tmp_path / f"run{i}.out", "w"), open(tmp_path / f"run{i}.err", "w")
        outs.append((out, err))
        procs.append(subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=out, stderr=err))
    children.extend(procs)
    started = time.monotonic()
    finished: dict[int, float] = {}
    still_running_when_first_ended = None
    while len(finished) < 2 and time.monotonic() - started < 120:
        for i, proc in enumerate(procs):
            if i not in finished and proc.poll() is not None:
                finished[i] = time.monotonic() - started
                if still_running_when_first_ended is None:
                    still_running_when_first_ended = procs[1 - i].poll() is None
        time.sleep(0.02)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for out, err in outs:
        out.close()
        err.close()
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, EXIT_LOCKED], [(tmp_path / f"run{i}.err").read_text() for i in range(2)]
    loser, winner = codes.index(EXIT_LOCKED), codes.index(0)
    assert finished[loser] < finished[winner] and still_running_when_first_ended  # it gave up at once
    loser_err = (tmp_path / f"run{loser}.err").read_text()
    (line,) = error_lines(loser_err)
    assert "another run" in line and "lock" in line and str(tmp_path / "run.lock") in line
    assert loser_err.strip() == line and (tmp_path / f"run{loser}.out").read_text() == ""

    tops = [r for r in slack.calls("chat.postMessage") if "thread_ts" not in r.body]
    assert len(tops) == 1
    payloads = json.loads((tmp_path / "out" / D.isoformat() / "slack_message.json").read_text())
    assert len(slack.posted) == len(payloads)
    report = json.loads((tmp_path / "out" / D.isoformat() / "report.json").read_text())
    assert report["slack"]["posted"] == len(payloads)
    assert [r.status for r in runs(sqlite_url)] == ["ok"]  # the loser did not even record a run
    engine = db.make_engine(sqlite_url)
    try:
        assert len(db.slack_posts(engine, D, CHANNEL)) == len(payloads)
    finally:
        engine.dispose()


CHILD_HANG = r"""
import sys, time
import runCostReporting

def hang(*args, **kwargs):
    print("RUNNING", flush=True)
    time.sleep(300)

runCostReporting.run_all = hang
sys.exit(runCostReporting.main(sys.argv[1:]))
"""


def test_lock_of_a_sigkilled_run_does_not_block_the_next_run(tmp_path, sqlite_url, monkeypatch, children):
    env = job_env(tmp_path, DATABASE_URL=sqlite_url)
    child = subprocess.Popen([PY, "-c", CHILD_HANG, "--source", "sample", "--date", D.isoformat(), "--dry-run"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children.append(child)
    wait_for_line(child, "RUNNING")
    lock = tmp_path / "run.lock"
    with pytest.raises(LockBusy, match=rf"pid {child.pid}\b"):  # it really holds the lock now
        RunLock(lock).__enter__()
    sigkill(child)
    assert lock.read_text().strip() == str(child.pid)  # the lock file stays, naming a dead process

    for name in ("OUTPUT_DIR", "LOCK_FILE", "LOG_FILE", "PLOTS_DESTINATION"):
        monkeypatch.setenv(name, env[name])
    code = runCostReporting.main(["--source", "sample", "--date", D.isoformat(), "--db-url", sqlite_url,
                                  "--dry-run"])
    assert code == 0
    assert (tmp_path / "out" / D.isoformat() / "report.json").is_file()
    assert [r.status for r in runs(sqlite_url)] == ["killed", "ok"]  # the next run recognised the dead one


CHILD_CHART_HANG = r"""
import sys, time
import runCostReporting
from _util import charts

def hang(job):
    print("RENDERING", flush=True)
    time.sleep(300)

charts._render_job = hang
sys.exit(runCostReporting.main(sys.argv[1:]))
"""


def test_a_run_killed_while_its_chart_workers_run_does_not_leave_the_lock_held(tmp_path, sqlite_url, children):
    """Chart workers are forked: they must neither keep the run's lock nor outlive the run."""
    env = job_env(tmp_path, DATABASE_URL=sqlite_url)
    child = subprocess.Popen([PY, "-c", CHILD_CHART_HANG, "--source", "sample", "--date", D.isoformat(), "--dry-run"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children.append(child)
    wait_for_line(child, "RENDERING")
    workers = [int(p) for p in Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split()]
    assert workers  # the pool is running
    sigkill(child)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() and "zombie" not in Path(f"/proc/{w}/status").read_text()
              for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{w}").exists() and "zombie" not in Path(f"/proc/{w}/status").read_text()
                   for w in workers), "chart workers outlived the killed run"
    with RunLock(tmp_path / "run.lock"):  # free at once for the next run
        pass


def test_runlock_is_exclusive_and_released():
    path = Path("locks") / "x.lock"
    with RunLock(path):
        assert path.read_text().strip() == str(os.getpid())
        with pytest.raises(LockBusy, match="another run is in progress"):
            RunLock(path).__enter__()
    with RunLock(path):  # released on exit
        pass


def test_runlock_on_a_full_disk_still_locks_and_says_the_pid_is_missing(monkeypatch, caplog):
    import errno

    path = Path("locks") / "full.lock"

    def no_space(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", no_space)
    with RunLock(path):  # the run goes on: its message must not depend on local files (issue 10, item 4)
        with pytest.raises(LockBusy):
            RunLock(path).__enter__()
    assert f"cannot write the pid into the lock file {path} (No space left on device)" in caplog.text


# ---- 3. secrets -------------------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_no_secret(where: str, data: str | bytes) -> None:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    for mark in (TOKEN_MARK, PASSWORD_MARK, "SECRETpw"):
        assert mark.encode() not in raw, f"secret {mark!r} found in {where}"


def scan_tree(root: Path) -> int:
    """Every file under root (outputs, logs, site, SQLite files): no secret; returns how many were scanned."""
    n = 0
    for path in root.rglob("*"):
        if path.is_file():
            assert_no_secret(str(path), path.read_bytes())
            n += 1
    return n


def scan_db(url: str) -> list:
    """Every row of every table: no secret; returns the run table."""
    assert_no_secret(f"database {make_url(url).render_as_string()}", repr(dump(url)))
    return runs(url)


def test_redact_covers_tokens_url_passwords_and_given_secrets():
    line = (f"token {TOKEN} url mysql+pymysql://costs:{PASSWORD_URL}@db:3306/x pw {PASSWORD} "
            "xoxp-1-2-abc xapp-1-A-b")
    clean = redact(line, [TOKEN, PASSWORD])
    assert TOKEN_MARK not in clean and PASSWORD_MARK not in clean
    assert "xoxp-1" not in clean and "xapp-1" not in clean
    assert "mysql+pymysql://costs:***@db:3306/x" in clean


def test_secrets_never_printed_logged_or_written(tmp_path, slack, sqlite_url):
    env = job_env(tmp_path, DATABASE_URL=sqlite_url, **slack_env(slack))
    argv = ["--source", "sample", "--date", D.isoformat(), "-vvv"]

    ok = run_job(tmp_path, *argv, env=env)  # a full run, posted, at the most verbose level
    assert ok.returncode == 0, ok.stderr
    assert slack.calls("chat.postMessage")[0].headers["Authorization"] == f"Bearer {TOKEN}"  # the token was used
    assert "DEBUG" in ok.stderr  # library debug output included

    # The answer echoes the token (as a proxy or an error page might): the -vvv log of slack_sdk shows it.
    slack.script("chat.postMessage", Reply(200, {"ok": False, "error": "invalid_auth", "echo": f"Bearer {TOKEN}"}))
    bad_auth = run_job(tmp_path, *argv, "--force", env=env)
    assert bad_auth.returncode == 1
    (line,) = error_lines(bad_auth.stderr)
    assert "invalid_auth" in line and "SLACK_BOT_TOKEN" in line

    mysql = f"mysql+pymysql://costs:{PASSWORD_URL}@127.0.0.1:{closed_port()}/costs"
    no_db = run_job(tmp_path, *argv, "--db-url", mysql, env=env)
    assert no_db.returncode == 1
    (line,) = error_lines(no_db.stderr)
    assert "costs:***@127.0.0.1" in line

    for name, done in (("ok", ok), ("invalid_auth", bad_auth), ("no database", no_db)):
        assert_no_secret(f"stdout of the {name} run", done.stdout)
        assert_no_secret(f"stderr of the {name} run", done.stderr)
    day = tmp_path / "out" / D.isoformat()
    for name in ("report.json", "slack_message.json", "slack_preview.html"):
        assert (day / name).is_file()
    assert (tmp_path / "logs" / "job.log").stat().st_size > 0
    assert scan_tree(tmp_path) > 10
    recorded = scan_db(sqlite_url)
    assert [r.status for r in recorded] == ["ok", "failed"]
    assert "invalid_auth" in recorded[1].error


@pytest.mark.mysql
def test_secrets_never_written_with_a_mariadb_password(tmp_path, slack, mysql_url):
    """A MariaDB user with a password: a run that fails at Slack, then a wrong password; the password (and the
    token) appear nowhere — outputs, logs, stderr, the run table."""
    url = make_url(mysql_url)
    users = ("'cost_faults_t'@'localhost'", "'cost_faults_t'@'127.0.0.1'")
    admin = db.make_engine(mysql_url)
    try:
        with admin.begin() as conn:
            for user in users:
                conn.execute(text(f"DROP USER IF EXISTS {user}"))
                conn.execute(text(f"CREATE USER {user} IDENTIFIED BY :pw"), {"pw": PASSWORD})
                conn.execute(text(f"GRANT ALL PRIVILEGES ON `{url.database}`.* TO {user}"))
    except Exception as exc:  # pragma: no cover - a server without CREATE USER rights
        admin.dispose()
        pytest.skip(f"cannot create a MariaDB user: {exc}")
    try:
        secret_url = url.set(username="cost_faults_t", password=PASSWORD).render_as_string(hide_password=False)
        assert PASSWORD_URL in secret_url
        env = job_env(tmp_path, DATABASE_URL=secret_url, **slack_env(slack))
        slack.script("chat.postMessage", Reply(200, {"ok": False, "error": "invalid_auth"}))
        failed = run_job(tmp_path, "--source", "sample", "--date", D.isoformat(), "-vvv", env=env)
        assert failed.returncode == 1, failed.stderr
        assert "invalid_auth" in error_lines(failed.stderr)[0]
        wrong = url.set(username="cost_faults_t", password="wrong-SECRETpwVALUE").render_as_string(
            hide_password=False)
        denied = run_job(tmp_path, "--source", "sample", "--date", D.isoformat(), "-vvv", "--db-url", wrong,
                         env=env)
        assert denied.returncode == 1
        (line,) = error_lines(denied.stderr)
        assert "Access denied" in line and "cost_faults_t:***@" in line
        for name, done in (("invalid_auth", failed), ("wrong password", denied)):
            assert_no_secret(f"stdout of the {name} run", done.stdout)
            assert_no_secret(f"stderr of the {name} run", done.stderr)
        report = json.loads((tmp_path / "out" / D.isoformat() / "report.json").read_text())
        assert report["settings"]["database_url"].startswith("mysql+pymysql://cost_faults_t:***@")
        assert scan_tree(tmp_path) > 5
        recorded = scan_db(mysql_url)
        assert [r.status for r in recorded] == ["failed"] and "invalid_auth" in recorded[0].error
    finally:
        with admin.begin() as conn:
            for user in users:
                conn.execute(text(f"DROP USER IF EXISTS {user}"))
        admin.dispose()


# ---- 4. .env permissions ----------------------------------------------------------------------------------------


def test_env_file_readable_by_others_warns_with_the_fix(tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text("LOOKBACK_DAYS=60\n")
    env_file.chmod(0o644)
    with pytest.warns(UserWarning) as caught:
        settings = load_settings(argparse.Namespace(env_file=env_file), environ={})
    assert settings.lookback_days == 60
    (w,) = [w for w in caught if "readable by other users" in str(w.message)]
    assert str(env_file) in str(w.message) and f"chmod 600 {env_file}" in str(w.message)

    env_file.chmod(0o600)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_settings(argparse.Namespace(env_file=env_file), environ={})
    assert not [w for w in caught if "readable" in str(w.message)]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_job_warns_on_stderr_about_a_readable_dot_env(tmp_path, mode):
    """The real job with ./.env: the warning (naming the file and `chmod 600`) reaches stderr before anything
    else; the lock is held here so the job stops right after loading its settings."""
    dot_env = tmp_path / ".env"
    dot_env.write_text(f"SLACK_CHANNEL_ID={CHANNEL}\nLOCK_FILE={tmp_path / 'held.lock'}\n")
    dot_env.chmod(mode)
    env = job_env(tmp_path)
    del env["LOCK_FILE"]
    with RunLock(tmp_path / "held.lock"):
        done = run_job(tmp_path, "--source", "sample", "--date", D.isoformat(), env=env)
    assert done.returncode == EXIT_LOCKED
    if mode & 0o044:
        assert ".env is readable by other users" in done.stderr
        assert "chmod 600 .env" in done.stderr
    else:
        assert "readable" not in done.stderr and "chmod" not in done.stderr


# ---- 5. hostile service names -----------------------------------------------------------------------------------

HOSTILE = ["<script>alert(1)</script>", "../../etc/passwd", "<!channel> & co", "Ünïcødé 東京 🚀 <@U123>",
           "Robert'); DROP TABLE daily_cost;--"]
CALM = "Amazon Elastic Compute Cloud - Compute"


def hostile_response(path: Path) -> None:
    """A saved GetCostAndUsage response: LOOKBACK + 1 days, every hostile service steady, then a spike on D."""
    results = []
    for i in range(LOOKBACK + 1):
        day = START + timedelta(days=i)
        groups = [{"Keys": [CALM], "Metrics": {"UnblendedCost": {"Amount": f"{400 + (i * 7) % 5:.4f}",
                                                                 "Unit": "USD"}}}]
        for k, name in enumerate(HOSTILE):
            amount = 250.0 + k if day == D else 20.0 + k + ((i * (k + 3)) % 4) * 0.25
            groups.append({"Keys": [name], "Metrics": {"UnblendedCost": {"Amount": f"{amount:.4f}", "Unit": "USD"}}})
        results.append({"TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                        "Total": {}, "Groups": groups, "Estimated": False})
    path.write_text(json.dumps({"GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
                                "ResultsByTime": results}, ensure_ascii=False), encoding="utf-8")


def strings(obj) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def test_hostile_service_names_are_escaped_contained_and_stored_exactly(db_url, tmp_path, slack, moto_reset,
                                                                         monkeypatch):
    import boto3

    bucket = "hostile-site"
    boto3.client("s3", endpoint_url=moto_reset).create_bucket(Bucket=bucket)
    data = tmp_path / "ce.json"
    hostile_response(data)
    for key, value in {"AWS_ENDPOINT_URL": moto_reset, "PLOTS_DESTINATION": f"s3://{bucket}/costs",
                       "PLOT_BASE_URL": f"{moto_reset}/{bucket}", **slack_env(slack)}.items():
        monkeypatch.setenv(key, value)
    passwd = Path("/etc/passwd").stat()
    common = ["--source", "file", "--input", str(data), "--date", D.isoformat(), "--db-url", db_url]
    assert runCostReporting.main([*common, "--output-dir", str(tmp_path / "out")]) == 0
    local_site = db_url.startswith("sqlite")  # the site does not depend on the database: check it once
    if local_site:  # the same day as a dry run: the site goes to a local folder under OUTPUT_DIR
        assert runCostReporting.main([*common, "--output-dir", str(tmp_path / "dry"), "--dry-run"]) == 0

    report = json.loads((tmp_path / "out" / D.isoformat() / "report.json").read_text(encoding="utf-8"))
    assert {s["service"] for s in report["spikes"] if s["direction"] == "up"} >= set(HOSTILE)

    # SQL: bound parameters store every name exactly; no statement was injected.
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            names = set(conn.execute(sql_select(db.daily_cost.c.service).distinct()).scalars())
            n_rows = conn.execute(text("SELECT COUNT(*) FROM daily_cost")).scalar()
    finally:
        engine.dispose()
    assert names == {CALM, *HOSTILE} and n_rows == (LOOKBACK + 1) * (len(HOSTILE) + 1)

    # S3: every key inside the prefix, chart names are safe slugs; the pages escape the names.
    s3 = boto3.client("s3", endpoint_url=moto_reset)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys and all(k.startswith("costs/") and ".." not in k.split("/") for k in keys)
    charts = [k for k in keys if k.endswith(".png")]
    assert len(charts) >= len(HOSTILE) + 2
    assert all(re.fullmatch(rf"costs/{D.isoformat()}/[a-z0-9-]+\.png", k) for k in charts), charts
    pages = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode("utf-8")
             for k in keys if k.endswith(".html")}
    assert set(pages) == {"costs/index.html", f"costs/{D.isoformat()}/index.html"}
    day_page = pages[f"costs/{D.isoformat()}/index.html"]

    # Local site (dry run): every file inside the site folder, nothing written outside it.
    day_pages = [day_page]
    if local_site:
        site_root = tmp_path / "dry" / "site"
        local = [p for p in site_root.rglob("*") if p.is_file()]
        assert local and all(p.resolve().is_relative_to(site_root.resolve()) for p in local)
        assert {p.name for p in local if p.suffix == ".png"} == {k.rsplit("/", 1)[1] for k in charts}
        day_pages.append((site_root / D.isoformat() / "index.html").read_text(encoding="utf-8"))
    assert not list(tmp_path.rglob("passwd")) and not (tmp_path / "etc").exists()
    assert Path("/etc/passwd").stat().st_mtime_ns == passwd.st_mtime_ns

    for page in (*day_pages, *pages.values(),
                 (tmp_path / "out" / D.isoformat() / "slack_preview.html").read_text(encoding="utf-8")):
        assert "<script" not in page.lower()  # no JavaScript at all, so no name can bring its own
    for page in day_pages:
        for name in HOSTILE:
            assert str(markupsafe.escape(name)) in page, name  # the pages' template engine escapes as Jinja2 does
        assert "&lt;!channel&gt; &amp; co" in page

    # Slack: the posted payload and slack_message.json escape &, <, > — no mention, no link, no script.
    tops = [r for r in slack.calls("chat.postMessage") if "thread_ts" not in r.body]
    assert len(tops) == 1
    saved = json.loads((tmp_path / "out" / D.isoformat() / "slack_message.json").read_text(encoding="utf-8"))
    for where, payload in (("posted", slack.posted), ("slack_message.json", saved)):
        texts = strings(payload)
        joined = "\n".join(texts)
        for bad in ("<!channel", "<!here", "<!everyone", "<@U123", "<script", "</script"):
            assert bad not in joined, (where, bad)
        for name in HOSTILE:
            assert escape(name) in joined, (where, name)
        assert "&lt;!channel&gt; &amp; co" in joined


# ---- 6. progress of a long backfill -----------------------------------------------------------------------------


def read_terminal(proc: subprocess.Popen, master: int, timeout: float = 90) -> str:
    """Everything the child wrote to its terminal, until it closes it."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child exited and the terminal is closed
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    else:
        proc.kill()
    return b"".join(chunks).decode("utf-8", "replace")


def test_first_backfill_shows_progress_per_page_on_a_terminal(tmp_path, sqlite_url):
    """A first run on a terminal (a year: several Cost Explorer pages) says how far the backfill got, page by page."""
    import pty

    master, slave = pty.openpty()
    env = job_env(tmp_path, DATABASE_URL=sqlite_url, LOOKBACK_DAYS="365")
    proc = subprocess.Popen([PY, JOB, "--source", "sample", "--date", D.isoformat(), "--dry-run"], stdin=slave,
                            stdout=slave, stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    try:
        out = read_terminal(proc, master)
    finally:
        os.close(master)
    assert proc.wait(timeout=30) == 0, out
    assert "first run: backfilling" in out
    pages = [int(n) for n in re.findall(r"Cost Explorer page (\d+)", out)]
    assert len(pages) >= 2 and pages == list(range(1, len(pages) + 1)), out


@pytest.mark.parametrize("tty", [True, False])
def test_page_progress_is_info_on_a_terminal_and_for_cron(tty, monkeypatch, caplog):
    """A long backfill shows progress in cron logs too (default level INFO), not only on a terminal."""
    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    monkeypatch.setattr(sys, "stderr", Stream())
    caplog.set_level(logging.DEBUG, logger="_util.costexplorer")
    _, requests = fetch(SampleCostExplorer(anchor=D, today=TODAY, page_groups=300), CostQuery(START, D))
    progress = [r for r in caplog.records if re.search(r"\bpage \d+", r.getMessage())]
    assert requests > 2 and len(progress) == requests
    assert {r.levelno for r in progress} == {logging.INFO}
    assert [int(re.search(r"page (\d+)", r.getMessage())[1]) for r in progress] == list(range(1, requests + 1))
