"""What procPlotting hands procSummaries: the day's published links, OUTPUT_DIR/<d>/published.json (typed)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from .config import Settings
from .files import write_atomic

FILENAME = "published.json"


class PublishedFileError(ValueError):
    """published.json exists but cannot be read as one; the message names the file."""


@dataclass(frozen=True)
class Published:
    """The links of one day's publication: URLs only of objects really written (site.PublishResult's)."""

    report_date: date
    urls: dict[str, str] = field(default_factory=dict)  # chart id -> URL
    page_url: str | None = None  # the day's index.html
    missing: tuple[str, ...] = ()  # chart ids not published
    index_url: str | None = None  # the site's top index.html

    @classmethod
    def from_result(cls, report_date: date, result) -> Published:
        """From a site.PublishResult."""
        return cls(report_date, dict(result.urls), result.page_url, tuple(result.missing), result.index_url)

    def to_json(self) -> str:
        data = asdict(self)
        data.update(report_date=self.report_date.isoformat(), missing=list(self.missing))
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Published:
        """Parse to_json's output; ValueError/KeyError/TypeError for anything else."""
        data = json.loads(text)
        urls = data["urls"]
        if not isinstance(urls, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in urls.items()):
            raise TypeError("urls must map chart ids to URLs")
        missing = data["missing"]
        if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
            raise TypeError("missing must be a list of chart ids")
        for key in ("page_url", "index_url"):
            if data[key] is not None and not isinstance(data[key], str):
                raise TypeError(f"{key} must be a URL or null")
        return cls(date.fromisoformat(data["report_date"]), dict(urls), data["page_url"], tuple(missing),
                   data["index_url"])


def path(settings: Settings) -> Path:
    """OUTPUT_DIR/<d>/published.json."""
    return settings.output_dir / settings.day.isoformat() / FILENAME


def write(settings: Settings, published: Published) -> Path:
    """Write the day's published.json atomically (files.write_atomic; an OSError names the path)."""
    return write_atomic(path(settings), published.to_json())


def read(settings: Settings) -> Published | None:
    """The day's published links (None: nothing published for d yet); PublishedFileError for a file that is not
    a published.json of d."""
    file = path(settings)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PublishedFileError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        out = Published.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise PublishedFileError(f"{file} is not a valid published.json ({type(exc).__name__}: {exc}); "
                                 "run procPlotting.py for the day again") from None
    if out.report_date != settings.day:
        raise PublishedFileError(f"{file} is for {out.report_date}, not {settings.day}")
    return out
