"""Saved drill-down answers (COST_SOURCE=file): {"request", "response"} files among --input answer the root causes
at no request, a missing one is that alert's own "unavailable" status, and ingest leaves them out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest

from _util import costexplorer, db, drilldown, pipeline
from _util.config import Settings
from _util.costexplorer import CostQuery, NoSavedAnswer, SavedAnswers, fetch_pages, load_files
from _util.ingest import ingest
from _util.sample_data import SampleCostExplorer
from _util.stages import load_day

D = date(2026, 11, 25)  # the sample world is anchored on d and plants its events on it
SAMPLE = Settings(cost_source="sample", report_date=D, lookback_days=120)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A database holding the sample data up to d, d's analysis, and the alerts the stage asks about."""
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('saved') / 'costs.sqlite'}")
    db.init_db(engine)
    ingest(SAMPLE, engine)
    analysis = load_day(SAMPLE, engine)
    spiking = {(s.service, s.breakdown) for s in analysis.spikes}
    alerts = [*analysis.spikes, *(t for t in analysis.trends if (t.service, t.breakdown) not in spiking),
              *analysis.first_seen]
    yield engine, analysis, alerts
    engine.dispose()


@pytest.fixture
def engine(stored):
    """The stored database with no root cause yet."""
    eng = stored[0]
    with eng.begin() as conn:
        conn.execute(db.root_cause.delete())
    return eng


def save_answers(folder, alerts, *, page_groups: int = 5000, leave_out: str = "") -> list:
    """One {"request", "response"} file per drill-down query drilldown.plan makes, answered by the sample world
    (every page: one response, or {"pages": [...]}); the queries of service leave_out are not saved."""
    client = SampleCostExplorer(D, page_groups=page_groups)
    paths = []
    for i, (alert, query) in enumerate(drilldown.plan(alerts, D, SAMPLE)):
        if alert.service == leave_out:
            continue
        pages = list(fetch_pages(client, query))
        path = folder / f"drill-{i}.json"
        response = pages[0] if len(pages) == 1 else {"pages": pages}
        path.write_text(json.dumps({"request": query.request(), "response": response}), encoding="utf-8")
        paths.append(path)
    return paths


def file_settings(paths, **changes) -> Settings:
    return replace(SAMPLE, cost_source="file", input_files=tuple(paths), **changes)


def test_saved_answers_explain_every_alert_as_cost_explorer_does_and_cost_no_request(stored, engine, tmp_path):
    _, analysis, alerts = stored
    expected = pipeline.find_root_causes(SAMPLE, engine, analysis, client=SampleCostExplorer(D))
    with engine.begin() as conn:
        conn.execute(db.root_cause.delete())
    # A cap of one request would leave most alerts "not analysed" were saved answers counted.
    settings = file_settings(save_answers(tmp_path, alerts), drilldown_max_requests=1)
    found = pipeline.find_root_causes(settings, engine, analysis)
    assert found == expected
    assert {found[drilldown.alert_key(a)].status for a in alerts} == {drilldown.OK}
    assert pipeline.drilldown_requests(engine, D) == 0
    assert len(db.load_root_causes(engine, D)) == 2 * len(alerts)  # both pairs of every alert stored


@pytest.mark.slow
def test_a_paged_saved_answer_is_read_page_by_page(stored, engine, tmp_path):
    _, analysis, alerts = stored
    paths = save_answers(tmp_path, alerts, page_groups=40)
    assert any("pages" in json.loads(p.read_text())["response"] for p in paths)  # some answers are paged
    found = pipeline.find_root_causes(file_settings(paths), engine, analysis)
    assert {found[drilldown.alert_key(a)].status for a in alerts} == {drilldown.OK}


def test_a_missing_saved_answer_is_that_alerts_status_and_the_others_are_explained(stored, engine, tmp_path):
    _, analysis, alerts = stored
    missing = alerts[0].service
    found = pipeline.find_root_causes(file_settings(save_answers(tmp_path, alerts, leave_out=missing)), engine,
                                      analysis)
    for alert in alerts:
        status = found[drilldown.alert_key(alert)].status
        if alert.service == missing:
            assert status == f"unavailable: no saved drill-down answer for {missing} by LINKED_ACCOUNT x USAGE_TYPE"
        else:
            assert status == drilldown.OK
    # Saved answers are read again on a rerun (not the stored outcome): once it is saved, that alert is explained.
    rerun = pipeline.find_root_causes(file_settings(save_answers(tmp_path, alerts)), engine, analysis)
    assert {rerun[drilldown.alert_key(a)].status for a in alerts} == {drilldown.OK}


def test_without_saved_answers_the_file_source_says_root_causes_need_cost_explorer(stored, engine, tmp_path):
    _, analysis, alerts = stored
    totals = tmp_path / "totals.json"
    query = CostQuery(D - timedelta(days=3), D)
    totals.write_text(json.dumps(SampleCostExplorer(D).get_cost_and_usage(**query.request())), encoding="utf-8")
    found = pipeline.find_root_causes(file_settings([totals]), engine, analysis)
    assert {found[drilldown.alert_key(a)].status for a in alerts} == {pipeline.NO_CE_STATUS}


def test_ingest_leaves_saved_answers_out(stored, tmp_path):
    _, _, alerts = stored
    client = SampleCostExplorer(D, page_groups=30)
    query = CostQuery(D - timedelta(days=6), D)
    totals = []
    for i, page in enumerate(fetch_pages(client, query)):
        totals.append(tmp_path / f"page{i}.json")
        totals[-1].write_text(json.dumps(page), encoding="utf-8")
    assert len(totals) > 1
    saved = save_answers(tmp_path, alerts[:1])
    alone = load_files(totals, "UnblendedCost")
    # Between the pages of an answer, too: a saved answer does not break the chain of pages.
    mixed = load_files([saved[0], totals[0], *saved[1:], *totals[1:]], "UnblendedCost")
    assert alone.rows and mixed.rows == alone.rows and mixed.days == alone.days
    assert (mixed.duplicates, mixed.unit) == (alone.duplicates, alone.unit)


@pytest.mark.parametrize("bad", [{"request": [], "response": {"ResultsByTime": []}},
                                 {"request": {}, "response": {"pages": []}},
                                 {"request": {}, "response": {"Groups": []}}])
def test_a_malformed_saved_answer_stops_ingest_naming_the_file(tmp_path, bad):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(costexplorer.CostDataError, match="bad.json: a saved drill-down answer's"):
        load_files([path], "UnblendedCost")


def test_the_next_page_token_picks_the_saved_page_and_an_unknown_request_has_no_answer():
    request = {"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Granularity": "DAILY",
               "Metrics": ["UnblendedCost"], "GroupBy": [{"Type": "DIMENSION", "Key": "REGION"}],
               "Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon S3"]}}}
    pages = [{"ResultsByTime": [], "NextPageToken": "t1"}, {"ResultsByTime": [], "NextPageToken": "t2"},
             {"ResultsByTime": []}]
    client = SavedAnswers([(request, pages)])
    assert client.get_cost_and_usage(**request) is pages[0]
    assert client.get_cost_and_usage(**request, NextPageToken="t2") is pages[2]
    with pytest.raises(NoSavedAnswer, match="lacks the page after NextPageToken t9"):
        client.get_cost_and_usage(**request, NextPageToken="t9")
    other = {**request, "Metrics": ["BlendedCost"]}
    with pytest.raises(NoSavedAnswer, match="^no saved drill-down answer for Amazon S3 by REGION$"):
        client.get_cost_and_usage(**other)
