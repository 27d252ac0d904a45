"""What every stage script shares: the parser, settings, logging, and turning failures into exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable

from .config import ConfigError, Settings, add_common_arguments, load_settings
from .logs import redact, setup_logging
from .runlock import EXIT_LOCKED, LockBusy

log = logging.getLogger("aws_cost_tracking")

COMMON_EPILOG = """\
settings come from defaults < .env (--env-file) < environment < flags; see README "Settings".
exit status: 0 ok, 1 runtime error (one "error: ..." line on stderr), 2 usage error,
             75 another run holds the lock (runCostReporting.py)."""


def build_parser(prog: str, description: str, examples: str) -> argparse.ArgumentParser:
    """An argparse parser with the common flags and an examples epilog."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"examples:\n{examples}\n\n{COMMON_EPILOG}")
    add_common_arguments(parser)
    return parser


def run_main(parser: argparse.ArgumentParser, argv: list[str] | None,
             body: Callable[[Settings, argparse.Namespace], int]) -> int:
    """Parse, load settings, set up logging, run body; map every failure to one error line and an exit code."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    secrets: list[str] = []
    early: list[warnings.WarningMessage] = []
    logged = False  # is LOG_FILE set up yet?
    try:
        # Warnings raised while reading settings (a world-readable .env) come before logging exists: keep them.
        with warnings.catch_warnings(record=True) as early:
            warnings.simplefilter("default")
            settings = load_settings(args)
        secrets = [settings.slack_bot_token, db_password(settings.database_url)]
        try:
            setup_logging(settings.verbose, settings.log_path, secrets)
        except OSError as exc:
            raise ConfigError(f"cannot write the log file {settings.log_path} ({exc.strerror}) — check LOG_FILE / "
                              "OUTPUT_DIR") from None
        logged = True
        logging.captureWarnings(True)
        for w in early:
            log.warning("%s", w.message)
        return body(settings, args)
    except LockBusy as exc:
        return _fail(str(exc), EXIT_LOCKED, logged)
    except (ConfigError, argparse.ArgumentTypeError) as exc:  # a bad setting or flag: a usage error
        if not logged:  # the settings failed before logging existed: show their warnings here
            for w in early:
                print(f"warning: {w.message}", file=sys.stderr)
        return _fail(redact(str(exc), secrets), 2, logged)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, logged)
    except Exception as exc:  # every runtime failure ends as one line; the traceback goes to the log file
        log.debug("failure", exc_info=True)
        return _fail(describe(exc, secrets), 1, logged)


def _fail(message: str, code: int, logged: bool) -> int:
    """Print the one `error:` line; keep it in LOG_FILE too (cron often sends stderr elsewhere)."""
    print(f"error: {message}", file=sys.stderr)
    if logged:
        log.error("error: %s (exit %d)", message, code, extra={"file_only": True})
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
