#!/usr/bin/env python3
"""The daily AWS cost report: fetch Cost Explorer data, store it, find spikes and trend reversals,
render charts to the static site and post the summary to Slack — exactly once per day."""

from __future__ import annotations

import argparse
import sys

from _util import db, preflight
from _util.cli import build_parser, db_password, describe, log, run_main
from _util.config import Settings
from _util.pipeline import RunOutcome, run_all
from _util.runlock import RunLock
from _util.stages import open_database, stage_name

EXAMPLES = """\
  python runCostReporting.py --demo                  # sample data, no AWS/Slack needed; prints where results are
  python runCostReporting.py                         # cron: yesterday (UTC), Cost Explorer -> DB -> site -> Slack
  python runCostReporting.py --date 2026-11-20 -v    # rerun a day (no second Slack post for it)
  python runCostReporting.py --date 2026-11-20 --force   # post that day again
  python runCostReporting.py --dry-run --env-file prod.env   # pre-flight checks, then everything but the Slack post and S3 upload
  python runCostReporting.py --dry-run --check-aws   # the pre-flight also makes one Cost Explorer request ($0.01)

crontab (07:00 UTC, after Cost Explorer's overnight refresh; -q: cron mails only warnings and the error line
of a failed run, straight from stderr — nothing goes through the disk, which may be the thing that is full):
  CRON_TZ=UTC
  0 7 * * * cd /opt/aws_cost_tracking && .venv/bin/python runCostReporting.py -q >/dev/null"""


def body(settings: Settings, args: argparse.Namespace) -> int:
    def preflight_first(engine) -> None:  # before init_db creates any table
        if settings.dry_run and not settings.demo:
            with stage_name("pre-flight"):
                preflight.run_checks(settings, engine, check_aws=args.check_aws)

    with RunLock(settings.lock_path):
        # We hold the run lock: a 'running' row of this host whose process is gone died (mark_killed_runs).
        with open_database(settings, before_init=preflight_first, after_init=db.mark_killed_runs,
                           demo_data=False) as engine:  # --demo: the run's own ingest stores the sample
            return _run(settings, engine)


def _run(settings: Settings, engine) -> int:
    log.info("report for %s (source %s, database %s)%s", settings.day, settings.cost_source,
             settings.public()["database_url"], " [dry run]" if settings.dry_run else "")
    with stage_name("database"):
        run_id = db.start_run(engine, settings.day)
    out = RunOutcome()
    try:
        run_all(settings, engine, outcome=out)
    except BaseException as exc:
        _finish(engine, run_id, out, "failed", describe(exc, [settings.slack_bot_token, db_password(settings.database_url)]))
        raise
    _finish(engine, run_id, out, "ok")
    total = sum(out.timings.values())
    log.info("run finished in %.2f s: %s", total, ", ".join(f"{k} {v:.2f}s" for k, v in out.timings.items()))
    print(f"report:  {out.report_path}")
    if out.publish is not None and out.publish.page_url:
        print(f"site:    {out.publish.page_url}")
    if out.preview_path is not None:
        print(f"preview: {out.preview_path}")
    if out.delivery is not None:
        print(f"slack:   {out.delivery.reason}")
    return 0


def _finish(engine, run_id: int, out: RunOutcome, status: str, error: str | None = None) -> None:
    try:
        db.finish_run(engine, run_id, status=status,
                      ce_requests=(out.ingest.requests if out.ingest else 0) + out.drilldown_requests
                      + out.forecast_requests,
                      rows_upserted=out.ingest.rows if out.ingest else 0,
                      alerts=out.view.alerts if out.view else 0,  # entries, as the message counts them
                      message_ts=getattr(out.delivery, "ts", None), error=error)
    except Exception:  # the run's own error matters more than its record
        log.warning("could not record the run's end", exc_info=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("runCostReporting.py", __doc__, EXAMPLES)
    parser.add_argument("--check-aws", action="store_true",
                        help="with --dry-run: also prove Cost Explorer answers (one request, $0.01)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.check_aws and not args.dry_run:
        print("error: --check-aws only goes with --dry-run (the real run calls Cost Explorer anyway)", file=sys.stderr)
        return 2
    return run_main(parser, argv, body, notify=True)


if __name__ == "__main__":
    sys.exit(main())
