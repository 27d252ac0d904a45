"""Synthetic but realistic Analysis objects for chart/site tests, benches and the example images.

The spike and trend records are computed here with a plain reference implementation of the DESIGN definitions
(not with _util.metrics), so the charts can be tested on their own.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import numpy as np
import pandas as pd

from _util.model import AlertParams, Analysis, DayCost, ServiceCost, Spike, Summary, Trend

D = date(2026, 11, 25)
NAMES = (
    "Amazon Elastic Compute Cloud - Compute", "Amazon Relational Database Service", "EC2 - Other",
    "Amazon Simple Storage Service", "Amazon Redshift", "Amazon Elastic Container Service for Kubernetes",
    "Amazon ElastiCache", "Amazon OpenSearch Service", "Amazon Elastic Load Balancing", "Amazon DynamoDB",
    "Amazon SageMaker", "Amazon CloudFront", "Amazon Elastic Container Service", "AmazonCloudWatch",
    "AWS Lambda", "Amazon Virtual Private Cloud", "AWS Glue", "Amazon Kinesis", "Amazon API Gateway",
    "Amazon Athena", "AWS Backup", "Amazon Simple Queue Service", "Amazon GuardDuty", "Amazon Route 53",
    "AWS Config", "AWS Key Management Service", "Amazon EC2 Container Registry (ECR)", "AWS Secrets Manager",
    "AWS CloudTrail", "Amazon Simple Notification Service",
)


def service_names(n: int) -> list[str]:
    return [NAMES[i] if i < len(NAMES) else f"Example Service {i + 1:03d}" for i in range(n)]


def synthetic_costs(d: date = D, n_services: int = 30, days: int = 365, seed: int = 7) -> pd.DataFrame:
    """days x services of daily USD: level, weekly swing, growth, noise; a few services start late."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=pd.Timestamp(d), periods=days, freq="D")
    t = np.arange(days)
    cols = {}
    for i, name in enumerate(service_names(n_services)):
        level = 400.0 * 0.8 ** i + 0.5
        weekly = 1 + rng.uniform(0, 0.15) * np.sin(2 * np.pi * (t + i) / 7)
        growth = 1 + rng.uniform(-0.1, 0.4) * t / days
        noise = rng.normal(1, 0.05, days)
        values = level * weekly * growth * noise
        if i % 7 == 5:  # started recently
            values[: days - 60 - i] = np.nan
        cols[name] = values
    return pd.DataFrame(cols, index=index)


def inject_events(costs: pd.DataFrame, d: date = D) -> pd.DataFrame:
    """A spike on d, a drop on d, a spike 9 days ago and a turn upwards over the last week."""
    c = costs.copy()
    names = list(c.columns)
    last = c.index[-1]
    if len(names) > 14:
        c.loc[last, names[14]] *= 3.2  # Lambda spike on d
    if len(names) > 11:
        c.loc[last, names[11]] *= 2.4  # CloudFront spike on d
    if len(names) > 3:
        c.loc[c.index[-10], names[3]] *= 2.5  # S3: an earlier spike, highlighted too
    if len(names) > 1:
        c.loc[last, names[1]] *= 0.35  # RDS drop on d
    return c


def find_spikes(series: pd.DataFrame, params: AlertParams) -> list[Spike]:
    """Reference spike rule (DESIGN "Definitions"), one service at a time."""
    out = []
    for name in series.columns:
        s = series[name]
        first = s.first_valid_index()
        if first is None:
            continue
        s = s.loc[first:].fillna(0.0)
        base, cost = s.iloc[:-1], float(s.iloc[-1])
        if len(base) < params.min_history_days or abs(cost) < params.min_daily_cost_usd:
            continue
        mean, std = float(base.mean()), float(base.std(ddof=1))
        delta = cost - mean
        z = delta / std if std > 0 else None
        if z is None:
            hit_up, hit_down = delta >= params.spike_min_delta_usd, -delta >= params.spike_min_delta_usd
        else:
            hit_up = z >= params.spike_z_threshold and delta >= params.spike_min_delta_usd
            hit_down = z <= -params.spike_z_threshold and -delta >= params.spike_min_delta_usd
        if hit_up or hit_down:
            out.append(Spike(name, "up" if hit_up else "down", cost, mean, std, z, delta, len(base)))
    return out


