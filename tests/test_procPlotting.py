"""procPlotting.py: the CLI of the charts stage — the day's charts and site pages from a database filled by the
real ingest path, into a local folder or moto's S3 on 127.0.0.1; --dry-run keeps an S3 destination untouched."""

from __future__ import annotations

import io
import json
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import boto3
import pytest
from botocore.config import Config
from PIL import Image

import procPlotting
from _util import site
from _util.model import CUMULATIVE_CHART, DAILY_CHART, MTD_CHART, spike_chart_id, trend_chart_id
from tests.cli_helpers import error_lines, fill_with_sample, run_cli

D = date(2026, 11, 25)  # the sample data is anchored on --date and plants its events on it
BUCKET, PREFIX = "cost-site", "costs"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The charts 2026-11-25 needs: month to date, daily by service, one per planted spike, one per planted trend.
DAY_CHARTS = {MTD_CHART, DAILY_CHART, CUMULATIVE_CHART,
              *(spike_chart_id(s) for s in ("AWS Lambda", "Amazon CloudFront", "Amazon Relational Database Service",
                                            "Amazon Redshift")),
              *(trend_chart_id(s) for s in ("Amazon Redshift", "Amazon ElastiCache"))}


pytestmark = pytest.mark.usefixtures("isolated")  # conftest: an empty folder, logging given back


def run(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, procPlotting.main, *argv)


@pytest.fixture
def filled(sqlite_url, capsys) -> str:
    return fill_with_sample(sqlite_url, capsys, D)


def s3_client(moto: str):
    return boto3.client("s3", endpoint_url=moto, region_name="us-east-1", config=Config(signature_version="s3v4"))


def objects(client) -> dict[str, dict]:
    """Every object of the bucket: key -> head_object."""
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])]
    return {k: client.head_object(Bucket=BUCKET, Key=k) for k in keys}


def assert_valid_png(data: bytes, where: str) -> None:
    assert data.startswith(PNG_MAGIC), where
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # checks the chunks and their CRCs
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.width >= 600 and image.height >= 300, (where, image.size)
        image.load()  # decodes every pixel: a truncated file fails here


