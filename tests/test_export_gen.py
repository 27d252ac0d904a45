"""The export generator (tests/export_gen.py) writes what AWS Data Exports writes and knows its exact sums; the deploy
files (Athena DDL, workgroup, IAM policies) agree with it and with the source's needs."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from tests.export_gen import COLUMNS, arrow_schema, upload, write_export

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(n_accounts=3, n_services=4, n_series=12)
START = date(2026, 10, 30)  # 3 days: the end of October and November 1st (a tax day)
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def read_back(files: list[Path], fmt: str, csv: bool) -> pd.DataFrame:
    """The written rows (pyarrow), with the keys and amounts the truth is about; CUR's amortized cost from its own
    columns (AWS's formula), never from the generator."""
    if csv:
        tables = [pacsv.read_csv(gzip.open(f)) for f in files]
    else:
        tables = [pq.read_table(f) for f in files]
    df = pa.concat_tables(tables).to_pandas()
    if fmt == "focus":
        return pd.DataFrame({
            "usage_date": pd.to_datetime(df["ChargePeriodStart"]).dt.date, "provider": df["ProviderName"],
            "currency": df["BillingCurrency"], "service": df["ServiceName"], "account": df["SubAccountId"].astype(str),
            "kind": df["ChargeCategory"], "billed": df["BilledCost"], "effective": df["EffectiveCost"]})
    product = (df["product"].map(lambda p: json.loads(p)["product_name"]) if csv
               else df["product"].map(lambda p: dict(p)["product_name"]))
    kind = df["line_item_line_item_type"]
    effective = np.select(
        [kind == "SavingsPlanCoveredUsage", kind == "SavingsPlanRecurringFee"],
        [df["savings_plan_savings_plan_effective_cost"],
         df["savings_plan_total_commitment_to_date"] - df["savings_plan_used_commitment"]],
        df["line_item_unblended_cost"])
    return pd.DataFrame({
        "usage_date": pd.to_datetime(df["line_item_usage_start_date"]).dt.date, "provider": "AWS",
        "currency": df["line_item_currency_code"], "service": product,
        "account": df["line_item_usage_account_id"].astype(str), "kind": kind,
        "billed": df["line_item_unblended_cost"], "effective": effective})


def sums(df: pd.DataFrame, kind_col: str) -> pd.DataFrame:
    keys = ["usage_date", "provider", "currency", "service", "account", kind_col]
    out = df.groupby(keys, as_index=False)[["billed", "effective"]].sum()
    return out.rename(columns={kind_col: "kind"}).sort_values(keys[:-1] + ["kind"], ignore_index=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- layout ---------------------------------------------------------------------------------------------------------

def test_overwrite_layout_is_one_folder_per_billing_period_with_numbered_chunks_and_a_manifest(tmp_path):
    truth = write_export(tmp_path, "focus", START, days=3, seed=1, rows_per_file=300, **SMALL)
    export = tmp_path / "cost-focus"
    assert truth.periods == ["2026-10", "2026-11"]
    for period in truth.periods:
        files = sorted((export / "data" / f"BILLING_PERIOD={period}").iterdir())
        assert [f.name for f in files] == [f"cost-focus-{i:05d}.snappy.parquet" for i in range(1, len(files) + 1)]
        assert len(files) == (2 if period == "2026-10" else 1)  # a new chunk past 300 rows (at a day's end)
        manifest = json.loads((export / "metadata" / f"BILLING_PERIOD={period}" / "cost-focus-Manifest.json")
                              .read_text())
        assert manifest["dataFiles"] == [f.resolve().as_uri() for f in files]
        assert [c["name"] for c in manifest["columns"]] == [n for n, _ in COLUMNS["focus"]]
        assert re.fullmatch(UUID, manifest["executionId"])
    assert sum(pq.ParquetFile(f).metadata.num_rows for fs in truth.data_files.values() for f in fs) == truth.rows


def test_create_new_layout_keeps_each_delivery_in_its_own_folder_and_the_manifest_names_the_newest(tmp_path):
    truth = write_export(tmp_path, "cur2", START, days=3, seed=2, layout="create_new", revised_period="2026-10",
                         uri_base="s3://bucket/exports", **SMALL)
    part = tmp_path / "cost-cur2" / "data" / "BILLING_PERIOD=2026-10"
    deliveries = sorted(p.name for p in part.iterdir())
    assert len(deliveries) == 2
    assert all(re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z-{UUID}", d) for d in deliveries)
    manifest = json.loads((tmp_path / "cost-cur2" / "metadata" / "BILLING_PERIOD=2026-10" / "cost-cur2-Manifest.json")
                          .read_text())
    newest = deliveries[-1]  # the timestamp prefix orders the deliveries
    assert manifest["dataFiles"] == [f"s3://bucket/exports/cost-cur2/data/BILLING_PERIOD=2026-10/{newest}/"
                                     "cost-cur2-00001.snappy.parquet"]
    assert newest.endswith(manifest["executionId"])
    assert [f.parent.name for f in truth.stale_files["2026-10"]] == [deliveries[0]]


def test_partition_key_spelling_and_export_name_are_choices(tmp_path):
    write_export(tmp_path, "focus", START, days=1, export_name="my-focus", partition_key="billing_period", **SMALL)
    assert (tmp_path / "my-focus" / "data" / "billing_period=2026-10" / "my-focus-00001.snappy.parquet").is_file()
    assert (tmp_path / "my-focus" / "metadata" / "billing_period=2026-10" / "my-focus-Manifest.json").is_file()


# --- schema -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["focus", "cur2"])
def test_parquet_files_have_the_formats_columns_and_types(tmp_path, fmt):
    truth = write_export(tmp_path, fmt, START, days=2, **SMALL)
    schema = pq.read_schema(truth.data_files["2026-10"][0])
    assert schema.names == [n for n, _ in COLUMNS[fmt]]
    assert schema.equals(arrow_schema(fmt))
    assert pq.ParquetFile(truth.data_files["2026-10"][0]).metadata.row_group(0).column(0).compression == "SNAPPY"


@pytest.mark.parametrize("fmt", ["focus", "cur2"])
def test_csv_exports_have_the_same_header_and_maps_as_json(tmp_path, fmt):
    truth = write_export(tmp_path, fmt, START, days=1, file_format="csv.gz", **SMALL)
    [path] = truth.data_files["2026-10"]
    assert path.name == f"cost-{fmt}-00001.csv.gz"
    table = pacsv.read_csv(gzip.open(path))
    assert table.column_names == [n for n, _ in COLUMNS[fmt]]
    tags = table.column("Tags" if fmt == "focus" else "resource_tags").to_pylist()
    parsed = [json.loads(t) for t in tags]
    key = "env" if fmt == "focus" else "user_env"
    assert any(parsed) and all(key in t for t in parsed if t)  # every tagged series has an env tag


def test_focus_1_0_has_its_own_columns_and_the_same_sums(tmp_path):
    v10 = write_export(tmp_path / "a", "focus", START, days=3, seed=9, focus_version="1.0", **SMALL)
    v12 = write_export(tmp_path / "b", "focus", START, days=3, seed=9, **SMALL)
    names10 = pq.read_schema(v10.data_files["2026-10"][0]).names
    names12 = pq.read_schema(v12.data_files["2026-10"][0]).names
    assert set(names10) - set(names12) == {"x_UsageType", "x_CostCategories"}
    assert {"SkuMeter", "BillingAccountType", "ServiceSubcategory"} <= set(names12) - set(names10)
    assert [c["name"] for c in json.loads(v10.manifests["2026-10"].read_text())["columns"]] == names10
    usage_types = pq.read_table(v10.data_files["2026-10"][0], columns=["x_UsageType", "ChargeCategory"]).to_pandas()
    assert usage_types.loc[usage_types["ChargeCategory"] == "Usage", "x_UsageType"].notna().all()
    pd.testing.assert_frame_equal(v10.daily, v12.daily)  # the same lines, whatever the columns


def test_focus_tags_are_a_map_by_default_and_json_text_on_request(tmp_path):
    as_map = write_export(tmp_path / "m", "focus", START, days=1, **SMALL)
    as_json = write_export(tmp_path / "j", "focus", START, days=1, focus_tags="json", **SMALL)
    maps = pq.read_table(as_map.data_files["2026-10"][0], columns=["Tags"]).column(0).to_pylist()
    texts = pq.read_table(as_json.data_files["2026-10"][0], columns=["Tags"]).column(0).to_pylist()
    assert [dict(m) for m in maps] == [json.loads(t) for t in texts]
    cur = write_export(tmp_path / "c", "cur2", START, days=1, **SMALL)
    keys = {k for m in pq.read_table(cur.data_files["2026-10"][0], columns=["resource_tags"]).column(0).to_pylist()
            for k, _ in m}
    assert keys and all(k.startswith("user_") for k in keys)  # CUR 2.0 keys user-defined tags as user_<key>


# --- truth ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,file_format", [("focus", "parquet"), ("cur2", "parquet"), ("focus", "csv.gz"),
                                             ("cur2", "csv.gz")])
def test_truth_equals_a_groupby_of_the_written_files_to_the_cent(tmp_path, fmt, file_format):
    truth = write_export(tmp_path, fmt, START, days=3, seed=3, file_format=file_format, **SMALL)
    files = [f for fs in truth.data_files.values() for f in fs]
    got = sums(read_back(files, fmt, file_format == "csv.gz"), "kind")
    kind_col = "charge_category" if fmt == "focus" else "line_item_type"
    want = sums(truth.daily, kind_col)
    assert len(got) == len(want)
    assert (got[["usage_date", "provider", "currency", "service", "account", "kind"]]
            .equals(want[["usage_date", "provider", "currency", "service", "account", "kind"]]))
    np.testing.assert_allclose(got["billed"], want["billed"], atol=0.005, rtol=0)
    np.testing.assert_allclose(got["effective"], want["effective"], atol=0.005, rtol=0)
    assert truth.daily["rows"].sum() == truth.rows == len(read_back(files, fmt, file_format == "csv.gz"))


def test_by_service_account_leaves_out_the_named_charge_categories(tmp_path):
    truth = write_export(tmp_path, "focus", START, days=3, seed=4, **SMALL)
    df = read_back([f for fs in truth.data_files.values() for f in fs], "focus", False)
    usage = df[~df["kind"].isin(["Credit", "Tax"])]
    want = usage.groupby(["usage_date", "service", "account"])["billed"].sum()
    got = truth.by_service_account(exclude=("Credit", "Tax")).set_index(["usage_date", "service", "account"])["cost"]
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False, atol=0.005, rtol=0)


