"""Charts: every kind renders a 1200x700 PNG from fixtures, edge cases stay readable, figures are released."""

from __future__ import annotations

import gc
import logging
import pickle
import re
import struct
import weakref
from datetime import date
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _util import charts
from _util.model import (
    DAILY_CHART,
    MTD_CHART,
    AlertParams,
    ServiceCost,
    Spike,
    Trend,
    spike_chart_id,
    trend_chart_id,
)
from _util.site import chart_filename
from tests.fixtures_analysis import D, build_analysis

P = AlertParams()
HOSTILE = ["<script>alert(1)</script>", "../../etc/passwd", "<!channel>", "a/b (c) [d]", "Ünïcødé 東京 service",
           "cost $5 and $6", "   ", "", "x" * 400, "new\nline\ttab"]


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG signature and IHDR chunk; fails on anything that is not a PNG."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def analysis():
    return build_analysis(n_services=30, days=365)


@pytest.fixture(scope="module")
def rendered(analysis, tmp_path_factory):
    out = tmp_path_factory.mktemp("charts")
    return charts.render_charts(analysis, P, out, workers=2), out


def series(values, end=D) -> pd.Series:
    return pd.Series(np.asarray(values, float), index=pd.date_range(end=pd.Timestamp(end), periods=len(values)))


def _colors(coll) -> set[str]:
    return {mcolors.to_hex(c) for c in coll.get_facecolors()}


# ---- render_charts ---------------------------------------------------------------------------------------------


def test_render_charts_renders_exactly_the_days_charts(analysis, rendered):
    files, out = rendered
    expected = {MTD_CHART, DAILY_CHART} | {spike_chart_id(s.service) for s in analysis.spikes} \
        | {trend_chart_id(t.service) for t in analysis.trends}
    assert analysis.spikes and analysis.trends  # the fixture really has alerts
    assert set(files) == expected
    for chart_id, path in files.items():
        assert path.parent == out and path.name == chart_filename(chart_id)
        assert png_size(path) == (1200, 700)
    assert sorted(p.name for p in out.iterdir()) == sorted(chart_filename(c) for c in expected)


def test_serial_and_parallel_give_the_same_charts(analysis, rendered, tmp_path):
    files, _ = rendered
    serial = charts.render_charts(analysis, P, tmp_path, workers=1)
    assert set(serial) == set(files)
    assert all(png_size(p) == (1200, 700) for p in serial.values())


def test_no_figure_left_open_after_render(analysis, tmp_path):
    import matplotlib.pyplot as plt

    charts.render_charts(analysis, P, tmp_path, workers=1)
    assert plt.get_fignums() == []


def test_save_png_releases_the_figure(tmp_path):
    fig = charts.spike_chart(series([1, 2, 3, 40]), Spike("S", "up", 40, 2, 1, 38, 38, 3), P)
    ref = weakref.ref(fig)
    charts.save_png(fig, tmp_path / "a.png")
    del fig
    gc.collect()
    assert ref() is None
    assert png_size(tmp_path / "a.png") == (1200, 700)


def test_workers_get_only_their_own_data(analysis, tmp_path):
    """A job carries one service's series (or the month's table), never the whole Analysis."""
    whole = len(pickle.dumps(analysis))
    for job in charts.chart_jobs(analysis, P, tmp_path):
        assert not any(isinstance(arg, type(analysis)) for arg in job[2])
        assert len(pickle.dumps(job)) < whole / 5


def test_a_failing_chart_does_not_lose_the_others(analysis, tmp_path, monkeypatch, caplog):
    def boom(*_args):
        raise ValueError("broken data")

    monkeypatch.setitem(charts._KINDS, "trend", boom)
    with caplog.at_level(logging.ERROR, logger="aws_cost_tracking"):
        files = charts.render_charts(analysis, P, tmp_path, workers=1)
    assert not any(cid.startswith("trend:") for cid in files)
    assert MTD_CHART in files and DAILY_CHART in files
    assert all(spike_chart_id(s.service) in files for s in analysis.spikes)
    assert "broken data" in caplog.text


# ---- chart content ---------------------------------------------------------------------------------------------


