"""The cached analysis window: the same matrix (and Analysis) as a full read after any sequence of stores,
re-fetches, replaced days, forgotten days and settings changes; a bad cache costs speed, never the run."""

from __future__ import annotations

import logging
import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from _util import db, metrics, window
from _util.model import AlertParams, CostRow

D = date(2026, 11, 25)
WINDOW = 20
START = D - timedelta(days=WINDOW)
T0 = datetime(2026, 11, 26, 6, 0, 0)  # fetched_at of the stored days: long before the tests run
PARAMS = AlertParams(lookback_days=WINDOW, min_history_days=3, monthly_charge_filter=False)
SERVICES = ["EC2", "S3", "Amazon Relational Database Service", "Zeta"]
ACCOUNTS = ["", "111122223333", "444455556666"]


def day_rows(rng: random.Random, day: date, est: bool) -> list[CostRow]:
    """A random day: some series present, exact 10-decimal amounts (zeros and credits too)."""
    rows = []
    for s in SERVICES:
        for a in ACCOUNTS:
            if rng.random() < 0.7:
                cents = rng.choice([0, rng.randint(-500, 0), rng.randint(1, 10**6)])
                amount = Decimal(cents) / 100 + Decimal(rng.randint(0, 10**8)) / 10**10
                rows.append(CostRow(day, s, a, amount, "USD", est))
    return rows


def assert_same(a: window.CostMatrix, b: window.CostMatrix) -> None:
    assert (a.start, a.end, a.estimated_dates) == (b.start, b.end, b.estimated_dates)
    assert list(a.keys) == list(b.keys)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.has_rows, b.has_rows)


def assert_same_analysis(x, y) -> None:
    for name in ("report_date", "spikes", "trends", "first_seen", "mtd_by_service", "daily_totals", "summary",
                 "estimated_dates"):
        assert getattr(x, name) == getattr(y, name), name
    pd.testing.assert_frame_equal(x.series, y.series, check_exact=True)
    pd.testing.assert_frame_equal(x.daily_by_service, y.daily_by_service, check_exact=True)
    assert x.breakdown_series.keys() == y.breakdown_series.keys()
    for key in x.breakdown_series:
        pd.testing.assert_series_equal(x.breakdown_series[key], y.breakdown_series[key], check_exact=True)


def test_cached_window_equals_a_full_read_after_random_changes(engine, tmp_path):
    rng = random.Random(7)
    cache = tmp_path / "cache"
    days = [START + timedelta(days=i) for i in range(WINDOW + 1)]
    rows = [r for day in days for r in day_rows(rng, day, day > D - timedelta(days=4))]
    db.store_costs(engine, rows, {day: day > D - timedelta(days=4) for day in days}, metric="UnblendedCost",
                   group_by="LINKED_ACCOUNT", fetched_at=T0)
    first = window.load_window(engine, START, D, cache_dir=cache)
    assert first.rows_read == len(rows)
    for step in range(1, 8):
        stamp = T0 + timedelta(minutes=step)
        action = step % 4
        if action == 0:  # re-fetched Estimated days, replaced whole (rows may vanish)
            changed = rng.sample(days, 3)
            db.store_costs(engine, [r for day in changed for r in day_rows(rng, day, True)],
                           dict.fromkeys(changed, True), metric="UnblendedCost", group_by="LINKED_ACCOUNT",
                           fetched_at=stamp)
        elif action == 1:  # merged: rows added or updated, none removed
            day = rng.choice(days)
            db.store_costs(engine, day_rows(rng, day, False), {day: False}, metric="UnblendedCost",
                           group_by="LINKED_ACCOUNT", replace=(), fetched_at=stamp)
        elif action == 2:  # the oldest days forgotten
            db.forget_days(engine, START + timedelta(days=rng.randint(0, 3)))
        else:  # a day replaced by an empty answer (a day with no cost at all)
            day = rng.choice(days[:-1])
            db.store_costs(engine, [], {day: False}, metric="UnblendedCost", group_by="LINKED_ACCOUNT",
                           fetched_at=stamp)
        warm = window.load_window(engine, START, D, cache_dir=cache)
        full = window.load_window(engine, START, D)
        assert_same(warm, full)
        assert warm.rows_read < full.rows_read or full.rows_read == 0  # only the changed days were read
    # ... and the Analysis is the long frame's (the path before the cache), bit for bit, with and without breakdowns.
    long = db.load_costs(engine, START, D)
    assert (pd.to_datetime(long["usage_date"]) == pd.Timestamp(D)).any()
    assert_same_analysis(metrics.analyse(warm, D, PARAMS), metrics.analyse(long, D, PARAMS))
    assert_same_analysis(metrics.analyse(warm.by_service(), D, PARAMS),
                         metrics.analyse(long.assign(breakdown=""), D, PARAMS))


