#!/usr/bin/env python3
"""Never-answering services: how long the daily job takes to print its `error:` line (for S3: the publish's error
line; the run then goes on without chart links), and how many requests it made, for a MySQL that accepts and never answers, a held table lock, an S3 and a Slack that never answer.

Each case runs the real job (runCostReporting.py, sample cost source, a fresh SQLite database unless the case is
MySQL) in a subprocess against a loopback TCP server that accepts and never answers, with the production default
timeouts (or small ones with --quick), and checks the time against the bound the timeouts give.

    python -m bench.bench_hangs            # production defaults: about 5 minutes in all
    python -m bench.bench_hangs --quick    # DB_TIMEOUT_SECONDS=4, S3_TIMEOUT_SECONDS=2: about 40 s
    TEST_DATABASE_URL=mysql+pymysql://root@127.0.0.1:3306/test_x python -m bench.bench_hangs   # + the lock case
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _util.config import Settings
from _util.slack import NOTICE_TIMEOUT_S, TIMEOUT_S
from tests.blackhole import Blackhole

ROOT = Path(__file__).resolve().parents[1]

D = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
S3_ATTEMPTS = 3  # site.make_s3_client: total_max_attempts
S3_CONNECT_S = 10


def run(env: dict[str, str], tmp: Path, marker: str = "error: ") -> tuple[int, float, str]:
    """(status, seconds to the first stderr line containing marker, that line) of one job run."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(ROOT / "runCostReporting.py"), "--date", D], env=env, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line, seconds = "", float("nan")
    for text in proc.stderr:
        if marker in text and not line:
            line, seconds = text.strip(), time.monotonic() - started
    proc.wait()
    return proc.returncode, seconds, line


def base_env(tmp: Path, overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "HEARTBEAT_URL", "DATABASE_URL")}
    env.update(OUTPUT_DIR=str(tmp / "out"), DATABASE_URL=f"sqlite:///{tmp / 'costs.sqlite'}", COST_SOURCE="sample",
               LOOKBACK_DAYS="40", MPLBACKEND="Agg", PYTHONPATH=str(ROOT), AWS_ACCESS_KEY_ID="bench",
               AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"))
    env.update(overrides)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small timeouts instead of the production defaults")
    args = parser.parse_args()
    overrides = {"DB_TIMEOUT_SECONDS": "4", "S3_TIMEOUT_SECONDS": "2"} if args.quick else {}
    s = Settings()
    db_timeout = int(overrides.get("DB_TIMEOUT_SECONDS", s.db_timeout_seconds))
    s3_timeout = int(overrides.get("S3_TIMEOUT_SECONDS", s.s3_timeout_seconds))
    rows = []

    def case(name: str, bound: float, extra: dict[str, str], hole: Blackhole | None, setup=None,
             marker: str = "error: ", status: int = 1) -> None:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            cleanup = setup() if setup else None
            try:
                code, seconds, line = run(base_env(tmp, {**overrides, **extra}), tmp, marker)
            finally:
                if cleanup:
                    cleanup()
        requests = str(hole.connections) if hole else "-"
        ok = "ok" if code == status and seconds <= bound else "MISSED"
        rows.append((name, f"{seconds:7.1f}", f"{bound:7.0f}", requests, ok, line[:90]))
        print(f"{name:<16} {seconds:7.1f} s (bound {bound:.0f} s) requests {requests:>2}  {ok}  {line[:90]}",
              flush=True)

    # MySQL accepting and never answering: the handshake read waits read_timeout (connect_timeout is the TCP part).
    with Blackhole() as hole:
        case("mysql blackhole", db_timeout + 5, {"DATABASE_URL": f"mysql+pymysql://u:p@127.0.0.1:{hole.port}/c"}, hole)
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        from sqlalchemy import text

        from _util import db

        engine = db.make_engine(url)
        db.init_db(engine)
        holder = engine.connect()

        def lock():
            holder.execute(text("LOCK TABLES daily_cost WRITE"))  # one table of this database, never a global lock
            return lambda: holder.execute(text("UNLOCK TABLES"))

        case("mysql lock", max(1, db_timeout // 2) + 10, {"DATABASE_URL": url}, None, lock)
        holder.close()
        engine.dispose()
    else:
        print("mysql lock       skipped: set TEST_DATABASE_URL to a MariaDB/MySQL database of your own")
    # S3: per attempt the connection, botocore's 1 s wait for "100 Continue", then the answer waits read_timeout;
    # 3 attempts, then the publish stops
    # and the run goes on without chart links (exit 0): the figure is the time to the publish's ERROR line.
    with Blackhole() as hole:
        bound = S3_ATTEMPTS * (s3_timeout + 2) + 15  # + backoff and the run's earlier stages (charts ~3 s)
        case("s3 blackhole", bound, {"PLOTS_DESTINATION": "s3://bench-site/costs", "AWS_ENDPOINT_URL_S3": hole.url,
                                     "PLOT_BASE_URL": "https://costs.example.com"}, hole,
             marker="S3 did not answer in time", status=0)
    # Slack: the report post waits its timeout once (no retry: it may have been posted), then the failure notice.
    with Blackhole() as hole:
        case("slack blackhole", TIMEOUT_S + NOTICE_TIMEOUT_S + 15,
             {"SLACK_BOT_TOKEN": "xoxb-bench-token", "SLACK_CHANNEL_ID": "C0BENCH", "SLACK_API_URL": hole.url + "/api/"},
             hole)
    print()
    print("| case | seconds to error line | bound | requests | |")
    print("|---|---|---|---|---|")
    for name, seconds, bound, requests, ok, _ in rows:
        print(f"| {name} | {seconds.strip()} | {bound.strip()} | {requests} | {ok} |")
    return 0 if all(r[4] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
