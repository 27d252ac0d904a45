"""published.json: the typed links procPlotting hands procSummaries (round trip, atomic 0644, bad files named)."""

from __future__ import annotations

import stat
from datetime import date
from types import SimpleNamespace

import pytest

from _util import published
from _util.config import Settings
from _util.published import Published, PublishedFileError

D = date(2026, 11, 25)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(output_dir=tmp_path / "out", report_date=D)


def sample() -> Published:
    return Published(D, {"mtd_by_service": "https://x/2026-11-25/mtd-by-service.png",
                         "spike:Amazon EC2 ✓": "https://x/2026-11-25/amazon-ec2-0123456789.png"},
                     "https://x/2026-11-25/index.html", ("daily_by_service",), "https://x/index.html")


def test_round_trip_through_the_file(settings):
    path = published.write(settings, sample())
    assert path == settings.output_dir / "2026-11-25" / "published.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert published.read(settings) == sample()


def test_from_a_publish_result_keeps_only_the_links():
    result = SimpleNamespace(urls={"a": "https://x/a.png"}, page_url=None, missing=["b"], index_url=None,
                             errors=["S3 said no"], destination="s3://bucket")
    assert Published.from_result(D, result) == Published(D, {"a": "https://x/a.png"}, None, ("b",), None)


def test_nothing_published_yet_is_none(settings):
    assert published.read(settings) is None


@pytest.mark.parametrize(("content", "why"), [
    ('{"urls": [', "JSONDecodeError"),
    ('{"report_date": "2026-11-25", "urls": ["a"], "page_url": null, "missing": [], "index_url": null}', "TypeError"),
    ('{"report_date": "2026-11-25", "urls": {}, "missing": []}', "KeyError"),
    ('{"report_date": "2026-11-25", "urls": {}, "page_url": 3, "missing": [], "index_url": null}', "TypeError"),
])
def test_a_file_that_is_not_a_published_json_is_named(settings, content, why):
    path = published.path(settings)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(PublishedFileError, match=why) as caught:
        published.read(settings)
    assert str(caught.value).startswith(f"{path} is not a valid published.json")


def test_another_days_file_is_refused(settings):
    published.write(settings, sample())
    other = Settings(output_dir=settings.output_dir, report_date=date(2026, 11, 24))
    published.path(other).parent.mkdir(parents=True)
    published.path(settings).replace(published.path(other))
    with pytest.raises(PublishedFileError, match="is for 2026-11-25, not 2026-11-24"):
        published.read(other)