def file_path(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(unquote(parsed.path))


# --- usage ---------------------------------------------------------------------------------------------------


def test_help_exits_0_with_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "usage: procPlotting.py" in out and "examples:" in out
    assert "python procPlotting.py --date 2026-11-25" in out
    assert "PLOTS_DESTINATION=s3://my-bucket/costs python procPlotting.py" in out
    assert "python procPlotting.py --dry-run" in out
    assert "exit status" in out and "--dry-run" in out


def test_bad_date_is_a_usage_error(capsys, isolated):
    code, out, err = run(capsys, "--date", "2026-11-31")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "--date must be YYYY-MM-DD" in err
    assert not (isolated / "output" / "site").exists()


# --- local folder --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_local_site_has_exactly_the_days_charts_and_pages(capsys, filled, isolated, monkeypatch):
    root = isolated / "site"
    monkeypatch.setenv("PLOTS_DESTINATION", str(root))
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--output-dir", "out")
    assert code == 0, err
    assert error_lines(err) == [] and "Traceback" not in err

    printed = json.loads(out)  # stdout is the result, nothing else
    assert set(printed) == {"page_url", "charts", "missing"}
    assert printed["missing"] == []
    assert set(printed["charts"]) == DAY_CHARTS
    day = root / D.isoformat()
    assert file_path(printed["page_url"]) == (day / "index.html").resolve()

    # Only the charts the day needs, each a valid PNG, each where the printed URL says.
    names = {site.chart_filename(c): c for c in DAY_CHARTS}
    assert {p.name for p in day.iterdir()} == set(names) | {"index.html"}
    for chart_id, url in printed["charts"].items():
        path = file_path(url)
        assert path == (day / site.chart_filename(chart_id)).resolve()
        assert_valid_png(path.read_bytes(), chart_id)
    # The render folder under OUTPUT_DIR holds the same set (nothing extra rendered).
    assert {p.name for p in (isolated / "out" / D.isoformat() / "charts").glob("*.png")} == set(names)
    assert {p.name for p in root.iterdir()} == {"index.html", "index.json", D.isoformat()}

    page = (day / "index.html").read_text(encoding="utf-8")
    assert page.lstrip().startswith("<!DOCTYPE html>")
    for name in names:
        assert f'src="{name}"' in page, name
    assert 'href="../index.html"' in page
    top = (root / "index.html").read_text(encoding="utf-8")
    assert f'href="{D.isoformat()}/index.html"' in top


def test_top_index_lists_every_published_date_latest_first(capsys, filled, quick_charts, isolated, monkeypatch):
    root = isolated / "site"
    monkeypatch.setenv("PLOTS_DESTINATION", str(root))
    before = D - timedelta(days=1)
    for day in (D, before):  # the older date last: the index is still latest first
        code, _, err = run(capsys, "--db-url", filled, "--date", day.isoformat())
        assert code == 0, err
    top = (root / "index.html").read_text(encoding="utf-8")
    first, second = top.find(f'href="{D.isoformat()}/index.html"'), top.find(f'href="{before}/index.html"')
    assert 0 <= first < second, top
    assert (root / D.isoformat() / "index.html").is_file() and (root / before.isoformat() / "index.html").is_file()


def test_plot_base_url_gives_public_links(capsys, filled, quick_charts, isolated, monkeypatch):
    monkeypatch.setenv("PLOTS_DESTINATION", str(isolated / "site"))
    monkeypatch.setenv("PLOT_BASE_URL", "https://costs.example.com/")
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat())
    assert code == 0, err
    printed = json.loads(out)
    assert printed["page_url"] == f"https://costs.example.com/{D}/index.html"
    assert printed["charts"] == {c: f"https://costs.example.com/{D}/{site.chart_filename(c)}" for c in DAY_CHARTS}


# --- S3 (moto on 127.0.0.1) ----------------------------------------------------------------------------------


def test_s3_destination_uploads_with_content_types(capsys, filled, isolated, moto_reset, monkeypatch):
    client = s3_client(moto_reset)
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    monkeypatch.setenv("PLOTS_DESTINATION", f"s3://{BUCKET}/{PREFIX}")
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat())
    assert code == 0, err
    assert error_lines(err) == []
    printed = json.loads(out)
    assert printed["missing"] == [] and set(printed["charts"]) == DAY_CHARTS

    stored = objects(client)
    day_prefix = f"{PREFIX}/{D.isoformat()}/"
    pngs = {day_prefix + site.chart_filename(c) for c in DAY_CHARTS}
    assert set(stored) == pngs | {day_prefix + "index.html", f"{PREFIX}/index.html", f"{PREFIX}/index.json"}
    types = {"png": "image/png", "html": "text/html; charset=utf-8", "json": "application/json"}
    for key, head in stored.items():
        png = key.endswith(".png")
        assert head["ContentType"] == types[key.rsplit(".", 1)[1]], key
        assert head["CacheControl"] == (site.PNG_CACHE if png else site.HTML_CACHE), key
    for key in pngs:
        assert_valid_png(client.get_object(Bucket=BUCKET, Key=key)["Body"].read(), key)

    # No PLOT_BASE_URL: the links are the objects' REST URLs, and they point at what was uploaded.
    for chart_id, url in printed["charts"].items():
        assert unquote(urlparse(url).path) == f"/{BUCKET}/{day_prefix}{site.chart_filename(chart_id)}", url
    assert unquote(urlparse(printed["page_url"]).path) == f"/{BUCKET}/{day_prefix}index.html"
    # Nothing was written to a local site folder.
    assert not (isolated / "output" / "site").exists() and not (isolated / PREFIX).exists()