def test_spike_chart_highlights_every_day_beyond_the_threshold():
    rng = np.random.default_rng(3)
    values = 100 + rng.normal(0, 2, 60)
    values[20] = values[41] = 160  # two earlier spikes
    values[-1] = 180  # and d
    base = values[:-1]
    mean, std = float(base.mean()), float(base.std(ddof=1))
    sp = Spike("Svc", "up", 180, mean, std, (180 - mean) / std, 180 - mean, 59)
    fig = charts.spike_chart(series(values), sp, AlertParams(spike_z_threshold=3.0))
    ax = fig.axes[0]
    highlighted = [c for c in ax.collections if _colors(c) == {charts.UP_COLOR.lower()}]
    assert len(highlighted) == 1
    threshold = mean + max(3.0 * std, P.spike_min_delta_usd)
    assert len(highlighted[0].get_paths()) == int((values >= threshold).sum()) == 3
    lines = {round(line.get_ydata()[0], 6) for line in ax.get_lines() if len(line.get_ydata()) == 2}
    assert {round(mean, 6), round(threshold, 6)} <= lines
    assert fig._suptitle.get_text().startswith("Svc — cost spike ▲ up")
    assert f"z = {sp.zscore:+.1f}" in fig.texts[-1].get_text()


def test_spike_chart_with_flat_baseline_says_z_is_not_available():
    sp = Spike("Flat", "up", 30, 10, 0, None, 20, 30)
    fig = charts.spike_chart(series([10] * 30 + [30]), sp, P)
    assert "z n/a" in fig.texts[-1].get_text()


def test_trend_chart_plots_the_alert_rule_emas_and_marks_d():
    rng = np.random.default_rng(5)
    s = series(np.r_[np.linspace(50, 20, 150), np.linspace(20, 35, 20)] + rng.normal(0, 1, 170))
    tr = Trend("Svc", "up", 1, 0.5, float(s.iloc[-1]), 30, 25)
    fig = charts.trend_chart(s, tr, P)
    top, bottom = fig.axes[:2]
    fast = s.ewm(span=P.macd_fast, adjust=False).mean()
    shown = fast.iloc[-charts.TREND_WINDOW_DAYS:]
    ema_line = next(line for line in top.get_lines() if line.get_label() == f"EMA {P.macd_fast} days")
    np.testing.assert_allclose(ema_line.get_ydata(), shown.to_numpy())
    macd = fast - s.ewm(span=P.macd_slow, adjust=False).mean()
    marker = next(line for line in bottom.get_lines() if line.get_marker() == "o")
    assert marker.get_ydata()[0] == pytest.approx(macd.iloc[-1])
    assert marker.get_xdata()[0] == pytest.approx(mdates.date2num(pd.Timestamp(D)))


def test_trend_chart_marks_a_crossover_reported_days_later_on_its_own_day():
    rng = np.random.default_rng(5)
    s = series(np.r_[np.linspace(50, 20, 150), np.linspace(20, 35, 20)] + rng.normal(0, 1, 170))
    tr = Trend("Svc", "up", 1, 0.5, float(s.iloc[-1]), 30, 25, crossed_days_ago=4)
    fig = charts.trend_chart(s, tr, P)
    bottom = fig.axes[1]
    macd = s.ewm(span=P.macd_fast, adjust=False).mean() - s.ewm(span=P.macd_slow, adjust=False).mean()
    crossed = pd.Timestamp(D) - pd.Timedelta(days=4)
    marker = next(line for line in bottom.get_lines() if line.get_marker() == "o")
    assert marker.get_xdata()[0] == pytest.approx(mdates.date2num(crossed))
    assert marker.get_ydata()[0] == pytest.approx(macd.iloc[-5])
    assert any(t.get_text() == f"{crossed:%d %b}: MACD crossed above signal" for t in bottom.texts)


def test_mtd_chart_top_n_plus_other_sorted_with_total_in_title():
    mtd = [ServiceCost(f"S{i}", 100.0 - i) for i in range(20)]
    fig = charts.mtd_chart(mtd, D, top_n=5)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert len(widths) == 6
    assert widths[:5] == [100, 99, 98, 97, 96]
    assert widths[5] == pytest.approx(sum(100.0 - i for i in range(5, 20)))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:5] == ["S0", "S1", "S2", "S3", "S4"]
    assert "Other (15 services)" in labels
    assert charts.usd(sum(sc.cost for sc in mtd)) in fig._suptitle.get_text()
    values = [t.get_text() for t in ax.texts]
    assert any(v.startswith("$100.00") for v in values)


