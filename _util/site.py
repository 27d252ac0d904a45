"""The static site: each day's page and charts, a manifest of the published days and a top-level index, in a
local folder or on S3. The pages themselves are pure views of the day's DayView (_util/pages.py); this module
only decides what goes where and writes it.

Layout under the site root (a folder, or s3://bucket/prefix):
    index.html                    dates, latest first: total, change vs the day before, alert count
    index.json                    the manifest behind it: {"days": {d: {"total", "previous_day", "alerts"}}}
    <d>/index.html                the day's page (pages.day_page), with links to the nearest published days
    <d>/<chart file>.png          names from chart_filename(): safe and stable for any service name
Each publish reads the manifest (absent or corrupt: a new one, with a warning), adds its own day, writes it back
(atomically: write_atomic locally, one put_object on S3) and then writes index.html from it and the date folders.

Previous/next links: a day's page links the nearest days published before it (known from the manifest and the
folder listing at publish time). Pages already published are not rewritten, so an older page gains its "next"
link only when that day is published again.

Links: PLOT_LINKS=public gives PLOT_BASE_URL + key; presigned gives presigned GET URLs (private bucket);
a local folder without PLOT_BASE_URL gives file:// URIs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import quote

from . import pages
from .config import MAX_PRESIGN_SECONDS, Settings
from .files import write_atomic
from .pages import DayRow
from .view import DayView, captions, chart_filename, with_links

log = logging.getLogger("aws_cost_tracking")

PNG_TYPE, HTML_TYPE, JSON_TYPE = "image/png", "text/html; charset=utf-8", "application/json"
MANIFEST = "index.json"
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


def expected_chart_ids(view: DayView) -> list[str]:
    """Every chart the day's page and message refer to, in page order (view.charts)."""
    return [chart.id for chart in view.charts]


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

    def get(self, rel: str) -> tuple[bytes | None, bool]:
        """(the object's bytes or None when absent, readable?); readable is False when S3 did not say."""
        key = self.dest.key(rel)
        try:
            return self.client.get_object(Bucket=self.dest.bucket, Key=key)["Body"].read(), True
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404"):
                return None, True
            log.warning("cannot read s3://%s/%s: %s", self.dest.bucket, key,
                        describe_s3_error(exc, self.dest.bucket, key)[0])
            return b"", False

    def list_dates(self) -> list[str] | None:
        """Date folders under the prefix (None when listing failed; a denied listing does not stop the puts:
        ListBucket is a permission of its own)."""
        if self.fatal:
            return None
        prefix = self.dest.key("")
        found: list[str] = []
        try:
            listing = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.dest.bucket, Prefix=prefix, Delimiter="/")
            for page in listing:
                for cp in page.get("CommonPrefixes", []):
                    name = cp["Prefix"][len(prefix):].strip("/")
                    if _DATE_DIR.match(name):
                        found.append(name)
        except Exception as exc:
            message, _ = describe_s3_error(exc, self.dest.bucket, prefix)
            self.result._error(f"{message}; top-level index not updated")
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


# ---- the site manifest and the index ---------------------------------------------------------------------------


def parse_manifest(raw: bytes | str | None, where: str, *, new_site: bool = False) -> dict[str, dict]:
    """The days of a manifest's text ({"days": {iso date: {"total", "previous_day", "alerts"}}}, raw None: absent).
    Absent or corrupt gives {} with a logged warning (the index shows unknowns for the days before), except that an
    absent manifest of a new site (no date folders yet) is only noted."""
    if raw is None:
        log.log(logging.INFO if new_site else logging.WARNING, "no site manifest at %s: starting a new one", where)
        return {}
    try:
        days = json.loads(raw)["days"]
        if not isinstance(days, dict):
            raise TypeError("days is not an object")
        return {d: dict(row) for d, row in days.items() if _DATE_DIR.match(d) and isinstance(row, dict)}
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("the site manifest at %s is unreadable (%s): starting a new one", where, exc)
        return {}


