"""Cost Explorer's month-end forecast of the total (FORECAST_SOURCE=ce), beside the project's model.

One GetCostForecast request (USD 0.01) per report date: DAILY, the remaining days of d's month that Cost Explorer
can still forecast (from max(d + 1, today UTC): it refuses a start before today; End exclusive = the 1st of the next
month; no request when no day remains), the COST_METRIC in Cost Explorer's UPPER_SNAKE form, an 80% prediction
interval, and the cost query's RECORD_TYPE Filter. The answer (or Cost Explorer's refusal) is kept in
OUTPUT_DIR/<d>/ce_forecast.json with its request: a rerun the same day and a stage script run alone read it back
and pay nothing.

Month end (`combine`, pure) = month to date + the model's forecast of the days between d and today (a late rerun:
the report of d stays about d, so the days after d come from the same forecast, never from later actuals) + Cost
Explorer's Total over the days it forecast. Cost Explorer gives no interval for its Total, only per day: the per-day
bounds are summed, the interval of a sum whose days' errors move together (a level shift, which dominates a
multi-week sum); with independent days it would be narrower, so this errs wide. The gap days' interval is the model's
own, scaled to their share of the model's remaining days.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .config import ConfigError, Settings
from .costexplorer import CE_REQUEST_USD, record_type_filter
from .forecast import Estimate, Forecast

log = logging.getLogger(__name__)

# GetCostAndUsage's metric names -> GetCostForecast's (the forecast takes UPPER_SNAKE names).
FORECAST_METRICS = {"UnblendedCost": "UNBLENDED_COST", "AmortizedCost": "AMORTIZED_COST",
                    "BlendedCost": "BLENDED_COST", "NetUnblendedCost": "NET_UNBLENDED_COST",
                    "NetAmortizedCost": "NET_AMORTIZED_COST"}
INTERVAL_LEVEL = 80  # PredictionIntervalLevel, % (the model's interval is 80% too)
FILE_NAME = "ce_forecast.json"
LASTING_REFUSALS = ("DataUnavailableException", "AccessDeniedException", "AccessDenied", "UnauthorizedOperation",
                    "ValidationException", "unit ")


def forecast_metric(metric: str) -> str:
    """GetCostForecast's name for a COST_METRIC; ConfigError naming both settings when it forecasts no such metric."""
    try:
        return FORECAST_METRICS[metric]
    except KeyError:
        raise ConfigError(f"FORECAST_SOURCE=ce: Cost Explorer's GetCostForecast does not forecast COST_METRIC "
                          f"{metric} (it takes {', '.join(FORECAST_METRICS)}); set FORECAST_SOURCE=model") from None


def window(report_date: date, today: date) -> tuple[date, date] | None:
    """[Start, End) of the GetCostForecast request: max(d + 1, today) to the 1st of the next month; None when no
    day of d's month remains from today on (no request)."""
    month_end = (report_date.replace(day=28) + timedelta(days=4)).replace(day=1)
    start = max(report_date + timedelta(days=1), today)
    return (start, month_end) if start < month_end else None


