"""The static site: local folder, moto's S3 on 127.0.0.1 (read back, public and presigned links over HTTP),
S3 faults, hostile names, and the local site in headless Chromium."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import struct
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from _util import charts, fmt, site, view
from _util.config import Settings
from _util.model import MTD_CHART, AlertParams, Spike, Trend, trend_chart_id
from tests.browser import chromium_dom, chromium_screenshot
from tests.fixtures_analysis import D, analysis_from_costs, build_analysis, day_view, synthetic_costs

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "cost-site"
HOSTILE = ["<script>alert(1)</script>", "../../etc/passwd", "<!channel>", "a/b (c)", "Ünïcødé 東京",
           "\"quoted\" & 'single'"]


# ---- fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """A small realistic Analysis and its rendered charts (rendered once for the module)."""
    analysis = build_analysis(n_services=14, days=150)
    files = charts.render_charts(analysis, day_view(analysis), AlertParams(), tmp_path_factory.mktemp("charts"))
    assert analysis.spikes and analysis.trends
    return day_view(analysis), files


@pytest.fixture(scope="module")
def hostile_day(tmp_path_factory):
    """An Analysis whose services have hostile names, each with a spike and a trend."""
    costs = synthetic_costs(n_services=len(HOSTILE), days=60)
    costs.columns = HOSTILE
    spikes = [Spike(n, "up", 100.0, 10.0, 2.0, 45.0, 90.0, 59) for n in HOSTILE]
    trends = [Trend(n, "down", -1.0, 0.5, 10.0, 9.0, 11.0) for n in HOSTILE[:2]]
    analysis = analysis_from_costs(costs, D, spikes=spikes, trends=trends)
    files = charts.render_charts(analysis, day_view(analysis), AlertParams(), tmp_path_factory.mktemp("hostile"))
    return day_view(analysis), files


def s3(endpoint: str, **config):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(signature_version="s3v4", **config))


@pytest.fixture
def bucket(moto_reset):
    client = s3(moto_reset)
    client.create_bucket(Bucket=BUCKET)
    return client


def s3_settings(**kw) -> Settings:
    return Settings(plots_destination=f"s3://{BUCKET}/costs", **kw)


def all_objects(client) -> dict[str, dict]:
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])]
    return {k: client.get_object(Bucket=BUCKET, Key=k) for k in keys}


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        return resp.read()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


class Tags(HTMLParser):
    """Collects <img src>, <a href> and the page's text."""

    def __init__(self):
        super().__init__()
        self.imgs: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a["src"])
        if tag == "a":
            self.links.append(a["href"])

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Tags:
    p = Tags()
    p.feed(page)
    return p


# ---- names and destinations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, bucket, prefix", [
    ("s3://b-1/costs", "b-1", "costs"), ("s3://b-1/costs/", "b-1", "costs"), ("s3://b-1", "b-1", ""),
    ("s3://b-1//a/../b/./", "b-1", "a/b"),
])
def test_parse_destination(raw, bucket, prefix):
    dest = site.parse_destination(raw)
    assert (dest.bucket, dest.prefix, dest.local_root) == (bucket, prefix, None)


def test_make_s3_client_uses_standard_retries_and_honours_aws_endpoint_url(monkeypatch, moto_reset):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    client = site.make_s3_client()
    assert client.meta.endpoint_url == moto_reset
    # 3 attempts in all; connect and read bounded (botocore's 60 s + 5 retries held a silent S3 for 735 s)
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (10, 30)
    client.create_bucket(Bucket=BUCKET)  # really talks to moto
    assert BUCKET in [b["Name"] for b in client.list_buckets()["Buckets"]]


# ---- local folder ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_local_site_written_with_file_urls(day, tmp_path):
    dv, files = day
    result = site.publish(dv, files, Settings(plots_destination=str(tmp_path / "site")))
    assert result.errors == [] and result.missing == []
    assert set(result.urls) == set(files)
    for cid, url in result.urls.items():
        assert url.startswith("file:///")
        path = Path(unquote(urlparse(url).path))
        assert path.read_bytes() == files[cid].read_bytes()
        assert path.parent == tmp_path / "site" / D.isoformat()
    page = Path(unquote(urlparse(result.page_url).path)).read_text("utf-8")
    tags = parse(page)
    assert sorted(tags.imgs) == sorted(site.chart_filename(c) for c in files)
    assert "../index.html" in tags.links
    root = (tmp_path / "site" / "index.html").read_text("utf-8")
    assert f'href="{D.isoformat()}/index.html"' in root


