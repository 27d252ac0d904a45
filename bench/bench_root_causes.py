#!/usr/bin/env python3
"""Root causes, netting, first-seen services and Cost Explorer requests on a labeled world, through boto3 + HTTP.

For each seed, `costworld.bench_world` builds a world of services split over (account, usage type, region,
operation) groups with labeled events on the report date d (spikes and drops in one group among 20-60, netting
pairs +X/-X in two accounts of one service), turns up driven by one group (starting 5-10 days before d) and new
services (first cost 0-2 days before d). A Cost Explorer stand-in (tests/ce_standin.py) serves it over real HTTP
and the product's own code runs against it with boto3 (fake credentials, AWS_ENDPOINT_URL_COST_EXPLORER):

  backfill   ingest.ingest (COST_GROUP_BY=LINKED_ACCOUNT) into a fresh SQLite database up to d - 11
  daily run  for each day t of d - 10 ... d: ingest t (one request), detect on the stored costs (spikes, trends
             without spike echoes, first seen) and explain every alert with drilldown.explain (DRILLDOWN_MAX_REQUESTS
             = 20, the default); breakdown spikes on the days x (service, account) matrix of t (netting)
  rerun      the run of d again: its drill-down requests are counted
  noise      the same seeds without events (frame -> series directly): alerts per series-day over the last 30 days,
             service totals and (service, account) series

Scoring. A spike (drop) label is detected by a spike up (down) of its service on d; a turn by the first trend up of
its service on a day >= its start; a new service on the first day its cost reaches FIRST_SEEN_MIN_USD. The injected
group is the top root cause when the first cause of the result shown (drilldown.best) has every dimension of one of
the label's groups (a REGION x OPERATION cause matches the group's region and operation). A netting pair counts when
one side moved >= 5σ of its (service, account) series; it is reported when such a side has a breakdown spike in its
direction. Requests per run: ingest + drill-down (GetCostAndUsage pages, account names included) against 1 + 2 x the
alerts analysed (root causes status not "not analysed (daily limit)").

    python -m bench.bench_root_causes [--seeds N] [--quick] [--strict]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from _util import costworld, db, drilldown, metrics
from _util.config import Settings
from _util.costexplorer import make_ce_client
from _util.ingest import ingest
from _util.model import AlertParams, FirstSeen, Spike, Trend
from tests.ce_standin import serve

# Per seed: 15 events on 16 services. Sized so a day's alerts fit the default cap of 20 requests (2 per alert and
# one for account names) most days; the alerts past it are counted as "not analysed (daily limit)". Netting pairs
# make no service alert (the total does not move): more of them cost no request.
KINDS = ("spike",) * 3 + ("turn_up",) * 3 + ("netting",) * 5 + ("new_service",) * 3 + ("drop",)
N_SERVICES = 16
LOOKBACK = 59  # LOOKBACK_DAYS of the runs (>= the 28 + 1 days of a drill-down and the 14 of MIN_HISTORY_DAYS)
RUN_DAYS = 11  # daily runs d - 10 ... d: turns start 5-10 days before d, new services 0-2
SMALL_CAP = 5  # d's alerts explained again in a fresh database under this cap: the cap must bind and hold
NOISE_DAYS = 30  # scored days of the event-free world
NETTING_SIGMA = 5.0
# A netting side is scored when it is also worth a message: >= $10 on the day, as bench_alerts' MATERIAL_USD (a
# 5σ move of a $2/day account series is cents to dollars, under SPIKE_MIN_DELTA_USD by design).
MATERIAL_USD = 10.0
END = costworld.BENCH_END
ENDPOINT_ENV = "AWS_ENDPOINT_URL_COST_EXPLORER"
SEP = " / "  # service / account: the breakdown series' names
# Targets of issue 12.
TOP_SPIKE, TOP_TREND, EXPLAINED = 0.95, 0.90, 0.80
NETTING_RECALL, FALSE_SPIKE, FALSE_TREND, FIRST_SEEN_RECALL = 0.95, 0.005, 0.01, 0.99


# --- scoring (pure) ----------------------------------------------------------------------------------------------

def label_of(alert, day: date, labels: Sequence[costworld.Label]) -> costworld.Label | None:
    """The label an alert of `day` reports, or None (a false alert): a spike up on a spike's day, down on a drop's
    day, a spike up or a trend up of a turning service from its start, a new service from its first day."""
    for label in labels:
        if label.service != alert.service:
            continue
        if isinstance(alert, Spike):
            if (label.kind, alert.direction) in (("spike", "up"), ("drop", "down")) and day == label.day:
                return label
            if label.kind == "turn_up" and alert.direction == "up" and day >= label.day:
                return label
        elif isinstance(alert, Trend):
            if label.kind == "turn_up" and alert.direction == "up" and day >= label.day:
                return label
        elif isinstance(alert, FirstSeen) and label.kind == "new_service" and day >= label.day:
            return label
    return None


def top_is_injected(result: drilldown.RootCauseResult | None, label: costworld.Label) -> bool:
    """The result's first cause has every dimension of one of the label's groups."""
    if result is None or result.status != drilldown.OK or not result.causes:
        return False
    top = result.causes[0].dimensions
    return any(all(group.get(k) == v for k, v in top.items()) for group in label.groups)


@dataclass
class Outcome:
    """One detected labeled alert and its root causes (result None: not asked)."""

    category: str  # "spike" (spike or drop label), "turn spike" (a spike of a turning service), "trend", "first seen"
    day: date
    label: costworld.Label
    result: drilldown.RootCauseResult | None

    @property
    def analysed(self) -> bool:
        return self.result is not None and self.result.status != drilldown.DAILY_LIMIT


def outcomes(labels: Sequence[costworld.Label], alerts_by_day: Mapping[date, Sequence],
             results_by_day: Mapping[date, Mapping[tuple[str, str, str], drilldown.RootCauseResult]]) -> list[Outcome]:
    """The labeled alerts of the runs: every spike and first-seen alert with a label, and each turn's first trend."""
    out, turned = [], set()
    for day in sorted(alerts_by_day):
        for alert in alerts_by_day[day]:
            label = label_of(alert, day, labels)
            if label is None:
                continue
            if isinstance(alert, Trend):
                if label.service in turned:
                    continue
                turned.add(label.service)
                category = "trend"
            elif isinstance(alert, FirstSeen):
                category = "first seen"
            else:
                category = "turn spike" if label.kind == "turn_up" else "spike"
            out.append(Outcome(category, day, label, results_by_day.get(day, {}).get(drilldown.alert_key(alert))))
    return out


