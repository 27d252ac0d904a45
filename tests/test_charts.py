"""Charts: every kind renders a 1200x700 PNG from fixtures, edge cases stay readable, figures are released."""

from __future__ import annotations

import gc
import logging
import pickle
import re
import struct
import weakref
from dataclasses import replace
from datetime import date
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.collections import PolyCollection
from matplotlib.path import Path as MPath

from _util import charts, fmt, view
from _util.config import Settings
from _util.drilldown import RootCause, RootCauseResult
from _util.model import (
    CUMULATIVE_CHART,
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
from tests.fixtures_analysis import D, build_analysis, day_view

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
def titled(analysis):
    return day_view(analysis)


@pytest.fixture(scope="module")
def rendered(analysis, titled, tmp_path_factory):
    out = tmp_path_factory.mktemp("charts")
    return charts.render_charts(analysis, titled, P, out, workers=2), out


def series(values, end=D) -> pd.Series:
    return pd.Series(np.asarray(values, float), index=pd.date_range(end=pd.Timestamp(end), periods=len(values)))


def _colors(coll) -> set[str]:
    return {mcolors.to_hex(c) for c in coll.get_facecolors()}


# ---- render_charts ---------------------------------------------------------------------------------------------


def test_render_charts_renders_exactly_the_days_charts(analysis, rendered):
    files, out = rendered
    expected = {MTD_CHART, DAILY_CHART, CUMULATIVE_CHART} | {spike_chart_id(s.service) for s in analysis.spikes} \
        | {trend_chart_id(t.service) for t in analysis.trends}
    assert analysis.spikes and analysis.trends  # the fixture really has alerts
    assert set(files) == expected
    for chart_id, path in files.items():
        assert path.parent == out and path.name == chart_filename(chart_id)
        assert png_size(path) == (1200, 700)
    assert sorted(p.name for p in out.iterdir()) == sorted(chart_filename(c) for c in expected)


@pytest.mark.slow
def test_serial_and_parallel_give_the_same_charts(analysis, titled, rendered, tmp_path):
    files, _ = rendered
    serial = charts.render_charts(analysis, titled, P, tmp_path, workers=1)
    assert set(serial) == set(files)
    assert all(png_size(p) == (1200, 700) for p in serial.values())


@pytest.mark.slow
def test_no_figure_left_open_after_render(analysis, titled, tmp_path):
    import matplotlib.pyplot as plt

    charts.render_charts(analysis, titled, P, tmp_path, workers=1)
    assert plt.get_fignums() == []


def test_save_png_releases_the_figure(tmp_path):
    fig = charts.spike_chart(series([1, 2, 3, 40]), Spike("S", "up", 40, 2, 1, 38, 38, 3), P)
    ref = weakref.ref(fig)
    charts.save_png(fig, tmp_path / "a.png")
    del fig
    gc.collect()
    assert ref() is None
    assert png_size(tmp_path / "a.png") == (1200, 700)


def test_workers_get_only_their_own_data(analysis, titled, tmp_path):
    """A job carries one service's series (or the month's table), never the whole Analysis."""
    whole = len(pickle.dumps(analysis))
    for job in charts.chart_jobs(analysis, titled, P, tmp_path):
        assert not any(isinstance(arg, type(analysis)) for arg in job[2])
        assert len(pickle.dumps(job)) < whole / 5


@pytest.mark.slow
def test_a_failing_chart_does_not_lose_the_others(analysis, titled, tmp_path, monkeypatch, caplog):
    def boom(*_args):
        raise ValueError("broken data")

    monkeypatch.setitem(charts._KINDS, "trend", boom)
    with caplog.at_level(logging.ERROR, logger="aws_cost_tracking"):
        files = charts.render_charts(analysis, titled, P, tmp_path, workers=1)
    assert not any(cid.startswith("trend:") for cid in files)
    assert MTD_CHART in files and DAILY_CHART in files
    assert all(spike_chart_id(s.service) in files for s in analysis.spikes)
    assert "broken data" in caplog.text


# ---- titles: the view's words ----------------------------------------------------------------------------------


def _drawn_titles(fig) -> tuple[str, str]:
    return fig._suptitle.get_text(), next((t.get_text() for t in fig.texts if t is not fig._suptitle), "")


def test_every_chart_draws_its_title_and_subtitle_from_the_view(analysis, titled, tmp_path):
    jobs = charts.chart_jobs(analysis, titled, P, tmp_path)
    assert [job[0] for job in jobs] == [c.id for c in titled.charts]
    for chart, (_, kind, args, _) in zip(titled.charts, jobs, strict=True):
        assert chart.title and chart.subtitle
        title, subtitle = _drawn_titles(charts._KINDS[kind](*args))
        assert title == chart.title
        assert subtitle.startswith(chart.subtitle)  # plus, at most, a rendering note


def test_a_title_changed_in_the_view_alone_changes_the_chart(analysis, tmp_path, monkeypatch):
    """The chart module words nothing: change the view's spike wording and the drawn title follows."""
    monkeypatch.setattr(view, "spike_chart_text", lambda s, d: (f"{s.service}: look here", "sub"))
    (job,) = [j for j in charts.chart_jobs(analysis, day_view(analysis), P, tmp_path) if j[1] == "spike"][:1]
    assert _drawn_titles(charts._KINDS["spike"](*job[2])) == (f"{job[2][1].service}: look here", "sub")


def test_rendering_note_when_services_are_merged_into_other():
    fig = charts.mtd_chart([ServiceCost(f"S{i}", 100.0 - i) for i in range(20)], "T", "sub", top_n=5)
    assert _drawn_titles(fig) == ("T", "sub · top 5 shown, the rest summed in Other")


# ---- chart content ---------------------------------------------------------------------------------------------


def _bar_colors(ax) -> list[str]:
    """The facecolour of every bar drawn by _bars in ax (one entry per bar)."""
    out = []
    for coll in ax.collections:
        faces = [mcolors.to_hex(c) for c in coll.get_facecolors()]
        out += faces * len(coll.get_paths()) if len(faces) == 1 else faces
    return out


def test_spike_chart_highlights_every_day_beyond_the_threshold():
    rng = np.random.default_rng(3)
    values = 100 + rng.normal(0, 2, 60)
    values[20] = values[41] = 160  # two earlier spikes
    values[-1] = 180  # and d
    base = values[:-1]
    mean, std = float(base.mean()), float(base.std(ddof=1))
    sp = Spike("Svc", "up", 180, mean, std, (180 - mean) / std, 180 - mean, 59)
    fig = charts.spike_chart(series(values), sp, AlertParams(spike_z_threshold=3.0), "Svc title", "sub")
    (ax,) = fig.axes  # 60 days: no context panel needed
    threshold = mean + max(3.0 * std, P.spike_min_delta_usd)
    assert _bar_colors(ax).count(charts.UP_COLOR.lower()) == int((values >= threshold).sum()) == 3
    lines = {round(line.get_ydata()[0], 6) for line in ax.get_lines() if len(line.get_ydata()) == 2}
    assert {round(mean, 6), round(threshold, 6)} <= lines
    assert _drawn_titles(fig) == ("Svc title", "sub")


def test_spike_chart_shows_90_days_wide_with_the_year_as_context():
    rng = np.random.default_rng(4)
    values = 20 + rng.normal(0, 1, 365)
    values[-1] = 90
    sp = Spike("Svc", "up", 90, 20, 1, 70, 70, 364)
    fig = charts.spike_chart(series(values), sp, P)
    context, main = fig.axes
    assert context.bbox.height < main.bbox.height / 3  # slim, above the main panel
    assert context.bbox.y0 > main.bbox.y1
    lo, hi = main.get_xlim()
    assert charts.SPIKE_WINDOW_DAYS <= hi - lo < charts.SPIKE_WINDOW_DAYS + 3
    bars = [p for c in main.collections for p in c.get_paths()]
    assert len(bars) == charts.SPIKE_WINDOW_DAYS
    d_bar = max(bars, key=lambda p: p.vertices[:, 0].max())
    d_px = main.transData.transform(d_bar.vertices)
    assert np.ptp(d_px[:, 0]) >= 8  # wide enough to see, not a 2-3 px sliver
    line = next(x for x in context.get_lines() if len(x.get_xdata()) == 365)
    np.testing.assert_allclose(line.get_ydata(), values)  # the whole lookback
    d_mark = next(x for x in context.get_lines() if x.get_marker() == "o" and len(x.get_xdata()) == 1)
    assert d_mark.get_xdata()[0] == pytest.approx(mdates.date2num(pd.Timestamp(D)))
    shade = [p for p in context.patches if p.get_alpha()]
    assert len(shade) == 1 and shade[0].get_bbox().x0 == pytest.approx(lo + 0.1, abs=1)


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
    assert any(t.get_text() == f"{fmt.day(crossed.date())}: MACD crossed above its signal" for t in bottom.texts)


def test_mtd_chart_top_n_plus_other_sorted():
    mtd = [ServiceCost(f"S{i}", 100.0 - i) for i in range(20)]
    fig = charts.mtd_chart(mtd, top_n=5)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert len(widths) == 6
    assert widths[:5] == [100, 99, 98, 97, 96]
    assert widths[5] == pytest.approx(sum(100.0 - i for i in range(5, 20)))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:5] == ["S0", "S1", "S2", "S3", "S4"]
    assert "Other (15 services)" in labels
    values = [t.get_text() for t in ax.texts]
    assert any(v.startswith("$100.00") for v in values)