def test_local_root_index_lists_dates_latest_first(day, tmp_path):
    dv, files = day
    root = tmp_path / "site"
    for old in ("2026-11-20", "2026-11-24"):
        (root / old).mkdir(parents=True)
        (root / old / "index.html").write_text("old")
    (root / "not-a-date").mkdir()
    site.publish(dv, files, Settings(plots_destination=str(root)))
    dates = re.findall(r'href="(\d{4}-\d{2}-\d{2})/index.html"', (root / "index.html").read_text())
    assert dates == ["2026-11-25", "2026-11-24", "2026-11-20"]


def test_local_site_with_base_url_gives_public_links(day, tmp_path):
    dv, files = day
    settings = Settings(plots_destination=str(tmp_path / "site"), plot_base_url="https://costs.example.com/site/")
    result = site.publish(dv, files, settings)
    assert result.urls[MTD_CHART] == f"https://costs.example.com/site/{D.isoformat()}/mtd-by-service.png"
    assert result.page_url == f"https://costs.example.com/site/{D.isoformat()}/index.html"


def test_unrendered_chart_is_missing_with_no_url(day, tmp_path):
    dv, files = day
    lost = trend_chart_id(dv.trends[0].service)
    partial = {k: v for k, v in files.items() if k != lost}
    result = site.publish(dv, partial, Settings(plots_destination=str(tmp_path / "site")))
    assert result.missing == [lost]
    assert lost not in result.urls
    assert any("not rendered" in e for e in result.errors)
    page = (tmp_path / "site" / D.isoformat() / "index.html").read_text()
    assert "Charts not available" in page and site.chart_filename(lost) not in page


# ---- S3 (moto on 127.0.0.1) ------------------------------------------------------------------------------------


def test_s3_publish_every_object_readable_with_content_type(day, bucket):
    dv, files = day
    result = site.publish(dv, files, s3_settings(plot_base_url="https://site.example"), s3_client=bucket)
    assert result.errors == [] and result.missing == []
    objects = all_objects(bucket)
    d = D.isoformat()
    expected_pngs = {f"costs/{d}/{site.chart_filename(c)}": c for c in files}
    assert set(objects) == set(expected_pngs) | {f"costs/{d}/index.html", "costs/index.html", "costs/index.json"}
    for key, obj in objects.items():
        body = obj["Body"].read()
        if key.endswith(".json"):
            assert obj["ContentType"] == "application/json"
            assert json.loads(body)["days"][d] == {"total": dv.total, "previous_day": dv.day_comparisons[0].base,
                                                   "alerts": dv.alerts}
        elif key.endswith(".png"):
            assert obj["ContentType"] == "image/png"
            assert obj["CacheControl"] == site.PNG_CACHE
            assert body == files[expected_pngs[key]].read_bytes()
            assert png_size(body) == (1200, 700)
        else:
            assert obj["ContentType"] == "text/html; charset=utf-8"
            assert obj["CacheControl"] == site.HTML_CACHE
            body.decode("utf-8")
    assert result.urls == {c: f"https://site.example/{k}" for k, c in expected_pngs.items()}
    assert result.page_url == f"https://site.example/costs/{d}/index.html"
    assert result.index_url == "https://site.example/costs/index.html"


def docs_bucket_policy(bucket: str, cidr: str) -> str:
    """docs/bucket-policy.json with its placeholders filled in."""
    text = (ROOT / "docs" / "bucket-policy.json").read_text()
    policy = json.loads(text.replace("YOUR-BUCKET", bucket))
    policy["Statement"][0]["Condition"]["IpAddress"]["aws:SourceIp"] = [cidr]
    return json.dumps(policy)


def test_s3_objects_are_private_without_the_bucket_policy(day, bucket, moto_reset):
    dv, files = day
    result = site.publish(dv, files, s3_settings(plot_base_url=f"{moto_reset}/{BUCKET}"), s3_client=bucket)
    with pytest.raises(urllib.error.HTTPError) as err:
        fetch(result.urls[MTD_CHART])
    assert err.value.code == 403


