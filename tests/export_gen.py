"""FOCUS 1.2- and CUR 2.0-shaped AWS Data Exports, written as AWS lays them out, with their exact daily truth.

Layout (AWS Data Exports, "Understanding export delivery"):

    <root>/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-00001.snappy.parquet          OVERWRITE_REPORT
    <root>/<export>/data/BILLING_PERIOD=YYYY-MM/<ts>-<execution id>/<export>-00001...  CREATE_NEW_REPORT (one folder
                                                                                       per delivery, all kept)
    <root>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json             the newest delivery: its
                                                                                       executionId, columns, dataFiles
Chunks are numbered 00001, 00002…; CSV exports are `<export>-00001.csv.gz`. The partition key is spelled
`BILLING_PERIOD` in AWS's documentation; some real exports deliver `billing_period=` (partition_key= writes either).

Rows: every series (one account x service x usage type x operation x region x resource x SKU x tags) has hourly usage
rows (`rows_per_day` spreads fewer or more rows over the series' hours), some of it covered by a Savings Plan; each day
a Savings Plans recurring fee (Purchase) and credits (negative) on some accounts; on the 1st of each month one tax
line per account. Amounts have up to 10 decimals. With several `providers` (FOCUS only) each provider has its own
accounts, services and `currencies` entry.

Columns and types follow AWS's tables: FOCUS_1_2_AWS (its 60 columns; Tags, SkuPriceDetails as map<string,string>,
x_Discounts as map<string,double>; no x_UsageType: the usage type is in SkuMeter), FOCUS_1_0_AWS on request
(focus_version="1.0": x_UsageType, x_CostCategories, without 1.2's additions) and COST_AND_USAGE_REPORT
(CUR 2.0: product, resource_tags (keys `user_<tag>`), cost_category as maps) — the subset of CUR 2.0's columns
this project reads plus their neighbours. CSV files carry map columns as JSON objects (as FOCUS CSV does).
Timestamps are UTC wall time (timestamp[ms], no zone).

Everything is vectorised (numpy -> pyarrow dictionary arrays; per day a row group of usage lines, whose text
columns are built once, and one of the day's other lines): 10 M rows a month in well under a minute on 2 cores,
memory bounded by one day (bench/export_gen_speed.py). The truth (ExportTruth.daily) is summed from the generated
arrays with numpy, never by reading the files or by SQL.

    truth = write_export(tmp_path, "focus", date(2026, 10, 1), days=45, n_accounts=5, n_services=8, n_series=200)
    truth.by_service_account(exclude=("Credit", "Tax"))   # date, provider, currency, service, account, cost
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("focus", "cur2")
LAYOUTS = ("overwrite", "create_new")
DECIMALS = 10

# --- schemas: (column, Athena/Glue type). The Arrow types follow from the Glue ones (_ARROW). ----------------------
FOCUS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("AvailabilityZone", "string"), ("BilledCost", "double"), ("BillingAccountId", "string"),
    ("BillingAccountName", "string"), ("BillingAccountType", "string"), ("BillingCurrency", "string"),
    ("BillingPeriodEnd", "timestamp"), ("BillingPeriodStart", "timestamp"), ("CapacityReservationId", "string"),
    ("CapacityReservationStatus", "string"), ("ChargeCategory", "string"), ("ChargeClass", "string"),
    ("ChargeDescription", "string"), ("ChargeFrequency", "string"), ("ChargePeriodEnd", "timestamp"),
    ("ChargePeriodStart", "timestamp"), ("CommitmentDiscountCategory", "string"), ("CommitmentDiscountId", "string"),
    ("CommitmentDiscountName", "string"), ("CommitmentDiscountQuantity", "double"),
    ("CommitmentDiscountStatus", "string"), ("CommitmentDiscountType", "string"), ("CommitmentDiscountUnit", "string"),
    ("ConsumedQuantity", "double"), ("ConsumedUnit", "string"), ("ContractedCost", "double"),
    ("ContractedUnitPrice", "double"), ("EffectiveCost", "double"), ("InvoiceId", "string"),
    ("InvoiceIssuerName", "string"), ("ListCost", "double"), ("ListUnitPrice", "double"),
    ("PricingCategory", "string"), ("PricingCurrency", "string"), ("PricingCurrencyContractedUnitPrice", "double"),
    ("PricingCurrencyEffectiveCost", "double"), ("PricingCurrencyListUnitPrice", "double"),
    ("PricingQuantity", "double"), ("PricingUnit", "string"), ("ProviderName", "string"),
    ("PublisherName", "string"), ("RegionId", "string"), ("RegionName", "string"), ("ResourceId", "string"),
    ("ResourceName", "string"), ("ResourceType", "string"), ("ServiceCategory", "string"), ("ServiceName", "string"),
    ("ServiceSubcategory", "string"), ("SkuId", "string"), ("SkuMeter", "string"),
    ("SkuPriceDetails", "map<string,string>"),
    ("SkuPriceId", "string"), ("SubAccountId", "string"), ("SubAccountName", "string"), ("SubAccountType", "string"),
    ("Tags", "map<string,string>"), ("x_Discounts", "map<string,double>"), ("x_Operation", "string"),
    ("x_ServiceCode", "string"),
)
# FOCUS 1.0 with AWS columns (FOCUS_1_0_AWS): 1.2 added BillingAccountType, CapacityReservation*,
# CommitmentDiscountQuantity/Unit, InvoiceId, PricingCurrency*, ServiceSubcategory, SkuMeter, SkuPriceDetails,
# SubAccountType and dropped AWS's x_CostCategories and x_UsageType (1.2's usage-type grain is SkuMeter).
_FOCUS_1_0_ONLY = (("x_CostCategories", "map<string,string>"), ("x_UsageType", "string"))
_NOT_IN_1_0 = {"BillingAccountType", "CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
               "CommitmentDiscountUnit", "InvoiceId", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
               "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "ServiceSubcategory", "SkuMeter",
               "SkuPriceDetails", "SubAccountType"}
CUR2_COLUMNS: tuple[tuple[str, str], ...] = (
    ("bill_bill_type", "string"), ("bill_billing_entity", "string"), ("bill_billing_period_end_date", "timestamp"),
    ("bill_billing_period_start_date", "timestamp"), ("bill_invoice_id", "string"),
    ("bill_invoicing_entity", "string"), ("bill_payer_account_id", "string"), ("bill_payer_account_name", "string"),
    ("cost_category", "map<string,string>"), ("discount", "map<string,double>"),
    ("identity_line_item_id", "string"), ("identity_time_interval", "string"),
    ("line_item_availability_zone", "string"), ("line_item_currency_code", "string"),
    ("line_item_legal_entity", "string"), ("line_item_line_item_description", "string"),
    ("line_item_line_item_type", "string"), ("line_item_net_unblended_cost", "double"),
    ("line_item_operation", "string"), ("line_item_product_code", "string"), ("line_item_resource_id", "string"),
    ("line_item_unblended_cost", "double"), ("line_item_unblended_rate", "string"),
    ("line_item_usage_account_id", "string"), ("line_item_usage_account_name", "string"),
    ("line_item_usage_amount", "double"), ("line_item_usage_end_date", "timestamp"),
    ("line_item_usage_start_date", "timestamp"), ("line_item_usage_type", "string"),
    ("pricing_public_on_demand_cost", "double"), ("pricing_term", "string"), ("pricing_unit", "string"),
    ("product", "map<string,string>"), ("product_product_family", "string"), ("product_region_code", "string"),
    ("product_servicecode", "string"), ("product_sku", "string"), ("reservation_effective_cost", "double"),
    ("reservation_reservation_a_r_n", "string"),
    ("reservation_unused_amortized_upfront_fee_for_billing_period", "double"),
    ("reservation_unused_recurring_fee", "double"), ("resource_tags", "map<string,string>"),
    ("savings_plan_savings_plan_a_r_n", "string"), ("savings_plan_savings_plan_effective_cost", "double"),
    ("savings_plan_total_commitment_to_date", "double"), ("savings_plan_used_commitment", "double"),
)
FOCUS_1_0_COLUMNS: tuple[tuple[str, str], ...] = tuple(sorted(
    [c for c in FOCUS_COLUMNS if c[0] not in _NOT_IN_1_0] + list(_FOCUS_1_0_ONLY), key=lambda c: c[0].lower()))
COLUMNS = {"focus": FOCUS_COLUMNS, "cur2": CUR2_COLUMNS}
FOCUS_VERSIONS = {"1.2": FOCUS_COLUMNS, "1.0": FOCUS_1_0_COLUMNS}
# The columns that change from day to day (amounts and times); the others depend on the line's series and kind only.
DYNAMIC = frozenset((
    "BilledCost", "EffectiveCost", "ContractedCost", "ListCost", "PricingCurrencyEffectiveCost", "ConsumedQuantity",
    "PricingQuantity", "CommitmentDiscountQuantity", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
    "BillingPeriodEnd", "line_item_net_unblended_cost", "line_item_unblended_cost", "line_item_usage_amount",
    "line_item_usage_start_date", "line_item_usage_end_date", "pricing_public_on_demand_cost",
    "savings_plan_savings_plan_effective_cost", "savings_plan_total_commitment_to_date", "savings_plan_used_commitment",
    "bill_billing_period_start_date", "bill_billing_period_end_date"))
STATS_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "line_item_usage_start_date",
                 "line_item_usage_end_date", "bill_billing_period_start_date")
_ARROW = {"string": pa.string(), "double": pa.float64(), "timestamp": pa.timestamp("ms"),
          "map<string,string>": pa.map_(pa.string(), pa.string()),
          "map<string,double>": pa.map_(pa.string(), pa.float64())}
# The Manifest.json column types (AWS's table dictionary names).
_MANIFEST_TYPE = {"string": "string", "double": "double", "timestamp": "timestamp_milliseconds",
                  "map<string,string>": "map<string,string>", "map<string,double>": "map<string,double>"}


def columns(fmt: str, focus_version: str = "1.2") -> tuple[tuple[str, str], ...]:
    """(column, Glue type) of `fmt`'s files: CUR 2.0, or FOCUS of focus_version (1.2 or 1.0, with AWS columns)."""
    if _check_fmt(fmt) == "cur2":
        return CUR2_COLUMNS
    if focus_version not in FOCUS_VERSIONS:
        raise ValueError(f"focus_version must be one of {tuple(FOCUS_VERSIONS)}, not {focus_version!r}")
    return FOCUS_VERSIONS[focus_version]


