#!/usr/bin/env python3
"""Render the report date's charts (spikes, trends, month-to-date, daily by service) and publish them
with the static site pages to PLOTS_DESTINATION (a local folder or s3://bucket/prefix)."""

from __future__ import annotations

import argparse
import json
import sys

from _util import published
from _util.cli import build_parser, run_main
from _util.config import Settings
from _util.pipeline import render_and_publish
from _util.stages import day_view, load_day, open_database

EXAMPLES = """\
  python procPlotting.py --date 2026-11-25                       # render + publish to PLOTS_DESTINATION
  PLOTS_DESTINATION=s3://my-bucket/costs python procPlotting.py  # upload to S3
  python procPlotting.py --dry-run                               # S3 destination: write the site locally instead"""


def body(settings: Settings, args: argparse.Namespace) -> int:
    with open_database(settings) as engine:
        analysis = load_day(settings, engine)
        day = day_view(settings, analysis, engine=engine)  # with the root causes the run stored: no request
    result = render_and_publish(settings, analysis, day)
    # procSummaries.py takes its Plot buttons from here (the full run hands them over in memory).
    published.write(settings, published.Published.from_result(settings.day, result))
    print(json.dumps({"page_url": result.page_url, "charts": result.urls, "missing": result.missing},
                     indent=2, ensure_ascii=False))
    if result.missing:
        why = f": {result.errors[0]}" if getattr(result, "errors", None) else ""
        print(f"error: {len(result.missing)} chart(s) not published to {result.destination}{why}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("procPlotting.py", __doc__, EXAMPLES)
    return run_main(parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
