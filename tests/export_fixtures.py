"""Small FOCUS 1.x and CUR 2.0 Parquet exports for the export tests, and an independent expected computation.

Each builder returns the rows it wrote as plain dicts (Decimal amounts), so tests compute what the query should
give with pandas/Decimal, not with the code under test.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

SERVICES = {"AWS": ["Amazon Elastic Compute Cloud", "Amazon Simple Storage Service"],
            "Microsoft": ["Virtual Machines", "Storage"]}
ACCOUNTS = ["111122223333", "444455556666"]
REGIONS = ["us-east-1", "eu-west-1", None]
TEAMS = ["payments", "search", None]
CATEGORIES = ["Usage"] * 6 + ["Credit", "Tax", "Adjustment", "Purchase"]


def _amount(rng: random.Random, category: str) -> Decimal:
    value = Decimal(rng.randint(0, 10**8)) / Decimal(10**7)  # up to 10 USD, 7 decimals
    return -value if category in ("Credit", "Adjustment") else value


def focus_rows(periods: dict[str, tuple[date, date]], n: int = 40, seed: int = 1,
               providers: tuple[str, ...] = ("AWS", "Microsoft")) -> dict[str, list[dict]]:
    """Hourly-ish FOCUS rows per billing period (YYYY-MM -> (first day, last day) of the rows; a period whose
    range is empty gets no rows)."""
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {}
    for period, (first, last) in periods.items():
        rows = []
        days = (last - first).days + 1
        for _ in range(n if days > 0 else 0):
            provider = rng.choice(providers)
            category = rng.choice(CATEGORIES)
            team = rng.choice(TEAMS)
            start = datetime.combine(first + timedelta(days=rng.randrange(days)), datetime.min.time()) + timedelta(
                hours=rng.randrange(24))
            rows.append({
                "ChargePeriodStart": start, "ChargePeriodEnd": start + timedelta(hours=1),
                "ProviderName": provider, "ServiceName": rng.choice(SERVICES[provider]),
                "SubAccountId": rng.choice(ACCOUNTS), "RegionId": rng.choice(REGIONS),
                "ChargeCategory": category, "BillingCurrency": "USD",
                "BilledCost": _amount(rng, category), "EffectiveCost": _amount(rng, category),
                "ResourceId": f"i-{rng.randrange(5):04d}", "SkuId": f"SKU{rng.randrange(3)}",
                "x_UsageType": f"USE1-Box{rng.randrange(3)}" if provider == "AWS" else None,
                "x_Operation": "RunInstances" if provider == "AWS" else None,
                "Tags": json.dumps({"team": team, "env": "prod"}) if team else None,
            })
        out[period] = rows
    return out


def write_focus(root: Path, by_period: dict[str, list[dict]], version: str = "", name: str = "part-00001") -> None:
    """One Parquet file per billing period under root/data/BILLING_PERIOD=YYYY-MM/[version/] (Data Exports layout)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("ChargePeriodStart", pa.timestamp("us")), ("ChargePeriodEnd", pa.timestamp("us")),
                        ("ProviderName", pa.string()), ("ServiceName", pa.string()), ("SubAccountId", pa.string()),
                        ("RegionId", pa.string()), ("ChargeCategory", pa.string()),
                        ("BillingCurrency", pa.string()), ("BilledCost", pa.decimal128(20, 10)),
                        ("EffectiveCost", pa.decimal128(20, 10)), ("ResourceId", pa.string()),
                        ("SkuId", pa.string()), ("x_UsageType", pa.string()), ("x_Operation", pa.string()),
                        ("Tags", pa.string())])
    for period, rows in by_period.items():
        folder = root / "data" / f"BILLING_PERIOD={period}"
        if version:
            folder = folder / version
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(rows, schema=schema)
        pq.write_table(table, folder / f"{name}.snappy.parquet")


CUR_TYPES = ["Usage"] * 5 + ["Credit", "Tax", "Refund", "SavingsPlanCoveredUsage", "SavingsPlanNegation",
                             "SavingsPlanRecurringFee", "DiscountedUsage", "RIFee"]


def cur_rows(period: str, first: date, last: date, n: int = 40, seed: int = 2) -> list[dict]:
    """CUR 2.0 rows of one billing period (doubles, as AWS writes them; resource_tags a map)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        kind = rng.choice(CUR_TYPES)
        start = datetime.combine(first + timedelta(days=rng.randrange((last - first).days + 1)),
                                 datetime.min.time()) + timedelta(hours=rng.randrange(24))
        team = rng.choice(TEAMS)
        cost = rng.randint(-10**6 if kind in ("Credit", "Refund", "SavingsPlanNegation") else 0, 10**6) / 1e4
        rows.append({
            "line_item_usage_start_date": start, "line_item_product_code": rng.choice(["AmazonEC2", "AmazonS3"]),
            "line_item_usage_account_id": rng.choice(ACCOUNTS), "line_item_usage_type": f"USE1-T{rng.randrange(3)}",
            "line_item_operation": "RunInstances", "product_region_code": rng.choice(["us-east-1", "eu-west-1"]),
            "line_item_line_item_type": kind, "line_item_unblended_cost": cost,
            "line_item_net_unblended_cost": round(cost * 0.9, 6), "line_item_currency_code": "USD",
            "line_item_resource_id": f"i-{rng.randrange(4)}", "product_sku": f"S{rng.randrange(3)}",
            "resource_tags": {"user_team": team} if team else {},
            "savings_plan_savings_plan_effective_cost": rng.randint(0, 10**5) / 1e4,
            "savings_plan_total_commitment_to_date": 5.0, "savings_plan_used_commitment": rng.randint(0, 5 * 10**4) / 1e4,
            "reservation_effective_cost": rng.randint(0, 10**5) / 1e4,
            "reservation_unused_amortized_upfront_fee_for_billing_period": 0.25,
            "reservation_unused_recurring_fee": 0.5, "reservation_reservation_a_r_n": "",
            "bill_billing_period_start_date": datetime(int(period[:4]), int(period[5:]), 1),
        })
    return rows


def write_cur(root: Path, period: str, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = []
    for key, value in rows[0].items():
        if key == "resource_tags":
            fields.append((key, pa.map_(pa.string(), pa.string())))
        elif isinstance(value, datetime):
            fields.append((key, pa.timestamp("us")))
        elif isinstance(value, float):
            fields.append((key, pa.float64()))
        else:
            fields.append((key, pa.string()))
    folder = root / "data" / f"BILLING_PERIOD={period}"
    folder.mkdir(parents=True, exist_ok=True)
    data = [{**r, "resource_tags": list(r["resource_tags"].items())} for r in rows]
    pq.write_table(pa.Table.from_pylist(data, schema=pa.schema(fields)), folder / "cur-00001.snappy.parquet")


def cur_amortized(row: dict) -> Decimal:
    """AWS's CUR 2.0 amortized cost of one row, written out apart from the SQL."""
    kind = row["line_item_line_item_type"]
    d = lambda k: Decimal(row[k])  # noqa: E731
    if kind == "SavingsPlanCoveredUsage":
        return d("savings_plan_savings_plan_effective_cost")
    if kind == "SavingsPlanRecurringFee":
        return d("savings_plan_total_commitment_to_date") - d("savings_plan_used_commitment")
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "DiscountedUsage":
        return d("reservation_effective_cost")
    if kind == "RIFee":
        return d("reservation_unused_amortized_upfront_fee_for_billing_period") + d("reservation_unused_recurring_fee")
    if kind == "Fee" and row["reservation_reservation_a_r_n"]:
        return Decimal(0)
    return d("line_item_unblended_cost")
