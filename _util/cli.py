"""What every stage script shares: the parser, settings, logging, and turning failures into exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path

from .config import DEMO_DATE, SOURCES, ConfigError, Settings, load_settings
from .deadline import RunTimeout, run_deadline
from .logs import redact, setup_logging
from .runlock import EXIT_LOCKED, LockBusy

log = logging.getLogger("aws_cost_tracking")

COMMON_EPILOG = """\
settings come from defaults < .env (--env-file) < environment < flags; see README "Settings".
exit status: 0 ok, 1 runtime error (one "error: ..." line on stderr), 2 usage error,
             75 another run holds the lock (runCostReporting.py)."""


def parse_date(raw: str) -> date:
    """Parse YYYY-MM-DD (argparse type)."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--date must be YYYY-MM-DD, got {raw!r}") from None


def input_path(raw: str) -> Path | str:
    """An --input: a local Path, or an s3:// URL kept as text (Path would fold its //)."""
    return raw if raw.startswith("s3://") else Path(raw)


def _common_flags() -> list[tuple[tuple[str, ...], dict]]:
    """(option strings, add_argument keywords) of the flags every stage script shares."""
    return [
        (("--date",), {"type": parse_date, "metavar": "YYYY-MM-DD", "help": "report date d (default: yesterday, UTC)"}),
        (("--source",), {"choices": SOURCES, "help": "cost source (env COST_SOURCE, default ce)"}),
        (("--input",), {"nargs": "+", "type": input_path, "metavar": "FILE",
                        "help": "saved GetCostAndUsage JSON response(s) for --source file; export files or folders "
                                "(local or s3://bucket/prefix) for --source export"}),
        (("--db-url",), {"metavar": "URL", "help": "SQLAlchemy database URL (env DATABASE_URL)"}),
        (("--output-dir",), {"type": Path, "metavar": "DIR", "help": "where report.json etc. go (env OUTPUT_DIR)"}),
        (("--env-file",), {"type": Path, "metavar": "FILE", "help": "settings file (default ./.env if present)"}),
        (("--dry-run",), {"action": "store_true",
                          "help": "no Slack post, no S3 upload; write previews under OUTPUT_DIR"}),
        (("--demo",), {"action": "store_true",
                       "help": f"built-in sample data for report date {DEMO_DATE} (unless --date), dry run, own "
                               "database under OUTPUT_DIR/demo/"}),
        (("--force",), {"action": "store_true", "help": "post again for a date already posted"}),
        (("-v", "--verbose"), {"action": "count", "default": 0,
                               "help": "more detail: this tool's debug lines (settings in effect, stage starts…); "
                                       "libraries (boto3, slack_sdk, matplotlib…) stay at warnings"}),
    ]


def add_common_arguments(parser: argparse.ArgumentParser, only: Collection[str] | None = None) -> None:
    """The flags every stage script shares (README "Using it with your AWS account"); `only` keeps those whose
    long option is listed (a tool that needs just the database: --db-url, --env-file…)."""
    for names, kwargs in _common_flags():
        if only is None or names[-1] in only:
            parser.add_argument(*names, **kwargs)


class Parser(argparse.ArgumentParser):
    """argparse with a usage error as ONE line, `error: <msg> (see --help)`, exit 2 (not usage + "prog: error")."""

    def error(self, message: str):  # type: ignore[override]
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser(prog: str, description: str, examples: str,
                 only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """An argparse parser with the common flags (or `only` those, by long option) and an examples epilog."""
    parser = Parser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"examples:\n{examples}\n\n{COMMON_EPILOG}")
    add_common_arguments(parser, only)
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="stderr shows only warnings and the error line (LOG_FILE keeps every INFO line): "
                             "for cron, which mails whatever is printed")
    return parser