def find_trends(series: pd.DataFrame, params: AlertParams) -> list[Trend]:
    """Reference MACD crossover rule (raw, no materiality filter)."""
    out = []
    for name in series.columns:
        s = series[name]
        first = s.first_valid_index()
        if first is None:
            continue
        s = s.loc[first:].fillna(0.0)
        if len(s) < params.macd_slow + 2:
            continue
        macd = s.ewm(span=params.macd_fast, adjust=False).mean() - s.ewm(span=params.macd_slow, adjust=False).mean()
        sig = macd.ewm(span=params.macd_signal, adjust=False).mean()
        m0, m1, s0, s1 = macd.iloc[-2], macd.iloc[-1], sig.iloc[-2], sig.iloc[-1]
        direction = "up" if (m0 <= s0 and m1 > s1) else "down" if (m0 >= s0 and m1 < s1) else None
        if direction:
            out.append(Trend(name, direction, float(m1), float(s1), float(s.iloc[-1]), float(s.iloc[-7:].mean()),
                             float(s.iloc[-28:].mean())))
    return out


def analysis_from_costs(costs: pd.DataFrame, d: date = D, params: AlertParams | None = None,
                        spikes: list[Spike] | None = None, trends: list[Trend] | None = None) -> Analysis:
    """An Analysis of costs (days x services ending d) built with the reference rules."""
    params = params or AlertParams()
    month_start = pd.Timestamp(d.replace(day=1))
    month = costs.loc[month_start:].fillna(0.0)
    mtd = month.sum(axis=0).sort_values(ascending=False)
    totals = costs.fillna(0.0).sum(axis=1)
    prev_month_end = d.replace(day=1) - timedelta(days=1)
    prev_start = prev_month_end.replace(day=1)
    prev_day = min(d.day, calendar.monthrange(prev_start.year, prev_start.month)[1])
    prev = totals.loc[pd.Timestamp(prev_start): pd.Timestamp(prev_start.replace(day=prev_day))]
    summary = Summary(
        total=float(totals.iloc[-1]),
        previous_day=float(totals.iloc[-2]) if len(totals) > 1 else None,
        avg7=float(totals.iloc[-8:-1].mean()) if len(totals) > 7 else None,
        mtd_total=float(month.to_numpy().sum()),
        mtd_previous=float(prev.sum()) if len(prev) else None,
        same_weekday=float(totals.iloc[-8]) if len(totals) > 7 else None,
    )
    return Analysis(
        report_date=d,
        spikes=find_spikes(costs, params) if spikes is None else spikes,
        trends=find_trends(costs, params) if trends is None else trends,
        mtd_by_service=[ServiceCost(str(k), float(v)) for k, v in mtd.items()],
        daily_totals=[DayCost(ts.date(), float(v)) for ts, v in month.sum(axis=1).items()],
        summary=summary,
        series=costs,
        daily_by_service=month,
        estimated_dates=[d],
    )


def build_analysis(d: date = D, n_services: int = 30, days: int = 365, seed: int = 7,
                   params: AlertParams | None = None) -> Analysis:
    """The standard fixture: 30 realistic services over a year with spikes, a drop and trend reversals."""
    return analysis_from_costs(inject_events(synthetic_costs(d, n_services, days, seed), d), d, params)


def day_view(analysis: Analysis):
    """The view model of an Analysis under the default settings (the chart titles the renderer draws)."""
    from _util import view
    from _util.config import Settings

    return view.build_view(analysis, view.Rules.from_settings(Settings()))