def test_s3_public_links_fetch_the_objects(day, bucket, moto_reset):
    """With docs/bucket-policy.json applied (moto does not evaluate its aws:SourceIp condition), the public
    links work; moto serves no website endpoint, so PLOT_BASE_URL = the bucket's path on moto stands in."""
    dv, files = day
    bucket.put_bucket_policy(Bucket=BUCKET, Policy=docs_bucket_policy(BUCKET, "127.0.0.1/32"))
    result = site.publish(dv, files, s3_settings(plot_base_url=f"{moto_reset}/{BUCKET}"), s3_client=bucket)
    for cid, url in result.urls.items():
        assert fetch(url) == files[cid].read_bytes()
    page = fetch(result.page_url).decode("utf-8")
    # relative image links resolve against the page's URL
    for src in parse(page).imgs:
        assert fetch(urllib.parse.urljoin(result.page_url, src))[:8] == b"\x89PNG\r\n\x1a\n"


def test_s3_presigned_links_fetch_over_http(day, bucket):
    dv, files = day
    settings = s3_settings(plot_links="presigned", plot_url_expiry_seconds=3600)
    result = site.publish(dv, files, settings, s3_client=bucket)
    assert result.errors == []
    for cid, url in result.urls.items():
        assert "X-Amz-Expires=3600" in url and "X-Amz-Signature=" in url
        assert fetch(url) == files[cid].read_bytes()
    page = fetch(result.page_url).decode("utf-8")
    imgs = parse(page).imgs
    assert len(imgs) == len(files)
    for src in imgs:  # a private bucket: the page's images are presigned too
        assert "X-Amz-Signature=" in src
        assert png_size(fetch(src)) == (1200, 700)


def test_s3_root_index_lists_date_folders_latest_first(day, bucket):
    dv, files = day
    for key in ("costs/2026-11-20/index.html", "costs/2026-11-24/x.png", "costs/assets/style.css",
                "other/2026-11-26/index.html"):
        bucket.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    site.publish(dv, files, s3_settings(plot_base_url="https://site.example"), s3_client=bucket)
    root = bucket.get_object(Bucket=BUCKET, Key="costs/index.html")["Body"].read().decode()
    assert re.findall(r'href="(\d{4}-\d{2}-\d{2})/index.html"', root) == ["2026-11-25", "2026-11-24", "2026-11-20"]


def test_hostile_names_escaped_and_keys_under_prefix(hostile_day, bucket):
    dv, files = hostile_day
    result = site.publish(dv, files, s3_settings(plot_base_url="https://site.example"), s3_client=bucket)
    assert result.errors == [] and len(result.urls) == len(files)
    objects = all_objects(bucket)
    for key in objects:
        assert key.startswith("costs/") and ".." not in key.split("/")
        assert re.fullmatch(r"costs/(index\.(html|json)|\d{4}-\d{2}-\d{2}/(index\.html|[a-z0-9-]+\.png))", key), key
    page = objects[f"costs/{D.isoformat()}/index.html"]["Body"].read().decode("utf-8")
    assert "<script>" not in page and "<!channel>" not in page
    assert html.escape("<script>alert(1)</script>") in page
    text = "".join(parse(page).text)
    for name in HOSTILE:  # every name survives escaping unchanged as page text
        assert name in text
    for url in result.urls.values():
        assert url.startswith("https://site.example/costs/") and ".." not in url


def test_s3_missing_bucket_stops_after_first_failure(day, moto_reset):
    dv, files = day
    client = s3(moto_reset)
    sent = []
    client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    result = site.publish(dv, files, Settings(plots_destination="s3://no-such-bucket/costs"),
                          s3_client=client)
    assert result.urls == {} and result.page_url is None and result.index_url is None
    assert sorted(result.missing) == sorted(site.expected_chart_ids(dv))
    assert result.errors == ["S3 bucket no-such-bucket does not exist (PLOTS_DESTINATION)"]
    assert len(sent) == 1


def test_s3_access_denied_gives_missing_and_a_clear_error(day):
    dv, files = day
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("put_object", service_error_code="AccessDenied", service_message="Access Denied",
                              http_status_code=403)
        result = site.publish(dv, files, s3_settings(plot_base_url="https://x.example"), s3_client=client)
        stub.assert_no_pending_responses()
    assert result.urls == {} and result.page_url is None
    assert sorted(result.missing) == sorted(files)
    assert len(result.errors) == 1
    assert re.fullmatch(r"access denied to s3://cost-site/costs/2026-11-25/\S+\.png — check the IAM policy "
                        r"\(docs/iam-upload\.json\)", result.errors[0])


