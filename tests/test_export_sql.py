"""The export query (Trino text, as Athena runs it) run on DuckDB over Parquet fixtures, against pandas + Decimal."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from _util import export_sql
from _util.export_sql import ExportQuery, ExportQueryError
from tests.export_fixtures import cur_amortized, cur_rows, focus_rows, write_cur, write_focus

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

PERIODS = {"2024-08": (date(2024, 8, 25), date(2024, 8, 31)),
           "2024-09": (date(2024, 9, 1), date(2024, 9, 6)),
           "2024-10": (date(2024, 10, 1), date(2024, 9, 30))}  # an empty period: a file with no rows
CENT = Decimal("0.01")
FOCUS_CE = {"Credit": "Credit", "Refund": "Adjustment", "Tax": "Tax"}  # README's table, written here apart


@pytest.fixture(scope="module")
def focus_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("focus")
    rows = focus_rows(PERIODS, n=60)
    write_focus(root, rows)
    frame = pd.DataFrame([r for period in rows.values() for r in period])
    return root, frame


def hive_view(root) -> duckdb.DuckDBPyConnection:
    """DuckDB with view cost_export over the hive-partitioned export, as a Glue table over the same folders."""
    con = duckdb.connect()
    files = f"{root}/data/*/*.parquet"
    options = "hive_partitioning = true, hive_types = {'BILLING_PERIOD': VARCHAR}, union_by_name = true"
    con.execute(f"CREATE VIEW cost_export AS SELECT * FROM read_parquet('{files}', {options})")  # noqa: S608
    return con


def run(con, q: ExportQuery) -> pd.DataFrame:
    return con.execute(export_sql.to_duckdb(export_sql.daily_cost_sql(q))).df()


def to_cents(values) -> list[Decimal]:
    return [Decimal(str(v)).quantize(CENT) for v in values]


def expected_focus(frame: pd.DataFrame, q: ExportQuery, column: str) -> pd.DataFrame:
    f = frame.copy()
    f["usage_date"] = f["ChargePeriodStart"].dt.date
    f = f[(f["usage_date"] >= q.start) & (f["usage_date"] <= q.end)]
    dropped = {FOCUS_CE[t] for t in q.exclude_record_types}
    f = f[~f["ChargeCategory"].isin(dropped)]
    if q.group_by == "LINKED_ACCOUNT":
        f["breakdown"] = f["SubAccountId"].fillna("")
    elif q.group_by == "REGION":
        f["breakdown"] = f["RegionId"].fillna("")
    elif q.group_by == "USAGE_TYPE":
        f["breakdown"] = f["x_UsageType"].fillna(f["SkuId"]).where(f["x_UsageType"].notna(), "")
    elif q.group_by == "TAG:team":
        f["breakdown"] = ["team$" + ((json.loads(t).get("team") or "") if isinstance(t, str) else "") for t in f["Tags"]]
    else:
        f["breakdown"] = ""
    out = (f.groupby(["usage_date", "ProviderName", "ServiceName", "breakdown"])[column]
           .apply(lambda s: sum(s, Decimal(0))).reset_index())
    return out.sort_values(["usage_date", "ProviderName", "ServiceName", "breakdown"]).reset_index(drop=True)


@pytest.mark.parametrize("group_by", ["", "LINKED_ACCOUNT", "REGION", "TAG:team"])
@pytest.mark.parametrize(("metric", "column"), [("UnblendedCost", "BilledCost"), ("AmortizedCost", "EffectiveCost")])
def test_focus_daily_cost_matches_pandas_to_the_cent(focus_export, group_by, metric, column):
    root, frame = focus_export
    q = ExportQuery("focus", date(2024, 8, 28), date(2024, 10, 3), metric, group_by, ("Credit", "Refund"))
    got = run(hive_view(root), q)
    want = expected_focus(frame, q, column)
    assert list(zip(got["usage_date"].dt.date, got["provider"], got["service"], got["breakdown"], strict=True)) == \
        list(zip(want["usage_date"], want["ProviderName"], want["ServiceName"], want["breakdown"], strict=True))
    assert to_cents(got["amount"]) == to_cents(want[column])
    assert set(got["currency"]) == {"USD"}


def test_focus_credits_and_tax_are_kept_unless_excluded(focus_export):
    root, frame = focus_export
    con = hive_view(root)
    everything = run(con, ExportQuery("focus", date(2024, 8, 25), date(2024, 9, 6), exclude_record_types=()))
    no_tax = run(con, ExportQuery("focus", date(2024, 8, 25), date(2024, 9, 6), exclude_record_types=("Tax",)))
    tax = sum(frame.loc[frame["ChargeCategory"] == "Tax", "BilledCost"], Decimal(0))
    credits = sum(frame.loc[frame["ChargeCategory"] == "Credit", "BilledCost"], Decimal(0))
    assert credits < 0 and tax > 0  # the fixture has both (negative credits are kept as negative amounts)
    assert Decimal(str(everything["amount"].sum())).quantize(CENT) == sum(frame["BilledCost"]).quantize(CENT)
    assert (Decimal(str(everything["amount"].sum())) - Decimal(str(no_tax["amount"].sum()))).quantize(CENT) == \
        tax.quantize(CENT)


def test_usage_type_falls_back_to_sku_where_the_export_has_no_x_usage_type():
    q = ExportQuery("focus", date(2024, 9, 1), date(2024, 9, 1), group_by="USAGE_TYPE",
                    columns=frozenset({"ChargePeriodStart", "SkuId"}))
    assert "SkuId" in export_sql.daily_cost_sql(q) and "x_UsageType" not in export_sql.daily_cost_sql(q)


def test_the_query_prunes_to_the_billing_periods_of_its_days():
    q = ExportQuery("focus", date(2024, 11, 30), date(2025, 1, 2))
    assert "billing_period IN ('2024-11', '2024-12', '2025-01')" in export_sql.daily_cost_sql(q)
    assert export_sql.billing_periods(date(2024, 9, 3), date(2024, 9, 9)) == ["2024-09"]


def test_an_empty_period_gives_no_rows(focus_export):
    root, _ = focus_export
    got = run(hive_view(root), ExportQuery("focus", date(2024, 10, 1), date(2024, 10, 31)))
    assert got.empty


@pytest.fixture(scope="module")
def cur_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("cur")
    rows = cur_rows("2024-09", date(2024, 9, 1), date(2024, 9, 5), n=80)
    write_cur(root, "2024-09", rows)
    return root, rows


@pytest.mark.parametrize("metric", ["UnblendedCost", "NetUnblendedCost", "AmortizedCost"])
@pytest.mark.parametrize("group_by", ["", "TAG:team", "USAGE_TYPE"])
def test_cur2_daily_cost_matches_an_independent_sum(cur_export, metric, group_by):
    root, rows = cur_export
    q = ExportQuery("cur2", date(2024, 9, 2), date(2024, 9, 5), metric, group_by, ("Credit", "Refund"))
    got = run(hive_view(root), q)
    want: dict[tuple, Decimal] = {}
    for r in rows:
        day = r["line_item_usage_start_date"].date()
        if not q.start <= day <= q.end or r["line_item_line_item_type"] in ("Credit", "Refund"):
            continue
        value = {"UnblendedCost": lambda r: Decimal(r["line_item_unblended_cost"]),
                 "NetUnblendedCost": lambda r: Decimal(r["line_item_net_unblended_cost"]),
                 "AmortizedCost": cur_amortized}[metric](r)
        breakdown = {"": "", "TAG:team": "team$" + (r["resource_tags"].get("user_team") or ""),
                     "USAGE_TYPE": r["line_item_usage_type"]}[group_by]
        key = (day, r["line_item_product_code"], breakdown)
        want[key] = want.get(key, Decimal(0)) + value
    got_map = {(d.date(), s, b): Decimal(str(a)).quantize(CENT)
               for d, s, b, a in zip(got["usage_date"], got["service"], got["breakdown"], got["amount"], strict=True)}
    assert got_map == {k: v.quantize(CENT) for k, v in want.items()}
    assert set(got["provider"]) == {"AWS"}


@pytest.mark.parametrize(("fmt", "metric"), [("focus", "NetUnblendedCost"), ("focus", "BlendedCost"),
                                             ("cur2", "BlendedCost")])
def test_a_metric_the_export_cannot_give_is_refused_naming_the_setting(fmt, metric):
    with pytest.raises(ExportQueryError, match=f"COST_METRIC={metric}.*EXPORT_FORMAT={fmt}"):
        export_sql.daily_cost_sql(ExportQuery(fmt, date(2024, 9, 1), date(2024, 9, 1), metric))


def test_cur2_amortized_needs_its_columns():
    q = ExportQuery("cur2", date(2024, 9, 1), date(2024, 9, 1), "AmortizedCost",
                    columns=frozenset({"line_item_unblended_cost"}))
    with pytest.raises(ExportQueryError, match="reservation_effective_cost"):
        export_sql.daily_cost_sql(q)


@pytest.mark.parametrize("fmt", ["focus", "cur2"])
def test_an_unmapped_record_type_is_refused_naming_the_setting(fmt):
    with pytest.raises(ExportQueryError, match="COST_EXCLUDE_RECORD_TYPES value 'Bogus'"):
        export_sql.daily_cost_sql(ExportQuery(fmt, date(2024, 9, 1), date(2024, 9, 1),
                                              exclude_record_types=("Bogus",)))


def test_record_types_map_to_each_format():
    focus = export_sql.exclusion_conditions(ExportQuery("focus", date(2024, 9, 1), date(2024, 9, 1),
                                                        exclude_record_types=("Credit", "Refund", "Tax")))
    cur = export_sql.exclusion_conditions(ExportQuery("cur2", date(2024, 9, 1), date(2024, 9, 1),
                                                      exclude_record_types=("Credit", "Recurring reservation fee")))
    assert focus == ["COALESCE(ChargeCategory, '') NOT IN ('Adjustment', 'Credit', 'Tax')"]
    assert cur == ["COALESCE(line_item_line_item_type, '') NOT IN ('Credit', 'RIFee')"]


@pytest.mark.parametrize("bad", ["parquet", "FOCUS_1_2", ""])
def test_an_unknown_format_is_refused_naming_it(bad):
    with pytest.raises(ExportQueryError, match=f"EXPORT_FORMAT must be one of focus, cur2, got {bad!r}"):
        export_sql.check_format(bad)


def test_tag_keys_and_values_are_quoted():
    q = ExportQuery("focus", date(2024, 9, 1), date(2024, 9, 1), group_by="TAG:o'brien")
    sql = export_sql.daily_cost_sql(q)
    assert "'o''brien$'" in sql
    assert export_sql.check_table("cur.focus_table") == "cur.focus_table"
    with pytest.raises(ExportQueryError):
        export_sql.check_table("x; DROP TABLE y")


def test_detail_rows_sum_to_the_daily_cost(focus_export):
    root, frame = focus_export
    con = hive_view(root)
    q = ExportQuery("focus", date(2024, 9, 1), date(2024, 9, 6))
    detail = con.execute(export_sql.to_duckdb(export_sql.detail_sql(q, ["Virtual Machines"]))).df()
    want = frame[(frame["ServiceName"] == "Virtual Machines")
                 & (frame["ChargePeriodStart"].dt.date >= q.start)
                 & ~frame["ChargeCategory"].isin(["Credit", "Adjustment"])]
    assert list(detail.columns) == list(export_sql.DETAIL_COLUMNS)
    assert set(detail["service"]) == {"Virtual Machines"}
    assert Decimal(str(detail["amount"].sum())).quantize(CENT) == sum(want["BilledCost"], Decimal(0)).quantize(CENT)
    assert set(detail["resource_id"]) == set(want["ResourceId"])


# ---- FOCUS 1.0 vs 1.2 as AWS exports them (the generator's FOCUS_1_0_AWS / FOCUS_1_2_AWS columns) -------------------


@pytest.fixture(scope="module")
def focus_versions(tmp_path_factory):
    """The same generated month as FOCUS 1.0 (x_UsageType) and FOCUS 1.2 (SkuMeter, no x_UsageType)."""
    from tests.export_gen import write_export

    root = tmp_path_factory.mktemp("versions")
    return {v: write_export(root / v, "focus", date(2026, 10, 1), days=3, n_accounts=2, n_services=4, n_series=16,
                            rows_per_day=48, focus_version=v, seed=5) for v in ("1.0", "1.2")}


@pytest.mark.parametrize(("names", "usage_type"), [
    ({"x_usagetype", "x_operation", "skuid"}, "x_UsageType"),             # FOCUS_1_0_AWS, as Glue spells them
    ({"skumeter", "x_operation", "skuid"}, "SkuMeter"),                   # FOCUS_1_2_AWS: no x_UsageType
    ({"SkuId"}, "SkuId"),                                                 # another provider's FOCUS 1.0
])
def test_usage_type_is_the_column_each_focus_version_has(names, usage_type):
    q = ExportQuery("focus", date(2026, 10, 1), date(2026, 10, 2), group_by="USAGE_TYPE", columns=frozenset(names))
    assert f"COALESCE(CAST({usage_type} AS VARCHAR), '') AS breakdown" in export_sql.daily_cost_sql(q)
    op = ExportQuery("focus", date(2026, 10, 1), date(2026, 10, 2), group_by="OPERATION", columns=frozenset(names))
    want = "COALESCE(CAST(x_Operation AS VARCHAR), '')" if "x_operation" in names else "''"
    assert f"{want} AS breakdown" in export_sql.daily_cost_sql(op)


@pytest.mark.parametrize("group_by", ["USAGE_TYPE", "OPERATION"])
def test_focus_1_0_and_1_2_files_give_the_same_usage_type_and_operation_rows(focus_versions, group_by):
    import pyarrow.parquet as pq

    from _util import exports

    got = {}
    for version, truth in focus_versions.items():
        table = exports.open_export([truth.export_dir])
        try:
            q = table.query(date(2026, 10, 1), date(2026, 10, 3), group_by=group_by, exclude=("Credit",))
            got[version] = run(table.con, q)
        finally:
            table.close()
    assert got["1.0"].equals(got["1.2"])
    # independently of the SQL: the 1.2 file's SkuMeter (or x_Operation) per day, service and value, with pandas
    frame = pq.read_table(focus_versions["1.2"].data_files["2026-10"]).to_pandas()
    frame = frame[frame["ChargeCategory"] != "Credit"]
    frame["breakdown"] = frame["SkuMeter" if group_by == "USAGE_TYPE" else "x_Operation"].fillna("")
    frame["usage_date"] = frame["ChargePeriodStart"].dt.date
    want = frame.groupby(["usage_date", "ServiceName", "breakdown"])["BilledCost"].sum()
    mine = got["1.2"].assign(usage_date=got["1.2"]["usage_date"].dt.date).set_index(
        ["usage_date", "service", "breakdown"])["amount"]
    assert set(mine.index) == set(want.index) and len(set(mine.index.get_level_values(2)) - {""}) > 1
    assert all(abs(Decimal(str(mine[k])) - Decimal(str(want[k]))) < CENT for k in want.index)
