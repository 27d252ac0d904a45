#!/usr/bin/env python3
"""Find cost spikes (z-score vs the trailing baseline) and trend reversals (MACD crossing its signal line)
for the report date, from the costs stored in the database."""

from __future__ import annotations

import argparse
import json
import sys

from _util import report
from _util.cli import build_parser, run_main
from _util.config import Settings
from _util.stages import day_view, load_day, open_database

EXAMPLES = """\
  python procAmzAlerts.py --date 2026-11-25          # alerts as a table
  python procAmzAlerts.py --date 2026-11-25 --json   # the report.json content on stdout
  SPIKE_Z_THRESHOLD=3 TREND_FILTER=off python procAmzAlerts.py   # try other thresholds on stored data"""


def body(settings: Settings, args: argparse.Namespace) -> int:
    with open_database(settings) as engine:
        analysis = load_day(settings, engine)
        day = day_view(settings, analysis, engine=engine)  # with the root causes the run stored: no request
    if args.json:
        print(json.dumps(report.report_dict(day, settings.public(), 0), indent=2, allow_nan=False,
                         ensure_ascii=False))
    else:
        print(report.format_alerts_table(day))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("procAmzAlerts.py", __doc__, EXAMPLES)
    parser.add_argument("--json", action="store_true", help="print the report JSON instead of a table")
    return run_main(parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