def run_main(parser: argparse.ArgumentParser, argv: list[str] | None,
             body: Callable[[Settings, argparse.Namespace], int], *, notify: bool = False) -> int:
    """Parse, load settings, set up logging, run body under RUN_TIMEOUT_SECONDS; map every failure to one error
    line and an exit code. notify (the daily job): ping HEARTBEAT_URL and post a failure notice to Slack."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    secrets: list[str] = []
    early: list[warnings.WarningMessage] = []
    logged = False  # is LOG_FILE set up yet?
    settings: Settings | None = None
    try:
        # Warnings raised while reading settings (a world-readable .env) come before logging exists: keep them.
        with warnings.catch_warnings(record=True) as early:
            warnings.simplefilter("default")
            settings = load_settings(args)
        secrets = [settings.slack_bot_token, db_password(settings.database_url), settings.heartbeat_url]
        try:
            setup_logging(settings.verbose, settings.log_path, secrets, quiet=args.quiet)
        except OSError as exc:
            raise ConfigError(f"cannot write the log file {settings.log_path} ({exc.strerror}) — check LOG_FILE / "
                              "OUTPUT_DIR") from None
        logged = True
        logging.captureWarnings(True)
        for w in early:
            log.warning("%s", w.message)
        log.debug("settings: %s", ", ".join(f"{k}={v}" for k, v in settings.public().items()))
        log.debug("log file %s; deadline %d s (RUN_TIMEOUT_SECONDS)", settings.log_path, settings.run_timeout_seconds)
        from .stages import current_stage

        with run_deadline(settings.run_timeout_seconds, current_stage):
            code = body(settings, args)
    except LockBusy as exc:  # nothing was done and the holder reports for itself: no notice, no ping
        return _fail(str(exc), EXIT_LOCKED, logged)
    except (ConfigError, argparse.ArgumentTypeError) as exc:  # a bad setting or flag: a usage error
        if not logged:  # the settings failed before logging existed: show their warnings here
            for w in early:
                print(f"warning: {w.message}", file=sys.stderr)
        message, code = redact(str(exc), secrets), 2
    except RunTimeout as exc:
        log.debug("deadline", exc_info=True)
        message, code = str(exc), 1
    except KeyboardInterrupt:
        return _fail("interrupted", 130, logged)
    except Exception as exc:  # every runtime failure ends as one line; the traceback goes to the log file
        log.debug("failure", exc_info=True)
        message, code = describe(exc, secrets), 1
    else:
        if notify and settings is not None:
            _tell(settings, code, "" if code == 0 else f"exit {code}")
        return code
    if notify and settings is not None:  # settings loaded: a real run that failed (exit 2 here = LOG_FILE etc.)
        _tell(settings, code, message)
    return _fail(message, code, logged)


def _tell(settings: Settings, code: int, message: str) -> None:
    """A real run's outcome to the people watching: HEARTBEAT_URL (success or /fail) and, on failure, a one-line
    Slack notice. Bounded (one attempt each, seconds); a notice that cannot go out is a warning, printed before the
    error line so stderr still ends with it. Dry runs and --demo tell no one."""
    if settings.dry_run:
        return
    if settings.heartbeat_url:
        from .heartbeat import ping

        problem = ping(settings.heartbeat_url, code == 0, message)
        if problem:
            log.warning("%s", problem)
    if code != 0 and settings.slack_bot_token and settings.slack_channel_id:
        from .slack import post_failure_notice

        problem = post_failure_notice(settings, message)
        if problem:
            log.warning("%s", problem)
        else:
            log.info("slack: failure notice posted to %s", settings.slack_channel_id)


def _fail(message: str, code: int, logged: bool) -> int:
    """Print the one `error:` line, last on stderr; keep it in LOG_FILE too (first: a log file that cannot be
    written says so on stderr, and that warning must come before the error line)."""
    if logged:
        log.error("error: %s (exit %d)", message, code, extra={"file_only": True})
    print(f"error: {message}", file=sys.stderr)
    return code


def describe(exc: BaseException, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """One line naming the failure, with secrets redacted."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None) or exc
        text = f"database: {str(orig).splitlines()[0] if str(orig) else type(orig).__name__}"
    elif type(exc).__module__.startswith("_util") or isinstance(exc, (ValueError, OSError)):
        text = str(exc) or type(exc).__name__
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()), secrets)[:500]


def db_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).password or ""
    except Exception:
        return ""