def test_daily_chart_labels_each_day_with_its_total_to_the_cent():
    """$1,140.46 as in the subtitle and the message, not "$1,140" or "$1.1k"."""
    idx = pd.date_range("2026-11-01", periods=5)
    df = pd.DataFrame({f"S{i}": np.arange(5) + i + 0.005 for i in range(14)}, index=idx, dtype=float)
    df["S0"] += [1000.455, 0, 0, 0, 0]
    fig = charts.daily_chart(df, date(2026, 11, 5), top_n=10)
    ax = fig.axes[0]
    totals = [t.get_text() for t in ax.texts]
    assert totals == [fmt.money(v) for v in df.sum(axis=1)]
    assert totals[0].startswith("$1,")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 11 and "Other (4 services)" in legend


def _cause_stack(values: np.ndarray, parts: list[np.ndarray]) -> view.CauseStack:
    """A view.CauseStack over the last 29 days of values: parts (bottom first), the rest of each day above."""
    days = tuple(x.date() for x in pd.date_range(end=pd.Timestamp(D), periods=29))
    daily = tuple(tuple(p[-29:]) for p in parts)
    return view.CauseStack(days, tuple(f"cause {i}" for i in range(len(parts))), daily,
                           tuple(values[-29:] - np.sum(parts, axis=0)[-29:]))


