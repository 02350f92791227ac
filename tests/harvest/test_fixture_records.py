"""Every fixture page, replayed, gives its expected record field by field, and each scenario its outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import Settings
from tests.harvest.conftest import DOCUMENT_IDS, SCENARIOS, expected_record, scenario_for, warc_for


@pytest.mark.parametrize("record_id", DOCUMENT_IDS)
def test_fixture_page_gives_expected_record(record_id: int, offline_settings: Settings) -> None:
    with SQLiteStore(offline_settings.storage.database) as store:
        summary = pipeline.harvest([record_id], settings=offline_settings, store=store, replay=warc_for(record_id))
        assert summary.outcomes[0].status == "new", summary.outcomes[0].detail
        stored = store.get(record_id)
    assert stored is not None
    got = stored.record.content()
    problems = got.pop("problems")
    expected = expected_record(record_id)
    for field, value in expected.items():
        assert got[field] == value, f"{record_id}: field {field!r}"
    assert set(got) == set(expected), "fields not covered by the expected record"

    scenario = scenario_for(record_id)
    wanted = scenario.get("problems", []) if scenario else []
    for phrase in wanted:
        assert any(phrase.lower() in p.lower() for p in problems), f"{record_id}: {phrase!r} not flagged in {problems}"
    if not wanted:
        assert problems == [], f"{record_id}: unexpected problems {problems}"


def test_provenance_of_a_replayed_record(offline_settings: Settings) -> None:
    with SQLiteStore(offline_settings.storage.database) as store:
        pipeline.harvest([175798], settings=offline_settings, store=store, replay=warc_for(175798))
        prov = store.get(175798).record.provenance
    assert prov.request_url == "https://digitalarchive.wilsoncenter.org/document/175798"
    assert prov.final_url != prov.request_url and prov.final_url.startswith("https://digitalarchive.wilsoncenter.org/document/")
    assert prov.redirects == [prov.request_url]
    assert prov.http_status == 200 and prov.replayed
    assert len(prov.sha256) == 64 and prov.etag and prov.last_modified
    # A replayed record names the recording it came from in full, so `reparse` can find it again.
    assert prov.warc_file is not None and Path(prov.warc_file).is_absolute()
    assert Path(prov.warc_file).name == "doc-175798.warc.gz" and prov.warc_record_id.startswith("<urn:uuid:")
    assert prov.tool_version and prov.parser_version


_ERROR_OUTCOMES = {"blocked": "blocked", "gone": "gone", "not_found": "not_found", "rate_limited": "failed",
                   "server_error": "failed", "not_document": "not_document", "truncated": "failed"}
_ERROR_SCENARIOS = {name: s for name, s in SCENARIOS.items() if s["outcome"] in _ERROR_OUTCOMES}


@pytest.mark.parametrize("name", sorted(_ERROR_SCENARIOS))
def test_error_scenario_is_reported_not_stored(name: str, offline_settings: Settings) -> None:
    scenario = _ERROR_SCENARIOS[name]
    rid = scenario["record_id"]
    with SQLiteStore(offline_settings.storage.database) as store:
        summary = pipeline.harvest([rid], settings=offline_settings, store=store, replay=warc_for(rid))
        assert store.get(rid) is None  # nothing half-written
        events = store.events(rid)
    outcome = summary.outcomes[0]
    assert outcome.status == _ERROR_OUTCOMES[scenario["outcome"]], outcome.detail
    assert events and events[-1].outcome == outcome.status  # the reason is recorded in the catalog
    if scenario["outcome"] == "rate_limited":
        assert outcome.retry_after == pytest.approx(scenario["retry_after"], abs=1)
    if scenario["outcome"] == "truncated":
        assert "truncated" in outcome.detail
    if scenario["outcome"] == "not_document":
        assert str(rid) in outcome.detail and "not a document page" in outcome.detail
    assert summary.exit_code == (2 if outcome.status == "blocked" else 1 if outcome.status in {"failed", "not_document"}
                                 else 0)
