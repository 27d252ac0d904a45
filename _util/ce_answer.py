"""Answer Cost Explorer requests (GetCostAndUsage, GetDimensionValues) from a long cost frame, in CE's shape.

Pure: a request body (boto3 keyword arguments or the JSON body, the same dict) and a frame in, a response dict out;
the sample source and the HTTP stand-in in the tests both answer through it. The frame has one row per
(usage_date, service, linked_account, usage_type, region, operation, record_type) with `amount` in USD, and may carry
tag columns "tag:<key>" and cost category columns "cost_category:<name>".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

# GroupBy/Filter dimension -> frame column (other dimensions answer from a column of the lower-cased name if any).
DIMENSION_COLUMNS = {"SERVICE": "service", "LINKED_ACCOUNT": "linked_account", "USAGE_TYPE": "usage_type",
                     "REGION": "region", "OPERATION": "operation", "RECORD_TYPE": "record_type"}
# The GroupBy dimensions AWS documents; REGION also works there but is undocumented (a caller must survive refusal).
DOCUMENTED_GROUP_DIMENSIONS = ("AZ", "INSTANCE_TYPE", "LEGAL_ENTITY_NAME", "INVOICING_ENTITY", "LINKED_ACCOUNT",
                               "OPERATION", "PLATFORM", "PURCHASE_TYPE", "SERVICE", "TENANCY", "RECORD_TYPE",
                               "USAGE_TYPE")
COST_METRICS = ("AmortizedCost", "BlendedCost", "NetAmortizedCost", "NetUnblendedCost", "UnblendedCost")
_ROOTS = ("And", "Or", "Not", "Dimensions", "Tags", "CostCategories")
_PREFIX = {"TAG": "tag:", "COST_CATEGORY": "cost_category:"}


class CEError(Exception):
    """A Cost Explorer error answer: the HTTP layer sends `status` with {"__type": code, "message": message}."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def _invalid(message: str) -> CEError:
    return CEError("ValidationException", message)


