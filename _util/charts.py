"""Charts (PNG, ~1200x700 px) for the day's alerts and summaries: matplotlib object API on the Agg canvas.

Titles and subtitles are the day's view (`view.DayView.charts`); this module draws them and words no fact itself
(it may add a rendering note such as "top 12 shown"). No pyplot state is used: each chart is a standalone
`Figure`, released by `save_png`. `render_charts` renders only the charts the day needs, in parallel processes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import matplotlib
import matplotlib.colors
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from . import fmt
from .model import (
    AlertParams,
    Analysis,
    FirstSeen,
    ServiceCost,
    Spike,
    Trend,
)
from .view import CauseStack, DayView

log = logging.getLogger("aws_cost_tracking")

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 7.0, 100  # 1200 x 700 px
TREND_WINDOW_DAYS = 120  # days shown in the trend chart (the EMAs are computed over the whole series)
SPIKE_WINDOW_DAYS = 90  # days of the spike chart's main panel; the whole lookback is the context panel above it
HEADROOM_PAD_PX = 6.0  # between the data and the legend/labels kept above it

# Paul Tol's "muted" qualitative scheme: distinct for the common colour-vision deficiencies.
PALETTE = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499")
OTHER_COLOR = "#BBBBBB"
# When two services of one chart hash to the same colour, the later ones get a lighter/darker variant
# (hatching would also work but costs ~100 ms per chart in Agg).
VARIANTS = (0.0, 0.5, -0.45, 0.75, -0.7)
# Okabe-Ito colours for the alert marks (fixed meaning in every chart).
UP_COLOR, DOWN_COLOR = "#D55E00", "#0072B2"  # vermillion, blue
FAST_COLOR, SLOW_COLOR = "#0072B2", "#E69F00"  # blue, orange
POS_COLOR, NEG_COLOR = "#009E73", "#D55E00"  # bluish green, vermillion
INK, MUTED_INK, GRID = "#222222", "#555555", "#E3E3E3"

RC = {
    "font.size": 13, "axes.titlesize": 17, "axes.labelsize": 13, "xtick.labelsize": 12, "ytick.labelsize": 12,
    "legend.fontsize": 12, "axes.edgecolor": "#888888", "axes.spines.top": False, "axes.spines.right": False,
    "text.color": INK, "axes.labelcolor": INK, "xtick.color": MUTED_INK, "ytick.color": MUTED_INK,
    "text.parse_math": False,  # service names and dollar amounts are plain text, never mathtext
    "path.simplify": True, "agg.path.chunksize": 10000,
}


# ---- formatting ------------------------------------------------------------------------------------------------


# Money a reader also finds in the title, the subtitle or the message (legends, bar labels, day totals,
# annotations) is fmt.money, to the cent; only axis ticks are compact.
usd = fmt.money
usd_short = fmt.money_compact


def _usd_axis() -> FuncFormatter:
    # a new formatter per axis: a shared one would keep a reference to the last axis (and its figure) alive
    return FuncFormatter(lambda x, _pos: usd_short(x))


def short(name: str, limit: int) -> str:
    """name cut to limit characters with an ellipsis."""
    name = " ".join(str(name).split())  # newlines and tabs in a name would break the layout
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


# ---- colours ---------------------------------------------------------------------------------------------------


@functools.cache
def _slots() -> tuple[str, ...]:
    """Every colour a service can own: the palette, then its lighter and its darker variants (27)."""
    return tuple(matplotlib.colors.to_hex(_tint(c, v)) for v in VARIANTS[:3] for c in PALETTE)


def _digest(service: str) -> bytes:
    return hashlib.sha256(str(service).encode("utf-8")).digest()


def _home_slot(service: str) -> int:
    return int.from_bytes(_digest(service)[:4], "big") % len(_slots())


def service_color(service: str) -> str:
    """The service's own colour (hex): the same in every chart and every run (hash of the exact name)."""
    return _slots()[_home_slot(service)]


def service_colors(services: Sequence[str]) -> list[tuple[float, float, float]]:
    """Colour per service in order: its own colour; when two services of one chart own the same one, the one
    with the smaller hash keeps it and the other takes the next free colour. Who keeps a colour does not
    depend on the day's ranking, so a service looks the same every day the same services are shown."""
    slots = _slots()
    free = set(range(len(slots)))
    owner: dict[str, int] = {}
    for name in sorted(dict.fromkeys(services), key=_digest):
        home = _home_slot(name)
        if not free:  # more services than colours: share
            owner[name] = home
            continue
        owner[name] = next(i % len(slots) for i in range(home, home + len(slots)) if i % len(slots) in free)
        free.discard(owner[name])
    return [matplotlib.colors.to_rgb(slots[owner[name]]) for name in services]


def _soft(color: str, target: float = 0.62) -> tuple[float, float, float]:
    """color lightened just enough to reach the target relative luminance (light colours stay as they are):
    the backdrop for the alert marks, still recognisably the service's colour."""
    r, g, b = matplotlib.colors.to_rgb(color)
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return _tint(color, max(0.0, (target - lum) / (1 - lum)) if lum < 1 else 0.0)


def _tint(color: str, amount: float) -> tuple[float, float, float]:
    """color mixed with white (amount > 0) or black (amount < 0); 0 = unchanged."""
    r, g, b = matplotlib.colors.to_rgb(color)
    if amount >= 0:
        return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)
    k = 1 + amount
    return (r * k, g * k, b * k)


# ---- figure plumbing -------------------------------------------------------------------------------------------


