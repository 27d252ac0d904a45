"""Too-old Pythons stop at `import _util` with one line saying what to install (not `zip() takes no keyword…`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import _util

ROOT = Path(__file__).resolve().parents[1]
PY39 = Path("/root/.pyenv/versions/3.9.18/bin/python3.9")
SCRIPTS = ["runCostReporting.py", "procAmzData.py", "procAmzAlerts.py", "procPlotting.py", "procSummaries.py"]


def test_the_running_python_passes():
    assert _util.python_too_old() is None


def test_the_message_names_both_versions_and_how_to_install():
    message = _util.python_too_old((3, 9, 18, "final", 0))
    assert message.startswith("error: aws_cost_tracking needs Python 3.10 or newer (this is 3.9.18): ")
    assert "dnf install python3.11" in message and "deadsnakes" in message and "\n" not in message


@pytest.mark.slow
@pytest.mark.skipif(not PY39.exists(), reason=f"Python 3.9 is not installed at {PY39}")
@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_run_with_python_39_fails_with_one_line(script, tmp_path):
    """3.9 has none of the dependencies here: the check must come before any third-party import."""
    done = subprocess.run([str(PY39), str(ROOT / script), "--demo", "--output-dir", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == _util.EXIT_OLD_PYTHON
    assert done.stderr.startswith("error: aws_cost_tracking needs Python 3.10 or newer (this is 3.9.18): ")
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_every_script_imports_util_before_anything_else():
    """The check only helps if `_util` is the first import that could fail on an old Python."""
    for script in SCRIPTS:
        lines = (ROOT / script).read_text().splitlines()
        imports = [line for line in lines if line.startswith(("import ", "from ")) and "__future__" not in line]
        stdlib = {"argparse", "sys", "json", "logging", "os"}
        first_other = next(line for line in imports if line.split()[1].split(".")[0] not in stdlib)
        assert first_other.split()[1].split(".")[0] == "_util", f"{script}: {first_other}"


def test_util_init_parses_on_python_36_syntax():
    """No f-strings or annotations in _util/__init__.py (it runs before the version is known)."""
    import ast

    tree = ast.parse((ROOT / "_util" / "__init__.py").read_text(), feature_version=(3, 6))
    assert not any(isinstance(node, ast.JoinedStr) for node in ast.walk(tree))
    assert sys.version_info >= (3, 10)
