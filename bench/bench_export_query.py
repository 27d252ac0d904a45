#!/usr/bin/env python3
"""COST_SOURCE=export with DuckDB: one month of FOCUS Parquet (hourly rows) -> daily cost per service x account.

A throw-away FOCUS-shaped month (ROWS rows, 60 services, 500 accounts, tags) is written once in a child process;
a fresh child then runs exports.open_export + exports.daily_costs (COST_GROUP_BY=LINKED_ACCOUNT, the same Trino
text Athena runs, transpiled). Printed (3 fresh children, medians): seconds (DuckDB's two scans, the rows built),
CPU seconds, rows/s, the process's peak RSS, PASS/FAIL. Target (2 cores): 10 million rows <= 10 s and <= 2 GB. The Athena path scans only the columns the query names in the pruned billing period.

    python -m bench.bench_export_query [ROWS] [--data DIR]   # default 10,000,000; DIR: keep/reuse the month
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_month(folder: Path, rows: int) -> None:
    """FOCUS-shaped Parquet of September 2024 in row groups (numpy-generated, vectorised)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    out = folder / "data" / "BILLING_PERIOD=2024-09"
    out.mkdir(parents=True)
    services = np.array([f"Service {i:02d}" for i in range(60)], dtype=object)
    accounts = np.array([f"{100000000000 + i}" for i in range(500)], dtype=object)
    categories = np.array(["Usage"] * 18 + ["Credit", "Tax"], dtype=object)
    tags = np.array([json.dumps({"team": f"t{i}"}) for i in range(40)] + [None], dtype=object)
    start = np.datetime64("2024-09-01T00:00:00", "us")
    chunk = 2_000_000
    with pq.ParquetWriter(out / "focus-00001.snappy.parquet", pa.schema([
            ("ChargePeriodStart", pa.timestamp("us")), ("ProviderName", pa.string()), ("ServiceName", pa.string()),
            ("SubAccountId", pa.string()), ("RegionId", pa.string()), ("ChargeCategory", pa.string()),
            ("BillingCurrency", pa.string()), ("BilledCost", pa.float64()), ("EffectiveCost", pa.float64()),
            ("ResourceId", pa.string()), ("Tags", pa.string())])) as writer:
        for done in range(0, rows, chunk):
            n = min(chunk, rows - done)
            hours = rng.integers(0, 30 * 24, n)
            cost = np.round(rng.gamma(0.5, 0.2, n), 10)
            writer.write_table(pa.table({
                "ChargePeriodStart": start + hours.astype("timedelta64[h]").astype("timedelta64[us]"),
                "ProviderName": pa.array(["AWS"] * n), "ServiceName": services[rng.integers(0, 60, n)],
                "SubAccountId": accounts[rng.integers(0, 500, n)], "RegionId": pa.array(["us-east-1"] * n),
                "ChargeCategory": categories[rng.integers(0, 20, n)], "BillingCurrency": pa.array(["USD"] * n),
                "BilledCost": cost, "EffectiveCost": cost,
                "ResourceId": np.char.add("i-", rng.integers(0, 50_000, n).astype(str)).astype(object),
                "Tags": tags[rng.integers(0, 41, n)]}))


def child(folder: str, rows: int) -> None:
    from datetime import date

    from _util import exports

    phases = {"duckdb": 0.0, "build": 0.0}

    def timed(fn, phase):
        def run(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[phase] += time.perf_counter() - t
        return run

    exports.ExportTable.run_arrow = timed(exports.ExportTable.run_arrow, "duckdb")  # both queries: sums, days
    exports.parse_daily_frame = timed(exports.parse_daily_frame, "build")  # the result -> the rows to store
    cpu0, t0 = time.process_time(), time.perf_counter()
    table = exports.open_export([folder])
    parsed = exports.daily_costs(table, date(2024, 9, 1), date(2024, 9, 30), metric="UnblendedCost",
                                 group_by="LINKED_ACCOUNT", exclude=("Credit", "Refund"), today=date(2026, 1, 1))
    table.close()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": time.process_time() - cpu0, "rows": rows,
                      "series_days": parsed.count, "peak_mb": peak, **phases}))


def main() -> int:
    args = sys.argv[1:]
    keep = args[args.index("--data") + 1] if "--data" in args else ""
    args = [a for i, a in enumerate(args) if a != "--data" and (i == 0 or args[i - 1] != "--data")]
    rows = int(args[0]) if args else 10_000_000
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        folder = keep or tmp
        t0 = time.perf_counter()
        if not list(Path(folder).rglob("*.parquet")):
            subprocess.run([sys.executable, "-c", f"import sys; sys.path[:0] = [{str(ROOT)!r}]; from pathlib import "
                            f"Path; from bench.bench_export_query import write_month; write_month(Path({folder!r}), "
                            f"{rows})"], check=True)
        size = sum(p.stat().st_size for p in Path(folder).rglob("*.parquet"))
        print(f"{rows:,} FOCUS rows ({size / 1e6:.0f} MB Parquet) ready in {time.perf_counter() - t0:.1f} s (setup)")
        runs = []
        for i in range(3):
            out = subprocess.run([sys.executable, "-c", f"import sys; sys.path[:0] = [{str(ROOT)!r}]; "
                                  f"from bench.bench_export_query import child; child({folder!r}, {rows})"],
                                 check=True, capture_output=True, text=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(r)
            print(f"  run {i + 1}: {r['seconds']:.2f} s (DuckDB {r['duckdb']:.2f} s, rows built {r['build']:.2f} s, "
                  f"CPU {r['cpu']:.2f} s), peak RSS {r['peak_mb']:.0f} MB")
    med = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "cpu", "peak_mb", "duckdb", "build")}
    ok = med["seconds"] <= 10 and med["peak_mb"] <= 2048
    print(f"daily cost per service x account, one month (median of 3): {med['seconds']:.2f} s "
          f"(DuckDB {med['duckdb']:.2f} s, rows built {med['build']:.2f} s; CPU {med['cpu']:.2f} s), "
          f"{rows / med['seconds']:,.0f} rows/s, {runs[0]['series_days']:,} rows out, peak RSS {med['peak_mb']:.0f} MB "
          f"(target <= 10 s, <= 2048 MB): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
