"""The daily job, stage by stage: fetch -> store -> summaries/alerts -> charts -> publish -> Slack -> report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from . import ce_forecast, db, published, stages, view
from .config import Settings
from .ingest import IngestResult, ingest, source_today
from .model import AlertParams, Analysis
from .stages import stage
from .view import DayView

log = logging.getLogger("aws_cost_tracking")


@dataclass
class RunOutcome:
    """What a whole run produced (None where a stage did not run)."""

    ingest: IngestResult | None = None
    drilldown_requests: int = 0  # Cost Explorer requests of the root-causes stage this run
    forecast_requests: int = 0  # GetCostForecast requests this run (FORECAST_SOURCE=ce; 0 or 1)
    analysis: Analysis | None = None
    view: DayView | None = None  # the day's view model, with the published links once there are any
    publish: object | None = None  # site.PublishResult
    delivery: object | None = None  # slack.DeliveryResult
    team_deliveries: list = field(default_factory=list)  # TeamDelivery of each team with items
    report_path: Path | None = None
    preview_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def render_and_publish(settings: Settings, analysis: Analysis, day_view: DayView, *, s3_client=None, timings=None):
    """Render the day's charts and publish them with the site pages (views of day_view); return
    site.PublishResult."""
    from . import charts, site

    timings = {} if timings is None else timings
    folder = settings.output_dir / settings.day.isoformat() / "charts"
    with stage("charts", timings):
        try:
            files = charts.render_charts(analysis, day_view, AlertParams.from_settings(settings), folder)
        except OSError as exc:  # a full or read-only OUTPUT_DIR: the message still goes out, without charts
            log.error("charts: cannot write %s (%s); no charts this run", folder, exc.strerror or exc)
            files = {}
    with stage("publish", timings):
        result = site.publish(day_view, files, settings, s3_client=s3_client)
    for error in result.errors:
        log.error("%s", error)
    if result.missing:
        log.warning("%d chart(s) not published: %s", len(result.missing), ", ".join(result.missing[:10]))
    return result


@dataclass
class TeamDelivery:
    """One team's post of the day: its channel, and what deliver did or the one line saying why it failed."""

    team: str
    channel: str
    payloads: list[dict]
    delivery: object | None = None  # slack.DeliveryResult
    error: str | None = None

    def as_dict(self) -> dict:
        """report.json's entry of slack.teams."""
        d = self.delivery
        return {"team": self.team, "channel": self.channel, "ts": getattr(d, "ts", None),
                "posted": getattr(d, "posted", 0), "skipped": getattr(d, "skipped", False), "error": self.error}


def team_messages(settings: Settings, day_view: DayView) -> list[TeamDelivery]:
    """Each team with items today (entries, or its budget alerting) and its message (a view.for_team of day_view),
    in teams file order; a team whose channel is the main one or an earlier team's gets none (one message per
    channel and day): logged."""
    from . import slack_message

    if day_view.teams is None:
        return []
    out: list[TeamDelivery] = []
    used = {settings.slack_channel_id: "the main report"}
    for team in day_view.teams:
        team_view = view.for_team(day_view, team.name)
        if not team_view.has_items:  # no alert of its own and no budget alert today
            continue
        if team.channel in used:
            log.warning("slack: team %s shares channel %s with %s; its items are only in the main report",
                        team.name, team.channel, used[team.channel])
            continue
        used[team.channel] = f"team {team.name}"
        out.append(TeamDelivery(team.name, team.channel, slack_message.build_messages(team_view)))
    return out


def build_and_send(settings: Settings, engine: Engine, day_view: DayView, *, slack_client=None, timings=None,
                   report: Callable[[object | None], Path] | None = None, teams_out: list | None = None):
    """Build the Block Kit message(s) in memory, post them (exactly once) when enabled, then write
    slack_message.json, the preview and (with `report`, given the delivery) report.json. day_view carries the
    published links (view.with_links). With teams (TEAMS_FILE), each team with items gets its own message in its
    channel after the main one (exactly once per channel and day); a team's failure is logged and kept in its
    TeamDelivery (appended to teams_out) and does not stop the others.

    The post never depends on OUTPUT_DIR being writable. Every file is tried; then a Slack failure of the main
    channel is raised, else the first write failure (an OSError whose one line names the path). Returns
    (delivery, json path, preview path).
    """
    from . import slack, slack_message

    timings = {} if timings is None else timings
    with stage("message", timings):
        payloads = slack_message.build_messages(day_view)
        teams = team_messages(settings, day_view)
    if teams_out is not None:
        teams_out.extend(teams)
    delivery, failure = None, None
    if settings.post_to_slack:
        ledger = slack.ledger_path(settings.output_dir, settings.day)
        try:
            with stage("slack", timings):
                delivery = slack.deliver(payloads, settings, engine, settings.day, client=slack_client,
                                         force=settings.force, ledger=ledger)
            log.info("slack: %s", delivery.reason)
        except slack.SlackDeliveryError as exc:
            failure = exc
        if teams and failure is None:  # a failed main post: the rerun posts every channel
            with stage("slack teams", timings):
                for team in teams:
                    try:
                        team.delivery = slack.deliver(team.payloads, settings, engine, settings.day,
                                                      client=slack_client, force=settings.force, ledger=ledger,
                                                      channel=team.channel)
                        log.info("slack: team %s: %s", team.team, team.delivery.reason)
                    except slack.SlackDeliveryError as exc:
                        team.error = str(exc)
                        log.error("slack: team %s: %s", team.team, exc)
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
                                                 settings.slack_channel_id or "<channel>", day_view.page_url,
                                                 teams=[(t.team, t.channel, t.payloads) for t in teams])
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


