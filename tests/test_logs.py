"""Logging: -v shows the project's own debug lines (every module), third-party libraries stay at WARNING
(matplotlib and PIL always), and a log file that cannot be written never buries the run's error line."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _util.logs import log_file_failure, redact, setup_logging

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore(restore_logging):
    yield
    for name in ("aws_cost_tracking", "_util", "__main__", "matplotlib", "PIL", "botocore", "slack_sdk", "urllib3"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def emit_all() -> None:
    logging.getLogger("aws_cost_tracking").debug("own debug line")
    logging.getLogger("_util.costexplorer").debug("module debug line")
    logging.getLogger("matplotlib.font_manager").debug("findfont: Matching sans-serif")
    logging.getLogger("PIL.PngImagePlugin").debug("STREAM b'IHDR'")
    logging.getLogger("botocore.endpoint").debug("Sending http request")
    logging.getLogger("aws_cost_tracking").info("info line")
    logging.getLogger("aws_cost_tracking").warning("warning line")


@pytest.mark.parametrize(("verbose", "quiet", "expected"), [
    (0, False, ["info line", "warning line"]),
    (0, True, ["warning line"]),
    (1, False, ["own debug line", "module debug line", "info line", "warning line"]),
    (3, False, ["own debug line", "module debug line", "info line", "warning line"]),
])
def test_stderr_shows_the_project_debug_lines_with_v_and_never_library_debug_lines(capsys, verbose, quiet, expected):
    setup_logging(verbose, None, quiet=quiet)
    emit_all()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == expected


@pytest.mark.parametrize("line", [
    "headers={'X-Amz-Security-Token': 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN', 'Authorization': 'AWS4-HMAC-SHA256 "
    "Credential=AKIAEXAMPLEKEYID/20261128/us-east-1/s3/aws4_request, Signature=0123abcdEXAMPLESIG'}",
    "https://b.s3.amazonaws.com/k.png?X-Amz-Credential=AKIAEXAMPLEKEYID%2F2026&X-Amz-Signature=0123abcdEXAMPLESIG"
    "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN",
])
def test_aws_credentials_in_a_line_are_redacted(line):
    clean = redact(line)
    for secret in ("IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN", "AKIAEXAMPLEKEYID", "0123abcdEXAMPLESIG"):
        assert secret not in clean, clean


def test_quiet_keeps_info_lines_in_the_log_file(tmp_path, capsys):
    setup_logging(0, tmp_path / "run.log", quiet=True)
    emit_all()
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert capsys.readouterr().err.count("\n") == 1
    text = (tmp_path / "run.log").read_text()
    assert "info line" in text and "warning line" in text and "findfont" not in text


def test_a_full_disk_log_file_says_so_once_and_no_logging_error_traceback(capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this platform")
    setup_logging(0, Path("/dev/full"))  # every write fails with ENOSPC, as on a full disk
    for n in range(5):
        logging.getLogger("aws_cost_tracking").info("line %d", n)
    err = capsys.readouterr().err
    assert "--- Logging error ---" not in err and "Traceback" not in err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warnings == ["warning: cannot write the log file /dev/full (No space left on device); "
                        "logging to stderr only"]
    assert err.count("line 4") == 1  # stderr still gets every line
    assert log_file_failure() is not None


def demo_stderr(tmp_path: Path, *flags: str) -> list[str]:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "runCostReporting.py"), "--demo", *flags], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


@pytest.mark.slow
def test_v_adds_debug_lines_and_vvv_adds_no_matplotlib_font_lookups(tmp_path):
    plain, verbose, very = (demo_stderr(tmp_path, *flags) for flags in ((), ("-v",), ("-vvv",)))
    assert not any(" DEBUG " in line for line in plain)
    debug = [line for line in verbose if " DEBUG " in line]
    assert any("settings:" in line for line in debug) and any("stage charts: start" in line for line in debug)
    assert not any("font" in line.lower() or "matplotlib" in line or "PIL" in line for line in very)
    assert len(very) <= len(verbose) + 5  # the demo calls no AWS/Slack: -vvv has nothing more to say
