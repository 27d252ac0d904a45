#!/usr/bin/env python3
"""Month-to-date totals by service and daily totals for the report date's month; builds the Slack
Block Kit message (with Plot buttons to the charts published for that date) and posts it with --post."""

from __future__ import annotations

import argparse
import sys

from _util import fmt, published, view
from _util.cli import build_parser, run_main
from _util.config import ConfigError, Settings
from _util.pipeline import build_and_send, slack_extra, write_report
from _util.stages import day_view, load_day, open_database

EXAMPLES = """\
  python procSummaries.py --date 2026-11-25          # print the totals; write slack_message.json + preview
  python procSummaries.py --date 2026-11-25 --post   # also post to Slack (once per date; --force to repeat)"""


def body(settings: Settings, args: argparse.Namespace) -> int:
    if args.post and not settings.post_to_slack:
        why = "--dry-run/--demo" if settings.dry_run else "no SLACK_BOT_TOKEN"
        raise ConfigError(f"--post cannot post: {why}")
    if not args.post:
        settings = _no_post(settings)
    with open_database(settings) as engine:
        analysis = load_day(settings, engine)
        # Chart links: what procPlotting published for the same date, when it did.
        links = published.read(settings) or published.Published(settings.day)
        day = view.with_links(day_view(settings, analysis, engine=engine), links.urls, links.page_url,
                              links.missing)

        teams: list = []  # each team's post (TEAMS_FILE), filled before report() is called

        def report(delivery):  # report.json, once the message went out (or not)
            return write_report(settings, day, 0, slack_extra(delivery, teams))

        delivery, json_path, preview = build_and_send(settings, engine, day, report=report, teams_out=teams)
    print(f"Month to date ({analysis.report_date:%Y-%m}): {fmt.money(analysis.summary.mtd_total)}")
    for item in analysis.mtd_by_service:
        print(f"  {fmt.money(item.cost):>15}  {item.service}")
    print("Daily totals:")
    for d in analysis.daily_totals:
        print(f"  {fmt.day_iso(d.date)}  {fmt.money(d.cost):>15}")
    print(f"message: {json_path}\npreview: {preview}")
    if delivery is not None:
        print(f"slack:   {delivery.reason}")
    return 0


def _no_post(settings: Settings) -> Settings:
    from dataclasses import replace

    return replace(settings, dry_run=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("procSummaries.py", __doc__, EXAMPLES)
    parser.add_argument("--post", action="store_true", help="post the message to Slack (needs SLACK_BOT_TOKEN)")
    return run_main(parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