def _figure(nrows: int = 1, height_ratios=None, *, left=0.075, right=0.985, top=0.875, bottom=0.075,
            hspace=0.12, sharex: bool = True) -> tuple[Figure, list]:
    """A 1200x700 px figure on an Agg canvas (no pyplot registry) and its axes.

    Fixed margins rather than constrained layout: the layout engine costs a second full draw per chart."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    kw = {"height_ratios": height_ratios} if height_ratios else None
    axes = fig.subplots(nrows, 1, sharex=sharex and nrows > 1, gridspec_kw=kw, squeeze=False)[:, 0]
    fig.subplots_adjust(left=left, right=right, top=top, bottom=bottom, hspace=hspace)
    for ax in axes:
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
    return fig, list(axes)


def _text_width_px(fig: Figure, texts: Sequence[str], fontsize: float) -> float:
    """Widest rendered width (px) of texts at fontsize, measured with the Agg renderer (no draw)."""
    renderer = fig.canvas.get_renderer()
    prop = FontProperties(size=fontsize)
    widest = 0.0
    for t in texts:
        w, _, _ = renderer.get_text_width_height_descent(t, prop, ismath=False)
        widest = max(widest, w)
    return widest


def _bars(ax, x: np.ndarray, heights: np.ndarray, *, bottoms=None, width=0.8, color=None, colors=None,
          edgecolor="none", zorder=2) -> PolyCollection:
    """Vertical bars as one PolyCollection (one artist instead of one Rectangle per day: fast at 365 bars)."""
    x = np.asarray(x, float)
    h = np.asarray(heights, float)
    b = np.zeros_like(h) if bottoms is None else np.asarray(bottoms, float)
    keep = np.isfinite(h) & (h != 0)
    x, h, b = x[keep], h[keep], b[keep]
    half = width / 2
    verts = np.stack([np.column_stack([x - half, b]), np.column_stack([x - half, b + h]),
                      np.column_stack([x + half, b + h]), np.column_stack([x + half, b])], axis=1)
    facecolors = [colors[i] for i in np.flatnonzero(keep)] if colors is not None else color
    coll = PolyCollection(verts, facecolors=facecolors, edgecolors=edgecolor,
                          linewidths=0 if edgecolor == "none" else 0.7, zorder=zorder, antialiased=False)
    ax.add_collection(coll, autolim=True)
    ax.autoscale_view()
    return coll


def _date_axis(ax, *, maxticks: int = 10) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=maxticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))


def _xlim_days(ax, first: pd.Timestamp, last: pd.Timestamp, min_days: int = 7) -> None:
    """x range covering the bars, at least min_days wide (a service with 1 day still gets a readable axis),
    with room on the right so the mark on d is not squeezed against the edge."""
    lo, hi = mdates.date2num(first) - 0.6, mdates.date2num(last) + 0.6
    if hi - lo < min_days:
        lo = hi - min_days
    ax.set_xlim(lo, hi + 0.012 * (hi - lo))


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=16, color=MUTED_INK)
    ax.set_yticks([])
    ax.set_xticks([])


def _title(fig: Figure, title: str, subtitle: str = "") -> None:
    """Draw the view's title and subtitle lines (shrunk, and cut only if a line still does not fit)."""
    _fit(fig, fig.suptitle(short(title, 300), fontsize=18, fontweight="bold", x=0.01, y=0.985, ha="left",
                           va="top", color=INK))
    if subtitle:
        # a second title line in normal weight: the figures a reader needs first
        _fit(fig, fig.text(0.01, 0.925, short(subtitle, 300), fontsize=13.5, ha="left", va="top", color=MUTED_INK))


def _fit(fig: Figure, text, min_size: float = 10.0) -> None:
    """Shrink a title line until it fits the figure's width (long service names), down to min_size points; a
    line still too wide at min_size is cut with an ellipsis."""
    room = fig.bbox.width * 0.98
    if len(text.get_text()) * text.get_fontsize() * DPI / 72 < room:  # no glyph is wider than 1 em: it fits
        return
    renderer = fig.canvas.get_renderer()
    while text.get_fontsize() > min_size and text.get_window_extent(renderer).width > room:
        text.set_fontsize(max(min_size, text.get_fontsize() * min(0.95, room / text.get_window_extent(renderer).width)))
    while (width := text.get_window_extent(renderer).width) > room:
        content = text.get_text()
        keep = max(1, min(len(content) - 2, int(len(content) * room / width) - 1))
        text.set_text(content[:keep].rstrip() + "…")


def _extent(artist):
    """An artist's window extent (px), measured without drawing the figure."""
    return artist.get_window_extent(artist.figure.canvas.get_renderer())


def _headroom(ax, lo: float, hi: float, boxes, *, below: float = 0.0, pad_px: float = HEADROOM_PAD_PX) -> None:
    """Set ax's y range so the data [lo, hi] ends below the boxes (px) of what is drawn at the top of the axes
    (legend, labels: anchored in axes coordinates, so their place does not depend on the range): they never
    cover data. `below` is the margin under lo, as a fraction of the data's span; pad_px the gap above hi."""
    box = ax.bbox
    lowest = min((b.y0 for b in boxes), default=box.y1)
    room = min(0.6, max(0.0, box.y1 - lowest + pad_px) / box.height)  # fraction of the axes kept free
    span = (hi - lo) or 1.0
    if hi == lo:  # a flat series: give it a visible range around its value
        lo, hi = (lo - 0.5 * abs(lo), hi + 0.5 * abs(hi)) if lo else (0.0, 1.0)
        span = hi - lo
    bottom = lo - below * span
    ax.set_ylim(bottom, bottom + (hi - bottom) / (1 - room))


def _top_label(ax, text: str, x: float, avoid=None, fontsize: float = 13):
    """A bold label at the top of ax (in its headroom), its right edge at data x (kept inside the axes); moved
    under the box `avoid` (px: the legend's) when the two would overlap side by side. Returns the Text."""
    renderer = ax.figure.canvas.get_renderer()
    box = ax.bbox
    label = ax.text(x, 1 - 4 / box.height, text, transform=ax.get_xaxis_transform(), ha="right", va="top",
                    fontsize=fontsize, fontweight="bold", color=INK, zorder=7, clip_on=False)
    ext = label.get_window_extent(renderer)
    if ext.x0 < box.x0 + 2:  # x too far left: start the label at the axes' left edge instead
        label.set_horizontalalignment("left")
        label.set_x(ax.transData.inverted().transform((box.x0 + 4, 0))[0])
        ext = label.get_window_extent(renderer)
    if avoid is not None and ext.x0 < avoid.x1 + 12 and ext.x1 > avoid.x0 - 12:
        label.set_y((avoid.y0 - 2 - box.y0) / box.height)
    return label