def test_daily_chart_labels_each_day_with_its_total():
    idx = pd.date_range("2026-11-01", periods=5)
    df = pd.DataFrame({f"S{i}": np.arange(5) + i for i in range(14)}, index=idx, dtype=float)
    fig = charts.daily_chart(df, date(2026, 11, 5), top_n=10)
    ax = fig.axes[0]
    totals = [t.get_text() for t in ax.texts]
    assert totals == [charts.usd_short(v) for v in df.sum(axis=1)]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 11 and legend[-1] == "Other (4 services)"


def test_one_colour_per_service_across_charts(analysis):
    name = analysis.mtd_by_service[0].service
    assert charts.service_color(name) == charts.service_color(name)
    assert charts.service_color(name) in charts._slots()
    fig = charts.mtd_chart(analysis.mtd_by_service, D)
    top_bar = max(fig.axes[0].patches, key=lambda p: p.get_width())
    assert mcolors.to_hex(top_bar.get_facecolor()) == charts.service_color(name).lower()


@pytest.mark.parametrize("n", [2, 12, 27])
def test_services_in_one_chart_get_distinct_colours(n):
    names = [f"service {i}" for i in range(n)]
    colors = [mcolors.to_hex(c) for c in charts.service_colors(names)]
    assert len(set(colors)) == len(names)


def test_a_service_keeps_its_colour_whatever_the_days_ranking():
    """The same services ranked differently on two days (the MTD and daily charts): same colour each."""
    names = [f"service {i}" for i in range(14)]
    day1 = dict(zip(names, charts.service_colors(names), strict=True))
    shuffled = names[::-1][7:] + names[::-1][:7]
    day2 = dict(zip(shuffled, charts.service_colors(shuffled), strict=True))
    assert day1 == day2


def test_a_long_service_name_fits_the_title(analysis):
    name = "Amazon Elastic Container Service for Kubernetes - us-east-1"  # 59 of the 64 characters kept
    spike = Spike(name, "up", 93.75, 21.76, 3.3, 21.8, 71.99, 364)
    fig = charts.spike_chart(series([21.0] * 40 + [93.75]), spike, P)
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle
    assert title.get_text().startswith(name) and title.get_text().endswith("2026")
    assert title.get_window_extent(renderer).x1 <= fig.bbox.width


# ---- edge cases: still a valid, readable chart -----------------------------------------------------------------

EDGE = {
    "spike one day": lambda: charts.spike_chart(series([42.0]), Spike("Solo", "up", 42, 0, 0, None, 42, 0), P),
    "spike all zeros": lambda: charts.spike_chart(series([0.0] * 60), Spike("Z", "up", 0, 0, 0, None, 0, 59), P),
    "spike negative days": lambda: charts.spike_chart(
        series(list(np.linspace(-20, 10, 40)) + [-80]), Spike("Credits", "down", -80, -5, 8, -9.4, -75, 40), P),
    "spike no data": lambda: charts.spike_chart(pd.Series(dtype=float), Spike("X", "up", 1, 0, 0, None, 1, 0), P),
    "trend one day": lambda: charts.trend_chart(series([5.0]), Trend("Solo", "up", 0, 0, 5, 5, 5), P),
    "trend all zeros": lambda: charts.trend_chart(series([0.0] * 60), Trend("Z", "down", 0, 0, 0, 0, 0), P),
    "trend negative": lambda: charts.trend_chart(series(np.sin(np.arange(90) / 6) * 30 - 10),
                                                 Trend("Neg", "down", -1, 0, -3, -2, 1), P),
    "trend leading NaN": lambda: charts.trend_chart(series([np.nan] * 50 + [3.0] * 40),
                                                    Trend("Late", "up", 0, 0, 3, 3, 3), P),
    "mtd 300 services": lambda: charts.mtd_chart(
        [ServiceCost(f"Service number {i} with a long name", 1000 / (i + 1)) for i in range(300)], D),
    "mtd empty": lambda: charts.mtd_chart([], D),
    "mtd negative": lambda: charts.mtd_chart([ServiceCost("A", 100), ServiceCost("Refund", -300)], D),
    "mtd all zeros": lambda: charts.mtd_chart([ServiceCost("A", 0), ServiceCost("B", 0)], D),
    "daily 300 services": lambda: charts.daily_chart(pd.DataFrame(
        np.random.default_rng(1).gamma(1, 10, (25, 300)), index=pd.date_range("2026-11-01", periods=25),
        columns=[f"svc {i}" for i in range(300)]), D),
    "daily negative": lambda: charts.daily_chart(pd.DataFrame(
        {"A": [10, 20, -5], "Credit": [-30, -1, -2]}, index=pd.date_range("2026-11-01", periods=3)),
        date(2026, 11, 3)),
    "daily one day all zeros": lambda: charts.daily_chart(pd.DataFrame(
        {"A": [0.0]}, index=pd.DatetimeIndex(["2026-11-01"])), date(2026, 11, 1)),
    "daily empty": lambda: charts.daily_chart(pd.DataFrame(index=pd.DatetimeIndex([])), D),
}


