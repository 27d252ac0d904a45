#!/usr/bin/env python3
"""Speed and memory of the alert maths for 60 services, 2,000 and 20,000 series x 400 days.

Each size runs in a fresh interpreter. Printed per size:
  detect   detect_spikes + detect_trends (TREND_FILTER=on) from the wide days x series matrix (best of 3)
  build    build_series from the long frame of db.load_costs (one row per day and series)
  analyse  the whole metrics.analyse from the long frame (series, alerts, totals, summary)
  peak     tracemalloc peak of the detection step (extra memory it allocates) and the process's peak RSS
Targets (2 cores): 20,000 x 400 detection <= 2 s and <= 1 GB; 60 services <= 50 ms.

    python -m bench.bench_alert_speed
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = 400
SIZES = (60, 2_000, 20_000)


def child(n: int) -> None:
    from datetime import date

    import numpy as np
    import pandas as pd
    from bench_alerts import make_noise

    from _util.metrics import analyse, build_series, detect_spikes, detect_trends
    from _util.model import AlertParams

    d = date(2026, 11, 25)
    params = AlertParams(lookback_days=DAYS - 1)
    wide, _ = make_noise(n, DAYS, np.random.default_rng(0), end=d)
    wide.iloc[-1, :: max(n // 20, 1)] *= 3  # some real spikes to report

    times = []
    for _ in range(3):
        started = time.perf_counter()
        spikes = detect_spikes(wide, d, params)
        trends = detect_trends(wide, d, params)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    detect_spikes(wide, d, params)
    detect_trends(wide, d, params)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    stacked = wide.stack()
    costs = pd.DataFrame({"usage_date": stacked.index.get_level_values(0),
                          "service": stacked.index.get_level_values(1).astype(str),
                          "breakdown": "", "amount": stacked.to_numpy(), "estimated": False})
    del stacked
    started = time.perf_counter()
    build_series(costs, d, params.lookback_days)
    build = time.perf_counter() - started
    started = time.perf_counter()
    analyse(costs, d, params)
    whole = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"n": n, "rows": len(costs), "detect_s": min(times), "build_s": build, "analyse_s": whole,
                      "traced_mb": traced / 2**20, "rss_mb": rss / 2**20, "spikes": len(spikes),
                      "trends": len(trends)}))


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
        return 0
    print(f"| series x {DAYS} days | long rows | detect (spikes + trends) | detect peak alloc | build_series "
          "| analyse (all) | process peak RSS | alerts |")
    print("|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {n:,} | {r['rows']:,} | {r['detect_s'] * 1000:,.0f} ms | {r['traced_mb']:,.0f} MB "
              f"| {r['build_s'] * 1000:,.0f} ms | {r['analyse_s'] * 1000:,.0f} ms | {r['rss_mb']:,.0f} MB "
              f"| {r['spikes']} spikes, {r['trends']} trends |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