def _clean(series: pd.Series) -> pd.Series:
    """The series from its first known day, float, NaN -> 0, daily DatetimeIndex."""
    s = pd.Series(series, dtype="float64")
    if s.empty:
        return s
    s.index = pd.DatetimeIndex(s.index).normalize()
    first = s.first_valid_index()
    if first is None:
        return s.iloc[0:0]
    return s.loc[first:].fillna(0.0)


# ---- the four chart kinds --------------------------------------------------------------------------------------


def spike_chart(series: pd.Series, spike: Spike, params: AlertParams, title: str = "",
                subtitle: str = "", causes: CauseStack | None = None) -> Figure:
    """Daily cost (USD bars) over the last 90 days, days beyond the alert threshold highlighted, mean and
    threshold lines, d marked; above it a slim panel with the whole lookback for context. title/subtitle: the
    view's words. causes (the view's root causes of the spike): the drill-down window's days stacked by the top
    contributors and the rest, so the cause shows."""
    with matplotlib.rc_context(RC):
        return _spike_chart(series, spike, params, title, subtitle, causes)


def _bar_width(n: int) -> float:
    # Dense bars touch (a gap of < 1 px renders unevenly); sparse ones keep a visible gap.
    return 1.06 if n > 150 else 0.82


def _spike_axes(context: bool) -> tuple[Figure, object, object | None]:
    """The spike chart's figure: (fig, main axes, context axes above it or None)."""
    if not context:
        fig, (ax,) = _figure()
        return fig, ax, None
    fig, (ctx, ax) = _figure(2, height_ratios=[1, 5], top=0.835, hspace=0.28, sharex=False)
    return fig, ax, ctx


def _spike_chart(series: pd.Series, spike: Spike, params: AlertParams, title: str, subtitle: str,
                 causes: CauseStack | None = None) -> Figure:
    s = _clean(series)
    fig, ax, ctx = _spike_axes(len(s) > SPIKE_WINDOW_DAYS)
    _title(fig, title, subtitle)
    if s.empty:
        _no_data(ax, "no cost data for this service")
        return fig

    x_all = mdates.date2num(s.index)
    v_all = s.to_numpy()
    # The alert rule needs both z >= threshold and |delta| >= the minimum: the effective band is the wider one.
    band = max(params.spike_z_threshold * spike.std, params.spike_min_delta_usd)
    upper, lower = spike.mean + band, spike.mean - band
    down = spike.direction == "down"
    base = service_color(spike.service)
    mark = DOWN_COLOR if down else UP_COLOR
    x, v = x_all[-SPIKE_WINDOW_DAYS:], v_all[-SPIKE_WINDOW_DAYS:]
    xd, vd = x[-1], v[-1]
    width = _bar_width(len(v))
    if ctx is not None:
        _spike_context(ctx, x_all, v_all, x[0], base, mark, v_all >= upper, (v_all <= lower) & down)

    above, below = v >= upper, (v <= lower) & down
    stacked = _stack_mask(x, causes)
    normal = ~(above | below | stacked)
    normal[-1] = False  # d is drawn on its own, outlined
    # d's column: a light band behind the bars from the axis to the label in the headroom
    ax.axvspan(xd - 0.5, xd + 0.5, color=_tint(mark, 0.82), linewidth=0, zorder=1)
    _bars(ax, x[normal], v[normal], color=_soft(base), width=width)
    handles = [Patch(facecolor=_soft(base), label="daily cost")]
    for hit, color, side in ((above, UP_COLOR, "above"), (below, DOWN_COLOR, "below")):
        if (hit & ~stacked).any():  # days drawn by their root causes keep those colours
            rest = hit & ~stacked & (np.arange(len(v)) < len(v) - 1)  # d is drawn on its own
            _bars(ax, x[rest], v[rest], color=color, width=width, zorder=3)
            handles.append(Patch(facecolor=color, label=f"{side} threshold ({fmt.count(int(hit.sum()), 'day')})"))
    stack_handles: list = []
    if stacked.any():
        stack_handles = _cause_bars(ax, x, v, stacked, causes, width)
        _bars(ax, [xd], [vd], color="none", width=max(width, 0.9), edgecolor=INK, zorder=5)  # d outlined
    else:
        d_color = mark if (above[-1] or below[-1]) else _soft(base)
        _bars(ax, [xd], [vd], color=d_color, width=max(width, 0.9), edgecolor=INK, zorder=5)
    handles.append(ax.axhline(spike.mean, color=INK, linewidth=1.6, zorder=4,
                              label=f"baseline mean {usd(spike.mean)}"))
    handles.append(ax.axhline(upper, color=UP_COLOR, linewidth=1.8, linestyle="--", zorder=4,
                              label=_band_label("+", params, spike.std)))
    if down:
        handles.append(ax.axhline(lower, color=DOWN_COLOR, linewidth=1.8, linestyle="--", zorder=4,
                                  label=_band_label("−", params, spike.std)))

    _xlim_days(ax, s.index[-len(v)], s.index[-1])
    ax.yaxis.set_major_formatter(_usd_axis())
    ax.yaxis.set_major_locator(MaxNLocator(6))
    _date_axis(ax)
    ax.set_ylabel("USD per day")
    if stack_handles:  # the marks in the first column, the stack (top first) in the second
        rows = max(len(handles), len(stack_handles))
        blank = Patch(facecolor="none", edgecolor="none", label="")
        handles = [*handles, *[blank] * (rows - len(handles)), *stack_handles, *[blank] * (rows - len(stack_handles))]
    legend = ax.legend(handles=handles, loc="upper left", frameon=False, ncols=2, fontsize=11.5,
                       borderaxespad=0.3)
    day = pd.Timestamp(s.index[-1]).date()
    legend_box = _extent(legend)
    label = _top_label(ax, f"{fmt.weekday(day)}: {usd(vd)}", xd + 0.5, avoid=legend_box)
    lo = min(0.0, float(np.min(v)), lower if down else 0.0)
    hi = max(float(np.max(v)), upper, spike.mean, 0.0)
    _headroom(ax, lo, hi, [legend_box, _extent(label)], below=0.06 if lo < 0 else 0.0)
    return fig