def manifest_with(days: dict[str, dict], view: DayView) -> dict[str, dict]:
    """The manifest's days with the view's day added (or replaced)."""
    row = {"total": view.total, "previous_day": view.day_comparisons[0].base, "alerts": view.alerts}
    return {**days, view.report_date.isoformat(): row}


def manifest_bytes(days: dict[str, dict]) -> bytes:
    return (json.dumps({"days": dict(sorted(days.items()))}, indent=1) + "\n").encode("utf-8")


def neighbours(dates: Iterable[str], day: str) -> tuple[str | None, str | None]:
    """The nearest published dates before and after day (ISO dates; None at either end)."""
    before = [x for x in dates if x < day]
    after = [x for x in dates if x > day]
    return (max(before) if before else None), (min(after) if after else None)


def index_rows(dates: Iterable[str], days: dict[str, dict], href: Callable[[str], str]) -> list[DayRow]:
    """One index row per published date (href: ISO date -> link to its page); unknowns where no manifest row."""
    rows = []
    for x in sorted(set(dates), reverse=True):
        row = days.get(x, {})
        alerts = _number(row.get("alerts"))
        rows.append(DayRow.of(date.fromisoformat(x), href(x), _number(row.get("total")),
                              _number(row.get("previous_day")), None if alerts is None else int(alerts)))
    return rows


def _number(value) -> float | None:
    """A manifest figure, or None when it is missing or not a number (a hand-edited or damaged manifest)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _day_page(view: DayView, written: dict[str, str], images: dict[str, str], published: set[str],
              day_href: Callable[[str], str], index_href: str) -> str:
    """The day's page, with the charts written and the nearest published days as prev/next."""
    missing = [c for c in expected_chart_ids(view) if c not in written]
    before, after = neighbours(published, view.report_date.isoformat())
    return pages.day_page(with_links(view, {}, None, missing), images, index_href=index_href,
                          prev=(before, day_href(before)) if before else None,
                          next=(after, day_href(after)) if after else None)


# ---- publishing -------------------------------------------------------------------------------------------------


def publish(view: DayView, chart_files: dict[str, Path], settings: Settings, *,
            s3_client=None) -> PublishResult:
    """Write the day's PNGs, its index.html, the manifest and the top-level index.html to PLOTS_DESTINATION (a
    folder, or S3 unless a dry run); never raises for S3/disk errors: they go to result.errors and result.missing."""
    result = PublishResult()
    dest = resolve_destination(settings)
    result.destination = str(dest)
    charts: dict[str, Path] = {}
    unrendered = []
    for cid in list(dict.fromkeys([*expected_chart_ids(view), *chart_files])):
        path = chart_files.get(cid)
        if path is not None and Path(path).is_file():
            charts[cid] = Path(path)
        else:
            unrendered.append(cid)
    if unrendered:
        result.missing.extend(unrendered)
        result._error(f"{len(unrendered)} chart(s) were not rendered: "
                      f"{', '.join(captions(view.charts, unrendered[:5]))}"
                      + (" …" if len(unrendered) > 5 else ""))
    if dest.local_root is not None:
        _publish_local(view, charts, settings, dest.local_root, result)
    else:
        try:
            client = s3_client if s3_client is not None else make_s3_client(settings)
        except Exception as exc:  # bad AWS_ENDPOINT_URL, broken AWS config…: the run goes on without the site
            result._error(f"cannot create the S3 client for {dest}: {exc}")
            result.missing.extend(charts)
            return result
        _publish_s3(view, charts, settings, dest, client, result)
    return result


def _day_rel(view: DayView, name: str) -> str:
    return f"{view.report_date.isoformat()}/{name}"


