#!/usr/bin/env python3
"""End-to-end benchmark: a whole cold run (fresh database, fresh interpreter) for the demo account (~30 services)
and a large account (40 linked accounts x 50 services = 2,000 series via COST_GROUP_BY=LINKED_ACCOUNT).

Prints wall time and peak memory of the whole process, time per stage and Cost Explorer requests.
Targets (2 cores): demo <= 10 s cold; 2,000 series <= 30 s.

    python -m bench.bench_e2e
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(kind: str, out_dir: str) -> None:
    """Runs inside a fresh interpreter: one cold run, prints a JSON line with its figures."""
    started = time.perf_counter()
    from datetime import date

    from sqlalchemy import func, select

    from _util import db
    from _util.config import Settings
    from _util.pipeline import RunOutcome, run_all
    from _util.sample_data import SERVICES, SampleCostExplorer

    d = date(2026, 11, 25)
    out = Path(out_dir)
    common = dict(database_url=f"sqlite:///{out / 'costs.sqlite'}", cost_source="sample", report_date=d,
                  output_dir=out, plots_destination=str(out / "site"), dry_run=True)
    if kind == "demo":
        settings = Settings(**common)
        client = SampleCostExplorer(anchor=d)
    else:
        names = [s for s in SERVICES if s[0] != "Tax"]
        services = tuple(names + [(f"{n} ({region})", lvl / 3, sw, gr) for region in ("eu-west-1",)
                                  for n, lvl, sw, gr in names])[:50]
        accounts = tuple(f"{100000000000 + i * 7919:012d}" for i in range(40))
        settings = Settings(group_by="LINKED_ACCOUNT", **common)
        client = SampleCostExplorer(anchor=d, services=services, accounts=accounts)
    engine = db.make_engine(settings.database_url)
    db.init_db(engine)
    outcome = RunOutcome()
    run_all(settings, engine, ce_client=client, outcome=outcome)
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with engine.connect() as conn:
        pairs = select(db.daily_cost.c.service, db.daily_cost.c.breakdown).distinct().subquery()
        series = conn.execute(select(func.count()).select_from(pairs)).scalar()
    print(json.dumps({"wall_s": wall, "stages": outcome.timings, "ce_requests": outcome.ingest.requests,
                      "rows": outcome.ingest.rows, "services": outcome.analysis.series.shape[1],
                      "series": series,
                      "alerts": outcome.analysis.alerts, "peak_mib": peak_mib}))


def measure(kind: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--child", kind, tmp], capture_output=True, text=True,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, cwd=ROOT)
        elapsed = time.perf_counter() - started
        if done.returncode:
            sys.exit(f"{kind} run failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["process_s"] = elapsed
        return figures


def main() -> int:
    targets = {"demo": 10.0, "large": 30.0}
    print("| run | services | series (service x breakdown) | rows stored | CE requests | alerts "
          "| process wall s | peak RSS MiB | target | stages (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for kind in ("demo", "large"):
        f = measure(kind)
        stages = ", ".join(f"{k} {v:.2f}" for k, v in f["stages"].items())
        verdict = "ok" if f["process_s"] <= targets[kind] else "MISSED"
        ok &= verdict == "ok"
        print(f"| {kind} | {f['services']} | {f['series']:,} | {f['rows']:,} | {f['ce_requests']} | {f['alerts']} | "
              f"{f['process_s']:.2f} | {f['peak_mib']:.0f} | <= {targets[kind]:.0f} s {verdict} | {stages} |")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