def test_amounts_have_at_most_ten_decimals_credits_are_negative_and_tax_is_billed_once_per_account_on_the_1st(
        tmp_path):
    truth = write_export(tmp_path, "focus", START, days=3, seed=5, **SMALL)
    df = pd.concat([pq.read_table(f).to_pandas() for fs in truth.data_files.values() for f in fs])
    cost = df["BilledCost"].to_numpy()
    assert np.array_equal(np.round(cost, 10), cost)
    assert (np.round(cost * 1e4) != cost * 1e4).any()  # more than 4 decimals somewhere
    credits = df[df["ChargeCategory"] == "Credit"]
    assert len(credits) and (credits["BilledCost"] < 0).all()
    tax = df[df["ChargeCategory"] == "Tax"]
    assert set(tax["ChargePeriodStart"].dt.date) == {date(2026, 11, 1)}
    assert sorted(tax["SubAccountId"]) == sorted(df["SubAccountId"].unique())
    assert {"Usage", "Purchase", "Credit", "Tax"} == set(df["ChargeCategory"])
    hours = df.loc[df["ChargeCategory"] == "Usage", "ChargePeriodStart"].dt.hour
    assert hours.nunique() == 24  # hourly rows


# --- options ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["focus", "cur2"])
def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_amounts(tmp_path, fmt):
    a = write_export(tmp_path / "a", fmt, START, days=3, seed=7, **SMALL)
    b = write_export(tmp_path / "b", fmt, START, days=3, seed=7, **SMALL)
    c = write_export(tmp_path / "c", fmt, START, days=3, seed=8, **SMALL)
    files = [(fa, fb) for p in a.periods for fa, fb in zip(a.data_files[p], b.data_files[p], strict=True)]
    assert all(digest(fa) == digest(fb) for fa, fb in files)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    assert json.loads(a.manifests["2026-10"].read_text())["executionId"] == \
        json.loads(b.manifests["2026-10"].read_text())["executionId"]
    assert digest(a.data_files["2026-10"][0]) != digest(c.data_files["2026-10"][0])


