"""Logging: stderr plus a rotating LOG_FILE, with secrets redacted from every record."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Slack tokens (xoxb-, xoxp-, xapp-…) and passwords inside URLs, whatever their source.
_TOKEN = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]+")
# AWS request credentials, should a library's line ever carry them: session tokens, signatures, access key ids.
_AWS_SECRET = re.compile(r"(?P<key>X-Amz-Security-Token|X-Amz-Signature|Signature|Credential)(?P<sep>['\"]?\s*[=:]\s*['\"]?)"
                         r"[^\s,;&'\"]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+):(?P<pw>[^@\s]+)@", re.IGNORECASE)
# The project's own loggers: "aws_cost_tracking" and the modules that log under __name__ (_util.costexplorer…).
PROJECT_LOGGERS = ("aws_cost_tracking", "_util", "__main__")
# Third-party loggers stay at WARNING whatever -v says: -vvv once gave 1,314 matplotlib font lookups, and
# botocore's debug lines carry request signatures and session tokens.
CHATTY_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3", "slack_sdk")
ALWAYS_QUIET = ("matplotlib", "PIL", "fontTools")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with Slack tokens, URL passwords and any given secret replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _TOKEN.sub("***", text)
    text = _AWS_SECRET.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", text)
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


class QuietFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that, when it cannot write (disk full, read-only), says so once on stderr and then stays
    silent — not a `--- Logging error ---` traceback per record burying the run's `error:` line."""

    failed: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed is None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        exc = sys.exc_info()[1]
        if self.failed is not None:
            return
        reason = getattr(exc, "strerror", None) or (type(exc).__name__ if exc else "unknown error")
        self.failed = f"cannot write the log file {self.baseFilename} ({reason}); logging to stderr only"
        try:
            sys.stderr.write(f"warning: {self.failed}\n")
            sys.stderr.flush()
        except Exception:
            pass
        try:  # drop what is buffered so closing the file does not fail again
            if self.stream is not None:
                self.stream.close()
        except Exception:
            pass
        self.stream = None


def setup_logging(verbose: int = 0, log_file: Path | None = None, secrets: Iterable[str] = (), *,
                  quiet: bool = False) -> None:
    """Log to stderr (INFO; warnings only with quiet; the project's debug lines with -v; libraries at WARNING)
    and to a rotating file (5 x 2 MB; INFO, or DEBUG with -v, whatever quiet says)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    level = logging.DEBUG if verbose >= 1 else logging.INFO
    # Libraries not named below stay at INFO or above; the project's loggers go down to DEBUG with -v.
    root.setLevel(logging.INFO)
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(level)
    redactor = RedactFilter(secrets)
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    stderr.setLevel(logging.WARNING if quiet and verbose == 0 else level)
    stderr.addFilter(_ConsoleFilter())
    handlers: list[logging.Handler] = [stderr]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotating = QuietFileHandler(log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
        rotating.setFormatter(logging.Formatter(FORMAT))
        rotating.setLevel(level)
        handlers.append(rotating)
    for handler in handlers:
        handler.addFilter(redactor)
        root.addHandler(handler)
    for name in CHATTY_LIBRARIES + ALWAYS_QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # slack_sdk logs an ERROR per failed attempt, then retries; the run's own error line says the outcome.
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)


def log_file_failure() -> str | None:
    """Why LOG_FILE stopped being written during this run, if it did."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, QuietFileHandler) and handler.failed:
            return handler.failed
    return None
