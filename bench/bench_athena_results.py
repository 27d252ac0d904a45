#!/usr/bin/env python3
"""Reading an Athena result at scale: the daily query's answer for SERIES series x DAYS days, as Athena writes its
result file (header, every value quoted, NULL unquoted-empty), served by moto's S3 on 127.0.0.1 over HTTP and read
by athena.read_result_csv (streamed, typed) in a fresh process.

Prints the file size, rows, seconds, rows/s and the reader process's peak RSS above its baseline after imports,
and the GetQueryResults calls (1,000 rows each) the same answer would have taken.

    .venv/bin/python -m bench.bench_athena_results [--series 20000] [--days 62]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import time

import numpy as np

TYPES = {"usage_date": "date", "service": "varchar", "breakdown": "varchar", "amount": ("decimal", 38, 10),
         "currency": "varchar", "billing_period": "varchar"}


def athena_csv(series: int, days: int, seed: int = 1) -> bytes:
    """The daily answer as Athena's CSV: series x days rows, amounts with 10 decimals, some NULL breakdowns."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(days, dtype="int32") + np.datetime64("2026-10-01", "D").astype("int32"), series)
    sid = np.tile(np.arange(series), days)
    breakdown = pa.array(np.char.add("acct-", (sid % 997).astype(str)))
    breakdown = pa.compute.if_else(pa.array(sid % 50 == 0), pa.nulls(len(sid), pa.string()), breakdown)
    amount = np.round(rng.gamma(2.0, 40.0, len(sid)), 10)
    table = pa.table({
        "usage_date": pa.array(day, pa.date32()),
        "service": pa.array(np.char.add("Service ", (sid // 997).astype(str))),
        "breakdown": breakdown,
        "amount": pa.array([f"{a:.10f}" for a in amount]),  # the text Athena writes for decimal(38,10)
        "currency": pa.array(np.full(len(sid), "USD")),
        "billing_period": pa.array(np.where(day < np.datetime64("2026-11-01", "D").astype("int32"), "2026-10",
                                            "2026-11")),
    })
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="all_valid"))  # nulls stay unquoted-empty
    return sink.getvalue().to_pybytes()


def _hwm_kb() -> int:
    """This process's peak RSS (kB): /proc's VmHWM, reset at exec (ru_maxrss keeps the parent's across exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def reader(endpoint: str, bucket: str, key: str) -> None:
    """Child: read the file as run_query does and print JSON figures."""
    import boto3

    from _util import athena

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    types = {name: athena.arrow_type({"Type": t} if isinstance(t, str) else
                                     {"Type": t[0], "Precision": t[1], "Scale": t[2]}) for name, t in TYPES.items()}
    s3.head_bucket(Bucket=bucket)  # connection and imports warm before the baseline
    base = _hwm_kb()
    started = time.perf_counter()
    table = athena.read_result_csv(s3, f"s3://{bucket}/{key}", types)
    seconds = time.perf_counter() - started
    peak = _hwm_kb()
    exact = str(table.column("amount").type)
    print(json.dumps({"rows": table.num_rows, "seconds": seconds, "peak_mb": (peak - base) / 1024,
                      "table_mb": table.nbytes / 2 ** 20, "amount_type": exact}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=20000)
    parser.add_argument("--days", type=int, default=62)
    parser.add_argument("--reader", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        reader(*args.reader)
        return

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        data = athena_csv(args.series, args.days)
        rows = args.series * args.days
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
        s3.create_bucket(Bucket="results")
        s3.put_object(Bucket="results", Key="athena/q.csv", Body=data)
        size_mb = len(data) / 2 ** 20
        del data
        out = subprocess.run([sys.executable, "-m", "bench.bench_athena_results", "--reader", endpoint, "results",
                              "athena/q.csv"], capture_output=True, text=True, check=True, env=os.environ)
        fig = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    assert fig["rows"] == rows, fig
    print(f"result file: {rows:,} rows ({args.series:,} series x {args.days} days), {size_mb:.1f} MB of CSV, "
          f"from moto's S3 over HTTP on 127.0.0.1")
    print(f"read_result_csv: {fig['seconds']:.2f} s, {rows / fig['seconds']:,.0f} rows/s, "
          f"{size_mb / fig['seconds']:.0f} MB/s; peak RSS +{fig['peak_mb']:.0f} MB (table {fig['table_mb']:.0f} MB); "
          f"amount typed {fig['amount_type']}")
    print(f"the same answer through GetQueryResults: {math.ceil((rows + 1) / 1000):,} calls of 1,000 rows")


if __name__ == "__main__":
    main()
