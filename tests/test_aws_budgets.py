"""BUDGETS_SOURCE=aws: the mapping rule (pure), DescribeBudgets paged and refused (Stubber), and moto's Budgets over
real HTTP through the day's view and report.json."""

from __future__ import annotations

from datetime import date, datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from _util import aws_budgets
from _util.aws_budgets import BudgetAmounts, pick, read_aws
from _util.config import ConfigError, Settings, load_settings

D = date(2026, 11, 25)
ACCOUNT = "111122223333"


def budget(name, amount="1000", unit="USD", kind="COST", period="MONTHLY", filters=None, planned=None) -> dict:
    b = {"BudgetName": name, "BudgetLimit": {"Amount": amount, "Unit": unit}, "TimeUnit": period,
         "BudgetType": kind, "CostFilters": filters or {}}
    if planned:
        b["PlannedBudgetLimits"] = planned
    return b


def settings(**kw) -> Settings:
    return Settings(**{"report_date": D, "budgets_source": "aws", "budgets_account_id": ACCOUNT, **kw})


# ---- the mapping rule ---------------------------------------------------------------------------------------------


def test_team_budgets_by_name_and_the_unfiltered_one_is_the_overall():
    found = [budget("payments", "12000"), budget("account", "35000.50"),
             budget("ec2 only", "500", filters={"Service": ["Amazon Elastic Compute Cloud - Compute"]}),
             budget("yearly", "99", period="ANNUALLY"), budget("usage", "5", kind="USAGE")]
    overall, teams, notes = pick(found, ["payments", "data"], D)
    assert (overall, teams, notes) == (35000.5, {"payments": 12000.0}, [])


def test_the_overall_budget_named_by_the_setting_wins_and_a_missing_name_is_said():
    found = [budget("account", "35000"), budget("prod-total", "20000", filters={"LinkedAccount": [ACCOUNT]})]
    assert pick(found, [], D, "prod-total")[0] == 20000.0
    overall, _, notes = pick(found, [], D, "nope")
    assert overall is None and notes == ["no monthly cost budget in USD named 'nope' (BUDGETS_OVERALL_NAME): no "
                                         "overall budget"]


def test_several_unfiltered_budgets_pick_none_and_say_which():
    overall, _, notes = pick([budget("b"), budget("a")], [], D)
    assert overall is None and notes == ["2 monthly cost budgets without cost filters ('a', 'b'): set "
                                         "BUDGETS_OVERALL_NAME to the overall one; no overall budget"]


@pytest.mark.parametrize("bad, why", [(budget("payments", unit="EUR"), "is in EUR, not USD"),
                                      (budget("payments", amount="0"), "is not a number > 0"),
                                      (budget("payments", amount="lots"), "is not a number > 0")])
def test_a_budget_not_in_usd_or_without_a_positive_amount_is_left_out_and_said(bad, why):
    overall, teams, notes = pick([bad], ["payments"], D)
    assert (overall, teams) == (None, {}) and len(notes) == 1 and why in notes[0] and "'payments'" in notes[0]


def test_a_planned_budget_uses_the_months_own_amount():
    nov = str(int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()))
    planned = {nov: {"Amount": "4200", "Unit": "USD"}, "0": {"Amount": "1", "Unit": "USD"}}
    assert pick([budget("payments", "1000", planned=planned)], ["payments"], D)[1] == {"payments": 4200.0}
    assert pick([budget("payments", "1000", planned=planned)], ["payments"], date(2026, 12, 3))[1] == {
        "payments": 1000.0}


# ---- DescribeBudgets: pages and refusals (Stubber) ----------------------------------------------------------------


def stubbed():
    return boto3.client("budgets", region_name="us-east-1"), boto3.client("sts", region_name="us-east-1")


def test_every_page_is_read_and_the_account_comes_from_sts_unless_set():
    client, sts = stubbed()
    with Stubber(client) as stub, Stubber(sts) as sts_stub:
        sts_stub.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/cost", "UserId": "u"})
        stub.add_response("describe_budgets", {"Budgets": [budget("payments", "12000")], "NextToken": "t1"},
                          {"AccountId": ACCOUNT})
        stub.add_response("describe_budgets", {"Budgets": [budget("account", "35000")]},
                          {"AccountId": ACCOUNT, "NextToken": "t1"})
        got = read_aws(settings(budgets_account_id=""), ["payments"], client=client, sts=sts)
        stub.assert_no_pending_responses()
    assert got == BudgetAmounts("aws", 35000.0, {"payments": 12000.0}, ACCOUNT)


