"""The one set of formatters: money to the cent (half up), signs, percents, days and runs of days."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _util import fmt

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
MONEY = re.compile(r"^-?\$\d{1,3}(,\d{3})*\.\d\d$")


def half_up_cents(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@given(finite)
def test_money_is_to_the_cent_half_up_with_one_minus(x):
    text = fmt.money(x)
    assert MONEY.match(text), text
    assert Decimal(text.replace("$", "").replace(",", "")) == half_up_cents(x)
    assert text != "-$0.00"


@pytest.mark.parametrize(("x", "text"), [
    (2.675, "$2.68"), (1.005, "$1.01"), (-1.005, "-$1.01"), (0.004, "$0.00"), (-0.004, "$0.00"), (0.005, "$0.01"),
    (1234.5, "$1,234.50"), (175.92, "$175.92"), (0.0, "$0.00"), (-0.0, "$0.00"), (None, fmt.MISSING),
    (float("nan"), fmt.MISSING),
])
def test_money_examples(x, text):
    assert fmt.money(x) == text


def test_money_whole_dollars_round_half_up():
    assert fmt.money(1139.5, digits=0) == "$1,140" and fmt.money(-2.5, digits=0) == "-$3"


@given(finite)
def test_signed_money_has_a_sign_unless_zero(x):
    text = fmt.signed_money(x)
    q = half_up_cents(x)
    assert text == ("+" if q > 0 else "") + fmt.money(x)
    assert not text.startswith(("-$0.00", "+$0.00"))


@pytest.mark.parametrize(("x", "text"), [(12.3, "+$12.30"), (-4.0, "-$4.00"), (0.001, "$0.00"), (-0.004, "$0.00")])
def test_signed_money_examples(x, text):
    assert fmt.signed_money(x) == text


@given(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False))
def test_pct_is_signed_one_style(fraction):
    text = fmt.pct(fraction)
    assert re.match(r"^([+-]\d{1,3}(,\d{3})*(\.\d)?|0(\.0)?)%$", text), text
    assert not text.startswith("-0.0%")
    value = Decimal(text[:-1].replace(",", ""))
    assert abs(value - Decimal(repr(fraction)) * 100) <= Decimal("0.5")


@pytest.mark.parametrize(("x", "text"), [(0.061, "+6.1%"), (-0.032, "-3.2%"), (0.0005, "+0.1%"), (-0.0004, "0.0%"),
                                          (12.345, "+1,235%"), (None, fmt.MISSING)])
def test_pct_examples(x, text):
    assert fmt.pct(x) == text


@pytest.mark.parametrize(("x", "text"), [
    (0, "$0"), (0.25, "$0.25"), (5, "$5"), (12.5, "$12.5"), (150, "$150"), (175.92, "$176"), (1234, "$1.2k"),
    (15_000, "$15k"), (999.9, "$1k"), (1_500_000, "$1.5M"), (-3.2, "-$3.2"), (-2500, "-$2.5k"), (2e9, "$2B"),
    (0.004, "$0"), (-0.004, "$0"),
])
def test_money_compact(x, text):
    assert fmt.money_compact(x) == text


@given(finite)
def test_money_compact_never_shows_minus_zero(x):
    assert fmt.money_compact(x) not in ("-$0", "-$0.00")


@pytest.mark.parametrize(("a", "b", "text"), [
    (date(2026, 11, 3), date(2026, 11, 3), "November 3"),
    (date(2026, 11, 3), date(2026, 11, 5), "November 3–5"),
    (date(2026, 11, 5), date(2026, 11, 3), "November 3–5"),
    (date(2026, 10, 30), date(2026, 11, 2), "October 30 – November 2"),
    (date(2025, 12, 30), date(2026, 1, 2), "December 30, 2025 – January 2, 2026"),
])
def test_day_range(a, b, text):
    assert fmt.day_range(a, b) == text


@given(st.lists(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)), max_size=40))
def test_runs_cover_exactly_the_days(days):
    covered = [a + timedelta(n) for a, b in fmt.runs(days) for n in range((b - a).days + 1)]
    assert covered == sorted(set(days))
    pairs = fmt.runs(days)
    assert all((later[0] - earlier[1]).days > 1 for earlier, later in zip(pairs, pairs[1:], strict=False))


def test_estimated_days_is_one_sentence_of_runs():
    days = [date(2026, 11, d) for d in (9, 3, 5, 6)]
    assert fmt.estimated_days(days) == f"{fmt.ESTIMATED}: November 3, November 5–6, November 9"
    assert fmt.estimated_days([]) == ""
    assert fmt.day(date(2026, 11, 25)) == "November 25" and fmt.day_iso(date(2026, 11, 25)) == "2026-11-25"


@pytest.mark.parametrize("n, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
                                     (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (24, "24th"),
                                     (31, "31st")])
def test_day_of_month(n, text):
    assert fmt.day_of_month(date(2026, 12, n)) == text


@pytest.mark.parametrize("low, high, level, text", [
    (11600, 14100, 0.8, "80%: $11,600.00–$14,100.00"),
    (2.675, 3.0, 0.95, "95%: $2.68–$3.00"),
    (1, 2, 0.875, "87.5%: $1.00–$2.00"),
])
def test_interval(low, high, level, text):
    assert fmt.interval(low, high, level) == text
