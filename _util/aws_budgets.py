"""Where the monthly budgets come from (BUDGETS_SOURCE): the settings, or AWS Budgets (DescribeBudgets).

Mapping rule for AWS Budgets (README "Budgets from AWS Budgets"): only budgets with BudgetType COST and TimeUnit
MONTHLY count, in USD (another unit is left out and said). Their amount is the month's PlannedBudgetLimits entry
when the budget plans month by month, else BudgetLimit. A budget whose name equals a team's name (TEAMS_FILE,
exactly) is that team's; the account's overall budget is the one named BUDGETS_OVERALL_NAME, or, unset, the one
monthly cost budget without cost filters (several: none is picked, said). A budget that cannot be read (AccessDenied,
throttling after botocore's retries, no network) leaves the report without budgets, said in one line: a budget
read never stops the report.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from .config import Settings

log = logging.getLogger(__name__)

BUDGETS_MAX_ATTEMPTS = 5  # throttling (and timeouts) retried by botocore within these
BUDGETS_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class BudgetAmounts:
    """The month's budgets in USD: the account's (None = none) and each team's, where they came from, and what
    was left out or went wrong (one line each)."""

    source: str  # "settings" | "aws"
    overall: float | None = None
    teams: dict[str, float] = field(default_factory=dict)
    account_id: str = ""  # AWS Budgets: the account read
    notes: tuple[str, ...] = ()  # budgets left out, and why
    error: str = ""  # AWS Budgets could not be read: no budgets this run

    def to_dict(self) -> dict[str, Any]:
        """report.json's "budgets_source"."""
        return {"source": self.source, "account_id": self.account_id or None, "overall": self.overall,
                "teams": dict(self.teams), "notes": list(self.notes), "error": self.error or None}


def from_settings(settings: Settings, team_list: Iterable | None) -> BudgetAmounts:
    """MONTHLY_BUDGET_USD and the teams file's monthly_budget_usd."""
    teams = {t.name: t.monthly_budget_usd for t in team_list or () if t.monthly_budget_usd}
    return BudgetAmounts("settings", settings.monthly_budget_usd, teams)


def make_budgets_client(max_attempts: int | None = None, read_timeout: float = BUDGETS_TIMEOUT_SECONDS):
    """The AWS Budgets client (boto3 default credential chain; one endpoint, us-east-1); throttling retried within
    max_attempts (default BUDGETS_MAX_ATTEMPTS)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts or BUDGETS_MAX_ATTEMPTS},
                    connect_timeout=5, read_timeout=read_timeout)
    return boto3.client("budgets", region_name="us-east-1", config=config)


def make_sts_client():
    """The STS client that names the caller's account (GetCallerIdentity)."""
    import boto3
    from botocore.config import Config

    return boto3.client("sts", region_name="us-east-1",
                        config=Config(retries={"mode": "standard", "total_max_attempts": BUDGETS_MAX_ATTEMPTS},
                                      connect_timeout=5, read_timeout=BUDGETS_TIMEOUT_SECONDS))


def _epoch_key(month_start: date) -> str:
    """PlannedBudgetLimits' key of a month: the UTC epoch seconds of its first day."""
    return str(int(datetime(month_start.year, month_start.month, 1, tzinfo=timezone.utc).timestamp()))


def _filtered(budget: dict[str, Any]) -> bool:
    """Whether the budget covers part of the account only (cost filters or a filter expression)."""
    return bool(any(budget.get("CostFilters", {}).values()) or budget.get("FilterExpression"))


