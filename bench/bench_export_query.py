#!/usr/bin/env python3
"""COST_SOURCE=export with DuckDB: one month of FOCUS Parquet (hourly rows) -> daily cost per service x account.

A throw-away FOCUS-shaped month (ROWS rows, 60 services, 500 accounts, tags) is written once in a child process;
a fresh child then runs exports.open_export + exports.daily_costs (COST_GROUP_BY=LINKED_ACCOUNT, the same Trino
text Athena runs, transpiled). Printed: seconds, rows/s, the process's peak RSS. Target (2 cores): 10 million rows
<= 10 s and <= 2 GB. The Athena path scans only the columns the query names in the pruned billing period.

    python -m bench.bench_export_query [ROWS]      # default 10,000,000
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

    t0 = time.perf_counter()
    table = exports.open_export([folder])
    parsed = exports.daily_costs(table, date(2024, 9, 1), date(2024, 9, 30), metric="UnblendedCost",
                                 group_by="LINKED_ACCOUNT", exclude=("Credit", "Refund"), today=date(2026, 1, 1))
    table.close()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "series_days": len(parsed.rows), "peak_mb": peak}))


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import sys; sys.path[:0] = [{str(ROOT)!r}]; from pathlib import Path; "
                        f"from bench.bench_export_query import write_month; write_month(Path({tmp!r}), {rows})"],
                       check=True)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
        print(f"wrote {rows:,} FOCUS rows ({size / 1e6:.0f} MB Parquet) in {time.perf_counter() - t0:.1f} s")
        out = subprocess.run([sys.executable, "-c", f"import sys; sys.path[:0] = [{str(ROOT)!r}]; "
                              f"from bench.bench_export_query import child; child({tmp!r}, {rows})"],
                             check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"daily cost per service x account, one month: {r['seconds']:.2f} s, {rows / r['seconds']:,.0f} rows/s, "
              f"{r['series_days']:,} rows out, peak RSS {r['peak_mb']:.0f} MB (target <= 10 s, <= 2048 MB)")


if __name__ == "__main__":
    main()
