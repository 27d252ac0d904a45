"""Typed records passed between stages (all money in USD)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from .fmt import cents  # noqa: F401  (USD half up to the cent: one definition, in fmt)

# Chart ids: stable strings used as keys of {chart id: url} in report.json and the Slack message.
MTD_CHART = "mtd_by_service"
DAILY_CHART = "daily_by_service"


def spike_chart_id(service: str) -> str:
    """Chart id of a service's spike chart."""
    return f"spike:{service}"


def trend_chart_id(service: str) -> str:
    """Chart id of a service's trend chart."""
    return f"trend:{service}"


@dataclass(frozen=True)
class AlertParams:
    """Thresholds of the alert rules (README "Methodology")."""

    spike_z_threshold: float = 2.75
    spike_min_delta_usd: float = 5.0
    min_history_days: int = 14
    min_daily_cost_usd: float = 0.01
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 18
    trend_filter: bool = True
    trend_min_delta_usd: float = 1.0
    monthly_charge_filter: bool = True
    lookback_days: int = 365
    first_seen_min_usd: float = 10.0

    @classmethod
    def from_settings(cls, settings) -> AlertParams:
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

    @property
    def alerts(self) -> int:
        return len(self.spikes) + len(self.trends)