def test_s3_public_links_fetch_the_charts(capsys, filled, quick_charts, moto_reset, monkeypatch):
    client = s3_client(moto_reset)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    monkeypatch.setenv("PLOTS_DESTINATION", f"s3://{BUCKET}/{PREFIX}")
    monkeypatch.setenv("PLOT_BASE_URL", f"{moto_reset}/{BUCKET}")  # moto serves no website endpoint
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat())
    assert code == 0, err
    printed = json.loads(out)
    with urllib.request.urlopen(printed["charts"][MTD_CHART], timeout=10) as resp:
        assert resp.headers["Content-Type"] == "image/png"
        assert_valid_png(resp.read(), MTD_CHART)
    with urllib.request.urlopen(printed["page_url"], timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/html")
        assert site.chart_filename(DAILY_CHART) in resp.read().decode("utf-8")


def test_dry_run_with_s3_destination_uploads_nothing_and_writes_under_output_dir(capsys, filled, quick_charts,
                                                                                   isolated, moto_reset, monkeypatch):
    client = s3_client(moto_reset)
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    monkeypatch.setenv("PLOTS_DESTINATION", f"s3://{BUCKET}/{PREFIX}")
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat(), "--dry-run", "--output-dir", "out")
    assert code == 0, err
    assert error_lines(err) == []
    assert objects(client) == {}  # the bucket stays empty

    printed = json.loads(out)
    local = (isolated / "out" / "site").resolve()
    assert file_path(printed["page_url"]) == local / D.isoformat() / "index.html"
    assert set(printed["charts"]) == DAY_CHARTS and printed["missing"] == []
    for chart_id, url in printed["charts"].items():
        path = file_path(url)
        assert path.parent == local / D.isoformat()
        assert_valid_png(path.read_bytes(), chart_id)
    assert (local / "index.html").is_file()
    # Nothing outside OUTPUT_DIR and the database (./output, where present, is the log of the ingest that filled it).
    assert {p.name for p in isolated.iterdir()} - {"output"} == {"out", "costs.sqlite"}
    assert not (isolated / "output" / "site").exists() and not (isolated / PREFIX).exists()


def test_missing_bucket_exits_1_with_json_and_no_links(capsys, filled, quick_charts, moto_reset, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    monkeypatch.setenv("PLOTS_DESTINATION", f"s3://no-such-bucket/{PREFIX}")
    code, out, err = run(capsys, "--db-url", filled, "--date", D.isoformat())
    assert code == 1
    printed = json.loads(out)
    assert printed["charts"] == {} and printed["page_url"] is None
    assert set(printed["missing"]) == DAY_CHARTS
    assert "S3 bucket no-such-bucket does not exist (PLOTS_DESTINATION)" in err


def test_missing_bucket_exit_1_comes_with_one_error_line(capsys, filled, quick_charts, moto_reset, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    monkeypatch.setenv("PLOTS_DESTINATION", f"s3://no-such-bucket/{PREFIX}")
    code, _, err = run(capsys, "--db-url", filled, "--date", D.isoformat())
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert "no-such-bucket" in lines[0]


# --- runtime errors ------------------------------------------------------------------------------------------


def test_empty_database_exits_1_and_publishes_nothing(capsys, sqlite_url, isolated, monkeypatch):
    monkeypatch.setenv("PLOTS_DESTINATION", str(isolated / "site"))
    code, out, err = run(capsys, "--db-url", sqlite_url, "--date", D.isoformat())
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"error: no cost data on or before {D}"), err
    assert not (isolated / "site").exists()


def test_date_with_no_data_exits_1(capsys, filled, isolated, monkeypatch):
    monkeypatch.setenv("PLOTS_DESTINATION", str(isolated / "site"))
    after = D + timedelta(days=1)
    code, out, err = run(capsys, "--db-url", filled, "--date", after.isoformat())
    assert (code, out) == (1, "")
    assert error_lines(err) == [f"error: no cost data for {after} — run procAmzData.py first or check the date"]
    assert not (isolated / "site").exists()
