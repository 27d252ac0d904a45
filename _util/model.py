"""Typed records passed between stages (all money in USD)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from .config import Settings
from .fmt import cents  # noqa: F401  (USD half up to the cent: one definition, in fmt)

# Chart ids: stable strings used as keys of {chart id: url} in report.json and the Slack message.
MTD_CHART = "mtd_by_service"
DAILY_CHART = "daily_by_service"
CUMULATIVE_CHART = "cumulative"  # month to date vs last month and the budget


def _chart_key(service: str, breakdown: str) -> str:
    return f"{service}|{breakdown}" if breakdown else service


def spike_chart_id(service: str, breakdown: str = "") -> str:
    """Chart id of a service's (or service x breakdown's) spike chart."""
    return f"spike:{_chart_key(service, breakdown)}"


def trend_chart_id(service: str, breakdown: str = "") -> str:
    """Chart id of a service's (or service x breakdown's) trend chart."""
    return f"trend:{_chart_key(service, breakdown)}"


def first_seen_chart_id(service: str, breakdown: str = "") -> str:
    """Chart id of a new service's (or service x breakdown's) chart."""
    return f"new:{_chart_key(service, breakdown)}"


# Longest service / breakdown name stored as given. Both sit in the primary key: with utf8mb4 (4 bytes a character,
# 2 length bytes) date + service + breakdown = 3 + 1442 + 1602 = 3047 bytes, within InnoDB's 3072-byte key limit.
# A breakdown "TAG:<key>$<value>" is at most 128 + 1 + 256 = 385 characters (AWS tag limits); a name longer than
# its column is stored under a stable shortened key (fit_name), so one odd name never rejects a run.
SERVICE_MAX = 360
BREAKDOWN_MAX = 400


def fit_name(name: str, limit: int) -> str:
    """name itself when it fits limit characters, else a stable shortened key: its head, "~" and 16 hex digits
    of its SHA-256 (the same name always gives the same key, two different names two keys)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{name[:limit - 17]}~{digest}"


@dataclass(frozen=True)
class CostRow:
    """One stored daily cost (amount exact as Cost Explorer gave it)."""

    usage_date: date
    service: str
    breakdown: str
    amount: Decimal
    unit: str
    estimated: bool


@dataclass(frozen=True)
class CostColumns:
    """Daily costs held column by column (the export source: millions of rows without a Python object each).

    table: a pyarrow Table of usage_date (date32), service, breakdown (string), amount (exact decimal text, plain
    notation as format(Decimal, "f") writes it) and estimated (bool), in key order, each key once; unit: its one
    currency. pyarrow is the export extra's: only the table's owner imports it."""

    table: object
    unit: str

    def __len__(self) -> int:
        return self.table.num_rows

    def only_days(self, keep: set[date]) -> CostColumns:
        """The rows of the given days only."""
        import pyarrow as pa
        import pyarrow.compute as pc

        mask = pc.is_in(self.table.column("usage_date"), value_set=pa.array(sorted(keep), pa.date32()))
        return CostColumns(self.table.filter(mask), self.unit)

    def rows(self) -> list[CostRow]:
        """The same rows as CostRow objects (slow at scale: for callers that need them one by one)."""
        t = self.table
        cols = [t.column(name).to_pylist() for name in ("usage_date", "service", "breakdown", "amount", "estimated")]
        return [CostRow(d, s, b, Decimal(a), self.unit, e) for d, s, b, a, e in zip(*cols, strict=True)]


@dataclass(frozen=True)
class AlertParams:
    """Thresholds of the alert rules (README "Methodology")."""

    # The defaults are the settings' (one definition: config.Settings).
    spike_z_threshold: float = Settings.spike_z_threshold
    spike_min_delta_usd: float = Settings.spike_min_delta_usd
    min_history_days: int = Settings.min_history_days
    min_daily_cost_usd: float = Settings.min_daily_cost_usd
    macd_fast: int = Settings.macd_fast
    macd_slow: int = Settings.macd_slow
    macd_signal: int = Settings.macd_signal
    trend_filter: bool = Settings.trend_filter
    trend_min_delta_usd: float = Settings.trend_min_delta_usd
    monthly_charge_filter: bool = Settings.monthly_charge_filter
    lookback_days: int = Settings.lookback_days
    first_seen_min_usd: float = Settings.first_seen_min_usd

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertParams:
        """The alert thresholds of a Settings object."""
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Spike:
    """A service whose cost on d is far from its baseline (USD; z unitless, None when std = 0)."""

    service: str
    direction: str  # "up" | "down"
    cost: float
    mean: float
    std: float
    zscore: float | None
    delta: float  # cost - mean
    history_days: int
    breakdown: str = ""  # "" = the service total
    # A breakdown spike the service total does not show: the other breakdown of the service that moved most the
    # other way on d (its cost - its normal), and the service's own net move (None for service spikes).
    offset_by: str = ""
    offset: float = 0.0
    service_delta: float | None = None

    @property
    def pct(self) -> float | None:
        """Delta as a fraction of the baseline mean (None when mean <= 0)."""
        return self.delta / self.mean if self.mean > 0 else None