def save_published(settings: Settings, result) -> Path | None:
    """Write OUTPUT_DIR/<d>/published.json from a site.PublishResult, for procSummaries.py run alone later. Best
    effort within the full run: a failure is a warning (report.json and the message carry the links anyway)."""
    try:
        return published.write(settings, published.Published.from_result(settings.day, result))
    except OSError as exc:
        log.warning("%s: procSummaries.py run alone for %s will find no chart links", exc, settings.day)
        return None


def slack_extra(delivery, teams=()) -> dict:
    """report.json's "slack" key for a slack.DeliveryResult (nothing when no delivery was confirmed), with each
    team's post (TeamDelivery) under "teams" when there were any."""
    if delivery is None:
        return {}
    out = {"ts": delivery.ts, "posted": delivery.posted, "skipped": delivery.skipped}
    if teams:
        out["teams"] = [t.as_dict() for t in teams]
    return {"slack": out}


def write_report(settings: Settings, day: DayView, ce_requests: int, extra: dict | None = None) -> Path:
    """Write OUTPUT_DIR/<d>/report.json from the day's view (atomically; an OSError names the path)."""
    from . import report

    data = report.report_dict(day, settings.public(), ce_requests, extra)
    return report.write_report(settings.output_dir / settings.day.isoformat() / "report.json", data)


NO_CE_STATUS = "unavailable: root causes need Cost Explorer or export files (COST_SOURCE=ce, sample or export)"
OFF_STATUS = "not analysed (DRILLDOWN=off)"
NO_REQUESTS_STATUS = "not analysed (DRILLDOWN_MAX_REQUESTS=0)"
WITH_SPIKE_STATUS = "not analysed (explained with its spike)"  # a trend of a service that also spikes on d


def find_root_causes(settings: Settings, engine: Engine, analysis: Analysis, *, client=None) -> dict:
    """The root causes of the day's spikes, trends and new services ((service, breakdown, kind) ->
    drilldown.RootCauseResult), asked of the source's Cost Explorer (client, else the source's own, made only when a
    request is needed; COST_SOURCE=file: the saved drill-down answers among its --input files, costing no request;
    COST_SOURCE=export: the export's line items, down to the resource id, costing no request either; athena: the
    same line items through one Athena query, priced by the bytes it scans).
    Never raises: when the drill-down cannot run, each alert's status says why."""
    from . import drilldown
    from .costexplorer import CostDataError, SavedAnswers
    from .ingest import make_cost_client

    # A service that spikes and turns is one entry, explained by its spike: its trend costs no request.
    spiking = {(s.service, s.breakdown) for s in analysis.spikes}
    with_spike = [t for t in analysis.trends if (t.service, t.breakdown) in spiking]
    alerts = [*analysis.spikes, *(t for t in analysis.trends if t not in with_spike), *analysis.first_seen]
    if not alerts:
        return {}

    def every(status: str) -> dict:
        return {**{drilldown.alert_key(a): drilldown.RootCauseResult(status) for a in alerts},
                **{drilldown.alert_key(t): drilldown.RootCauseResult(WITH_SPIKE_STATUS) for t in with_spike}}

    if not settings.drilldown:
        return every(OFF_STATUS)
    pairs = drilldown.PAIRS
    if settings.cost_source == "export":
        # The export's own line items, read once for every alerted service over the drill-down window: no request,
        # no charge (DRILLDOWN_MAX_REQUESTS is not taken), down to the resource id.
        client, pairs = export_answers(settings, alerts), drilldown.EXPORT_PAIRS
    elif settings.cost_source == "athena":
        # The same line items through one Athena query for every alerted service (priced and logged like the
        # daily query; no Cost Explorer request, so DRILLDOWN_MAX_REQUESTS is not taken).
        client, pairs = athena_answers(settings, alerts), drilldown.EXPORT_PAIRS
    elif settings.drilldown_max_requests == 0:
        log.info("root causes: none asked (DRILLDOWN_MAX_REQUESTS=0)")
        return every(NO_REQUESTS_STATUS)
    elif settings.cost_source == "file":
        # Saved drill-down answers among the --input files stand in for Cost Explorer (README, saved files).
        try:
            client = SavedAnswers.from_files(settings.input_files)
        except CostDataError as exc:
            log.warning("root causes: %s", exc)
            return every(f"unavailable: {exc}")
        if not client:
            log.info("root causes: %s", NO_CE_STATUS)
            return every(NO_CE_STATUS)
    elif settings.cost_source not in ("ce", "sample"):
        log.info("root causes: %s", NO_CE_STATUS)
        return every(NO_CE_STATUS)
    try:
        found = drilldown.explain(alerts, settings, engine, client, settings.day,
                                  client_factory=lambda: make_cost_client(settings), pairs=pairs)
    except Exception as exc:  # the report goes out without root causes rather than not at all
        log.warning("root causes: the drill-down failed (%s: %s); the report says so", type(exc).__name__, exc)
        return every(f"unavailable: the drill-down failed ({type(exc).__name__})")
    return {**every(drilldown.DAILY_LIMIT), **found}


