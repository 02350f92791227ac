"""`reparse` rebuilds records a sync fetched, from the sync's own recordings.

A sync asks /document/<slug> (never /document/<ID>) and records every answer, 304s included.
Before, reparse found no /document/<ID> request in those recordings and skipped every synced
record, and a later 304 would have hidden the page recorded earlier.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from catalog.store import SQLiteStore
from harvester.config import Settings
from harvester.pipeline import reparse
from harvester.sync import SyncResult
from harvester.warc import WarcIndex
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

Sync = Callable[..., SyncResult]


@pytest.mark.parametrize("processes", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["inline", "pool"])
def test_reparse_rebuilds_synced_records_from_the_sync_recordings(
        archive: TestArchive, settings: Settings, sync_once: Sync, processes: bool) -> None:
    sync_once()
    archive.change(300641)  # the second sync stores a new version of one page; the others answer 304
    result = sync_once(recheck_all=True)
    assert result.report["counts"]["not_modified"] == len(DOCUMENT_IDS) - 1
    with SQLiteStore(settings.storage.database) as store:
        before = {s.record.record_id: s.content_hash for s in store.iter_records()}
        summary = reparse(settings=settings, store=store, processes=processes)
        after = {s.record.record_id: s for s in store.iter_records()}
    assert summary.skipped == 0
    assert sorted(o.record_id for o in summary.outcomes) == sorted(DOCUMENT_IDS)
    # Every page parses to the record the sync stored: the latest page, not a 304 in its place.
    assert {o.status for o in summary.outcomes} == {"unchanged"}, summary.outcomes
    assert {rid: s.content_hash for rid, s in after.items()} == before
    assert "(revised)" in after[300641].record.title


def test_a_later_answer_without_the_page_never_hides_the_recorded_page(
        archive: TestArchive, settings: Settings, sync_once: Sync) -> None:
    sync_once()
    sync_once(recheck_all=True)  # every page answers 304, recorded after its 200
    index = WarcIndex(settings.storage.warc_dir)
    with SQLiteStore(settings.storage.database) as store:
        pages = [s.record.provenance.final_url for s in store.iter_records()]
    assert pages and all(index.get(url).status == 200 for url in pages)
