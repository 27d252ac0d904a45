#!/usr/bin/env python3
"""Several hosts on one fresh database: N processes at once each run init_db (create/upgrade the schema) and store
overlapping days twice, over several trials (tables dropped before each). Prints failed trials, deadlocks retried
and seconds per trial. Target: 0 failed trials.

    python -m bench.bench_db_race --db-url mysql+pymysql://root@127.0.0.1:3306/test_db [--workers 4 --trials 9]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

from _util import db
from _util.model import CostRow

D1 = date(2026, 11, 1)
DAYS = 6


class Count(logging.Handler):
    def __init__(self):
        super().__init__()
        self.retries = 0

    def emit(self, record):
        self.retries += "trying the transaction again" in record.getMessage()


def worker(url: str, index: int, start_at: float) -> tuple[str, int]:
    counter = Count()
    logging.getLogger("_util.db").addHandler(counter)
    logging.getLogger("_util.db").setLevel(logging.INFO)
    engine = db.make_engine(url)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        db.init_db(engine)
        for _ in range(2):
            days = {D1 + timedelta(days=index + i): False for i in range(DAYS)}
            db.store_costs(engine, [CostRow(d, s, "", Decimal(d.day), "USD", False) for d in days for s in "ABC"],
                           days, metric="UnblendedCost", group_by="")
        return "ok", counter.retries
    except Exception as exc:  # the failure is the figure
        return str(exc).splitlines()[0][:120], counter.retries
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=9)
    args = parser.parse_args()
    failed = retries = 0
    for trial in range(1, args.trials + 1):
        engine = db.make_engine(args.db_url)
        db.metadata.drop_all(engine)
        engine.dispose()
        started = time.monotonic()
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            start_at = time.time() + 0.5
            results = [r.get(120) for r in [pool.apply_async(worker, (args.db_url, i, start_at))
                                            for i in range(args.workers)]]
        errors = [message for message, _ in results if message != "ok"]
        retries += sum(n for _, n in results)
        failed += bool(errors)
        print(f"trial {trial}: {time.monotonic() - started - 0.5:.2f} s, "
              f"{'ok' if not errors else 'FAILED: ' + errors[0]}")
    print(f"{failed} of {args.trials} trials failed ({args.workers} processes each); {retries} deadlock retries")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