@dataclass
class Rate:
    """hits of n (n = 0: no figure)."""

    hits: int = 0
    n: int = 0

    def add(self, hit: bool) -> None:
        self.hits += int(hit)
        self.n += 1

    def __iadd__(self, other: Rate) -> Rate:
        self.hits += other.hits
        self.n += other.n
        return self

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None


def top_cause_rate(scored: Iterable[Outcome], category: str) -> Rate:
    """Share of the analysed outcomes of a category whose top root cause is the injected group."""
    rate = Rate()
    for o in scored:
        if o.category == category and o.analysed:
            rate.add(top_is_injected(o.result, o.label))
    return rate


def names_account(result: drilldown.RootCauseResult | None, label: costworld.Label) -> bool:
    """The top root cause is the injected group AND names its account (the LINKED_ACCOUNT x USAGE_TYPE pair shown)."""
    return (top_is_injected(result, label) and result is not None
            and "LINKED_ACCOUNT" in result.causes[0].dimensions)


def explained_shares(scored: Iterable[Outcome], categories: Sequence[str]) -> list[float]:
    """The kept causes' share of the change of each analysed outcome (0 when no share could be given)."""
    return [float(o.result.explained_share or 0.0) if o.result.status == drilldown.OK else 0.0
            for o in scored if o.category in categories and o.analysed]


def netting_sides(label: costworld.Label, stats: Mapping[str, Mapping[str, float]], min_usd: float = MATERIAL_USD
                  ) -> list[tuple[str, str, bool]]:
    """(series, direction, scored) of each side of a netting label: scored when it moved >= NETTING_SIGMA σ of its
    series and >= min_usd; stats: series -> {"std": σ USD}."""
    sides = []
    for group, delta in zip(label.groups, label.deltas, strict=True):
        name = label.service + SEP + group["LINKED_ACCOUNT"]
        std = stats.get(name, {}).get("std", float("nan"))
        scored = abs(delta) >= NETTING_SIGMA * std and abs(delta) >= min_usd
        sides.append((name, "up" if delta > 0 else "down", bool(scored)))
    return sides


