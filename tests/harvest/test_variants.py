"""Hand-written markup variants give their base record exactly; look-alike pages store nothing.

fixtures/variants/: the same documents in other plausible markups (Bootstrap 4/5 tabs, Drupal
field wrappers, no .content-block, <time datetime>, windows-1252, Related Documents teasers,
person cards, a cookie banner, "Associated Topics", Type as text or pill, donors only in the
credit line). fixtures/lookalikes/: a person page, search listings and a collection page,
reached by a Record ID. See fixtures/README.md.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalog.errors import NotADocument
from catalog.model import CatalogRecord, Provenance
from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import load_settings
from harvester.normalize import build_record
from harvester.site.page import parse_page
from tests.harvest.conftest import expected_record, scenario_for
from tests.support.archive_server import Answer, ArchiveServer
from tests.support.fixture_site import FIXTURES

VARIANTS: dict[str, dict] = json.loads((FIXTURES / "variants" / "manifest.json").read_text(encoding="utf-8"))
LOOKALIKES: dict[str, dict] = json.loads((FIXTURES / "lookalikes" / "manifest.json").read_text(encoding="utf-8"))


def record_of(name: str, meta: dict) -> CatalogRecord:
    body = (FIXTURES / "variants" / name).read_bytes()
    rid = meta["record_id"]
    parsed = parse_page(body, record_id=rid, final_url=meta["final_url"], content_type=meta["content_type"])
    provenance = Provenance(request_url=f"https://digitalarchive.wilsoncenter.org/document/{rid}",
                            final_url=meta["final_url"], http_status=200, fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
                            sha256="0" * 64, tool_version="test", parser_version="test")
    return build_record(parsed, provenance, requested_id=rid)


def test_enough_variants_over_enough_documents() -> None:
    assert len(VARIANTS) >= 20
    assert len({m["record_id"] for m in VARIANTS.values()}) >= 5
    assert len(LOOKALIKES) >= 3 and {m["kind"] for m in LOOKALIKES.values()} >= {"person", "listing", "collection"}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_gives_its_base_record_exactly(name: str) -> None:
    meta = VARIANTS[name]
    record = record_of(name, meta)
    got = record.content()
    problems = got.pop("problems")
    expected = expected_record(meta["record_id"])
    for field, value in expected.items():
        assert got[field] == value, f"{name}: field {field!r}"
    assert set(got) == set(expected)
    scenario = scenario_for(meta["record_id"])
    wanted = scenario.get("problems", []) if scenario else []
    assert sorted(problems) == sorted(wanted), f"{name}: problems {problems}"
    # The fallback alternatives the variant needs are the ones recorded in provenance.
    matched = record.provenance.matched
    for field, rank in meta["fallbacks"].items():
        assert matched.get(field, "").startswith(rank), f"{name}: {field} matched by {matched.get(field)!r}"
    unexpected = {f: how for f, how in matched.items() if not how.startswith("#1 ") and f not in meta["fallbacks"]}
    assert not unexpected, f"{name}: fields found by a fallback the manifest does not list: {unexpected}"


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_lookalike_is_not_a_document_page(name: str) -> None:
    meta = LOOKALIKES[name]
    body = (FIXTURES / "lookalikes" / name).read_bytes()
    with pytest.raises(NotADocument) as caught:
        parse_page(body, record_id=meta["record_id"], final_url=meta["final_url"],
                   content_type="text/html; charset=UTF-8")
    assert f"not a document page: {meta['final_path']}" in str(caught.value)


def test_lookalikes_reached_by_record_id_store_nothing(tmp_path: Path) -> None:
    """Through a real harvest: /document/<ID> redirects to the look-alike; the outcome says so, nothing is stored."""
    with ArchiveServer() as site:
        for name, meta in LOOKALIKES.items():
            body = (FIXTURES / "lookalikes" / name).read_bytes()
            target = meta["final_url_path_query"]
            if target != f"/document/{meta['record_id']}":
                site.route(f"/document/{meta['record_id']}", Answer(301, b"", {"Location": target}))
            site.route(meta["final_url_path_query"], Answer(200, body, {"Content-Type": "text/html; charset=UTF-8"}))
        settings = load_settings(environ={}, overrides={
            "archive": {"contact": "mailto:test@example.org", "base_url": site.base_url},
            "http": {"rate_limit": 1000.0, "max_retries": 0},
            "storage": {"database": str(tmp_path / "catalog.db"), "warc_dir": str(tmp_path / "warc")}})
        ids = sorted(m["record_id"] for m in LOOKALIKES.values())
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.harvest(ids, settings=settings, store=store)
            assert [store.get(rid) for rid in ids] == [None] * len(ids)
            events = {rid: store.events(rid)[-1].outcome for rid in ids}
    assert Counter(o.status for o in summary.outcomes) == Counter({"not_document": len(ids)})
    assert set(events.values()) == {"not_document"}
    assert summary.exit_code == 1
    for outcome in summary.outcomes:
        meta = next(m for m in LOOKALIKES.values() if m["record_id"] == outcome.record_id)
        assert f"not a document page: {meta['final_path']}" in outcome.detail


def test_records_stored_without_matched_stay_valid_and_unchanged() -> None:
    """provenance.matched is optional: an old record's JSON validates and serializes exactly as before."""
    name, meta = next(iter(sorted(VARIANTS.items())))
    record = record_of(name, meta)
    assert record.provenance.matched  # a new record says which alternatives matched
    old = json.loads(record.model_dump_json())
    del old["provenance"]["matched"]
    text = json.dumps(old, separators=(",", ":"), ensure_ascii=False)
    again = CatalogRecord.model_validate_json(text)
    assert again.provenance.matched == {}
    assert json.loads(again.model_dump_json()) == old and again.content_hash() == record.content_hash()
