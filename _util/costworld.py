"""Labeled cost worlds for root causes: each service's daily cost split over (account, usage type, region,
operation) groups, with every event driven by known groups.

`sample_world` splits the built-in sample's services (sample_data.daily_costs, unchanged) so that the groups of a
service sum to its total, and each demo event (sample_data.EVENTS) is carried by ONE group (`sample_labels`).
`bench_world` generates a larger world for the drill-down benchmark: spikes in one group among many, trend turns
driven by one group, netting pairs, drops and new services, with their labels. Both return long frames in the
shape _util.ce_answer answers from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .sample_data import EVENTS, LINKED_ACCOUNTS, SERVICES, _normal, _seed, daily_costs

DIMENSIONS = ("LINKED_ACCOUNT", "USAGE_TYPE", "REGION", "OPERATION")
COLUMNS = ("usage_date", "service", "linked_account", "usage_type", "region", "operation", "record_type", "amount")
ACCOUNT_NAMES = {"111111111111": "prod", "222222222222": "data", "333333333333": "sandbox"}
# (region, usage type prefix, weight): most spend in one region, as in most organisations.
REGIONS = (("us-east-1", "USE1", 0.65), ("us-west-2", "USW2", 0.25), ("eu-west-1", "EU", 0.10))
# Per service: (usage type without the region prefix, operation, weight); other services get _DEFAULT_LINES.
LINES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "Amazon Elastic Compute Cloud - Compute": (("BoxUsage:m5.xlarge", "RunInstances", 0.6),
                                               ("BoxUsage:c6g.2xlarge", "RunInstances", 0.3),
                                               ("SpotUsage:m5.large", "RunInstances:SV001", 0.1)),
    "EC2 - Other": (("EBS:VolumeUsage.gp3", "CreateVolume-Gp3", 0.5), ("NatGateway-Bytes", "NatGateway", 0.3),
                    ("DataTransfer-Regional-Bytes", "InterZone-In", 0.2)),
    "Amazon Relational Database Service": (("InstanceUsage:db.r6g.2xlarge", "CreateDBInstance:0014", 0.7),
                                           ("RDS:GP3-Storage", "CreateDBInstance:0014", 0.2),
                                           ("RDS:ChargedBackupUsage", "CreateDBInstance:0014", 0.1)),
    "Amazon Simple Storage Service": (("TimedStorage-ByteHrs", "StandardStorage", 0.6),
                                      ("Requests-Tier1", "PutObject", 0.25),
                                      ("DataTransfer-Out-Bytes", "GetObject", 0.15)),
    "Amazon CloudFront": (("DataTransfer-Out-Bytes", "GET", 0.7), ("Requests-Tier1", "GET", 0.3)),
    "AWS Lambda": (("Lambda-GB-Second", "Invoke", 0.7), ("Request", "Invoke", 0.3)),
    "Amazon Redshift": (("Node:ra3.4xlarge", "RunComputeNode:0001", 0.8),
                        ("RMS:ra3.4xlarge-storage", "RunComputeNode:0001", 0.2)),
    "Amazon ElastiCache": (("NodeUsage:cache.r6g.large", "CreateCacheCluster:0012", 0.85),
                           ("BackupUsage", "CreateSnapshot", 0.15)),
}
_DEFAULT_LINES = (("Requests", "Invoke", 0.5), ("Usage", "Usage", 0.35), ("DataTransfer-Out-Bytes", "Transfer", 0.15))
# The group carrying each demo event (sample_data.EVENTS, same order): the story a root cause should tell.
EVENT_GROUPS = {
    "AWS Lambda": ("222222222222", "USE1-Lambda-GB-Second", "us-east-1", "Invoke"),
    "Amazon CloudFront": ("333333333333", "USE1-DataTransfer-Out-Bytes", "us-east-1", "GET"),
    "Amazon Simple Storage Service": ("111111111111", "USW2-Requests-Tier1", "us-west-2", "PutObject"),
    "Amazon Relational Database Service": ("111111111111", "USE1-InstanceUsage:db.r6g.2xlarge", "us-east-1",
                                           "CreateDBInstance:0014"),
    "Amazon Redshift": ("222222222222", "USE1-Node:ra3.4xlarge", "us-east-1", "RunComputeNode:0001"),
    "Amazon ElastiCache": ("111111111111", "USE1-NodeUsage:cache.r6g.large", "us-east-1", "CreateCacheCluster:0012"),
}
# A group that loses cost holds this share of its service, so the loss fits inside it (a drop to 35 % of the
# service needs > 65 %; the sample's turn down falls to 11 % below the trend's start).
_CARRIER_SHARE = {"drop": 0.8, "turn_down": 0.4}
ONE_DAY = ("spike", "drop", "netting")
GROUP_NOISE = 0.05  # day-to-day noise of a group's share (fraction of the share)


@dataclass(frozen=True)
class Label:
    """One event and the groups that drive it: `groups` are {dimension: value} over DIMENSIONS, `deltas` their
    change in USD against what they would have cost without the event, on `day` for a one-day event (ONE_DAY) and
    on the report date for the others (a trend's change has grown by then; a new service is new up to then)."""

    kind: str
    service: str
    day: date  # the event's day: the spike, the first day of a turn, the first day of a new service
    groups: tuple[dict[str, str], ...]
    deltas: tuple[float, ...]


def _groups(service: str, accounts: Sequence[str]) -> tuple[list[tuple[str, str, str, str]], np.ndarray]:
    """A service's groups (account, usage type, region, operation) and their stable weights (summing to 1)."""
    if service == "Tax":
        keys = [(a, "Tax", "NoRegion", "Tax") for a in accounts]
        share = 1.0 / np.arange(1, len(accounts) + 1)
        return keys, share / share.sum()
    lines = LINES.get(service, _DEFAULT_LINES)
    base = 1.0 / np.arange(1, len(accounts) + 1)  # the sample's account shares, tilted per service
    tilt = np.exp(0.5 * np.array([_normal(_seed(service, a), np.array([0]))[0] for a in accounts]))
    account_w = base * tilt / (base * tilt).sum()
    keys, weights = [], []
    for a, aw in zip(accounts, account_w, strict=True):
        for usage, operation, lw in lines:
            for region, prefix, rw in REGIONS:
                keys.append((a, f"{prefix}-{usage}", region, operation))
                weights.append(aw * lw * rw)
    w = np.array(weights)
    return keys, w / w.sum()


def _carry(weights: np.ndarray, at: int, share: float) -> np.ndarray:
    """Weights where group `at` holds `share` and the others keep their proportions."""
    rest = np.delete(np.arange(len(weights)), at)
    out = weights.copy()
    out[rest] *= (1 - share) / weights[rest].sum()
    out[at] = share
    return out


def _split(total_base: np.ndarray, deltas: dict[int, np.ndarray], weights: np.ndarray,
           noise: np.ndarray) -> np.ndarray:
    """days x groups USD: the base split by noisy stable shares, each event's delta on its own group. A negative
    delta larger than its group is spread over the other groups pro rata, so amounts stay >= 0 and sum exactly."""
    shares = weights * np.maximum(1 + GROUP_NOISE * noise, 0.01)
    shares /= shares.sum(axis=1, keepdims=True)
    out = total_base[:, None] * shares
    for at, delta in deltas.items():
        out[:, at] += delta
        short = np.minimum(out[:, at], 0.0)
        out[:, at] -= short
        others = np.delete(np.arange(out.shape[1]), at)
        rest = out[:, others].sum(axis=1)
        scale = np.divide(rest + short, rest, out=np.zeros_like(rest), where=rest > 0)
        out[:, others] *= scale[:, None]
    return out


def _frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
    return frame[frame["amount"] != 0.0].reset_index(drop=True)


def _long(service: str, days: pd.DatetimeIndex, keys: list[tuple[str, str, str, str]], amounts: np.ndarray,
          record_type: str = "Usage") -> pd.DataFrame:
    """The long rows of one service: one per (day, group)."""
    table = np.array(keys, dtype=object)
    n_days, n_groups = amounts.shape
    return pd.DataFrame({
        "usage_date": np.repeat(days.to_numpy(), n_groups), "service": service,
        "linked_account": np.tile(table[:, 0], n_days), "usage_type": np.tile(table[:, 1], n_days),
        "region": np.tile(table[:, 2], n_days), "operation": np.tile(table[:, 3], n_days),
        "record_type": record_type, "amount": amounts.reshape(-1)})


def _service_split(service: tuple, start: date, end: date, anchor: date, accounts: Sequence[str]
                   ) -> tuple[list[tuple[str, str, str, str]], np.ndarray, np.ndarray, int | None]:
    """One sample service over [start, end]: its groups, days x groups USD with and without its events, and the
    index of the group carrying the events (None without events)."""
    name = service[0]
    keys, weights = _groups(name, accounts)
    plain = daily_costs(start, end, anchor, (service,), events=())[name]
    mine = [e for e in EVENTS if e[0] == name]
    at = None
    if mine:  # the demo's carrier, or the largest group when the accounts asked for do not include its account
        at = keys.index(EVENT_GROUPS[name]) if EVENT_GROUPS[name] in keys else int(np.argmax(weights))
    delta = np.zeros_like(plain)
    if mine:
        for _, _, kind in mine:
            if kind in _CARRIER_SHARE:
                weights = _carry(weights, at, _CARRIER_SHARE[kind])
        delta = daily_costs(start, end, anchor, (service,))[name] - plain  # every event of the service: one group
    ordinal = np.arange(start.toordinal(), end.toordinal() + 1)
    noise = np.column_stack([_normal(_seed(name, *k), ordinal) for k in keys])
    with_events = _split(plain, {at: delta} if mine else {}, weights, noise)
    return keys, with_events, _split(plain, {}, weights, noise), at


def sample_world(start: date, end: date, anchor: date, services=SERVICES,
                 accounts: Sequence[str] = LINKED_ACCOUNTS) -> pd.DataFrame:
    """The sample's cost for [start, end] (USD/day) split over groups; each service's groups sum to
    sample_data.daily_costs for that day, and a day's split depends on the day only, not on the range asked."""
    days = pd.date_range(start, end, freq="D")
    parts = []
    for service in services:
        keys, amounts, _, _ = _service_split(service, start, end, anchor, accounts)
        parts.append(_long(service[0], days, keys, amounts, "Tax" if service[0] == "Tax" else "Usage"))
    return _frame(parts)


def sample_labels(anchor: date, accounts: Sequence[str] = LINKED_ACCOUNTS) -> list[Label]:
    """The demo events of sample_data.EVENTS for report date `anchor`, each with the one group driving it."""
    labels = []
    for name, before, kind in EVENTS:
        service = next(s for s in SERVICES if s[0] == name)
        day = anchor - timedelta(days=before)
        on = day if kind in ONE_DAY else anchor
        keys, amounts, plain, at = _service_split(service, on, on, anchor, accounts)
        labels.append(Label(kind, name, day, (dict(zip(DIMENSIONS, keys[at], strict=True)),),
                            (float(amounts[0, at] - plain[0, at]),)))
    return labels


BENCH_END = date(2026, 11, 25)
BENCH_REGIONS = (("us-east-1", "USE1"), ("us-west-2", "USW2"), ("eu-west-1", "EU"), ("ap-southeast-2", "APS2"))
BENCH_KINDS = ("spike", "turn_up", "netting", "new_service", "drop")


def bench_world(seed: int, n_services: int = 12, days: int = 60, events: int | Sequence[str] = 10, *,
                end: date = BENCH_END, n_accounts: int = 8) -> tuple[pd.DataFrame, list[Label]]:
    """A labeled world for the drill-down benchmark: n_services services over `days` days up to `end` (the report
    date), each with dozens of (account, usage type, region, operation) groups, and `events` (a count, cycling
    through BENCH_KINDS, or the kinds themselves), each on its own service (a new service is added):

    spike — one group gains 0.5–2× its service's daily cost on `end`; drop — the service's largest group falls to
    5–15 % of itself on `end`; turn_up — one group adds 3–6 %/day compounding from 5–10 days before `end`;
    netting — +X in one group and −X in a group of another account of the same service on `end`; new_service — a
    service with no cost before 0–2 days before `end`, all in one group. Deterministic in its arguments."""
    rng = np.random.default_rng(seed)
    kinds = [BENCH_KINDS[i % len(BENCH_KINDS)] for i in range(events)] if isinstance(events, int) else list(events)
    unknown = set(kinds) - set(BENCH_KINDS)
    if unknown:
        raise ValueError(f"unknown event kinds {sorted(unknown)}: {', '.join(BENCH_KINDS)}")
    existing = [k for k in kinds if k != "new_service"]
    if len(existing) > n_services:
        raise ValueError(f"{len(existing)} events on existing services need n_services >= {len(existing)}")
    accounts = [f"{100000000000 + 1111 * (i + 1):012d}" for i in range(n_accounts)]
    day_index = pd.date_range(end - timedelta(days=days - 1), end, freq="D")
    weekend = np.asarray(day_index.day_of_week >= 5)
    names = [SERVICES[i % (len(SERVICES) - 1)][0] + (f" {i // (len(SERVICES) - 1) + 1}" if i >= len(SERVICES) - 1
                                                     else "") for i in range(n_services)]
    targets = iter(rng.permutation(n_services))
    parts, labels = [], []
    worlds = {}
    for s, name in enumerate(names):
        keys, amounts = _bench_service(rng, name, accounts, weekend, s)
        worlds[name] = (keys, amounts)
    for kind in kinds:
        if kind == "new_service":
            name = f"New Service {len(labels) + 1:02d}"
            first = int(rng.integers(0, 3))
            key = (str(rng.choice(accounts)), "USE1-NewUsage", "us-east-1", "NewOperation")
            amounts = np.zeros((days, 1))
            amounts[days - 1 - first:, 0] = float(rng.lognormal(np.log(30.0), 0.8)) * (
                1 + 0.03 * rng.standard_normal(first + 1))
            worlds[name] = ([key], amounts)
            labels.append(Label(kind, name, end - timedelta(days=first), (dict(zip(DIMENSIONS, key, strict=True)),),
                                (float(amounts[-1, 0]),)))
            continue
        name = names[next(targets)]
        keys, amounts = worlds[name]
        service_day = float(np.median(amounts.sum(axis=1)))
        if kind == "spike":
            at = int(rng.integers(len(keys)))
            deltas = {at: float(rng.uniform(0.5, 2.0)) * service_day}
            day = end
        elif kind == "drop":
            at = int(np.argmax(amounts[-1]))
            deltas = {at: -float(rng.uniform(0.85, 0.95)) * amounts[-1, at]}
            day = end
        elif kind == "netting":
            at = int(np.argmax(amounts[-1]))
            other = [i for i, k in enumerate(keys) if k[0] != keys[at][0]]
            to = other[int(rng.integers(len(other)))]
            x = float(rng.uniform(0.5, 0.8)) * amounts[-1, at]
            deltas, day = {to: x, at: -x}, end
        else:  # turn_up
            at = int(rng.integers(len(keys)))
            start = int(rng.integers(5, 11))
            rate, size = float(rng.uniform(0.03, 0.06)), float(rng.uniform(0.3, 0.6)) * service_day
            t = np.maximum(np.arange(days) - (days - 1 - start), 0)
            growth = size * (np.exp(rate * t) - 1) / (np.exp(rate * start) - 1)  # reaches `size` on `end`
            amounts[:, at] += growth
            group = dict(zip(DIMENSIONS, keys[at], strict=True))
            labels.append(Label(kind, name, end - timedelta(days=start), (group,),
                                (float(growth[-1]),)))
            continue
        for i, delta in deltas.items():
            amounts[-1, i] += delta
        groups = tuple(dict(zip(DIMENSIONS, keys[i], strict=True)) for i in deltas)
        labels.append(Label(kind, name, day, groups, tuple(float(v) for v in deltas.values())))
    for name, (keys, amounts) in worlds.items():
        parts.append(_long(name, day_index, keys, np.round(amounts, 10)))
    return _frame(parts), labels


def _bench_service(rng: np.random.Generator, name: str, accounts: Sequence[str], weekend: np.ndarray,
                   s: int) -> tuple[list[tuple[str, str, str, str]], np.ndarray]:
    """One benchmark service: 20–60 groups with lognormal levels, weekly swing and 4 % daily noise (USD/day)."""
    level = float(rng.lognormal(np.log(60.0), 1.0))
    n_lines = int(rng.integers(3, 7))
    keys = [(a, f"{prefix}-Usage{s:02d}.{j}", region, f"Operation{j}")
            for a in accounts for j in range(n_lines) for region, prefix in BENCH_REGIONS]
    keep = rng.permutation(len(keys))[:int(rng.integers(20, 61))]
    keys = [keys[i] for i in sorted(keep)]
    weights = rng.lognormal(0.0, 1.2, len(keys))
    weights /= weights.sum()
    swing = np.where(weekend, 1 - rng.uniform(0, 0.3), 1.0)[:, None]
    noise = 1 + 0.04 * rng.standard_normal((len(weekend), len(keys)))
    return keys, level * weights[None, :] * swing * np.maximum(noise, 0.05)
