"""A local HTTP endpoint that answers every Cost Explorer call the way CE throttles (for retry tests)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


class Throttling(BaseHTTPRequestHandler):
    """Answers every request with HTTP 400 LimitExceededException; subclass with `calls = 0` to count them."""

    calls = 0

    def do_POST(self):  # noqa: N802 (http.server naming)
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"__type": "LimitExceededException", "message": "Rate exceeded"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
