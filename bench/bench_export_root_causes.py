#!/usr/bin/env python3
"""Root causes from an export (COST_SOURCE=export): the one read of the alerted services' line items and the
drill-down answered from it, down to the resource id — time and memory.

A FOCUS 1.2 export of the drill-down window (29 days; N_SERIES usage series = resources over 50 accounts and 20
services, ROWS_PER_DAY hourly-ish rows a day) is written once with tests/export_gen.py in a child process; a fresh
child then reads the line items of the ALERTS largest services on d (exports.drill_frame: one DuckDB query) and
explains a spike of each through drilldown.explain with its free answerer (3 groupings per alert, stored in a
throw-away SQLite database). Printed: rows scanned, groups read, seconds per part, the frame's memory and the
process's peak RSS. No request is made and nothing is charged; memory grows with the alerted services' resources x 29.

    python -m bench.bench_export_root_causes [N_SERIES] [ROWS_PER_DAY] [ALERTS]   # default 20000 80000 5
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write(folder: str, n_series: int, rows_per_day: int) -> None:
    from datetime import date

    from tests.export_gen import write_export

    truth = write_export(folder, "focus", date(2026, 10, 1), days=29, n_accounts=50, n_services=20,
                         n_series=n_series, rows_per_day=rows_per_day)
    print(json.dumps({"rows": truth.rows, "root": str(truth.export_dir)}))


def child(root: str, alerts: int) -> None:
    from datetime import date, timedelta

    import pandas as pd

    from _util import db, drilldown, exports
    from _util.config import Settings
    from _util.model import Spike

    d = date(2026, 10, 29)
    start, end = drilldown.window(d)
    t0 = time.perf_counter()
    totals = exports.detail_frame([root], d, d)  # the day's services (a one-day read, to pick the largest)
    top = totals.assign(amount=totals["amount"].astype(float)).groupby("service")["amount"].sum().nlargest(alerts)
    t1 = time.perf_counter()
    frame, names = exports.drill_frame([root], start, end, list(top.index))
    t2 = time.perf_counter()
    prepared = drilldown.prepare_frame(frame)
    frame_mb = prepared.memory_usage(deep=True).sum() / 1e6
    amounts = prepared.assign(day=pd.to_datetime(prepared["usage_date"])).groupby(["service", "day"],
                                                                                observed=True)["amount"].sum()
    spikes = []
    for service in top.index:
        series = amounts[service].reindex(pd.date_range(start, end), fill_value=0.0)
        mean = float(series.iloc[:-1].mean())
        spikes.append(Spike(service, "up", float(series.iloc[-1]), mean, 1.0, 3.0, float(series.iloc[-1]) - mean, 28))
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{tmp}/b.sqlite")
        db.init_db(engine)
        answers = drilldown.FrameAnswers(lambda: prepared, names)
        settings = Settings(cost_source="export", report_date=d, output_dir=Path(tmp))
        t3 = time.perf_counter()
        found = drilldown.explain(spikes, settings, engine, answers, d, pairs=drilldown.EXPORT_PAIRS)
        t4 = time.perf_counter()
        engine.dispose()
    shown = sum(1 for r in found.values() if r.status == "ok" and tuple(r.pair) == drilldown.RESOURCE_PAIR)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pick_s": t1 - t0, "read_s": t2 - t1, "explain_s": t4 - t3, "groups": len(frame),
                      "resources": int(frame["resource_id"].nunique()), "frame_mb": frame_mb, "peak_mb": peak,
                      "alerts": len(spikes), "requests": answers.requests, "by_resource": shown,
                      "window": f"{start}..{end}", "d": str(d), "days": (end - start + timedelta(days=1)).days}))


def main() -> None:
    n_series = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rows_per_day = int(sys.argv[2]) if len(sys.argv) > 2 else 80_000
    alerts = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    prefix = f"import sys; sys.path[:0] = [{str(ROOT)!r}]; "
    with tempfile.TemporaryDirectory(prefix="bench-export-rc-") as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", prefix + "from bench.bench_export_root_causes import write; "
                              f"write({tmp!r}, {n_series}, {rows_per_day})"], check=True, capture_output=True, text=True)
        w = json.loads(out.stdout.strip().splitlines()[-1])
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
        print(f"wrote {w['rows']:,} FOCUS rows, {n_series:,} usage series, 29 days ({size / 1e6:.0f} MB Parquet) "
              f"in {time.perf_counter() - t0:.1f} s")
        out = subprocess.run([sys.executable, "-c", prefix + "from bench.bench_export_root_causes import child; "
                              f"child({w['root']!r}, {alerts})"], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"root causes of {r['alerts']} spikes on {r['d']} ({r['window']}, {r['days']} days): one read of their "
              f"line items {r['read_s']:.2f} s -> {r['groups']:,} groups, {r['resources']:,} resources, frame "
              f"{r['frame_mb']:.0f} MB; drill-down (3 groupings each, stored) {r['explain_s']:.2f} s; "
              f"{r['by_resource']} shown by resource; {r['requests']} answers, 0 Cost Explorer requests, USD 0; "
              f"peak RSS {r['peak_mb']:.0f} MB (picking the services: {r['pick_s']:.2f} s, not part of a run)")


if __name__ == "__main__":
    main()