def _filled_stack(ax, day: float) -> list[str]:
    """The colours of the day's filled bars from the top down (outlines, with no face, left out)."""
    filled = [c for c in ax.collections if len(c.get_facecolors())]
    parts = [(p.vertices[:, 1].max(), mcolors.to_hex(color)) for c in filled
             for p, color in zip(c.get_paths(), np.broadcast_to(c.get_facecolors(), (len(c.get_paths()), 4)),
                                 strict=True) if abs(p.vertices[:, 0].mean() - day) < 0.5]
    return [c for _, c in sorted(parts, reverse=True)]


def test_spike_chart_stacks_the_drill_down_window_by_its_root_causes():
    rng = np.random.default_rng(5)
    big, small = 60 + rng.normal(0, 1, 120), 10 + rng.normal(0, 0.5, 120)
    big[-1] += 80  # the cause of the spike
    values = big + small + 30
    sp = Spike("Svc", "up", values[-1], 100, 1.5, 53, 80, 119)
    fig = charts.spike_chart(series(values), sp, P, causes=_cause_stack(values, [big, small]))
    _, main = fig.axes
    x = mdates.date2num(pd.date_range(end=pd.Timestamp(D), periods=120))
    grey, first, second = charts.OTHER_COLOR.lower(), charts.PALETTE[0].lower(), charts.PALETTE[1].lower()
    for day in (x[-1], x[-10], x[-29]):  # the window, d included: the largest cause at the bottom, the rest on top
        assert _filled_stack(main, day) == [grey, second, first]
    assert _filled_stack(main, x[-30]) == [mcolors.to_hex(charts._soft(charts.service_color("Svc")))]  # as always
    # each stack is as tall as its day's cost
    tops = {round(float(np.mean(p.vertices[:, 0]))): p.vertices[:, 1].max() for c in main.collections
            for p in c.get_paths() if charts.OTHER_COLOR.lower() in {mcolors.to_hex(f) for f in c.get_facecolors()}}
    np.testing.assert_allclose([tops[round(xi)] for xi in x[-29:]], values[-29:])
    legend = [t.get_text() for t in main.get_legend().get_texts()]
    assert [t for t in legend if t in ("the rest", "cause 0", "cause 1")] == ["the rest", "cause 1", "cause 0"]


