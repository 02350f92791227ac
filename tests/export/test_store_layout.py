"""The export layout of the record table (migration m0004): brief + canonical body.

An old-layout catalog (bodies as `model_dump_json`, no `brief`) must migrate and read
back identical records, and every export path over stored rows (`iter_raw`, the jsonl
copy of the stored body, the brief body of the other formats) must print exactly what
the model path prints.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.export.jsonl import jsonl_line, jsonl_line_raw
from catalog.export.registry import FORMATS, writer_for
from catalog.model import CatalogRecord
from catalog.store import SQLiteStore
from catalog.store.sqlite.migrations import MIGRATIONS
from tests.export.records import fixture_records, hard_record

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = datetime(2026, 2, 3, 4, 5, 6, 120000, tzinfo=UTC)  # microseconds that pydantic prints


def records() -> list[CatalogRecord]:
    return [*fixture_records(), hard_record()]


def old_layout_catalog(path: Path, recs: list[CatalogRecord]) -> None:
    """A catalog as the store wrote it before m0004: migrations up to m0003, compact bodies."""
    old = [m for m in MIGRATIONS if m.name < "m0004"]
    store = SQLiteStore(path, migrations=old)
    conn = store.connection  # this backend's own connection: the old layout has no contract
    with store.unit_of_work():
        for i, rec in enumerate(recs):
            when = (T0 if i % 2 else T1).isoformat(timespec="microseconds").replace("+00:00", "Z")
            conn.execute(
                "INSERT INTO record (record_id, node_id, slug, url, body, content_hash, etag, last_modified,"
                " first_seen, last_changed, last_checked, deleted_at, missing_count) VALUES"
                " (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, 0)",
                (rec.record_id, rec.node_id, rec.slug, rec.url, rec.model_dump_json(), rec.content_hash(),
                 when, when, when, when if i == 1 else None),
            )
    store.close()


def test_old_layout_catalog_migrates_and_reads_back_identical_records(tmp_path: Path) -> None:
    recs = records()
    path = tmp_path / "old.db"
    old_layout_catalog(path, recs)
    with SQLiteStore(path) as store:
        assert "m0004_export_layout" in store.applied_migrations()
        cols = [r[1] for r in store.connection.execute("PRAGMA table_info(record)")]
        assert cols.index("brief") < cols.index("body")
        indexes = {r[1] for r in store.connection.execute("PRAGMA index_list(record)")}
        assert {"record_last_changed", "record_last_checked", "record_slug"} <= indexes
        for rec in recs:
            got = store.get(rec.record_id)
            assert got is not None
            assert got.record == rec
            assert got.record.content_hash() == rec.content_hash() == got.content_hash
        assert [s.record for s in store.iter_records()] == sorted(recs, key=lambda r: r.record_id)
        assert store.get(recs[1].record_id).deleted  # type: ignore[union-attr]
        # the body is now the jsonl form of the record, the brief one lacks only the texts' text
        for raw, rec in zip(store.iter_raw(), sorted(recs, key=lambda r: r.record_id), strict=True):
            assert raw.json == json.dumps(rec.model_dump(mode="json"), ensure_ascii=False)
        for raw, rec in zip(store.iter_raw(brief=True), sorted(recs, key=lambda r: r.record_id), strict=True):
            brief = CatalogRecord.model_validate_json(raw.json)
            assert [t.text for t in brief.texts] == [""] * len(rec.texts)
            assert brief.model_copy(update={"texts": rec.texts}) == rec


@pytest.fixture
def catalog(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "c.db")
    for i, rec in enumerate(records()):
        store.upsert(rec, now=T0 + timedelta(seconds=i) if i % 2 else T1)
    store.tombstone(records()[0].record_id, now=T1)
    yield store
    store.close()


def test_jsonl_from_the_stored_body_equals_the_model_line(catalog: SQLiteStore) -> None:
    raws = list(catalog.iter_raw())
    assert raws and any(r.deleted for r in raws)
    for raw in raws:
        line = jsonl_line_raw(raw)
        assert line is not None
        assert line == jsonl_line(raw.stored())


def test_jsonl_falls_back_to_the_model_for_an_old_body(catalog: SQLiteStore) -> None:
    rec = records()[1]
    catalog.connection.execute("UPDATE record SET body = ? WHERE record_id = ?", (rec.model_dump_json(), rec.record_id))
    raw = next(catalog.iter_raw(ids=[rec.record_id]))
    assert jsonl_line_raw(raw) is None
    writer = writer_for("jsonl")
    assert writer.record_raw(raw) == jsonl_line(raw.stored())


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_over_stored_rows_equals_the_model_path(catalog: SQLiteStore, fmt: str) -> None:
    model_writer, raw_writer = writer_for(fmt), writer_for(fmt)
    expected = model_writer.header() + "".join(model_writer.record(s) for s in catalog.iter_records())
    expected += model_writer.footer()
    rows = catalog.iter_raw(brief=not raw_writer.needs_text)
    actual = raw_writer.header() + "".join(raw_writer.record_raw(r) for r in rows) + raw_writer.footer()
    assert actual == expected
