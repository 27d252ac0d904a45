"""Headless Chromium for the browser checks (site pages, the Slack preview): a screenshot or the loaded DOM."""

from __future__ import annotations

import subprocess
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium_screenshot(chromium: str, url: str, out_png: Path, tmp_path: Path, size=(1280, 2000)) -> None:
    """Render url headless into out_png."""
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}",
                    f"--window-size={size[0]},{size[1]}", f"--screenshot={out_png}", url],
                   check=True, capture_output=True, timeout=60)


def chromium_dom(chromium: str, url: str, tmp_path: Path) -> str:
    """The DOM of url after load, as Chromium serialises it (--dump-dom)."""
    done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'chromium-dom'}", "--dump-dom", url],
                          check=True, capture_output=True, timeout=60, text=True)
    return done.stdout
