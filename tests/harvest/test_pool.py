"""Parsing in worker processes gives exactly what the single-process path gives.

`harvest(..., processes=True)` forces the process pool even for a small job (by default
a pool starts only from POOL_MIN_IDS IDs up), so these tests run the pooled code paths
on the fixture pages and scenarios: a replay (workers read the WARC records themselves)
and a live harvest (threads fetch and keep every exchange, processes parse).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import load_settings
from tests.harvest.conftest import warc_for
from tests.support.archive_server import Answer, ArchiveServer
from tests.support.fixture_site import FIXTURES, answers_from

CHALLENGE = (b"<html><head><title>Just a moment...</title></head><body>"
             b"<script src='/cdn-cgi/challenge-platform/x.js'></script></body></html>")
SCENARIOS = ["scenario-not-a-document", "scenario-not-found-404", "scenario-gone-410", "scenario-truncated-html"]


def _archive(tmp_path: Path) -> Path:
    """Every fixture document and some failing scenarios (no challenge: it would stop the run)."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for path in sorted((FIXTURES / "warc" / "documents").glob("*.warc.gz")):
        shutil.copy(path, folder / path.name)
    for name in SCENARIOS:
        shutil.copy(FIXTURES / "warc" / "scenarios" / f"{name}.warc.gz", folder / f"{name}.warc.gz")
    return folder


def _settings(tmp_path: Path, name: str, **archive: object):  # type: ignore[no-untyped-def]
    return load_settings(environ={}, overrides={
        "archive": {"contact": "mailto:test@example.org", **archive},
        "http": {"rate_limit": 1000.0, "max_retries": 0, "concurrency": 4},
        "storage": {"database": str(tmp_path / f"{name}.db"), "warc_dir": str(tmp_path / f"warc-{name}")},
    })


def _records(store: SQLiteStore) -> dict[int, dict]:
    return {s.record.record_id: s.record.model_dump(mode="json") for s in store.iter_records()}


def _outcomes(summary: pipeline.HarvestSummary) -> list[tuple]:
    return [(o.record_id, o.status, o.detail, tuple(o.problems)) for o in summary.outcomes]


@pytest.mark.slow
def test_reparse_through_the_pool_gives_the_same_records_in_the_same_order(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    results = {}
    for processes in (False, True):
        settings = _settings(tmp_path, f"p{processes}")
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.reparse(settings=settings, store=store, source=archive, processes=processes)
            events = [(row.record_id, row.outcome) for row in store.events()]
            results[processes] = (_outcomes(summary), summary.requests, _records(store), events)
    single, pooled = results[False], results[True]
    assert pooled[:3] == single[:3]
    # Same events; the pool stores in input order (one thread with a window of two may not:
    # two fetches finished together come back as a set).
    assert sorted(pooled[3]) == sorted(single[3])
    assert pooled[3] == sorted(pooled[3])
    statuses = {status for _, status, _, _ in pooled[0]}
    assert {"new", "failed", "not_found", "gone"} <= statuses
    assert len(pooled[2]) == 21


def test_a_block_in_a_pooled_replay_stops_the_run(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(warc_for(175798), archive / "a.warc.gz")
    shutil.copy(FIXTURES / "warc" / "scenarios" / "scenario-cloudflare-challenge.warc.gz", archive / "b.warc.gz")
    ids = [175798, 999403] + list(range(1, 40))
    settings = _settings(tmp_path, "block")
    with SQLiteStore(settings.storage.database) as store:
        summary = pipeline.harvest(ids, settings=settings, store=store, replay=archive, processes=True)
    statuses = [o.status for o in summary.outcomes]
    assert statuses[:2] == ["new", "blocked"]
    assert summary.exit_code == 2
    assert len(statuses) == len(ids)
    # The window was in flight when the block came back; everything after it was not started.
    assert statuses[-1] == "not_attempted"


@pytest.mark.slow
def test_live_harvest_through_the_pool_matches_the_single_process_path(tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    ids = [175798, 300641, 999004, 999207, 5, 6]
    results = {}
    with ArchiveServer() as site:
        for rid in ids[:4]:
            answers_from(warc_for(rid), site)
        site.route("/document/5", Answer(404, b"<html>gone</html>"))
        site.route("/document/6", Answer(200, b"<html><body><p>not a document</p></body></html>"))
        for processes in (False, True):
            settings = _settings(tmp_path, f"live{processes}", base_url=site.base_url)
            with SQLiteStore(settings.storage.database) as store:
                summary = pipeline.harvest(ids, settings=settings, store=store, processes=processes)
                records = _records(store)
            for record in records.values():  # fetched twice: the times and WARC names differ
                for key in ("fetched_at", "warc_file", "warc_record_id"):
                    record["provenance"].pop(key)
            assert summary.warc_file is not None
            with open(summary.warc_file, "rb") as fh:
                kinds = [rec.rec_type for rec in ArchiveIterator(fh)]
            results[processes] = (_outcomes(summary), records, kinds.count("response"), kinds.count("request"))
    assert results[True] == results[False]
    assert [o[1] for o in results[True][0]] == ["new", "new", "new", "new", "not_found", "not_document"]
    assert results[True][2] == results[True][3] >= len(ids)


def test_a_block_in_a_pooled_live_harvest_stops_the_run(tmp_path: Path) -> None:
    with ArchiveServer() as site:
        answers_from(warc_for(175798), site)
        site.route("/document/2", Answer(403, CHALLENGE, {"cf-mitigated": "challenge"}))
        for rid in range(3, 40):
            site.route(f"/document/{rid}", Answer(404, b"<html>no</html>", delay=0.05))
        settings = _settings(tmp_path, "liveblock", base_url=site.base_url)
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.harvest([175798, 2] + list(range(3, 40)), settings=settings, store=store,
                                       processes=True)
    statuses = [o.status for o in summary.outcomes]
    assert statuses[:2] == ["new", "blocked"]
    assert statuses[-1] == "not_attempted"
    assert summary.exit_code == 2


def test_small_jobs_stay_in_one_process() -> None:
    assert pipeline.POOL_MIN_IDS > 21  # the fixture tests run without one
    assert pipeline.POOL_MIN_RATE > 1.0  # a polite live harvest (1 request/s) never starts one
