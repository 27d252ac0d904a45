#!/usr/bin/env python3
"""Chart rendering benchmark: ms per chart (median, by kind), wall time for a 30-chart day in parallel processes,
and memory over 500 charts rendered in one process (figures released).

Targets: <= 150 ms per chart (median); 30 charts <= 3 s on 2 cores; no memory growth over 500 charts.

    python -m bench.bench_charts [--workers 2] [--charts 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _util import charts
from _util.model import AlertParams, Spike, Trend
from tests.fixtures_analysis import build_analysis, day_view

ROOT = Path(__file__).resolve().parents[1]

P = AlertParams()


def rss_mb() -> float:
    """Resident set size of this process now (MB), from /proc (Linux) or the peak elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def day_with_30_charts():
    """A realistic year of 30 services, with 14 spikes and 14 trend reversals: 28 alert charts + 2 summaries."""
    a = build_analysis(n_services=30, days=365)
    names = list(a.series.columns)
    spikes, trends = [], []
    for name in names[:14]:
        s = a.series[name].dropna()
        base = s.iloc[:-1]
        mean, std = float(base.mean()), float(base.std(ddof=1))
        cost = float(s.iloc[-1])
        spikes.append(Spike(name, "up", cost, mean, std, (cost - mean) / std if std else None, cost - mean,
                            len(base)))
    for name in names[14:28]:
        s = a.series[name].dropna()
        trends.append(Trend(name, "up", 1.0, 0.5, float(s.iloc[-1]), float(s.iloc[-7:].mean()),
                            float(s.iloc[-28:].mean())))
    return replace(a, spikes=spikes, trends=trends)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="processes for the parallel run (default 2)")
    ap.add_argument("--charts", type=int, default=500, help="charts for the memory run (default 500)")
    args = ap.parse_args(argv)

    analysis = day_with_30_charts()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        titled = day_view(analysis)
        jobs = charts.chart_jobs(analysis, titled, P, out / "serial")
        assert len(jobs) == 30, len(jobs)
        charts._render_job(jobs[0])  # warm-up: font cache, first-use imports

        # 1. per chart, serial, in this process
        times: dict[str, list[float]] = {}
        for _ in range(2):
            for job in jobs:
                started = time.perf_counter()
                _, path, error = charts._render_job(job)
                assert path and not error, error
                times.setdefault(job[1], []).append((time.perf_counter() - started) * 1000)
        every = [t for ts in times.values() for t in ts]
        print(f"ms per chart (serial, {len(every)} renders): median {statistics.median(every):.0f}, "
              f"p90 {statistics.quantiles(every, n=10)[-1]:.0f}, max {max(every):.0f}   [target <= 150 median]")
        for kind, ts in times.items():
            print(f"  {kind:6s} median {statistics.median(ts):4.0f} ms  ({len(ts)} renders)")

        # 2. the 30-chart day in parallel processes (pool start-up included)
        walls = []
        for i in range(3):
            started = time.perf_counter()
            files = charts.render_charts(analysis, titled, P, out / f"parallel{i}", workers=args.workers)
            walls.append(time.perf_counter() - started)
            assert len(files) == 30
        print(f"30 charts, {args.workers} worker processes on {os.cpu_count()} CPU(s): "
              f"{' / '.join(f'{w:.2f}' for w in walls)} s (median {statistics.median(walls):.2f} s)"
              f"   [target <= 3 s on 2 cores]")

        # 3. memory over many charts in one process: each figure released by save_png
        n = args.charts
        warm = min(50, n // 5)
        for i in range(warm):
            charts._render_job((*jobs[i % 30][:3], out / "mem.png"))
        before = rss_mb()
        started = time.perf_counter()
        for i in range(n):
            charts._render_job((*jobs[i % 30][:3], out / "mem.png"))
            if i == n // 2:
                middle = rss_mb()
        after = rss_mb()
        print(f"memory over {n} charts: RSS {before:.0f} MB after {warm} warm-up charts -> {middle:.0f} MB at "
              f"{n // 2} -> {after:.0f} MB at {n} (growth {after - before:+.1f} MB; "
              f"{(time.perf_counter() - started) / n * 1000:.0f} ms/chart)   [target: no growth]")
        import matplotlib.pyplot as plt

        print(f"open pyplot figures: {len(plt.get_fignums())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