def test_two_providers_keep_their_own_services_accounts_and_currency(tmp_path):
    truth = write_export(tmp_path, "focus", START, days=2, providers=("AWS", "Microsoft"),
                         currencies=("USD", "EUR"), **SMALL)
    df = pq.read_table(truth.data_files["2026-10"][0]).to_pandas()
    assert set(df["ProviderName"]) == {"AWS", "Microsoft"}
    assert df.groupby("ProviderName")["BillingCurrency"].unique().map(list).to_dict() == \
        {"AWS": ["USD"], "Microsoft": ["EUR"]}
    aws, azure = df[df["ProviderName"] == "AWS"], df[df["ProviderName"] == "Microsoft"]
    assert not set(aws["ServiceName"]) & set(azure["ServiceName"])
    assert not set(aws["SubAccountId"]) & set(azure["SubAccountId"])
    assert azure["x_ServiceCode"].isna().all() and aws["x_ServiceCode"].notna().all()  # AWS's extension columns
    assert set(truth.daily["provider"]) == {"AWS", "Microsoft"}
    assert (truth.daily.groupby("provider")["currency"].nunique() == 1).all()


def test_cur2_has_one_provider(tmp_path):
    with pytest.raises(ValueError, match="CUR 2.0"):
        write_export(tmp_path, "cur2", START, days=1, providers=("AWS", "Microsoft"), **SMALL)