def _stack_mask(x: np.ndarray, causes: CauseStack | None) -> np.ndarray:
    """The main panel's days the root causes cover (d among them), as a mask of x."""
    if causes is None or not causes.dates:
        return np.zeros(len(x), dtype=bool)
    days = mdates.date2num(pd.DatetimeIndex(causes.dates))
    return np.isin(np.rint(x), np.rint(days)) if np.rint(days[-1]) == np.rint(x[-1]) else np.zeros(len(x), bool)


CAUSE_LABEL_MAX = 56  # characters of a cause in the spike chart's legend (two columns fit 1200 px)


def cause_legend_label(label: str, limit: int = CAUSE_LABEL_MAX) -> str:
    """A cause label cut to limit characters, its usage-type part first: the " in name (1111…3333)" part stays
    whole (it says whose cost it is) unless it alone leaves too little room for the rest."""
    label = " ".join(str(label).split())
    if len(label) <= limit:
        return label
    what, sep, where = label.partition(" in ")
    room = limit - len(sep) - len(where)
    return short(what, room) + sep + where if sep and room >= 12 else short(label, limit)


def _cause_bars(ax, x: np.ndarray, v: np.ndarray, stacked: np.ndarray, causes: CauseStack,
                width: float) -> list[Patch]:
    """The stacked days: each root cause's daily cost from the bottom (the largest first), the rest of the day's
    cost on top in grey; returns the legend handles in stack order (its top first)."""
    days = np.rint(mdates.date2num(pd.DatetimeIndex(causes.dates)))
    at = np.searchsorted(days, np.rint(x[stacked]))
    parts = np.clip(np.asarray(causes.daily, dtype="float64").reshape(len(causes.labels), -1)[:, at], 0, None)
    # The rest is what the chart's own series holds beyond the causes, so each stack is as tall as its day.
    rest = np.clip(v[stacked] - parts.sum(axis=0), 0, None)
    layers = [*parts, rest]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(causes.labels))] + [OTHER_COLOR]
    labels = [cause_legend_label(label) for label in causes.labels] + [causes.rest_label]
    bottom = np.zeros(int(stacked.sum()))
    handles = []
    for layer, color, label in zip(layers, colors, labels, strict=True):
        _bars(ax, x[stacked], layer, bottoms=bottom, color=color, width=width, zorder=3)
        bottom = bottom + layer
        handles.append(Patch(facecolor=color, label=label))
    return handles[::-1]