def pick(budgets: Iterable[dict[str, Any]], team_names: Iterable[str], month: date, overall_name: str = ""
         ) -> tuple[float | None, dict[str, float], list[str]]:
    """(overall, {team: amount}, notes) of DescribeBudgets' Budgets by the mapping rule (module docstring). Pure."""
    names = set(team_names)
    overall: float | None = None
    teams: dict[str, float] = {}
    unfiltered: list[tuple[str, float]] = []
    notes: list[str] = []
    for b in budgets:
        name = str(b.get("BudgetName", ""))
        if b.get("BudgetType") != "COST" or b.get("TimeUnit") != "MONTHLY":
            log.debug("AWS budget %r: %s %s, not a monthly cost budget: left out", name, b.get("TimeUnit"),
                      b.get("BudgetType"))
            continue
        spend = (b.get("PlannedBudgetLimits") or {}).get(_epoch_key(month)) or b.get("BudgetLimit") or {}
        unit = spend.get("Unit")
        if unit != "USD":
            notes.append(f"AWS budget {name!r} is in {unit or 'no unit'}, not USD: left out")
            continue
        try:
            amount = float(Decimal(str(spend.get("Amount"))))
        except InvalidOperation:
            amount = math.nan
        if not (math.isfinite(amount) and amount > 0):
            notes.append(f"AWS budget {name!r}: amount {spend.get('Amount')!r} is not a number > 0: left out")
            continue
        if name in names:
            teams[name] = amount
        elif overall_name:
            if name == overall_name:
                overall = amount
        elif not _filtered(b):
            unfiltered.append((name, amount))
    if overall_name and overall is None:
        notes.append(f"no monthly cost budget in USD named {overall_name!r} (BUDGETS_OVERALL_NAME): no overall "
                     "budget")
    if not overall_name:
        if len(unfiltered) == 1:
            overall = unfiltered[0][1]
        elif unfiltered:
            listed = ", ".join(repr(n) for n, _ in sorted(unfiltered))
            notes.append(f"{len(unfiltered)} monthly cost budgets without cost filters ({listed}): set "
                         "BUDGETS_OVERALL_NAME to the overall one; no overall budget")
    return overall, teams, notes


def read_aws(settings: Settings, team_names: Iterable[str], *, client=None, sts=None) -> BudgetAmounts:
    """d's month's budgets from AWS Budgets (DescribeBudgets, every page); never raises: a failure is one
    warning line and a BudgetAmounts without budgets whose `error` says why."""
    from botocore.exceptions import BotoCoreError, ClientError

    account = settings.budgets_account_id
    try:
        if not account:
            account = (sts or make_sts_client()).get_caller_identity()["Account"]
        client = client or make_budgets_client()
        found: list[dict[str, Any]] = []
        try:
            for page in client.get_paginator("describe_budgets").paginate(AccountId=account):
                found.extend(page.get("Budgets", []))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotFoundException":  # no budget at all: not an error
                raise
    except ClientError as exc:
        err = exc.response.get("Error", {})
        error = f"AWS Budgets {err.get('Code', 'Unknown')}: {err.get('Message', '')}".rstrip(": ")
        if err.get("Code") in ("AccessDeniedException", "AccessDenied"):
            error += " — the role needs budgets:ViewBudget (docs/iam-policy.json)"
        return _failed(account, error)
    except BotoCoreError as exc:
        return _failed(account, f"AWS Budgets unreachable: {exc}")
    overall, teams, notes = pick(found, team_names, settings.day.replace(day=1), settings.budgets_overall_name)
    if overall is None and not teams:
        notes.append(f"no monthly cost budget in USD for this report in account {account}")
    for note in notes:
        log.warning("budgets: %s", note)
    log.info("budgets: %d read from AWS Budgets (account %s): overall %s, %d team(s)", len(found), account,
             "none" if overall is None else f"USD {overall:,.2f}", len(teams))
    return BudgetAmounts("aws", overall, teams, account, tuple(notes))


def _failed(account: str, error: str) -> BudgetAmounts:
    log.warning("budgets: %s; the report goes out without budgets", error)
    return BudgetAmounts("aws", account_id=account, error=error)


def budget_amounts(settings: Settings, team_list: Iterable | None) -> BudgetAmounts:
    """The month's budgets as BUDGETS_SOURCE says."""
    if settings.budgets_source == "aws":
        return read_aws(settings, [t.name for t in team_list or ()])
    return from_settings(settings, team_list)
