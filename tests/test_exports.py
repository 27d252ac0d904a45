"""COST_SOURCE=export: files found and versioned, FOCUS CSV quirks, providers, currencies, the ingest plan, S3."""

from __future__ import annotations

import csv
import gzip
import logging
import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from _util import db, exports
from _util.config import ConfigError, Settings, load_settings
from _util.ingest import ingest
from tests.export_fixtures import focus_rows, write_focus

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

SAMPLE = Path(__file__).parent / "data" / "focus-1.0-sample" / "focus_sample.csv"
CENT = Decimal("0.01")
TODAY = date(2026, 11, 28)


def stored(engine) -> dict[tuple[date, str, str], Decimal]:
    """Every daily_cost row as stored (exact amounts)."""
    with engine.connect() as conn:
        rows = conn.execute(select(db.daily_cost.c.usage_date, db.daily_cost.c.service, db.daily_cost.c.breakdown,
                                   db.daily_cost.c.amount)).all()
    return {(db._as_date(d), s, b): Decimal(a) for d, s, b, a in rows}


def sample_sums(exclude_categories: set[str]) -> dict[tuple[date, str, str], Decimal]:
    """The sample's daily BilledCost per provider and service, by the csv module and Decimal alone."""
    with SAMPLE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    providers = {r["ProviderName"] for r in rows}
    out: dict[tuple[date, str, str], Decimal] = {}
    for r in rows:
        if r["ChargeCategory"] in exclude_categories:
            continue
        service = r["ServiceName"] if r["ProviderName"] == "AWS" or len(providers) == 1 else \
            f"{r['ProviderName']}: {r['ServiceName']}"
        key = (date.fromisoformat(r["ChargePeriodStart"][:10]), service, "")
        out[key] = out.get(key, Decimal(0)) + Decimal(r["BilledCost"])
    return out


def export_settings(tmp_path, inputs, **kw) -> Settings:
    return Settings(cost_source="export", input_files=tuple(inputs), output_dir=tmp_path / "out", **kw)


@pytest.mark.parametrize(("exclude", "categories"), [(("Credit", "Refund"), {"Credit", "Adjustment"}), ((), set())])
def test_the_focus_sample_is_stored_per_provider_and_service_to_the_cent(engine, tmp_path, exclude, categories):
    settings = export_settings(tmp_path, [SAMPLE], report_date=date(2024, 9, 30), exclude_record_types=exclude)
    result = ingest(settings, engine, today=TODAY)
    got = stored(engine)
    want = sample_sums(categories)
    assert {k: v.quantize(CENT) for k, v in got.items()} == {k: v.quantize(CENT) for k, v in want.items()}
    assert result.days == 30 and result.estimated_days == 0 and result.requests == 0
    assert "Microsoft: Virtual Machines" in {s for _, s, _ in got}  # several providers: qualified, AWS's not


