"""Local stand-ins for Cost Explorer on 127.0.0.1: one that throttles, one that pages forever, one that never answers."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


def answer(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    """Send one Cost Explorer JSON answer (awsJson1.1) with this HTTP status."""
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/x-amz-json-1.1")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Throttling(BaseHTTPRequestHandler):
    """Answers every request with HTTP 400 LimitExceededException; subclass with `calls = 0` to count them."""

    calls = 0

    def do_POST(self):  # noqa: N802 (http.server naming)
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer(self, 400, {"__type": "LimitExceededException", "message": "Rate exceeded"})

    def log_message(self, *args):
        pass


def _page(request_body: bytes, token: str | None) -> dict:
    """A one-day GetCostAndUsage page for the request's first day, with `token` as its NextPageToken."""
    from datetime import date, timedelta

    start = json.loads(request_body or b"{}").get("TimePeriod", {}).get("Start", "2026-11-01")
    end = (date.fromisoformat(start) + timedelta(days=1)).isoformat()
    page = {"GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "ResultsByTime": [{"TimePeriod": {"Start": start, "End": end}, "Total": {}, "Estimated": False,
                               "Groups": [{"Keys": ["AWS Lambda"],
                                           "Metrics": {"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}}}]}],
            "DimensionValueAttributes": []}
    if token:
        page["NextPageToken"] = token
    return page


class Paging(BaseHTTPRequestHandler):
    """A Cost Explorer that never stops paging: the same NextPageToken again (`fresh = False`) or a new one each
    time (`fresh = True`). Subclass with `calls = 0` to count the requests."""

    calls = 0
    fresh = False

    def do_POST(self):  # noqa: N802 (http.server naming)
        type(self).calls += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = f"token-{type(self).calls}" if self.fresh else "the-same-token"
        answer(self, 200, _page(body, token))

    def log_message(self, *args):
        pass


class Silent:
    """A TCP endpoint on 127.0.0.1 that accepts every connection and never answers; `accepted` counts them."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._held: list = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.accepted += 1
            self._held.append(conn)  # held open, never read, never answered

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()
