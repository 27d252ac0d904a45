"""The static site: each day's page and charts, and a top-level index of dates, in a local folder or on S3.

Layout under the site root (a folder, or s3://bucket/prefix):
    index.html                    dates, latest first
    <d>/index.html                the day's totals, alert tables, month-to-date table and every chart
    <d>/<chart file>.png          names from chart_filename(): safe and stable for any service name
Links: PLOT_LINKS=public gives PLOT_BASE_URL + key; presigned gives presigned GET URLs (private bucket);
a local folder without PLOT_BASE_URL gives file:// URIs.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import quote

from . import fmt
from .config import MAX_PRESIGN_SECONDS, Settings
from .files import write_atomic
from .model import Analysis, spike_chart_id, trend_chart_id
from .view import ChartView, captions, chart_filename, day_charts

log = logging.getLogger("aws_cost_tracking")

PNG_TYPE, HTML_TYPE = "image/png", "text/html; charset=utf-8"
# A chart of a given day only changes on a re-run; the index pages change every day.
PNG_CACHE, HTML_CACHE = "public, max-age=86400", "public, max-age=300"
IAM_HINT = "check the IAM policy (docs/iam-upload.json)"
UPLOAD_THREADS = 8
MAX_TRANSIENT_FAILURES = 3  # uploads that failed even after botocore's retries before giving up on the rest
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# S3 error codes after which no further request can succeed: stop at the first one.
FATAL_CODES = {"NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
               "ExpiredToken", "InvalidToken", "AccountProblem", "InvalidBucketName", "PermanentRedirect",
               "AuthorizationHeaderMalformed", "403", "404", "301"}


# ---- names ------------------------------------------------------------------------------------------------------


def expected_chart_ids(analysis: Analysis) -> list[str]:
    """Every chart the day's page and message refer to, in page order (chartspec.day_charts)."""
    return [spec.id for spec in day_charts(analysis)]


# ---- results ----------------------------------------------------------------------------------------------------


@dataclass
class PublishResult:
    """What the site publication achieved: URLs only for objects really written."""

    urls: dict[str, str] = field(default_factory=dict)  # chart id -> URL
    page_url: str | None = None  # the day's index.html
    missing: list[str] = field(default_factory=list)  # chart ids not published
    errors: list[str] = field(default_factory=list)  # one-line messages for the log / the message
    index_url: str | None = None  # the top-level index.html
    destination: str = ""  # the folder or s3://bucket/prefix written to

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)


@dataclass(frozen=True)
class Destination:
    """Where the site goes: a local folder, or an S3 bucket and key prefix (no leading/trailing slash)."""

    local_root: Path | None = None
    bucket: str = ""
    prefix: str = ""

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def __str__(self) -> str:
        if self.local_root is not None:
            return str(self.local_root)
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_destination(raw: str) -> Destination:
    """PLOTS_DESTINATION as a Destination (`s3://bucket/prefix` or a folder)."""
    if raw.startswith("s3://"):
        bucket, _, rest = raw[5:].partition("/")
        parts = [p for p in rest.split("/") if p not in ("", ".", "..")]
        return Destination(bucket=bucket, prefix="/".join(parts))
    return Destination(local_root=Path(raw or "output/site"))


def resolve_destination(settings: Settings) -> Destination:
    """The destination of this run: a dry run writes nothing to S3 or outside OUTPUT_DIR (site under it)."""
    dest = parse_destination(settings.plots_destination)
    if not settings.dry_run:
        return dest
    fallback = Destination(local_root=Path(settings.output_dir) / "site")
    if dest.local_root is None:
        return fallback
    try:
        dest.local_root.resolve().relative_to(Path(settings.output_dir).resolve())
        return dest
    except ValueError:
        return fallback


# ---- S3 ---------------------------------------------------------------------------------------------------------


def make_s3_client(settings: Settings | None = None):
    """The S3 client (boto3 default credential chain; AWS_ENDPOINT_URL honoured by boto3; standard retries)."""
    import boto3
    from botocore.config import Config

    # botocore's defaults (60 s connect and read, 5 attempts) held a never-answering endpoint 735 s: bound each call.
    timeout = settings.s3_timeout_seconds if settings is not None else 30
    return boto3.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 3},
                                            connect_timeout=min(10, timeout), read_timeout=timeout,
                                            signature_version="s3v4"))


