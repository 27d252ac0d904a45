"""HEARTBEAT_URL: tell a cron monitor (healthchecks.io, Cronitor…) that the run happened and how it ended."""

from __future__ import annotations

import urllib.parse
import urllib.request

TIMEOUT_S = 10  # one attempt; a monitor that does not answer must not hold the run


def ping_url(url: str, ok: bool) -> str:
    """`<url>` on success, `<url>/fail` on failure (the common cron-monitor convention)."""
    return url if ok else url.rstrip("/") + "/fail"


def where(url: str) -> str:
    """scheme://host of the URL: its path often holds the check's secret id, which is never logged."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def ping(url: str, ok: bool, message: str = "", *, timeout_s: float = TIMEOUT_S) -> str | None:
    """Ping the monitor once (GET on success, POST with the error line on failure); return None when it answered
    2xx/3xx, else one line saying why not (a warning for the caller: the run's outcome does not change)."""
    data = message.encode("utf-8")[:10_000] if not ok else None
    request = urllib.request.Request(ping_url(url, ok), data=data, method="POST" if data is not None else "GET",
                                     headers={"User-Agent": "aws_cost_tracking"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read(1024)
        return None
    except Exception as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "code", None) or exc
        return f"heartbeat ping to {where(url)} failed ({reason}) — check HEARTBEAT_URL"