def test_s3_listing_denied_keeps_charts_and_page_but_not_root_index(day):
    dv, files = day
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        for _ in range(len(files)):
            stub.add_response("put_object", {})
        stub.add_client_error("list_objects_v2", service_error_code="AccessDenied", http_status_code=403)
        stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
        stub.add_response("put_object", {})  # the day's page
        stub.add_response("put_object", {})  # the manifest
        result = site.publish(dv, files, s3_settings(plot_base_url="https://x.example"), s3_client=client)
        stub.assert_no_pending_responses()
    assert set(result.urls) == set(files) and result.missing == []
    assert result.page_url and result.index_url is None
    assert result.errors == ["access denied to s3://cost-site/costs/ — check the IAM policy (docs/iam-upload.json); "
                             "top-level index not updated"]


class FlakyS3(SimpleHTTPRequestHandler):
    """A fake S3 endpoint: PUTs answer 503 SlowDown while `fail_puts` > 0; GET (listing) answers an empty list."""

    protocol_version = "HTTP/1.1"
    state: dict = {}

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body: bytes = b"", ctype="application/xml"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if status == 200:
            self.send_header("ETag", '"0"')
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                self.rfile.read(size + 2)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
        else:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.state["lock"]:
            self.state["puts"].append(self.path)
            fail = self.state["fail_puts"] > 0
            self.state["fail_puts"] -= 1
        if fail:
            self._reply(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
                             b"</Error>")
        else:
            self._reply(200)

    def do_GET(self):
        self._reply(200, b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>cost-site</Name>'
                         b"<Prefix>costs/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
                         b"<Delimiter>/</Delimiter><IsTruncated>false</IsTruncated></ListBucketResult>")


