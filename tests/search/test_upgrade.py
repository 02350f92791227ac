"""Catalogs from before the search migrations (SQLite m0009_search, PostgreSQL m0005_search) upgrade
on the first write open: sort keys and the token index are rebuilt, and they search like new ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalog.index import INDEX_VERSION
from catalog.search import SearchParams, run_search
from catalog.store import CatalogStore, open_store
from tests.search.catalog import fill
from tests.store.backends import fresh_fixture_catalog
from tests.support.postgres import Cluster

RELEASE = Path(__file__).parents[1] / "store" / "fixtures" / "catalog-release-c60af1a.db"
SEARCHES = [SearchParams(q="stalin", sort="date"), SearchParams(sort="title", per_page=100),
            SearchParams(date_from="1950", date_to="1959", sort="-date"),
            SearchParams(q='"zhou enlai"', facets=(("language", "Russian"),))]


def pages(store: CatalogStore) -> list[tuple[int, list[int]]]:
    return [(p.total, [h.record_id for h in p.hits]) for p in (run_search(store, s) for s in SEARCHES)]


def test_a_released_sqlite_catalog_upgrades_and_searches_like_a_fresh_one(tmp_path: Path) -> None:
    old_path = tmp_path / "old.db"
    shutil.copy(RELEASE, old_path)
    with open_store(old_path) as old, fresh_fixture_catalog(tmp_path / "fresh.db") as fresh:
        assert "m0009_search" in old.applied_migrations()
        assert old.meta("index_version", "") == str(INDEX_VERSION)
        assert pages(old) == pages(fresh)
        assert pages(fresh)[0][0] > 0 and pages(fresh)[2][0] > 0 and pages(fresh)[3][0] > 0


@pytest.mark.slow  # a PostgreSQL catalog migrated step by step; the SQLite upgrade above stays in the fast subset
def test_a_postgresql_catalog_without_m0005_search_upgrades(pg: Cluster) -> None:
    url = pg.create_database("up")
    with open_store(url) as store:
        fill(store)
        want = pages(store)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:  # back to the schema and index before issue 12
        conn.execute("DROP TABLE record_sort")
        conn.execute("DELETE FROM schema_migration WHERE name = 'm0005_search'")
        conn.execute("UPDATE store_meta SET value = '1' WHERE key = 'index_version'")
    with open_store(url) as store:
        assert "m0005_search" in store.applied_migrations()
        assert pages(store) == want


@pytest.mark.slow  # ~1 s of tsvector building for one record
def test_a_record_with_a_huge_vocabulary_is_stored_and_found_on_postgresql(pg: Cluster) -> None:
    import hashlib

    from catalog.model import TextVersion
    from tests.search.catalog import RECORDS

    # 60,000 distinct 40-character words: a tsvector of them all would pass PostgreSQL's 1 MB limit.
    garbage = " ".join(hashlib.sha1(str(i).encode()).hexdigest()[:40] for i in range(60_000))
    record = RECORDS[0].model_copy(update={
        "record_id": 4242, "title": "Vocabulary sprawl",
        "texts": [TextVersion(label="Original", kind="original", text=garbage + " zebraword")]})
    with open_store(pg.create_database("big")) as store:
        assert store.upsert(record) == "new"
        assert [h.record_id for h in run_search(store, SearchParams(q="sprawl")).hits] == [4242]
        first_word = garbage.split()[0]
        assert run_search(store, SearchParams(q=first_word)).total == 1