def describe_s3_error(exc: Exception, bucket: str, key: str) -> tuple[str, bool]:
    """(one-line message, fatal?) for an exception from an S3 call; fatal = no later request can succeed."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    where = f"s3://{bucket}/{key}"
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
        text = err.get("Message") or ""
        if code in ("NoSuchBucket", "404"):
            return f"S3 bucket {bucket} does not exist (PLOTS_DESTINATION)", True
        if code in ("AccessDenied", "AllAccessDisabled", "403"):
            return f"access denied to {where} — {IAM_HINT}", True
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
            return f"S3 rejected the AWS credentials ({code}) for {where}", True
        if code in ("PermanentRedirect", "301", "AuthorizationHeaderMalformed"):
            return f"S3 bucket {bucket} is in another region ({code}): set AWS_DEFAULT_REGION to its region", True
        if code in ("SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"):
            return f"S3 throttled the upload to s3://{bucket} (SlowDown) after retries: some charts not uploaded", False
        detail = f"{code}: {text}" if text else code
        return f"S3 request for {where} failed ({detail})", code in FATAL_CODES
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return "no AWS credentials for S3 (instance role, profile or environment)", True
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach S3 to write {where}: {exc}", True
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):  # after botocore's retries: S3 does not answer
        return f"S3 did not answer in time for {where} (S3_TIMEOUT_SECONDS): {exc}", True
    if isinstance(exc, BotoCoreError):
        return f"S3 request for {where} failed: {exc}", False
    return f"S3 request for {where} failed: {type(exc).__name__}: {exc}", False


class _S3Writer:
    """put_object with error capture; after a fatal error (missing bucket, denied…) nothing more is tried."""

    def __init__(self, client, dest: Destination, result: PublishResult):
        self.client, self.dest, self.result = client, dest, result
        self.fatal = False
        self.transient_failures = 0

    def put(self, rel: str, body: bytes, content_type: str, cache_control: str) -> bool:
        if self.fatal:
            return False
        key = self.dest.key(rel)
        try:
            self.client.put_object(Bucket=self.dest.bucket, Key=key, Body=body, ContentType=content_type,
                                   CacheControl=cache_control)
            return True
        except Exception as exc:
            message, fatal = describe_s3_error(exc, self.dest.bucket, key)
            self.result._error(message)
            log.debug("S3 put %s failed: %r", key, exc)
            if not fatal:
                self.transient_failures += 1
                if self.transient_failures >= MAX_TRANSIENT_FAILURES and not self.fatal:
                    self.result._error(f"S3 uploads to s3://{self.dest.bucket} kept failing: "
                                       f"gave up after {self.transient_failures} failed uploads")
                    fatal = True
            self.fatal = self.fatal or fatal
            return False

    def list_dates(self) -> list[str] | None:
        """Date folders under the prefix (None when listing failed)."""
        if self.fatal:
            return None
        prefix = self.dest.key("")
        found: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.dest.bucket, Prefix=prefix, Delimiter="/")
            for page in pages:
                for cp in page.get("CommonPrefixes", []):
                    name = cp["Prefix"][len(prefix):].strip("/")
                    if _DATE_DIR.match(name):
                        found.append(name)
        except Exception as exc:
            message, fatal = describe_s3_error(exc, self.dest.bucket, prefix)
            self.result._error(f"{message}; top-level index not updated")
            self.fatal = self.fatal or fatal
            return None
        return found


def _rest_url(client, bucket: str, key: str) -> str:
    """The object's S3 REST URL (used for PLOT_LINKS=public without PLOT_BASE_URL)."""
    endpoint = (client.meta.endpoint_url or "https://s3.amazonaws.com").rstrip("/")
    q = quote(key, safe="/~")
    if endpoint.endswith(".amazonaws.com") and "." not in bucket:
        scheme, _, host = endpoint.partition("://")
        return f"{scheme}://{bucket}.{host}/{q}"
    return f"{endpoint}/{quote(bucket)}/{q}"


