"""The demo day (make demo: built-in sample data, report date 2026-11-25) as an Analysis and its DayView, for the
golden tests of every output. Built once per process from the same code path as the demo run."""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path

from _util import stages, view
from _util.config import load_settings
from _util.model import Analysis
from _util.pipeline import find_root_causes
from _util.stages import load_day, open_database


@functools.cache
def demo_settings():
    """The --demo settings, with OUTPUT_DIR in a private temporary folder."""
    out = Path(tempfile.mkdtemp(prefix="demo-day-"))
    return load_settings(argparse.Namespace(demo=True, output_dir=out), environ={})


@functools.cache
def _demo_day() -> tuple[Analysis, dict]:
    """The demo day's Analysis and its alerts' root causes (sample data stored in SQLite, analysed, then drilled
    down through the sample Cost Explorer, as `make demo` does)."""
    settings = demo_settings()
    with open_database(settings) as engine:  # --demo: the sample data is stored first
        analysis = load_day(settings, engine)
        return analysis, find_root_causes(settings, engine, analysis)


def demo_analysis() -> Analysis:
    """The demo day's Analysis."""
    return _demo_day()[0]


def demo_root_causes() -> dict:
    """The demo day's root causes: (service, breakdown, kind) -> drilldown.RootCauseResult."""
    return _demo_day()[1]


def demo_view() -> view.DayView:
    """The demo day's view model (no links yet)."""
    return stages.day_view(demo_settings(), demo_analysis(), demo_root_causes())  # as the run builds it
