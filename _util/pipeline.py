"""The daily job, stage by stage: fetch -> store -> summaries/alerts -> charts -> publish -> Slack -> report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from . import db
from .config import Settings
from .ingest import IngestResult, ingest
from .model import AlertParams, Analysis

log = logging.getLogger("aws_cost_tracking")


@dataclass
class RunOutcome:
    """What a whole run produced (None where a stage did not run)."""

    ingest: IngestResult | None = None
    analysis: Analysis | None = None
    publish: object | None = None  # site.PublishResult
    delivery: object | None = None  # slack.DeliveryResult
    report_path: Path | None = None
    preview_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


_CURRENT: list[str] = []  # the stages entered and not yet left (innermost last); the deadline names the last


def current_stage() -> str:
    """The stage the run is in now ("start" before the first)."""
    return _CURRENT[-1] if _CURRENT else "start"


@contextmanager
def stage_name(name: str) -> Iterator[None]:
    """Mark the run as being in stage `name` (for the deadline's error line) without timing or logging it."""
    _CURRENT.append(name)
    try:
        yield
    finally:
        _CURRENT.pop()


@contextmanager
def stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time a stage and log one line for it."""
    started = time.perf_counter()
    try:
        with stage_name(name):  # named before the start line: a signal arriving from then on names this stage
            log.debug("stage %s: start", name)
            yield
    except BaseException:  # the deadline's RunTimeout too
        timings[name] = time.perf_counter() - started
        log.error("stage %s failed after %.2f s", name, timings[name])
        raise
    timings[name] = time.perf_counter() - started
    log.info("stage %s: %.2f s", name, timings[name])


def ensure_demo_data(settings: Settings, engine: Engine) -> None:
    """With --demo, store the sample data up to d first, so every stage script runs on its own."""
    if settings.demo:
        from .ingest import ingest

        ingest(settings, engine)


def load_analysis(settings: Settings, engine: Engine) -> Analysis:
    """Read [d - LOOKBACK_DAYS, d] from the database and compute summaries and alerts."""
    from . import metrics

    d = settings.day
    costs = db.load_service_costs(engine, d - timedelta(days=settings.lookback_days), d)
    return metrics.analyse(costs, d, AlertParams.from_settings(settings))


def render_and_publish(settings: Settings, analysis: Analysis, *, s3_client=None, timings=None, day_view=None):
    """Render the day's charts (titled by day_view, built here when not given) and publish them with the site
    pages; return site.PublishResult."""
    from . import charts, site, view

    timings = {} if timings is None else timings
    folder = settings.output_dir / settings.day.isoformat() / "charts"
    with stage("charts", timings):
        if day_view is None:
            day_view = view.build_view(analysis, view.Rules.from_settings(settings))
        try:
            files = charts.render_charts(analysis, day_view, AlertParams.from_settings(settings), folder)
        except OSError as exc:  # a full or read-only OUTPUT_DIR: the message still goes out, without charts
            log.error("charts: cannot write %s (%s); no charts this run", folder, exc.strerror or exc)
            files = {}
    with stage("publish", timings):
        result = site.publish(analysis, files, settings, s3_client=s3_client)
    for error in result.errors:
        log.error("%s", error)
    if result.missing:
        log.warning("%d chart(s) not published: %s", len(result.missing), ", ".join(result.missing[:10]))
    return result


def message_context(settings: Settings, analysis: Analysis, missing: list[str]):
    """The non-data facts the Slack message states (thresholds, metric, freshness, missing charts)."""
    from .slack_message import MessageContext

    return MessageContext(
        spike_z_threshold=settings.spike_z_threshold, spike_min_delta_usd=settings.spike_min_delta_usd,
        metric=settings.cost_metric, exclude_record_types=tuple(settings.exclude_record_types),
        group_by=settings.group_by, trend_filter=settings.trend_filter, missing_charts=list(missing),
        estimated_dates=list(analysis.estimated_dates))


def build_and_send(settings: Settings, engine: Engine, analysis: Analysis, chart_urls: dict[str, str],
                   page_url: str | None, missing: list[str], *, slack_client=None, timings=None,
                   report: Callable[[object | None], Path] | None = None):
    """Build the Block Kit message(s) in memory, post them (exactly once) when enabled, then write
    slack_message.json, the preview and (with `report`, given the delivery) report.json.

    The post never depends on OUTPUT_DIR being writable. Every file is tried; then a Slack failure is raised, else
    the first write failure (an OSError whose one line names the path). Returns (delivery, json path, preview path).
    """
    from . import slack, slack_message

    timings = {} if timings is None else timings
    with stage("message", timings):
        payloads = slack_message.build_messages(analysis, chart_urls, page_url=page_url,
                                                context=message_context(settings, analysis, missing))
    delivery, failure = None, None
    if settings.post_to_slack:
        try:
            with stage("slack", timings):
                delivery = slack.deliver(payloads, settings, engine, settings.day, client=slack_client,
                                         force=settings.force,
                                         ledger=slack.ledger_path(settings.output_dir, settings.day))
            log.info("slack: %s", delivery.reason)
        except slack.SlackDeliveryError as exc:
            failure = exc
    else:
        why = "dry run" if settings.dry_run else "no SLACK_BOT_TOKEN"
        log.info("slack: nothing posted (%s)", why)
    errors: list[OSError] = []
    paths: list[Path | None] = [None, None, None]
    started = time.perf_counter()
    if report is not None:  # first: report.json is the run's result
        try:
            paths[2] = report(delivery)
        except OSError as exc:
            errors.append(exc)
    try:
        paths[0], paths[1] = slack.write_outputs(payloads, settings.output_dir, settings.day,
                                                 settings.slack_channel_id or "<channel>", page_url)
    except OSError as exc:
        errors.append(exc)
    timings["outputs"] = time.perf_counter() - started
    for error in errors[1:] if failure is None else errors:
        log.error("%s", error)
    if failure is not None:
        raise failure
    if errors:
        raise errors[0]
    if paths[1] is not None and delivery is None:
        log.info("slack: preview at %s", paths[1])
    return delivery, paths[0], paths[1]


def write_report(settings: Settings, analysis: Analysis, chart_urls: dict[str, str], ce_requests: int,
                 extra: dict | None = None) -> Path:
    """Write OUTPUT_DIR/<d>/report.json (atomically; an OSError names the path)."""
    from . import report

    data = report.report_dict(analysis, chart_urls, settings.public(), ce_requests)
    if extra:
        data.update(extra)
    return report.write_report(settings.output_dir / settings.day.isoformat() / "report.json", data)


def run_all(settings: Settings, engine: Engine, *, ce_client=None, s3_client=None, slack_client=None,
            outcome: RunOutcome | None = None) -> RunOutcome:
    """The whole daily job; raises on the first stage that cannot go on. Slack is posted from memory before any
    output file is written, so a full or read-only OUTPUT_DIR fails the run (naming the file) after the post."""
    out = outcome or RunOutcome()
    t = out.timings
    with stage("fetch+store", t):
        out.ingest = ingest(settings, engine, client=ce_client)
    with stage("summaries+alerts", t):
        out.analysis = load_analysis(settings, engine)
    a = out.analysis
    log.info("d=%s: total %.2f USD, %d spike(s), %d trend reversal(s), %d service(s) this month",
             a.report_date, a.summary.total, len(a.spikes), len(a.trends), len(a.mtd_by_service))
    out.publish = render_and_publish(settings, a, s3_client=s3_client, timings=t)
    urls, page_url, missing = out.publish.urls, out.publish.page_url, list(out.publish.missing)
    requests = out.ingest.requests

    def report(delivery) -> Path:
        extra = {"missing_charts": missing, "page_url": page_url}
        if delivery is not None:
            extra["slack"] = {"ts": delivery.ts, "posted": delivery.posted, "skipped": delivery.skipped}
            out.delivery = delivery
        out.report_path = write_report(settings, a, urls, requests, extra)
        return out.report_path

    out.delivery, _, out.preview_path = build_and_send(settings, engine, a, urls, page_url, missing,
                                                       slack_client=slack_client, timings=t, report=report)
    return out
