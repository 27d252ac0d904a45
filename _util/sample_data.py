"""Built-in sample data: a deterministic stand-in for Cost Explorer that answers GetCostAndUsage in its own shape.

The demo and the tests run the real path (request, NextPageToken paging, parser, upsert) against it.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import numpy as np

# (service, typical USD/day, weekly swing, yearly growth) — real Cost Explorer service names.
SERVICES: tuple[tuple[str, float, float, float], ...] = (
    ("Amazon Elastic Compute Cloud - Compute", 412.0, 0.10, 0.25),
    ("EC2 - Other", 96.0, 0.08, 0.20),
    ("Amazon Relational Database Service", 188.0, 0.02, 0.15),
    ("Amazon Simple Storage Service", 74.0, 0.03, 0.35),
    ("Amazon Elastic Load Balancing", 31.0, 0.05, 0.10),
    ("Amazon CloudFront", 22.0, 0.20, 0.30),
    ("AWS Lambda", 14.5, 0.25, 0.60),
    ("Amazon DynamoDB", 27.0, 0.12, 0.20),
    ("Amazon Elastic Container Service for Kubernetes", 58.0, 0.00, 0.00),
    ("Amazon Elastic Container Service", 19.0, 0.10, 0.10),
    ("Amazon ElastiCache", 41.0, 0.00, 0.05),
    ("Amazon OpenSearch Service", 36.0, 0.01, 0.10),
    ("Amazon Redshift", 64.0, 0.04, 0.00),
    ("Amazon Virtual Private Cloud", 12.0, 0.05, 0.10),
    ("AmazonCloudWatch", 17.0, 0.06, 0.30),
    ("AWS Key Management Service", 2.4, 0.02, 0.05),
    ("AWS Secrets Manager", 1.6, 0.00, 0.10),
    ("Amazon Route 53", 3.1, 0.02, 0.02),
    ("Amazon Simple Queue Service", 4.2, 0.30, 0.40),
    ("Amazon Simple Notification Service", 1.1, 0.30, 0.10),
    ("Amazon Kinesis", 9.5, 0.10, 0.20),
    ("AWS Glue", 11.0, 0.45, 0.50),
    ("Amazon Athena", 6.0, 0.50, 0.40),
    ("Amazon EC2 Container Registry (ECR)", 2.2, 0.03, 0.30),
    ("AWS Backup", 5.5, 0.01, 0.30),
    ("Amazon GuardDuty", 3.8, 0.05, 0.10),
    ("AWS Config", 2.9, 0.05, 0.05),
    ("AWS CloudTrail", 1.4, 0.05, 0.05),
    ("Amazon API Gateway", 7.7, 0.25, 0.30),
    ("Amazon SageMaker", 23.0, 0.40, 0.80),
    ("AWS Step Functions", 0.9, 0.30, 0.20),
    ("Tax", 0.0, 0.0, 0.0),  # appears only on the 1st of a month, as in real bills
)

LINKED_ACCOUNTS = ("111111111111", "222222222222", "333333333333")
# Day-to-day noise (fraction of the level); fixed-size clusters vary little from day to day.
NOISE = {"Amazon Elastic Container Service for Kubernetes": 0.01, "Amazon OpenSearch Service": 0.01}
TURN_UP_RATE = 0.03  # per day
TURN_DOWN = (20, 0.01, 0.04)  # days of rise, rise per day, fall per day
# Events relative to the report date d: (service, days before d, kind)
EVENTS = (
    ("AWS Lambda", 0, "spike"),
    ("Amazon CloudFront", 0, "spike"),
    ("Amazon Simple Storage Service", 9, "spike"),
    ("Amazon Relational Database Service", 0, "drop"),
    ("Amazon Redshift", 6, "turn_up"),
    ("Amazon ElastiCache", 8, "turn_down"),
)


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _normal(seed: int, ordinal: np.ndarray) -> np.ndarray:
    """Standard normal deviates that depend only on (seed, day): splitmix64 hashing, then Box-Muller."""
    with np.errstate(over="ignore"):
        x = (ordinal.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(seed)
        words = []
        for _ in range(2):
            x = x + np.uint64(0x9E3779B97F4A7C15)
            z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            words.append(((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53))
    return np.sqrt(-2.0 * np.log(words[0])) * np.cos(2.0 * np.pi * words[1])


def daily_costs(start: date, end: date, anchor: date, services=SERVICES, events=EVENTS) -> dict[str, np.ndarray]:
    """USD/day per service for [start, end]: weekly seasonality, growth, noise, `events` near anchor."""
    days = (end - start).days + 1
    ordinal = np.arange(start.toordinal(), start.toordinal() + days)
    weekday = (ordinal + 6) % 7  # Monday = 0, as date.weekday()
    weekend = weekday >= 5
    out: dict[str, np.ndarray] = {}
    for name, level, swing, growth in services:
        if name == "Tax":
            first = np.array([date.fromordinal(int(o)).day == 1 for o in ordinal])
            out[name] = np.where(first, 38.0, 0.0)
            continue
        years = (ordinal - anchor.toordinal()) / 365.0
        base = level * (1 + growth) ** years * np.where(weekend, 1 - swing, 1 + swing * 0.4)
        # Noise is a function of (service, day) only, so a day's value never depends on the range asked for.
        noise = NOISE.get(name, 0.04) * _normal(_seed(name), ordinal)
        values = base * (1 + noise)
        for svc, before, kind in events:
            if svc != name:
                continue
            at = (anchor - timedelta(days=before)).toordinal()
            idx = at - ordinal[0]
            if kind == "spike" and 0 <= idx < days:
                values[idx] *= 2.6
            elif kind == "drop" and 0 <= idx < days:
                values[idx] *= 0.35
            elif kind == "turn_up":  # flat, then a steady rise from `before` days before d
                values = values * np.exp(TURN_UP_RATE * np.maximum(ordinal - at, 0))
            elif kind == "turn_down":  # a steady rise that turns into a steady fall `before` days before d
                rel = ordinal - at
                rise_days, rise, fall = TURN_DOWN
                values = values * np.exp(rise * np.clip(rel + rise_days, 0, rise_days) - fall * np.maximum(rel, 0))
        out[name] = np.round(np.maximum(values, 0.0), 10)
    return out


def _ingest_shaped(kwargs: dict[str, Any]) -> bool:
    """A request of the shape ingest sends: DAILY by SERVICE (and LINKED_ACCOUNT), at most excluding record types."""
    group = [(g.get("Type"), g.get("Key")) for g in kwargs.get("GroupBy", [])]
    flt = kwargs.get("Filter")
    excluding = (flt is not None and set(flt) == {"Not"} and set(flt["Not"]) == {"Dimensions"}
                 and flt["Not"]["Dimensions"].get("Key") == "RECORD_TYPE")
    return (kwargs.get("Granularity", "DAILY") == "DAILY" and (flt is None or excluding)
            and group in ([("DIMENSION", "SERVICE")], [("DIMENSION", "SERVICE"), ("DIMENSION", "LINKED_ACCOUNT")]))


class SampleCostExplorer:
    """A Cost Explorer stand-in: `get_cost_and_usage` answers like the real API (paged by groups).

    Ingest's requests (by service, and linked account) answer from daily_costs as they always have; any other
    request (a Filter to a service, other groupings: the drill-down's) answers from costworld.sample_world, the
    same costs split over accounts, usage types, regions and operations. `refuse` lists GroupBy dimensions
    answered with a ValidationException (botocore ClientError), as Cost Explorer may for the undocumented REGION.
    """

    def __init__(self, anchor: date, *, page_groups: int = 5000, today: date | None = None,
                 services=SERVICES, accounts: tuple[str, ...] = LINKED_ACCOUNTS, refuse: tuple[str, ...] = ()):
        self.anchor = anchor
        self.refuse = refuse
        self.services = services
        self.accounts = accounts
        weights = 1.0 / np.arange(1, len(accounts) + 1)
        self.shares = weights / weights.sum()  # a few big accounts and a long tail, as in real organisations
        self.page_groups = page_groups
        self.today = today or anchor + timedelta(days=1)
        self.requests: list[dict[str, Any]] = []
        self._cache: dict[tuple, tuple[list[str], np.ndarray, np.ndarray]] = {}
        self._world: dict[tuple, Any] = {}

    def _estimated(self, day: date) -> bool:
        # The month's bill is final around the 5th of the next month.
        first = self.today.replace(day=1)
        if self.today.day <= 5:
            first = (first - timedelta(days=1)).replace(day=1)
        return day >= first

    def get_cost_and_usage(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if not _ingest_shaped(kwargs):
            return self._world_answer(kwargs)
        start = date.fromisoformat(kwargs["TimePeriod"]["Start"])
        end = date.fromisoformat(kwargs["TimePeriod"]["End"]) - timedelta(days=1)  # End is exclusive
        two_keys = len(kwargs.get("GroupBy", [])) == 2
        key = (start, end, two_keys)
        if key not in self._cache:  # every page of one query answers from the same results
            self._cache = {key: self._results(start, end, two_keys)}
        return self._page(start, *self._cache[key], kwargs)

    def _world_answer(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Answer from the labeled world through ce_answer; its errors raised as boto3 raises them."""
        from botocore.exceptions import ClientError

        from . import ce_answer, costworld

        try:
            period = kwargs.get("TimePeriod") or {}
            start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
            key = ("world", start, end)
            if key not in self._world:  # every page of one query answers from the same frame
                self._world = {key: costworld.sample_world(start, max(start, end - timedelta(days=1)), self.anchor,
                                                           self.services, self.accounts)}
            frame = self._world[key]
            return ce_answer.answer_cost_and_usage(frame, kwargs, page_groups=self.page_groups,
                                                   estimated=self._estimated, refuse=self.refuse,
                                                   account_names=costworld.ACCOUNT_NAMES)
        except (KeyError, ValueError) as exc:
            error = ce_answer.CEError("ValidationException", f"invalid request: {exc}")
        except ce_answer.CEError as exc:
            error = exc
        raise ClientError({"Error": {"Code": error.code, "Message": error.message},
                           "ResponseMetadata": {"HTTPStatusCode": error.status}}, "GetCostAndUsage")

    def _results(self, start: date, end: date, two_keys: bool) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Service names, the days x services cost matrix, and one (day, service, account) row per group in CE's
        order (a day without any cost gets one row with service -1). Groups are built only for the page asked."""
        costs = daily_costs(start, end, self.anchor, self.services)
        names = list(costs)
        matrix = np.column_stack([costs[n] for n in names]) if names else np.zeros(((end - start).days + 1, 0))
        day, svc = np.nonzero(matrix != 0.0)  # CE omits services with no cost that day; row-major = by day
        n_acc = len(self.accounts) if two_keys else 1
        rows = np.column_stack([np.repeat(day, n_acc), np.repeat(svc, n_acc), np.tile(np.arange(n_acc), len(day))])
        empty = np.setdiff1d(np.arange(matrix.shape[0]), day)
        if len(empty):
            rows = np.concatenate([rows, np.column_stack([empty, -np.ones((len(empty), 2), int)])])
            rows = rows[np.argsort(rows[:, 0], kind="stable")]
        return names, matrix, rows

    def _page(self, start: date, names: list[str], matrix: np.ndarray, rows: np.ndarray,
              kwargs: dict[str, Any]) -> dict[str, Any]:
        # Page the way CE does: a fixed number of groups per page, a day split across pages when needed.
        metric = kwargs["Metrics"][0]
        two_keys = len(kwargs.get("GroupBy", [])) == 2
        offset = int(kwargs.get("NextPageToken") or 0)
        page: dict[int, dict[str, Any]] = {}
        for i, s, acc in rows[offset:offset + self.page_groups].tolist():
            part = page.get(i)
            if part is None:
                day = start + timedelta(days=i)
                part = page[i] = {"TimePeriod": {"Start": day.isoformat(),
                                                 "End": (day + timedelta(days=1)).isoformat()},
                                  "Total": {}, "Groups": [], "Estimated": self._estimated(day)}
            if s < 0:
                continue
            amount = float(matrix[i, s])
            if two_keys:
                keys, value = [names[s], self.accounts[acc]], amount * self.shares[acc]
            else:
                keys, value = [names[s]], amount
            part["Groups"].append({"Keys": keys, "Metrics": {metric: {"Amount": f"{value:.10f}", "Unit": "USD"}}})
        response: dict[str, Any] = {"GroupDefinitions": kwargs.get("GroupBy", []),
                                    "ResultsByTime": list(page.values()), "DimensionValueAttributes": []}
        if offset + self.page_groups < len(rows):
            response["NextPageToken"] = str(offset + self.page_groups)
        return response
