"""Nothing waits for ever: a MySQL that never answers, a held table lock, an S3 that never answers and a stage that
hangs each end the run with one `error:` line, within the bounds the settings give (seconds here, via settings)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from _util import db
from tests.blackhole import Blackhole
from tests.cli_helpers import error_lines

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
JOB = str(ROOT / "runCostReporting.py")
D = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
HANG_GUARD_S = 90  # a run still going after this is the defect itself (before the fix: killed here)


def job_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "HEARTBEAT_URL", "DATABASE_URL")}
    env.update(OUTPUT_DIR=str(tmp_path / "out"), DATABASE_URL=f"sqlite:///{tmp_path / 'costs.sqlite'}",
               LOOKBACK_DAYS="40", MPLBACKEND="Agg", PYTHONPATH=str(ROOT), COST_SOURCE="sample")
    env.update(extra)
    return env


def run_job(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    """(exit status, stderr, seconds) of one job run in a subprocess."""
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, JOB, "--date", D, *args], env=env, cwd=env["OUTPUT_DIR"].rsplit("/", 1)[0],
                              capture_output=True, text=True, timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the run still hung after {HANG_GUARD_S} s: {(exc.stderr or b'')[-500:]!r}")
    return done.returncode, done.stderr, time.monotonic() - started


def test_mysql_that_accepts_and_never_answers_fails_naming_the_database(tmp_path):
    with Blackhole() as hole:
        env = job_env(tmp_path, DATABASE_URL=f"mysql+pymysql://costs:pw@127.0.0.1:{hole.port}/costs",
                      DB_CONNECT_TIMEOUT_SECONDS="2", DB_TIMEOUT_SECONDS="2")
        code, err, seconds = run_job(env)
    assert code == 1, err
    [line] = error_lines(err)
    assert f"127.0.0.1:{hole.port}/costs" in line and "pw" not in line.replace("password", ""), line
    assert "timed out" in line.lower() and "stage" not in line, line  # the socket's own bound, not the deadline
    assert err.rstrip().splitlines()[-1] == line
    assert hole.connections == 1


@pytest.mark.mysql
def test_a_held_table_lock_ends_within_the_lock_wait_timeout(tmp_path, mysql_url):
    engine = db.make_engine(mysql_url)
    db.init_db(engine)
    holder = engine.connect()
    try:
        holder.execute(text("LOCK TABLES daily_cost WRITE"))  # this database's one table, never a global lock
        code, err, seconds = run_job(job_env(tmp_path, DATABASE_URL=mysql_url, DB_TIMEOUT_SECONDS="4"))
    finally:
        holder.execute(text("UNLOCK TABLES"))
        holder.close()
        engine.dispose()
    assert code == 1, err
    [line] = error_lines(err)
    assert "lock wait timeout" in line.lower(), line
    assert seconds < HANG_GUARD_S


def test_s3_that_accepts_and_never_answers_ends_the_publish_within_its_bound(tmp_path):
    with Blackhole() as hole:
        env = job_env(tmp_path, PLOTS_DESTINATION="s3://cost-site/daily", AWS_ENDPOINT_URL_S3=hole.url,
                      S3_TIMEOUT_SECONDS="1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
                      AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
        env.pop("AWS_PROFILE", None)
        code, err, seconds = run_job(env, "-v")
    assert "did not answer in time" in err, err[-2000:]
    assert hole.connections <= 3, hole.connections  # one upload, botocore's bounded attempts, then no more
    assert seconds < HANG_GUARD_S


HANG = """
import sys, time
import runCostReporting
from _util import {module}
def hang(*args, **kwargs):
    time.sleep(3600)
{module}.{name} = hang
sys.exit(runCostReporting.main(sys.argv[1:]))
"""


# The charts case leaves room for the stages before it (about 1.5 s here, more on a loaded machine): the deadline
# must fall inside the hung stage, not before it.
@pytest.mark.parametrize(("module", "name", "stage", "timeout"), [
    ("stages", "load_day", "summaries+alerts", 2),
    ("charts", "_render_job", "charts", 6),  # hangs inside the chart worker processes: they must die with the run
])
def test_run_timeout_ends_a_hung_stage_with_one_line_naming_it(tmp_path, module, name, stage, timeout):
    env = job_env(tmp_path, RUN_TIMEOUT_SECONDS=str(timeout))
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-c", HANG.format(module=module, name=name),
                               "--date", D, "--dry-run"], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"stage {stage} still hung after {HANG_GUARD_S} s")
    assert done.returncode == 1, done.stderr
    assert error_lines(done.stderr) == [f"error: run timed out after {timeout} s in stage {stage}"], done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("error: ")
    assert time.monotonic() - started < HANG_GUARD_S


def test_sigterm_ends_a_hung_stage_with_one_line_naming_it(tmp_path):
    """systemd's stop (or its TimeoutStartSec) sends SIGTERM: the run ends as on its own deadline, not silently."""
    import signal

    env = job_env(tmp_path, RUN_TIMEOUT_SECONDS="600")
    proc = subprocess.Popen([sys.executable, "-c", HANG.format(module="stages",
                                                               name="load_day"), "--date", D, "--dry-run", "-v"],
                            env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # wait until the run is inside the hung stage …
            if "stage summaries+alerts: start" in line:
                break
        wchan = Path(f"/proc/{proc.pid}/wchan")
        for _ in range(50):  # … and asleep in it (Linux), not still writing that line
            if not wchan.exists() or "sleep" in wchan.read_text():
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        try:
            rest = proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            pytest.fail("the run was still going 30 s after SIGTERM")
        code = proc.returncode
    finally:
        proc.kill()
    assert code == 1, rest
    assert error_lines(rest) == ["error: run terminated by SIGTERM in stage summaries+alerts"], rest


def test_run_timeout_seconds_is_validated(tmp_path):
    done = subprocess.run([sys.executable, JOB, "--date", D], env=job_env(tmp_path, RUN_TIMEOUT_SECONDS="soon"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert error_lines(done.stderr) == ["error: RUN_TIMEOUT_SECONDS must be an integer, got 'soon'"]
