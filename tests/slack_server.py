"""A local Slack Web API stand-in for tests: records every request, answers chat.postMessage, scriptable.

    with SlackServer() as server:
        server.script("chat.postMessage", Reply(429, headers={"Retry-After": "1"}))   # next call only
        client = WebClient(token="xoxb-test", base_url=server.url + "/api/")
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


@dataclass
class Reply:
    """One scripted answer: HTTP status, JSON body (None → ok with a ts), headers; `drop` closes the socket.

    A delayed 200 answer still records the post (as Slack would), so timeouts can be told apart from failures.
    """

    status: int = 200
    body: dict | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    drop_after_post: bool = False  # Slack posts the message, then the answer is lost (connection closed)
    delay_s: float = 0.0  # wait before answering (client timeouts)


@dataclass
class Request:
    """One request as received."""

    method: str  # API method, e.g. "chat.postMessage"
    path: str
    headers: dict[str, str]
    body: dict


class SlackServer:
    """ThreadingHTTPServer on 127.0.0.1 (port 0) speaking enough of the Slack Web API."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.posted: list[dict] = []  # chat.postMessage bodies that were answered ok
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._ts = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                server._handle(self)

            do_GET = do_POST

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"

    def __enter__(self) -> SlackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def script(self, method: str, *replies: Reply) -> None:
        """Queue answers for the next calls of method (then it answers normally again)."""
        with self._lock:
            self._scripts[method].extend(replies)

    def calls(self, method: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        ctype = h.headers.get("Content-Type", "")
        if "json" in ctype:
            body = json.loads(raw or b"{}")
        else:
            body = dict(parse_qsl(raw.decode("utf-8")))
        method = h.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            self.requests.append(Request(method, h.path, dict(h.headers.items()), body))
            scripted = self._scripts[method].popleft() if self._scripts[method] else None
        if scripted and scripted.drop:
            h.close_connection = True
            h.connection.close()  # the client sees the connection reset with no answer
            return
        reply = scripted or Reply()
        if reply.drop_after_post:
            self._ok(method, body)  # posted, as Slack would have
            h.close_connection = True
            h.connection.close()
            return
        if reply.delay_s:
            time.sleep(reply.delay_s)
        payload = reply.body
        if payload is None and reply.status == 200:
            payload = self._ok(method, body)
        data = (payload if isinstance(payload, str) else json.dumps(payload or {})).encode("utf-8")
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in reply.headers.items():
                h.send_header(key, value)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            h.close_connection = True

    def _ok(self, method: str, body: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "user": "costbot", "team_id": "T1", "team": "Example",
                    "bot_id": "B1"}
        if method == "conversations.info":  # the bot is a member of any channel asked about
            return {"ok": True, "channel": {"id": body.get("channel"), "name": "costs", "is_member": True,
                                            "is_archived": False}}
        if method != "chat.postMessage":
            return {"ok": True}
        with self._lock:
            self._ts += 1
            ts = f"1764000000.{self._ts:06d}"
            self.posted.append(body)
        return {"ok": True, "channel": body.get("channel"), "ts": ts,
                "message": {"text": body.get("text"), "ts": ts, "thread_ts": body.get("thread_ts")}}