def export_answers(settings: Settings, alerts) -> object:
    """COST_SOURCE=export: the drill-down's free answerer over the export's line items of the alerted services in
    the drill-down window (one read, made on its first request; memory bounded by those services and days)."""
    from . import drilldown, exports

    start, end = drilldown.window(settings.day)
    services = sorted({a.service for a in alerts})

    def load():
        frame, names = exports.drill_frame(settings.input_files, start, end, services, fmt=settings.export_format,
                                           metric=settings.cost_metric,
                                           exclude=tuple(settings.exclude_record_types),
                                           group_by=settings.group_by)
        answers.account_names.update(names)
        log.info("root causes: %d line-item groups of %d service(s) read from the export for %s..%s",
                 len(frame), len(services), start, end)
        return frame

    answers = drilldown.FrameAnswers(load)
    return answers


def athena_answers(settings: Settings, alerts, *, client=None, s3_client=None, glue_client=None) -> object:
    """COST_SOURCE=athena: export_answers' answerer fed by one Athena query (exports.athena_drill_frame: detail_sql
    for every alerted service over the drill-down window, priced and logged), made on its first request."""
    from . import drilldown, exports

    start, end = drilldown.window(settings.day)
    services = sorted({a.service for a in alerts})
    return drilldown.FrameAnswers(lambda: exports.athena_drill_frame(settings, start, end, services, client=client,
                                                                     s3_client=s3_client,
                                                                     glue_client=glue_client)[0])


def drilldown_requests(engine: Engine, report_date) -> int:
    """Cost Explorer requests the drill-down has spent on report_date so far (stored with its outcomes)."""
    return sum(r.requests for r in db.load_root_causes(engine, report_date))


def run_all(settings: Settings, engine: Engine, *, ce_client=None, s3_client=None, slack_client=None,
            outcome: RunOutcome | None = None) -> RunOutcome:
    """The whole daily job; raises on the first stage that cannot go on. Slack is posted from memory before any
    output file is written, so a full or read-only OUTPUT_DIR fails the run (naming the file) after the post."""
    out = outcome or RunOutcome()
    t = out.timings
    with stage("fetch+store", t):
        out.ingest = ingest(settings, engine, client=ce_client)
    with stage("summaries+alerts", t):
        out.analysis = stages.load_day(settings, engine)
    with stage("root causes", t):
        spent = drilldown_requests(engine, settings.day)
        causes = find_root_causes(settings, engine, out.analysis,
                                  client=ce_client if settings.cost_source in ("ce", "sample") else None)
        out.drilldown_requests = drilldown_requests(engine, settings.day) - spent
    with stage("forecast", t):
        out.forecast_requests, ce_answer = ce_forecast.fetch_for_day(settings, source_today(settings),
                                                                     client=ce_client)
    out.view = stages.day_view(settings, out.analysis, causes, engine=engine, ce_answer=ce_answer)
    a = out.analysis
    log.info("d=%s: total %.2f USD, %d spike(s), %d trend reversal(s), %d service(s) this month",
             a.report_date, a.summary.total, len(a.spikes), len(a.trends), len(a.mtd_by_service))
    out.publish = render_and_publish(settings, a, out.view, s3_client=s3_client, timings=t)
    save_published(settings, out.publish)
    out.view = view.with_links(out.view, out.publish.urls, out.publish.page_url, out.publish.missing)
    # every Cost Explorer request of the run
    requests = out.ingest.requests + out.drilldown_requests + out.forecast_requests

    def report(delivery) -> Path:
        if delivery is not None:
            out.delivery = delivery
        extra = slack_extra(delivery, out.team_deliveries)
        if out.ingest.athena is not None:  # COST_SOURCE=athena: its queries, bytes scanned and their price
            extra["athena"] = out.ingest.athena.as_dict()
        out.report_path = write_report(settings, out.view, requests, extra)
        return out.report_path

    out.delivery, _, out.preview_path = build_and_send(settings, engine, out.view, slack_client=slack_client,
                                                       timings=t, report=report, teams_out=out.team_deliveries)
    return out