def netting_reported(label: costworld.Label, stats: Mapping[str, Mapping[str, float]],
                     breakdown_alerts: Iterable[Spike], min_usd: float = MATERIAL_USD) -> bool | None:
    """Whether a scored side of the pair (netting_sides) has a breakdown spike in its direction; None when no side
    is scored."""
    big = [(name, direction) for name, direction, ok in netting_sides(label, stats, min_usd) if ok]
    if not big:
        return None
    found = {(s.service, s.direction) for s in breakdown_alerts}
    return any(side in found for side in big)


def breakdown_alerts(breakdown_spikes: Iterable[Spike], service_spikes: Iterable[Spike]) -> list[Spike]:
    """One event, one alert: breakdown spikes of services whose total did not spike (netting, or a small share)."""
    spiking = {s.service for s in service_spikes}
    return [s for s in breakdown_spikes if s.service.split(SEP)[0] not in spiking]


def first_qualifying_day(costs: pd.Series, since: date, min_usd: float) -> date | None:
    """The first day >= since whose cost (USD, indexed by day) reaches min_usd."""
    days = [pd.Timestamp(t).date() for t, v in costs.items() if v >= min_usd and pd.Timestamp(t).date() >= since]
    return min(days, default=None)


def requests_within(ingest_requests: int, drill_requests: int, analysed: int) -> bool:
    """A run's Cost Explorer requests are at most 1 (ingest) + 2 per analysed alert."""
    return ingest_requests + drill_requests <= 1 + 2 * analysed


# --- the runs ----------------------------------------------------------------------------------------------------

@dataclass
class Run:
    day: date
    ingest_requests: int
    drill_requests: int  # GetCostAndUsage pages (the account names come with them)
    alerts: int
    analysed: int


@dataclass
class SeedResult:
    outcomes: list[Outcome] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    netting: Rate = field(default_factory=Rate)
    netting_service: Rate = field(default_factory=Rate)  # the same pairs at service level (what "today" shows)
    netting_small: int = 0  # pairs with no side >= 5σ and >= MATERIAL_USD (not scored)
    netting_any_usd: Rate = field(default_factory=Rate)  # pairs >= 5σ whatever their size
    first_seen: Rate = field(default_factory=Rate)
    rerun_requests: int = 0
    rerun_ingest: int = 0
    small_cap: tuple[int, int, int] = (0, 0, 0)  # d's alerts with SMALL_CAP: (requests, analysed, alerts)
    labels: list[costworld.Label] = field(default_factory=list)


def _settings(url: str, day: date, cap: int) -> Settings:
    return Settings(database_url=url, cost_source="ce", group_by="LINKED_ACCOUNT", lookback_days=LOOKBACK,
                    report_date=day, drilldown_max_requests=cap, ce_max_attempts=1)


def _by_account(costs: pd.DataFrame) -> pd.DataFrame:
    """The long costs with one series per (service, account)."""
    return costs.assign(service=costs["service"] + SEP + costs["breakdown"])


def _client(endpoint: str):
    """The product's Cost Explorer client, pointed at the stand-in the way a user would (the environment)."""
    previous = os.environ.get(ENDPOINT_ENV)
    os.environ[ENDPOINT_ENV] = endpoint
    try:
        return make_ce_client(max_attempts=1)
    finally:
        if previous is None:
            del os.environ[ENDPOINT_ENV]
        else:
            os.environ[ENDPOINT_ENV] = previous


