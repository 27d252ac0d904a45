"""Shared types and helpers of _util/model.py."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _util.model import cents


@pytest.mark.parametrize("usd, shown", [(2.675, 2.68), (1.005, 1.01), (-2.675, -2.68), (0.125, 0.13),
                                        (1184.4795374009, 1184.48), (0.1 + 0.2, 0.3), (1e-13, 0.0)])
def test_cents_rounds_half_up_as_a_bill_does(usd, shown):
    """Binary floats would show $2.675 as $2.67 (2.67499…); amounts are exact to 10 decimals in the database."""
    assert cents(usd) == shown


@given(st.decimals(min_value=-10**6, max_value=10**6, places=10, allow_nan=False, allow_infinity=False))
def test_cents_matches_decimal_half_up_on_stored_amounts(amount):
    from decimal import ROUND_HALF_UP, Decimal

    expected = float(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    assert cents(float(amount)) == expected


def test_cents_takes_numpy_floats():
    import numpy as np

    assert cents(np.float64(2.675)) == 2.68


def test_cents_leaves_non_finite_alone():
    assert math.isnan(cents(float("nan"))) and cents(float("inf")) == float("inf")
