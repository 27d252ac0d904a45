"""The benches' closing lines: one PASS/FAIL line per target, the time taken, and the exit code."""

from __future__ import annotations

import time
from collections.abc import Iterable


def verdict(checks: Iterable[tuple[str, bool]], started: float) -> int:
    """Print "PASS  <target>" / "FAIL  <target>" per check and the seconds since `started` (perf_counter);
    0 when every target passed, else 1."""
    checks = list(checks)
    for text, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {text}")
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0 if all(passed for _, passed in checks) else 1