@pytest.mark.parametrize("label, want", [
    ("USE1-InstanceUsage:db.r6g.2xlarge in prod (1111…1111)", "USE1-InstanceUsage:db.r6g.2xlarge in prod (1111…1111)"),
    ("USE1-InstanceUsage:db.r6g.2xlarge / CreateDBInstance:0014 in payments-production (1111…3333)",
     "USE1-InstanceUsage:d… in payments-production (1111…3333)"),
    ("x" * 70, "x" * 55 + "…"),  # no " in " part: cut at the end
])
def test_a_cause_label_loses_its_usage_type_before_its_account(label, want):
    got = charts.cause_legend_label(label)
    assert got == want and len(got) <= charts.CAUSE_LABEL_MAX


def test_the_spike_legend_keeps_long_cause_labels_whole_inside_the_figure():
    rng = np.random.default_rng(5)
    big, small = 60 + rng.normal(0, 1, 120), 10 + rng.normal(0, 0.5, 120)
    big[-1] += 80
    values = big + small + 30
    sp = Spike("Svc", "up", values[-1], 100, 1.5, 53, 80, 119)
    labels = ("USE1-InstanceUsage:db.r6g.2xlarge in prod (1111…1111)",
              "USE1-DataTransfer-Out-Bytes in sandbox (3333…3333)")
    stack = replace(_cause_stack(values, [big, small]), labels=labels)
    fig = charts.spike_chart(series(values), sp, P, causes=stack)
    _, main = fig.axes
    legend = main.get_legend()
    assert set(labels) <= {t.get_text() for t in legend.get_texts()}
    fig.canvas.draw()
    box = legend.get_window_extent(fig.canvas.get_renderer())
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)


def test_the_spike_job_carries_the_view_s_cause_stack(analysis, tmp_path):
    sp = analysis.spikes[0]
    days = [x.date().isoformat() for x in pd.date_range(end=pd.Timestamp(D), periods=29)]
    result = RootCauseResult("ok", [RootCause({"USAGE_TYPE": "U"}, {}, 9.0, 1.0, 8.0, 1.0)], 0.0, 1.0,
                             ("USAGE_TYPE",), days, [[1.0] * 29], [0.0] * 29)
    v = view.build_view(analysis, view.Rules.from_settings(Settings()), {(sp.service, "", "spike"): result})
    job = next(j for j in charts.chart_jobs(analysis, v, P, tmp_path) if j[1] == "spike" and j[2][1] is sp)
    assert job[2][-1] == view.cause_stack(result) and job[2][-1].labels == ("U",)
    plain = next(j for j in charts.chart_jobs(analysis, day_view(analysis), P, tmp_path) if j[1] == "spike")
    assert plain[2][-1] is None


