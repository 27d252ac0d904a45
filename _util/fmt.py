"""The one set of text formatters of every output (Slack, site, terminal, charts): pure, no locale.

Money is USD, always to the cent and rounded half up as a bill shows it ($2.675 → $2.68); negative amounts use
the ASCII minus ("-$4.00", machine-readable in the terminal output) and a figure that rounds to zero carries no
sign (never "-$0.00"). Percents are signed fractions with one style ("+6.1%", "+1,234%" from 1,000% on).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

MINUS = "-"  # the one minus sign of money and percents
MISSING = "–"  # a figure that cannot be computed (no baseline, no data)
ESTIMATED = "Estimated costs (the bill is not final yet)"  # the one wording of estimated days


def _rounded(x: float, digits: int) -> Decimal:
    """x rounded half up to `digits` decimals (exact decimal of the float's shortest repr; numpy floats too)."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def cents(usd: float) -> float:
    """USD rounded half up to the cent ($2.675 → 2.68; binary floats would give 2.67); NaN/inf unchanged."""
    if not math.isfinite(usd):
        return usd
    return float(_rounded(usd, 2)) + 0.0


def shown_difference(a: float, b: float) -> float:
    """a - b as a reader checks it: the difference of the two figures shown (each to the cent), so that
    "$61.43, $42.08 above its normal $19.35" adds up even when the unrounded difference rounds to $42.07."""
    return cents(a) - cents(b)


def money(x: float | None, digits: int = 2) -> str:
    """USD as "$1,234.56" (digits=0: "$1,235"), half up; "-$4.00" below zero; MISSING for None/NaN."""
    if x is None or not math.isfinite(x):
        return MISSING
    q = _rounded(x, digits)
    sign = MINUS if q < 0 else ""
    return f"{sign}${abs(q):,.{digits}f}"


def signed_money(x: float | None, digits: int = 2) -> str:
    """A change in USD with its sign: "+$12.30", "-$4.00"; "$0.00" when it rounds to zero."""
    text = money(x, digits)
    return text if text == MISSING or text.startswith(MINUS) or _rounded(x, digits) == 0 else "+" + text


def money_compact(x: float | None) -> str:
    """Short USD for axes and crowded labels: "$0.25", "$12", "$12.5", "$176", "$1.2k", "$15k", "$3.4M"."""
    if x is None or not math.isfinite(x):
        return ""
    sign, v = (MINUS if x < 0 else ""), abs(x)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= limit * 0.9995:
            q = v / limit
            text = str(_rounded(q, 1 if q < 100 else 0))
            return f"{sign}${text.removesuffix('.0')}{suffix}"
    if v < 1:
        q = _rounded(v, 2)
        return f"{sign}${q}" if q else "$0"
    text = str(_rounded(v, 1 if v < 100 else 0))
    return f"{sign}${text.removesuffix('.0')}"


def pct(fraction: float | None) -> str:
    """A fraction as a signed percentage, half up: "+6.1%", "-3.2%", "+1,234%" (>= 1,000%); "0.0%" for zero."""
    if fraction is None or not math.isfinite(fraction):
        return MISSING
    digits = 1 if abs(fraction) < 10 else 0
    q = _rounded(fraction * 100, digits)
    if q == 0:
        return f"{0:.{digits}f}%"
    return f"{'+' if q > 0 else MINUS}{abs(q):,.{digits}f}%"


def share(fraction: float | None) -> str:
    """An unsigned part of a whole: "12.3%"."""
    if fraction is None or not math.isfinite(fraction):
        return MISSING
    return f"{_rounded(fraction * 100, 1) + 0:,.1f}%"


def count(n: int, word: str) -> str:
    """A count with its noun: "1 service", "2 services" (plural by adding s)."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def day(d: date) -> str:
    """A day for a reader: "November 25"."""
    return f"{d:%B} {d.day}"


def day_of_month(d: date) -> str:
    """A day of the current month, as in "around the 24th": "1st", "2nd", "3rd", "11th", "22nd"."""
    n = d.day
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def interval(low: float | None, high: float | None, level: float = 0.8) -> str:
    """A prediction interval in USD: "80%: $11,600.00–$14,100.00"."""
    level_text = share(level).replace(".0%", "%")  # "80%", "87.5%"
    return f"{level_text}: {money(low)}–{money(high)}"


def weekday(d: date) -> str:
    """A day with its weekday, for comparisons: "Wed, November 25"."""
    return f"{d:%a}, {day(d)}"


def day_full(d: date) -> str:
    """A report date in a title: "Wednesday, November 25, 2026"."""
    return f"{d:%A}, {day(d)}, {d.year}"


def day_iso(d: date) -> str:
    """A day where a machine (or a sorted list) reads it: "2026-11-25"."""
    return d.isoformat()


def day_range(a: date, b: date) -> str:
    """A run of days: "November 3", "November 3–5", "October 30 – November 2", with years when they differ."""
    a, b = min(a, b), max(a, b)
    if a == b:
        return day(a)
    if a.year != b.year:
        return f"{day(a)}, {a.year} – {day(b)}, {b.year}"
    if a.month != b.month:
        return f"{day(a)} – {day(b)}"
    return f"{day(a)}–{b.day}"


def runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted distinct days as runs of consecutive days (first, last)."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if out and (d - out[-1][1]).days == 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def days_text(days: Iterable[date]) -> str:
    """Days as runs: "November 3–5, November 9"."""
    return ", ".join(day_range(a, b) for a, b in runs(days))


def estimated_days(days: Iterable[date]) -> str:
    """The one sentence naming the days whose costs are still estimates ("" when every day is final)."""
    text = days_text(days)
    return f"{ESTIMATED}: {text}" if text else ""
