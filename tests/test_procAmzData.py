"""procAmzData.py: the CLI of stage 1 — exit codes, one `error:` line per bad input, the database unchanged."""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

import procAmzData
from _util import costexplorer, db
from _util.costexplorer import CostQuery
from _util.sample_data import SampleCostExplorer
from tests.ce_fakes import Throttling
from tests.cli_helpers import error_lines, run_cli

DATA = Path(__file__).parent / "data" / "ce"
GOOD = (DATA / "service_page1.json", DATA / "service_page2.json")
YESTERDAY = datetime.now(timezone.utc).date() - timedelta(days=1)


pytestmark = pytest.mark.usefixtures("isolated")  # conftest: an empty folder, logging given back


def run(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, procAmzData.main, *argv)


def dump(url: str) -> tuple:
    """Every row of the tables stage 1 touches, every column, ordered by key."""
    engine = db.make_engine(url)
    db.init_db(engine)
    out = []
    with engine.connect() as conn:
        for tbl in (db.daily_cost, db.cost_day, db.run):
            out.append([tuple(r) for r in conn.execute(select(tbl).order_by(*tbl.primary_key.columns)).all()])
    engine.dispose()
    return tuple(out)


@pytest.fixture
def stored(db_url, capsys):
    """A database filled by a good run (the two saved pages); yields (url, its contents)."""
    code, out, _ = run(capsys, "--input", *map(str, GOOD), "--db-url", db_url)
    assert code == 0, out
    contents = dump(db_url)
    assert len(contents[0]) == 10
    return db_url, contents


# --- usage ---------------------------------------------------------------------------------------------------

def test_help_exits_0_with_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "examples:" in out
    assert "procAmzData.py --source file --input nov.json" in out
    assert "--source sample" in out and "exit status" in out
    for flag in ("--date", "--source", "--input", "--db-url", "--output-dir", "--env-file", "--dry-run", "--demo",
                 "-v"):
        assert flag in out


@pytest.mark.parametrize("argv", [("--bogus",), ("--source", "bigquery"), ("--date", "25/11/2026"),
                                  ("--date", "2026-02-30")])
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and err.rstrip().endswith("(see --help)")


def test_malformed_date_names_the_flag(capsys):
    _, _, err = run(capsys, "--date", "2026-02-30")
    assert "--date must be YYYY-MM-DD, got '2026-02-30'" in err


# --- good runs -------------------------------------------------------------------------------------------------

def test_file_source_stores_and_reports_on_stdout(capsys, db_url):
    code, out, err = run(capsys, "--input", *map(str, GOOD), "--db-url", db_url)
    assert code == 0, err
    assert out == "10 rows stored for 4 days; 0 Cost Explorer request(s)\n"
    assert error_lines(err) == []
    assert "stored 10 rows for 4 days (2 Estimated)" in err  # the log goes to stderr


def test_sample_source_second_run_is_one_request(capsys, isolated):
    url = f"sqlite:///{isolated / 'costs.sqlite'}"
    code, out, err = run(capsys, "--source", "sample", "--db-url", url, "--date", YESTERDAY.isoformat())
    assert code == 0, err
    assert re.fullmatch(r"\d+ rows stored for 366 days; [2-9] Cost Explorer request\(s\)\n", out)
    code, out, err = run(capsys, "--source", "sample", "--db-url", url, "--date", YESTERDAY.isoformat())
    assert code == 0, err
    assert out.endswith("; 1 Cost Explorer request(s)\n")
    assert "sample Cost Explorer: 1 request(s)" in err


def test_demo_uses_its_own_sqlite_database(capsys, isolated):
    code, out, err = run(capsys, "--demo", "--output-dir", str(isolated / "out"), "--date", YESTERDAY.isoformat())
    assert code == 0, err
    assert out.endswith("Cost Explorer request(s)\n")
    assert (isolated / "out" / "demo" / f"costs-{YESTERDAY}.sqlite").is_file()
    assert not (isolated / "data").exists()


