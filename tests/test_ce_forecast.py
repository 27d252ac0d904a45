"""FORECAST_SOURCE=ce: the GetCostForecast request (exact shape, Stubber), its window (late rerun, last day of the
month), the combination with the model, the fallback on a refusal, the kept answer (no second payment), and one
request over real HTTP to the Cost Explorer stand-in."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber

from _util import ce_forecast
from _util.ce_forecast import CeAnswer, combine, fetch_for_day, forecast_request, window
from _util.config import ConfigError, Settings, load_settings
from _util.forecast import Forecast

D = date(2026, 11, 25)
FILTER = {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}


def ce_client():
    return boto3.client("ce", region_name="us-east-1")


def settings(tmp_path, **kw) -> Settings:
    base = dict(cost_source="ce", forecast_source="ce", output_dir=tmp_path, report_date=D)
    return Settings(**{**base, **kw})


def response(days: int, mean=100.0, low=90.0, high=115.0, unit="USD") -> dict:
    return {"Total": {"Amount": str(mean * days), "Unit": unit},
            "ForecastResultsByTime": [{"TimePeriod": {"Start": "2026-11-26", "End": "2026-11-27"},
                                       "MeanValue": str(mean), "PredictionIntervalLowerBound": str(low),
                                       "PredictionIntervalUpperBound": str(high)}] * days}


def model(mtd=2500.0, daily=(100.0,) * 5, low_share=0.5, high_share=1.5) -> Forecast:
    """A model forecast of d = November 25: mtd, 5 remaining days; its interval a fixed share of the rest."""
    rest = sum(daily)
    return Forecast("2026-11", mtd, mtd + rest, mtd + rest * low_share, mtd + rest * high_share, 0.8, "model",
                    3000.0, daily=tuple(daily))


# ---- the request --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric, upper", [("UnblendedCost", "UNBLENDED_COST"), ("AmortizedCost", "AMORTIZED_COST"),
                                           ("NetUnblendedCost", "NET_UNBLENDED_COST"),
                                           ("BlendedCost", "BLENDED_COST"), ("NetAmortizedCost", "NET_AMORTIZED_COST")])
def test_request_is_daily_over_the_remaining_days_at_80_percent_with_the_cost_querys_filter(tmp_path, metric, upper):
    expected = {"TimePeriod": {"Start": "2026-11-26", "End": "2026-12-01"}, "Metric": upper, "Granularity": "DAILY",
                "PredictionIntervalLevel": 80, "Filter": FILTER}
    client = ce_client()
    with Stubber(client) as stub:
        stub.add_response("get_cost_forecast", response(5), expected)
        requests, answer = fetch_for_day(settings(tmp_path, cost_metric=metric), date(2026, 11, 26), client=client)
        stub.assert_no_pending_responses()
    assert requests == 1 and answer.total == 500.0 and (answer.low, answer.high) == (450.0, 575.0)
    assert forecast_request(D, date(2026, 11, 26), metric) == {k: v for k, v in expected.items() if k != "Filter"}


def test_late_rerun_asks_from_today_and_the_model_covers_the_days_between():
    # d = November 25 rerun on the 28th: Cost Explorer forecasts 28..30 (it refuses a start before today)
    assert window(D, date(2026, 11, 28)) == (date(2026, 11, 28), date(2026, 12, 1))
    answer = CeAnswer(forecast_request(D, date(2026, 11, 28), "UnblendedCost"), 300.0, 240.0, 390.0)
    f = combine(model(daily=(10.0, 20.0, 30.0, 40.0, 50.0)), answer, D)
    gap = 10.0 + 20.0  # November 26 and 27: the model's forecast of those days, not later actuals
    assert f.method == "ce" and f.forecast == pytest.approx(2500.0 + gap + 300.0)
    assert f.low == pytest.approx(2500.0 + gap * 0.5 + 240.0) and f.high == pytest.approx(2500.0 + gap * 1.5 + 390.0)
    assert f.compared["model"].forecast == pytest.approx(2650.0) and f.compared["ce"].forecast == f.forecast
    assert f.mtd == 2500.0 and f.by_service == model().by_service  # per service stays the model's


def test_on_time_run_adds_cost_explorers_total_to_month_to_date():
    answer = CeAnswer(forecast_request(D, date(2026, 11, 26), "UnblendedCost"), 520.0, 450.0, 575.0)
    f = combine(model(), answer, D)
    assert (f.forecast, f.low, f.high) == pytest.approx((3020.0, 2950.0, 3075.0))


@pytest.mark.parametrize("d, today", [(date(2026, 11, 30), date(2026, 12, 1)),  # the month's last day
                                      (D, date(2026, 12, 3))])  # a rerun after the month ended
def test_no_day_left_to_forecast_makes_no_request(tmp_path, d, today, caplog):
    caplog.set_level(logging.INFO)
    assert window(d, today) is None and forecast_request(d, today, "UnblendedCost") is None
    client = ce_client()
    with Stubber(client):  # any request would fail: none is stubbed
        assert fetch_for_day(settings(tmp_path, report_date=d), today, client=client) == (0, None)
    assert "no GetCostForecast request" in caplog.text


def test_nothing_asked_unless_both_settings_say_ce(tmp_path):
    client = ce_client()
    with Stubber(client):
        assert fetch_for_day(settings(tmp_path, forecast_source="model"), date(2026, 11, 26), client=client) == (0, None)
        assert fetch_for_day(settings(tmp_path, cost_source="sample"), date(2026, 11, 26), client=client) == (0, None)
    f = ce_forecast.day_forecast(settings(tmp_path, cost_source="sample"), model())
    assert f.method == "model" and f.fallback == "ce: needs COST_SOURCE=ce (not sample)"


# ---- refusals and the kept answer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["DataUnavailableException", "AccessDeniedException", "LimitExceededException"])
def test_a_refusal_falls_back_to_the_model_and_says_so(tmp_path, code, caplog):
    caplog.set_level(logging.INFO)
    client = ce_client()
    s = settings(tmp_path)
    with Stubber(client) as stub:
        stub.add_client_error("get_cost_forecast", code, "insufficient amount of historical data")
        requests, answer = fetch_for_day(s, date(2026, 11, 26), client=client)
    assert requests == 1 and answer.error == f"{code}: insufficient amount of historical data"
    f = ce_forecast.day_forecast(s, model(), answer)
    assert (f.method, f.fallback) == ("model", f"ce: {code}")
    assert (f.forecast, f.low, f.high) == (model().forecast, model().low, model().high) and not f.compared
    assert "refused" in caplog.text and "USD 0.01" in caplog.text


@pytest.mark.parametrize("reply, why", [(response(5, unit="EUR"), "unit 'EUR', not USD"),
                                        ({"Total": {"Amount": "NaN", "Unit": "USD"}}, "malformed answer")])
def test_an_answer_not_in_usd_or_malformed_is_a_refusal(reply, why):
    assert ce_forecast.parse(reply, {}).error.startswith(why)


def test_the_answer_is_kept_so_a_rerun_and_a_stage_alone_pay_nothing(tmp_path):
    client = ce_client()
    s = settings(tmp_path)
    with Stubber(client) as stub:
        stub.add_response("get_cost_forecast", response(5))  # one answer only: a second request would fail
        assert fetch_for_day(s, date(2026, 11, 26), client=client)[0] == 1
        assert fetch_for_day(s, date(2026, 11, 26), client=client)[0] == 0  # the same day's rerun
    kept = json.loads((tmp_path / "2026-11-25" / "ce_forecast.json").read_text())
    assert kept["request"]["TimePeriod"] == {"Start": "2026-11-26", "End": "2026-12-01"} and kept["total"] == 500.0
    alone = ce_forecast.day_forecast(s, model())  # procSummaries.py / procPlotting.py: read back, no client at all
    assert alone.method == "ce" and alone.forecast == pytest.approx(3000.0)
    with Stubber(client) as stub:  # a later rerun (another today) is another request: asked again
        stub.add_response("get_cost_forecast", response(3))
        assert fetch_for_day(s, date(2026, 11, 28), client=client)[0] == 1


@pytest.mark.parametrize(("code", "asked_again"), [("DataUnavailableException", False),
                                                   ("AccessDeniedException", False),
                                                   ("LimitExceededException", True), ("ServiceUnavailable", True)])
def test_a_lasting_refusal_is_kept_for_the_day_and_a_passing_one_asked_again(tmp_path, code, asked_again):
    client = ce_client()
    s = settings(tmp_path)
    with Stubber(client) as stub:
        stub.add_client_error("get_cost_forecast", code, "no")
        stub.add_response("get_cost_forecast", response(5))  # answered only if the rerun asks again
        assert fetch_for_day(s, date(2026, 11, 26), client=client)[0] == 1
        requests, answer = fetch_for_day(s, date(2026, 11, 26), client=client)
    assert requests == int(asked_again)
    assert (answer.error == "") is asked_again


def test_stage_alone_without_a_kept_answer_uses_the_model_and_says_why(tmp_path):
    f = ce_forecast.day_forecast(settings(tmp_path, report_date=date(2026, 11, 24)), model())
    assert f.method == "model" and f.fallback.startswith("ce: no forecast kept for 2026-11-24")
    assert ce_forecast.day_forecast(settings(tmp_path, forecast_source="model"), model()) == model()


# ---- settings -----------------------------------------------------------------------------------------------------


def test_forecast_source_setting_and_a_metric_the_forecast_does_not_take():
    assert load_settings(environ={"FORECAST_SOURCE": "CE"}).forecast_source == "ce"
    assert load_settings(environ={}).forecast_source == "model"
    with pytest.raises(ConfigError, match="FORECAST_SOURCE must be one of model, ce"):
        load_settings(environ={"FORECAST_SOURCE": "aws"})
    with pytest.raises(ConfigError, match="FORECAST_SOURCE=ce: .*COST_METRIC UsageQuantity"):
        ce_forecast.forecast_metric("UsageQuantity")


# ---- over HTTP ----------------------------------------------------------------------------------------------------


@pytest.mark.server
def test_one_request_over_http_to_the_stand_in_is_kept(tmp_path, monkeypatch):
    import pandas as pd

    from _util.costexplorer import make_ce_client
    from tests.ce_standin import serve

    with serve(pd.DataFrame()) as (url, standin):
        monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", url)
        s = settings(tmp_path, cost_metric="AmortizedCost")
        requests, answer = fetch_for_day(s, date(2026, 11, 26), client=make_ce_client(max_attempts=1))
        assert requests == 1 and standin.calls("GetCostForecast") == 1
        (_, body), = standin.requests
        assert body == {"TimePeriod": {"Start": "2026-11-26", "End": "2026-12-01"}, "Metric": "AMORTIZED_COST",
                        "Granularity": "DAILY", "PredictionIntervalLevel": 80, "Filter": FILTER}
        assert (answer.total, answer.low, answer.high) == pytest.approx((500.0, 450.0, 575.0))
        standin.refuse_forecast = "DataUnavailableException"
        later = replace(s, report_date=date(2026, 11, 24))
        requests, refused = fetch_for_day(later, date(2026, 11, 26), client=make_ce_client(max_attempts=1))
        assert requests == 1 and refused.error.startswith("DataUnavailableException")