@pytest.mark.parametrize("bad", [dict(fmt="cur3"), dict(layout="append"), dict(file_format="orc"),
                                 dict(focus_tags="xml"), dict(currencies=("USD", "EUR")),
                                 dict(focus_version="1.1"), dict(revised_period="2026-09")])
def test_bad_options_are_refused(tmp_path, bad):
    args = dict(fmt="focus", days=1) | bad
    with pytest.raises(ValueError):
        write_export(tmp_path, start=START, **SMALL, **args)


@pytest.mark.parametrize("layout", ["create_new", "overwrite"])
def test_a_revised_billing_period_has_the_same_rows_with_changed_amounts_and_the_truth_is_the_newest(tmp_path,
                                                                                                     layout):
    truth = write_export(tmp_path, "focus", START, days=3, seed=6, layout=layout, revised_period="2026-10", **SMALL)
    old = truth.superseded
    new = truth.daily[truth.daily["usage_date"] < date(2026, 11, 1)]
    keys = ["usage_date", "service", "account", "charge_category"]
    assert old[keys].equals(new[keys]) and old["rows"].equals(new["rows"])
    assert not np.allclose(old["billed"], new["billed"], atol=0.005)
    got = sums(read_back(truth.data_files["2026-10"], "focus", False), "kind")
    np.testing.assert_allclose(got["billed"], sums(new, "charge_category")["billed"], atol=0.005, rtol=0)
    part = tmp_path / "cost-focus" / "data" / "BILLING_PERIOD=2026-10"
    if layout == "overwrite":  # the revision replaced the period's files in place
        assert sorted(p.name for p in part.iterdir()) == ["cost-focus-00001.snappy.parquet"]
        assert truth.stale_files == {}
    else:
        stale = sums(read_back(truth.stale_files["2026-10"], "focus", False), "kind")
        np.testing.assert_allclose(stale["billed"], sums(old, "charge_category")["billed"], atol=0.005, rtol=0)
    assert truth.superseded["usage_date"].max() < date(2026, 11, 1)  # November was delivered once


