#!/usr/bin/env python3
"""Fetch daily AWS costs (Cost Explorer, built-in sample, saved JSON, or Data Exports files) and store them in the
database."""

from __future__ import annotations

import argparse
import sys

from _util.cli import build_parser, log, run_main
from _util.config import Settings
from _util.ingest import ingest
from _util.stages import open_database

EXAMPLES = """\
  python procAmzData.py                          # yesterday (UTC) from Cost Explorer
  python procAmzData.py --date 2026-11-25 -v     # a given day; refetches Estimated/missing days up to it
  python procAmzData.py --source sample          # built-in sample data, no AWS account needed
  python procAmzData.py --source file --input nov.json dec.json   # saved `aws ce get-cost-and-usage` output
  python procAmzData.py --source export --input s3://bills/focus/data/   # AWS Data Exports (FOCUS / CUR 2.0)"""


def body(settings: Settings, args: argparse.Namespace) -> int:
    with open_database(settings, demo_data=False) as engine:  # --demo: the ingest below stores the sample
        result = ingest(settings, engine)
    log.info("done: %d CE request(s), %d rows", result.requests, result.rows)
    print(f"{result.rows} rows stored for {result.days} days; {result.requests} Cost Explorer request(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("procAmzData.py", __doc__, EXAMPLES)
    return run_main(parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