def test_the_next_days_window_reads_only_the_new_and_changed_days(sqlite_engine, tmp_path):
    rng = random.Random(3)
    cache = tmp_path / "cache"
    days = [START - timedelta(days=1) + timedelta(days=i) for i in range(WINDOW + 1)]  # yesterday's window
    for day in days:
        db.store_costs(sqlite_engine, day_rows(rng, day, False), {day: False}, fetched_at=T0)
    window.load_window(sqlite_engine, days[0], days[-1], cache_dir=cache)
    today = [day_rows(rng, D, True), day_rows(rng, D - timedelta(days=1), True)]
    db.store_costs(sqlite_engine, today[0] + today[1], {D: True, D - timedelta(days=1): True},
                   fetched_at=T0 + timedelta(hours=1))
    warm = window.load_window(sqlite_engine, START, D, cache_dir=cache)
    assert warm.rows_read == len(today[0]) + len(today[1])
    assert_same(warm, window.load_window(sqlite_engine, START, D))
    assert warm.estimated_dates == [D - timedelta(days=1), D]


def test_a_day_rewritten_within_the_same_second_is_read_again(sqlite_engine, tmp_path):
    cache = tmp_path / "cache"
    now = db.utcnow()  # the cache cannot tell two writes of one second apart: such days are never trusted
    db.store_costs(sqlite_engine, [CostRow(D - timedelta(days=1), "EC2", "", Decimal("1"), "USD", False),
                                   CostRow(D, "EC2", "", Decimal("1"), "USD", False)],
                   {D - timedelta(days=1): False, D: False}, fetched_at=now)
    window.load_window(sqlite_engine, START, D, cache_dir=cache)
    db.store_costs(sqlite_engine, [CostRow(D - timedelta(days=1), "EC2", "", Decimal("7.5"), "USD", False)],
                   {D - timedelta(days=1): False}, fetched_at=now)
    warm = window.load_window(sqlite_engine, START, D, cache_dir=cache)
    assert warm.values[-2].tolist() == [7.5]


def test_the_report_day_is_always_read_again(sqlite_engine, tmp_path):
    cache = tmp_path / "cache"
    db.store_costs(sqlite_engine, [CostRow(D, "EC2", "", Decimal("1"), "USD", False)], {D: False}, fetched_at=T0)
    window.load_window(sqlite_engine, START, D, cache_dir=cache)
    with sqlite_engine.begin() as conn:  # a hand edit of d's rows (no new fetched_at)
        conn.execute(db.daily_cost.update().values(amount=Decimal("2.25")))
    assert window.load_window(sqlite_engine, START, D, cache_dir=cache).values[-1].tolist() == [2.25]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other format"])
def test_a_corrupt_cache_is_ignored_and_rebuilt(sqlite_engine, tmp_path, caplog, damage):
    cache = tmp_path / "cache"
    rows = [CostRow(START + timedelta(days=i), "EC2", "", Decimal(i + 1), "USD", False) for i in range(WINDOW + 1)]
    db.store_costs(sqlite_engine, rows, {r.usage_date: False for r in rows}, fetched_at=T0)
    full = window.load_window(sqlite_engine, START, D, cache_dir=cache)
    path = window.cache_path(cache, sqlite_engine)
    if damage == "garbage":
        path.write_bytes(b"not a cache")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    else:
        with np.load(path) as data:
            fields = dict(data)
        fields["format"] = np.int64(window.CACHE_FORMAT + 1)
        np.savez(path, **fields)
    with caplog.at_level(logging.WARNING, logger="_util.window"):
        again = window.load_window(sqlite_engine, START, D, cache_dir=cache)
    assert_same(again, full) and again.rows_read == len(rows)
    assert damage == "other format" or "unreadable" in caplog.text
    assert window.load_window(sqlite_engine, START, D, cache_dir=cache).rows_read == 1  # rebuilt: d only