def test_months_covers_whole_billing_periods_and_rows_per_day_sets_the_volume(tmp_path):
    truth = write_export(tmp_path, "cur2", date(2026, 2, 14), months=1, rows_per_day=100, **SMALL)
    assert truth.periods == ["2026-02"]
    days = sorted(truth.daily["usage_date"].unique())
    assert days[0] == date(2026, 2, 1) and days[-1] == date(2026, 2, 28) and len(days) == 28
    usage = truth.daily[truth.daily["line_item_type"].isin(["Usage", "SavingsPlanCoveredUsage"])]
    assert (usage.groupby("usage_date")["rows"].sum() == 100).all()


def test_an_uploaded_export_has_aws_keys_and_its_manifest_names_them(tmp_path, moto_reset):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_reset, region_name="us-east-1")
    s3.create_bucket(Bucket="exports")
    truth = write_export(tmp_path, "cur2", START, days=2, uri_base="s3://exports/cur", **SMALL)
    keys = upload(truth, s3, "exports", "cur")
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="exports", Prefix="cur/")["Contents"])
    assert listed == sorted(keys) == [
        "cur/cost-cur2/data/BILLING_PERIOD=2026-10/cost-cur2-00001.snappy.parquet",
        "cur/cost-cur2/metadata/BILLING_PERIOD=2026-10/cost-cur2-Manifest.json"]
    manifest = json.loads(s3.get_object(Bucket="exports", Key=listed[1])["Body"].read())
    assert manifest["dataFiles"] == [f"s3://exports/{listed[0]}"]


# --- deploy files -----------------------------------------------------------------------------------------------------

DDL = {"focus": ROOT / "docs" / "athena" / "focus_1_2.sql", "cur2": ROOT / "docs" / "athena" / "cur2.sql"}


def create_table(fmt: str) -> exp.Create:
    statements = [s for s in sqlglot.parse(DDL[fmt].read_text(encoding="utf-8"), read="athena") if s]
    [create] = [s for s in statements if isinstance(s, exp.Create) and s.kind == "TABLE"]
    return create


@pytest.mark.parametrize("fmt", ["focus", "cur2"])
def test_the_athena_ddl_parses_and_its_columns_are_the_generators(fmt):
    create = create_table(fmt)
    cols = [(c.name, c.args["kind"].sql(dialect="hive").lower().replace(" ", "")) for c in create.this.expressions]
    assert cols == list(COLUMNS[fmt])
    sql = create.sql(dialect="athena")
    assert "EXTERNAL" in sql and "PARQUET" in sql.upper()
    [partitioned] = list(create.find_all(exp.PartitionedByProperty))
    assert [c.name for c in partitioned.this.expressions] == ["billing_period"]


@pytest.mark.parametrize("fmt", ["focus", "cur2"])
def test_the_ddl_projects_billing_periods_onto_the_exports_folders(fmt, tmp_path):
    props = {p.name: p.text("value") for p in create_table(fmt).find_all(exp.Property)
             if isinstance(p.this, exp.Literal) or p.name}
    assert props["projection.enabled"] == "true"
    assert props["projection.billing_period.type"] == "date"
    assert props["projection.billing_period.format"] == "yyyy-MM"
    template = props["storage.location.template"]
    location = create_table(fmt).find(exp.LocationProperty).this.name
    # the template, filled for a period, is where the generator (AWS's layout) puts that period's files
    truth = write_export(tmp_path, fmt, START, days=1, **SMALL)
    folder = truth.data_files["2026-10"][0].parent.relative_to(tmp_path).as_posix()
    filled = template.replace("${billing_period}", "2026-10")
    assert filled == f"s3://YOUR-BUCKET/YOUR-PREFIX/{folder}/"
    assert filled.startswith(location)