def _publish_local(view: DayView, charts: dict[str, Path], settings: Settings, root: Path,
                   result: PublishResult) -> None:
    # A dry run publishes nothing where PLOT_BASE_URL points: link the files it wrote.
    base = "" if settings.dry_run else settings.plot_base_url.rstrip("/")

    def url(rel: str) -> str:
        return f"{base}/{quote(rel, safe='/~')}" if base else (root / rel).resolve().as_uri()

    day = view.report_date.isoformat()
    written: dict[str, str] = {}
    try:
        (root / day).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        result._error(f"cannot create the site folder {root / day}: {exc.strerror or exc}")
        result.missing.extend(charts)
        return
    for cid, src in charts.items():
        rel = _day_rel(view, chart_filename(cid))
        target = root / rel
        try:
            if src.resolve() != target.resolve():
                write_atomic(target, src.read_bytes())  # the one atomic writer (fsync, 0644)
            written[cid] = rel
            result.urls[cid] = url(rel)
        except OSError as exc:
            result.missing.append(cid)
            result._error(f"cannot write {target}: {exc.strerror or exc}")
    manifest_path = root / MANIFEST
    try:
        raw = manifest_path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        log.warning("cannot read %s: %s", manifest_path, exc.strerror or exc)
        raw = b""
    folders = {p.name for p in root.iterdir() if _DATE_DIR.match(p.name) and (p / "index.html").is_file()}
    days = parse_manifest(raw, str(manifest_path), new_site=not folders - {day})
    published = (folders | set(days)) - {day}
    images = {cid: rel.rsplit("/", 1)[1] for cid, rel in written.items()}
    page = _day_page(view, written, images, published, lambda x: f"../{x}/index.html", "../index.html")
    try:
        write_atomic(root / day / "index.html", page.encode("utf-8"))
        result.page_url = url(f"{day}/index.html")
    except OSError as exc:
        result._error(f"cannot write {root / day / 'index.html'}: {exc.strerror or exc}")
    if result.page_url:
        days = manifest_with(days, view)
        published.add(day)
        try:
            write_atomic(manifest_path, manifest_bytes(days))
        except OSError as exc:
            result._error(f"cannot write {manifest_path}: {exc.strerror or exc}")
    index = pages.index_page(index_rows(published, days, lambda x: f"{x}/index.html"))
    try:
        write_atomic(root / "index.html", index.encode("utf-8"))
        result.index_url = url("index.html")
    except OSError as exc:
        result._error(f"cannot write {root / 'index.html'}: {exc.strerror or exc}")


def _publish_s3(view: DayView, charts: dict[str, Path], settings: Settings, dest: Destination, client,
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
        rel = _day_rel(view, chart_filename(cid))
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

    day = view.report_date.isoformat()
    # Pages link each other relatively, unless the bucket is private: then every link is presigned.
    page_link: Callable[[str], str] = (lambda x: url(f"{x}/index.html")) if presigned else (
        lambda x: f"../{x}/index.html")
    index_link: Callable[[str], str] = (lambda x: url(f"{x}/index.html")) if presigned else (
        lambda x: f"{x}/index.html")
    listed = writer.list_dates()
    raw, readable = writer.get(MANIFEST)
    days = parse_manifest(raw, f"s3://{dest.bucket}/{dest.key(MANIFEST)}",
                          new_site=listed is not None and not set(listed) - {day})
    published = (set(listed or ()) | set(days)) - {day}
    images = {cid: (url(rel) if presigned else rel.rsplit("/", 1)[1]) for cid, rel in written.items()}
    page = _day_page(view, written, images, published, page_link,
                     url("index.html") if presigned else "../index.html")
    if writer.put(f"{day}/index.html", page.encode("utf-8"), HTML_TYPE, HTML_CACHE):
        result.page_url = url(f"{day}/index.html")
    if writer.fatal or not result.page_url:
        return
    published.add(day)
    days = manifest_with(days, view)
    if readable:  # a manifest that could not be read (denied, timeout) is left as it is, not overwritten
        writer.put(MANIFEST, manifest_bytes(days), JSON_TYPE, HTML_CACHE)
    if listed is None or writer.fatal:
        return
    index = pages.index_page(index_rows(published, days, index_link))
    if writer.put("index.html", index.encode("utf-8"), HTML_TYPE, HTML_CACHE):
        result.index_url = url("index.html")
