"""runCostReporting.py end to end — Cost Explorer (moto / a local fake endpoint) → database → charts → S3 (moto)
→ Slack (a local server) → report.json — and the whole job when one of them fails. Everything on 127.0.0.1."""

from __future__ import annotations

import copy
import functools
import json
import re
import socket
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlparse

import boto3
import pytest
from botocore.config import Config
from sqlalchemy import select

import runCostReporting
from _util import costexplorer, costworld, db, fmt, site
from _util import ingest as ingest_module
from _util import slack as slack_module
from _util.costexplorer import CostQuery
from _util.model import CUMULATIVE_CHART, DAILY_CHART, MTD_CHART, spike_chart_id, trend_chart_id
from _util.sample_data import SampleCostExplorer
from _util.slack_message import money
from _util.view import day_charts
from tests.ce_fakes import answer
from tests.ce_standin import serve
from tests.cli_helpers import fill_disk
from tests.slack_server import Reply, SlackServer

pytestmark = pytest.mark.slow

TODAY = datetime.now(timezone.utc).date()
D = TODAY - timedelta(days=1)  # the cron case: yesterday, UTC
LOOKBACK = 200
START = D - timedelta(days=LOOKBACK)  # the first run's backfill (well within CE's 13 months)
D_DEMO = date(2026, 11, 25)  # --demo's report date
BUCKET, PREFIX = "cost-site", "costs"
CHANNEL = "C123"
TOKEN = "xoxb-test-4242-SECRETtokenSECRET"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---- fixtures and helpers ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, restore_logging):
    """Run in an empty folder (no ./.env) and give the logging set-up back after main() replaced it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOKBACK_DAYS", str(LOOKBACK))
    return tmp_path


@pytest.fixture
def slack():
    with SlackServer() as server:
        yield server


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


@dataclass
class Job:
    """One installation of the job: its settings (env), database, output folder, moto and the Slack server."""

    db_url: str
    out_dir: Path
    moto: str
    slack: SlackServer
    capsys: pytest.CaptureFixture

    def run(self, *extra: str, day: date = D) -> Result:
        started = time.monotonic()
        code = runCostReporting.main(["--date", day.isoformat(), "--db-url", self.db_url,
                                      "--output-dir", str(self.out_dir), *extra])
        out, err = self.capsys.readouterr()
        return Result(code, out, err, time.monotonic() - started)

    @property
    def s3(self):
        return boto3.client("s3", endpoint_url=self.moto, region_name="us-east-1",
                            config=Config(signature_version="s3v4"))

    def report(self, day: date = D) -> dict:
        return json.loads((self.out_dir / day.isoformat() / "report.json").read_text())

    def written_bodies(self, day: date = D) -> list[dict]:
        return json.loads((self.out_dir / day.isoformat() / "slack_message.json").read_text())

    def engine(self):
        return db.make_engine(self.db_url)

    def dump(self) -> dict[str, list[tuple]]:
        """Every row of every table, ordered by key."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                        for t in (db.daily_cost, db.cost_day, db.slack_post, db.run)}
        finally:
            engine.dispose()

    def runs(self) -> list:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return list(conn.execute(select(db.run).order_by(db.run.c.id)).all())
        finally:
            engine.dispose()

    def objects(self) -> dict[str, dict]:
        """Every object of the site bucket: key -> head_object."""
        client = self.s3
        keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
                for o in page.get("Contents", [])]
        return {k: client.head_object(Bucket=BUCKET, Key=k) for k in keys}


