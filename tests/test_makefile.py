"""The Makefile: `make clean` never removes data, `make test-fast` exists, old Pythons are refused before .venv."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY39 = Path("/root/.pyenv/versions/3.9.18/bin/python3.9")

pytestmark = [pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
              pytest.mark.slow]  # subprocesses: not in `make test-fast`


def make(cwd: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the Makefile, the version check (_util/__init__.py) and what install reads — enough for the
    targets under test."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "_util").mkdir()
    shutil.copy(ROOT / "_util" / "__init__.py", tmp_path / "_util" / "__init__.py")
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-export.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def fill(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_make_clean_removes_only_what_make_builds(checkout):
    """data/ holds the SQLite history and the exactly-once records, output/ the site and logs: never removed."""
    keep = [fill(checkout / "data" / "costs.sqlite"), fill(checkout / "output" / "site" / "index.html"),
            fill(checkout / "output" / "cost_reporting.log"), fill(checkout / ".env", "LOOKBACK_DAYS=90\n")]
    built = [fill(checkout / ".venv" / "bin" / "python"), fill(checkout / ".pytest_cache" / "x"),
             fill(checkout / ".ruff_cache" / "x"), fill(checkout / ".hypothesis" / "x")]

    dry = make(checkout, "-n", "clean")
    assert dry.returncode == 0, dry.stderr
    words = dry.stdout.split()
    assert "data" not in words and "output" not in words and not any(w.startswith(("data/", "output/"))
                                                                      for w in words)

    done = make(checkout, "clean")
    assert done.returncode == 0, done.stderr
    assert all(p.read_text() for p in keep)
    assert not any(p.exists() for p in built)


def test_no_make_target_removes_data_or_output():
    """Whatever the target, no recipe line deletes data/ or output/ (they hold what cannot be rebuilt)."""
    recipes = [line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("\t")]
    for line in recipes:
        if "rm " in line:
            assert "data" not in line and "output" not in line, line


def test_help_lists_test_fast_and_it_deselects_server_tests(checkout):
    assert "make test-fast" in make(checkout, "help").stdout
    dry = make(checkout, "-n", "test-fast")
    assert dry.returncode == 0, dry.stderr
    pytest_line = next(line for line in dry.stdout.splitlines() if "pytest" in line)
    expression = pytest_line.split('-m "', 1)[1].split('"', 1)[0]
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                "-m", expression, "tests/test_ingest.py", "tests/test_metrics.py"],
                               cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    ids = [line for line in collected.splitlines() if "::" in line]
    assert any(i.startswith("tests/test_metrics.py::") for i in ids)  # pure tests stay in
    assert not any("test_real_boto3_client_against_moto" in i for i in ids)  # moto's server is left out
    assert not any("[mysql]" in i for i in ids)  # so is MariaDB


@pytest.mark.skipif(not PY39.exists(), reason=f"Python 3.9 is not installed at {PY39}")
def test_make_refuses_python_39_before_creating_the_venv(checkout):
    done = make(checkout, f"PYTHON={PY39}", "demo")
    assert done.returncode != 0
    assert "error: aws_cost_tracking needs Python 3.10 or newer (this is 3.9.18)" in done.stderr
    assert not (checkout / ".venv").exists()


def test_make_names_a_missing_python(checkout):
    done = make(checkout, "PYTHON=/nonexistent/python3.12", "install")
    assert done.returncode != 0
    assert "/nonexistent/python3.12" in done.stderr
    assert not (checkout / ".venv").exists()