def forecast_request(report_date: date, today: date, metric: str,
                     exclude_record_types: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The GetCostForecast keyword arguments for d's remaining days (None: no day remains, no request)."""
    span = window(report_date, today)
    if span is None:
        return None
    kwargs: dict[str, Any] = {"TimePeriod": {"Start": span[0].isoformat(), "End": span[1].isoformat()},
                              "Metric": forecast_metric(metric), "Granularity": "DAILY",
                              "PredictionIntervalLevel": INTERVAL_LEVEL}
    if exclude_record_types:
        kwargs["Filter"] = record_type_filter(exclude_record_types)
    return kwargs


@dataclass(frozen=True)
class CeAnswer:
    """Cost Explorer's forecast of the request's days (USD), or why there is none (error)."""

    request: dict[str, Any]
    total: float = 0.0  # Total.Amount over [Start, End)
    low: float = 0.0  # per-day PredictionIntervalLowerBound, summed
    high: float = 0.0
    error: str = ""  # "DataUnavailableException: …" when Cost Explorer refused

    @property
    def start(self) -> date:
        return date.fromisoformat(self.request["TimePeriod"]["Start"])

    def to_json(self) -> dict[str, Any]:
        return {"request": self.request, "total": self.total, "low": self.low, "high": self.high,
                "error": self.error}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CeAnswer:
        return cls(data["request"], float(data["total"]), float(data["low"]), float(data["high"]),
                   str(data.get("error") or ""))


def _usd(cell: Any, where: str) -> float:
    try:
        value = Decimal(str(cell))
    except InvalidOperation:
        raise ValueError(f"{where} {cell!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{where} {cell!r} is not a finite number")
    return float(value)


def parse(response: dict[str, Any], request: dict[str, Any]) -> CeAnswer:
    """The CeAnswer of one GetCostForecast response; a malformed one or a currency other than USD is an error
    answer (the model is used instead)."""
    try:
        total = response["Total"]
        if total.get("Unit") != "USD":
            return CeAnswer(request, error=f"unit {total.get('Unit')!r}, not USD")
        amount = _usd(total["Amount"], "Total.Amount")
        days = response.get("ForecastResultsByTime") or []
        low = sum(_usd(x.get("PredictionIntervalLowerBound", x["MeanValue"]), "PredictionIntervalLowerBound")
                  for x in days)
        high = sum(_usd(x.get("PredictionIntervalUpperBound", x["MeanValue"]), "PredictionIntervalUpperBound")
                   for x in days)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        return CeAnswer(request, error=f"malformed answer ({type(exc).__name__}: {exc})")
    if not days:
        low = high = amount
    return CeAnswer(request, amount, min(low, amount), max(high, amount))


def ask(client, request: dict[str, Any]) -> CeAnswer:
    """One GetCostForecast request; a refusal (DataUnavailableException, AccessDenied, throttling after botocore's
    retries, a timeout) is an error answer, never raised: the report goes out with the model's forecast."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.get_cost_forecast(**request)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        return CeAnswer(request, error=f"{err.get('Code', 'Unknown')}: {err.get('Message', '')}".rstrip(": "))
    except BotoCoreError as exc:
        return CeAnswer(request, error=f"{type(exc).__name__}: {exc}")
    return parse(response, request)


def path_for(settings: Settings) -> Path:
    """OUTPUT_DIR/<d>/ce_forecast.json: the day's answer, kept for reruns and stage scripts run alone."""
    return settings.output_dir / settings.day.isoformat() / FILE_NAME


def stored(settings: Settings) -> CeAnswer | None:
    """The answer kept for d (None: none, or a file that cannot be read: logged)."""
    path = path_for(settings)
    try:
        return CeAnswer.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: cannot read the stored Cost Explorer forecast (%s); not used", path, exc)
        return None


def fetch_for_day(settings: Settings, today: date, *, client=None) -> tuple[int, CeAnswer | None]:
    """Ask Cost Explorer for d's forecast unless the same request's answer is kept; keep it. Returns the requests
    made (0 or 1, USD 0.01 each) and the answer. Nothing to do unless FORECAST_SOURCE=ce and COST_SOURCE=ce."""
    if settings.forecast_source != "ce":
        return 0, None
    if settings.cost_source != "ce":
        log.info("forecast: FORECAST_SOURCE=ce needs COST_SOURCE=ce (not %s): the model's forecast is used",
                 settings.cost_source)
        return 0, None
    request = forecast_request(settings.day, today, settings.cost_metric, settings.exclude_record_types)
    if request is None:
        log.info("forecast: no day of %s is left to forecast from %s on: no GetCostForecast request",
                 settings.day.strftime("%Y-%m"), today)
        return 0, None
    kept = stored(settings)
    # A refusal that says something about the account (no data yet, no permission) is kept for the day; a passing
    # one (throttling, a timeout, an outage) is asked again by a rerun.
    if kept is not None and kept.request == request and (not kept.error or kept.error.startswith(LASTING_REFUSALS)):
        log.info("forecast: Cost Explorer's forecast for %s..%s kept from an earlier run: no request",
                 request["TimePeriod"]["Start"], request["TimePeriod"]["End"])
        return 0, kept
    if client is None:
        from .costexplorer import make_ce_client

        client = make_ce_client(max_attempts=settings.ce_max_attempts, read_timeout=settings.ce_timeout_seconds)
    answer = ask(client, request)
    # A refusal is said once, where it is used (day_forecast), not here too.
    log.info("Cost Explorer GetCostForecast: 1 request (USD %.2f) for %s..%s", CE_REQUEST_USD,
             request["TimePeriod"]["Start"], request["TimePeriod"]["End"])
    path = path_for(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        from .files import write_atomic

        write_atomic(path, json.dumps(answer.to_json(), indent=2) + "\n")
    except OSError as exc:
        log.warning("%s: cannot keep Cost Explorer's forecast (%s): a stage script run alone will use the model",
                    path, exc.strerror or exc)
    return 1, answer


def combine(model: Forecast, answer: CeAnswer, report_date: date) -> Forecast:
    """The month-end forecast with Cost Explorer's answer (method "ce"; the model's beside it in `compared`), or
    the model's with `fallback` saying why when the answer is a refusal. Pure."""
    if answer.error:
        return replace(model, fallback=f"ce: {answer.error.partition(': ')[0]}")
    gap = max((answer.start - report_date).days - 1, 0)  # days d+1 .. today-1: the model's forecast
    gap_fc = float(sum(model.daily[:gap]))
    rest = model.forecast - model.mtd  # the model's remaining days
    scale_low = (model.low - model.mtd) / rest if rest > 0 else 1.0
    scale_high = (model.high - model.mtd) / rest if rest > 0 else 1.0
    forecast = model.mtd + gap_fc + answer.total
    low = model.mtd + gap_fc * scale_low + answer.low
    high = model.mtd + gap_fc * scale_high + answer.high
    ce = Estimate(forecast, low, high)
    return replace(model, forecast=forecast, low=low, high=high, method="ce",
                   compared={"model": Estimate(model.forecast, model.low, model.high), "ce": ce})


def day_forecast(settings: Settings, model: Forecast, answer: CeAnswer | None = None) -> Forecast:
    """d's month-end forecast as FORECAST_SOURCE says: the model's, or combined with Cost Explorer's answer (the
    run's, else the one kept for d; the model's, with `fallback` saying why, when there is none or it was a
    refusal; logged)."""
    if settings.forecast_source != "ce":
        return model
    answer = answer or stored(settings)
    if settings.cost_source != "ce":
        why = f"needs COST_SOURCE=ce (not {settings.cost_source})"
    elif answer is None:
        request = forecast_request(settings.day, _today(), settings.cost_metric, settings.exclude_record_types)
        why = ("no day of the month left to forecast" if request is None
               else f"no forecast kept for {settings.day} (the full run asks for it)")
    else:
        out = combine(model, answer, settings.day)
        if out.fallback:
            log.warning("forecast: Cost Explorer refused its forecast (%s): the model's forecast is used",
                        answer.error)
        return out
    log.info("forecast: Cost Explorer's forecast %s: the model's is used", why)
    return replace(model, fallback=f"ce: {why}")


def _today() -> date:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).date()
