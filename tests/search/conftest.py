"""Both backends filled with the same search catalog (tests/search/catalog.py), once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.store import CatalogStore, open_store
from tests.search.catalog import fill
from tests.support.postgres import Cluster


@pytest.fixture(scope="module")
def sqlite_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogStore]:
    path: Path = tmp_path_factory.mktemp("search") / "catalog.db"
    store = open_store(path)
    fill(store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def pg_catalog(pg: Cluster) -> Iterator[CatalogStore]:
    store = open_store(pg.create_database("search"))
    fill(store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def catalogs(sqlite_catalog: CatalogStore, pg_catalog: CatalogStore) -> dict[str, CatalogStore]:
    return {"sqlite": sqlite_catalog, "postgresql": pg_catalog}