@pytest.fixture
def flaky_s3():
    state = {"lock": threading.Lock(), "puts": [], "fail_puts": 0}
    handler = type("Handler", (FlakyS3,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", state
    server.shutdown()
    server.server_close()


def test_s3_throttling_is_retried_by_botocore(day, flaky_s3, monkeypatch):
    dv, files = day
    endpoint, state = flaky_s3
    state["fail_puts"] = 1  # the first upload is throttled once, then succeeds on retry
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    result = site.publish(dv, files, s3_settings(plot_base_url="https://x.example"))  # make_s3_client
    assert result.errors == [] and result.missing == []
    assert set(result.urls) == set(files)
    first = state["puts"][0]
    assert state["puts"].count(first) == 2  # the throttled PUT was sent again
    assert len(state["puts"]) == len(files) + 3 + 1  # charts + day page + manifest + root index + the retry


@pytest.mark.slow
def test_s3_persistent_throttling_gives_up_with_missing_charts(day, flaky_s3):
    dv, files = day
    endpoint, state = flaky_s3
    state["fail_puts"] = 10_000
    many = dict(files) | {f"extra:{i}": files[MTD_CHART] for i in range(40)}  # more objects than threads
    client = s3(endpoint, retries={"mode": "standard", "max_attempts": 1})  # 1 retry: 2 attempts per object
    result = site.publish(dv, many, s3_settings(plot_base_url="https://x.example"), s3_client=client)
    assert result.urls == {} and result.page_url is None
    assert sorted(result.missing) == sorted(many)
    assert any("throttled" in e for e in result.errors)
    assert any("gave up after" in e for e in result.errors)
    tried = set(state["puts"])
    assert all(state["puts"].count(key) == 2 for key in tried)  # each was retried by botocore
    assert len(tried) < len(many)  # and the rest was not attempted after repeated failures


@pytest.mark.parametrize("base_url", ["", "https://costs.example.com"])
def test_dry_run_with_s3_destination_writes_locally_and_uploads_nothing(day, bucket, tmp_path, base_url):
    """Links point at the local files written, never at PLOT_BASE_URL (nothing was published there)."""
    dv, files = day
    settings = s3_settings(dry_run=True, output_dir=tmp_path / "out", plot_base_url=base_url)
    result = site.publish(dv, files, settings, s3_client=bucket)
    assert all_objects(bucket) == {}
    assert result.destination == str(tmp_path / "out" / "site")
    assert set(result.urls) == set(files)
    for url in [*result.urls.values(), result.page_url, result.index_url]:
        assert url.startswith("file://")
        assert Path(unquote(urlparse(url).path)).is_file()


def test_publish_result_is_a_dataclass_with_the_documented_fields():
    names = {f.name for f in dataclasses.fields(site.PublishResult)}
    assert {"urls", "page_url", "missing", "errors"} <= names


# ---- the local site in a browser -------------------------------------------------------------------------------


class LoggingHandler(SimpleHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def log_request(self, code="-", size="-"):
        self.requests.append((unquote(urlparse(self.path).path), int(code) if str(code).isdigit() else code))


@pytest.mark.browser
def test_local_site_in_headless_chromium(chromium, day, tmp_path):
    dv, files = day
    root = tmp_path / "site"
    result = site.publish(dv, files, Settings(plots_destination=str(root)))
    assert result.errors == []
    log: list = []
    handler = type("H", (LoggingHandler,), {"requests": log})
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(root), **k))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        page_url = f"{base}/{D.isoformat()}/index.html"
        dom = chromium_dom(chromium, page_url, tmp_path)
        imgs = parse(dom).imgs
        assert len(imgs) == len(files)
        served = dict(log)
        for src in imgs:  # every image was loaded by the browser, and is a real chart
            path = f"/{D.isoformat()}/{src}"
            assert served.get(path) == 200, f"{src} not loaded"
            assert png_size((root / D.isoformat() / src).read_bytes()) == (1200, 700)
        shot = tmp_path / "page.png"
        chromium_screenshot(chromium, page_url, shot, tmp_path, size=(1280, 2400))
        index_dom = chromium_dom(chromium, f"{base}/index.html", tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        rgb = im.convert("RGB")
        px = np.asarray(rgb, dtype=np.int16)
        colourful = int(((px.max(axis=2) - px.min(axis=2)) > 60).sum())
    # text and tables are grey; the charts' bars are what makes >2% of the page saturated
    assert colourful > 0.02 * 1280 * 2400
    assert f'{D.isoformat()}/index.html' in index_dom


def test_s3_client_creation_failure_is_reported_not_raised(day, monkeypatch):
    dv, files = day

    def broken(settings=None):
        raise ValueError("Invalid endpoint: nonsense")

    monkeypatch.setattr(site, "make_s3_client", broken)
    result = site.publish(dv, files, s3_settings())
    assert result.urls == {} and result.page_url is None
    assert sorted(result.missing) == sorted(files)
    assert result.errors == ["cannot create the S3 client for s3://cost-site/costs: Invalid endpoint: nonsense"]


# ---- the manifest, the index rows and prev/next ----------------------------------------------------------------


def rows(index_html: str) -> list[list[str]]:
    """The index table's body rows as cell texts."""
    cells = [re.findall(r"<td>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", index_html, re.S)]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in row] for row in cells if row]


def nav(page: str) -> dict[str, str]:
    """{rel: href} of the day page's prev/next links."""
    return dict((rel, href) for href, rel in re.findall(r'<a href="([^"]+)" rel="(prev|next)"', page))


