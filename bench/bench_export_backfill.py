#!/usr/bin/env python3
"""COST_SOURCE=export backfill, end to end: 13 months of 20,000 series (service x account) into an empty database,
then alerts and the report — charts excluded (charts.render_charts stubbed: no PNG; site pages, report.json and the
dry run's Slack preview are still written).

Setup (not timed, once): a FOCUS-shaped export of 13 billing periods (BILLING_PERIOD=YYYY-MM folders, Parquet):
50 services x 400 accounts, one usage line per series a day plus credits (left out by COST_EXCLUDE_RECORD_TYPES),
weekly seasonality, noise and a few level shifts. Timed (3 fresh children, each on an empty database): the daily job
(pipeline.run_all, --dry-run, COST_GROUP_BY=LINKED_ACCOUNT, LOOKBACK_DAYS=400) — its stages' seconds, rows stored and
their rate, the process's peak RSS and CPU seconds; medians of 3, PASS/FAIL against 60 s.

    python -m bench.bench_export_backfill [--db-url mysql+pymysql://root@127.0.0.1:3306/DB] [--data DIR]
                                          [--runs N] [--ingest-only]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES, ACCOUNTS = 50, 400  # 20,000 series
FIRST, D = date(2025, 10, 1), date(2026, 10, 31)  # 13 billing periods, 396 days
TARGET_S = 60.0


def write_export(folder: Path) -> int:
    """The 13-month FOCUS export under folder/data/BILLING_PERIOD=YYYY-MM/ (vectorised); return its rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    n = SERVICES * ACCOUNTS
    services = pa.array([f"Service {i:02d}" for i in range(SERVICES)])
    accounts = pa.array([f"{100000000000 + 7919 * i:012d}" for i in range(ACCOUNTS)])
    svc, acct = np.arange(n) % SERVICES, np.arange(n) // SERVICES
    base = rng.lognormal(0.0, 1.5, n)
    shift_day = rng.integers(0, (D - FIRST).days + 1, n)
    shift = np.where(rng.random(n) < 0.05, rng.uniform(0.3, 3.0, n), 1.0)  # 5 % of series change level once
    tags = pa.array([json.dumps({"team": f"t{i}"}) for i in range(20)])
    schema = pa.schema([("ChargePeriodStart", pa.timestamp("us")), ("ChargePeriodEnd", pa.timestamp("us")),
                        ("ProviderName", pa.string()), ("ServiceName", pa.string()), ("SubAccountId", pa.string()),
                        ("RegionId", pa.string()), ("ChargeCategory", pa.string()), ("BillingCurrency", pa.string()),
                        ("BilledCost", pa.float64()), ("EffectiveCost", pa.float64()), ("ResourceId", pa.string()),
                        ("Tags", pa.string())])
    rows = 0
    day = np.datetime64(FIRST.isoformat(), "D")
    end = np.datetime64(D.isoformat(), "D")
    while day <= end:
        month = str(day.astype("datetime64[M]"))
        out = folder / "data" / f"BILLING_PERIOD={month}"
        out.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(out / "focus-00001.snappy.parquet", schema) as writer:
            while day <= end and str(day.astype("datetime64[M]")) == month:
                i = (day - np.datetime64(FIRST.isoformat(), "D")).astype(int)
                weekly = 0.8 if day.astype("datetime64[D]").item().weekday() >= 5 else 1.0
                cost = base * weekly * np.where(i >= shift_day, shift, 1.0) * (1 + 0.1 * rng.standard_normal(n))
                credit = rng.random(n) < 0.02
                idx = np.concatenate([np.arange(n), np.flatnonzero(credit)])
                amount = np.round(np.concatenate([np.abs(cost), -0.1 * np.abs(cost[credit])]), 10)
                m = len(idx)
                start = np.full(m, day.astype("datetime64[us]"))
                writer.write_table(pa.table({
                    "ChargePeriodStart": start, "ChargePeriodEnd": start + np.timedelta64(1, "D"),
                    "ProviderName": pa.DictionaryArray.from_arrays(np.zeros(m, np.int32), pa.array(["AWS"])),
                    "ServiceName": pa.DictionaryArray.from_arrays(svc[idx].astype(np.int32), services),
                    "SubAccountId": pa.DictionaryArray.from_arrays(acct[idx].astype(np.int32), accounts),
                    "RegionId": pa.DictionaryArray.from_arrays(np.zeros(m, np.int32), pa.array(["us-east-1"])),
                    "ChargeCategory": pa.DictionaryArray.from_arrays(
                        (np.arange(m) >= n).astype(np.int32), pa.array(["Usage", "Credit"])),
                    "BillingCurrency": pa.DictionaryArray.from_arrays(np.zeros(m, np.int32), pa.array(["USD"])),
                    "BilledCost": amount, "EffectiveCost": amount,
                    "ResourceId": pa.array(np.char.add("i-", idx.astype(str)).astype(object)),
                    "Tags": pa.DictionaryArray.from_arrays((idx % 20).astype(np.int32), tags)}, schema=schema))
                rows += m
                day += 1
    return rows