def test_the_workgroup_enforces_a_result_location_and_a_scan_limit():
    wg = json.loads((ROOT / "docs" / "athena" / "workgroup.json").read_text())
    conf = wg["Configuration"]
    assert conf["EnforceWorkGroupConfiguration"] is True
    assert conf["ResultConfiguration"]["OutputLocation"].startswith("s3://")
    assert conf["BytesScannedCutoffPerQuery"] >= 10_000_000  # Athena's minimum cutoff is 10 MB


def actions(policy: dict) -> dict[str, set[str]]:
    """Action -> the resources it is allowed on."""
    out: dict[str, set[str]] = {}
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        acts = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        res = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        for a in acts:
            out.setdefault(a, set()).update(res)
    return out


def test_the_athena_policy_grants_exactly_what_the_athena_source_needs():
    policy = json.loads((ROOT / "docs" / "iam-athena.json").read_text())
    got = actions(policy)
    assert set(got) == {"athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                        "athena:StopQueryExecution", "athena:GetWorkGroup", "glue:GetDatabase", "glue:GetTable",
                        "glue:GetPartitions",
                        "s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:PutObject",
                        "s3:AbortMultipartUpload"}
    assert all(r.endswith(":workgroup/cost-watchdog") for a, rs in got.items() if a.startswith("athena:") for r in rs)
    results = {"arn:aws:s3:::YOUR-RESULTS-BUCKET/athena-results/*"}
    assert got["s3:PutObject"] == got["s3:AbortMultipartUpload"] == results
    assert got["s3:GetObject"] == {"arn:aws:s3:::YOUR-BUCKET/YOUR-PREFIX/*",
                                   "arn:aws:s3:::YOUR-RESULTS-BUCKET/athena-results/*"}
    assert "*" not in {r for rs in got.values() for r in rs}
    lists = [st for st in policy["Statement"] if st["Action"] == "s3:ListBucket"]
    assert all("s3:prefix" in st["Condition"]["StringLike"] for st in lists)  # listing limited to the prefixes


def test_the_export_policy_only_reads_the_export_prefix():
    got = actions(json.loads((ROOT / "docs" / "iam-export.json").read_text()))
    assert got == {"s3:GetObject": {"arn:aws:s3:::YOUR-BUCKET/YOUR-PREFIX/*"},
                   "s3:ListBucket": {"arn:aws:s3:::YOUR-BUCKET"}}


@pytest.mark.parametrize("fmt,path,table", [("focus", "export-focus-1-2.json", "FOCUS_1_2_AWS"),
                                            ("cur2", "export-cur2.json", "COST_AND_USAGE_REPORT")])
def test_the_create_export_requests_select_the_generators_columns_as_parquet_overwritten(fmt, path, table):
    export = json.loads((ROOT / "docs" / "athena" / path).read_text())["Export"]
    query = sqlglot.parse_one(export["DataQuery"]["QueryStatement"])
    assert query.find(exp.Table).name == table and list(export["DataQuery"]["TableConfigurations"]) == [table]
    assert [c.name for c in query.expressions] == [n for n, _ in COLUMNS[fmt]]
    assert export["DestinationConfigurations"]["S3Destination"]["S3OutputConfigurations"] == {
        "OutputType": "CUSTOM", "Format": "PARQUET", "Compression": "PARQUET", "Overwrite": "OVERWRITE_REPORT"}
    assert export["Name"] == f"cost-{fmt}"  # the export name in the DDL's location


def test_the_readme_deploy_section_points_at_every_deploy_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Deploy: Data Exports and Athena"):]
    for path in ["docs/athena/export-bucket-policy.json", "docs/athena/export-focus-1-2.json",
                 "docs/athena/export-cur2.json", "docs/athena/focus_1_2.sql", "docs/athena/cur2.sql",
                 "docs/athena/workgroup.json", "docs/iam-athena.json", "docs/iam-export.json"]:
        assert path in section and (ROOT / path).is_file(), path
    policy = json.loads((ROOT / "docs" / "athena" / "export-bucket-policy.json").read_text())
    [statement] = policy["Statement"]
    assert set(statement["Principal"]["Service"]) == {"bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com"}
    assert set(statement["Action"]) == {"s3:PutObject", "s3:GetBucketPolicy"}
