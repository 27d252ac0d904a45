"""Root causes from an export (COST_SOURCE=export): one read of the alerted services' line items, answered through
ce_answer by drilldown.FrameAnswers (no request, no charge), grouped down to the resource id.

The export is a hand-made FOCUS Parquet file with planted moves; every expected figure is computed here with pandas
from the rows written, never by the code under test.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from _util import drilldown, export_sql, exports, pipeline
from _util.config import Settings
from _util.model import FirstSeen, Spike
from tests.test_athena import moto_athena  # noqa: F401 (the fixture: moto's Athena and S3)

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

D = date(2026, 10, 20)
FIRST = D - timedelta(days=40)
EC2, RDS, GLUE = "Amazon Elastic Compute Cloud", "Amazon Relational Database Service", "AWS Glue"
PROD, DEV = "111122223333", "444455556666"
NAMES = {PROD: "prod", DEV: "dev"}
PLANTED = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc1234567890def"
DB_OLD = "arn:aws:rds:us-east-1:111122223333:db:orders-old"  # moved away on d (prod)
DB_NEW = "arn:aws:rds:us-east-1:444455556666:db:orders"  # moved here on d (dev)
SAMPLE = Path(__file__).parent / "data" / "focus-1.0-sample" / "focus_sample.csv"


def _row(day: date, hour: int, service: str, account: str, usage: str, resource: str | None, cost: float,
         category: str = "Usage") -> dict:
    start = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
    return {"ChargePeriodStart": start, "ChargePeriodEnd": start + timedelta(hours=1), "ProviderName": "AWS",
            "ServiceName": service, "SubAccountId": account, "SubAccountName": NAMES[account],
            "RegionId": "us-east-1", "ChargeCategory": category, "BillingCurrency": "USD",
            "BilledCost": Decimal(f"{cost:.10f}"), "EffectiveCost": Decimal(f"{cost:.10f}"), "ResourceId": resource,
            "SkuId": "SKU" + usage[-3:], "x_UsageType": usage, "x_Operation": "RunInstances",
            "Tags": json.dumps({"team": "payments"}) if account == PROD and resource else None}


def world_rows() -> list[dict]:
    """EC2: 30 instances over two accounts, each a steady cost a day in two hourly lines with noise, plus data
    transfer lines without a resource id; on d the planted instance costs 5 times its level. RDS: a database
    moves from prod to dev on d at a higher price (an offsetting pair). Glue: first seen on d. A credit (excluded)."""
    rng = np.random.default_rng(7)
    rows = []
    instances = [(f"arn:aws:ec2:us-east-1:{acct}:instance/i-{i:017x}", acct,
                  "USE1-BoxUsage:m5.xlarge" if i % 3 else "USE1-BoxUsage:t3.micro", float(rng.uniform(5, 40)))
                 for i, acct in enumerate([PROD, DEV] * 15)]
    instances[0] = (PLANTED, PROD, "USE1-BoxUsage:m5.xlarge", 20.0)
    day = FIRST
    while day <= D:
        for rid, acct, usage, level in instances:
            cost = level * (5 if rid == PLANTED and day == D else 1) * float(rng.uniform(0.97, 1.03))
            rows += [_row(day, 1, EC2, acct, usage, rid, round(cost * 0.4, 7)),
                     _row(day, 13, EC2, acct, usage, rid, round(cost * 0.6, 7))]
        rows.append(_row(day, 0, EC2, PROD, "USE1-DataTransfer-Out-Bytes", None, round(float(rng.uniform(3, 4)), 7)))
        rows.append(_row(day, 0, EC2, DEV, "USE1-Credit", None, -2.5, "Credit"))
        if day < D:
            rows.append(_row(day, 2, RDS, PROD, "USE1-InstanceUsage:db.r5.large", DB_OLD, 300.0))
        else:
            rows.append(_row(day, 2, RDS, DEV, "USE1-InstanceUsage:db.r5.xlarge", DB_NEW, 500.0))
        rows.append(_row(day, 3, RDS, DEV, "USE1-RDS:StorageUsage", None, 10.0))
        day += timedelta(days=1)
    rows += [_row(D, 4, GLUE, DEV, "USE1-ETL-DPU-Hour", "arn:aws:glue:us-east-1:444455556666:job/nightly", 40.0),
             _row(D, 5, GLUE, DEV, "USE1-ETL-DPU-Hour", "arn:aws:glue:us-east-1:444455556666:job/adhoc", 5.0)]
    return rows


def write_world(root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = world_rows()
    schema = pa.schema([("ChargePeriodStart", pa.timestamp("us")), ("ChargePeriodEnd", pa.timestamp("us")),
                        ("ProviderName", pa.string()), ("ServiceName", pa.string()), ("SubAccountId", pa.string()),
                        ("SubAccountName", pa.string()), ("RegionId", pa.string()), ("ChargeCategory", pa.string()),
                        ("BillingCurrency", pa.string()), ("BilledCost", pa.decimal128(20, 10)),
                        ("EffectiveCost", pa.decimal128(20, 10)), ("ResourceId", pa.string()), ("SkuId", pa.string()),
                        ("x_UsageType", pa.string()), ("x_Operation", pa.string()), ("Tags", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    for period in ("2026-09", "2026-10"):
        folder = root / "export" / "data" / f"BILLING_PERIOD={period}"
        folder.mkdir(parents=True, exist_ok=True)
        month = pd.to_datetime(table.column("ChargePeriodStart").to_pandas()).dt.strftime("%Y-%m") == period
        pq.write_table(table.filter(pa.array(month.to_numpy())), folder / "part-00001.snappy.parquet")
    return root / "export"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """(the export's folder, its rows as read back by pandas: the independent side)."""
    root = write_world(tmp_path_factory.mktemp("export"))
    raw = pd.concat([pd.read_parquet(p) for p in sorted(root.rglob("*.parquet"))], ignore_index=True)
    raw["day"] = pd.to_datetime(raw["ChargePeriodStart"]).dt.normalize()
    raw["cost"] = raw["BilledCost"].astype(float)
    return root, raw[raw["ChargeCategory"] != "Credit"]


def daily(raw: pd.DataFrame, by: str | None = None, **where) -> pd.Series | pd.DataFrame:
    """Daily cost over the drill-down window (missing days 0), of the rows matching `where`, optionally per `by`."""
    days = pd.date_range(pd.Timestamp(D) - pd.Timedelta(days=drilldown.BASELINE_DAYS), pd.Timestamp(D))
    rows = raw
    for col, value in where.items():
        rows = rows[rows[col] == value]
    if by is None:
        return rows.groupby("day")["cost"].sum().reindex(days, fill_value=0.0)
    return rows.pivot_table(index="day", columns=by, values="cost", aggfunc="sum").reindex(days).fillna(0.0)


def spike_alert(raw: pd.DataFrame, service: str) -> Spike:
    """The spike the service's total makes on d (baseline: the drill-down window's days before d)."""
    total = daily(raw, ServiceName=service)
    mean = float(total.iloc[:-1].mean())
    cost = float(total.iloc[-1])
    return Spike(service, "up" if cost >= mean else "down", cost, mean, 1.0, 9.0, cost - mean, 28)


def settings_for(tmp_path: Path, root: Path, **kw) -> Settings:
    return Settings(cost_source="export", input_files=(str(root),), output_dir=tmp_path / "out", report_date=D,
                    **kw)


def analysis_of(*alerts) -> SimpleNamespace:
    return SimpleNamespace(spikes=[a for a in alerts if isinstance(a, Spike)], trends=[],
                           first_seen=[a for a in alerts if isinstance(a, FirstSeen)])


@pytest.fixture(scope="module")
def day(world, tmp_path_factory):
    """The day's three alerts (EC2 and RDS spikes, Glue first seen) explained in one run, as the pipeline does:
    (alerts by service, find_root_causes' answer)."""
    from tests.conftest import _schema_engine

    root, raw = world
    tmp = tmp_path_factory.mktemp("day")
    alerts = {EC2: spike_alert(raw, EC2), RDS: spike_alert(raw, RDS),
              GLUE: FirstSeen(GLUE, D, float(daily(raw, ServiceName=GLUE).iloc[-1]))}
    engine = _schema_engine(f"sqlite:///{tmp / 'costs.sqlite'}")
    try:
        found = pipeline.find_root_causes(settings_for(tmp, root), engine, analysis_of(*alerts.values()))
    finally:
        engine.dispose()
    return alerts, found


def test_a_planted_resource_spike_is_named_with_its_share_to_the_cent(world, day):
    root, raw = world
    alert = day[0][EC2]
    result = day[1][drilldown.alert_key(alert)]
    assert result.status == "ok" and result.pair == drilldown.RESOURCE_PAIR
    top = result.causes[0]
    assert top.dimensions == {"RESOURCE_ID": PLANTED, "USAGE_TYPE": "USE1-BoxUsage:m5.xlarge", "LINKED_ACCOUNT": PROD}
    assert top.names == {"LINKED_ACCOUNT": "prod"}
    mine = daily(raw, ServiceName=EC2, ResourceId=PLANTED)
    total = daily(raw, ServiceName=EC2)
    delta, change = mine.iloc[-1] - mine.iloc[:-1].mean(), total.iloc[-1] - total.iloc[:-1].mean()
    assert round(top.cost, 2) == round(mine.iloc[-1], 2) and round(top.normal, 2) == round(mine.iloc[:-1].mean(), 2)
    assert round(top.delta, 2) == round(delta, 2)
    assert top.share == pytest.approx(delta / change, abs=1e-6)
    assert top.share > 0.8  # the planted resource is the move, not noise


def test_lines_without_a_resource_id_group_under_one_name(world, tmp_path, sqlite_engine):
    root, raw = world
    frame, names = exports.drill_frame([root], D - timedelta(days=28), D, [EC2])
    answers = drilldown.FrameAnswers(lambda: frame)
    page = answers.get_cost_and_usage(**drilldown.DrillQuery(EC2, drilldown.RESOURCE_PAIR, D, D).request())
    keys = {g["Keys"][0]: float(g["Metrics"]["UnblendedCost"]["Amount"]) for g in page["ResultsByTime"][0]["Groups"]}
    no_id = raw[(raw["ServiceName"] == EC2) & raw["ResourceId"].isna() & (raw["day"] == pd.Timestamp(D))]
    assert keys[drilldown.NO_RESOURCE_ID] == pytest.approx(no_id["cost"].sum(), abs=0.005)
    assert names == NAMES
    assert answers.free and answers.keeps_stored


def test_an_offsetting_pair_across_accounts_is_shown_with_both_sides(world, day):
    root, raw = world
    alert = day[0][RDS]
    result = day[1][drilldown.alert_key(alert)]
    assert result.status == "ok" and result.pair == drilldown.RESOURCE_PAIR
    by_resource = {c.dimensions["RESOURCE_ID"]: c for c in result.causes if "RESOURCE_ID" in c.dimensions}
    assert set(by_resource) == {DB_NEW, DB_OLD}
    per = daily(raw, "ResourceId", ServiceName=RDS)
    change = alert.cost - alert.mean
    for rid, cause in by_resource.items():
        want = per[rid].iloc[-1] - per[rid].iloc[:-1].mean()
        assert round(cause.delta, 2) == round(want, 2)
        assert cause.share == pytest.approx(want / change, abs=1e-6)
    assert by_resource[DB_NEW].dimensions["LINKED_ACCOUNT"] == DEV
    assert by_resource[DB_OLD].dimensions["LINKED_ACCOUNT"] == PROD
    assert by_resource[DB_NEW].share > 1 > 0 > by_resource[DB_OLD].share  # netted: +500 and -300 of +200


def test_a_new_service_is_explained_by_its_resources(day):
    result = day[1][drilldown.alert_key(day[0][GLUE])]
    assert result.status == "ok"
    assert [c.dimensions["RESOURCE_ID"] for c in result.causes] == [
        "arn:aws:glue:us-east-1:444455556666:job/nightly", "arn:aws:glue:us-east-1:444455556666:job/adhoc"]
    assert [round(c.delta, 2) for c in result.causes] == [40.0, 5.0]


def test_tag_breakdown_alerts_are_drilled_within_their_tag(world, tmp_path, sqlite_engine):
    root, raw = world
    tagged, untagged = raw[raw["Tags"].notna()], raw[raw["Tags"].isna()]
    alerts = [replace(spike_alert(tagged, EC2), breakdown="team$payments"),
              replace(spike_alert(untagged, EC2), breakdown="team$")]
    settings = settings_for(tmp_path, root, group_by="TAG:team")
    found = pipeline.find_root_causes(settings, sqlite_engine, analysis_of(*alerts))
    payments, rest = (found[drilldown.alert_key(a)] for a in alerts)
    assert payments.status == rest.status == "ok"
    # Only the tag's rows: the prod instances are tagged, dev's lines and prod's data transfer are not.
    assert {c.dimensions["LINKED_ACCOUNT"] for c in payments.causes} == {PROD}
    assert all(c.dimensions["RESOURCE_ID"] != PLANTED for c in rest.causes)
    top = payments.causes[0]
    mine = daily(tagged, ServiceName=EC2, ResourceId=PLANTED)
    assert top.dimensions["RESOURCE_ID"] == PLANTED
    assert round(top.delta, 2) == round(mine.iloc[-1] - mine.iloc[:-1].mean(), 2)


def test_a_rerun_reads_nothing_and_no_request_is_counted(world, tmp_path, engine, monkeypatch):
    root, raw = world
    alerts = [spike_alert(raw, EC2), spike_alert(raw, RDS)]
    reads = []
    real = exports.drill_frame

    def counted(*args, **kw):
        reads.append(args[3])
        return real(*args, **kw)

    monkeypatch.setattr(exports, "drill_frame", counted)
    settings = settings_for(tmp_path, root, drilldown_max_requests=0)  # no charge: the cap does not apply
    first = pipeline.find_root_causes(settings, engine, analysis_of(*alerts))
    assert reads == [[EC2, RDS]]  # one read for every alerted service
    again = pipeline.find_root_causes(settings, engine, analysis_of(*alerts))
    assert reads == [[EC2, RDS]]
    assert again == first and {r.status for r in first.values()} == {"ok"}
    assert pipeline.drilldown_requests(engine, D) == 0
    # A stage run alone reads them back the same way (best() over the stored pairs).
    assert drilldown.stored(alerts, engine, D) == first


def test_an_unreadable_export_says_so_for_every_alert(world, tmp_path, sqlite_engine):
    root, raw = world
    alerts = [spike_alert(raw, EC2), spike_alert(raw, RDS)]
    settings = settings_for(tmp_path, tmp_path / "gone")
    found = pipeline.find_root_causes(settings, sqlite_engine, analysis_of(*alerts))
    assert {r.status for r in found.values()} == {
        f"unavailable: the export's line items cannot be read (--input {tmp_path / 'gone'}: no such file or folder)"}


@pytest.mark.parametrize(("resource_share", "account_share", "winner"), [
    (0.9, 0.95, drilldown.RESOURCE_PAIR),  # one resource is (almost) the whole usage type's move: name it
    (0.3, 0.95, ("LINKED_ACCOUNT", "USAGE_TYPE")),  # many resources of one usage type moved together
])
def test_best_prefers_a_resource_that_explains_the_move(resource_share, account_share, winner):
    def result(pair, share, resource=PLANTED):
        dims = dict(zip(pair, [resource, "u", "a"] if pair == drilldown.RESOURCE_PAIR else ["a", "u"], strict=True))
        return drilldown.RootCauseResult("ok", [drilldown.RootCause(dims, {}, 1.0, 0.0, 1.0, share)], pair=pair,
                                         explained_share=share)

    results = [result(drilldown.RESOURCE_PAIR, resource_share), result(("LINKED_ACCOUNT", "USAGE_TYPE"), account_share),
               result(("REGION", "OPERATION"), account_share)]
    assert drilldown.best(results).pair == winner
    # Lines without a resource id say no more than account x usage type: never preferred for that.
    no_id = [result(drilldown.RESOURCE_PAIR, account_share, drilldown.NO_RESOURCE_ID), *results[1:]]
    assert drilldown.best(no_id).pair == ("LINKED_ACCOUNT", "USAGE_TYPE")


@pytest.mark.slow
def test_the_focus_sample_runs_with_root_causes(tmp_path, sqlite_engine):
    from _util import stages
    from _util.ingest import ingest

    settings = Settings(cost_source="export", input_files=(str(SAMPLE),), output_dir=tmp_path / "out",
                        report_date=date(2024, 9, 30), spike_min_delta_usd=0.01, first_seen_min_usd=0.01)
    ingest(settings, sqlite_engine, today=date(2026, 11, 28))
    analysis = stages.load_day(settings, sqlite_engine)
    found = pipeline.find_root_causes(settings, sqlite_engine, analysis)
    assert found, "the sample's last day has alerts at these thresholds"
    results = list(found.values())
    assert all(r.status == "ok" or r.status.startswith("not analysed") for r in results), [r.status for r in results]
    for r in results:  # the causes add up to the alert's change
        if r.status == "ok" and r.explained_share is not None:
            assert sum(c.share for c in r.causes) == pytest.approx(r.explained_share)


@pytest.mark.slow
def test_the_whole_run_shows_the_resource_in_the_report_and_the_slack_preview(world, isolated, quick_charts):
    import runCostReporting

    root, raw = world
    code = runCostReporting.main(["--source", "export", "--input", str(root), "--date", D.isoformat(), "--dry-run"])
    assert code == 0
    out = isolated / "output" / D.isoformat()
    report = json.loads((out / "report.json").read_text())
    ec2 = next(s for s in report["spikes"] if s["service"] == EC2)
    assert ec2["root_cause_status"] == "ok"
    assert ec2["root_causes"][0]["dimensions"]["RESOURCE_ID"] == PLANTED
    assert ec2["root_causes"][0]["names"] == {"LINKED_ACCOUNT": "prod"}
    message = (out / "slack_message.json").read_text()
    assert "i-0abc1234567890def (USE1-BoxUsage:m5.xlarge, account prod)" in message
    assert PLANTED not in message  # the ARN's last part only in Slack
    assert "i-0abc1234567890def" in (out / "slack_preview.html").read_text()
    site = (isolated / "output" / "site" / D.isoformat() / "index.html").read_text()
    assert PLANTED in site  # the site's table shows the full id


def test_athena_answers_every_alert_from_one_priced_query(moto_athena, tmp_path, sqlite_engine,  # noqa: F811
                                                         caplog):
    """COST_SOURCE=athena: detail_sql for all alerted services in one query (moto hands out the queued rows), the
    same answerer and maths; the scan is logged with its price."""
    from tests.test_athena import BUCKET, queue_results
    from tests.test_ingest_athena import FakeGlue

    client, s3, url = moto_athena
    types = {"usage_date": ("date", 0, 0), "amount": ("decimal", 38, 12)}
    columns = [(c, *types.get(c, ("varchar", 0, 0))) for c in export_sql.DETAIL_COLUMNS]
    days = [D - timedelta(days=i) for i in range(drilldown.BASELINE_DAYS + 1)]
    rows = []
    for day in days:
        for rid, acct, level in (("i-1", PROD, 10.0), ("i-2", DEV, 20.0)):
            cost = level * (4 if rid == "i-2" and day == D else 1)
            rows.append((day.isoformat(), "AWS", EC2, acct, "BoxUsage", "us-east-1", "RunInstances",
                         f"arn:aws:ec2:us-east-1:{acct}:instance/{rid}", "SKU1", "Usage", f"{cost:.12f}"))
        rows.append((day.isoformat(), "Microsoft", "Virtual Machines", "sub-1", "D2", "eastus", "", "", "", "Usage",
                     "5.000000000000" if day < D else "9.000000000000"))
    queue_results(url, rows, columns)
    settings = Settings(cost_source="athena", report_date=D, export_format="focus", athena_database="cur",
                        athena_table="focus-export", athena_output_location=f"s3://{BUCKET}/q/",
                        output_dir=tmp_path / "out")
    alerts = [Spike(EC2, "up", 90.0, 30.0, 1.0, 9.0, 60.0, 28),
              Spike("Microsoft: Virtual Machines", "up", 9.0, 5.0, 1.0, 9.0, 4.0, 28)]
    sent = []
    client.meta.events.register("provide-client-params.athena.StartQueryExecution",
                                lambda params, **_: sent.append(params["QueryString"]))
    caplog.set_level("INFO")
    answers = pipeline.athena_answers(settings, alerts, client=client, s3_client=s3, glue_client=FakeGlue("focus"))
    found = drilldown.explain(alerts, settings, sqlite_engine, answers, D, pairs=drilldown.EXPORT_PAIRS)
    assert len(sent) == 1 and answers.loads == 1  # one query for every alert and pair
    sql = sent[0]
    assert "billing_period IN ('2026-09', '2026-10')" in sql and '"focus-export"' in sql
    assert "'Virtual Machines'" in sql and f"'{EC2}'" in sql
    ec2 = found[drilldown.alert_key(alerts[0])]
    assert ec2.status == "ok" and ec2.pair == drilldown.RESOURCE_PAIR
    assert ec2.causes[0].dimensions["RESOURCE_ID"] == f"arn:aws:ec2:us-east-1:{DEV}:instance/i-2"
    assert round(ec2.causes[0].delta, 2) == 60.0 and ec2.causes[0].share == pytest.approx(1.0)
    vm = found[drilldown.alert_key(alerts[1])]  # stored qualified by provider: matched as such
    assert vm.status == "ok" and round(sum(c.delta for c in vm.causes), 2) == 4.0
    assert any("Athena query" in r.getMessage() and "USD" in r.getMessage() for r in caplog.records)
    assert pipeline.drilldown_requests(sqlite_engine, D) == 0