# ---- HTML -------------------------------------------------------------------------------------------------------


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _change(now: float, before: float | None) -> str:
    if before is None:
        return fmt.MISSING
    delta = now - before
    return fmt.signed_money(delta) + (f" ({fmt.pct(delta / before)})" if before > 0 else "")


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:12px 16px;
color:#222;line-height:1.4}
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.25em;margin:1.4em 0 .5em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.95em}
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left;max-width:28em;overflow-wrap:anywhere}
figure{margin:1em 0 2em}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em;overflow-wrap:anywhere}.up{color:#b34a00}.down{color:#005a8c}
.note{background:#fff8e1;border-left:4px solid #e69f00;padding:6px 10px}
nav a{margin-right:1em}
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _anchor(chart_id: str) -> str:
    return "chart-" + chart_filename(chart_id).removesuffix(".png")


def day_page_html(analysis: Analysis, images: dict[str, str], missing: list[str], index_href: str) -> str:
    """The day's page: totals, alert tables, month-to-date table and every chart (images: chart id -> src)."""
    a, s = analysis, analysis.summary
    d = a.report_date
    parts = [f'<nav><a href="{_e(index_href)}">← all dates</a></nav>',
             f"<h1>AWS costs for {_e(d.isoformat())} ({_e(d.strftime('%A'))})</h1>"]
    if a.estimated_dates:
        parts.append(f'<p class="note">{_e(fmt.estimated_days(a.estimated_dates))}</p>')
    rows = [("Total on the day", fmt.money(s.total)),
            ("Change vs previous day", _change(s.total, s.previous_day)),
            ("Average of the 7 days before", fmt.money(s.avg7)),
            (f"Month to date ({fmt.day_range(d.replace(day=1), d)})", fmt.money(s.mtd_total)),
            ("Change vs same days of last month", _change(s.mtd_total, s.mtd_previous))]
    parts.append("<h2>Totals</h2>\n<table>" + "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>")

    def chart_link(cid: str) -> str:
        return f'<a href="#{_anchor(cid)}">chart</a>' if cid in images else "not available"

    parts.append(f"<h2>Cost spikes ({len(a.spikes)})</h2>")
    if a.spikes:
        head = "<tr><th>Service</th><th>Direction</th><th>Cost</th><th>Baseline mean</th><th>Std</th>" \
               "<th>z</th><th>Change</th><th>Chart</th></tr>"
        body = "".join(
            f'<tr><td>{_e(sp.service)}</td><td class="{_e(sp.direction)}">{_e(sp.direction)}</td>'
            f"<td>{_e(fmt.money(sp.cost))}</td><td>{_e(fmt.money(sp.mean))}</td><td>{_e(fmt.money(sp.std))}</td>"
            f"<td>{_e(fmt.MISSING if sp.zscore is None else f'{sp.zscore:+.1f}')}</td>"
            f"<td>{_e(fmt.signed_money(sp.delta))} {_e(fmt.pct(sp.pct) if sp.pct is not None else '')}</td>"
            f"<td>{chart_link(spike_chart_id(sp.service))}</td></tr>" for sp in a.spikes)
        parts.append(f"<table>{head}{body}</table>")
    else:
        parts.append("<p>No spikes.</p>")

    parts.append(f"<h2>Trend reversals ({len(a.trends)})</h2>")
    if a.trends:
        head = "<tr><th>Service</th><th>Direction</th><th>Cost</th><th>7-day avg</th><th>28-day avg</th>" \
               "<th>7 vs 28</th><th>MACD</th><th>Signal</th><th>Chart</th></tr>"
        body = "".join(
            f'<tr><td>{_e(t.service)}</td><td class="{_e(t.direction)}">{_e(t.direction)}</td>'
            f"<td>{_e(fmt.money(t.cost))}</td><td>{_e(fmt.money(t.avg7))}</td><td>{_e(fmt.money(t.avg28))}</td>"
            f"<td>{_e(fmt.pct(t.pct))}</td><td>{t.macd:,.2f}</td><td>{t.signal:,.2f}</td>"
            f"<td>{chart_link(trend_chart_id(t.service))}</td></tr>" for t in a.trends)
        parts.append(f"<table>{head}{body}</table>")
    else:
        parts.append("<p>No trend reversals.</p>")

    parts.append("<h2>Charts</h2>")
    specs: list[ChartView] = day_charts(a)
    for spec in specs:
        if spec.id in images:
            parts.append(f'<figure id="{_anchor(spec.id)}"><img src="{_e(images[spec.id])}" '
                         f'alt="{_e(spec.caption)}" width="1200" height="700">'
                         f"<figcaption>{_e(spec.caption)}</figcaption></figure>")
    if missing:
        parts.append('<p class="note">Charts not available: ' + ", ".join(_e(c) for c in captions(specs, missing))
                     + "</p>")

    total = sum(sc.cost for sc in a.mtd_by_service)
    parts.append(f"<h2>Month to date by service ({len(a.mtd_by_service)})</h2>")
    rows_html = "".join(
        f"<tr><td>{_e(sc.service)}</td><td>{_e(fmt.money(sc.cost))}</td>"
        f"<td>{_e(fmt.share(sc.cost / total) if total > 0 else fmt.MISSING)}</td></tr>" for sc in a.mtd_by_service)
    parts.append(f"<table><tr><th>Service</th><th>Cost</th><th>Share</th></tr>{rows_html}"
                 f"<tr><th>Total</th><th>{_e(fmt.money(total))}</th><th></th></tr></table>")
    return _page(f"AWS costs {d.isoformat()}", "\n".join(parts))


def root_index_html(dates: list[tuple[str, str]]) -> str:
    """The top-level page: one link per date (date, href), latest first."""
    items = "".join(f'<li><a href="{_e(href)}">{_e(day)}</a> '
                    f"{_e(date.fromisoformat(day).strftime('%A'))}</li>" for day, href in dates)
    body = f"<h1>AWS cost reports</h1>\n<p>{len(dates)} day(s), latest first.</p>\n<ul>{items}</ul>"
    return _page("AWS cost reports", body)


# ---- publishing -------------------------------------------------------------------------------------------------


def publish(analysis: Analysis, chart_files: dict[str, Path], settings: Settings, *,
            s3_client=None) -> PublishResult:
    """Write the day's PNGs, its index.html and the top-level index.html to PLOTS_DESTINATION (a folder, or S3
    unless a dry run); never raises for S3/disk errors: they go to result.errors and result.missing."""
    result = PublishResult()
    dest = resolve_destination(settings)
    result.destination = str(dest)
    charts: dict[str, Path] = {}
    unrendered = []
    for cid in list(dict.fromkeys([*expected_chart_ids(analysis), *chart_files])):
        path = chart_files.get(cid)
        if path is not None and Path(path).is_file():
            charts[cid] = Path(path)
        else:
            unrendered.append(cid)
    if unrendered:
        result.missing.extend(unrendered)
        result._error(f"{len(unrendered)} chart(s) were not rendered: "
                      f"{', '.join(captions(day_charts(analysis), unrendered[:5]))}"
                      + (" …" if len(unrendered) > 5 else ""))
    if dest.local_root is not None:
        _publish_local(analysis, charts, settings, dest.local_root, result)
    else:
        try:
            client = s3_client if s3_client is not None else make_s3_client(settings)
        except Exception as exc:  # bad AWS_ENDPOINT_URL, broken AWS config…: the run goes on without the site
            result._error(f"cannot create the S3 client for {dest}: {exc}")
            result.missing.extend(charts)
            return result
        _publish_s3(analysis, charts, settings, dest, client, result)
    return result


def _day_rel(analysis: Analysis, name: str) -> str:
    return f"{analysis.report_date.isoformat()}/{name}"


def _publish_local(analysis: Analysis, charts: dict[str, Path], settings: Settings, root: Path,
                   result: PublishResult) -> None:
    # A dry run publishes nothing where PLOT_BASE_URL points: link the files it wrote.
    base = "" if settings.dry_run else settings.plot_base_url.rstrip("/")

    def url(rel: str) -> str:
        return f"{base}/{quote(rel, safe='/~')}" if base else (root / rel).resolve().as_uri()

    day = analysis.report_date.isoformat()
    written: dict[str, str] = {}
    try:
        (root / day).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        result._error(f"cannot create the site folder {root / day}: {exc.strerror or exc}")
        result.missing.extend(charts)
        return
    for cid, src in charts.items():
        rel = _day_rel(analysis, chart_filename(cid))
        target = root / rel
        try:
            if src.resolve() != target.resolve():
                _atomic_copy(src, target)
            written[cid] = rel
            result.urls[cid] = url(rel)
        except OSError as exc:
            result.missing.append(cid)
            result._error(f"cannot write {target}: {exc.strerror or exc}")
    images = {cid: rel.rsplit("/", 1)[1] for cid, rel in written.items()}
    missing = [c for c in expected_chart_ids(analysis) if c not in written]
    page = day_page_html(analysis, images, missing, "../index.html")
    try:
        _atomic_write(root / day / "index.html", page.encode("utf-8"))
        result.page_url = url(f"{day}/index.html")
    except OSError as exc:
        result._error(f"cannot write {root / day / 'index.html'}: {exc.strerror or exc}")
    dates = sorted({p.name for p in root.iterdir() if _DATE_DIR.match(p.name) and (p / "index.html").is_file()}
                   | ({day} if result.page_url else set()), reverse=True)
    try:
        _atomic_write(root / "index.html", root_index_html([(x, f"{x}/index.html") for x in dates]).encode())
        result.index_url = url("index.html")
    except OSError as exc:
        result._error(f"cannot write {root / 'index.html'}: {exc.strerror or exc}")


def _publish_s3(analysis: Analysis, charts: dict[str, Path], settings: Settings, dest: Destination, client,
                result: PublishResult) -> None:
    writer = _S3Writer(client, dest, result)
    expiry = min(int(settings.plot_url_expiry_seconds), MAX_PRESIGN_SECONDS)
    presigned = settings.plot_links == "presigned"
    base = settings.plot_base_url.rstrip("/")
    if not presigned and not base:
        log.warning("PLOT_BASE_URL is not set: chart links use the S3 REST URL of each object")

    def url(rel: str) -> str:
        key = dest.key(rel)
        if presigned:
            return client.generate_presigned_url("get_object", Params={"Bucket": dest.bucket, "Key": key},
                                                 ExpiresIn=expiry)
        return f"{base}/{quote(key, safe='/~')}" if base else _rest_url(client, dest.bucket, key)

    def upload(item: tuple[str, Path]) -> tuple[str, str | None]:
        cid, src = item
        rel = _day_rel(analysis, chart_filename(cid))
        try:
            body = src.read_bytes()
        except OSError as exc:
            result._error(f"cannot read chart {src}: {exc.strerror or exc}")
            return cid, None
        return cid, rel if writer.put(rel, body, PNG_TYPE, PNG_CACHE) else None

    items = list(charts.items())
    done: list[tuple[str, str | None]] = []
    if items:
        # The first upload alone: a missing bucket or a denial costs one request, not one per chart.
        done.append(upload(items[0]))
        if len(items) > 1 and not writer.fatal:
            with ThreadPoolExecutor(max_workers=min(UPLOAD_THREADS, len(items) - 1)) as pool:
                done.extend(pool.map(upload, items[1:]))
        done.extend((cid, None) for cid, _ in items[len(done):])
    written = {cid: rel for cid, rel in done if rel is not None}
    for cid, _ in items:
        if cid in written:
            result.urls[cid] = url(written[cid])
        else:
            result.missing.append(cid)
    if writer.fatal:
        return

    day = analysis.report_date.isoformat()
    link: Callable[[str], str] = url if presigned else (lambda rel: rel)
    images = {cid: (url(rel) if presigned else rel.rsplit("/", 1)[1]) for cid, rel in written.items()}
    missing = [c for c in expected_chart_ids(analysis) if c not in written]
    index_href = url("index.html") if presigned else "../index.html"
    page = day_page_html(analysis, images, missing, index_href)
    if writer.put(f"{day}/index.html", page.encode("utf-8"), HTML_TYPE, HTML_CACHE):
        result.page_url = url(f"{day}/index.html")
    if writer.fatal:
        return
    dates = writer.list_dates()
    if dates is None:
        return
    dates = sorted(set(dates) | ({day} if result.page_url else set()), reverse=True)
    index = root_index_html([(x, link(f"{x}/index.html")) for x in dates])
    if writer.put("index.html", index.encode("utf-8"), HTML_TYPE, HTML_CACHE):
        result.index_url = url("index.html")


def _atomic_write(path: Path, data: bytes) -> None:
    write_atomic(path, data)


def _atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".tmp-", suffix=dst.suffix)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
