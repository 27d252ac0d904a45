"""pyproject.toml: an installable project whose dependencies are requirements*.txt's, with every script a command
and the templates shipped."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines(name: str) -> list[str]:
    """The requirements of a requirements file: comments, blanks and -r lines left out."""
    lines = (re.sub(r"\s+#.*", "", line).strip() for line in (ROOT / name).read_text().splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-r"))]


def test_dependencies_are_requirements_txt():
    assert PROJECT["project"]["dependencies"] == requirement_lines("requirements.txt")
    assert PROJECT["project"]["optional-dependencies"]["dev"] == requirement_lines("requirements-dev.txt")
    assert PROJECT["project"]["optional-dependencies"]["export"] == requirement_lines("requirements-export.txt")


def test_every_stage_script_is_a_module_and_a_command():
    scripts = sorted(p.stem for p in ROOT.glob("*.py"))
    assert sorted(PROJECT["tool"]["setuptools"]["py-modules"]) == scripts
    targets = PROJECT["project"]["scripts"].values()
    assert sorted(t.split(":")[0] for t in targets) == scripts
    for target in targets:
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))


def test_the_package_and_its_templates_are_shipped():
    assert PROJECT["tool"]["setuptools"]["packages"] == ["_util"]
    assert PROJECT["tool"]["setuptools"]["package-data"]["_util"] == ["templates/*.j2"]
    assert PROJECT["build-system"]["build-backend"] == "setuptools.build_meta"
