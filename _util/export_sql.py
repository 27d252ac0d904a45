"""The export query, written once in Athena's Trino dialect (FOCUS 1.x or CUR 2.0), and DuckDB's transpiled copy.

Pure: settings values in, SQL text out. Athena runs `daily_cost_sql(q)` as is; the export source (exports.py) and
the tests run `to_duckdb(daily_cost_sql(q))` on the same files, so the SQL tested is the SQL Athena runs.
README "Export sources" holds the metric, dimension and record-type mapping tables written here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from .config import ConfigError

FORMATS = ("focus", "cur2")

# COST_METRIC -> the export's cost column. FOCUS has two cost columns that match Cost Explorer's metrics:
# BilledCost (the invoice's, = UnblendedCost) and EffectiveCost (amortized commitments, = AmortizedCost).
FOCUS_METRICS = {"UnblendedCost": "BilledCost", "AmortizedCost": "EffectiveCost"}
# CUR 2.0's AmortizedCost is AWS's documented formula over the reservation / Savings Plans columns (the same one
# Cost Explorer applies): covered usage at its effective cost, the unused part of fees, negations and upfront fees 0.
CUR_AMORTIZED = (
    "CASE line_item_line_item_type"
    " WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost"
    " WHEN 'SavingsPlanRecurringFee' THEN savings_plan_total_commitment_to_date - savings_plan_used_commitment"
    " WHEN 'SavingsPlanNegation' THEN 0"
    " WHEN 'SavingsPlanUpfrontFee' THEN 0"
    " WHEN 'DiscountedUsage' THEN reservation_effective_cost"
    " WHEN 'RIFee' THEN reservation_unused_amortized_upfront_fee_for_billing_period + reservation_unused_recurring_fee"
    " ELSE CASE WHEN line_item_line_item_type = 'Fee' AND reservation_reservation_a_r_n <> '' THEN 0"
    " ELSE line_item_unblended_cost END END")
CUR_AMORTIZED_COLUMNS = ("savings_plan_savings_plan_effective_cost", "savings_plan_total_commitment_to_date",
                         "savings_plan_used_commitment", "reservation_effective_cost",
                         "reservation_unused_amortized_upfront_fee_for_billing_period",
                         "reservation_unused_recurring_fee", "reservation_reservation_a_r_n")
CUR_METRICS = {"UnblendedCost": "line_item_unblended_cost", "NetUnblendedCost": "line_item_net_unblended_cost",
               "AmortizedCost": CUR_AMORTIZED}

# COST_EXCLUDE_RECORD_TYPES (Cost Explorer's RECORD_TYPE values) -> the export's values.
# FOCUS: a condition on ChargeCategory (Usage, Purchase, Tax, Credit, Adjustment). Refunds are FOCUS Adjustments;
# fees and reservation/Savings Plans purchases are Purchases.
FOCUS_RECORD_TYPES = {
    "usage": ("ChargeCategory", "Usage"), "credit": ("ChargeCategory", "Credit"),
    "refund": ("ChargeCategory", "Adjustment"), "tax": ("ChargeCategory", "Tax"),
    "fee": ("ChargeCategory", "Purchase"), "support": ("ChargeCategory", "Purchase"),
    "rifee": ("ChargeCategory", "Purchase"), "recurring reservation fee": ("ChargeCategory", "Purchase"),
    "upfront reservation fee": ("ChargeCategory", "Purchase"),
    "savingsplanrecurringfee": ("ChargeCategory", "Purchase"), "savings plan recurring fee": ("ChargeCategory", "Purchase"),
    "savingsplanupfrontfee": ("ChargeCategory", "Purchase"), "savings plan upfront fee": ("ChargeCategory", "Purchase"),
}
# CUR 2.0: line_item_line_item_type, whose values are Cost Explorer's RECORD_TYPE values without spaces (CE also
# shows a few under longer names, accepted here).
CUR_LINE_ITEM_TYPES = ("Usage", "Credit", "Refund", "Tax", "Fee", "RIFee", "DiscountedUsage",
                       "SavingsPlanCoveredUsage", "SavingsPlanNegation", "SavingsPlanRecurringFee",
                       "SavingsPlanUpfrontFee", "EdpDiscount", "BundledDiscount", "PrivateRateDiscount",
                       "DistributorDiscount")
CUR_RECORD_ALIASES = {"recurring reservation fee": "RIFee", "upfront reservation fee": "Fee", "support": "Fee",
                      "enterprise discount program discount": "EdpDiscount", "bundled discount": "BundledDiscount",
                      "savings plan covered usage": "SavingsPlanCoveredUsage",
                      "savings plan negation": "SavingsPlanNegation",
                      "savings plan recurring fee": "SavingsPlanRecurringFee",
                      "savings plan upfront fee": "SavingsPlanUpfrontFee",
                      "private rate card discount": "PrivateRateDiscount", "distributor discount": "DistributorDiscount"}

# COST_GROUP_BY -> the export's column (TAG:<key> is handled apart). FOCUS USAGE_TYPE: the first of FOCUS_USAGE_TYPE
# the export has — AWS's FOCUS 1.0 (FOCUS_1_0_AWS) carries CUR's usage type as x_UsageType; FOCUS 1.2 (FOCUS_1_2_AWS)
# dropped x_UsageType; the spec's SkuMeter (FOCUS 1.1+: "the functionality being metered or measured by a SKU") is
# its nearest column (the generator, tests/export_gen.py, fills it with the usage type); an export with neither (another provider's FOCUS 1.0) uses SkuId (same grain: a priced
# item). OPERATION: x_Operation, in both AWS versions; '' elsewhere.
FOCUS_DIMENSIONS = {"LINKED_ACCOUNT": "SubAccountId", "REGION": "RegionId", "USAGE_TYPE": "x_UsageType",
                    "OPERATION": "x_Operation", "RECORD_TYPE": "ChargeCategory"}
CUR_DIMENSIONS = {"LINKED_ACCOUNT": "line_item_usage_account_id", "REGION": "product_region_code",
                  "USAGE_TYPE": "line_item_usage_type", "OPERATION": "line_item_operation",
                  "RECORD_TYPE": "line_item_line_item_type"}
FOCUS_USAGE_TYPE = ("x_UsageType", "SkuMeter", "SkuId")  # in order of preference (see above)
# Columns unknown (None; both sources always pass the real ones: DuckDB's, Glue's): x_UsageType, as before 1.2.
FOCUS_USAGE_TYPE_UNKNOWN = "x_UsageType"

# The columns each format's queries read (the export is checked against them before a query runs).
FOCUS_COLUMNS = ("ChargePeriodStart", "ServiceName", "ProviderName", "BillingCurrency", "ChargeCategory")
CUR_COLUMNS = ("line_item_usage_start_date", "line_item_product_code", "line_item_line_item_type")
PARTITION_COLUMN = "billing_period"  # Data Exports' BILLING_PERIOD=YYYY-MM folders (Glue lower-cases the name)
AMOUNT_TYPE = "DECIMAL(38, 12)"  # every row cast before the sum: exact sums, the FOCUS CSV's 11 decimals kept


class ExportQueryError(ConfigError):
    """A setting cannot be expressed on the export (names the setting and the format)."""


@dataclass(frozen=True)
class ExportQuery:
    """One export query: days [start, end] (inclusive, UTC dates) of `table`, in EXPORT_FORMAT `fmt`.

    columns: the export's column names when known (local files); None = the AWS export's full column set (Athena).
    tags: how FOCUS Tags is stored, "json" (a JSON object as text, as in FOCUS CSV and the spec) or "map".
    partitioned: whether `table` has the billing_period partition column to prune on.
    periods: the billing periods (YYYY-MM) to read, when only some of [start, end]'s are wanted (None: all of them).
    """

    fmt: str
    start: date
    end: date
    metric: str = "UnblendedCost"
    group_by: str = ""
    exclude_record_types: tuple[str, ...] = ("Credit", "Refund")
    table: str = "cost_export"
    columns: frozenset[str] | None = None
    tags: str = "json"
    partitioned: bool = True
    periods: tuple[str, ...] | None = None

    def billing_periods(self) -> list[str]:
        """The billing periods the query reads (its partition filter), oldest first."""
        every = billing_periods(self.start, self.end)
        return every if self.periods is None else [p for p in every if p in set(self.periods)]

    def has(self, column: str) -> bool:
        return self.columns is None or column.lower() in {c.lower() for c in self.columns}


def billing_periods(start: date, end: date) -> list[str]:
    """The billing periods (YYYY-MM) the days [start, end] fall in, oldest first."""
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def check_format(fmt: str) -> str:
    """EXPORT_FORMAT normalised; an unknown value is an ExportQueryError naming it."""
    value = (fmt or "").strip().lower()
    if value not in FORMATS:
        raise ExportQueryError(f"EXPORT_FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return value


def metric_expr(q: ExportQuery) -> str:
    """The cost expression of COST_METRIC on the export; a metric the export cannot give is refused."""
    table = FOCUS_METRICS if q.fmt == "focus" else CUR_METRICS
    if q.metric not in table:
        raise ExportQueryError(
            f"COST_METRIC={q.metric} has no column in EXPORT_FORMAT={q.fmt} (use {' or '.join(table)})")
    if q.fmt == "cur2" and q.metric == "AmortizedCost":
        missing = [c for c in CUR_AMORTIZED_COLUMNS if not q.has(c)]
        if missing:
            raise ExportQueryError(f"COST_METRIC=AmortizedCost needs the CUR 2.0 columns {', '.join(missing)}, "
                                   "absent from this export (include reservation and Savings Plans columns)")
    return table[q.metric]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def exclusion_conditions(q: ExportQuery) -> list[str]:
    """WHERE conditions leaving out COST_EXCLUDE_RECORD_TYPES; an unmapped value is refused naming the setting."""
    if q.fmt == "focus":
        by_column: dict[str, set[str]] = {}
        for raw in q.exclude_record_types:
            hit = FOCUS_RECORD_TYPES.get(raw.strip().lower())
            if hit is None:
                raise ExportQueryError(f"COST_EXCLUDE_RECORD_TYPES value {raw!r} has no FOCUS ChargeCategory "
                                       f"(known: Usage, Credit, Refund, Tax, Fee, Support, RIFee, Savings Plan fees)")
            by_column.setdefault(hit[0], set()).add(hit[1])
    else:
        known = {t.lower(): t for t in CUR_LINE_ITEM_TYPES} | CUR_RECORD_ALIASES
        values = set()
        for raw in q.exclude_record_types:
            hit = known.get(raw.strip().lower())
            if hit is None:
                raise ExportQueryError(f"COST_EXCLUDE_RECORD_TYPES value {raw!r} is not a CUR 2.0 "
                                       f"line_item_line_item_type ({', '.join(CUR_LINE_ITEM_TYPES)})")
            values.add(hit)
        by_column = {"line_item_line_item_type": values} if values else {}
    # COALESCE: a row without a category is kept (NOT IN on NULL would drop it).
    return [f"COALESCE({col}, '') NOT IN ({', '.join(_quote(v) for v in sorted(vals))})"
            for col, vals in sorted(by_column.items())]


def _tag_value(q: ExportQuery, key: str) -> str:
    if q.fmt == "cur2":
        # CUR 2.0's resource_tags map keys user-defined tags as user_<key>.
        return f"element_at(resource_tags, {_quote('user_' + key)})"
    if q.tags == "map":
        return f"element_at(Tags, {_quote(key)})"
    return f"json_extract_scalar(Tags, {_quote('$[' + _json_key(key) + ']')})"


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dimension_expr(q: ExportQuery, dimension: str) -> str:
    """The text expression of one CE dimension on the export ('' where the row has none)."""
    table = FOCUS_DIMENSIONS if q.fmt == "focus" else CUR_DIMENSIONS
    column = table.get(dimension)
    if column is None:
        raise ExportQueryError(f"COST_GROUP_BY={dimension} has no column in EXPORT_FORMAT={q.fmt} "
                               f"(use TAG:<key> or {', '.join(table)})")
    if q.fmt == "focus" and dimension == "USAGE_TYPE":
        if q.columns is None:
            column = FOCUS_USAGE_TYPE_UNKNOWN
        else:
            column = next((c for c in FOCUS_USAGE_TYPE if q.has(c)), "")
    if not column or not q.has(column):
        return "''"
    return f"COALESCE(CAST({column} AS VARCHAR), '')"


def breakdown_expr(q: ExportQuery) -> str:
    """The stored breakdown as Cost Explorer writes its group keys: the value, or <key>$<value> for a tag."""
    if not q.group_by:
        return "''"
    kind, sep, key = q.group_by.partition(":")
    if sep and kind == "TAG":
        if not q.has("resource_tags" if q.fmt == "cur2" else "Tags"):
            return _quote(key + "$")  # no tags in this export: every row is untagged, as CE shows it
        return f"concat({_quote(key + '$')}, COALESCE({_tag_value(q, key)}, ''))"
    if sep:
        raise ExportQueryError(f"COST_GROUP_BY={q.group_by} has no column in EXPORT_FORMAT={q.fmt} "
                               "(cost categories are Cost Explorer's)")
    return dimension_expr(q, q.group_by)


def _day_expr(q: ExportQuery) -> str:
    col = "ChargePeriodStart" if q.fmt == "focus" else "line_item_usage_start_date"
    # via TIMESTAMP: a column typed as text (a CSV table) works as one typed as a timestamp
    return f"CAST(CAST({col} AS TIMESTAMP) AS DATE)"


def _where(q: ExportQuery) -> list[str]:
    day = _day_expr(q)
    conds = []
    if q.partitioned:
        periods = ", ".join(_quote(p) for p in q.billing_periods()) or "NULL"  # none: no folder read
        conds.append(f"{PARTITION_COLUMN} IN ({periods})")  # partition pruning: only these folders are scanned
    conds.append(f"{day} BETWEEN DATE {_quote(q.start.isoformat())} AND DATE {_quote(q.end.isoformat())}")
    return conds + exclusion_conditions(q)


def _provider_currency(q: ExportQuery) -> tuple[str, str]:
    if q.fmt == "focus":
        return "COALESCE(ProviderName, '')", "COALESCE(BillingCurrency, '')"
    currency = "line_item_currency_code" if q.has("line_item_currency_code") else "'USD'"
    return "'AWS'", f"COALESCE({currency}, '')"


def _service_expr(q: ExportQuery) -> str:
    return "COALESCE(ServiceName, '')" if q.fmt == "focus" else "COALESCE(line_item_product_code, '')"


def daily_cost_sql(q: ExportQuery) -> str:
    """Trino (Athena) SQL: daily cost per provider, service, breakdown and currency for days [start, end].

    Columns: usage_date (DATE), provider, service, breakdown, currency, amount (DECIMAL(38,12)), line_items.
    """
    provider, currency = _provider_currency(q)
    where = "\n  AND ".join(_where(q))
    return (f"SELECT {_day_expr(q)} AS usage_date,\n"
            f"  {provider} AS provider,\n"
            f"  {_service_expr(q)} AS service,\n"
            f"  {breakdown_expr(q)} AS breakdown,\n"
            f"  {currency} AS currency,\n"
            f"  SUM(CAST({metric_expr(q)} AS {AMOUNT_TYPE})) AS amount,\n"
            f"  COUNT(*) AS line_items\n"
            f"FROM {q.table}\n"
            f"WHERE {where}\n"
            f"GROUP BY 1, 2, 3, 4, 5\n"
            f"ORDER BY 1, 2, 3, 4, 5")


def covered_days_sql(q: ExportQuery) -> str:
    """Trino SQL: the days of [start, end] with any line item (column usage_date), exclusions not applied — the
    days the export has answered for, even where all their cost is excluded."""
    conds = [c for c in _where(q) if "NOT IN" not in c]
    where = "\n  AND ".join(conds)
    return (f"SELECT DISTINCT {_day_expr(q)} AS usage_date\n"
            f"FROM {q.table}\n"
            f"WHERE {where}")


def providers_sql(q: ExportQuery) -> str:
    """Trino SQL: the distinct providers (column provider) of the table's billing periods of [start, end]."""
    where = f"WHERE {PARTITION_COLUMN} IN ({', '.join(_quote(p) for p in q.billing_periods()) or 'NULL'})"
    return (f"SELECT DISTINCT {_provider_currency(q)[0]} AS provider\n"
            f"FROM {q.table}\n{where if q.partitioned else ''}")


