"""Labeled cost worlds (_util/costworld.py): the sample split over groups, and the drill-down benchmark's world."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from _util.costworld import (
    BENCH_KINDS,
    COLUMNS,
    DIMENSIONS,
    ONE_DAY,
    bench_world,
    sample_labels,
    sample_world,
)
from _util.sample_data import EVENTS, SERVICES, daily_costs

D = date(2026, 11, 25)
DIM_COLUMNS = ["linked_account", "usage_type", "region", "operation"]


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return sample_world(D - timedelta(days=40), D, D)


def test_groups_sum_to_each_services_daily_cost(world):
    start = D - timedelta(days=40)
    costs = daily_costs(start, D, D)
    sums = world.groupby(["service", "usage_date"])["amount"].sum()
    for name, series in costs.items():
        days = [pd.Timestamp(start + timedelta(days=int(i))) for i in np.flatnonzero(series)]
        got = sums.loc[name].reindex(days).to_numpy() if days else np.array([])
        np.testing.assert_allclose(got, series[series != 0], rtol=0, atol=1e-9)
    assert set(world["service"]) == {name for name, *_ in SERVICES}
    assert (world["amount"] > 0).all()
    assert list(world.columns) == list(COLUMNS)


def test_a_days_split_does_not_depend_on_the_range_asked(world):
    short = sample_world(D - timedelta(days=3), D, D)
    tail = world[world["usage_date"] >= pd.Timestamp(D - timedelta(days=3))].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, tail)


def test_many_groups_under_each_service_and_region_matches_the_usage_types_prefix(world):
    lam = world[(world["service"] == "AWS Lambda") & (world["usage_date"] == pd.Timestamp(D))]
    assert len(lam) >= 12
    assert lam["linked_account"].nunique() == 3 and lam["region"].nunique() == 3
    prefix = {"us-east-1": "USE1-", "us-west-2": "USW2-", "eu-west-1": "EU-"}
    assert all(u.startswith(prefix[r]) for u, r in zip(lam["usage_type"], lam["region"], strict=True))


@pytest.mark.parametrize("label", sample_labels(D), ids=lambda lab: f"{lab.kind}-{lab.service}")
def test_each_demo_event_is_driven_by_its_labeled_group(world, label):
    """Per group, the change on the event day against the 28 days before (one-day events) or on d against the
    day the turn starts (trends): the labeled group moves most, and carries most of the service's move."""
    rows = world[world["service"] == label.service]
    table = rows.pivot_table(index="usage_date", columns=DIM_COLUMNS, values="amount", aggfunc="sum")
    if label.kind in ONE_DAY:
        on = pd.Timestamp(label.day)
        before = table.loc[on - pd.Timedelta(days=28):on - pd.Timedelta(days=1)].median()
        change = table.loc[on] - before
    else:
        change = table.loc[pd.Timestamp(D)] - table.loc[pd.Timestamp(label.day)]
    (group,) = label.groups
    key = tuple(group[d] for d in DIMENSIONS)
    assert change.abs().idxmax() == key
    assert abs(change[key]) > 0.7 * abs(change.sum())
    assert np.sign(change[key]) == np.sign(label.deltas[0])
    if label.kind in ONE_DAY:
        assert change[key] == pytest.approx(label.deltas[0], rel=0.15)


def test_labels_cover_every_demo_event():
    labels = sample_labels(D)
    assert [(lab.service, (D - lab.day).days, lab.kind) for lab in labels] == list(EVENTS)
    lam = next(lab for lab in labels if lab.service == "AWS Lambda")
    assert lam.groups == ({"LINKED_ACCOUNT": "222222222222", "USAGE_TYPE": "USE1-Lambda-GB-Second",
                           "REGION": "us-east-1", "OPERATION": "Invoke"},)


@pytest.fixture(scope="module")
def bench():
    kinds = ["spike", "turn_up", "netting", "new_service", "drop", "spike"]
    return (bench_world(7, n_services=10, days=45, events=kinds), bench_world(7, n_services=10, days=45, events=[]),
            kinds)


def _by_group(frame: pd.DataFrame) -> pd.Series:
    return frame.set_index(["service", "usage_date", *DIM_COLUMNS])["amount"]


def test_bench_world_differs_from_its_quiet_twin_exactly_by_the_labeled_groups(bench):
    """The same seed without events gives the same base world: every difference is a labeled one."""
    (frame, labels), (quiet, none), kinds = bench
    assert none == [] and [lab.kind for lab in labels] == kinds
    diff = _by_group(frame).sub(_by_group(quiet), fill_value=0.0)
    diff = diff[diff.abs() > 1e-6]
    end = frame["usage_date"].max()
    expected = {}
    for lab in labels:
        for group, delta in zip(lab.groups, lab.deltas, strict=True):
            key = (lab.service, end, *(group[d] for d in DIMENSIONS))
            expected[key] = delta
    # On d, the labeled groups changed by their deltas and nothing else changed, except before d along a trend
    # or a new service's first days.
    on_d = diff[diff.index.get_level_values("usage_date") == end]
    assert on_d.to_dict().keys() == expected.keys()
    np.testing.assert_allclose([on_d[k] for k in expected], list(expected.values()), atol=1e-6)
    earlier = diff[diff.index.get_level_values("usage_date") < end]
    drifting = {lab.service for lab in labels if lab.kind in ("turn_up", "new_service")}
    assert set(earlier.index.get_level_values("service")) <= drifting


def test_bench_events_have_the_shapes_they_name(bench):
    (frame, labels), _, _ = bench
    end = frame["usage_date"].max()
    for lab in labels:
        rows = frame[frame["service"] == lab.service]
        if lab.kind == "netting":
            a, b = lab.groups
            assert a["LINKED_ACCOUNT"] != b["LINKED_ACCOUNT"] and sum(lab.deltas) == pytest.approx(0.0, abs=1e-9)
        elif lab.kind == "new_service":
            assert rows["usage_date"].min() == pd.Timestamp(lab.day)
            assert len(rows[DIM_COLUMNS].drop_duplicates()) == 1
        else:
            assert rows[DIM_COLUMNS].drop_duplicates().shape[0] >= 20  # one group among many
        if lab.kind == "spike":
            assert lab.deltas[0] > 0.4 * rows[rows["usage_date"] < end].groupby("usage_date")["amount"].sum().median()
        if lab.kind == "drop":
            assert lab.deltas[0] < 0
        if lab.kind == "turn_up":
            assert (end - pd.Timestamp(lab.day)).days in range(5, 11)
    assert (frame["amount"] >= 0).all()


def test_bench_world_is_deterministic_in_its_seed():
    a, la = bench_world(3, n_services=6, days=30, events=4)
    b, lb = bench_world(3, n_services=6, days=30, events=4)
    c, _ = bench_world(4, n_services=6, days=30, events=4)
    pd.testing.assert_frame_equal(a, b)
    assert la == lb
    assert not a["amount"].equals(c["amount"])
    assert [lab.kind for lab in la] == list(BENCH_KINDS[:4])


def test_bench_world_refuses_unknown_kinds_and_too_few_services():
    with pytest.raises(ValueError, match="unknown event kinds"):
        bench_world(1, events=["spike", "meteor"])
    with pytest.raises(ValueError, match="n_services"):
        bench_world(1, n_services=2, events=["spike"] * 3)
