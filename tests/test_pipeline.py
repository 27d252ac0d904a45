"""The root causes stage of the daily job (pipeline.find_root_causes): the sample source drills down through its
own Cost Explorer and stores the answer, a rerun asks nothing, and every other case says why there are none."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta

import pytest

from _util import costworld, db, drilldown, pipeline
from _util import ingest as ingest_module
from _util.config import Settings
from _util.ingest import ingest
from _util.sample_data import SampleCostExplorer
from _util.stages import load_day

D = date(2026, 11, 25)  # the sample world is anchored on d and plants its events on it
SETTINGS = Settings(cost_source="sample", report_date=D, lookback_days=120)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A database holding the sample data up to d (ingest through the sample Cost Explorer), and d's analysis."""
    url = f"sqlite:///{tmp_path_factory.mktemp('pipeline') / 'costs.sqlite'}"
    engine = db.make_engine(url)
    db.init_db(engine)
    ingest(SETTINGS, engine)
    yield engine, load_day(SETTINGS, engine)
    engine.dispose()


@pytest.fixture
def engine(stored):
    """The stored database with no root cause yet (each test starts before the stage ran)."""
    eng, _ = stored
    with eng.begin() as conn:
        conn.execute(db.root_cause.delete())
    return eng


def alert_keys(analysis) -> set[tuple[str, str, str]]:
    return {drilldown.alert_key(a) for a in [*analysis.spikes, *analysis.trends]}


def with_spike(analysis) -> set[tuple[str, str, str]]:
    """The trends of services that also spike on d: explained with their spike, never asked."""
    spiking = {(s.service, s.breakdown) for s in analysis.spikes}
    return {drilldown.alert_key(t) for t in analysis.trends if (t.service, t.breakdown) in spiking}


def asked(found: dict, analysis) -> dict:
    """found without the trends explained with their spike (checked to say so)."""
    skipped = with_spike(analysis)
    assert {found[k].status for k in skipped} <= {pipeline.WITH_SPIKE_STATUS}
    return {k: r for k, r in found.items() if k not in skipped}


def drill_requests(client: SampleCostExplorer) -> list[dict]:
    """The client's requests other than ingest's (filtered to a service, or GetDimensionValues)."""
    return [r for r in client.requests if "Dimension" in r or "SERVICE" in repr(r.get("Filter"))]


def test_the_sample_source_explains_every_alert_by_its_labeled_group_and_a_rerun_asks_nothing(stored, engine):
    _, analysis = stored
    client = SampleCostExplorer(D)
    found = pipeline.find_root_causes(SETTINGS, engine, analysis, client=client)
    assert set(found) == alert_keys(analysis) and all(r.status == "ok" for r in asked(found, analysis).values())
    assert with_spike(analysis)  # the demo's Redshift spikes and turns: one entry, its trend costs nothing
    requests = drill_requests(client)
    assert 0 < len(requests) <= SETTINGS.drilldown_max_requests
    assert len(requests) == 2 * len(asked(found, analysis))  # two dimension pairs per alert asked
    # The sample world plants each event on one (account, usage type): that group is the top cause.
    on_d = [x for x in costworld.sample_labels(D) if x.day == D and x.kind in ("spike", "drop")]
    assert len(on_d) >= 3  # Lambda, CloudFront, RDS
    for label in on_d:
        top = found[(label.service, "", "spike")].causes[0]
        assert {k: top.dimensions[k] for k in ("LINKED_ACCOUNT", "USAGE_TYPE")} == {
            k: label.groups[0][k] for k in ("LINKED_ACCOUNT", "USAGE_TYPE")}
        assert top.names["LINKED_ACCOUNT"] == costworld.ACCOUNT_NAMES[top.dimensions["LINKED_ACCOUNT"]]
    # The rerun of the day (a fresh client, as a new process has) asks nothing and finds the same.
    again = SampleCostExplorer(D)
    assert pipeline.find_root_causes(SETTINGS, engine, analysis, client=again) == found
    assert drill_requests(again) == []
    # ... and so does a stage run alone, reading what was stored.
    assert drilldown.stored([*analysis.spikes, *analysis.trends], engine, D) == asked(found, analysis)


def test_without_a_client_the_sample_source_makes_its_own_anchored_on_d(stored, engine, monkeypatch):
    _, analysis = stored
    made = []
    real = ingest_module.make_cost_client

    def spy(settings, today=None):
        client = real(settings, today)
        made.append(client)
        return client

    monkeypatch.setattr(ingest_module, "make_cost_client", spy)
    found = pipeline.find_root_causes(SETTINGS, engine, analysis)
    (client,) = made
    assert isinstance(client, SampleCostExplorer) and client.anchor == D and client.today == D + timedelta(days=1)
    assert all(r.status == "ok" for r in asked(found, analysis).values()) and drill_requests(client)


@pytest.mark.parametrize(("changes", "status"), [
    ({"cost_source": "file"}, "unavailable: root causes need Cost Explorer or export files (COST_SOURCE=ce, sample or export)"),
    ({"drilldown": False}, "not analysed (DRILLDOWN=off)"),
    ({"drilldown_max_requests": 0}, "not analysed (DRILLDOWN_MAX_REQUESTS=0)"),
])
def test_when_nothing_is_asked_every_alert_says_why(stored, engine, changes, status):
    _, analysis = stored
    client = SampleCostExplorer(D)
    found = pipeline.find_root_causes(replace(SETTINGS, **changes), engine, analysis, client=client)
    assert set(found) == alert_keys(analysis)
    assert {r.status for r in asked(found, analysis).values()} == {status}
    assert not any(r.causes for r in found.values())
    assert client.requests == [] and db.load_root_causes(engine, D) == []


def test_a_failing_drill_down_never_fails_the_run(stored, engine, caplog):
    _, analysis = stored

    class Broken(SampleCostExplorer):
        def get_cost_and_usage(self, **kwargs):
            raise RuntimeError("socket closed")

    with caplog.at_level(logging.WARNING):
        found = pipeline.find_root_causes(SETTINGS, engine, analysis, client=Broken(D))
    assert set(found) == alert_keys(analysis)
    assert {r.status for r in asked(found, analysis).values()} == {"unavailable: the drill-down failed (RuntimeError)"}
    assert "root causes: the drill-down failed (RuntimeError: socket closed)" in caplog.text


def test_alerts_the_daily_cap_leaves_out_say_so(stored, engine):
    _, analysis = stored
    found = pipeline.find_root_causes(replace(SETTINGS, drilldown_max_requests=2), engine, analysis,
                                      client=SampleCostExplorer(D))
    largest = max([*analysis.spikes, *analysis.trends], key=lambda a: abs(drilldown.impact(a)))
    assert found[drilldown.alert_key(largest)].status == "ok"
    assert set(found) == alert_keys(analysis)
    rest = asked(found, analysis)
    assert sum(r.status == drilldown.DAILY_LIMIT for r in rest.values()) == len(rest) - 1