def run_seed(seed: int, *, n_services: int = N_SERVICES, kinds: Sequence[str] = KINDS, run_days: int = RUN_DAYS,
             cap: int = Settings.drilldown_max_requests, workdir: Path) -> SeedResult:
    """Every daily run of one seed's world against the stand-in; the labeled outcomes and the request counts."""
    frame, labels = costworld.bench_world(seed, n_services, LOOKBACK + run_days, list(kinds))
    params = AlertParams(lookback_days=LOOKBACK)
    url = f"sqlite:///{workdir / f'bench-{seed}.sqlite'}"
    engine = db.make_engine(url)
    db.init_db(engine)
    out = SeedResult(labels=labels)
    alerts_by_day: dict[date, list] = {}
    results_by_day: dict[date, dict] = {}
    first_day = END - timedelta(days=run_days - 1)
    try:
        with serve(frame) as (endpoint, server):
            client = _client(endpoint)
            ingest(_settings(url, first_day - timedelta(days=1), cap), engine, client=client, today=first_day)
            for k in range(run_days):
                t = first_day + timedelta(days=k)
                settings = _settings(url, t, cap)
                before = len(server.requests)
                ingest(settings, engine, client=client, today=t + timedelta(days=1))
                after_ingest = len(server.requests)
                costs = db.load_costs(engine, t - timedelta(days=LOOKBACK), t)
                series = metrics.build_series(costs, t, LOOKBACK)
                spikes = metrics.detect_spikes(series, t, params)
                trends = metrics.drop_spike_echoes(metrics.detect_trends(series, t, params), spikes)
                first = metrics.detect_first_seen(series, t, params)
                alerts = [*spikes, *trends, *first]
                results = drilldown.explain(alerts, settings, engine, client, t)
                alerts_by_day[t], results_by_day[t] = alerts, results
                analysed = sum(r.status != drilldown.DAILY_LIMIT for r in results.values())
                out.runs.append(Run(t, after_ingest - before, len(server.requests) - after_ingest, len(alerts),
                                    analysed))
                for label in labels:
                    if label.kind == "new_service":
                        day = first_qualifying_day(series[label.service] if label.service in series else
                                                   pd.Series(dtype=float), label.day, params.first_seen_min_usd)
                        if day == t:
                            out.first_seen.add(any(f.service == label.service for f in first))
                if t == END:
                    split = metrics.build_series(_by_account(costs), t, LOOKBACK)
                    stats = metrics.spike_stats(split.loc[:pd.Timestamp(t)].to_numpy(dtype="float64"))
                    by_name = {name: {"std": float(stats["std"][i])} for i, name in enumerate(split.columns)}
                    own = breakdown_alerts(metrics.detect_spikes(split, t, params), spikes)
                    for label in labels:
                        if label.kind != "netting":
                            continue
                        any_usd = netting_reported(label, by_name, own, min_usd=0.0)
                        if any_usd is not None:
                            out.netting_any_usd.add(any_usd)
                        hit = netting_reported(label, by_name, own)
                        if hit is None:
                            out.netting_small += 1
                            continue
                        out.netting.add(hit)
                        out.netting_service.add(any(s.service == label.service for s in spikes))
            # The rerun of d: everything is stored, nothing should be asked again.
            before = len(server.requests)
            ingest(_settings(url, END, cap), engine, client=client, today=END + timedelta(days=1))
            out.rerun_ingest = len(server.requests) - before
            drilldown.explain(alerts_by_day[END], _settings(url, END, cap), engine, client, END)
            out.rerun_requests = len(server.requests) - before - out.rerun_ingest
            small = db.make_engine(f"sqlite:///{workdir / f'bench-{seed}-cap.sqlite'}")
            try:
                db.init_db(small)
                before = len(server.requests)
                capped = drilldown.explain(alerts_by_day[END], _settings(url, END, SMALL_CAP), small, client, END)
                out.small_cap = (len(server.requests) - before,
                                 sum(r.status != drilldown.DAILY_LIMIT for r in capped.values()), len(capped))
            finally:
                small.dispose()
    finally:
        engine.dispose()
    out.outcomes = outcomes(labels, alerts_by_day, results_by_day)
    return out


