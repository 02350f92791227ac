"""The fast paths store several results in one catalog transaction (harvester/pipeline.py COMMIT_BATCH).

What must still hold: no record reaches the catalog before its raw response is synced to
disk (the WARC is synced once per transaction, not once a page), each item's record, event
and "item done" commit together, and one item whose lease was lost costs only that item.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from catalog.errors import LeaseLost
from catalog.store import SQLiteStore, open_store
from harvester import pipeline, warc, work
from harvester.config import load_settings
from tests.support.test_archive import DOCUMENT_IDS, TestArchive


def _settings(site: TestArchive, tmp_path: Path) -> Any:
    return load_settings(environ={}, overrides={
        "archive": {"base_url": site.base_url, "contact": "mailto:t@example.org"},
        "http": {"rate_limit": 1000, "concurrency": 2},
        "storage": {"database": str(tmp_path / "c.db"), "warc_dir": str(tmp_path / "warc")}})


def test_the_warc_writer_syncs_once_for_many_exchanges_when_asked(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    synced: list[int] = []
    monkeypatch.setattr(warc.os, "fsync", lambda fd: synced.append(fd))
    writer = warc.WarcWriter(tmp_path / "a.warc.gz", software="test", sync_each=False)
    for n in range(3):
        writer.write_exchange(warc.RecordedRequest("GET", f"http://x/document/{n}", []),
                              warc.RecordedResponse(f"http://x/document/{n}", 200, "OK", [], b"<html/>",
                                                    datetime.now(UTC)))
    assert synced == []  # flushed, not synced
    writer.sync()
    writer.sync()  # nothing new: no second fsync
    assert len(synced) == 1
    writer.close()
    assert len(synced) == 1
    # The default writer (fixtures, `record`) still syncs every exchange.
    every = warc.WarcWriter(tmp_path / "b.warc.gz", software="test")
    every.write_exchange(warc.RecordedRequest("GET", "http://x/document/9", []),
                         warc.RecordedResponse("http://x/document/9", 200, "OK", [], b"<html/>", datetime.now(UTC)))
    every.close()
    assert len(synced) == 3  # its warcinfo record, then the exchange


def test_a_pooled_harvest_commits_records_together_and_only_after_their_pages_are_synced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = DOCUMENT_IDS[:6]
    # Every result of this short run in one batch (a loaded machine could space them out).
    monkeypatch.setattr(pipeline, "COMMIT_SECONDS", 60.0)
    ends: dict[str, int] = {}  # request URL -> the WARC file's size once its exchange was written
    durable = [0]  # the WARC file's size at its last fsync
    real_write, real_fsync = warc.WarcWriter.write_exchange, os.fsync

    def write_exchange(self: warc.WarcWriter, request: warc.RecordedRequest,
                       response: warc.RecordedResponse) -> str:
        got = real_write(self, request, response)
        ends[request.url] = self._fh.tell()
        return got

    def fsync(fd: int) -> None:
        real_fsync(fd)
        durable[0] = os.fstat(fd).st_size

    monkeypatch.setattr(warc.WarcWriter, "write_exchange", write_exchange)
    monkeypatch.setattr(warc.os, "fsync", fsync)
    stored_before_sync: list[int] = []
    real_upsert, real_write_unit = SQLiteStore.upsert, SQLiteStore.write
    units = [0]

    def upsert(self: SQLiteStore, record: Any, **kw: Any) -> Any:
        parsed = record.record  # prepared for the store in a parse worker
        if ends[parsed.provenance.request_url] > durable[0]:
            stored_before_sync.append(parsed.record_id)
        return real_upsert(self, record, **kw)

    def write_unit(self: SQLiteStore, unit: Any) -> Any:
        units[0] += 1
        return real_write_unit(self, unit)

    monkeypatch.setattr(SQLiteStore, "upsert", upsert)
    monkeypatch.setattr(SQLiteStore, "write", write_unit)
    with TestArchive(ids) as site:
        settings = _settings(site, tmp_path)
        with open_store(settings.storage.database) as store:
            summary = work.harvest(ids, settings=settings, store=store, processes=True)
            assert [o.status for o in summary.outcomes] == ["new"] * 6
            assert sorted(store.record_ids()) == sorted(ids)
            assert store.work_counts()["done"] == 6
    assert stored_before_sync == []
    assert 1 <= units[0] < len(ids)  # several records a transaction


def test_a_lost_lease_in_a_batch_costs_only_its_own_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = DOCUMENT_IDS[:6]
    monkeypatch.setattr(pipeline, "COMMIT_SECONDS", 60.0)
    lost = ids[2]
    real_finish = SQLiteStore.work_finish

    def work_finish(self: SQLiteStore, item_id: int, worker_id: str, **kw: Any) -> Any:
        key = next(i.key for i in self.work_items() if i.id == item_id)
        if key == str(lost):  # another worker took this item: nothing of it may be written here
            raise LeaseLost(f"item {item_id} is leased by another worker")
        return real_finish(self, item_id, worker_id, **kw)

    monkeypatch.setattr(SQLiteStore, "work_finish", work_finish)
    with TestArchive(ids) as site:
        settings = _settings(site, tmp_path)
        with open_store(settings.storage.database) as store:
            summary = work.harvest(ids, settings=settings, store=store, processes=True)
            statuses = {o.record_id: o.status for o in summary.outcomes}
            assert statuses == {rid: "not_attempted" if rid == lost else "new" for rid in ids}
            assert sorted(store.record_ids()) == sorted(rid for rid in ids if rid != lost)
            assert store.events(lost) == []
            assert store.work_counts()["done"] == 5