def test_local_manifest_feeds_index_rows_and_prev_next(day, tmp_path, caplog):
    dv, files = day
    root = tmp_path / "site"
    for old in ("2026-11-20", "2026-11-27"):  # a folder without a manifest row, and a later day
        (root / old).mkdir(parents=True)
        (root / old / "index.html").write_text("old")
    (root / "index.json").write_text(json.dumps(
        {"days": {"2026-11-24": {"total": 100.0, "previous_day": 80.0, "alerts": 2}}}))
    result = site.publish(dv, files, Settings(plots_destination=str(root)))
    assert result.errors == [] and result.index_url
    manifest = json.loads((root / "index.json").read_text())["days"]
    assert manifest["2026-11-24"] == {"total": 100.0, "previous_day": 80.0, "alerts": 2}  # kept
    assert manifest[D.isoformat()] == {"total": dv.total, "previous_day": dv.day_comparisons[0].base,
                                       "alerts": dv.alerts}
    change = dv.day_comparisons[0]
    assert rows((root / "index.html").read_text()) == [
        ["Friday, November 27, 2026", "–", "–", "–"],
        ["Wednesday, November 25, 2026", fmt.money(dv.total), f"{change.change}", str(dv.alerts)],
        ["Tuesday, November 24, 2026", "$100.00", "+$20.00 (+25.0%)", "2"],
        ["Friday, November 20, 2026", "–", "–", "–"]]
    page = (root / D.isoformat() / "index.html").read_text()
    assert nav(page) == {"prev": "../2026-11-24/index.html", "next": "../2026-11-27/index.html"}
    assert not any(r.levelname == "WARNING" and "manifest" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("content", [None, "{not json", '{"days": []}', '["days"]'])
def test_absent_or_corrupt_manifest_starts_a_new_one_with_a_warning(day, tmp_path, caplog, content):
    dv, files = day
    root = tmp_path / "site"
    (root / "2026-11-20").mkdir(parents=True)  # a site with history: losing the manifest is worth a warning
    (root / "2026-11-20" / "index.html").write_text("old")
    if content is not None:
        (root / "index.json").write_text(content)
    with caplog.at_level("WARNING", logger="aws_cost_tracking"):
        result = site.publish(dv, files, Settings(plots_destination=str(root)))
    assert result.errors == []
    assert any("manifest" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert list(json.loads((root / "index.json").read_text())["days"]) == [D.isoformat()]
    assert nav((root / D.isoformat() / "index.html").read_text()) == {"prev": "../2026-11-20/index.html"}


def test_a_new_site_starts_its_manifest_without_a_warning(day, tmp_path, caplog):
    dv, files = day
    root = tmp_path / "site"
    with caplog.at_level("INFO", logger="aws_cost_tracking"):
        site.publish(dv, files, Settings(plots_destination=str(root)))
    notes = [r for r in caplog.records if "manifest" in r.getMessage()]
    assert [r.levelname for r in notes] == ["INFO"]
    assert list(json.loads((root / "index.json").read_text())["days"]) == [D.isoformat()]


def test_s3_manifest_carries_earlier_days_into_the_index(day, bucket):
    dv, files = day
    earlier = dataclasses.replace(dv, report_date=D - timedelta(days=1), total=50.0,
                                  day_comparisons=(view.Comparison("x", 50.0, 40.0), *dv.day_comparisons[1:]))
    settings = s3_settings(plot_base_url="https://site.example")
    assert site.publish(earlier, files, settings, s3_client=bucket).errors == []
    result = site.publish(dv, files, settings, s3_client=bucket)
    assert result.errors == []
    index = bucket.get_object(Bucket=BUCKET, Key="costs/index.html")["Body"].read().decode()
    assert rows(index)[1] == ["Tuesday, November 24, 2026", "$50.00", "+$10.00 (+25.0%)", str(dv.alerts)]
    page = bucket.get_object(Bucket=BUCKET, Key=f"costs/{D.isoformat()}/index.html")["Body"].read().decode()
    assert nav(page) == {"prev": "../2026-11-24/index.html"}
    manifest = json.loads(bucket.get_object(Bucket=BUCKET, Key="costs/index.json")["Body"].read())
    assert sorted(manifest["days"]) == ["2026-11-24", "2026-11-25"]


def test_s3_unreadable_manifest_is_not_overwritten(day):
    dv, files = day
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        for _ in range(len(files)):
            stub.add_response("put_object", {})
        stub.add_response("list_objects_v2", {"CommonPrefixes": [{"Prefix": "costs/2026-11-24/"}]})
        stub.add_client_error("get_object", service_error_code="InternalError", http_status_code=500)
        stub.add_response("put_object", {})  # the day's page; no manifest put
        stub.add_response("put_object", {})  # the root index
        result = site.publish(dv, files, s3_settings(plot_base_url="https://x.example"), s3_client=client)
        stub.assert_no_pending_responses()
    assert result.page_url and result.index_url and result.errors == []


def test_presigned_site_links_pages_with_presigned_urls(day, bucket):
    dv, files = day
    bucket.put_object(Bucket=BUCKET, Key="costs/2026-11-24/index.html", Body=b"old")
    result = site.publish(dv, files, s3_settings(plot_links="presigned"), s3_client=bucket)
    page = fetch(result.page_url).decode("utf-8")
    links = nav(page)
    assert set(links) == {"prev"} and "X-Amz-Signature=" in links["prev"]
    assert fetch(html.unescape(links["prev"])) == b"old"
