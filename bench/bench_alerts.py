#!/usr/bin/env python3
"""Alert quality on a labeled synthetic benchmark: false alerts on pure noise and recall of injected events.

Services: log-uniform levels from $0.05 to $5,000/day, a weekday/weekend pattern of random depth, multiplicative
lognormal noise with mild day-to-day persistence (small services noisier), zero days for small services.
  noise   2,000 stationary services; every one of 60 report days is scored (false alerts per service-day)
  spikes  3,000 services with one +5σ day (σ = std of the service's baseline, added to that day's cost)
  turns   2,000 services: a steady rise (1.5-3%/day) that becomes a steady fall, or flat that starts rising
          2-4%/day; a turn is found when an alert in the right direction comes on one of the 11 days turn..turn+10
  monthly 1,000 services with a fee on the 1st of each month (3-30 days' worth, +-5% month to month; half of
          them fee-only, like Tax or Support): every alert in the 60 report days is false; then the last fee
          doubled, which should be reported

Labels. False alerts are counted over every noise service, the tiny noisy ones included. Recall is scored over
the events worth a Slack message (MATERIAL_USD): spikes that add at least $10 to the day, turns of services
costing at least $10/day (2%/day for 10 days moves them by >= $2/day). A +5σ spike of a $0.05/day service is
8 cents: the product's $ floors are there to keep it quiet, so counting it as "missed" would score the floors,
not the detector. Recall over all injected events is printed too.

Prints a markdown table for the defaults and for the raw rules (z >= 1 with the day inside its own baseline,
as the original tool did; TREND_FILTER=off). Fixed seeds; runs in well under 2 minutes.

    python -m bench.bench_alerts
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from _util.metrics import (
    TREND_CONFIRM_DAYS,
    TREND_FILTER_K,
    detect_spikes,
    detect_trends,
    drop_spike_echoes,
)
from _util.model import AlertParams

HISTORY = 365  # days before the first scored day
EVAL = 60  # scored report days
END = date(2026, 11, 25)
MATERIAL_USD = 10.0  # an event worth a message: a spike adding >= $10, or a turn of a service >= $10/day


def make_noise(n: int, days: int, rng: np.random.Generator, end: date = END) -> tuple[pd.DataFrame, np.ndarray]:
    """days x n stationary daily costs (USD) and each service's base level."""
    level = np.exp(rng.uniform(np.log(0.05), np.log(5000.0), n))
    index = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    weekend = np.asarray(index.day_of_week >= 5)[:, None]
    depth = rng.uniform(0.0, 0.35, n)  # weekend dip, fraction of the weekday level
    season = np.where(weekend, 1.0 - depth, 1.0 + depth * 2 / 5)  # weekly mean stays 1
    # Day-to-day variation: 1-8% for services above $1/day (log-uniform), 5-25% below.
    cv = np.where(level < 1.0, np.exp(rng.uniform(np.log(0.05), np.log(0.25), n)),
                  np.exp(rng.uniform(np.log(0.01), np.log(0.08), n)))
    sigma = np.sqrt(np.log1p(cv ** 2))
    shocks = rng.normal(0.0, 1.0, (days, n))
    phi = 0.3  # day-to-day persistence of the noise
    ar = np.empty_like(shocks)
    ar[0] = shocks[0]
    for t in range(1, days):
        ar[t] = phi * ar[t - 1] + np.sqrt(1 - phi ** 2) * shocks[t]
    values = level * season * np.exp(sigma * ar - sigma ** 2 / 2)
    zero_days = (level < 1.0) & (rng.random((days, n)) < 0.05)
    values[zero_days] = 0.0
    names = [f"svc{i:05d}" for i in range(n)]
    return pd.DataFrame(values, index=index, columns=names), level


def score_noise(costs: pd.DataFrame, params: AlertParams, raw_spikes: bool) -> tuple[float, float]:
    """(spike, trend) alerts per service-day over the last EVAL days of stationary series."""
    spikes = trends = 0
    for t in range(len(costs) - EVAL, len(costs)):
        window = costs.iloc[: t + 1]
        d = window.index[-1].date()
        spikes += raw_spike_count(window) if raw_spikes else len(detect_spikes(window, d, params))
        trends += len(reported_trends(window, d, params))
    cells = EVAL * costs.shape[1]
    return spikes / cells, trends / cells


def reported_trends(window: pd.DataFrame, d: date, params: AlertParams) -> list:
    """The trends the report shows: with TREND_FILTER=on, without the echoes of d's spikes (as metrics.analyse)."""
    trends = detect_trends(window, d, params)
    return drop_spike_echoes(trends, detect_spikes(window, d, params)) if params.trend_filter else trends


def raw_spike_count(window: pd.DataFrame) -> int:
    """The original rule: z >= 1 with d inside its own baseline (mean and std over the whole window)."""
    values = window.to_numpy()
    z = (values[-1] - np.nanmean(values, axis=0)) / np.nanstd(values, axis=0, ddof=1)
    return int(np.sum(z >= 1))


