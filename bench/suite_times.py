"""Wall time of `make test-fast` and `make test` (the README's figures): each run N times, median printed.

Not run by `make bench` (it takes minutes): `python -m bench.suite_times [--runs 3] [--only test-fast]`.
Set TEST_DATABASE_URL (and have Chromium) to time `make test` as CI runs it.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"test-fast": 60.0, "test": 240.0}  # seconds: issue 11's limits on this 2-core machine


def run_once(target: str) -> tuple[float, str]:
    """(wall seconds, pytest's summary line) of one `make <target>`; exits on a failed run."""
    started = time.perf_counter()
    done = subprocess.run(["make", target], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"make {target} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    summary = next((line for line in reversed(done.stdout.splitlines()) if re.search(r"\d+ passed", line)), "")
    return elapsed, summary.strip("= ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per target (default 3)")
    parser.add_argument("--only", choices=sorted(TARGETS), help="time one target only")
    args = parser.parse_args(argv)
    for target in [args.only] if args.only else list(TARGETS):
        times = []
        for _ in range(args.runs):
            elapsed, summary = run_once(target)
            times.append(elapsed)
            print(f"make {target}: {elapsed:.1f} s ({summary})", flush=True)
        median = statistics.median(times)
        verdict = "PASS" if median <= TARGETS[target] else "FAIL"
        print(f"make {target}: median {median:.1f} s of {args.runs} ({', '.join(f'{t:.1f}' for t in sorted(times))})"
              f" — target <= {TARGETS[target]:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