def test_a_cache_that_cannot_be_written_costs_speed_only_and_is_logged_once(sqlite_engine, tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    db.store_costs(sqlite_engine, [CostRow(D, "EC2", "", Decimal("3"), "USD", False)], {D: False}, fetched_at=T0)
    window._warned_unwritable.clear()
    with caplog.at_level(logging.WARNING, logger="_util.window"):
        first = window.load_window(sqlite_engine, START, D, cache_dir=blocked / "cache")
        window.load_window(sqlite_engine, START, D, cache_dir=blocked / "cache")
    assert first.values.tolist() == [[0.0]] * WINDOW + [[3.0]]
    assert caplog.text.count("cannot be written") == 1


def test_mixed_currencies_are_refused_from_the_cache_as_from_a_full_read(sqlite_engine, tmp_path):
    cache = tmp_path / "cache"
    db.store_costs(sqlite_engine, [CostRow(D - timedelta(days=2), "EC2", "", Decimal("1"), "EUR", False)],
                   {D - timedelta(days=2): False}, fetched_at=T0)
    db.store_costs(sqlite_engine, [CostRow(D, "EC2", "", Decimal("1"), "USD", False)], {D: False}, fetched_at=T0)
    with pytest.raises(db.MixedCostsError) as full:
        db.load_costs(sqlite_engine, START, D)
    for _ in range(2):  # cold, then with the days cached
        with pytest.raises(db.MixedCostsError) as got:
            window.load_window(sqlite_engine, START, D, cache_dir=cache)
        assert str(got.value) == str(full.value)


def test_a_cache_of_another_database_is_not_used(tmp_path):
    cache = tmp_path / "cache"
    engines = [db.make_engine(f"sqlite:///{tmp_path / name}") for name in ("a.sqlite", "b.sqlite")]
    try:
        for amount, eng in zip(("1", "2"), engines, strict=True):
            db.init_db(eng)
            db.store_costs(eng, [CostRow(D - timedelta(days=1), "EC2", "", Decimal(amount), "USD", False),
                                 CostRow(D, "EC2", "", Decimal(amount), "USD", False)],
                           {D - timedelta(days=1): False, D: False}, fetched_at=T0)
            window.load_window(eng, START, D, cache_dir=cache)
        assert [window.load_window(e, START, D, cache_dir=cache).values[-2, 0] for e in engines] == [1.0, 2.0]
    finally:
        for eng in engines:
            eng.dispose()


def test_a_name_holding_the_separator_is_read_row_by_row(engine):
    odd = f"EC2{window.SEP}odd"
    rows = [CostRow(D, odd, window.SEP, Decimal("1.25"), "USD", False), CostRow(D, "S3", "", Decimal("2"), "USD", True)]
    db.store_costs(engine, rows, {D: True}, fetched_at=T0)
    got = window.load_window(engine, START, D)
    assert list(got.keys) == sorted([(odd, window.SEP), ("S3", "")])
    assert got.values[-1].tolist() == [1.25, 2.0] and got.estimated_dates == [D] and got.rows_read == 2


def test_two_currencies_on_one_day_are_refused_as_by_a_full_read(sqlite_engine):
    db.store_costs(sqlite_engine, [CostRow(D, "EC2", "", Decimal("1"), "USD", False),
                                   CostRow(D, "S3", "", Decimal("1"), "EUR", False)], {D: False}, fetched_at=T0)
    with pytest.raises(db.MixedCostsError) as full:
        db.load_costs(sqlite_engine, START, D)
    with pytest.raises(db.MixedCostsError) as got:
        window.load_window(sqlite_engine, START, D)
    assert str(got.value) == str(full.value)