@pytest.fixture
def job(isolated, moto_reset, slack, capsys, monkeypatch) -> Job:
    """Production-like settings: CE and S3 at moto (AWS_ENDPOINT_URL as boto3 honours it), a private bucket with
    presigned links, Slack at the local server; a SQLite file."""
    db_url = f"sqlite:///{isolated / 'costs.sqlite'}"
    env = {"AWS_ENDPOINT_URL": moto_reset, "COST_SOURCE": "ce", "PLOTS_DESTINATION": f"s3://{BUCKET}/{PREFIX}",
           "PLOT_LINKS": "presigned", "PLOT_URL_EXPIRY_SECONDS": "3600", "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_CHANNEL_ID": CHANNEL, "SLACK_API_URL": f"{slack.url}/api/"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    j = Job(db_url, isolated / "out", moto_reset, slack, capsys)
    j.s3.create_bucket(Bucket=BUCKET)
    return j


@pytest.fixture
def db_job(db_url, job) -> Job:
    """The job on each database backend (SQLite, and MariaDB when TEST_DATABASE_URL is set)."""
    job.db_url = db_url
    return job


def count_ce(monkeypatch, factory=costexplorer.make_ce_client) -> list[dict]:
    """Observe the production CE client: every HTTP request it sends (retries included), as its JSON body."""
    sent: list[dict] = []

    def make(*args, **kwargs):
        client = factory(*args, **kwargs)
        client.meta.events.register("before-send", lambda request, **_: sent.append(json.loads(request.body)))
        return client

    monkeypatch.setattr(ingest_module, "make_ce_client", make)
    return sent


def is_drilldown(body: dict) -> bool:
    """A root-cause request (GetDimensionValues, or GetCostAndUsage filtered to one service), not ingest's."""
    return "Dimension" in body or "SERVICE" in json.dumps(body.get("Filter", {}))


def sample_pages(start: date, end: date = D, page_groups: int = 5000) -> list[dict]:
    """Realistic GetCostAndUsage pages for the job's query [start, end] (paged like CE, Estimated like CE)."""
    sample = SampleCostExplorer(D, page_groups=page_groups, today=TODAY)
    pages, kwargs = [], CostQuery(start, end).request()
    while True:
        pages.append(copy.deepcopy(sample.get_cost_and_usage(**kwargs)))
        if "NextPageToken" not in pages[-1]:
            return pages
        kwargs = {**kwargs, "NextPageToken": pages[-1]["NextPageToken"]}


def inject(moto_url: str, pages: list[dict]) -> None:
    """Queue results in moto's Cost Explorer: one per distinct request body, in order."""
    req = urllib.request.Request(f"{moto_url}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                 data=json.dumps({"results": pages}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()


def day_sums(pages: list[dict]) -> dict[date, Decimal]:
    """Exact total per day of the pages, as Cost Explorer gave it."""
    sums: dict[date, Decimal] = defaultdict(Decimal)
    for page in pages:
        for result in page["ResultsByTime"]:
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            sums[day] += sum((Decimal(g["Metrics"]["UnblendedCost"]["Amount"]) for g in result["Groups"]),
                             Decimal(0))
    return dict(sums)


def estimated_from(pages: list[dict]) -> date:
    return min(date.fromisoformat(r["TimePeriod"]["Start"]) for p in pages for r in p["ResultsByTime"]
               if r["Estimated"])


def message_urls(bodies: list[dict]) -> list[str]:
    """Every URL a Slack message carries: button urls and mrkdwn <url|label> links."""
    urls: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "url" and isinstance(value, str):
                    urls.append(value)
                elif key == "text" and isinstance(value, str):
                    for link in re.findall(r"<(https?://[^|>]+)\|", value):
                        urls.append(link.replace("%7C", "|").replace("&lt;", "<").replace("&gt;", ">")
                                    .replace("&amp;", "&"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk([b["blocks"] for b in bodies])
    return urls


def button_urls(bodies: list[dict]) -> list[str]:
    return [el["url"] for b in bodies for block in b["blocks"]
            for el in ([block.get("accessory")] if block.get("accessory") else block.get("elements", []))
            if isinstance(el, dict) and el.get("type") == "button" and "url" in el]


def context_text(bodies: list[dict]) -> str:
    return "\n".join(el.get("text", "") for b in bodies for block in b["blocks"] if block["type"] == "context"
                     for el in block["elements"])


def key_of(url: str) -> str:
    """The S3 key a path-style moto URL (presigned or public) points at."""
    path = unquote(urlparse(url).path)
    assert path.startswith(f"/{BUCKET}/"), url
    return path[len(BUCKET) + 2:]


def expected_charts(report: dict) -> set[str]:
    return ({MTD_CHART, DAILY_CHART, CUMULATIVE_CHART} | {spike_chart_id(s["service"]) for s in report["spikes"]}
            | {trend_chart_id(t["service"]) for t in report["trends"]})


def assert_sent_as_written(job: Job) -> list[dict]:
    """Slack received exactly slack_message.json (replies with the top message's ts as thread_ts); return it."""
    posted, written = job.slack.posted, job.written_bodies()
    assert len(posted) == len(written) >= 1
    assert "thread_ts" not in posted[0]
    for i, (sent, body) in enumerate(zip(posted, written, strict=True)):
        assert sent == (dict(body, thread_ts=slack_ts(0)) if i else body)
    return posted


def slack_ts(index: int) -> str:
    """The ts the server gave the index-th successful post (it numbers them 1, 2, …)."""
    return f"1764000000.{index + 1:06d}"


# ---- 1. end to end ----------------------------------------------------------------------------------------------


def test_end_to_end_then_rerun_is_one_request_and_no_second_post(db_job, monkeypatch):
    job, slack = db_job, db_job.slack
    sent = count_ce(monkeypatch)
    first = sample_pages(START, page_groups=2000)  # ~6,000 groups over 201 days: a paged backfill
    assert len(first) >= 3
    inject(job.moto, first)

    r = job.run()
    assert r.code == 0, r.err
    assert r.errors == [] and "Traceback" not in r.err

    # Cost Explorer: one paged query for [d - LOOKBACK, d], every page one request; then the root causes, at most
    # one query per dimension pair per alert within the daily cap.
    drill = [s for s in sent if is_drilldown(s)]
    sent[:] = [s for s in sent if not is_drilldown(s)]
    assert 1 <= len(drill) <= 20
    assert len(sent) == len(first)
    assert sent[0]["TimePeriod"] == {"Start": START.isoformat(), "End": TODAY.isoformat()}
    assert sent[0]["Granularity"] == "DAILY" and sent[0]["GroupBy"] == [{"Type": "DIMENSION", "Key": "SERVICE"}]
    assert sent[0]["Filter"] == {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}
    assert [s.get("NextPageToken") for s in sent[1:]] == [p["NextPageToken"] for p in first[:-1]]

    # Database: every day's total equals Cost Explorer's, exactly.
    expected = day_sums(first)
    assert len(expected) == LOOKBACK + 1
    engine = job.engine()
    try:
        assert db.daily_sums(engine, START, D) == expected
        assert set(db.known_days(engine, START, D)) == set(expected)
    finally:
        engine.dispose()

    # Slack: one report, exactly as written to slack_message.json.
    posted = assert_sent_as_written(job)
    top_ts = slack_ts(0)
    report = job.report()
    # every request the run made is counted (each USD 0.01): the ingest's pages and the drill-down's
    assert report["report_date"] == D.isoformat() and report["ce_requests"] == len(first) + len(drill)
    assert report["slack"] == {"ts": top_ts, "posted": len(posted), "skipped": False}

    # The run record.
    (run,) = job.runs()
    groups = sum(len(r["Groups"]) for p in first for r in p["ResultsByTime"])
    assert (run.status, run.ce_requests, run.rows_upserted, run.message_ts, run.error) == (
        "ok", len(first) + len(drill), groups, top_ts, None)
    assert run.alerts == len(report["alerts"]) >= 1  # one per service, as the message counts them
    assert run.finished_at is not None and run.report_date == D

    # Exactly-once record of the post.
    engine = job.engine()
    try:
        records = db.slack_posts(engine, D, CHANNEL)
    finally:
        engine.dispose()
    assert [(p.attempt, p.part, p.parts) for p in records] == [(1, i, len(posted)) for i in range(len(posted))]
    assert records[0].ts == top_ts

    # report.json agrees with the database (to 1e-6) and with the message.
    total = float(expected[D])
    assert report["summary"]["total"] == pytest.approx(total, abs=1e-6)
    month = [d for d in expected if (d.year, d.month) == (D.year, D.month)]
    assert {x["date"]: x["cost"] for x in report["daily_totals"]} == pytest.approx(
        {d.isoformat(): float(expected[d]) for d in month}, abs=1e-6)
    assert report["summary"]["mtd_total"] == pytest.approx(float(sum(expected[d] for d in month)), abs=1e-5)
    header = posted[0]["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"] == f"AWS costs — {fmt.day_full(D)} · {money(total)}"
    assert posted[0]["text"].startswith(f"AWS costs — {fmt.day_full(D)}: {money(total)}")
    mtd = f"*Month to date, {fmt.day_range(D.replace(day=1), D)}:* {money(report['summary']['mtd_total'])}"
    assert mtd in json.dumps(posted[0]["blocks"], ensure_ascii=False)

    # S3: the day's charts and pages, with their content types; every chart of the day uploaded.
    objects = job.objects()
    charts = expected_charts(report)
    assert set(report["charts"]) == charts and report["missing_charts"] == []
    day_prefix = f"{PREFIX}/{D.isoformat()}/"
    pngs = {k for k in objects if k.endswith(".png")}
    assert pngs == {day_prefix + site.chart_filename(c) for c in charts}
    assert {k for k in objects if not k.endswith(".png")} == {day_prefix + "index.html", f"{PREFIX}/index.html",
                                                              f"{PREFIX}/{site.MANIFEST}"}
    for key, head in objects.items():
        png = key.endswith(".png")
        kind = "image/png" if png else site.JSON_TYPE if key.endswith(".json") else "text/html; charset=utf-8"
        assert head["ContentType"] == kind, key
        assert head["CacheControl"] == (site.PNG_CACHE if png else site.HTML_CACHE), key

    # Every link in the message points at an uploaded object, and works (presigned GET over HTTP).
    buttons = button_urls(posted)
    assert sorted(buttons) == sorted(report["charts"].values())  # one Plot button per chart
    links = message_urls(posted)
    assert report["page_url"] in links and set(buttons) <= set(links)
    for url in links:
        assert key_of(url) in objects
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read()
        assert body.startswith(PNG_MAGIC) if url in buttons else b"<!DOCTYPE html>" in body[:50]

    # --- the same date again (cron retried, or someone reran it): CE revised an Estimated day since ---------
    est = estimated_from(first)
    second = sample_pages(est)
    assert len(second) == 1
    revised = second[0]["ResultsByTime"][-1]["Groups"][0]["Metrics"]["UnblendedCost"]
    revised["Amount"] = str(Decimal(revised["Amount"]) + Decimal("1.2345678901"))
    inject(job.moto, second)
    posts_before = len(slack.calls("chat.postMessage"))

    r2 = job.run()
    assert r2.code == 0, r2.err
    # Only the days still Estimated are asked for again: exactly one request ($0.01) on a normal day; the root
    # causes of the day are stored: none asked again.
    assert not any(map(is_drilldown, sent))
    assert len(sent) == len(first) + 1
    assert sent[-1]["TimePeriod"] == {"Start": est.isoformat(), "End": TODAY.isoformat()}
    assert "Cost Explorer: 1 request(s) (USD 0.01)" in r2.err
    # No second Slack post.
    assert len(slack.calls("chat.postMessage")) == posts_before
    assert f"already posted for {D} to {CHANNEL}" in r2.out
    expected.update(day_sums(second))
    engine = job.engine()
    try:
        assert db.daily_sums(engine, START, D) == expected  # the revision replaced the day, exactly
        assert len(db.slack_posts(engine, D, CHANNEL)) == len(posted)
    finally:
        engine.dispose()
    report2 = job.report()
    assert report2["ce_requests"] == 1
    assert report2["summary"]["total"] == pytest.approx(float(expected[D]), abs=1e-6)
    assert report2["slack"] == {"ts": top_ts, "posted": 0, "skipped": True}
    runs = job.runs()
    assert len(runs) == 2
    assert (runs[1].status, runs[1].ce_requests, runs[1].message_ts) == ("ok", 1, top_ts)


def test_rerun_of_a_day_whose_month_is_final_asks_cost_explorer_nothing(job, monkeypatch):
    """DESIGN: later runs fetch only missing or Estimated days — none at all for a day of a closed month."""
    old = TODAY.replace(day=1) - timedelta(days=40)  # its month's bill is final (CE finalises by about day 5)
    start = old - timedelta(days=LOOKBACK)
    pages = sample_pages(start, old)
    assert not any(r["Estimated"] for p in pages for r in p["ResultsByTime"])
    sent = count_ce(monkeypatch)
    inject(job.moto, pages)
    r1 = job.run(day=old)
    assert r1.code == 0, r1.err
    assert len(sent) == len(pages) and len(job.slack.posted) >= 1
    posts = len(job.slack.calls("chat.postMessage"))

    r2 = job.run(day=old)
    assert r2.code == 0, r2.err
    assert len(sent) == len(pages)  # no request at all
    assert f"all days up to {old} are stored and final: no Cost Explorer request needed" in r2.err
    assert len(job.slack.calls("chat.postMessage")) == posts
    assert job.report(old)["ce_requests"] == 0
    engine = job.engine()
    try:
        assert db.daily_sums(engine, start, old) == day_sums(pages)
    finally:
        engine.dispose()
    assert [(x.status, x.ce_requests) for x in job.runs()] == [("ok", len(pages)), ("ok", 0)]


# ---- 2. Cost Explorer throttled, then answering -----------------------------------------------------------------


class FakeCostExplorer:
    """A local Cost Explorer endpoint: answers GetCostAndUsage from SampleCostExplorer (paged), after the errors
    scripted for a page (by its NextPageToken, None for the first); `always` makes every call fail with that error
    once `good_pages` pages have been served."""

    def __init__(self, errors: dict[str | None, list[tuple[str, str]]] | None = None,
                 always: tuple[str, str] | None = None, good_pages: int = 0, page_groups: int = 2000):
        self.errors = {token: list(errs) for token, errs in (errors or {}).items()}  # NextPageToken -> errors
        self.always, self.good_pages = always, good_pages
        self.calls: list[dict] = []
        self.sample = SampleCostExplorer(D, page_groups=page_groups, today=TODAY)
        self.pages: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.calls.append(body)
                queued = fake.errors.get(body.get("NextPageToken"))
                error = (fake.always if len(fake.pages) >= fake.good_pages else None) or (
                    queued.pop(0) if queued else None)
                if error:
                    status, payload = 400, {"__type": error[0], "message": error[1]}
                else:
                    status, payload = 200, fake.sample.get_cost_and_usage(**body)
                    fake.pages.append(copy.deepcopy(payload))
                answer(self, status, payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeCostExplorer:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


THROTTLED = ("LimitExceededException", "Rate exceeded")
DENIED = ("AccessDeniedException",
          "User: arn:aws:sts::123456789012:assumed-role/cost-report/i-0abc is not authorized to perform: "
          "ce:GetCostAndUsage on resource: arn:aws:ce:us-east-1:123456789012:/GetCostAndUsage")


def test_ce_throttled_then_answering_gives_a_correct_report(job, monkeypatch):
    """The production client (botocore adaptive retries) rides out a LimitExceededException mid-backfill."""
    pages = sample_pages(START, page_groups=2000)
    assert len(pages) >= 3
    # Throttled in the middle of the paged backfill (after adaptive mode has seen a throttle it paces every
    # later request, so the test throttles the last page to stay quick).
    last_token = pages[-2]["NextPageToken"]
    monkeypatch.setenv("DRILLDOWN", "off")  # ingest's requests only: the root causes are tested apart
    with FakeCostExplorer(errors={last_token: [THROTTLED]}) as ce:
        monkeypatch.setenv("AWS_ENDPOINT_URL", ce.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", job.moto)
        r = job.run()
    assert r.code == 0, r.err
    assert r.errors == []
    assert ce.pages == pages
    assert len(ce.calls) == len(pages) + 1  # the throttled request was retried by botocore
    assert ce.calls[-1] == ce.calls[-2] and ce.calls[-1]["NextPageToken"] == last_token
    expected = day_sums(pages)
    engine = job.engine()
    try:
        assert db.daily_sums(engine, START, D) == expected
    finally:
        engine.dispose()
    report = job.report()
    assert report["ce_requests"] == len(pages)  # billed requests: throttled calls are not pages
    assert report["summary"]["total"] == pytest.approx(float(expected[D]), abs=1e-6)
    assert report["missing_charts"] == [] and set(report["charts"]) == expected_charts(report)
    posted = assert_sent_as_written(job)
    assert money(float(expected[D])) in posted[0]["blocks"][0]["text"]["text"]
    (run,) = job.runs()
    assert (run.status, run.ce_requests) == ("ok", len(pages))


# ---- 3. Cost Explorer failing for good --------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["access_denied", "always_throttled"])
def test_ce_failing_for_good_exits_1_and_changes_nothing(job, monkeypatch, failure):
    # An earlier good run (yesterday's cron: the day before d) filled the database and posted its report.
    first = sample_pages(START - timedelta(days=1), D - timedelta(days=1))
    inject(job.moto, first)
    good = job.run(day=D - timedelta(days=1))
    assert good.code == 0, good.err
    before = job.dump()
    assert before["daily_cost"] and len(before["slack_post"]) >= 1 and len(before["run"]) == 1
    slack_calls = len(job.slack.requests)
    objects = job.objects()

    if failure == "access_denied":
        sent = count_ce(monkeypatch)  # the production client: an access denial is not retried
        fake = FakeCostExplorer(always=DENIED)
        message = ("error: Cost Explorer AccessDeniedException: " + DENIED[1]
                   + " — the role needs ce:GetCostAndUsage (docs/iam-policy.json)")
    else:
        import botocore.retries.standard

        # The production client with fewer, instant retries so that the test stays fast.
        monkeypatch.setenv("CE_MAX_ATTEMPTS", "4")
        sent = count_ce(monkeypatch, functools.partial(costexplorer.make_ce_client, retry_mode="standard"))
        monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
        # Page 1 answers, page 2 stays throttled: the parsed first page must not be stored either.
        fake = FakeCostExplorer(always=THROTTLED, good_pages=1, page_groups=300)
        message = "error: Cost Explorer LimitExceededException: Rate exceeded — throttled even after retries; try " \
                  "again later"
    with fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL", fake.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", job.moto)
        r = job.run()

    assert (r.code, r.out) == (1, "")
    assert r.errors == [message], r.err
    assert "Traceback" not in r.err
    if failure == "access_denied":
        assert len(sent) == len(fake.calls) == 1  # not retried
    else:  # page 1, then page 2 and its 3 retries (CE_MAX_ATTEMPTS=4 counts every attempt)
        assert len(fake.pages) == 1 and "NextPageToken" in fake.pages[0]
        assert len(sent) == len(fake.calls) == 1 + 1 + 3
    after = job.dump()
    for table in ("daily_cost", "cost_day", "slack_post"):
        assert after[table] == before[table], table
    assert after["run"][0] == before["run"][0] and len(after["run"]) == 2
    failed = job.runs()[1]
    assert (failed.status, failed.report_date, failed.ce_requests, failed.rows_upserted) == ("failed", D, 0, 0)
    assert failed.error == message.removeprefix("error: ")
    # nothing sent to Slack but the one-line failure notice
    [notice] = job.slack.requests[slack_calls:]
    assert notice.body["text"] == f"AWS cost report for {D} failed: {message.removeprefix('error: ')}"
    assert not (job.out_dir / D.isoformat() / "report.json").exists()
    assert job.objects().keys() == objects.keys()  # nothing published for d


# ---- 4. database unreachable ------------------------------------------------------------------------------------


def test_database_unreachable_fails_fast_naming_the_database_not_its_password(job, monkeypatch):
    password = "Pa55-w0rd%40zq9X"  # URL-encoded, as README says it may be: the password is Pa55-w0rd@zq9X
    job.db_url = f"mysql+pymysql://cost:{password}@127.0.0.1:1/test"
    sent = count_ce(monkeypatch)
    r = job.run()
    assert (r.code, r.out) == (1, "")
    assert r.seconds < 5
    assert len(r.errors) == 1, r.err
    assert r.errors[0].startswith("error: cannot use database mysql+pymysql://cost:***@127.0.0.1:1/test: ")
    assert "Can't connect" in r.errors[0] or "Connection refused" in r.errors[0]
    log_text = (job.out_dir / "cost_reporting.log").read_text()
    for secret in (password, "Pa55-w0rd@zq9X", "w0rd"):
        assert secret not in r.err and secret not in log_text
    assert TOKEN not in log_text
    assert sent == []
    [notice] = job.slack.requests  # only the one-line failure notice
    assert notice.body["text"] == f"AWS cost report for {D} failed: {r.errors[0].removeprefix('error: ')}"


# ---- 5. S3 denied: Slack still posts, never a button to a missing object -----------------------------------------


def _deny_put(monkeypatch, key_suffix: str) -> None:
    """S3 answers 403 AccessDenied to PutObject of keys ending with key_suffix (the production client otherwise)."""
    real = site.make_s3_client

    def make(settings=None):
        client = real(settings)

        def deny(params, **_):
            if params.get("url_path", "").endswith(key_suffix):
                response = type("Denied", (), {"status_code": 403, "headers": {}, "content": b""})()
                return response, {"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                                  "ResponseMetadata": {"HTTPStatusCode": 403}}
            return None

        client.meta.events.register("before-call.s3.PutObject", deny)
        return client

    monkeypatch.setattr(site, "make_s3_client", make)


@pytest.mark.parametrize("failure", ["no_such_bucket", "put_denied"])
def test_s3_failure_still_posts_with_only_links_that_exist(job, monkeypatch, failure):
    monkeypatch.setenv("COST_SOURCE", "sample")
    monkeypatch.setenv("PLOT_LINKS", "public")
    monkeypatch.setenv("PLOT_BASE_URL", f"{job.moto}/{BUCKET}")  # moto serves no website endpoint
    day_prefix = f"{PREFIX}/{D.isoformat()}/"
    if failure == "no_such_bucket":
        job.s3.delete_bucket(Bucket=BUCKET)
        log_line = f"S3 bucket {BUCKET} does not exist (PLOTS_DESTINATION)"
    else:
        _deny_put(monkeypatch, "/" + site.chart_filename(DAILY_CHART))
        log_line = (f"access denied to s3://{BUCKET}/{day_prefix}{site.chart_filename(DAILY_CHART)} — check the "
                    "IAM policy (docs/iam-upload.json)")

    r = job.run()
    # README "Failures": what fails on S3 does not stop the run; the message carries only what exists.
    assert r.code == 0, r.err
    assert r.errors == []
    assert log_line in r.err

    objects = job.objects() if failure == "put_denied" else {}
    report = job.report()
    charts = expected_charts(report)
    uploaded = {c for c in charts if day_prefix + site.chart_filename(c) in objects}
    assert set(report["missing_charts"]) == charts - uploaded
    assert DAILY_CHART in report["missing_charts"]
    assert set(report["charts"]) == uploaded
    assert report["page_url"] is None  # the day's page is not written after a fatal S3 error

    posted = assert_sent_as_written(job)  # Slack still got the report, once
    for url in message_urls(posted):
        assert key_of(url) in objects, url  # never a link to an object that is not there
    assert sorted(button_urls(posted)) == sorted(report["charts"].values())
    small_print = context_text(posted)
    n = len(report["missing_charts"])
    assert f"{n} chart{'s' if n > 1 else ''} not published (no Plot button)" in small_print
    alerts = {kind: [SimpleNamespace(service=x["service"], breakdown=x["breakdown"]) for x in report[kind]]
              for kind in ("spikes", "trends", "first_seen")}
    captions = {c.id: c.caption for c in day_charts(SimpleNamespace(**alerts))}
    for chart in report["missing_charts"]:
        assert chart not in small_print  # a chart is named by its caption, never by its id
    listed = [c for c in captions if c in report["missing_charts"]][:5]  # page order
    assert ", ".join(captions[c] for c in listed) in small_print
    (run,) = job.runs()
    assert (run.status, run.message_ts) == ("ok", slack_ts(0))


# ---- 6. Slack failing --------------------------------------------------------------------------------------------


def test_slack_5xx_then_ok_posts_exactly_once(job, monkeypatch):
    monkeypatch.setenv("COST_SOURCE", "sample")
    job.slack.script("chat.postMessage", Reply(503, body={"ok": False, "error": "service_unavailable"}))
    r = job.run()
    assert r.code == 0, r.err
    calls = job.slack.calls("chat.postMessage")
    posted = assert_sent_as_written(job)
    assert len(calls) == len(posted) + 1  # the 503 was retried once, then accepted
    assert calls[0].body == calls[1].body
    engine = job.engine()
    try:
        assert [p.ts for p in db.slack_posts(engine, D, CHANNEL)][:1] == [slack_ts(0)]
    finally:
        engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("outage", ["http_500", "connection_refused"])
def test_slack_down_exits_1_then_next_run_posts_once(job, monkeypatch, outage):
    monkeypatch.setenv("COST_SOURCE", "sample")
    # The production client and retry handlers, with a short backoff so the test does not sleep for seconds.
    monkeypatch.setattr(slack_module, "make_slack_client",
                        functools.partial(slack_module.make_slack_client, backoff_s=0.01))
    if outage == "http_500":
        # ... and the failure notice's one attempt (no retries) meets Slack still down
        job.slack.script("chat.postMessage", *[Reply(500, body="Internal Server Error")] * (2 + slack_module.MAX_RETRIES))
        message = (f"error: Slack: chat.postMessage failed with HTTP 500 after {slack_module.MAX_RETRIES} retries — "
                   "Slack may be down; rerun later")
    else:
        dead = f"http://127.0.0.1:{_closed_port()}/api/"
        monkeypatch.setenv("SLACK_API_URL", dead)
        message = f"error: Slack: cannot reach {dead} ("

    r = job.run()
    assert (r.code, r.out) == (1, "")
    assert len(r.errors) == 1 and r.errors[0].startswith(message), r.err
    assert "Failed to send a request to Slack" not in r.err  # slack_sdk's per-attempt ERROR lines stay quiet
    assert TOKEN not in r.err
    assert job.slack.posted == []
    if outage == "http_500":
        assert len(job.slack.calls("chat.postMessage")) == 1 + slack_module.MAX_RETRIES + 1  # + the notice's try
    assert "Slack failure notice not posted" in r.err.rsplit("\n", 2)[0]  # a warning before the error line
    report = job.report()  # report.json is written before the Slack stage
    assert "slack" not in report
    (run,) = job.runs()
    assert run.status == "failed" and run.error == r.errors[0].removeprefix("error: ") and run.message_ts is None
    engine = job.engine()
    try:
        assert db.slack_posts(engine, D, CHANNEL) == []
    finally:
        engine.dispose()

    # Slack is back: the next run posts the report, once.
    monkeypatch.setenv("SLACK_API_URL", f"{job.slack.url}/api/")
    r2 = job.run()
    assert r2.code == 0, r2.err
    posted = assert_sent_as_written(job)
    assert job.report()["slack"] == {"ts": slack_ts(0), "posted": len(posted), "skipped": False}
    assert [(x.status, x.message_ts) for x in job.runs()] == [("failed", None), ("ok", slack_ts(0))]


# ---- a full or read-only OUTPUT_DIR, the database gone while posting ---------------------------------------------


@pytest.fixture
def small_disk(isolated, tmpfs):
    """A 16 MiB tmpfs for OUTPUT_DIR (skips where mounting is not permitted); unmounted afterwards."""
    return tmpfs("small-disk", "16m")


@pytest.mark.parametrize("fault,reason", [("full", "No space left on device"),
                                          ("read_only", "Read-only file system")])
def test_full_or_read_only_output_dir_posts_once_then_fails_naming_the_file(job, small_disk, monkeypatch, fault,
                                                                            reason):
    """The message is built and posted from memory; the files come after: their failure is one line naming the
    file, the post is recorded, and a rerun posts nothing more."""
    import subprocess

    monkeypatch.setenv("COST_SOURCE", "sample")
    monkeypatch.setenv("LOG_FILE", str(job.out_dir.parent / "logs" / "run.log"))  # logging and lock elsewhere
    monkeypatch.setenv("LOCK_FILE", str(job.out_dir.parent / "logs" / "run.lock"))
    job.out_dir = small_disk
    if fault == "full":
        fill_disk(small_disk)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    expected = f"error: cannot write {small_disk / D.isoformat() / 'report.json'}: {reason}"

    dry = job.run("--dry-run")  # a dry run changes nothing, but still names the file it could not write
    assert dry.code == 1 and dry.errors == [expected], dry.err
    assert job.slack.calls("chat.postMessage") == []  # its pre-flight only reads (auth.test, conversations.info)

    r = job.run()
    assert r.code == 1 and r.errors == [expected], r.err
    assert "Traceback" not in r.err
    *posted, notice = job.slack.calls("chat.postMessage")  # the report's messages, each once, then the notice
    assert len(posted) >= 1 and notice.body["text"] == f"AWS cost report for {D} failed: {r.errors[0][7:]}"
    (run,) = [x for x in job.runs() if x.status != "ok"][-1:]
    assert (run.status, run.message_ts, run.error) == ("failed", slack_ts(0), expected.removeprefix("error: "))
    engine = job.engine()
    try:
        assert [p.ts for p in db.slack_posts(engine, D, CHANNEL)] == [slack_ts(i) for i in range(len(posted))]
    finally:
        engine.dispose()
    if fault == "full":
        (small_disk / "filler").unlink()
    else:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    again = job.run()
    assert again.code == 0, again.err
    assert len(job.slack.calls("chat.postMessage")) == len(posted) + 1  # no second post
    assert job.report()["slack"] == {"ts": slack_ts(0), "posted": 0, "skipped": True}
    assert json.loads((small_disk / D.isoformat() / "slack_message.json").read_text())[0]["channel"] == CHANNEL


def test_database_gone_after_the_post_is_reconciled_by_the_next_run(db_job, monkeypatch):
    """The database fails between claim and confirm: the ts is kept in OUTPUT_DIR/<d>/slack_posts.json and the
    error line; the next run writes it back and posts nothing; --force still posts a deliberate second copy."""
    from sqlalchemy.exc import OperationalError

    job = db_job
    monkeypatch.setenv("COST_SOURCE", "sample")
    real = db.confirm_slack_post

    def gone(engine, post):
        raise OperationalError("UPDATE slack_post", {}, Exception("(2006, 'MySQL server has gone away')"))

    monkeypatch.setattr(db, "confirm_slack_post", gone)

    def reports() -> list[dict]:  # the report's messages, without the one-line failure notice of a failed run
        return [b for b in job.slack.posted if not b["text"].startswith(f"AWS cost report for {D} failed")]

    r = job.run()
    ledger = job.out_dir / D.isoformat() / "slack_posts.json"
    assert r.code == 1 and len(r.errors) == 1, r.err
    assert r.errors[0].startswith("error: Slack: posted part 1/") and f"(ts {slack_ts(0)})" in r.errors[0]
    assert f"it is kept in {ledger}: the next run records it and does not post again" in r.errors[0]
    assert len(reports()) == 1 and len(job.slack.posted) == 2  # the report's top message, then the notice
    assert json.loads(ledger.read_text())["posts"][0]["ts"] == slack_ts(0)
    assert job.report().get("slack") is None  # report.json is still written (no confirmed delivery)

    monkeypatch.setattr(db, "confirm_slack_post", real)  # the database is back
    r2 = job.run()
    assert r2.code == 0, r2.err
    posted = len(reports())
    assert sum("thread_ts" not in b for b in reports()) == 1  # one top message: the first run's
    assert [b.get("thread_ts") for b in reports()[1:]] == [slack_ts(0)] * (posted - 1)
    engine = job.engine()
    try:
        assert db.slack_posts(engine, D, CHANNEL)[0].ts == slack_ts(0)
    finally:
        engine.dispose()
    if posted == 1:
        assert job.report()["slack"] == {"ts": slack_ts(0), "posted": 0, "skipped": True}
        assert "already posted" in r2.out
    r3 = job.run("--force")
    assert r3.code == 0 and len(reports()) == 2 * posted  # a deliberate second copy


# ---- the demo ------------------------------------------------------------------------------------------------------


def test_demo_is_the_same_report_everywhere_with_spikes_and_both_kinds_of_trend(isolated, monkeypatch, capsys):
    """`make demo`: no AWS, no Slack, a fixed report date, the events the sample data plants, paths on stdout."""
    monkeypatch.delenv("LOOKBACK_DAYS")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    reports = []
    # "two" has seen another demo date first: each demo date keeps its own sample history, so no difference.
    assert runCostReporting.main(["--demo", "--output-dir", "two", "--date", "2026-11-20"]) == 0
    capsys.readouterr()
    for out in ("one", "two"):
        assert runCostReporting.main(["--demo", "--output-dir", out]) == 0
        stdout = capsys.readouterr().out
        assert stdout.splitlines() == [f"report:  {out}/demo/2026-11-25/report.json",
                                       f"site:    {(isolated / out / 'demo' / 'site' / '2026-11-25' / 'index.html').as_uri()}",
                                       f"preview: {out}/demo/2026-11-25/slack_preview.html"]
        report = json.loads((isolated / out / "demo" / "2026-11-25" / "report.json").read_text())
        assert sorted(p.name for p in (isolated / out).iterdir()) == ["demo"]  # nothing beside real runs' files
        reports.append({k: v for k, v in report.items() if k not in ("settings", "charts", "page_url")})
    assert reports[0] == reports[1]
    report = reports[0]
    assert report["report_date"] == "2026-11-25"
    # TEAMS_FILE unset: the demo routes with docs/teams.example.toml, so the preview shows the teams' messages.
    preview = (isolated / "one" / "demo" / "2026-11-25" / "slack_preview.html").read_text()
    assert "AWS costs for payments — " in preview and "Team payments (C0PAYMENTS)" in preview
    assert "AWS costs for web — " in preview and "· unowned" in preview
    assert {(s["service"], s["direction"]) for s in report["spikes"]} == {
        ("AWS Lambda", "up"), ("Amazon CloudFront", "up"), ("Amazon Relational Database Service", "down"),
        ("Amazon Redshift", "up")}
    assert {(t["service"], t["direction"]) for t in report["trends"]} == {
        ("Amazon Redshift", "up"), ("Amazon ElastiCache", "down")}
    # Root causes: the sample world's labeled group of each event is its top cause (account named).
    for label in costworld.sample_labels(D_DEMO):
        if label.day == D_DEMO and label.kind in ("spike", "drop"):
            spike = next(s for s in report["spikes"] if s["service"] == label.service)
            assert spike["root_cause_status"] == "ok"
            top = spike["root_causes"][0]
            assert top["dimensions"] == {k: label.groups[0][k] for k in ("LINKED_ACCOUNT", "USAGE_TYPE")}
            assert top["names"] == {"LINKED_ACCOUNT": costworld.ACCOUNT_NAMES[top["dimensions"]["LINKED_ACCOUNT"]]}
    assert not (isolated / "data").exists()  # the demo keeps its own database, site and reports under OUTPUT_DIR/demo/
    assert (isolated / "one" / "demo" / "costs-2026-11-25.sqlite").exists()


def test_the_run_hands_its_links_on_in_published_json_and_goes_on_without_it(isolated, capsys, quick_charts):
    assert runCostReporting.main(["--demo", "--output-dir", "one"]) == 0
    day = isolated / "one" / "demo" / "2026-11-25"
    report = json.loads((day / "report.json").read_text())
    links = json.loads((day / "published.json").read_text())
    assert report["charts"] and (links["urls"], links["page_url"], links["missing"]) == (
        report["charts"], report["page_url"], report["missing_charts"])
    # published.json cannot be written (a folder in its place): a warning naming it; the run and its report go on.
    capsys.readouterr()
    (day / "published.json").unlink()
    (day / "published.json").mkdir()
    assert runCostReporting.main(["--demo", "--output-dir", "one"]) == 0
    err = capsys.readouterr().err
    assert f"cannot write {day.relative_to(isolated) / 'published.json'}" in err and "error:" not in err
    assert json.loads((day / "report.json").read_text())["charts"] == report["charts"]


# ---- unusable output places ---------------------------------------------------------------------------------------


def test_an_unusable_output_dir_or_lock_file_names_the_setting(isolated, monkeypatch, capsys):
    (isolated / "a-file").write_text("x")
    assert runCostReporting.main(["--demo", "--output-dir", "a-file"]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        "error: cannot write the log file a-file/demo/cost_reporting.log (Not a directory) — check LOG_FILE / "
        "OUTPUT_DIR"]
    monkeypatch.setenv("LOCK_FILE", str(isolated / "a-file" / "run.lock"))
    assert runCostReporting.main(["--demo", "--output-dir", "out"]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        f"error: cannot create the lock file {isolated / 'a-file' / 'run.lock'} (File exists) — check LOCK_FILE "
        "/ OUTPUT_DIR"]


# ---- root causes through a Cost Explorer over HTTP ----------------------------------------------------------------


def test_root_causes_asked_of_cost_explorer_over_http_reach_slack_the_report_and_the_site(job, monkeypatch):
    """boto3 against the CE stand-in (the real protocol, any GroupBy/Filter), S3 on moto: the sample world's labeled
    group is the top cause in every output, and a rerun of the day asks no root cause again."""
    monkeypatch.setenv("LOOKBACK_DAYS", "60")
    world = costworld.sample_world(D - timedelta(days=60), D, D)
    (label,) = [x for x in costworld.sample_labels(D) if x.service == "AWS Lambda" and x.day == D]
    group = {k: label.groups[0][k] for k in ("LINKED_ACCOUNT", "USAGE_TYPE")}
    with serve(world, account_names=costworld.ACCOUNT_NAMES) as (url, standin):
        monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", url)
        r = job.run()
        assert r.code == 0, r.err
        posted = assert_sent_as_written(job)
        first = list(standin.requests)
        drill = [body for op, body in first if op == "GetDimensionValues" or "SERVICE" in json.dumps(
            body.get("Filter", {}))]
        assert 0 < len(drill) <= 20 and len(first) - len(drill) == 1  # one ingest request, the rest the causes'
        r2 = job.run()
        assert r2.code == 0, r2.err
        assert len(standin.requests) == len(first)  # d is stored and final: nothing asked, root causes included

    report = job.report()
    spike = next(s for s in report["spikes"] if s["service"] == "AWS Lambda")
    assert (spike["breakdown"], spike["root_cause_status"]) == ("", "ok")
    top = spike["root_causes"][0]
    assert top["dimensions"] == group and top["share"] > 0.5
    name = costworld.ACCOUNT_NAMES[group["LINKED_ACCOUNT"]]
    assert top["names"] == {"LINKED_ACCOUNT": name}

    account = f"{name} ({group['LINKED_ACCOUNT'][:4]}…{group['LINKED_ACCOUNT'][-4:]})"
    words = f"mostly {group['USAGE_TYPE']} in {account}, {fmt.signed_money(top['delta'])}"
    line = next(t for t in texts_of(posted) if "*AWS Lambda*" in t)
    assert f"\n{words}" in line
    page = job.s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{D.isoformat()}/index.html")["Body"].read().decode()
    assert words in page and "<h3>Root causes: AWS Lambda (spike)</h3>" in page
    assert f"<td>{account}</td><td>{group['USAGE_TYPE']}</td>" in page


def texts_of(payloads: list[dict]) -> list[str]:
    """The section texts of every posted message."""
    return [b["text"]["text"] for p in payloads for b in p["blocks"] if b.get("type") == "section"]


# ---- FORECAST_SOURCE=ce through a Cost Explorer over HTTP ---------------------------------------------------------


def test_cost_explorer_forecast_over_http_is_asked_once_counted_and_kept_for_the_stages(job, monkeypatch):
    """FORECAST_SOURCE=ce: one GetCostForecast of the remaining days (none when d is the month's last day), counted
    in ce_requests; report.json shows it beside the model, the message uses it; a rerun and procSummaries.py run
    alone read the kept answer and ask nothing."""
    import procSummaries
    from _util.ce_forecast import window

    monkeypatch.setenv("LOOKBACK_DAYS", "60")
    monkeypatch.setenv("FORECAST_SOURCE", "ce")
    monkeypatch.setenv("DRILLDOWN", "off")
    world = costworld.sample_world(D - timedelta(days=60), D, D)
    span = window(D, TODAY)
    with serve(world, forecast=(1000.0, 900.0, 1150.0)) as (url, standin):
        monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", url)
        r = job.run()
        assert r.code == 0, r.err
        asked = [body for op, body in standin.requests if op == "GetCostForecast"]
        report = job.report()
        forecast = report["forecast"]
        if span is None:  # d is the last day of its month: no day left to forecast, no request
            assert asked == [] and forecast["method"] == "model" and report["ce_requests"] == 1
            return
        assert asked == [{"TimePeriod": {"Start": span[0].isoformat(), "End": span[1].isoformat()},
                          "Metric": "UNBLENDED_COST", "Granularity": "DAILY", "PredictionIntervalLevel": 80,
                          "Filter": {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}}]
        days = (span[1] - span[0]).days
        assert forecast["method"] == "ce" and forecast["ce"]["forecast"] == forecast["forecast"]
        assert forecast["forecast"] == pytest.approx(forecast["mtd"] + 1000.0 * days, abs=1e-5)
        assert forecast["high"] - forecast["low"] == pytest.approx(250.0 * days, abs=1e-5)
        assert set(forecast["model"]) == {"forecast", "low", "high"}
        assert report["ce_requests"] == 2 and job.runs()[-1].ce_requests == 2  # the costs' request + the forecast
        assert f"On track for {money(forecast['forecast'])} this month" in json.dumps(job.written_bodies())
        assert job.run().code == 0
        assert procSummaries.main(["--date", D.isoformat(), "--db-url", job.db_url,
                                   "--output-dir", str(job.out_dir)]) == 0
        assert standin.calls("GetCostForecast") == 1  # kept: neither the rerun nor the stage alone paid again
        assert job.report()["forecast"]["forecast"] == forecast["forecast"]