def _stack_order(ax, day: float) -> list[str]:
    """The colours of the day's stacked bars from the top of the stack down."""
    parts = []
    for coll in ax.collections:
        for path, color in zip(coll.get_paths(), np.broadcast_to(coll.get_facecolors(), (len(coll.get_paths()), 4)),
                               strict=True):
            if abs(path.vertices[:, 0].mean() - day) < 0.5:
                parts.append((path.vertices[:, 1].max(), mcolors.to_hex(color)))
    return [c for _, c in sorted(parts, reverse=True)]


@pytest.mark.parametrize("credits", [False, True])
def test_daily_legend_lists_the_stack_from_its_top(credits):
    idx = pd.date_range("2026-11-01", periods=6)
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.uniform(1, 50, (6, 8)) * (-1 if credits else 1), index=idx,
                      columns=[f"service {i}" for i in range(8)])
    fig = charts.daily_chart(df, date(2026, 11, 6), top_n=5)
    ax = fig.axes[0]
    legend = [mcolors.to_hex(h.get_facecolor()) for h in ax.get_legend().legend_handles]
    order = _stack_order(ax, mdates.date2num(idx[2]))
    # (credits stack down from 0: the part nearest 0 is the top of that stack)
    assert legend == order and len(legend) == 6  # 5 services and Other


def test_one_colour_per_service_across_charts(analysis):
    name = analysis.mtd_by_service[0].service
    assert charts.service_color(name) == charts.service_color(name)
    assert charts.service_color(name) in charts._slots()
    fig = charts.mtd_chart(analysis.mtd_by_service)
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


def test_a_long_service_name_fits_the_title():
    name = "Amazon Elastic Container Service for Kubernetes - us-east-1"
    spike = Spike(name, "up", 93.75, 21.76, 3.3, 21.8, 71.99, 364)
    title, subtitle = view.spike_chart_text(spike, D)
    fig = charts.spike_chart(series([21.0] * 40 + [93.75]), spike, P, title, subtitle)
    renderer = fig.canvas.get_renderer()
    assert fig._suptitle.get_text() == title  # shrunk, not cut
    assert fig._suptitle.get_window_extent(renderer).x1 <= fig.bbox.width


# ---- annotations never cover data ------------------------------------------------------------------------------


def _data_paths(ax) -> list[MPath]:
    """Every bar (filled) and line (outline) of ax, in display coordinates."""
    paths = [MPath(coll.get_transform().transform(p.vertices)) for coll in ax.collections for p in coll.get_paths()]
    for line in ax.get_lines():
        xy = line.get_transform().transform(line.get_xydata())
        paths.append(MPath(xy) if len(xy) > 1 else MPath(np.r_[xy, xy]))
    return paths


def _assert_clear(fig, ax, texts) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert texts
    for item in texts:
        box = item.get_window_extent(renderer)
        assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
        for path in _data_paths(ax):
            assert not path.intersects_bbox(box, filled=len(path.vertices) == 4), item


def _spike_shape(shape: str) -> tuple[np.ndarray, Spike]:
    rng = np.random.default_rng(9)
    noise = rng.normal(0, 1.5, 200)
    if shape == "spike at the max":
        v = np.r_[30 + noise[:-1], 140.0]
        return v, Spike("S", "up", 140, 30, 1.5, 73, 110, 199)
    if shape == "drop to near zero":
        v = np.r_[60 + noise[:-1], 0.4]
        return v, Spike("S", "down", 0.4, 60, 1.5, -40, -59.6, 199)
    if shape == "flat series":
        return np.full(200, 12.0), Spike("S", "up", 12, 12, 0, None, 0, 199)
    v = np.r_[-20 + 4 * noise[:-1], -95.0]  # credits
    return v, Spike("S", "down", -95, -20, 6, -12.5, -75, 199)