def noise_rates(seed: int, *, n_services: int = N_SERVICES, days: int = NOISE_DAYS
                ) -> dict[str, tuple[int, int]]:
    """Alerts and series-days on the event-free world: {"service spikes": (alerts, series-days), ...}."""
    frame, _ = costworld.bench_world(seed, n_services, LOOKBACK + days, ())
    long = (frame.groupby(["usage_date", "service", "linked_account"], as_index=False)["amount"].sum()
            .rename(columns={"linked_account": "breakdown"}).assign(estimated=False))
    params = AlertParams(lookback_days=LOOKBACK)
    counts = {f"{level} {kind}": [0, 0] for level in ("service", "breakdown") for kind in ("spikes", "trends")}
    for level, costs in (("service", long), ("breakdown", _by_account(long))):
        full = metrics.build_series(costs, END, LOOKBACK + days)
        for k in range(days):
            t = END - timedelta(days=k)
            window = full.loc[pd.Timestamp(t) - pd.Timedelta(days=LOOKBACK):pd.Timestamp(t)]
            window = window.loc[:, window.notna().any(axis=0)]
            spikes = metrics.detect_spikes(window, t, params)
            trends = metrics.drop_spike_echoes(metrics.detect_trends(window, t, params), spikes)
            for kind, found in (("spikes", spikes), ("trends", trends)):
                counts[f"{level} {kind}"][0] += len(found)
                counts[f"{level} {kind}"][1] += window.shape[1]
    return {k: (a, n) for k, (a, n) in counts.items()}


# --- the table ---------------------------------------------------------------------------------------------------

def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def verdict(value: float | None, target: float, *, at_most: bool = False) -> str:
    """PASS | FAIL | n/a (no figure)."""
    if value is None:
        return "n/a"
    return "PASS" if (value <= target if at_most else value >= target) else "FAIL"