def spike_set(rng: np.random.Generator, n: int = 3000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Costs with one +5σ day per service; returns (costs, spike day position, spike size in USD)."""
    costs, _ = make_noise(n, HISTORY + EVAL, rng)
    values = costs.to_numpy().copy()
    at = rng.integers(HISTORY, HISTORY + EVAL, n)
    cols = np.arange(n)
    base = np.where(np.arange(len(values))[:, None] < at[None, :], values, np.nan)
    size = 5.0 * np.nanstd(base, axis=0, ddof=1)
    values[at, cols] += size
    return pd.DataFrame(values, index=costs.index, columns=costs.columns), at, size


def score_spikes(costs: pd.DataFrame, at: np.ndarray, size: np.ndarray, params: AlertParams,
                 raw: bool) -> tuple[float, float, float]:
    """(recall over material spikes, recall over all spikes, share of the material spike days on which the
    service is also reported as an upward trend — the same event twice)."""
    found = np.zeros(len(at), bool)
    echoed = np.zeros(len(at), bool)
    for t in np.unique(at):
        cols = np.flatnonzero(at == t)
        window = costs.iloc[: t + 1, cols]
        d = window.index[-1].date()
        if raw:
            values = window.to_numpy()
            z = (values[-1] - values.mean(axis=0)) / values.std(axis=0, ddof=1)
            found[cols] = z >= 1
        else:
            hits = {s.service for s in detect_spikes(window, d, params) if s.direction == "up"}
            found[cols] = [name in hits for name in window.columns]
        ups = {tr.service for tr in reported_trends(window, d, params) if tr.direction == "up"}
        echoed[cols] = [name in ups for name in window.columns]
    material = size >= MATERIAL_USD
    return found[material].mean(), found.mean(), echoed[material].mean()


def turn_set(rng: np.random.Generator, n: int = 2000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Half rise-then-fall (expect "down"), half flat-then-rise (expect "up"); returns (costs, turn day, kind,
    base level USD/day)."""
    days = HISTORY + EVAL
    costs, level = make_noise(n, days, rng)
    t = np.arange(days)[:, None]
    turn = rng.integers(HISTORY, HISTORY + EVAL - 10, n)
    kind = np.where(np.arange(n) < n // 2, "down", "up")
    rate = np.where(kind == "down", rng.uniform(0.015, 0.03, n), rng.uniform(0.02, 0.04, n))
    rise_days = rng.integers(30, 61, n)
    start = turn - rise_days
    since_start = np.clip(t - start[None, :], 0, None)
    since_turn = np.clip(t - turn[None, :], 0, None)
    peak_shape = 1 + rate * np.minimum(since_start, rise_days) - rate * since_turn  # rise, then fall
    ramp = 1 + rate * since_turn  # flat, then rise
    shape = np.where(kind == "down", np.maximum(peak_shape, 0.05), ramp)
    return costs * shape, turn, kind, level


def score_turns(costs: pd.DataFrame, turn: np.ndarray, kind: np.ndarray, params: AlertParams,
                material: np.ndarray) -> dict[str, float]:
    """Share of turns with an alert in the right direction within turn..turn+10: material ones by kind and
    together, and all turns."""
    found = np.zeros(len(turn), bool)
    names = np.asarray(costs.columns)
    first, last = turn.min(), turn.max() + 10
    for t in range(first, last + 1):
        cols = np.flatnonzero((turn <= t) & (t <= turn + 10) & ~found)
        if not len(cols):
            continue
        window = costs.iloc[: t + 1, cols]
        hits = {(tr.service, tr.direction) for tr in reported_trends(window, window.index[-1].date(), params)}
        found[cols] = [(names[c], kind[c]) in hits for c in cols]
    return ({k: found[material & (kind == k)].mean() for k in ("down", "up")}
            | {"material": found[material].mean(), "all": found.mean()})


def monthly_set(rng: np.random.Generator, n: int = 1000) -> tuple[pd.DataFrame, np.ndarray]:
    """Costs with a monthly fee on each 1st; returns (costs, fee of each service in USD)."""
    costs, level = make_noise(n, HISTORY + EVAL, rng)
    values = costs.to_numpy().copy()
    values[:, : n // 2] = 0.0  # fee-only services
    firsts = np.flatnonzero(np.asarray(costs.index.day == 1))
    fee = level * rng.uniform(3.0, 30.0, n)
    values[firsts] += fee * rng.lognormal(0.0, 0.05, (len(firsts), n))
    return pd.DataFrame(values, index=costs.index, columns=costs.columns), fee


def score_monthly(costs: pd.DataFrame, fee: np.ndarray, params: AlertParams) -> tuple[float, float]:
    """(alerts per service-month over the last EVAL days, share of doubled last fees >= MATERIAL_USD reported)."""
    alerts = 0
    for t in range(len(costs) - EVAL, len(costs)):
        window = costs.iloc[: t + 1]
        d = window.index[-1].date()
        alerts += len(detect_spikes(window, d, params)) + len(reported_trends(window, d, params))
    last = int(np.flatnonzero(np.asarray(costs.index.day == 1))[-1])
    doubled = costs.iloc[: last + 1].copy()
    doubled.iloc[-1] += fee
    hits = {s.service for s in detect_spikes(doubled, doubled.index[-1].date(), params) if s.direction == "up"}
    material = fee >= MATERIAL_USD
    caught = np.array([name in hits for name in costs.columns])
    return alerts / (costs.shape[1] * EVAL / 30.4), caught[material].mean()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    base = AlertParams()
    parser.add_argument("--spike-z", type=float, default=base.spike_z_threshold, help="SPIKE_Z_THRESHOLD")
    parser.add_argument("--spike-min-delta", type=float, default=base.spike_min_delta_usd,
                        help="SPIKE_MIN_DELTA_USD")
    parser.add_argument("--seed", type=int, default=1,
                        help="first of the 4 random seeds (noise, spikes, turns, monthly); the README quotes 1")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    defaults = replace(base, spike_z_threshold=args.spike_z, spike_min_delta_usd=args.spike_min_delta)
    raw = replace(defaults, trend_filter=False, monthly_charge_filter=False, spike_min_delta_usd=0.0,
                  min_daily_cost_usd=0.0)
    noise, _ = make_noise(2000, HISTORY + EVAL, np.random.default_rng(args.seed + 0))
    spikes, at, size = spike_set(np.random.default_rng(args.seed + 1))
    turns, turn, kind, level = turn_set(np.random.default_rng(args.seed + 2))
    trend_usd = defaults.trend_min_delta_usd
    material_spike = size >= MATERIAL_USD
    material_turn = level >= MATERIAL_USD

    rows = []
    for label, params, raw_spikes in (("defaults", defaults, False), ("raw rules", raw, True)):
        false_spike, false_trend = score_noise(noise, params, raw_spikes)
        rec_spike, rec_spike_all, echo = score_spikes(spikes, at, size, params, raw_spikes)
        rec_turn = score_turns(turns, turn, kind, params, material_turn)
        rows.append((label, false_spike, rec_spike, rec_spike_all, echo, false_trend, rec_turn))

    m = f"${MATERIAL_USD:g}"
    print(f"Noise: 2,000 stationary services ($0.05-$5,000/day) x {EVAL} report days. Spikes: {len(at):,} one-day "
          f"+5σ spikes, {material_spike.sum():,} of them adding >= {m}. Turns: {len(turn):,} (half rise→fall, half "
          f"flat→rise), {material_turn.sum():,} in services >= {m}/day. Recall is over these material events; "
          "'all' includes the cents-sized ones.\n")
    print(f"| rules | spike false alerts / service-day | +5σ spikes ≥ {m} caught | all +5σ spikes | spike day also "
          f"an up trend | trend false alerts / service-day | turns ≥ {m}/day found ≤ 10 d: rise→fall | flat→rise | "
          "both | all turns |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, fs, rs, ra, echo, ft, rt in rows:
        print(f"| {label} | {fs:.3%} | {rs:.1%} | {ra:.1%} | {echo:.1%} | {ft:.3%} | {rt['down']:.1%} | "
              f"{rt['up']:.1%} | {rt['material']:.1%} | {rt['all']:.1%} |")

    fees, fee = monthly_set(np.random.default_rng(args.seed + 3))
    per_month_on, doubled_on = score_monthly(fees, fee, defaults)
    per_month_off, doubled_off = score_monthly(fees, fee, replace(defaults, monthly_charge_filter=False))
    print(f"\nMonthly charges ({fees.shape[1]:,} services with a fee on each 1st, half fee-only): false alerts per "
          f"service-month {per_month_on:.3f} with the defaults, {per_month_off:.3f} with MONTHLY_CHARGE_FILTER=off; "
          f"a doubled fee (>= {m}) reported: {doubled_on:.1%} (off: {doubled_off:.1%}).")
    print(f"\ndefaults: SPIKE_Z_THRESHOLD={defaults.spike_z_threshold:g} SPIKE_MIN_DELTA_USD="
          f"{defaults.spike_min_delta_usd:g} MIN_HISTORY_DAYS={defaults.min_history_days} "
          f"MIN_DAILY_COST_USD={defaults.min_daily_cost_usd:g} MONTHLY_CHARGE_FILTER=on TREND_FILTER=on (k={TREND_FILTER_K:g}, "
          f"${trend_usd:g}/day, {TREND_CONFIRM_DAYS} days); raw: z >= 1 with d in its own baseline, "
          "no $ floors, TREND_FILTER=off, MONTHLY_CHARGE_FILTER=off")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
