"""Shared fixtures: fake AWS credentials, moto server, databases, Chromium."""

from __future__ import annotations

import functools
import logging
import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def restore_logging():
    """Give the root logger's handlers and level back after an in-process main() replaced them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch, tmp_path):
    """Never reach real AWS: fake credentials, fixed region, no shared config files."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from _util.config import ENV

    for name in ENV:  # every setting: a developer's own environment never leaks into a test
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def moto_server():
    """A real moto server on 127.0.0.1 (random port); yields its base URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_reset(moto_server):
    """moto_server with its state reset before the test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10)
    return moto_server


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'costs.sqlite'}"


@functools.cache
def _mysql_url() -> str | None:
    """TEST_DATABASE_URL; under pytest-xdist each worker gets its own database beside it (test_gw0, test_gw1…),
    created on first use, so the workers' table drops never meet."""
    url = os.environ.get("TEST_DATABASE_URL") or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    server = create_engine(parsed.set(database=""))
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}`"))
    finally:
        server.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def mysql_url():
    """TEST_DATABASE_URL with the project tables dropped first; skip where it is unset."""
    url = _mysql_url()
    if not url and os.environ.get("CI_REQUIRE_MYSQL"):
        pytest.fail("CI_REQUIRE_MYSQL is set but TEST_DATABASE_URL is not")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it to MariaDB)")
    from _util import db

    engine = db.make_engine(url)
    db.metadata.drop_all(engine)  # an unreachable server fails the test here, it does not skip
    engine.dispose()
    yield url
    engine = db.make_engine(url)
    db.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def db_url(request, tmp_path):
    """Each database backend: SQLite file, and MariaDB when TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'costs.sqlite'}"
    return request.getfixturevalue("mysql_url")


def _schema_engine(url: str):
    """An engine on url with the schema created (dispose it when done)."""
    from _util import db

    eng = db.make_engine(url)
    db.init_db(eng)
    return eng


@pytest.fixture
def engine(db_url):
    """An engine on db_url (SQLite, and MariaDB where TEST_DATABASE_URL is set) with the schema created."""
    eng = _schema_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    """An engine on a fresh SQLite file with the schema created."""
    eng = _schema_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def slack_server():
    """A local Slack Web API on 127.0.0.1 (tests/slack_server.py) for the test's duration."""
    from tests.slack_server import SlackServer

    with SlackServer() as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; skip where absent (CI installs it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (apt-get install -y chromium)")


@pytest.fixture
def isolated(tmp_path, monkeypatch, restore_logging):
    """Run in an empty folder (no ./.env, logs under ./output) and give the logging set-up back afterwards
    (stage-script tests use it for every test: pytestmark)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def quick_charts(monkeypatch):
    """Stand-in PNGs (640 x 320) for exactly the charts the production renderer would draw (its own job list),
    for tests about publishing and links rather than pixels: they need no matplotlib output and stay fast."""
    from PIL import Image

    from _util import charts

    def render(analysis, day_view, params, out_dir, **_):
        out = {}
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        for chart_id, _kind, _args, path in charts.chart_jobs(analysis, day_view, params, Path(out_dir)):
            Image.new("RGB", (640, 320), "white").save(path, format="PNG")
            out[chart_id] = Path(path)
        return out

    monkeypatch.setattr(charts, "render_charts", render)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(name, size) -> a fresh tmpfs of that size under tmp_path (a real small or full disk); skips where
    mounting is not permitted (it needs root); every mount is undone afterwards."""
    import subprocess

    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


# Fixtures that start or need a server: tests using them are left out of `make test-fast`.
SERVER_FIXTURES = {"moto_server", "moto_reset", "mysql_url", "chromium"}


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a server fixture `server` (make test-fast deselects them)."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