def _spike_context(ax, x, v, window_start: float, base: str, mark: str, above: np.ndarray,
                   below: np.ndarray) -> None:
    """The whole lookback as a thin area, the main panel's window shaded, days beyond the threshold dotted and d
    marked."""
    # the area as one polygon down to 0, limits set below (fill_between or add_patch cost ~6 ms more each)
    area = np.concatenate([[(x[0], 0.0)], np.column_stack([x, v]), [(x[-1], 0.0)]])
    ax.add_collection(PolyCollection([area], facecolors=[_soft(base)], linewidths=0, zorder=2), autolim=False)
    ax.plot(x, v, color=base, linewidth=0.8, zorder=3)
    ax.axvspan(window_start - 0.5, x[-1] + 0.5, color="#000000", alpha=0.07, linewidth=0, zorder=1)
    for hit, color in ((above, UP_COLOR), (below, DOWN_COLOR)):
        if hit.any():
            ax.plot(x[hit], v[hit], linestyle="none", marker="o", markersize=3, color=color, zorder=4)
    ax.plot([x[-1]], [v[-1]], linestyle="none", marker="o", markersize=7, color=mark, markeredgecolor=INK,
            zorder=5, clip_on=False)
    ax.set_xlim(x[0] - 0.5, x[-1] + 0.5 + 0.012 * (x[-1] - x[0]))
    lo, hi = min(0.0, float(np.min(v))), max(0.0, float(np.max(v)))
    ax.set_ylim(lo - 0.05 * ((hi - lo) or 1.0), hi + 0.12 * ((hi - lo) or 1.0))
    # No axis machinery (a second set of ticks costs ~15 ms a chart): a baseline and the quarters named by hand,
    # enough to place the earlier spikes; the scale is the main panel's.
    ax.set_axis_off()
    ax.axhline(0, color="#888888", linewidth=0.8, zorder=2)
    first = mdates.num2date(x[0]).replace(tzinfo=None)
    quarters = pd.date_range(pd.Timestamp(first).to_period("Q").start_time, periods=len(v) // 90 + 2, freq="QS")
    under = ax.get_xaxis_transform()  # x in days, y in axes fractions (below the panel: < 0)
    shown = [(mdates.date2num(q), q) for q in quarters if x[0] <= mdates.date2num(q) <= x[-1]]
    for xq, q in shown:
        ax.text(xq, -0.1, f"{q:%b %Y}" if q.month == 1 else f"{q:%b}", transform=under, ha="center", va="top",
                fontsize=10.5, color=MUTED_INK)
    ticks = np.array([(xq, y) for xq, _ in shown for y in (0.0, -0.06, np.nan)]).reshape(-1, 2)
    ax.plot(ticks[:, 0], ticks[:, 1], transform=under, color="#888888", linewidth=0.8, clip_on=False)
    ax.set_title(f"lookback, {fmt.count(len(v), 'day')} (shaded: the {SPIKE_WINDOW_DAYS} below)", loc="left", fontsize=11,
                 color=MUTED_INK, pad=3)


def first_seen_chart(series: pd.Series, first_seen: FirstSeen, params: AlertParams, title: str = "",
                     subtitle: str = "") -> Figure:
    """A new service's daily cost (USD bars) since its first day (at most the last 90), d marked, the
    FIRST_SEEN_MIN_USD line. title/subtitle: the view's words."""
    with matplotlib.rc_context(RC):
        fig, (ax,) = _figure()
        _title(fig, title, subtitle)
        s = _clean(series).iloc[-SPIKE_WINDOW_DAYS:]
        if s.empty:
            _no_data(ax, "no cost data for this service")
            return fig
        x, v = mdates.date2num(s.index), s.to_numpy()
        width = _bar_width(len(v))
        _bars(ax, x[:-1], v[:-1], color=_soft(service_color(first_seen.service)), width=width)
        _bars(ax, [x[-1]], [v[-1]], color=UP_COLOR, width=max(width, 0.9), edgecolor=INK, zorder=5)
        line = ax.axhline(params.first_seen_min_usd, color=UP_COLOR, linewidth=1.8, linestyle="--", zorder=4,
                          label=f"reported from {usd(params.first_seen_min_usd)}/day")
        _xlim_days(ax, s.index[0], s.index[-1])
        ax.yaxis.set_major_formatter(_usd_axis())
        ax.yaxis.set_major_locator(MaxNLocator(6))
        _date_axis(ax)
        ax.set_ylabel("USD per day")
        ax.legend(handles=[line], loc="upper left", frameon=False, fontsize=11.5)
        ax.set_ylim(min(0.0, float(np.min(v))), max(float(np.max(v)), params.first_seen_min_usd) * 1.25)
        return fig


def _band_label(sign: str, params: AlertParams, std: float) -> str:
    if params.spike_z_threshold * std >= params.spike_min_delta_usd:
        return f"alert threshold: mean {sign} {params.spike_z_threshold:g}σ"
    return f"alert threshold: mean {sign} {usd(params.spike_min_delta_usd)} (minimum change)"


def trend_chart(series: pd.Series, trend: Trend, params: AlertParams, title: str = "",
                subtitle: str = "") -> Figure:
    """Top: daily cost (USD) with EMA fast/slow; bottom: MACD, signal and histogram; the crossover marked.
    title/subtitle: the view's words."""
    with matplotlib.rc_context(RC):
        return _trend_chart(series, trend, params, title, subtitle)


def _trend_chart(series: pd.Series, trend: Trend, params: AlertParams, title: str, subtitle: str) -> Figure:
    fig, (top, bottom) = _figure(2, height_ratios=[3, 2])
    s = _clean(series)
    _title(fig, title, subtitle)
    if s.empty:
        _no_data(top, "no cost data for this service")
        bottom.set_visible(False)
        return fig

    # Same definition as the alert rule: EMAs seeded with the service's first value (adjust=False).
    fast = s.ewm(span=params.macd_fast, adjust=False).mean()
    slow = s.ewm(span=params.macd_slow, adjust=False).mean()
    macd = fast - slow
    signal = macd.ewm(span=params.macd_signal, adjust=False).mean()
    shown = slice(max(0, len(s) - TREND_WINDOW_DAYS), None)
    idx = s.index[shown]
    x = mdates.date2num(idx)
    base = service_color(trend.service)
    mark = UP_COLOR if trend.direction == "up" else DOWN_COLOR

    # Cost as a light line with dots: the EMAs (the signal) stand out; the y axis need not start at 0.
    cost, fast_shown, slow_shown = s.to_numpy()[shown], fast.to_numpy()[shown], slow.to_numpy()[shown]
    top.plot(x, cost, color=_soft(base, 0.55), linewidth=1.2, marker="o", markersize=3.2, label="daily cost")
    top.plot(x, fast_shown, color=FAST_COLOR, linewidth=2.6, label=f"EMA {params.macd_fast} days")
    top.plot(x, slow_shown, color=SLOW_COLOR, linewidth=2.6, linestyle="--", label=f"EMA {params.macd_slow} days")
    top.yaxis.set_major_formatter(_usd_axis())
    top.yaxis.set_major_locator(MaxNLocator(5))
    top.set_ylabel("USD per day")
    _xlim_days(bottom, idx[0], idx[-1])  # shared with the top panel; labels below are placed in data x
    top_legend = top.legend(loc="upper left", frameon=False, ncols=3, borderaxespad=0.3)
    shown_values = np.concatenate([cost, fast_shown, slow_shown])
    _headroom(top, float(shown_values.min()), float(shown_values.max()), [_extent(top_legend)], below=0.08)

    hist = (macd - signal).to_numpy()[shown]
    macd_shown, signal_shown = macd.to_numpy()[shown], signal.to_numpy()[shown]
    _bars(bottom, x, hist, colors=np.where(hist >= 0, POS_COLOR, NEG_COLOR).tolist(), width=0.8)
    bottom.plot(x, macd_shown, color=FAST_COLOR, linewidth=2.2, label="MACD")
    bottom.plot(x, signal_shown, color=SLOW_COLOR, linewidth=2.2, linestyle="--",
                label=f"signal (EMA {params.macd_signal} of MACD)")
    bottom.axhline(0, color="#999999", linewidth=0.8)
    bottom.yaxis.set_major_formatter(_usd_axis())
    bottom.yaxis.set_major_locator(MaxNLocator(4))
    bottom.set_ylabel("USD per day")
    legend = bottom.legend(loc="upper left", frameon=False, ncols=4, fontsize=11.5, borderaxespad=0.3, handles=[
        *bottom.get_lines()[:2], Patch(facecolor=POS_COLOR, label="MACD − signal > 0"),
        Patch(facecolor=NEG_COLOR, label="< 0")])

    for ax in (top, bottom):
        ax.axvline(x[-1], color=mark, linewidth=1.4, linestyle=":", zorder=1)
    # The filter may report a crossover a few days after it happened (once the move is material): mark that day.
    back = min(max(int(trend.crossed_days_ago), 0), len(idx) - 1)
    xd = x[-1 - back]
    md = float(macd.iloc[-1 - back])
    if back:
        bottom.axvline(xd, color=mark, linewidth=1.4, linestyle=":", zorder=1)
    bottom.plot([xd], [md], marker="o", markersize=13, markerfacecolor=mark, markeredgecolor=INK, zorder=6,
                linestyle="none", clip_on=False)
    where = "above" if trend.direction == "up" else "below"
    crossed = pd.Timestamp(idx[-1 - back]).date()
    # the note sits in the panel's headroom, its right edge on the crossing day's line: it covers no data
    legend_box = _extent(legend)
    note = _top_label(bottom, f"{fmt.day(crossed)}: MACD crossed {where} its signal", xd - 0.4,
                      avoid=legend_box, fontsize=12.5)
    lows = np.concatenate([hist, macd_shown, signal_shown, [0.0]])
    marker_px = 13 * DPI / 72 / 2  # the crossing's dot may be the highest point: its radius too
    _headroom(bottom, float(lows.min()), float(lows.max()), [legend_box, _extent(note)], below=0.1,
              pad_px=HEADROOM_PAD_PX + marker_px)
    _date_axis(bottom)
    return fig


def mtd_chart(mtd: list[ServiceCost], title: str = "", subtitle: str = "", top_n: int = 12) -> Figure:
    """Month-to-date spend by service (USD): horizontal bars sorted, top N + "Other", values labelled.
    title/subtitle: the view's words."""
    with matplotlib.rc_context(RC):
        return _mtd_chart(mtd, title, subtitle, top_n)


def _top_with_other(names: list[str], values: np.ndarray, top_n: int) -> tuple[list[str], np.ndarray, int]:
    """The top_n names by value and one "Other (k services)" row with the rest (k = how many were merged)."""
    order = np.argsort(-values, kind="stable")
    if len(order) <= top_n + 1:  # "Other (1 service)" would hide a name for no room gained
        return [names[i] for i in order], values[order], 0
    head = order[:top_n]
    rest = order[top_n:]
    return ([names[i] for i in head] + [f"Other ({len(rest)} services)"],
            np.append(values[head], values[rest].sum()), len(rest))


def _mtd_chart(mtd: list[ServiceCost], title: str, subtitle: str, top_n: int) -> Figure:
    names, values, merged = _top_with_other([str(sc.service) for sc in mtd],
                                            np.array([sc.cost for sc in mtd], float), top_n)
    labels = [short(n, 42) for n in names]
    probe = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(probe)
    left = min(0.42, (_text_width_px(probe, labels, 12.5) + 24) / (WIDTH_IN * DPI)) if labels else 0.05
    fig, (ax,) = _figure(left=max(left, 0.05), right=0.97, bottom=0.07)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    total = float(sum(sc.cost for sc in mtd))
    _title(fig, title, _with_note(subtitle, top_n, merged))
    if not mtd:
        _no_data(ax, "no cost recorded this month")
        return fig
    colors = service_colors(names[: len(names) - (1 if merged else 0)]) + ([OTHER_COLOR] if merged else [])
    y = np.arange(len(names))[::-1]  # largest on top
    bars = ax.barh(y, values, height=0.72, color=colors, edgecolor="white", linewidth=0.6)
    ax.set_yticks(y, labels)
    ax.tick_params(axis="y", length=0, labelsize=12.5, labelcolor=INK)
    ax.bar_label(bars, labels=[f"{usd(v)}  {fmt.share(v / total)}" if total > 0 else usd(v) for v in values],
                 padding=5, fontsize=12, color=INK)
    lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
    width = (hi - lo) or 1.0
    ax.set_xlim(lo - (0.25 * width if lo < 0 else 0), hi + 0.24 * width)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.xaxis.set_major_formatter(_usd_axis())
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.spines["left"].set_visible(False)
    return fig


def _with_note(subtitle: str, top_n: int, merged: int) -> str:
    """The subtitle and, when services were merged into "Other", the rendering note saying so."""
    note = f"top {top_n} shown, the rest summed in Other" if merged else ""
    return " · ".join(part for part in (subtitle, note) if part)


def daily_chart(daily_by_service: pd.DataFrame, report_date: date, title: str = "", subtitle: str = "",
                top_n: int = 12) -> Figure:
    """Daily spend by service (USD) over d's month: stacked bars, top N + "Other", daily total on each bar; the
    legend in stack order (the top of the stack first). title/subtitle: the view's words."""
    with matplotlib.rc_context(RC):
        return _daily_chart(daily_by_service, report_date, title, subtitle, top_n)


def _daily_chart(df: pd.DataFrame, report_date: date, title: str, subtitle: str, top_n: int) -> Figure:
    frame = df.astype("float64").fillna(0.0)
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.groupby(level=0, axis=1).sum() if frame.columns.duplicated().any() else frame
    has_data = bool(frame.size)
    names: list[str] = []
    merged = 0
    if has_data:
        names, _, merged = _top_with_other(list(frame.columns), frame.sum(axis=0).to_numpy(), top_n)
    legend_labels = [short(n, 42) for n in names]
    probe = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(probe)
    legend_px = _text_width_px(probe, legend_labels, 11.5) + 70 if names else 0
    fig, (ax,) = _figure(right=max(0.6, 0.985 - legend_px / (WIDTH_IN * DPI)))
    _title(fig, title, _with_note(subtitle, top_n, merged))
    if not has_data:
        _no_data(ax, "no cost recorded this month")
        return fig
    head = names[: len(names) - (1 if merged else 0)]
    cols = [frame[c].to_numpy() for c in head]
    if merged:
        cols.append(frame.drop(columns=head).sum(axis=1).to_numpy())
    values = np.column_stack(cols)  # days x shown series
    colors = service_colors(head) + ([OTHER_COLOR] if merged else [])
    x = mdates.date2num(pd.DatetimeIndex(frame.index))

    # Positive and negative parts stack separately from 0 so credits never hide spend.
    pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
    pos_base = np.cumsum(pos, axis=1) - pos
    neg_base = np.cumsum(neg, axis=1) - neg
    handles = []
    for i, (label, color) in enumerate(zip(legend_labels, colors, strict=True)):
        for part, base in ((pos, pos_base), (neg, neg_base)):
            if part[:, i].any():
                _bars(ax, x, part[:, i], bottoms=base[:, i], color=color, width=0.78, edgecolor="white")
        handles.append(Patch(facecolor=color, label=label))
    totals = values.sum(axis=1)
    tops, bottoms = pos.sum(axis=1), neg.sum(axis=1)
    ymax, ymin = float(tops.max()), float(bottoms.min())
    span = (ymax - ymin) or 1.0
    labels = [usd(t) for t in totals]  # to the cent, as the subtitle and the message
    first = pd.Timestamp(report_date.replace(day=1))
    days_shown = (pd.Timestamp(frame.index[-1]) - min(first, pd.Timestamp(frame.index[0]))).days + 1.2
    # Upright totals when each fits its day's width, else turned (a month of days). Digits share one width, so
    # the longest label is the widest: measured alone (measuring text costs ~0.3 ms a label).
    longest = [max(labels, key=len)]
    crowded = _text_width_px(fig, longest, 12) > 0.95 * ax.get_window_extent().width / max(days_shown, 1.0)
    size = 11 if crowded else 12
    for xi, t, up, down, text in zip(x, totals, tops, bottoms, labels, strict=True):
        above = t >= 0
        ax.text(xi, (up if above else down) + (0.012 if above else -0.012) * span, text,
                ha="center", va="bottom" if above else "top", rotation=90 if crowded else 0,
                fontsize=size, color=INK)
    # Room for the totals above (and below) the bars: the longest label, measured, as a share of the axes.
    height_px = ax.get_window_extent().height
    label_px = _text_width_px(fig, longest, size) if crowded else size * 1.4 * DPI / 72
    room = min(0.4, (label_px + HEADROOM_PAD_PX) / height_px)
    room_below = room if (totals < 0).any() else 0.0
    gap = 0.012 * span
    limits = (ymax - ymin + 2 * gap) / (1 - room - room_below)
    ax.set_ylim(ymin - (gap + room_below * limits if ymin < 0 else 0), ymax + gap + room * limits)
    _xlim_days(ax, min(first, pd.Timestamp(frame.index[0])), pd.Timestamp(frame.index[-1]), min_days=1)
    ax.xaxis.set_major_locator(mdates.DayLocator(bymonthday=[1, 5, 10, 15, 20, 25, 30] if crowded
                                                 else range(1, 32)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b"))
    ax.yaxis.set_major_formatter(_usd_axis())
    ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.set_ylabel("USD per day")
    if ymin < 0:
        ax.axhline(0, color="#888888", linewidth=0.8)
    # The legend reads like the stack: its top first (positive parts stack up from 0, credits down).
    in_stack_order = handles[::-1] if pos.sum() >= -neg.sum() else handles
    ax.legend(handles=in_stack_order, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              fontsize=11.5, alignment="left", borderaxespad=0)
    return fig


def cumulative_chart(daily_totals: pd.Series, report_date: date, forecast: tuple[float, float, float] | None = None,
                     budget: float | None = None, title: str = "", subtitle: str = "") -> Figure:
    """Cumulative month-to-date spend (USD) by day of the month vs last month's, the budget as a horizontal line
    and the forecast cone from d to month end. daily_totals: USD per day (covering last month and d's month);
    forecast: (forecast, low, high) of the month end. title/subtitle: the view's words."""
    with matplotlib.rc_context(RC):
        return _cumulative_chart(daily_totals, report_date, forecast, budget, title, subtitle)


def _cumulative_chart(daily: pd.Series, d: date, forecast, budget, title: str, subtitle: str) -> Figure:
    fig, (ax,) = _figure()
    _title(fig, title, subtitle)
    series = pd.Series(daily, dtype="float64").fillna(0.0)
    series.index = pd.DatetimeIndex(series.index)
    first = pd.Timestamp(d.replace(day=1))
    prev_first = first - pd.DateOffset(months=1)
    this = series.loc[first:pd.Timestamp(d)]
    # Last month only when the history covers all of it (a partial cumulative line would mislead).
    last = series.loc[prev_first:first - pd.Timedelta(days=1)] if len(series) and series.index[0] <= prev_first \
        else series.iloc[:0]
    if this.empty:
        _no_data(ax, "no cost recorded this month")
        return fig
    n_days = first.days_in_month
    cum = this.cumsum()
    ax.plot(this.index.day, cum.to_numpy(), color=PALETTE[0], linewidth=2.6, marker="o", markersize=3.5,
            label=f"{first:%B} month to date")
    mtd = float(cum.iloc[-1])
    ax.annotate(usd(mtd), (d.day, mtd), xytext=(-6, 8), textcoords="offset points", ha="right", fontsize=12,
                color=PALETTE[0])
    tops = [mtd]
    if not last.empty:
        last_cum = last.cumsum()
        ax.plot(last.index.day, last_cum.to_numpy(), color=MUTED_INK, linewidth=1.8, linestyle="--",
                label=f"{prev_first:%B} (last month)")
        # below its line end, the forecast's label above it: the two month ends are often close
        ax.annotate(usd(float(last_cum.iloc[-1])), (last.index.day[-1], float(last_cum.iloc[-1])), xytext=(4, -8),
                    textcoords="offset points", ha="left", va="top", fontsize=11, color=MUTED_INK)
        tops.append(float(last_cum.max()))
    if forecast is not None and d.day < n_days:
        value, low, high = forecast
        xs = np.array([d.day, n_days])
        ax.fill_between(xs, [mtd, low], [mtd, high], color=PALETTE[2], alpha=0.22, linewidth=0,
                        label="forecast interval")
        ax.plot(xs, [mtd, value], color=PALETTE[2], linewidth=2.0, linestyle=":", label="forecast")
        ax.annotate(usd(value), (n_days, value), xytext=(4, 8), textcoords="offset points", ha="left",
                    va="bottom", fontsize=12, color=PALETTE[2])
        tops.append(high)
    if budget is not None:
        ax.axhline(budget, color=PALETTE[6], linewidth=1.8, label="budget")
        ax.annotate(f"budget {usd(budget)}", (1, budget), xytext=(0, 4), textcoords="offset points", ha="left",
                    va="bottom", fontsize=12, color=PALETTE[6])
        tops.append(budget)
    ax.set_xlim(0.5, n_days + 4.5)  # room on the right for the month-end labels
    ax.set_ylim(min(0.0, float(cum.min())), max(tops) * 1.1 or 1.0)
    ax.set_xticks(sorted({1, 5, 10, 15, 20, 25, n_days}))
    ax.set_xlabel("day of the month")
    ax.yaxis.set_major_formatter(_usd_axis())
    ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.set_ylabel("USD, cumulative")
    ax.legend(loc="lower right", frameon=False, fontsize=11.5)  # the lines rise to the upper right
    return fig


# ---- output ----------------------------------------------------------------------------------------------------


def save_png(fig: Figure, path: Path) -> Path:
    """Write fig as a PNG (exactly 1200x700 px) and release it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with matplotlib.rc_context(RC), warnings.catch_warnings():
            # a name in a script DejaVu Sans lacks (CJK…) renders as boxes; the warning would flood the log
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            warnings.filterwarnings("ignore", message=".*constrained_layout not applied.*")
            fig.savefig(path, format="png", dpi=DPI, facecolor="white", metadata={"Software": None},
                        pil_kwargs={"compress_level": 3})
    finally:
        fig.clear()
        fig.canvas = None  # break the figure <-> canvas cycle so it is freed promptly
    return path


def _render_job(job: tuple) -> tuple[str, str | None, str | None]:
    """Worker: render one chart to its path; returns (chart id, path or None, error or None)."""
    chart_id, kind, args, path = job
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            fig = _KINDS[kind](*args)
            save_png(fig, Path(path))
        return chart_id, str(path), None
    except Exception as exc:  # one broken chart must not lose the others
        return chart_id, None, f"{type(exc).__name__}: {exc}"


_KINDS = {"spike": spike_chart, "trend": trend_chart, "mtd": mtd_chart, "daily": daily_chart,
          "cumulative": cumulative_chart,
          "first_seen": first_seen_chart}


def chart_jobs(analysis: Analysis, day_view: DayView, params: AlertParams, out_dir: Path) -> list[tuple]:
    """The day's charts (day_view.charts, in page order, with the view's titles) as small picklable jobs: only
    each chart's own data, not the whole Analysis."""
    out_dir = Path(out_dir)
    jobs: list[tuple] = []
    empty = pd.Series(dtype="float64", index=pd.DatetimeIndex([]))

    def service_series(service: str, breakdown: str = "") -> pd.Series:
        if breakdown:
            return analysis.breakdown_series.get((service, breakdown), empty).copy()
        if service in analysis.series.columns:
            return analysis.series[service].copy()
        return empty

    # the first of a (service, breakdown), as its chart id
    spikes = {(sp.service, sp.breakdown): sp for sp in reversed(analysis.spikes)}
    trends = {(tr.service, tr.breakdown): tr for tr in reversed(analysis.trends)}
    new = {(f.service, f.breakdown): f for f in analysis.first_seen}
    stacks = {(e.service, e.breakdown): e.cause_stack for e in day_view.entries if e.spike is not None}
    for chart in day_view.charts:
        path = out_dir / chart.filename
        if chart.kind == "mtd":
            args: tuple = (list(analysis.mtd_by_service), chart.title, chart.subtitle)
        elif chart.kind == "daily":
            args = (analysis.daily_by_service, analysis.report_date, chart.title, chart.subtitle)
        elif chart.kind == "cumulative":
            f, b = day_view.forecast, day_view.budget
            first = pd.Timestamp(analysis.report_date.replace(day=1)) - pd.DateOffset(months=1)
            totals = analysis.series.loc[first:pd.Timestamp(analysis.report_date)].sum(axis=1)
            args = (totals, analysis.report_date, (f.forecast, f.low, f.high) if f is not None else None,
                    b.budget if b is not None else None, chart.title, chart.subtitle)
        elif chart.kind == "spike":
            key = (chart.service, chart.breakdown)
            args = (service_series(*key), spikes[key], params, chart.title, chart.subtitle, stacks.get(key))
        else:
            key = (chart.service, chart.breakdown)
            alert = {"trend": trends, "first_seen": new}[chart.kind][key]
            args = (service_series(*key), alert, params, chart.title, chart.subtitle)
        jobs.append((chart.id, chart.kind, args, path))
    return jobs


def _worker_init() -> None:
    """A chart worker: drop the run's lock fd it inherited, and die with its parent (Linux) instead of waiting
    on a pipe forever when the run is killed."""
    from .runlock import close_inherited

    close_inherited()
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def _pool_context():
    """fork when safe (workers inherit the imported matplotlib: no start-up cost); forkserver with this module
    preloaded when threads are running (fork would copy their locks); the platform default elsewhere."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return None


def render_charts(analysis: Analysis, day_view: DayView, params: AlertParams, out_dir: Path, *,
                  workers: int | None = None) -> dict[str, Path]:
    """Render the day's charts (day_view.charts: month-to-date, daily, one per spike and trend) as PNGs in
    out_dir, in parallel processes; return {chart id: png path} for the charts that rendered (failures are
    logged and left out)."""
    jobs = chart_jobs(analysis, day_view, params, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    results: list[tuple[str, str | None, str | None]] = []
    if len(jobs) <= 2 or workers <= 1:
        results = [_render_job(job) for job in jobs]
    else:
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(),
                                     initializer=_worker_init) as pool:
                results = list(pool.map(_render_job, jobs, chunksize=max(1, len(jobs) // (workers * 4))))
        except (OSError, RuntimeError) as exc:  # no process support (sandbox, frozen app): render here
            log.warning("charts: parallel rendering unavailable (%s); rendering serially", exc)
            results = [_render_job(job) for job in jobs]
    out: dict[str, Path] = {}
    for chart_id, path, error in results:
        if path is None:
            log.error("chart %s failed: %s", chart_id, error)
        else:
            out[chart_id] = Path(path)
    return out