def child(data: str, out_dir: str, db_url: str, only_ingest: bool = False) -> None:
    """One fresh run (empty database): the daily job without charts (or its ingest stage alone); prints a JSON line
    of its figures."""
    started, cpu0 = time.perf_counter(), time.process_time()
    from sqlalchemy import func, select

    from _util import charts, db
    from _util.config import Settings
    from _util.ingest import ingest
    from _util.pipeline import RunOutcome, run_all
    from _util.stages import stage

    charts.render_charts = lambda *args, **kwargs: {}  # charts excluded (their own bench: bench_charts)
    out = Path(out_dir)
    settings = Settings(database_url=db_url or f"sqlite:///{out / 'costs.sqlite'}", cost_source="export",
                        input_files=(data,), export_format="focus", group_by="LINKED_ACCOUNT", lookback_days=400,
                        report_date=D, output_dir=out, plots_destination=str(out / "site"), dry_run=True)
    engine = db.make_engine(settings.database_url)
    t = time.perf_counter()
    db.init_db(engine)
    init = time.perf_counter() - t
    outcome = RunOutcome()
    if only_ingest:
        with stage("fetch+store", outcome.timings):
            outcome.ingest = ingest(settings, engine)
    else:
        run_all(settings, engine, outcome=outcome)
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = time.process_time() - cpu0
    with engine.connect() as conn:
        pairs = select(db.daily_cost.c.service, db.daily_cost.c.breakdown).distinct().subquery()
        series = conn.execute(select(func.count()).select_from(pairs)).scalar()
    engine.dispose()
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "init_s": init, "stages": outcome.timings,
                      "rows": outcome.ingest.rows, "days": outcome.ingest.days, "series": series,
                      "alerts": outcome.analysis.alerts if outcome.analysis else 0, "peak_mib": peak_mib}))


def fresh_database(url: str) -> None:
    """Drop every table of the (MySQL) database: each run backfills an empty one."""
    from _util import db

    engine = db.make_engine(url)
    db.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS schema_version")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default="", help="MySQL/MariaDB URL (its tables are dropped!); default SQLite")
    parser.add_argument("--data", default="", help="keep the export in DIR (reused when there)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ingest-only", action="store_true", help="time the ingest stage alone (export -> DB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        data = Path(args.data or Path(tmp) / "export")
        t0 = time.perf_counter()
        rows = None
        if not list(data.rglob("*.parquet")):
            rows = write_export(data)
        size = sum(p.stat().st_size for p in data.rglob("*.parquet"))
        print(f"export: 13 billing periods, {SERVICES} services x {ACCOUNTS} accounts"
              f"{f', {rows:,} rows' if rows else ''}, {size / 1e6:.0f} MB Parquet, ready in "
              f"{time.perf_counter() - t0:.1f} s (setup, not timed)")
        runs = []
        for i in range(args.runs):
            if args.db_url:
                fresh_database(args.db_url)
            with tempfile.TemporaryDirectory(prefix="run-", dir=tmp) as out:
                done = subprocess.run([sys.executable, __file__, "--child", str(data), out, args.db_url,
                                       "ingest" if args.ingest_only else "all"],
                                      capture_output=True, text=True, cwd=ROOT,
                                      env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
            if done.returncode:
                sys.exit(f"run {i + 1} failed:\n{done.stderr[-3000:]}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            runs.append(r)
            stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
            print(f"  run {i + 1}: {r['wall_s']:.1f} s (CPU {r['cpu_s']:.1f} s), {r['rows']:,} rows, "
                  f"{r['series']:,} series, {r['alerts']} alerts, peak RSS {r['peak_mib']:.0f} MiB; stages (s): "
                  f"{stages}")
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "peak_mib")}
    names = list(runs[0]["stages"])
    stage_med = {k: statistics.median(r["stages"].get(k, 0.0) for r in runs) for k in names}
    store = stage_med.get("fetch+store", 0.0)
    ok = med["wall_s"] <= TARGET_S
    print(f"{'ingest alone: ' if args.ingest_only else ''}backfill of {runs[0]['series']:,} series x {runs[0]['days']} days ({runs[0]['rows']:,} rows) on "
          f"{'MySQL/MariaDB' if args.db_url else 'SQLite'}, median of {len(runs)}: {med['wall_s']:.1f} s "
          f"(CPU {med['cpu_s']:.1f} s), peak RSS {med['peak_mib']:.0f} MiB; ingest {store:.1f} s = "
          f"{runs[0]['rows'] / store if store else 0:,.0f} rows/s; "
          + ", ".join(f"{k} {v:.2f}" for k, v in stage_med.items())
          + f" (target <= {TARGET_S:.0f} s, charts excluded): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "ingest")
    else:
        sys.exit(main())