@dataclass(frozen=True)
class Trend:
    """A service whose MACD crossed its signal line on d (USD/day)."""

    service: str
    direction: str  # "up" | "down"
    macd: float
    signal: float
    cost: float
    avg7: float  # mean daily cost over the 7 days ending d
    avg28: float  # mean daily cost over the 28 days ending d
    crossed_days_ago: int = 0  # days between the crossover and d (the filter may confirm a turn a few days late)
    breakdown: str = ""  # "" = the service total

    @property
    def pct(self) -> float | None:
        """7-day average vs 28-day average, as a fraction (None when avg28 <= 0)."""
        return (self.avg7 - self.avg28) / self.avg28 if self.avg28 > 0 else None


@dataclass(frozen=True)
class FirstSeen:
    """A service new in the lookback window whose cost on d first reached FIRST_SEEN_MIN_USD (USD/day)."""

    service: str
    first_date: date  # its first day with cost in the window
    cost: float  # cost on d
    breakdown: str = ""  # "" = the service total

    @property
    def direction(self) -> str:
        """A new cost is always a move up."""
        return "up"


def alert_kind(alert: Spike | Trend | FirstSeen) -> str:
    """spike | trend | first_seen: the kind part of an alert's root-cause key."""
    return "spike" if isinstance(alert, Spike) else "trend" if isinstance(alert, Trend) else "first_seen"


@dataclass(frozen=True)
class ServiceCost:
    service: str
    cost: float


@dataclass(frozen=True)
class DayCost:
    date: date
    cost: float


@dataclass(frozen=True)
class Summary:
    """Headline totals for d (USD); None where there is no data to compare with."""

    total: float  # all services on d
    previous_day: float | None  # all services on d - 1
    avg7: float | None  # mean daily total over the 7 days before d
    mtd_total: float  # first of d's month .. d
    mtd_previous: float | None  # same days of the previous month (clamped to its length)
    same_weekday: float | None = None  # all services on d - 7 (the same weekday last week)


@dataclass
class CostMatrix:
    """Stored costs of [start, end] as one matrix (_util/window.py): values[i, j] = USD of keys[j] on start + i days
    (0.0 = no row), float64 parsed from the exact stored amount; the database keeps the exact value.

    keys: MultiIndex (service, breakdown) sorted as Python sorts strings; has_rows: per day, whether any row is
    stored; estimated_dates: days with an Estimated row; rows_read: daily_cost rows fetched to make it.
    """

    start: date
    end: date
    keys: pd.MultiIndex
    values: np.ndarray
    has_rows: np.ndarray
    estimated_dates: list[date] = field(default_factory=list)
    rows_read: int = 0

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The matrix rows' days."""
        return pd.date_range(self.start, self.end, freq="D")

    def by_service(self) -> CostMatrix:
        """The same costs summed over breakdown (keys (service, "")), added in the stored rows' order."""
        services, sums = self.service_sums(self.values)
        keys = pd.MultiIndex.from_arrays([services, np.full(len(services), "", dtype=object)],
                                         names=["service", "breakdown"])
        return CostMatrix(self.start, self.end, keys, sums, self.has_rows, self.estimated_dates, self.rows_read)

    def service_sums(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sorted services and values (rows x keys) summed per service: 0.0 + first breakdown + second + …,
        in key order, the order in which a long frame's rows are added up (bincount): the same floats, bit for bit.
        One vector step per breakdown rank (the most breakdowns any service has), not per key."""
        services, codes = np.unique(np.asarray(self.keys.get_level_values(0), dtype=object), return_inverse=True)
        codes = codes.ravel()
        out = np.zeros((values.shape[0], len(services)))
        if not len(codes):
            return services, out
        rank = np.arange(len(codes)) - np.searchsorted(codes, codes)  # position of each key within its service
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_rank], np.arange(1, rank.max() + 1))
        for cols in np.split(by_rank, bounds):
            out[:, codes[cols]] += values[:, cols]  # each service at most once per step
        return services, out


@dataclass
class Analysis:
    """Everything computed for report date d from the stored history."""

    report_date: date
    spikes: list[Spike]
    trends: list[Trend]
    mtd_by_service: list[ServiceCost]  # most expensive first
    daily_totals: list[DayCost]  # each day of d's month up to d
    summary: Summary
    # days x services (float64, DatetimeIndex), lookback window ending d; NaN before a service's first cost day.
    series: pd.DataFrame
    # days of d's month x services, 0 where no cost (for the stacked chart).
    daily_by_service: pd.DataFrame
    estimated_dates: list[date] = field(default_factory=list)
    first_seen: list[FirstSeen] = field(default_factory=list)  # most expensive first
    # The daily series (index as `series`) of each alerted (service, breakdown) with a breakdown, for its chart.
    breakdown_series: dict[tuple[str, str], pd.Series] = field(default_factory=dict)

    @property
    def alerts(self) -> int:
        return len(self.spikes) + len(self.trends) + len(self.first_seen)