def _day(raw: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise _invalid(f"{what} {raw!r} is not a valid date (YYYY-MM-DD)") from None


def _periods(request: dict[str, Any]) -> list[tuple[date, date]]:
    """[(start, end exclusive)] of the answer: one per day (DAILY) or calendar month, clipped (MONTHLY)."""
    period = request.get("TimePeriod") or {}
    start, end = _day(period.get("Start"), "TimePeriod.Start"), _day(period.get("End"), "TimePeriod.End")
    if start >= end:
        raise _invalid("Start date (and hour) should be before end date (and hour)")
    granularity = request.get("Granularity", "DAILY")
    if granularity == "DAILY":
        return [(start + timedelta(days=i), start + timedelta(days=i + 1)) for i in range((end - start).days)]
    if granularity == "MONTHLY":
        out, at = [], start
        while at < end:
            nxt = (at.replace(day=1) + timedelta(days=32)).replace(day=1)
            out.append((at, min(nxt, end)))
            at = nxt
        return out
    raise _invalid(f"Granularity {granularity!r} is not answered here (DAILY or MONTHLY)")


def _metrics(request: dict[str, Any]) -> list[str]:
    metrics = request.get("Metrics") or []
    if not metrics:
        raise _invalid("Metrics is required")
    unknown = [m for m in metrics if m not in COST_METRICS]
    if unknown:
        raise _invalid(f"Metric {unknown[0]!r} is not answered here (cost metrics only: {', '.join(COST_METRICS)})")
    return list(metrics)


def _column(frame: pd.DataFrame, kind: str, key: str) -> pd.Series:
    """The frame's values for a dimension, tag or cost category, as strings ("" where a tag is not set)."""
    if kind in _PREFIX:
        name = _PREFIX[kind] + key
        if name not in frame:
            return pd.Series("", index=frame.index, dtype=object)
        return frame[name].fillna("").astype(str)
    name = DIMENSION_COLUMNS.get(key, key.lower())
    if name not in frame:
        if key == "RECORD_TYPE":  # a frame without record types holds usage only
            return pd.Series("Usage", index=frame.index, dtype=object)
        raise _invalid(f"Dimension {key} is not in this data set")
    return frame[name].astype(str)


def _mask(frame: pd.DataFrame, expr: Any, where: str = "Filter") -> np.ndarray:
    """Rows matching a Cost Explorer Expression (And, Or, Not, Dimensions, Tags, CostCategories)."""
    if not isinstance(expr, dict):
        raise _invalid(f"{where} must be an Expression object")
    roots = [k for k in _ROOTS if expr.get(k) is not None]
    if len(roots) != 1:
        raise _invalid(f"{where}: an Expression has exactly one root operator: And, Or, Not, Dimensions, Tags, "
                       "CostCategories")
    root, body = roots[0], expr[roots[0]]
    if root in ("And", "Or"):
        if not isinstance(body, list) or len(body) < 2:
            raise _invalid(f"{where}: {root} needs at least 2 expressions")
        parts = [_mask(frame, e, f"{where}.{root}[{i}]") for i, e in enumerate(body)]
        return np.logical_and.reduce(parts) if root == "And" else np.logical_or.reduce(parts)
    if root == "Not":
        return ~_mask(frame, body, f"{where}.Not")
    kind = {"Dimensions": "DIMENSION", "Tags": "TAG", "CostCategories": "COST_CATEGORY"}[root]
    key, values = body.get("Key"), list(body.get("Values") or [])
    options = set(body.get("MatchOptions") or ["EQUALS"])
    allowed = {"EQUALS", "CASE_SENSITIVE"} if kind == "DIMENSION" else {"EQUALS", "ABSENT", "CASE_SENSITIVE",
                                                                          "CASE_INSENSITIVE"}
    if not key or options - allowed:
        raise _invalid(f"{where}.{root}: needs a Key; MatchOptions may be {', '.join(sorted(allowed))}")
    column = _column(frame, kind, key)
    if "ABSENT" in options:
        return (column == "").to_numpy()
    if not values:
        raise _invalid(f"{where}.{root}: Values must not be empty")
    if "CASE_INSENSITIVE" in options:
        return column.str.lower().isin([v.lower() for v in values]).to_numpy()
    return column.isin(values).to_numpy()


def _group_keys(request: dict[str, Any], refuse: Iterable[str], extra: Iterable[str] = (),
                max_keys: int = 2) -> list[tuple[str, str]]:
    group_by = request.get("GroupBy") or []
    if len(group_by) > max_keys:
        raise _invalid(f"GroupBy takes at most {max_keys} group definitions")
    extra = set(extra)
    keys: list[tuple[str, str]] = []
    for g in group_by:
        kind, key = g.get("Type"), g.get("Key")
        if kind not in ("DIMENSION", "TAG", "COST_CATEGORY") or not key:
            raise _invalid(f"Group Definition {g!r} needs a Type (DIMENSION, TAG, COST_CATEGORY) and a Key")
        if kind == "DIMENSION" and (key in refuse or (key not in DOCUMENTED_GROUP_DIMENSIONS and key != "REGION"
                                                      and key not in extra)):
            raise _invalid("Group Definition dimension is invalid. Valid values are "
                           + ", ".join(DOCUMENTED_GROUP_DIMENSIONS))
        if (kind, key) in keys:
            raise _invalid(f"Group Definition {kind} {key} is duplicated")
        keys.append((kind, key))
    return keys


def _is_estimated(estimated: Callable[[date], bool] | date | None) -> Callable[[date], bool]:
    if estimated is None:
        return lambda day: False
    if isinstance(estimated, date):
        return lambda day: day >= estimated
    return estimated


def _amount(value: float) -> dict[str, str]:
    # CE sends decimal strings; a sum that nets to float noise is "0", never "-0.0000000000".
    return {"Amount": "0" if abs(value) < 5e-11 else f"{value:.10f}", "Unit": "USD"}


def _select(frame: pd.DataFrame, request: dict[str, Any],
            periods: list[tuple[date, date]]) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows inside the time period that match the Filter, and each one's period index."""
    days = pd.to_datetime(frame["usage_date"]).to_numpy().astype("datetime64[D]")
    edges = np.array([p[0] for p in periods] + [periods[-1][1]], dtype="datetime64[D]")
    inside = (days >= edges[0]) & (days < edges[-1])
    if request.get("Filter") is not None:
        inside &= _mask(frame, request["Filter"])
    return frame[inside], np.searchsorted(edges, days[inside], side="right") - 1


def answer_cost_and_usage(frame: pd.DataFrame, request: dict[str, Any], *, page_groups: int = 5000,
                          estimated: Callable[[date], bool] | date | None = None, refuse: Iterable[str] = (),
                          account_names: dict[str, str] | None = None, extra_dimensions: Iterable[str] = (),
                          max_group_by: int = 2) -> dict[str, Any]:
    """A GetCostAndUsage response for `request` from `frame` (USD): one ResultsByTime entry per period even without
    cost, Total filled only when ungrouped, Groups keyed like CE ("key$value" for tags), paged by page_groups
    groups with NextPageToken. estimated: a day -> bool function, or the first estimated day. refuse: GroupBy
    dimensions answered with a ValidationException (as CE may for the undocumented REGION). extra_dimensions and
    max_group_by go past Cost Explorer's GroupBy (an export answers by RESOURCE_ID, three keys at once). Raises
    CEError."""
    periods = _periods(request)
    metrics = _metrics(request)
    keys = _group_keys(request, set(refuse), extra_dimensions, max_group_by)
    is_estimated = _is_estimated(estimated)
    rows, index = _select(frame, request, periods)
    results = [{"TimePeriod": {"Start": s.isoformat(), "End": e.isoformat()}, "Total": {}, "Groups": [],
                "Estimated": any(is_estimated(s + timedelta(days=i)) for i in range((e - s).days))}
               for s, e in periods]
    if not keys:
        totals = np.bincount(index, weights=rows["amount"].to_numpy(float), minlength=len(periods))
        for result, total in zip(results, totals, strict=True):
            result["Total"] = {m: _amount(float(total)) for m in metrics}
        return {"ResultsByTime": results, "DimensionValueAttributes": []}

    labels = [_column(rows, kind, key) for kind, key in keys]
    labels = [lab.radd(f"{key}$") if kind in _PREFIX else lab for lab, (kind, key) in zip(labels, keys, strict=True)]
    table = pd.DataFrame({"period": index, "amount": rows["amount"].to_numpy(float)}, index=rows.index)
    names = [f"k{i}" for i in range(len(keys))]
    for name, lab in zip(names, labels, strict=True):
        table[name] = lab.to_numpy()
    sums = table.groupby(["period", *names], sort=True)["amount"].sum().reset_index()
    # One slot per group, and one per period without any group (CE still lists that day on some page).
    empty = np.setdiff1d(np.arange(len(periods)), sums["period"].to_numpy())
    slots = pd.concat([sums, pd.DataFrame({"period": empty})], ignore_index=True)
    slots = slots.sort_values("period", kind="stable").reset_index(drop=True)

    token = request.get("NextPageToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        offset = -1
    if not 0 <= offset < max(len(slots), 1):
        raise _invalid(f"Invalid NextPageToken {token!r}")
    page = slots.iloc[offset:offset + page_groups]
    # Every period on the page is listed (a period's slot without a group too), in order; then its groups. Plain
    # lists and one comprehension: an export's resources give tens of thousands of groups per answer.
    periods_on_page = page["period"].to_numpy(dtype=np.int64)
    shown = [results[p] for p in dict.fromkeys(periods_on_page.tolist())]
    grouped = page[names[0]].notna().to_numpy()
    group_rows = page.loc[grouped]
    amounts = [_amount(a)["Amount"] for a in group_rows["amount"].to_numpy(dtype=float).tolist()]
    group_keys = group_rows[names].to_numpy(object).tolist()
    groups = [{"Keys": k, "Metrics": {m: {"Amount": a, "Unit": "USD"} for m in metrics}}
              for k, a in zip(group_keys, amounts, strict=True)]
    for p, group in zip(periods_on_page[grouped].tolist(), groups, strict=True):
        results[p]["Groups"].append(group)
    accounts = [group_rows[n].tolist() for n, (_, dim) in zip(names, keys, strict=True) if dim == "LINKED_ACCOUNT"]
    response: dict[str, Any] = {"GroupDefinitions": [{"Type": k, "Key": v} for k, v in keys],
                                "ResultsByTime": shown,
                                "DimensionValueAttributes": _attributes(dict.fromkeys(accounts[0] if accounts else []),
                                                                        account_names)}
    if offset + page_groups < len(slots):
        response["NextPageToken"] = str(offset + page_groups)
    return response


def _attributes(accounts: Iterable[str], names: dict[str, str] | None) -> list[dict[str, Any]]:
    return [{"Value": a, "Attributes": {"description": names[a]}} for a in accounts if names and a in names]


def dimension_values(frame: pd.DataFrame, request: dict[str, Any], *,
                     account_names: dict[str, str] | None = None) -> dict[str, Any]:
    """A GetDimensionValues response: the dimension's distinct values with cost in the period (and Filter), sorted;
    LINKED_ACCOUNT values carry {"description": name} as CE does. SearchString matches a substring."""
    periods = _periods({**request, "Granularity": "DAILY"})
    dimension = request.get("Dimension")
    if not dimension:
        raise _invalid("Dimension is required")
    rows, _ = _select(frame, request, periods)
    values = sorted(set(_column(rows, "DIMENSION", dimension)))
    if request.get("SearchString"):
        values = [v for v in values if request["SearchString"].lower() in v.lower()]
    out = [{"Value": v, "Attributes": ({"description": account_names[v]}
                                       if dimension == "LINKED_ACCOUNT" and account_names and v in account_names
                                       else {})} for v in values]
    return {"DimensionValues": out, "ReturnSize": len(out), "TotalSize": len(out)}