def arrow_schema(fmt: str, focus_version: str = "1.2") -> pa.Schema:
    """The Arrow schema of `fmt`'s Parquet files (as read back by pyarrow)."""
    return pa.schema([(name, _ARROW[glue]) for name, glue in columns(fmt, focus_version)])


# --- kinds of line: FOCUS ChargeCategory and CUR 2.0 line_item_line_item_type ---------------------------------------
USAGE, COVERED, FEE, CREDIT, TAX = range(5)
CHARGE_CATEGORY = np.array(["Usage", "Usage", "Purchase", "Credit", "Tax"], dtype=object)
LINE_ITEM_TYPE = np.array(["Usage", "SavingsPlanCoveredUsage", "SavingsPlanRecurringFee", "Credit", "Tax"],
                          dtype=object)
PRICING_CATEGORY = np.array(["Standard", "Committed", "", "", ""], dtype=object)  # usage lines only
CHARGE_FREQUENCY = np.array(["Usage-Based", "Usage-Based", "Recurring", "One-Time", "One-Time"], dtype=object)
SP_RATE = 0.72      # Savings Plan price / on-demand price of covered usage
SP_USED = 0.9       # share of the daily commitment used (the rest is the fee's amortized cost)

# --- catalogues -----------------------------------------------------------------------------------------------------
# (ServiceName, code, ServiceCategory, [(usage type, operation, unit)], resource id pattern)
AWS_SERVICES = (
    ("Amazon Elastic Compute Cloud", "AmazonEC2", "Compute",
     [("BoxUsage:m5.large", "RunInstances", "Hrs"), ("BoxUsage:c6g.xlarge", "RunInstances", "Hrs"),
      ("EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "GB-Mo"), ("DataTransfer-Out-Bytes", "RunInstances", "GB")],
     "arn:aws:ec2:{region}:{account}:instance/i-{hex17}"),
    ("Amazon Simple Storage Service", "AmazonS3", "Storage",
     [("TimedStorage-ByteHrs", "StandardStorage", "GB-Mo"), ("Requests-Tier1", "PutObject", "Requests"),
      ("Requests-Tier2", "GetObject", "Requests")], "arn:aws:s3:::bucket-{hex8}"),
    ("Amazon Relational Database Service", "AmazonRDS", "Databases",
     [("InstanceUsage:db.r6g.large", "CreateDBInstance:0016", "Hrs"), ("RDS:GP3-Storage", "CreateDBInstance:0016",
                                                                        "GB-Mo")],
     "arn:aws:rds:{region}:{account}:db:db-{hex8}"),
    ("AWS Lambda", "AWSLambda", "Compute",
     [("Lambda-GB-Second", "Invoke", "Lambda-GB-Second"), ("Request", "Invoke", "Requests")],
     "arn:aws:lambda:{region}:{account}:function:fn-{hex8}"),
    ("Amazon DynamoDB", "AmazonDynamoDB", "Databases",
     [("ReadRequestUnits", "PayPerRequestThroughput", "ReadRequestUnits"),
      ("TimedStorage-ByteHrs", "StandardStorage", "GB-Mo")], "arn:aws:dynamodb:{region}:{account}:table/t-{hex8}"),
    ("Amazon CloudFront", "AmazonCloudFront", "Networking",
     [("DataTransfer-Out-Bytes", "GET", "GB"), ("Requests-Tier1", "GET", "Requests")],
     "arn:aws:cloudfront::{account}:distribution/E{hex8}"),
    ("Amazon Virtual Private Cloud", "AmazonVPC", "Networking",
     [("NatGateway-Hours", "NatGateway", "Hrs"), ("NatGateway-Bytes", "NatGateway", "GB")],
     "arn:aws:ec2:{region}:{account}:natgateway/nat-{hex17}"),
    ("Elastic Load Balancing", "AWSELB", "Networking",
     [("LoadBalancerUsage", "LoadBalancing:Application", "Hrs"), ("LCUUsage", "LoadBalancing:Application",
                                                                  "LCU-Hrs")],
     "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/lb-{hex8}"),
    ("Amazon CloudWatch", "AmazonCloudWatch", "Management and Governance",
     [("CW:MetricMonitorUsage", "MetricStorage", "Metrics"), ("DataProcessing-Bytes", "PutLogEvents", "GB")],
     "arn:aws:logs:{region}:{account}:log-group:lg-{hex8}"),
    ("Amazon Elastic Container Service for Kubernetes", "AmazonEKS", "Compute",
     [("AmazonEKS-Hours:perCluster", "CreateOperation", "Hrs")], "arn:aws:eks:{region}:{account}:cluster/k-{hex8}"),
    ("Amazon Simple Queue Service", "AWSQueueService", "Integration",
     [("Requests-RBP", "SendMessage", "Requests")], "arn:aws:sqs:{region}:{account}:q-{hex8}"),
    ("AWS Key Management Service", "awskms", "Security",
     [("KMS-Keys", "CreateKey", "Keys"), ("KMS-Requests", "Decrypt", "Requests")],
     "arn:aws:kms:{region}:{account}:key/{hex17}"),
)
AZURE_SERVICES = (
    ("Virtual Machines", "Microsoft.Compute", "Compute", [("D2s v5", "Consumption", "1 Hour")],
     "/subscriptions/{account}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-{hex8}"),
    ("Storage Accounts", "Microsoft.Storage", "Storage", [("Hot LRS Data Stored", "Consumption", "1 GB/Month")],
     "/subscriptions/{account}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st{hex8}"),
    ("Azure SQL Database", "Microsoft.Sql", "Databases", [("vCore", "Consumption", "1 Hour")],
     "/subscriptions/{account}/resourceGroups/rg/providers/Microsoft.Sql/servers/sql-{hex8}"),
    ("Azure Kubernetes Service", "Microsoft.ContainerService", "Compute", [("Uptime SLA", "Consumption", "1 Hour")],
     "/subscriptions/{account}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-{hex8}"),
)
PROVIDER_SERVICES = {"AWS": AWS_SERVICES}
REGIONS = (("us-east-1", "US East (N. Virginia)", "USE1"), ("us-west-2", "US West (Oregon)", "USW2"),
           ("eu-west-1", "Europe (Ireland)", "EU"), ("eu-central-1", "Europe (Frankfurt)", "EUC1"),
           ("ap-southeast-1", "Asia Pacific (Singapore)", "APS1"), ("ap-northeast-1", "Asia Pacific (Tokyo)", "APN1"))
AZURE_REGIONS = (("eastus", "East US", ""), ("westeurope", "West Europe", ""), ("northeurope", "North Europe", ""))
TEAMS = ("payments", "search", "platform", "data", "mobile", "growth", "ml", "security")
ENVS = ("prod", "staging", "dev")
ISSUERS = {"AWS": "Amazon Web Services, Inc.", "Microsoft": "Microsoft"}
SP_SERVICE = ("Savings Plans for AWS Compute usage", "ComputeSavingsPlans", "Compute")


@dataclass
class ExportTruth:
    """What write_export wrote and the exact daily sums of it (from the generated arrays, not from the files).

    daily: one row per (usage_date, provider, currency, service, service_code, account, charge_category,
    line_item_type) with billed (FOCUS BilledCost / CUR line_item_unblended_cost), effective (FOCUS EffectiveCost /
    CUR's amortized cost: covered usage at its Savings Plan cost, the unused part of the fee), net (CUR
    line_item_net_unblended_cost; FOCUS: = billed) and rows. It describes the newest version of each period;
    `superseded` holds the replaced version's rows of a revised period (create_new keeps its files on disk).
    """

    root: Path
    fmt: str
    export_name: str
    periods: list[str]
    data_files: dict[str, list[Path]]            # period -> the newest delivery's files
    manifests: dict[str, Path]
    daily: pd.DataFrame
    superseded: pd.DataFrame | None = None
    stale_files: dict[str, list[Path]] = field(default_factory=dict)  # period -> older deliveries (create_new)
    rows: int = 0

    @property
    def export_dir(self) -> Path:
        """<root>/<export name>: the folder holding data/ and metadata/."""
        return self.root / self.export_name

    def by_service_account(self, exclude: Sequence[str] = (), metric: str = "billed") -> pd.DataFrame:
        """Daily cost per (usage_date, provider, currency, service, account); `exclude` = ChargeCategory or line item
        type values left out (e.g. ("Credit", "Tax")); metric = billed | effective | net. Costs in the currency."""
        d = self.daily
        keep = ~(d["charge_category"].isin(exclude) | d["line_item_type"].isin(exclude))
        keys = ["usage_date", "provider", "currency", "service", "account"]
        out = d[keep].groupby(keys, as_index=False, observed=True)[metric].sum()
        return out.rename(columns={metric: "cost"}).sort_values(keys, ignore_index=True)


def write_export(root: str | Path, fmt: str = "focus", start: date = date(2026, 10, 1), *, days: int | None = None,
                 months: int | None = None, n_accounts: int = 10, n_services: int = 10, n_series: int = 500,
                 rows_per_day: int | None = None, seed: int = 0, export_name: str | None = None,
                 file_format: str = "parquet", layout: str = "overwrite", providers: Sequence[str] = ("AWS",),
                 currencies: Sequence[str] | None = None, revised_period: str | None = None,
                 rows_per_file: int | None = None, partition_key: str = "BILLING_PERIOD",
                 uri_base: str | None = None, focus_tags: str = "map", focus_version: str = "1.2") -> ExportTruth:
    """Write an export of `fmt` (focus | cur2) for [start, start + days) (or `months` whole months from start's month)
    under root/<export_name>, as AWS Data Exports delivers it; return its truth.

    n_series: usage series (distinct account x service x usage type x region x resource x SKU x tags) per provider's
    share; rows_per_day: usage rows a day (default n_series x 24: every series hourly). file_format: parquet |
    csv.gz. layout: overwrite (OVERWRITE_REPORT) | create_new (CREATE_NEW_REPORT: each delivery in its own folder).
    revised_period "YYYY-MM": that period is delivered twice, the second time with changed amounts (with overwrite the
    first delivery's files are replaced). providers (focus only): e.g. ("AWS", "Microsoft"); currencies: one per
    provider (default USD). rows_per_file: start a new chunk (-00002…) past this many rows. uri_base: the prefix the
    manifest's dataFiles are given under (default: each file's file:// URI; "s3://bucket/prefix" for an upload).
    focus_tags: FOCUS Tags in Parquet as "map" (as AWS delivers it) or "json" (a JSON object as text).
    focus_version: "1.2" (FOCUS_1_2_AWS) or "1.0" (FOCUS_1_0_AWS: other columns, see FOCUS_1_0_COLUMNS).
    """
    fmt = _check_fmt(fmt)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    if file_format not in ("parquet", "csv.gz"):
        raise ValueError(f"file_format must be parquet or csv.gz, not {file_format!r}")
    cols = columns(fmt, focus_version)
    if focus_tags not in ("map", "json"):
        raise ValueError(f"focus_tags must be map or json, not {focus_tags!r}")
    providers = tuple(providers)
    if fmt == "cur2" and providers != ("AWS",):
        raise ValueError("CUR 2.0 is AWS's own format: providers must be ('AWS',)")
    currencies = tuple(currencies or ("USD",) * len(providers))
    if len(currencies) != len(providers):
        raise ValueError("one currency per provider")
    if (days is None) == (months is None):
        raise ValueError("give days or months")
    if months is not None:
        start = start.replace(day=1)
        end = _add_months(start, months)
    else:
        end = start + timedelta(days=days)
    root = Path(root)
    name = export_name or f"cost-{fmt}"
    rng = np.random.default_rng(seed)
    cat = _Catalog.build(rng, n_accounts, n_services, n_series, providers, currencies)
    rows_per_day = int(rows_per_day or cat.n_usage * 24)
    base = uri_base.rstrip("/") if uri_base else ""  # "": each file's own file:// URI
    writer = _Writer(fmt=fmt, name=name, file_format=file_format, rows_per_file=rows_per_file,
                     focus_tags=focus_tags, cat=cat, columns=cols)

    periods = _periods(start, end)
    if revised_period is not None and revised_period not in periods:
        raise ValueError(f"revised_period {revised_period!r} is not one of the export's periods {periods}")
    export_dir = root / name
    truths, superseded = [], []
    data_files: dict[str, list[Path]] = {}
    stale: dict[str, list[Path]] = {}
    manifests: dict[str, Path] = {}
    n_rows = 0
    delivered = datetime(end.year, end.month, end.day, 6, tzinfo=timezone.utc)
    for period in periods:
        p_start = date(int(period[:4]), int(period[5:]), 1)
        p_days = [d for d in _days(max(p_start, start), min(_add_months(p_start, 1), end))]
        versions = (0, 1) if period == revised_period else (0,)
        part_dir = export_dir / "data" / f"{partition_key}={period}"
        for version in versions:
            execution = str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63))))
            stamp = (delivered + timedelta(hours=8 * version)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            folder = part_dir / f"{stamp}-{execution}" if layout == "create_new" else part_dir
            if layout == "overwrite" and folder.exists():
                for old in folder.iterdir():  # an overwrite delivery replaces the period's files
                    old.unlink()
            files, daily, rows = writer.write_period(folder, p_start, p_days, rows_per_day, seed, version)
            if version == len(versions) - 1:
                data_files[period] = files
                truths.append(daily)
                n_rows += rows
                manifests[period] = _write_manifest(export_dir, partition_key, period, name, cols, execution,
                                                    files, root, base)
            else:
                superseded.append(daily)
                if layout == "create_new":
                    stale[period] = files
    daily = pd.concat(truths, ignore_index=True)
    return ExportTruth(root=root, fmt=fmt, export_name=name, periods=periods, data_files=data_files,
                       manifests=manifests, daily=daily,
                       superseded=pd.concat(superseded, ignore_index=True) if superseded else None,
                       stale_files=stale, rows=n_rows)


def upload(truth: ExportTruth, s3, bucket: str, prefix: str = "") -> list[str]:
    """Copy the export's folder (data/ and metadata/) to s3://bucket/prefix/<export>/... with an S3 client; returns
    the keys. Write with uri_base=f"s3://{bucket}/{prefix}" for manifests naming the uploaded files."""
    keys = []
    for path in sorted(p for p in truth.export_dir.rglob("*") if p.is_file()):
        key = "/".join(x for x in (prefix.strip("/"), path.relative_to(truth.root).as_posix()) if x)
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


# --- internals ------------------------------------------------------------------------------------------------------

def _check_fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
    return fmt


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def _days(a: date, b: date) -> list[date]:
    return [a + timedelta(days=i) for i in range((b - a).days)]


def _periods(start: date, end: date) -> list[str]:
    out, p = [], start.replace(day=1)
    while p < end:
        out.append(f"{p:%Y-%m}")
        p = _add_months(p, 1)
    return out


def _ms(d: date) -> int:
    return int((d - date(1970, 1, 1)).days) * 86_400_000


def _hex(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    digits = np.array(list("0123456789abcdef"))
    return np.array(["".join(r) for r in digits[rng.integers(0, 16, size=(n, width))]], dtype=object)


@dataclass
class _Catalog:
    """Per-series attributes (index = series); the last rows are the fee series (one per AWS provider)."""

    attrs: dict[str, np.ndarray]
    n_usage: int
    base: np.ndarray           # daily cost level per usage series
    covered: np.ndarray        # bool: usage covered by a Savings Plan
    account_first: np.ndarray  # per (provider, account) row: its first series (tax and credit lines go there)
    fee_series: np.ndarray
    tags: list[dict[str, str]]
    n: int = 0

    @property
    def not_aws(self) -> np.ndarray:
        """Per series: True when its provider is not AWS."""
        return self.attrs["provider"] != "AWS"

    @classmethod
    def build(cls, rng, n_accounts, n_services, n_series, providers, currencies) -> _Catalog:
        """The series of every provider: names, ids, tags and cost levels."""
        cols: dict[str, list] = {k: [] for k in (
            "provider", "currency", "account", "account_name", "payer", "service", "code", "category",
            "usage_type", "operation", "unit", "region", "region_name", "az", "resource", "sku", "sku_price",
            "description", "family", "issuer")}
        tags: list[dict[str, str]] = []
        firsts, fees, covered, base = [], [], [], []
        for p, (provider, currency) in enumerate(zip(providers, currencies, strict=True)):
            services = _services(provider, n_services, rng)
            regions = REGIONS if provider == "AWS" else AZURE_REGIONS
            accounts = ([f"{x:012d}" for x in rng.choice(10**12 - 10**11, n_accounts, replace=False) + 10**11]
                        if provider == "AWS" else [str(uuid.UUID(int=int(x) << 32)) for x in
                                                   rng.choice(2**31, n_accounts, replace=False)])
            payer = accounts[0]
            share = n_series // len(providers) + (1 if p < n_series % len(providers) else 0)
            svc_idx = np.arange(share) % len(services)
            acct_idx = rng.integers(0, n_accounts, share)
            acct_idx[:min(share, n_accounts)] = np.arange(min(share, n_accounts))  # every account has a series
            reg_idx = rng.choice(len(regions), share, p=_weights(len(regions)))
            hex8, hex17 = _hex(rng, share, 8), _hex(rng, share, 17)
            sku_chars = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
            for s in range(share):
                name, code, category, usages, pattern = services[svc_idx[s]]
                utype, op, unit = usages[int(rng.integers(len(usages)))]
                region, region_name, prefix = regions[reg_idx[s]]
                acct = accounts[acct_idx[s]]
                sku = "".join(sku_chars[rng.integers(0, len(sku_chars), 16)])
                cols["provider"].append(provider)
                cols["currency"].append(currency)
                cols["account"].append(acct)
                cols["account_name"].append(f"{provider.lower()}-acct-{acct_idx[s]:02d}")
                cols["payer"].append(payer)
                cols["service"].append(name)
                cols["code"].append(code)
                cols["category"].append(category)
                cols["usage_type"].append(f"{prefix}-{utype}" if prefix else utype)
                cols["operation"].append(op)
                cols["unit"].append(unit)
                cols["region"].append(region)
                cols["region_name"].append(region_name)
                cols["az"].append(f"{region}{'abc'[s % 3]}" if provider == "AWS" else None)
                cols["resource"].append(pattern.format(region=region, account=acct, hex8=hex8[s], hex17=hex17[s]))
                cols["sku"].append(sku)
                cols["sku_price"].append(f"{sku}.JRTCKXETXF.6YS6EN2CT7")
                cols["description"].append(f"{utype} in {region_name}")
                cols["family"].append(category)
                cols["issuer"].append(ISSUERS.get(provider, provider))
                tag = {}
                if rng.random() < 0.8:
                    tag["team"] = TEAMS[int(rng.integers(len(TEAMS)))]
                tag["env"] = ENVS[int(rng.integers(len(ENVS)))]
                if rng.random() < 0.3:
                    tag["cost-center"] = f"cc-{int(rng.integers(100, 110))}"
                tags.append(tag)
                covered.append(provider == "AWS" and code == "AmazonEC2" and rng.random() < 0.3)
                base.append(float(rng.lognormal(1.0, 1.5)))
            offset = len(cols["provider"]) - share
            _, first = np.unique(acct_idx, return_index=True)  # each account's first series
            firsts.extend((offset + first).tolist())
        n_usage = len(cols["provider"])
        for p, provider in enumerate(providers):  # the Savings Plans fee series: the payer's, one per AWS provider
            if provider != "AWS":
                continue
            src = cols["provider"].index(provider)
            for k in cols:
                cols[k].append(cols[k][src])
            cols["service"][-1], cols["code"][-1], cols["category"][-1] = SP_SERVICE
            cols["account"][-1] = cols["payer"][src]
            cols["usage_type"][-1], cols["operation"][-1], cols["unit"][-1] = "ComputeSP:3yrNoUpfront", "", "Hrs"
            cols["region"][-1], cols["region_name"][-1], cols["az"][-1] = "", "", None
            cols["resource"][-1] = f"arn:aws:savingsplans::{cols['payer'][src]}:savingsplan/{uuid.UUID(int=p)}"
            cols["description"][-1] = "Compute Savings Plan recurring fee"
            tags.append({})
            fees.append(len(cols["provider"]) - 1)
        attrs = {k: np.array(v, dtype=object) for k, v in cols.items()}
        return cls(attrs=attrs, n_usage=n_usage, base=np.array(base), covered=np.array(covered, dtype=bool),
                   account_first=np.array(firsts), fee_series=np.array(fees, dtype=np.int64), tags=tags,
                   n=len(attrs["provider"]))


def _services(provider: str, n: int, rng) -> list[tuple]:
    """n services of `provider`: the catalogue's first, then synthetic ones past its end."""
    known = list(AWS_SERVICES if provider == "AWS" else AZURE_SERVICES)
    out = known[:n]
    for i in range(len(out), n):
        tmpl = known[i % len(known)]
        out.append((f"{tmpl[0]} {i // len(known) + 1}", f"{tmpl[1]}{i // len(known) + 1}", tmpl[2], tmpl[3], tmpl[4]))
    return out


def _weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1)
    return w / w.sum()


class _Writer:
    """Writes one period's days into chunk files; builds the columns from per-series dictionaries."""

    def __init__(self, *, fmt, name, file_format, rows_per_file, focus_tags, cat: _Catalog, columns):
        self.fmt, self.name, self.file_format = fmt, name, file_format
        self.rows_per_file, self.focus_tags, self.cat = rows_per_file, focus_tags, cat
        self.schema = pa.schema([(n, _ARROW[t]) for n, t in columns])
        if fmt == "focus" and focus_tags == "json":
            self.schema = self.schema.set(self.schema.get_field_index("Tags"), pa.field("Tags", pa.string()))
        self.csv = file_format == "csv.gz"
        self._dicts: dict[str, tuple[pa.Array, np.ndarray]] = {}
        self._static: dict[str, pa.Array] | None = None  # the usage rows' columns that are the same every day
        a = cat.attrs
        prefix = "user_" if fmt == "cur2" else ""
        self.tag_json = pa.array([json.dumps({prefix + k: v for k, v in t.items()}) for t in cat.tags])
        self.tag_map = pa.array([[(prefix + k, v) for k, v in t.items()] for t in cat.tags],
                                type=pa.map_(pa.string(), pa.string()))
        self.product_map = pa.array([[("product_name", s), ("region", r)]
                                     for s, r in zip(a["service"], a["region"], strict=True)],
                                    type=pa.map_(pa.string(), pa.string()))
        self.product_json = pa.array([json.dumps({"product_name": s, "region": r})
                                      for s, r in zip(a["service"], a["region"], strict=True)])

    # per-series attribute -> dictionary array for the rows (unique dictionary, codes per series)
    def _dict(self, attr: str, series: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
        if attr not in self._dicts:
            values = self.cat.attrs[attr]
            present = np.array([v is not None for v in values])
            uniq, codes = np.unique(np.where(present, values, ""), return_inverse=True)
            codes = np.where(present, codes, -1).astype(np.int32)
            self._dicts[attr] = (pa.array(uniq.tolist(), pa.string()), codes)
        dictionary, codes = self._dicts[attr]
        idx = codes[series]
        mask = idx < 0
        if null is not None:
            mask = mask | null
        arr = pa.DictionaryArray.from_arrays(pa.array(idx, mask=mask if mask.any() else None), dictionary)
        return arr.cast(pa.string()) if self.csv else arr

    def _const(self, value: str | None, n: int, keep: np.ndarray | None = None) -> pa.Array:
        """`value` on every row (where keep), else null."""
        if value is None:
            return pa.nulls(n, pa.string())
        mask = None if keep is None else ~keep
        arr = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32), mask=mask), pa.array([value]))
        return arr.cast(pa.string()) if self.csv else arr

    @staticmethod
    def _take(arr: pa.Array, series: np.ndarray) -> pa.Array:
        return arr.take(pa.array(series))

    def write_period(self, folder: Path, p_start: date, p_days: list[date], rows_per_day: int, seed: int,
                     version: int) -> tuple[list[Path], pd.DataFrame, int]:
        """Write the period's days under folder; return the files, the truth frame and the row count."""
        folder.mkdir(parents=True, exist_ok=True)
        p_end = _add_months(p_start, 1)
        files: list[Path] = []
        truth: list[dict] = []
        sink = None
        in_file = 0
        total = 0
        for day in p_days:
            # Each day draws from its own stream; a revision (version 1) changes usage amounts, never the lines.
            rng = np.random.default_rng([seed, day.toordinal()])
            revision = np.random.default_rng([seed, day.toordinal(), version]) if version else None
            cols = self._day(rng, revision, day, p_end, rows_per_day)
            # Two row groups a day: the usage lines, whose text columns are the same every day (built once), then
            # the day's fees, credits and taxes.
            usage = {k: v[:rows_per_day] for k, v in cols.items()}
            other = {k: v[rows_per_day:] for k, v in cols.items()}
            if self._static is None:
                arrays = self._arrays(usage, p_start, p_end)
                self._static = {k: v for k, v in arrays.items() if k not in DYNAMIC}
            else:
                arrays = self._static | self._arrays(usage, p_start, p_end, only=DYNAMIC)
            tables = [self._table(arrays, rows_per_day), self._table(self._arrays(other, p_start, p_end),
                                                                     len(other["series"]))]
            rows = sum(t.num_rows for t in tables)
            if sink is None or (self.rows_per_file and in_file + rows > self.rows_per_file and in_file):
                if sink is not None:
                    sink.close()
                path = folder / f"{self.name}-{len(files) + 1:05d}.{'csv.gz' if self.csv else 'snappy.parquet'}"
                files.append(path)
                sink = _Sink(path, tables[0].schema, self.csv)
                in_file = 0
            for table in tables:
                sink.write(table)
            in_file += rows
            total += rows
            truth.append(self._truth(cols, day))
        if sink is not None:
            sink.close()
        return files, self._truth_frame(truth), total

    def _table(self, arrays: dict[str, pa.Array], n: int) -> pa.Table:
        """The columns in the schema's order; a column not generated is all null (as in a real export)."""
        out = []
        for fld in self.schema:
            arr = arrays.get(fld.name)
            if arr is None:
                arr = pa.nulls(n, pa.string() if self.csv and pa.types.is_map(fld.type) else fld.type)
            out.append(arr)
        return pa.table(out, names=self.schema.names)

    def _day(self, rng: np.random.Generator, revision: np.random.Generator | None, day: date, p_end: date,
             rows_per_day: int) -> dict:
        """The day's rows as numpy arrays: series, kind, start/end (ms), amount, billed, effective, net, quantity;
        the first rows_per_day are usage lines, then the fees, credits and taxes."""
        cat = self.cat
        r = np.arange(rows_per_day, dtype=np.int64)
        series = r % cat.n_usage
        hour = (r // cat.n_usage + series * 7) % 24
        weekday = 0.85 if day.weekday() >= 5 else 1.0
        level = cat.base[series] * weekday * cat.n_usage / rows_per_day  # the series' day spread over its rows
        amount = np.round(np.maximum(level * (1 + 0.25 * rng.standard_normal(rows_per_day)), 0), DECIMALS)
        if revision is not None:  # a revised delivery: the same lines, late usage re-rated
            amount = np.round(amount * (1 + 0.1 * revision.random(rows_per_day)), DECIMALS)
        kind = np.where(cat.covered[series], COVERED, USAGE).astype(np.int8)
        extra_series, extra_kind, extra_amount = [], [], []
        if len(cat.fee_series):  # the Savings Plans fee, once a day
            extra_series.append(cat.fee_series)
            extra_kind.append(np.full(len(cat.fee_series), FEE, np.int8))
            extra_amount.append(np.round(rng.uniform(50, 200, len(cat.fee_series)), DECIMALS))
        accts = cat.account_first
        credited = accts[rng.random(len(accts)) < 0.3]  # credits on some accounts
        extra_series.append(credited)
        extra_kind.append(np.full(len(credited), CREDIT, np.int8))
        extra_amount.append(-np.round(rng.uniform(0.5, 20, len(credited)), DECIMALS))
        if day.day == 1:  # one tax line per account on the 1st
            extra_series.append(accts)
            extra_kind.append(np.full(len(accts), TAX, np.int8))
            extra_amount.append(np.round(rng.uniform(10, 500, len(accts)), DECIMALS))
        ex_series = np.concatenate(extra_series).astype(np.int64)
        series = np.concatenate([series, ex_series])
        kind = np.concatenate([kind, *extra_kind])
        amount = np.concatenate([amount, *extra_amount])
        hour = np.concatenate([hour, np.zeros(len(ex_series), np.int64)])
        start = _ms(day) + hour * 3_600_000
        end = start + 3_600_000
        end = np.where(kind == TAX, _ms(p_end), end)
        # billed: FOCUS BilledCost / CUR unblended; effective: amortized.
        if self.fmt == "focus":
            billed = np.where(kind == COVERED, 0.0, amount)  # covered usage is paid by the plan's fee
        else:
            billed = amount  # CUR shows covered usage at its on-demand cost (negation lines omitted)
        effective = np.where(kind == COVERED, np.round(amount * SP_RATE, DECIMALS),
                             np.where(kind == FEE, np.round(amount * (1 - SP_USED), DECIMALS), amount))
        quantity = np.round(np.abs(amount) * 3.7, 6)
        return {"series": series, "kind": kind, "start": start, "end": end, "amount": amount, "billed": billed,
                "effective": effective, "net": billed, "quantity": quantity,
                "sp_used": np.round(amount * SP_USED, DECIMALS)}

    def _truth(self, c: dict, day: date) -> dict:
        """The day's sums per (series, kind), with numpy bincount."""
        key = c["series"] * 5 + c["kind"]
        n = self.cat.n * 5
        rows = np.bincount(key, minlength=n)
        hit = np.flatnonzero(rows)
        out = {m: np.bincount(key, weights=c[m], minlength=n)[hit] for m in ("billed", "effective", "net")}
        return out | {"hit": hit, "rows": rows[hit], "usage_date": np.full(len(hit), day)}

    def _truth_frame(self, parts: list[dict]) -> pd.DataFrame:
        """The period's day x (series, kind) sums, summed per (provider, currency, service, account, kind)."""
        p = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
        s, k = p["hit"] // 5, p["hit"] % 5
        a = self.cat.attrs
        frame = pd.DataFrame({
            "usage_date": p["usage_date"], "provider": a["provider"][s], "currency": a["currency"][s],
            "service": a["service"][s], "service_code": a["code"][s], "account": a["account"][s],
            "charge_category": CHARGE_CATEGORY[k], "line_item_type": LINE_ITEM_TYPE[k],
            "billed": p["billed"], "effective": p["effective"], "net": p["net"], "rows": p["rows"]})
        keys = ["usage_date", "provider", "currency", "service", "service_code", "account", "charge_category",
                "line_item_type"]
        return frame.groupby(keys, as_index=False, sort=True)[["billed", "effective", "net", "rows"]].sum()

    def _arrays(self, c: dict, p_start: date, p_end: date, only: frozenset[str] | None = None) -> dict[str, pa.Array]:
        """The columns of rows `c` (only those named in `only`, when given)."""
        makers = self._focus(c, p_start, p_end) if self.fmt == "focus" else self._cur2(c, p_start, p_end)
        return {name: make() for name, make in makers.items() if only is None or name in only}

    def _ts(self, ms) -> pa.Array:
        return pa.array(np.broadcast_to(np.asarray(ms, dtype="int64"), self._n).astype("datetime64[ms]"))

    def _tags(self, series: np.ndarray, as_map: bool) -> pa.Array:
        return self._take(self.tag_map if as_map and not self.csv else self.tag_json, series)

    def _focus(self, c: dict, p_start: date, p_end: date) -> dict[str, Callable[[], pa.Array]]:
        s, kind = c["series"], c["kind"]
        self._n = n = len(s)
        not_usage = kind >= FEE
        covered = kind == COVERED
        committed = covered | (kind == FEE)
        not_aws = self.cat.not_aws[s]  # x_ columns are AWS's extensions
        d = self._dict
        sp_arn = self.cat.attrs["resource"][self.cat.fee_series[0]] if len(self.cat.fee_series) else None
        cols = {
            "AvailabilityZone": lambda: d("az", s, not_usage),
            "BilledCost": lambda: pa.array(c["billed"]),
            "BillingAccountId": lambda: d("payer", s),
            "BillingAccountName": lambda: self._const("payer-org", n),
            "BillingAccountType": lambda: self._const("Billing Account", n),
            "BillingCurrency": lambda: d("currency", s),
            "BillingPeriodEnd": lambda: self._ts(_ms(p_end)),
            "BillingPeriodStart": lambda: self._ts(_ms(p_start)),
            "ChargeCategory": lambda: _dict_of(CHARGE_CATEGORY, kind, self.csv),
            "ChargeClass": lambda: pa.nulls(n, pa.string()),
            "ChargeDescription": lambda: d("description", s),
            "ChargeFrequency": lambda: _dict_of(CHARGE_FREQUENCY, kind, self.csv),
            "ChargePeriodEnd": lambda: self._ts(c["end"]),
            "ChargePeriodStart": lambda: self._ts(c["start"]),
            "CommitmentDiscountCategory": lambda: self._const("Spend", n, committed),
            "CommitmentDiscountId": lambda: self._const(sp_arn, n, committed),
            "CommitmentDiscountName": lambda: pa.nulls(n, pa.string()),
            "CommitmentDiscountQuantity": lambda: _num(c["quantity"], committed),
            "CommitmentDiscountStatus": lambda: self._const("Used", n, covered),
            "CommitmentDiscountType": lambda: self._const("Compute Savings Plans", n, committed),
            "CommitmentDiscountUnit": lambda: self._const("USD", n, committed),
            "ConsumedQuantity": lambda: _num(c["quantity"], kind <= COVERED),
            "ConsumedUnit": lambda: d("unit", s, not_usage),
            "ContractedCost": lambda: pa.array(c["amount"]),
            "ContractedUnitPrice": lambda: pa.nulls(n, pa.float64()),
            "EffectiveCost": lambda: pa.array(c["effective"]),
            "InvoiceId": lambda: pa.nulls(n, pa.string()),
            "InvoiceIssuerName": lambda: d("issuer", s),
            "ListCost": lambda: pa.array(c["amount"]),
            "ListUnitPrice": lambda: pa.nulls(n, pa.float64()),
            "PricingCategory": lambda: _dict_of(PRICING_CATEGORY, kind, self.csv, kind <= COVERED),
            "PricingCurrency": lambda: d("currency", s),
            "PricingCurrencyContractedUnitPrice": lambda: pa.nulls(n, pa.float64()),
            "PricingCurrencyEffectiveCost": lambda: pa.array(c["effective"]),
            "PricingCurrencyListUnitPrice": lambda: pa.nulls(n, pa.float64()),
            "PricingQuantity": lambda: _num(c["quantity"], kind <= COVERED),
            "PricingUnit": lambda: d("unit", s, not_usage),
            "ProviderName": lambda: d("provider", s),
            "PublisherName": lambda: d("issuer", s),
            "RegionId": lambda: d("region", s, not_usage),
            "RegionName": lambda: d("region_name", s, not_usage),
            "ResourceId": lambda: d("resource", s, (kind >= CREDIT)),
            "ResourceName": lambda: pa.nulls(n, pa.string()),
            "ResourceType": lambda: pa.nulls(n, pa.string()),
            "ServiceCategory": lambda: d("category", s),
            "ServiceName": lambda: d("service", s),
            "ServiceSubcategory": lambda: pa.nulls(n, pa.string()),
            "SkuId": lambda: d("sku", s, not_usage),
            "SkuMeter": lambda: d("usage_type", s, not_usage),
            "SkuPriceDetails": lambda: pa.nulls(n, pa.string() if self.csv else _ARROW["map<string,string>"]),
            "SkuPriceId": lambda: d("sku_price", s, not_usage),
            "SubAccountId": lambda: d("account", s),
            "SubAccountName": lambda: d("account_name", s),
            "SubAccountType": lambda: self._const("Linked Account", n),
            "Tags": lambda: self._tags(s, self.focus_tags == "map"),
            "x_Discounts": lambda: pa.nulls(n, pa.string() if self.csv else _ARROW["map<string,double>"]),
            "x_Operation": lambda: d("operation", s, not_usage | not_aws),
            "x_ServiceCode": lambda: d("code", s, not_aws),
            "x_UsageType": lambda: d("usage_type", s, not_usage | not_aws),
        }
        return cols

    def _cur2(self, c: dict, p_start: date, p_end: date) -> dict[str, Callable[[], pa.Array]]:
        s, kind = c["series"], c["kind"]
        self._n = n = len(s)
        not_usage = kind >= FEE
        covered = kind == COVERED
        fee = kind == FEE
        d = self._dict
        sp_arn = self.cat.attrs["resource"][self.cat.fee_series[0]]
        mapnull = pa.string() if self.csv else _ARROW["map<string,string>"]
        cols = {
            "bill_bill_type": lambda: self._const("Anniversary", n),
            "bill_billing_entity": lambda: self._const("AWS", n),
            "bill_billing_period_end_date": lambda: self._ts(_ms(p_end)),
            "bill_billing_period_start_date": lambda: self._ts(_ms(p_start)),
            "bill_invoice_id": lambda: pa.nulls(n, pa.string()),
            "bill_invoicing_entity": lambda: self._const("Amazon Web Services, Inc.", n),
            "bill_payer_account_id": lambda: d("payer", s),
            "bill_payer_account_name": lambda: self._const("payer-org", n),
            "cost_category": lambda: pa.nulls(n, mapnull),
            "discount": lambda: pa.nulls(n, pa.string() if self.csv else _ARROW["map<string,double>"]),
            "identity_line_item_id": lambda: pa.nulls(n, pa.string()),
            "identity_time_interval": lambda: pa.nulls(n, pa.string()),
            "line_item_availability_zone": lambda: d("az", s, not_usage),
            "line_item_currency_code": lambda: d("currency", s),
            "line_item_legal_entity": lambda: self._const("Amazon Web Services, Inc.", n),
            "line_item_line_item_description": lambda: d("description", s),
            "line_item_line_item_type": lambda: _dict_of(LINE_ITEM_TYPE, kind, self.csv),
            "line_item_net_unblended_cost": lambda: pa.array(c["net"]),
            "line_item_operation": lambda: d("operation", s, kind >= CREDIT),
            "line_item_product_code": lambda: d("code", s),
            "line_item_resource_id": lambda: d("resource", s, kind >= CREDIT),
            "line_item_unblended_cost": lambda: pa.array(c["billed"]),
            "line_item_unblended_rate": lambda: pa.nulls(n, pa.string()),
            "line_item_usage_account_id": lambda: d("account", s),
            "line_item_usage_account_name": lambda: d("account_name", s),
            "line_item_usage_amount": lambda: pa.array(c["quantity"]),
            "line_item_usage_end_date": lambda: self._ts(c["end"]),
            "line_item_usage_start_date": lambda: self._ts(c["start"]),
            "line_item_usage_type": lambda: d("usage_type", s, kind >= CREDIT),
            "pricing_public_on_demand_cost": lambda: pa.array(c["amount"]),
            "pricing_term": lambda: self._const("OnDemand", n, kind == USAGE),
            "pricing_unit": lambda: d("unit", s, not_usage),
            "product": lambda: self._take(self.product_json if self.csv else self.product_map, s),
            "product_product_family": lambda: d("family", s, not_usage),
            "product_region_code": lambda: d("region", s, not_usage),
            "product_servicecode": lambda: d("code", s),
            "product_sku": lambda: d("sku", s, not_usage),
            "reservation_effective_cost": lambda: pa.array(np.zeros(n)),
            "reservation_reservation_a_r_n": lambda: self._const("", n),
            "reservation_unused_amortized_upfront_fee_for_billing_period": lambda: pa.array(np.zeros(n)),
            "reservation_unused_recurring_fee": lambda: pa.array(np.zeros(n)),
            "resource_tags": lambda: self._tags(s, True),
            "savings_plan_savings_plan_a_r_n": lambda: self._const(sp_arn, n, covered | fee),
            "savings_plan_savings_plan_effective_cost": lambda: pa.array(np.where(covered, c["effective"], 0.0)),
            "savings_plan_total_commitment_to_date": lambda: pa.array(np.where(fee, c["amount"], 0.0)),
            "savings_plan_used_commitment": lambda: pa.array(np.where(fee, c["sp_used"], 0.0)),
        }
        return cols


def _dict_of(values: np.ndarray, codes: np.ndarray, csv: bool, keep: np.ndarray | None = None) -> pa.Array:
    """values[codes] as a dictionary array (null where not keep)."""
    uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    idx = pa.array(inverse[codes].astype(np.int32), mask=None if keep is None else ~keep)
    arr = pa.DictionaryArray.from_arrays(idx, pa.array(uniq.tolist(), pa.string()))
    return arr.cast(pa.string()) if csv else arr


def _num(values: np.ndarray, keep: np.ndarray | None = None) -> pa.Array:
    """A double column (null where not keep)."""
    return pa.array(values, pa.float64(), mask=None if keep is None else ~keep)


class _Sink:
    """One chunk file: a Parquet writer (snappy, a row group per day) or a gzip CSV writer."""

    def __init__(self, path: Path, schema: pa.Schema, csv: bool):
        self.csv = csv
        if csv:
            self._raw = gzip.open(path, "wb", compresslevel=1)
            self._w = pacsv.CSVWriter(self._raw, schema)
        else:
            # Dictionary pages for the text columns only, and min/max statistics only where readers prune on them
            # (the charge period): all statistics would double the write time.
            text = [f.name for f in schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)]
            stats = [n for n in schema.names if n in STATS_COLUMNS]
            self._w = pq.ParquetWriter(path, schema, compression="snappy", store_schema=False, use_dictionary=text,
                                       write_statistics=stats)

    def write(self, table: pa.Table) -> None:
        if self.csv:
            self._w.write_table(table)
        else:
            self._w.write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> None:
        self._w.close()
        if self.csv:
            self._raw.close()


def _write_manifest(export_dir: Path, key: str, period: str, name: str, cols, execution: str,
                    files: list[Path], root: Path, base: str) -> Path:
    """metadata/<key>=<period>/<name>-Manifest.json as Data Exports writes it after the data files."""
    folder = export_dir / "metadata" / f"{key}={period}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "executionId": execution,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:111122223333:export/{name}-{execution[:8]}",
        "columns": [{"name": c, "type": _MANIFEST_TYPE[t]} for c, t in cols],
        "dataFiles": [f"{base}/{f.resolve().relative_to(root.resolve()).as_posix()}" if base else f.resolve().as_uri()
                      for f in files],
        "additionalOutputFiles": [],
    }
    path = folder / f"{name}-Manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path
