#!/usr/bin/env python3
"""Speed and memory of the export generator (tests/export_gen.py): one month of about 10 million hourly rows.

Each format runs in a fresh interpreter (its peak RSS is its own). Printed per format: rows, seconds, rows/s, the
files' size on disk, the process's peak RSS (CPU s: the process's CPU time, the figure a busy machine does not
inflate), and what Athena would scan and bill for a daily cost per service x account
query over the month (the compressed size of the columns it reads; CSV is read whole). Target (2 cores): well under a
minute, memory bounded by one day.

    python -m bench.export_gen_speed [--rows 10000000] [--format focus|cur2|csv ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = 31
ATHENA_USD_PER_TB = 5.0
# The columns a daily cost per service x account query reads (with a record-type filter and the currency).
QUERY_COLUMNS = {
    "focus": ("ChargePeriodStart", "ServiceName", "ProviderName", "BillingCurrency", "ChargeCategory", "SubAccountId",
              "BilledCost"),
    "cur2": ("line_item_usage_start_date", "line_item_product_code", "line_item_currency_code",
             "line_item_line_item_type", "line_item_usage_account_id", "line_item_unblended_cost"),
}


def child(fmt: str, rows: int) -> None:
    from tests.export_gen import write_export

    n_series = max(1, round(rows / DAYS / 24))
    file_format = "csv.gz" if fmt == "csv" else "parquet"
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        truth = write_export(tmp, "focus" if fmt == "csv" else fmt, date(2026, 10, 1), months=1, n_accounts=200,
                             n_services=40, n_series=n_series, seed=1, file_format=file_format)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        files = [f for fs in truth.data_files.values() for f in fs]
        size = sum(f.stat().st_size for f in files)
        scanned = 0 if fmt == "csv" else sum(scan_bytes(f, QUERY_COLUMNS[fmt]) for f in files)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"fmt": fmt, "rows": truth.rows, "series": n_series, "seconds": seconds, "cpu": cpu, "bytes": size,
                      "scanned": scanned, "rss": rss}))


def scan_bytes(path: Path, columns: tuple[str, ...]) -> int:
    """Compressed bytes of `columns` in a Parquet file: what Athena scans (and bills) reading only those columns."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(j).path.split(".")[0] for j in range(meta.num_columns)]
    return sum(meta.row_group(i).column(j).total_compressed_size
               for i in range(meta.num_row_groups) for j, name in enumerate(names) if name in columns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--format", choices=("focus", "cur2", "csv"), action="append")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.rows)
        return 0
    print("| export | rows | series | seconds | CPU s | rows/s | files MB | peak RSS MB | Athena scan MB | Athena $ |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fmt in args.format or ("focus", "cur2"):
        out = subprocess.run([sys.executable, "-m", "bench.export_gen_speed", "--child", fmt, "--rows",
                              str(args.rows)], cwd=ROOT, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        label = "FOCUS 1.2 csv.gz" if fmt == "csv" else {"focus": "FOCUS 1.2 parquet", "cur2": "CUR 2.0 parquet"}[fmt]
        # Athena bills at least 10 MB per query; CSV is read whole.
        scanned = max(r["scanned"] or r["bytes"], 10_000_000)
        print(f"| {label} | {r['rows']:,} | {r['series']:,} | {r['seconds']:.1f} | {r['cpu']:.1f} "
              f"| {r['rows'] / r['seconds']:,.0f} "
              f"| {r['bytes'] / 1e6:,.0f} | {r['rss'] / 2**20:,.0f} | {scanned / 1e6:,.0f} "
              f"| {scanned / 1e12 * ATHENA_USD_PER_TB:.4f} |")
    print("Athena scan: the compressed bytes of the query's columns in the month's files (partition projection reads "
          "only the billing periods named); $ at $5 per TB scanned, 10 MB minimum.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