@pytest.mark.parametrize("code, says", [
    ("AccessDeniedException", "AWS Budgets AccessDeniedException: not allowed — the role needs budgets:ViewBudget"),
    ("ThrottlingException", "AWS Budgets ThrottlingException: not allowed"),
])
def test_a_refusal_leaves_the_report_without_budgets_and_says_so_in_one_line(code, says, caplog):
    client, sts = stubbed()
    with Stubber(client) as stub:
        stub.add_client_error("describe_budgets", code, "not allowed")
        got = read_aws(settings(), ["payments"], client=client, sts=sts)
    assert (got.overall, got.teams) == (None, {}) and got.error.startswith(says)
    lines = [r.getMessage() for r in caplog.records if "AWS Budgets" in r.getMessage()]
    assert len(lines) == 1 and lines[0].endswith("the report goes out without budgets")
    assert got.to_dict()["error"] == got.error


@pytest.mark.parametrize("reply", ["empty", "not found"])
def test_no_budget_at_all_is_said_not_an_error(reply):
    client, sts = stubbed()
    with Stubber(client) as stub:
        if reply == "empty":
            stub.add_response("describe_budgets", {"Budgets": []})
        else:
            stub.add_client_error("describe_budgets", "NotFoundException", "no budgets")
        got = read_aws(settings(), [], client=client, sts=sts)
    assert got.error == "" and got.overall is None
    assert got.notes == (f"no monthly cost budget in USD for this report in account {ACCOUNT}",)


def test_budgets_settings():
    s = load_settings(environ={"BUDGETS_SOURCE": "AWS", "BUDGETS_ACCOUNT_ID": ACCOUNT, "BUDGETS_OVERALL_NAME": "x"})
    assert (s.budgets_source, s.budgets_account_id, s.budgets_overall_name) == ("aws", ACCOUNT, "x")
    assert load_settings(environ={}).budgets_source == "settings"
    with pytest.raises(ConfigError, match="BUDGETS_SOURCE must be one of settings, aws"):
        load_settings(environ={"BUDGETS_SOURCE": "file"})
    with pytest.raises(ConfigError, match="BUDGETS_ACCOUNT_ID must be a 12-digit"):
        load_settings(environ={"BUDGETS_ACCOUNT_ID": "1111-2222-3333"})


def test_settings_source_is_the_budget_setting_and_the_teams_file():
    from _util.teams import parse_teams

    teams = parse_teams('[[team]]\nname = "data"\nchannel = "C0DATA"\nmonthly_budget_usd = 500\n'
                        'services = ["AWS Lambda"]\n')
    got = aws_budgets.budget_amounts(Settings(monthly_budget_usd=1000.0), teams)
    assert got == BudgetAmounts("settings", 1000.0, {"data": 500.0})


# ---- moto's Budgets over HTTP -------------------------------------------------------------------------------------


def test_budgets_from_moto_reach_the_days_budgets_and_report_json(moto_reset, monkeypatch, tmp_path):
    from _util import report, stages
    from tests.slack_fixtures import analysis

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    client = boto3.client("budgets", region_name="us-east-1")
    account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    for b in (budget("account", "1000"), budget("data", "1000000"), budget("eur", "5", unit="EUR")):
        client.create_budget(AccountId=account, Budget=b)
    teams = tmp_path / "teams.toml"
    teams.write_text('[[team]]\nname = "data"\nchannel = "C0DATA"\nservices = ["AWS Lambda"]\n')
    a = analysis()
    s = Settings(report_date=a.report_date, budgets_source="aws", teams_file=teams, monthly_budget_usd=5.0)
    v = stages.day_view(s, a)
    assert [(b.team, b.budget) for b in v.budgets] == [(None, 1000.0), ("data", 1000000.0)]  # not the setting's 5
    data = report.report_dict(v, {}, 0)
    assert data["budgets_source"] == {"source": "aws", "account_id": account, "overall": 1000.0,
                                      "teams": {"data": 1000000.0},
                                      "notes": ["AWS budget 'eur' is in EUR, not USD: left out"], "error": None}
    assert [b["budget"] for b in data["budgets"]] == [1000.0, 1000000.0]


def test_unreachable_budgets_leave_the_day_without_budgets(monkeypatch, tmp_path):
    from _util import report, stages
    from tests.slack_fixtures import analysis

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: refused at once
    monkeypatch.setattr(aws_budgets, "BUDGETS_MAX_ATTEMPTS", 1)
    a = analysis()
    s = Settings(report_date=a.report_date, budgets_source="aws", budgets_account_id=ACCOUNT,
                 monthly_budget_usd=5.0)
    v = stages.day_view(s, a)
    assert v.budgets == ()
    data = report.report_dict(v, {}, 0)
    assert data["budgets"] == [] and data["budgets_source"]["error"].startswith("AWS Budgets unreachable")