def test_the_sample_s_report_date_defaults_to_its_last_day(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import argparse

    args = argparse.Namespace(source="export", input=[SAMPLE], date=None)
    assert load_settings(args, environ={}).report_date == date(2024, 9, 30)
    given = argparse.Namespace(source="export", input=[SAMPLE], date=date(2024, 9, 12))
    assert load_settings(given, environ={}).report_date == date(2024, 9, 12)


def test_detail_frame_gives_resource_ids_of_the_sample():
    frame = exports.detail_frame([SAMPLE], date(2024, 9, 1), date(2024, 9, 30), ["Microsoft: Virtual Machines"],
                                 exclude=())
    want = sample_sums(set())
    total = sum((v for (d, s, _), v in want.items() if s == "Microsoft: Virtual Machines"), Decimal(0))
    assert set(frame["service"]) == {"Microsoft: Virtual Machines"}
    assert sum(frame["amount"], Decimal(0)).quantize(CENT) == total.quantize(CENT)
    with SAMPLE.open(newline="") as fh:
        ids = {r["ResourceId"] for r in csv.DictReader(fh) if r["ServiceName"] == "Virtual Machines"}
    assert set(frame["resource_id"]) == ids - {"NULL"} | ({""} if "NULL" in ids else set())


def read_daily(inputs, start: date, end: date, *, group_by: str = "", exclude=(), today: date = TODAY):
    """exports.daily_costs of the inputs for [start, end] (UnblendedCost), the export opened and closed around it."""
    table = exports.open_export(inputs)
    try:
        return exports.daily_costs(table, start, end, metric="UnblendedCost", group_by=group_by,
                                   exclude=tuple(exclude), today=today)
    finally:
        table.close()


def _quirky_csv(path: Path, currency2: str = "USD") -> None:
    """A FOCUS CSV as AWS and the FinOps sample write it: unquoted NULL, doubled quotes in Tags JSON, gzip."""
    header = '"ChargePeriodStart","ProviderName","ServiceName","ChargeCategory","BillingCurrency","BilledCost",' \
             '"EffectiveCost","SubAccountId","Tags"\n'
    lines = ['"2024-09-01 00:00:00","AWS","Amazon S3","Usage","USD",1.00000000001,1,"1",'
             '"{""team"": ""pay, ments"", ""env"": ""prod""}"\n',
             '"2024-09-01 01:00:00","AWS","Amazon S3","Credit","USD",-0.50000000000,0,NULL,NULL\n',
             f'"2024-09-02 01:00:00","AWS","Amazon S3","Usage","{currency2}",2.25000000000,0,NULL,NULL\n']
    with gzip.open(path, "wt", newline="") as fh:
        fh.write(header + "".join(lines))


def test_focus_csv_quirks_are_read(tmp_path):
    path = tmp_path / "export.csv.gz"
    _quirky_csv(path)
    parsed = read_daily([path], date(2024, 9, 1), date(2024, 9, 2), group_by="TAG:team")
    assert {k: r.amount for k, r in parsed.rows.items()} == {
        (date(2024, 9, 1), "Amazon S3", "team$pay, ments"): Decimal("1.000000000010"),
        (date(2024, 9, 1), "Amazon S3", "team$"): Decimal("-0.5"),  # a negative credit kept; NULL tags untagged
        (date(2024, 9, 2), "Amazon S3", "team$"): Decimal("2.25")}


def test_a_day_whose_cost_is_all_excluded_is_answered_without_rows(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('"ChargePeriodStart","ProviderName","ServiceName","ChargeCategory","BillingCurrency",'
                    '"BilledCost","EffectiveCost"\n'
                    '"2024-09-01 00:00:00","AWS","Amazon S3","Usage","USD",1.25,1\n'
                    '"2024-09-02 05:00:00","AWS","Amazon S3","Credit","USD",-3.00000000000,0\n')
    parsed = read_daily([path], date(2024, 9, 1), date(2024, 9, 2), exclude=("Credit",), today=date(2024, 9, 5))
    assert parsed.days == {date(2024, 9, 1): True, date(2024, 9, 2): True}  # September still Estimated
    assert {k: r.amount for k, r in parsed.rows.items()} == {(date(2024, 9, 1), "Amazon S3", ""): Decimal("1.25")}


def test_mixed_currencies_are_refused_naming_them(tmp_path):
    path = tmp_path / "export.csv.gz"
    _quirky_csv(path, currency2="EUR")
    with pytest.raises(exports.ExportError, match=r"mixes currencies \(EUR, USD\)"):
        read_daily([path], date(2024, 9, 1), date(2024, 9, 2))


@pytest.mark.parametrize(("renamed", "old", "version"), [("ChargeCategory", "ChargeType", "FOCUS 0.5"),
                                                         ("ProviderName", "ServiceProviderName", "FOCUS 1.3")])
def test_a_column_renamed_between_focus_versions_is_named(renamed, old, version):
    columns = {"ChargePeriodStart", "ServiceName", "ProviderName", "BillingCurrency", "ChargeCategory",
               "BilledCost"} - {renamed} | {old}
    with pytest.raises(exports.ExportError, match=f"no {renamed} column but has {old}: it looks like {version}"):
        exports.check_columns("focus", columns, "UnblendedCost", "")


def test_a_missing_column_is_named():
    with pytest.raises(exports.ExportError, match="no line_item_unblended_cost column"):
        exports.check_columns("cur2", {"line_item_usage_start_date", "line_item_product_code",
                                       "line_item_line_item_type"}, "UnblendedCost", "")


@pytest.mark.parametrize("bad", ["parquet", "focus1.2"])
def test_an_unknown_export_format_setting_fails_fast(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"EXPORT_FORMAT must be one of focus, cur2.*{bad!r}"):
        load_settings(environ={"EXPORT_FORMAT": bad})


def test_files_that_are_no_export_are_refused():
    with pytest.raises(exports.ExportError, match="set EXPORT_FORMAT"):
        exports.detect_format({"a", "b"})


def test_two_versions_of_a_period_use_the_newest_and_say_so(tmp_path, caplog):
    old = focus_rows({"2024-09": (date(2024, 9, 1), date(2024, 9, 3))}, n=10, seed=5)
    new = focus_rows({"2024-09": (date(2024, 9, 1), date(2024, 9, 3))}, n=12, seed=6)
    write_focus(tmp_path, old, version="20240904T010000Z")
    write_focus(tmp_path, new, version="20240905T010000Z")
    older = next((tmp_path / "data" / "BILLING_PERIOD=2024-09" / "20240904T010000Z").iterdir())
    os.utime(older, (1_700_000_000, 1_700_000_000))
    with caplog.at_level(logging.INFO, logger="_util.exports"):
        files = exports.newest_versions(exports.discover([tmp_path]))
    assert [f.version for f in files] == ["20240905T010000Z"]
    assert "2 export versions" in caplog.text and "using the newest, 20240905T010000Z" in caplog.text


def test_plan_reads_periods_with_missing_estimated_or_changed_days():
    first, d = date(2024, 7, 15), date(2024, 9, 10)
    final = {first + timedelta(days=i): False for i in range(48)}  # 07-15..08-31 stored and final
    assert exports.plan_periods(["2024-07", "2024-08", "2024-09"], first, d, final) == ["2024-09"]
    assert exports.plan_periods(["2024-07", "2024-08", "2024-09"], first, d, final, changed=["2024-07"]) == [
        "2024-07", "2024-09"]
    estimated = {**final, date(2024, 8, 3): True}
    assert exports.plan_periods(["2024-08", "2024-10"], first, d, estimated) == ["2024-08"]


def test_days_are_estimated_until_the_period_may_no_longer_change():
    assert exports.is_estimated("2024-09", date(2024, 10, 15))
    assert not exports.is_estimated("2024-09", date(2024, 10, 16))
    assert not exports.is_estimated("2024-12", date(2025, 1, 16)) and exports.is_estimated("2024-12", date(2025, 1, 15))


def test_ingest_reads_only_what_changed_and_replaces_a_revised_period_whole(sqlite_engine, tmp_path):
    root = tmp_path / "export"
    rows = focus_rows({"2024-08": (date(2024, 8, 1), date(2024, 8, 31)),
                       "2024-09": (date(2024, 9, 1), date(2024, 9, 30))}, n=30, seed=7, providers=("AWS",))
    write_focus(root, rows)
    settings = export_settings(tmp_path, [root], report_date=date(2024, 9, 30), lookback_days=45)
    today = date(2024, 10, 10)  # August final, September Estimated
    first = ingest(settings, sqlite_engine, today=today)
    last = max(r["ChargePeriodStart"].date() for r in rows["2024-09"])  # with any line item, even a credit
    assert (first.start, first.end, first.estimated_days) == (date(2024, 8, 16), last, last.day)
    again = ingest(settings, sqlite_engine, today=today)
    assert (again.start, again.end) == (date(2024, 9, 1), last)  # only the Estimated period
    revised = focus_rows({"2024-09": (date(2024, 9, 1), date(2024, 9, 30))}, n=5, seed=8, providers=("AWS",))
    write_focus(root, revised)  # the export rewrote September (overwrite mode): its days replaced whole
    ingest(settings, sqlite_engine, today=date(2024, 11, 20))
    sept = {k: v for k, v in stored(sqlite_engine).items() if k[0].month == 9}
    want: dict[tuple, Decimal] = {}
    for r in revised["2024-09"]:
        if r["ChargeCategory"] not in ("Credit", "Adjustment"):
            key = (r["ChargePeriodStart"].date(), r["ServiceName"], "")
            want[key] = want.get(key, Decimal(0)) + r["BilledCost"]
    assert {k: v.quantize(CENT) for k, v in sept.items()} == {k: v.quantize(CENT) for k, v in want.items()}
    final = ingest(settings, sqlite_engine, today=date(2024, 11, 20))
    assert final.rows == 0 and final.start is None  # both periods final, files unchanged: nothing read


def test_an_export_on_s3_is_read(moto_reset, tmp_path, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    rows = focus_rows({"2024-09": (date(2024, 9, 1), date(2024, 9, 2))}, n=8, seed=9)
    write_focus(tmp_path, rows)
    s3 = boto3.client("s3", endpoint_url=moto_reset)
    s3.create_bucket(Bucket="bills")
    for path in tmp_path.rglob("*.parquet"):
        s3.upload_file(str(path), "bills", "focus/" + path.relative_to(tmp_path).as_posix())
    table = exports.open_export(["s3://bills/focus"])
    try:
        assert [f.period for f in table.files] == ["2024-09"] and table.files[0].path.startswith("s3://bills/")
        parsed = exports.daily_costs(table, date(2024, 9, 1), date(2024, 9, 2), metric="UnblendedCost",
                                     group_by="", exclude=(), today=TODAY)
    finally:
        table.close()
    total = sum(r["BilledCost"] for r in rows["2024-09"])
    assert sum(r.amount for r in parsed.rows.values()).quantize(CENT) == total.quantize(CENT)


def test_config_takes_export_inputs(tmp_path, monkeypatch):
    import argparse

    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp").mkdir()
    args = argparse.Namespace(source="export", input=[tmp_path / "exp", "s3://bills/focus"], date=date(2024, 9, 1))
    s = load_settings(args, environ={"EXPORT_FORMAT": "FOCUS"})
    assert s.input_files == (tmp_path / "exp", "s3://bills/focus") and s.export_format == "focus"
    with pytest.raises(ConfigError, match="no such file or folder"):
        load_settings(replace_ns(args, input=[tmp_path / "nope"]), environ={})
    assert load_settings(args, environ={"COST_GROUP_BY": "region"}).group_by == "REGION"
    with pytest.raises(ConfigError, match="COST_GROUP_BY cannot be REGION"):
        load_settings(replace_ns(args, source="ce", input=None), environ={"COST_GROUP_BY": "REGION"})
    with pytest.raises(ConfigError, match="s3:// inputs are for COST_SOURCE=export"):
        load_settings(replace_ns(args, source="file", input=["s3://bills/focus"]), environ={})


def replace_ns(ns, **kw):
    import argparse

    return argparse.Namespace(**{**vars(ns), **kw})


@pytest.mark.slow
def test_the_done_when_command_reports_the_sample_s_days(isolated, quick_charts, capsys):
    import runCostReporting

    code = runCostReporting.main(["--source", "export", "--input", str(SAMPLE), "--dry-run"])
    assert code == 0
    import json

    report = json.loads((isolated / "output" / "2024-09-30" / "report.json").read_text())
    assert report["report_date"] == "2024-09-30"
    assert [d["date"] for d in report["daily_totals"]][0] == "2024-09-01" and len(report["daily_totals"]) == 30
    want = sample_sums({"Credit", "Adjustment"})
    assert round(sum(d["cost"] for d in report["daily_totals"]), 2) == float(sum(want.values()).quantize(CENT))



def test_a_result_frame_parses_the_same_from_pandas_or_arrow_with_double_sums():
    import pandas as pd
    import pyarrow as pa

    frame = pd.DataFrame({"usage_date": [date(2024, 9, 1), date(2024, 9, 1), date(2024, 9, 3)],
                          "provider": ["AWS", "Microsoft", "AWS"], "service": ["Amazon S3", "Storage", "Amazon S3"],
                          "breakdown": ["", "", ""], "currency": ["USD"] * 3, "amount": [1.1, -0.25, 2.0],
                          "line_items": [3, 1, 2]})
    for given in (frame, pa.Table.from_pandas(frame)):
        parsed = exports.parse_daily_frame(given, date(2024, 9, 1), date(2024, 9, 3), date(2024, 9, 4))
        assert {k: r.amount for k, r in parsed.rows.items()} == {
            (date(2024, 9, 1), "Amazon S3", ""): Decimal("1.1"), (date(2024, 9, 1), "Microsoft: Storage", ""):
            Decimal("-0.25"), (date(2024, 9, 3), "Amazon S3", ""): Decimal("2.0")}
        assert sorted(parsed.days) == [date(2024, 9, 1), date(2024, 9, 2), date(2024, 9, 3)]
        assert all(parsed.days.values())  # September not final on 2024-09-04


def test_an_exact_one_provider_result_is_held_column_wise_with_the_same_rows_and_plain_amount_text():
    import pyarrow as pa

    amounts = [Decimal("1.5"), Decimal("0"), Decimal("-0.000000000001"), Decimal("0.0000005"), Decimal("123456.25")]
    days = [date(2024, 9, 1)] * 3 + [date(2024, 9, 2)] * 2
    services = ["Amazon S3", "AWS Lambda", "Amazon EC2", "Amazon S3", "Amazon EC2"]
    frame = pa.table({"usage_date": pa.array(days, pa.date32()), "provider": ["AWS"] * 5, "service": services,
                      "breakdown": ["111", "", "222", "111", "333"], "currency": ["USD"] * 5,
                      "amount": pa.array(amounts, pa.decimal128(38, 12)), "line_items": [1] * 5})
    parsed = exports.parse_daily_frame(frame, date(2024, 9, 1), date(2024, 9, 2), date(2024, 9, 3))
    assert parsed.columns is not None and parsed.count == 5
    # the text stored on SQLite is what format(Decimal, "f") gives for the same sums (never 0E-12)
    assert parsed.columns.table.column("amount").to_pylist() == [format(a.quantize(Decimal("1E-12")), "f")
                                                                 for a in amounts]
    assert {k: (r.amount, r.estimated) for k, r in parsed.rows.items()} == {
        (d, s, b): (a, True) for d, s, b, a in zip(days, services, ["111", "", "222", "111", "333"], amounts,
                                                   strict=True)}
    assert parsed.columns is None  # reading .rows made the objects once


@pytest.mark.parametrize("host_zone", ["America/New_York", "Asia/Tokyo"])
def test_usage_days_are_utc_dates_whatever_the_host_time_zone(tmp_path, monkeypatch, host_zone):
    """A zoned ChargePeriodStart at 01:00 and 23:00 UTC is one UTC day, on a host in New York or Tokyo too."""
    import time
    from datetime import datetime, timezone

    import pyarrow as pa
    import pyarrow.parquet as pq

    starts = [datetime(2024, 9, 1, 1, tzinfo=timezone.utc), datetime(2024, 9, 1, 23, tzinfo=timezone.utc)]
    table = pa.table({"ChargePeriodStart": pa.array(starts, pa.timestamp("ms", tz="UTC")),
                      "ProviderName": ["AWS", "AWS"], "ServiceName": ["Amazon S3", "Amazon S3"],
                      "ChargeCategory": ["Usage", "Usage"], "BillingCurrency": ["USD", "USD"],
                      "BilledCost": [1.0, 2.0], "EffectiveCost": [1.0, 2.0]})
    pq.write_table(table, tmp_path / "export.parquet")
    monkeypatch.setenv("TZ", host_zone)
    time.tzset()
    try:
        parsed = read_daily([tmp_path / "export.parquet"], date(2024, 8, 31), date(2024, 9, 2))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert {k: r.amount for k, r in parsed.rows.items()} == {(date(2024, 9, 1), "Amazon S3", ""): Decimal("3")}


def test_the_default_date_reads_only_the_newest_period_with_rows(tmp_path, monkeypatch):
    """An export of many months (on S3: many files to copy) is not read whole to find its last day."""
    rows = focus_rows({"2024-08": (date(2024, 8, 1), date(2024, 8, 31)),
                       "2024-09": (date(2024, 9, 1), date(2024, 9, 17))}, n=30, seed=9)
    write_focus(tmp_path, {**rows, "2024-10": []})  # October's folder exists, still empty
    opened = []
    real = exports.open_export
    monkeypatch.setattr(exports, "open_export", lambda *a, **k: opened.append(k.get("periods")) or real(*a, **k))
    expected = max(r["ChargePeriodStart"].date() for r in rows["2024-09"])
    assert exports.last_day([tmp_path]) == expected
    assert opened == [["2024-10"], ["2024-09"]]  # the empty newest period, then the one before; never August


def test_another_provider_s_services_are_qualified_even_alone_in_a_run(tmp_path):
    """A run whose periods hold Azure rows only stores the names a mixed run stores: one series per service."""
    path = tmp_path / "azure.csv"
    path.write_text('"ChargePeriodStart","ProviderName","ServiceName","ChargeCategory","BillingCurrency",'
                    '"BilledCost","EffectiveCost"\n'
                    '"2024-09-01 00:00:00","Microsoft","Virtual Machines","Usage","USD",1.25,1\n')
    parsed = read_daily([path], date(2024, 9, 1), date(2024, 9, 1))
    assert list(parsed.rows) == [(date(2024, 9, 1), "Microsoft: Virtual Machines", "")]