@pytest.mark.parametrize("shape", ["spike at the max", "drop to near zero", "flat series", "negative values"])
def test_spike_chart_labels_sit_clear_of_the_bars_and_lines(shape):
    values, spike = _spike_shape(shape)
    fig = charts.spike_chart(series(values), spike, P)
    main = fig.axes[-1]
    (label,) = [t for t in main.texts if t.get_text().startswith(fmt.weekday(D))]
    assert label.get_text() == f"{fmt.weekday(D)}: {fmt.money(values[-1])}"
    _assert_clear(fig, main, [label, main.get_legend()])


@pytest.mark.parametrize("shape", ["crossing at the top", "falling", "flat series", "negative values"])
def test_trend_crossover_note_sits_clear_of_the_bars_and_lines(shape):
    t = np.arange(150, dtype=float)
    values = {"crossing at the top": 20 + 0.3 * t + 15 * (t > 140),
              "falling": 80 - 0.3 * t - 10 * (t > 145),
              "flat series": np.full(150, 7.0),
              "negative values": -30 + 10 * np.sin(t / 9)}[shape]
    tr = Trend("S", "up" if shape != "falling" else "down", 1, 0.5, float(values[-1]), 1, 1, crossed_days_ago=2)
    fig = charts.trend_chart(series(values), tr, P)
    top, bottom = fig.axes
    note = next(t for t in bottom.texts if "MACD crossed" in t.get_text())
    _assert_clear(fig, bottom, [note, bottom.get_legend()])
    _assert_clear(fig, top, [top.get_legend()])


# ---- one rounding: money a reader also reads elsewhere is to the cent --------------------------------------------

CENTS = re.compile(r"\$[\d,]+\.\d\d")


def _money_texts(fig) -> list[str]:
    """Every text with a $ in the drawn figure except the axis tick labels (compact by design)."""
    fig.canvas.draw()
    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for tick in axis.get_major_ticks() + axis.get_minor_ticks() for t in (tick.label1, tick.label2)}
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)
            if id(t) not in ticks and "$" in t.get_text() and t.get_visible()]


@pytest.mark.slow
def test_money_on_every_chart_is_to_the_cent(analysis, titled, tmp_path):
    seen = 0
    for _, kind, args, _ in charts.chart_jobs(analysis, titled, P, tmp_path):
        for text in _money_texts(charts._KINDS[kind](*args)):
            for amount in re.findall(r"\$[\d,.]*\w*", text):
                assert CENTS.fullmatch(amount), (kind, text)
                seen += 1
    assert seen > 50  # titles, legends, bar labels, day totals, the d label


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
        [ServiceCost(f"Service number {i} with a long name", 1000 / (i + 1)) for i in range(300)]),
    "mtd empty": lambda: charts.mtd_chart([]),
    "mtd negative": lambda: charts.mtd_chart([ServiceCost("A", 100), ServiceCost("Refund", -300)]),
    "mtd all zeros": lambda: charts.mtd_chart([ServiceCost("A", 0), ServiceCost("B", 0)]),
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
    fig = charts.mtd_chart([ServiceCost(f"S{i}", 1000 / (i + 1)) for i in range(300)], top_n=12)
    assert len(fig.axes[0].patches) == 13
    assert "Other (288 services)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_service_names_render_as_plain_text(name, tmp_path):
    """Dollar signs are not mathtext, a title too long even when shrunk is cut, odd characters do not break
    rendering."""
    spike = Spike(name, "up", 50, 2, 1, 48, 48, 3)
    title, subtitle = view.spike_chart_text(spike, D)
    fig = charts.spike_chart(series([1, 2, 3, 50]), spike, P, title, subtitle)
    drawn = fig._suptitle
    flat = " ".join(title.split())
    assert drawn.get_text() == flat or (drawn.get_text().endswith("…")
                                        and flat.startswith(drawn.get_text()[:-1].rstrip()))
    assert drawn.get_window_extent(fig.canvas.get_renderer()).x1 <= fig.bbox.width
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