def _inject(moto_url: str, results: list[dict]) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                     data=json.dumps({"results": results}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def _pages(query: CostQuery, page_groups: int) -> list[dict]:
    sample = SampleCostExplorer(YESTERDAY, page_groups=page_groups, today=YESTERDAY + timedelta(days=1))
    pages, kwargs = [], query.request()
    while True:
        pages.append(copy.deepcopy(sample.get_cost_and_usage(**kwargs)))
        if "NextPageToken" not in pages[-1]:
            return pages
        kwargs = {**kwargs, "NextPageToken": pages[-1]["NextPageToken"]}


def test_ce_source_against_moto_then_one_request(capsys, isolated, moto_reset, monkeypatch):
    """The real path: make_ce_client (AWS_ENDPOINT_URL as boto3 honours it) over HTTP to moto's server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    monkeypatch.setenv("LOOKBACK_DAYS", "60")
    url = f"sqlite:///{isolated / 'costs.sqlite'}"
    first = _pages(CostQuery(YESTERDAY - timedelta(days=60), YESTERDAY), page_groups=800)
    _inject(moto_reset, first)
    code, out, err = run(capsys, "--source", "ce", "--db-url", url, "--date", YESTERDAY.isoformat())
    assert code == 0, err
    assert out.endswith(f"for 61 days; {len(first)} Cost Explorer request(s)\n") and len(first) > 1
    assert f"Cost Explorer: {len(first)} request(s) (USD 0.0{len(first)})" in err

    engine = db.make_engine(url)
    estimated = [d for d, est in db.known_days(engine, YESTERDAY - timedelta(days=60), YESTERDAY).items() if est]
    engine.dispose()
    _inject(moto_reset, _pages(CostQuery(min(estimated), YESTERDAY), page_groups=5000))
    code, out, err = run(capsys, "--source", "ce", "--db-url", url, "--date", YESTERDAY.isoformat())
    assert code == 0, err
    assert out.endswith("; 1 Cost Explorer request(s)\n")
    assert f"Cost Explorer: 1 request(s) (USD 0.01) for {min(estimated)}..{YESTERDAY}" in err


# --- bad input: exit 1, one `error:` line naming the file and the problem, the database unchanged ----------------

def _mutated(mutate):
    def write(path: Path) -> None:
        response = json.loads(GOOD[1].read_text())
        mutate(response)
        path.write_text(json.dumps(response))
    return write


def _g(r):
    return r["ResultsByTime"][0]["Groups"][1]


def _metric(r):
    return _g(r)["Metrics"]["UnblendedCost"]


BAD_FILES = [
    ("malformed JSON", lambda p: p.write_text('{"ResultsByTime": [}'), "invalid JSON"),
    ("truncated JSON", lambda p: p.write_bytes(GOOD[1].read_bytes()[:300]), "invalid JSON"),
    ("empty file", lambda p: p.write_text(""), "invalid JSON"),
    ("not UTF-8", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n"), "cannot read"),
    ("no ResultsByTime", _mutated(lambda r: r.pop("ResultsByTime")), "not a GetCostAndUsage response"),
    ("no TimePeriod", _mutated(lambda r: r["ResultsByTime"][0].pop("TimePeriod")), "missing TimePeriod.Start"),
    ("no Keys", _mutated(lambda r: _g(r).pop("Keys")), "Keys must be a list of 1 or 2 strings"),
    ("no Metrics", _mutated(lambda r: _g(r).pop("Metrics")), "metric UnblendedCost missing"),
    ("no such metric", _mutated(lambda r: _g(r)["Metrics"].update(BlendedCost=_g(r)["Metrics"].pop("UnblendedCost"))),
     "metric UnblendedCost missing (has: BlendedCost)"),
    ("no Amount", _mutated(lambda r: _metric(r).pop("Amount")), "UnblendedCost.Amount missing"),
    ("no Unit", _mutated(lambda r: _metric(r).pop("Unit")), "UnblendedCost.Unit missing"),
    ("non-numeric Amount", _mutated(lambda r: _metric(r).update(Amount="12.5 USD")),
     "UnblendedCost.Amount '12.5 USD' is not a number"),
    ("other Unit", _mutated(lambda r: _metric(r).update(Unit="EUR")), "unit 'EUR' differs from 'USD' seen before"),
    ("unknown date", _mutated(lambda r: r["ResultsByTime"][0]["TimePeriod"].update(Start="2026-11-31")),
     "TimePeriod.Start '2026-11-31' is not a YYYY-MM-DD date"),
]


@pytest.mark.parametrize(("write", "message"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_one_error_line_and_changes_nothing(capsys, isolated, stored, write, message):
    url, before = stored
    bad = isolated / "bad.json"
    write(bad)
    # A good file first: its rows were parsed but must not be stored either.
    code, out, err = run(capsys, "--input", str(GOOD[0]), str(bad), "--db-url", url)
    assert code == 1
    assert out == ""
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {bad}: ")
    assert message in lines[0]
    assert "Traceback" not in err
    assert dump(url) == before


def test_missing_input_path(capsys, isolated, stored):
    url, before = stored
    missing = isolated / "nov.json"
    code, out, err = run(capsys, "--input", str(GOOD[0]), str(missing), "--db-url", url)
    assert (code, out) == (2, "")  # a usage error
    assert error_lines(err) == [f"error: --input {missing}: no such file"]
    assert dump(url) == before


def test_future_date(capsys, stored):
    url, before = stored
    future = datetime.now(timezone.utc).date() + timedelta(days=2)
    code, _, err = run(capsys, "--source", "sample", "--date", future.isoformat(), "--db-url", url)
    assert code == 2
    assert error_lines(err) == [f"error: --date {future} is in the future"]
    assert dump(url) == before


def test_date_older_than_cost_explorer_keeps(capsys, stored, monkeypatch):
    url, before = stored
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing may be asked: fail loudly if it is
    floor = costexplorer.earliest_fetchable(datetime.now(timezone.utc).date())
    old = floor - timedelta(days=1)
    code, _, err = run(capsys, "--source", "ce", "--date", old.isoformat(), "--db-url", url)
    assert code == 1
    assert error_lines(err) == [f"error: --date {old} is older than Cost Explorer keeps daily data (earliest {floor})"]
    assert dump(url) == before


@pytest.mark.parametrize(("how", "value", "exit_code", "message"), [
    ("env", "not a url", 2, "error: DATABASE_URL is not a valid SQLAlchemy URL"),
    ("flag", "postgresql://cost:Pa55w0rd@db/costs", 2,
     "error: DATABASE_URL must be a sqlite:// or mysql+pymysql:// URL"),
    ("flag", "mysql+pymysql://cost:Pa55w0rd@127.0.0.1:1/costs", 1,  # well formed, unreachable: a runtime error
     "error: cannot use database mysql+pymysql://cost:***@127.0.0.1:1/costs: "),
])
def test_bad_database_url(capsys, isolated, monkeypatch, how, value, exit_code, message):
    argv = ["--input", str(GOOD[0])]
    if how == "env":
        monkeypatch.setenv("DATABASE_URL", value)
    else:
        argv += ["--db-url", value]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (exit_code, "")
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(message), err
    assert "Pa55w0rd" not in err
    assert not (isolated / "data").exists()  # the default database was not created instead


def test_unusable_sqlite_path_names_the_database(capsys, isolated):
    (isolated / "afile").write_text("")
    url = f"sqlite:///{isolated / 'afile' / 'costs.sqlite'}"
    code, out, err = run(capsys, "--input", str(GOOD[0]), "--db-url", url)
    assert (code, out) == (1, "")
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert "database" in lines[0].lower() and str(isolated / "afile") in lines[0]


# --- Cost Explorer failing after botocore's retries ------------------------------------------------------------------

@pytest.mark.slow
def test_ce_throttled_after_retries_exits_1_and_writes_nothing(capsys, isolated, monkeypatch):
    import botocore.retries.standard

    from _util import ingest as ingest_module

    url = f"sqlite:///{isolated / 'costs.sqlite'}"
    assert run(capsys, "--source", "sample", "--db-url", url, "--date", YESTERDAY.isoformat())[0] == 0
    before = dump(url)

    handler = type("Handler", (Throttling,), {"calls": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        # The production client, with fewer (CE_MAX_ATTEMPTS) and instant retries so the test stays fast.
        monkeypatch.setenv("CE_MAX_ATTEMPTS", "3")
        monkeypatch.setattr(ingest_module, "make_ce_client",
                            functools.partial(costexplorer.make_ce_client, retry_mode="standard"))
        monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
        code, out, err = run(capsys, "--source", "ce", "--db-url", url, "--date", YESTERDAY.isoformat())
    finally:
        server.shutdown()
        server.server_close()
    assert (code, out) == (1, "")
    assert error_lines(err) == ["error: Cost Explorer LimitExceededException: Rate exceeded — throttled even after "
                                "retries; try again later"]
    assert handler.calls == 3  # the call and its 2 retries
    assert dump(url) == before


def test_sample_run_needs_no_aws_and_is_anchored_on_its_date(capsys, isolated, monkeypatch):
    """The sample world is "the morning after d" whatever the clock says: an old --date still gets the whole
    lookback window (no clamping to what the real Cost Explorer would still serve)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    d = YESTERDAY - timedelta(days=700)
    code, out, err = run(capsys, "--source", "sample", "--db-url", f"sqlite:///{isolated / 'c.sqlite'}",
                         "--date", d.isoformat())
    assert code == 0, err
    assert re.fullmatch(r"\d+ rows stored for 366 days; [1-9] Cost Explorer request\(s\)\n", out)
    assert "clamped" not in err
