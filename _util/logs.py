"""Logging: stderr plus a rotating LOG_FILE, with secrets redacted from every record."""

from __future__ import annotations

import logging
import logging.handlers
import re
from collections.abc import Iterable
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Slack tokens (xoxb-, xoxp-, xapp-…) and passwords inside URLs, whatever their source.
_TOKEN = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]+")
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+):(?P<pw>[^@\s]+)@", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with Slack tokens, URL passwords and any given secret replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _TOKEN.sub("***", text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}:***@", text)


class RedactFilter(logging.Filter):
    """Rewrites each record's message with secrets redacted."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


class _ConsoleFilter(logging.Filter):
    """Keeps records marked `extra={"file_only": True}` (the final error line, already printed) off stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False)


def setup_logging(verbose: int = 0, log_file: Path | None = None, secrets: Iterable[str] = ()) -> None:
    """Log to stderr (INFO; DEBUG with -v; library debug too with -vvv) and to a rotating file (5 x 2 MB)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    level = logging.DEBUG if verbose >= 1 else logging.INFO
    root.setLevel(level)
    redactor = RedactFilter(secrets)
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    stderr.setLevel(level)
    stderr.addFilter(_ConsoleFilter())
    handlers: list[logging.Handler] = [stderr]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=5,
                                                        encoding="utf-8")
        rotating.setFormatter(logging.Formatter(FORMAT))
        handlers.append(rotating)
    for handler in handlers:
        handler.addFilter(redactor)
        root.addHandler(handler)
    for noisy in ("botocore", "boto3", "urllib3", "matplotlib", "slack_sdk", "PIL"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)
    if verbose < 3:
        # slack_sdk logs an ERROR per failed attempt, then retries; the run's own error line says the outcome.
        logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)
