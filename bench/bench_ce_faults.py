#!/usr/bin/env python3
"""The daily job against a faulty Cost Explorer: how many requests it makes and how long until its `error:` line.

Each case runs the real job (runCostReporting.py --dry-run, COST_SOURCE=ce, LOOKBACK_DAYS=30, a fresh SQLite
database) as a subprocess, with AWS_ENDPOINT_URL_COST_EXPLORER pointing at a stand-in on 127.0.0.1:
  (a) same token   every page answers the same NextPageToken again
  (b) fresh tokens every page answers a new NextPageToken, forever
  (c) no answer    accepts the connection, never answers
Targets: (a) and (b) stop after <= CE_MAX_PAGES requests; (c) fails within its timeout + retry budget
(costexplorer.hang_bound_seconds: attempts x (connect + read timeout) + botocore's backoff between attempts).

Modes:
  default  the production defaults (CE_MAX_PAGES=300, CE_TIMEOUT_SECONDS=20, CE_MAX_ATTEMPTS=5): case (c) takes
           about 100-115 s (bound 140 s) — what a user's cron run sees when Cost Explorer hangs
  --quick  case (c) with CE_TIMEOUT_SECONDS=2, CE_MAX_ATTEMPTS=2 (bound 9 s): the same mechanism, seconds long

    .venv/bin/python -m bench.bench_ce_faults [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from _util.costexplorer import (
    CE_CONNECT_TIMEOUT_SECONDS,
    CE_MAX_ATTEMPTS,
    CE_MAX_PAGES,
    CE_TIMEOUT_SECONDS,
    hang_bound_seconds,
)
from tests.ce_fakes import Paging, Silent

ROOT = Path(__file__).resolve().parents[1]

QUICK = {"CE_TIMEOUT_SECONDS": "2", "CE_MAX_ATTEMPTS": "2"}


def run_job(endpoint: str, work: Path, extra: dict[str, str]) -> tuple[float | None, float, int, str]:
    """(seconds to the `error:` line or None, seconds to exit, exit status, the error line) of one job run."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": str(work / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(work / "none"),
           "AWS_ENDPOINT_URL_COST_EXPLORER": endpoint, "COST_SOURCE": "ce", "LOOKBACK_DAYS": "30",
           "DATABASE_URL": f"sqlite:///{work / 'costs.sqlite'}", "OUTPUT_DIR": str(work / "output"), **extra}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(ROOT / "runCostReporting.py"), "--dry-run"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    at, line = None, ""
    for text in proc.stderr:
        if text.startswith("error: ") and at is None:
            at, line = time.monotonic() - started, text.strip()
    status = proc.wait()
    return at, time.monotonic() - started, status, line


def paging_case(fresh: bool, work: Path) -> tuple[int, tuple]:
    handler = type("Handler", (Paging,), {"calls": 0, "fresh": fresh})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_job(f"http://127.0.0.1:{server.server_address[1]}", work, {})
    finally:
        server.shutdown()
        server.server_close()
    return handler.calls, result


def silent_case(work: Path, extra: dict[str, str]) -> tuple[int, tuple]:
    silent = Silent()
    try:
        result = run_job(silent.url, work, extra)
    finally:
        silent.close()
    return silent.accepted, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="case (c) with 2 s timeouts and 2 attempts")
    args = parser.parse_args(argv)
    extra = QUICK if args.quick else {}
    timeout = float(extra.get("CE_TIMEOUT_SECONDS", CE_TIMEOUT_SECONDS))
    attempts = int(extra.get("CE_MAX_ATTEMPTS", CE_MAX_ATTEMPTS))
    bound = hang_bound_seconds(attempts, timeout, CE_CONNECT_TIMEOUT_SECONDS)
    print(f"mode: {'--quick (case c: CE_TIMEOUT_SECONDS=2, CE_MAX_ATTEMPTS=2)' if args.quick else 'production defaults'}"
          f"; CE_MAX_PAGES={CE_MAX_PAGES}, read timeout {timeout:g} s, connect timeout "
          f"{min(CE_CONNECT_TIMEOUT_SECONDS, timeout):g} s, {attempts} attempts -> hang bound {bound:g} s")
    if not args.quick:
        print("(case c takes about two minutes; --quick shows the same mechanism in seconds)")
    print(f"{'case':<16}{'requests':>9}{'to error:':>11}{'exit':>6}  target                         ok  error line")
    ok_all = True
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("(a) same token", lambda w: paging_case(False, w), lambda n, s: n <= CE_MAX_PAGES,
             f"<= {CE_MAX_PAGES} requests"),
            ("(b) fresh tokens", lambda w: paging_case(True, w), lambda n, s: n <= CE_MAX_PAGES,
             f"<= {CE_MAX_PAGES} requests"),
            ("(c) no answer", lambda w: silent_case(w, extra), lambda n, s: n <= attempts and s <= bound,
             f"<= {attempts} requests, <= {bound:g} s"),
        ]
        for i, (name, run, target, target_text) in enumerate(cases):
            work = Path(tmp) / str(i)
            work.mkdir()
            requests, (at, total, status, line) = run(work)
            seconds = at if at is not None else total
            ok = at is not None and status == 1 and target(requests, seconds)
            ok_all &= ok
            shown = f"{at:.2f} s" if at is not None else "none"
            print(f"{name:<16}{requests:>9}{shown:>11}{status:>6}  {target_text:<30} {'yes' if ok else 'NO ':<3} "
                  f"{line[:160]}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