DETAIL_COLUMNS = ("usage_date", "provider", "service", "linked_account", "usage_type", "region", "operation",
                  "resource_id", "sku", "record_type", "amount")


def detail_sql(q: ExportQuery, services: Iterable[str] = ()) -> str:
    """Trino SQL: the long frame of DETAIL_COLUMNS for days [start, end] (and the given services; none = all),
    one row per distinct dimension values a day — root causes down to the resource id. With COST_GROUP_BY=TAG:<key>
    (q.group_by) a column "tag:<key>" (the tag's value, '' when unset) follows record_type."""
    if q.fmt == "focus":
        resource, sku = "ResourceId", "SkuId"
    else:
        resource, sku = "line_item_resource_id", "product_sku"
    dims = {
        "linked_account": dimension_expr(q, "LINKED_ACCOUNT"),
        "usage_type": dimension_expr(q, "USAGE_TYPE"),
        "region": dimension_expr(q, "REGION"),
        "operation": dimension_expr(q, "OPERATION"),
        "resource_id": f"COALESCE(CAST({resource} AS VARCHAR), '')" if q.has(resource) else "''",
        "sku": f"COALESCE(CAST({sku} AS VARCHAR), '')" if q.has(sku) else "''",
        "record_type": dimension_expr(q, "RECORD_TYPE"),
    }
    kind, sep, key = q.group_by.partition(":")
    if sep and kind == "TAG":  # a breakdown alert's tag, as Cost Explorer's answers filter on it ("" = untagged)
        value = _tag_value(q, key) if q.has("resource_tags" if q.fmt == "cur2" else "Tags") else "''"
        dims[f'"tag:{key}"'] = f"COALESCE({value}, '')"
    provider, _ = _provider_currency(q)
    conds = _where(q)
    services = sorted(set(services))
    if services:
        conds.append(f"{_service_expr(q)} IN ({', '.join(_quote(s) for s in services)})")
    where = "\n  AND ".join(conds)
    select = ",\n  ".join(f"{expr} AS {name}" for name, expr in dims.items())
    n = len(dims) + 3
    return (f"SELECT {_day_expr(q)} AS usage_date,\n"
            f"  {provider} AS provider,\n"
            f"  {_service_expr(q)} AS service,\n"
            f"  {select},\n"
            f"  SUM(CAST({metric_expr(q)} AS {AMOUNT_TYPE})) AS amount\n"
            f"FROM {q.table}\n"
            f"WHERE {where}\n"
            f"GROUP BY {', '.join(str(i) for i in range(1, n + 1))}\n"
            f"ORDER BY {', '.join(str(i) for i in range(1, n + 1))}")


