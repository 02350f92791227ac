"""A catalog written by the previous release upgrades cleanly; migrations stay frozen.

`fixtures/catalog-release-c60af1a.db` was made by the release at commit c60af1a (before
the store package): `harvester --db catalog.db harvest --replay fixtures/warc/documents`.
That release never wrote OAI set membership from the harvest (the hook lived in
catalog.oai), so its set tables are empty: the upgrade must derive the indexes.
"""

from __future__ import annotations

import ast
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from catalog.errors import StoreError
from catalog.index import derive
from catalog.store import SearchQuery, SQLiteStore, open_store
from catalog.store.sqlite import migrations as sqlite_migrations
from tests.store.backends import fresh_fixture_catalog

RELEASE = Path(__file__).parent / "fixtures" / "catalog-release-c60af1a.db"


@pytest.fixture
def release_copy(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    shutil.copy(RELEASE, path)
    return path


def test_release_catalog_is_the_old_layout(release_copy: Path) -> None:
    conn = sqlite3.connect(release_copy)  # a copy: even a read-only open of a WAL file adds -shm beside it
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migration ORDER BY name")]
        assert names == ["m0001_records", "m0002_oai_pmh", "m0003_sync", "m0004_export_layout"]
        assert conn.execute("SELECT count(*) FROM record").fetchone()[0] == 21
        assert conn.execute("SELECT count(*) FROM oai_set_member").fetchone()[0] == 0
    finally:
        conn.close()


def test_release_catalog_upgrades_with_indexes_and_same_records(release_copy: Path, tmp_path: Path) -> None:
    fresh = fresh_fixture_catalog(tmp_path / "fresh.db")
    with open_store(release_copy) as old, fresh:
        assert "m0005_derived_indexes" in old.applied_migrations()
        assert old.record_ids() == fresh.record_ids()
        for rid in old.record_ids():
            a, b = old.get(rid), fresh.get(rid)
            assert a is not None and b is not None
            # The parser moved on since that release (provenance names the parser version, the
            # recording and which selector matched); the record's content is what must be kept.
            assert a.record.model_dump(exclude={"provenance"}) == b.record.model_dump(exclude={"provenance"})
            assert a.content_hash == b.content_hash
        families = ("type", "language", "archive", "subject")
        ids = old.record_ids()
        assert old.facets_of(ids, families) == fresh.facets_of(ids, families)
        assert old.facets_of(ids, families)[175798]  # membership was derived, not left empty
        assert old.facet_page(families, None, 1000) == fresh.facet_page(families, None, 1000)
        until = "9999-12-31T23:59:59.999999Z"
        assert [r.record_id for r in old.oai_page("type:cable", None, until, None, 100, with_body=False)] == \
            [r.record_id for r in fresh.oai_page("type:cable", None, until, None, 100, with_body=False)] != []
        # raw bodies: the frozen m0004 wrote what the live model writes
        for raw_old, raw_new in zip(old.iter_raw(), fresh.iter_raw(), strict=True):
            body_old, body_new = json.loads(raw_old.json), json.loads(raw_new.json)
            assert body_old.pop("provenance").keys() <= body_new.pop("provenance").keys()
            assert body_old == body_new
        query = SearchQuery("Stalin", limit=100)
        assert old.search(query).record_ids == fresh.search(query).record_ids != []


def test_old_catalog_opened_read_only_asks_for_an_upgrade(release_copy: Path) -> None:
    with pytest.raises(StoreError, match="read-only and needs an upgrade .*m0005_derived_indexes.*reindex"):
        SQLiteStore(release_copy, read_only=True)


def test_reindex_rebuilds_what_the_writers_wrote(tmp_path: Path) -> None:
    store = fresh_fixture_catalog(tmp_path / "c.db")
    assert isinstance(store, SQLiteStore)
    with store:
        ids = store.record_ids()
        before = store.facets_of(ids, ("type", "subject", "place", "year"))
        store.connection.execute("DELETE FROM record_facet")
        assert store.facets_of(ids, ("type",)) == {rid: [] for rid in ids}
        assert store.reindex() == len(ids)
        assert store.facets_of(ids, ("type", "subject", "place", "year")) == before
        rec = store.get(175798)
        assert rec is not None
        keys = {f.key for f in derive(rec.record).facets if f.family in ("type", "subject", "place", "year")}
        assert set(before[175798]) == keys


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["sqlite", "postgres"])
def test_migrations_import_no_live_code(package: str) -> None:
    folder = Path(sqlite_migrations.__file__).parents[2] / package / "migrations"
    modules = sorted(folder.glob("m[0-9]*.py"))
    assert modules
    for module in modules:
        live = _imports(module) & {"catalog", "harvester", "pydantic", "tests"}
        assert not live, f"{package}/{module.name} imports live code: {live}"