@pytest.mark.parametrize("case", list(EDGE))
def test_edge_cases_render(case, tmp_path):
    path = charts.save_png(EDGE[case](), tmp_path / "chart.png")
    assert png_size(path) == (1200, 700)


def test_mtd_300_services_shows_top_n_and_other():
    fig = charts.mtd_chart([ServiceCost(f"S{i}", 1000 / (i + 1)) for i in range(300)], D, top_n=12)
    assert len(fig.axes[0].patches) == 13
    assert "Other (288 services)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_service_names_render_as_plain_text(name, tmp_path):
    """Dollar signs are not mathtext, long names are cut, odd characters do not break rendering."""
    fig = charts.spike_chart(series([1, 2, 3, 50]), Spike(name, "up", 50, 2, 1, 48, 48, 3), P)
    title = fig._suptitle.get_text()
    assert title.startswith(charts.short(name, 64))
    assert len(title) < 130
    assert png_size(charts.save_png(fig, tmp_path / "x.png")) == (1200, 700)


# ---- file names ------------------------------------------------------------------------------------------------

SAFE = re.compile(r"^[a-z0-9][a-z0-9-]*\.png$")


@pytest.mark.parametrize("name", HOSTILE)
def test_chart_filename_is_safe_and_stable(name):
    for cid in (spike_chart_id(name), trend_chart_id(name)):
        fname = chart_filename(cid)
        assert SAFE.match(fname) and len(fname) <= 80
        assert fname == chart_filename(cid)
    assert chart_filename(spike_chart_id(name)) != chart_filename(trend_chart_id(name))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120), st.text(max_size=120))
def test_chart_filename_safe_and_distinct_for_any_names(a, b):
    fa, fb = chart_filename(spike_chart_id(a)), chart_filename(spike_chart_id(b))
    assert SAFE.match(fa) and len(fa) <= 80
    assert (fa == fb) == (a == b)


def test_names_differing_only_in_punctuation_get_different_files():
    names = ["a/b", "a b", "a-b", "a_b", "A/B", "a/b ", "äb", "ab"]
    assert len({chart_filename(spike_chart_id(n)) for n in names}) == len(names)


def test_parallel_render_while_other_threads_run(analysis, rendered, tmp_path):
    """With threads alive (e.g. an HTTP server) the pool avoids plain fork and still renders every chart."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert charts._pool_context().get_start_method() != "fork"
        files = charts.render_charts(analysis, P, tmp_path, workers=2)
    finally:
        stop.set()
        thread.join()
    assert set(files) == set(rendered[0])
    assert all(png_size(p) == (1200, 700) for p in files.values())


def test_daily_totals_above_100_are_whole_dollars():
    """$1,140 and $1,089, not "$1.1k" twice: a $50 day-to-day change must be readable."""
    idx = pd.date_range("2026-11-01", periods=3)
    df = pd.DataFrame({"EC2": [1140.46, 1088.98, 57.5]}, index=idx)
    fig = charts.daily_chart(df, date(2026, 11, 3))
    assert [t.get_text() for t in fig.axes[0].texts] == ["$1,140", "$1,089", "$57.5"]