def table(results: Sequence[SeedResult], noise: Sequence[Mapping[str, tuple[int, int]]], cap: int
          ) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows."""
    scored = [o for r in results for o in r.outcomes]
    rows = []
    for category, target, name in (("spike", TOP_SPIKE, "spikes (spike + drop)"), ("trend", TOP_TREND, "trend turns"),
                                   ("turn spike", None, "spikes of turning services"),
                                   ("first seen", None, "new services")):
        rate = top_cause_rate(scored, category)
        found = sum(o.category == category for o in scored)
        figure = f"{_pct(rate.value)} of {rate.n}" + (f" ({found - rate.n} not analysed)" if found > rate.n else "")
        rows.append((f"top root cause = injected group: {name}", figure,
                     "—" if target is None else f"≥ {target:.0%}",
                     "—" if target is None else verdict(rate.value, target)))
    named = Rate()
    for o in scored:
        if o.category in ("spike", "trend") and o.analysed:
            named.add(names_account(o.result, o.label))
    rows.append(("  of which the cause shown names the account (LINKED_ACCOUNT x USAGE_TYPE, not REGION x OPERATION)",
                 f"{_pct(named.value)} of {named.n}", "—", "—"))
    shares = explained_shares(scored, ("spike", "trend"))
    median = float(np.median(shares)) if shares else None
    rows.append(("top root causes explain (median share of the change), spikes + trend turns",
                 f"{_pct(median)} (≥ 80% on {_pct(np.mean(np.array(shares) >= EXPLAINED) if shares else None)})",
                 f"≥ {EXPLAINED:.0%}", verdict(median, EXPLAINED)))
    netting, at_service, any_usd = Rate(), Rate(), Rate()
    for r in results:
        netting += r.netting
        at_service += r.netting_service
        any_usd += r.netting_any_usd
    small = sum(r.netting_small for r in results)
    rows.append((f"netting pairs ≥ 5σ (and ≥ ${MATERIAL_USD:g}) reported at breakdown level",
                 f"{_pct(netting.value)} of {netting.n} ({small} smaller pairs not scored)",
                 f"≥ {NETTING_RECALL:.0%}", verdict(netting.value, NETTING_RECALL)))
    rows.append(("  the same pairs at service level (alerts on totals only)", f"{_pct(at_service.value)}", "—", "—"))
    rows.append((f"  every pair ≥ 5σ whatever its size (SPIKE_MIN_DELTA_USD=${Settings.spike_min_delta_usd:g} "
                 "keeps the smallest quiet)", f"{_pct(any_usd.value)} of {any_usd.n}", "—", "—"))
    totals = {k: [sum(n[k][0] for n in noise), sum(n[k][1] for n in noise)] for k in noise[0]} if noise else {}
    for key, target in (("service spikes", FALSE_SPIKE), ("breakdown spikes", FALSE_SPIKE),
                        ("service trends", FALSE_TREND), ("breakdown trends", FALSE_TREND)):
        alerts, cells = totals.get(key, (0, 0))
        value = alerts / cells if cells else None
        rows.append((f"false alerts per series-day on noise: {key}", f"{_pct(value, 3)} ({alerts} in {cells:,})",
                     f"≤ {target:.1%}", verdict(value, target, at_most=True)))
    first = Rate()
    for r in results:
        first += r.first_seen
    rows.append((f"new services ≥ ${Settings.first_seen_min_usd:g} reported on their first qualifying day",
                 f"{_pct(first.value)} of {first.n}", f"≥ {FIRST_SEEN_RECALL:.0%}",
                 verdict(first.value, FIRST_SEEN_RECALL)))
    runs = [run for r in results for run in r.runs]
    over = [run for run in runs if not requests_within(run.ingest_requests, run.drill_requests, run.analysed)]
    excess = max((run.ingest_requests + run.drill_requests - 1 - 2 * run.analysed for run in runs), default=0)
    rows.append(("runs with requests ≤ 1 (ingest) + 2 × analysed alerts",
                 f"{len(runs) - len(over)} of {len(runs)} (worst: {excess:+d} over)", "all",
                 "PASS" if not over else "FAIL"))
    ingest_max = max((run.ingest_requests for run in runs), default=0)
    rows.append(("  ingest requests per run (max) / drill-down requests per analysed alert (mean)",
                 f"{ingest_max} / {sum(r.drill_requests for r in runs) / max(sum(r.analysed for r in runs), 1):.2f}",
                 "—", "—"))
    drill_max = max((run.drill_requests for run in runs), default=0)
    rows.append((f"drill-down requests per run (max) vs DRILLDOWN_MAX_REQUESTS={cap}", f"{drill_max}", f"≤ {cap}",
                 "PASS" if drill_max <= cap else "FAIL"))
    capped = [r.small_cap for r in results]
    worst = max((n for n, _, _ in capped), default=0)
    rows.append((f"  d's alerts under DRILLDOWN_MAX_REQUESTS={SMALL_CAP} (fresh database): requests (max); "
                 "alerts analysed", f"{worst}; {sum(a for _, a, _ in capped)} of {sum(n for *_, n in capped)}",
                 f"≤ {SMALL_CAP}", "PASS" if worst <= SMALL_CAP else "FAIL"))
    rerun = sum(r.rerun_requests for r in results)
    rows.append(("drill-down requests of a rerun of d (all seeds)",
                 f"{rerun} (ingest {sum(r.rerun_ingest for r in results)})", "0", "PASS" if rerun == 0 else "FAIL"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=None, help="worlds (default 20; --quick 2)")
    parser.add_argument("--quick", action="store_true", help="2 seeds: the same mechanism in seconds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 20)
    started = time.perf_counter()
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true")):
        os.environ[name] = value
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    logging.disable(logging.WARNING)  # the product's info and warning lines are not the bench's output
    cap = Settings.drilldown_max_requests
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(Path(tmp) / "none")
        results = [run_seed(seed, cap=cap, workdir=Path(tmp)) for seed in range(seeds)]
    noise = [noise_rates(seed) for seed in range(seeds)]
    rows = table(results, noise, cap)
    n_labels = sum(len(r.labels) for r in results)
    print(f"{seeds} worlds x {N_SERVICES} services (20-60 groups each, 8 accounts, 4 regions), {n_labels} labeled "
          f"events ({', '.join(f'{KINDS.count(k)} {k}' for k in dict.fromkeys(KINDS))} per world); "
          f"{RUN_DAYS} daily runs each (d - {RUN_DAYS - 1} ... d) through boto3 + HTTP; noise: the same worlds "
          f"without events, {NOISE_DAYS} days.\n")
    print("| figure | value | target | |")
    print("|---|---|---|---|")
    for figure, value, target, ok in rows:
        print(f"| {figure} | {value} | {target} | {ok} |")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    failed = any(ok == "FAIL" for *_, ok in rows)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
