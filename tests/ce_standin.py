"""A Cost Explorer stand-in on 127.0.0.1 speaking CE's JSON protocol (awsJson1.1), answering GetCostAndUsage and
GetDimensionValues for any GroupBy/Filter from a cost frame through _util.ce_answer, and GetCostForecast (which moto
does not implement) with a fixed mean and interval per day. Point boto3 at it with
endpoint_url or AWS_ENDPOINT_URL_COST_EXPLORER (S3 stays on moto)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd

from _util import ce_answer
from tests.ce_fakes import answer

TARGET_PREFIX = "AWSInsightsIndexService."


class StandIn(ThreadingHTTPServer):
    """The server: the frame it answers from, its options, and every request it was sent as (operation, body)."""

    daemon_threads = True

    def __init__(self, frame: pd.DataFrame, *, page_groups: int = 5000, refuse: tuple[str, ...] = (),
                 estimated=None, account_names: dict[str, str] | None = None,
                 forecast: tuple[float, float, float] = (100.0, 90.0, 115.0), refuse_forecast: str = ""):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.frame, self.page_groups, self.refuse = frame, page_groups, refuse
        self.estimated, self.account_names = estimated, account_names
        self.forecast, self.refuse_forecast = forecast, refuse_forecast  # (mean, low, high) USD per day
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def calls(self, operation: str = "GetCostAndUsage") -> int:
        """How many requests of this operation arrived."""
        with self._lock:
            return sum(op == operation for op, _ in self.requests)

    def answer(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append((operation, body))
        if operation == "GetCostAndUsage":
            return ce_answer.answer_cost_and_usage(self.frame, body, page_groups=self.page_groups,
                                                   estimated=self.estimated, refuse=self.refuse,
                                                   account_names=self.account_names)
        if operation == "GetDimensionValues":
            return ce_answer.dimension_values(self.frame, body, account_names=self.account_names)
        if operation == "GetCostForecast":
            return self.cost_forecast(body)
        raise ce_answer.CEError("UnknownOperationException", f"{operation} is not answered by this stand-in")

    def cost_forecast(self, body: dict[str, Any]) -> dict[str, Any]:
        """GetCostForecast: each day of [Start, End) forecast at (mean, low, high); refuse_forecast: that error."""
        if self.refuse_forecast:
            raise ce_answer.CEError(self.refuse_forecast, "insufficient amount of historical data")
        days = pd.date_range(body["TimePeriod"]["Start"], body["TimePeriod"]["End"], inclusive="left")
        mean, low, high = self.forecast
        return {"Total": {"Amount": repr(mean * len(days)), "Unit": "USD"},
                "ForecastResultsByTime": [
                    {"TimePeriod": {"Start": f"{x:%Y-%m-%d}", "End": f"{x + pd.Timedelta(days=1):%Y-%m-%d}"},
                     "MeanValue": repr(mean), "PredictionIntervalLowerBound": repr(low),
                     "PredictionIntervalUpperBound": repr(high)} for x in days]}


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def do_POST(self):  # noqa: N802 (http.server naming)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        try:
            if not target.startswith(TARGET_PREFIX):
                raise ce_answer.CEError("UnknownOperationException", f"unknown X-Amz-Target {target!r}")
            status, payload = 200, self.server.answer(target[len(TARGET_PREFIX):], json.loads(raw or b"{}"))
        except ce_answer.CEError as exc:
            status, payload = exc.status, {"__type": exc.code, "message": exc.message}
        except json.JSONDecodeError as exc:
            status, payload = 400, {"__type": "SerializationException", "message": str(exc)}
        answer(self, status, payload)

    def log_message(self, *args):
        pass


@contextmanager
def serve(frame: pd.DataFrame, **opts: Any) -> Iterator[tuple[str, StandIn]]:
    """Run a stand-in answering from `frame` (options as StandIn's) for the with-block; yields (url, server)."""
    server = StandIn(frame, **opts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