@pytest.mark.slow
def test_parallel_render_while_other_threads_run(analysis, titled, rendered, tmp_path):
    """With threads alive (e.g. an HTTP server) the pool avoids plain fork and still renders every chart."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert charts._pool_context().get_start_method() != "fork"
        files = charts.render_charts(analysis, titled, P, tmp_path, workers=2)
    finally:
        stop.set()
        thread.join()
    assert set(files) == set(rendered[0])
    assert all(png_size(p) == (1200, 700) for p in files.values())


def test_a_new_service_and_a_breakdown_spike_get_their_own_series_charts(tmp_path):
    from datetime import timedelta

    from _util import metrics
    from _util.config import Settings

    d = date(2026, 11, 25)
    rng = np.random.default_rng(4)
    rows = [(d - timedelta(days=i), "AWS Lambda", acct, 400.0 + rng.normal(0, 3))
            for i in range(60) for acct in ("111111111111", "222222222222")]
    rows += [(d - timedelta(days=i), "Amazon Bedrock", "111111111111", cost)
             for i, cost in enumerate([412.5, 8.0, 5.0])]
    costs = pd.DataFrame(rows, columns=["usage_date", "service", "breakdown", "amount"])
    costs["usage_date"] = pd.to_datetime(costs["usage_date"])
    costs["estimated"] = False
    on_d = costs["usage_date"] == pd.Timestamp(d)
    lambda_d = on_d & (costs["service"] == "AWS Lambda")
    costs.loc[lambda_d, "amount"] = [700.0, 110.0]  # +300 in one account, -290 in the other
    params = AlertParams(monthly_charge_filter=False)
    a = metrics.analyse(costs, d, params)
    v = view.build_view(a, view.Rules.from_settings(Settings(report_date=d)))
    jobs = {job[0]: job for job in charts.chart_jobs(a, v, params, tmp_path)}
    assert {"spike:AWS Lambda|111111111111", "new:Amazon Bedrock"} <= set(jobs)
    series = jobs["spike:AWS Lambda|111111111111"][2][0]
    assert series.iloc[-1] == 700.0 and series.iloc[-2] < 450  # the account's series, not the service total
    for chart_id in ("spike:AWS Lambda|111111111111", "new:Amazon Bedrock"):
        got_id, path, error = charts._render_job(jobs[chart_id])
        assert (got_id, error) == (chart_id, None) and Path(path).stat().st_size > 0


def cumulative(budget=35000.0, forecast=(36000.0, 35500.0, 36600.0)):
    """Oct 1 to Nov 25 at $1,000.005 a day (Nov month to date $25,000.13), Oct in full."""
    days = pd.date_range("2026-10-01", "2026-11-25")
    return charts.cumulative_chart(pd.Series(1000.005, index=days), date(2026, 11, 25), forecast, budget,
                                   "Month to date vs last month — November 2026", "a subtitle")


def test_cumulative_chart_draws_the_months_budget_and_cone_with_money_to_the_cent():
    fig = cumulative()
    (ax,) = fig.axes
    assert fig._suptitle.get_text() == "Month to date vs last month — November 2026"
    texts = [t.get_text() for t in ax.texts]
    assert fmt.money(25 * 1000.005) in texts  # month to date on d, to the cent
    assert fmt.money(31 * 1000.005) in texts  # last month's total (October: 31 days)
    assert fmt.money(36000.0) in texts and f"budget {fmt.money(35000.0)}" in texts
    flat = [line for line in ax.get_lines() if set(line.get_ydata()) == {35000.0}]
    assert len(flat) == 1  # the budget, a horizontal line
    (cone,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = cone.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(25 * 1000.005) and ys.max() == pytest.approx(36600.0)
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ticks and not any(re.search(r"\.\d\d$", t) for t in ticks)  # compact on the axis only


def test_cumulative_chart_without_budget_or_forecast_has_neither():
    fig = cumulative(budget=None, forecast=None)
    (ax,) = fig.axes
    assert not any(t.get_text().startswith("budget") for t in ax.texts)
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(ax.get_lines()) == 2  # this month and last month
