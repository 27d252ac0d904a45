#!/usr/bin/env python3
"""Render the example charts shown in the README into _images/ from realistic synthetic data (deterministic).

    python -m bench.make_example_images [--out _images]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _util import charts, view
from _util.config import Settings
from _util.model import AlertParams
from tests.fixtures_analysis import D, build_analysis, find_spikes, find_trends, synthetic_costs

ROOT = Path(__file__).resolve().parents[1]

P = AlertParams()
RULES = view.Rules.from_settings(Settings())


def spike_example():
    """AWS Lambda: a year of growing usage with a runaway day on d and two earlier spikes."""
    costs = synthetic_costs(D, 30, 365, seed=7)
    name = "AWS Lambda"
    s = costs[name].copy()
    s.iloc[-1] *= 3.4
    s.iloc[-48] *= 2.3
    s.iloc[-131] *= 2.1
    spike = next(sp for sp in find_spikes(s.to_frame(), P) if sp.service == name)
    return charts.spike_chart(s, spike, P, *view.spike_chart_text(spike, D))


def trend_example():
    """Amazon SageMaker: a slow decline for two months, then experiments restart; MACD turns up on d."""
    days = 400
    t = np.arange(days, dtype=float)
    index = pd.date_range(end=pd.Timestamp(D), periods=days, freq="D")
    # Deterministic search for the ramp start whose upward MACD/signal crossing falls exactly on d.
    for seed in range(50):
        rng = np.random.default_rng(seed)
        noise = rng.normal(1, 0.035, days)
        for ramp_days in range(3, 15):
            level = 60 + 0.02 * t
            level[-80:] = np.linspace(level[-81], 36, 80)  # winding down
            ramp = np.clip(t - (days - 1 - ramp_days), 0, None)
            weekly = 1 + 0.04 * np.sin(2 * np.pi * t / 7)
            s = pd.Series((level + 2.4 * ramp) * weekly * noise, index=index, name="Amazon SageMaker")
            found = [tr for tr in find_trends(s.to_frame(), P) if tr.direction == "up"]
            if found:
                return charts.trend_chart(s, found[0], P, *view.trend_chart_text(found[0], D, RULES))
    raise RuntimeError("no upward crossover on d in the synthetic series")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "_images")
    args = ap.parse_args(argv)
    analysis = build_analysis(D, n_services=30, days=365, seed=7)
    titles = {c.kind: (c.title, c.subtitle) for c in view.build_view(analysis, RULES).charts}
    figures = {
        "spike_alert_example.png": spike_example(),
        "trend_alert_example.png": trend_example(),
        "mtd_x_svc_example.png": charts.mtd_chart(analysis.mtd_by_service, *titles["mtd"]),
        "svc_x_day_example.png": charts.daily_chart(analysis.daily_by_service, D, *titles["daily"]),
    }
    for name, fig in figures.items():
        path = charts.save_png(fig, args.out / name)
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