ACCOUNT_NAME_COLUMNS = {"focus": ("SubAccountId", "SubAccountName"),
                        "cur2": ("line_item_usage_account_id", "line_item_usage_account_name")}


def account_names_sql(q: ExportQuery) -> str | None:
    """Trino SQL: each account's name in days [start, end] (columns account, name); None when the export has no
    name column."""
    account, name = ACCOUNT_NAME_COLUMNS[q.fmt]
    if not (q.has(account) and q.has(name)):
        return None
    where = "\n  AND ".join([c for c in _where(q) if "NOT IN" not in c] + [f"{name} IS NOT NULL", f"{name} <> ''"])
    return (f"SELECT CAST({account} AS VARCHAR) AS account, max(CAST({name} AS VARCHAR)) AS name\n"
            f"FROM {q.table}\n"
            f"WHERE {where}\n"
            f"GROUP BY 1")


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def check_table(name: str) -> str:
    """A [database.]table name safe to splice into SQL (ATHENA_DATABASE/ATHENA_TABLE are identifiers)."""
    if not _IDENT.match(name):
        raise ExportQueryError(f"export table name {name!r} must be [database.]table of letters, digits, _")
    return name


def to_duckdb(sql: str) -> str:
    """The same query in DuckDB's dialect (sqlglot, imported here: an optional extra)."""
    import sqlglot

    return sqlglot.transpile(sql, read="trino", write="duckdb")[0]
