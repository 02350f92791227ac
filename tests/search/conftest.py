"""Both backends filled with the same search catalog (tests/search/catalog.py): built once per test
process, and each module gets its own copy."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from catalog.store import CatalogStore, open_store
from tests.search.catalog import fill
from tests.support.postgres import Cluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The search catalog filled once per test process; each module gets a copy of the file."""
    path: Path = tmp_path_factory.mktemp("search-template") / "catalog.db"
    with open_store(path) as store:
        fill(store)
    return path


@pytest.fixture(scope="module")
def sqlite_catalog(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogStore]:
    path: Path = tmp_path_factory.mktemp("search") / "catalog.db"
    shutil.copyfile(sqlite_template, path)
    store = open_store(path)
    yield store
    store.close()


@pytest.fixture(scope="session")
def pg_template(pg: Cluster) -> str:
    """The search catalog filled once per test process in a database that the modules' copies are
    made from (CREATE DATABASE ... TEMPLATE); the store is closed, as a template must have no users."""
    url = pg.create_database("search_template")
    with open_store(url) as store:
        fill(store)
    return url.split("?")[0].rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def pg_catalog(pg: Cluster, pg_template: str) -> Iterator[CatalogStore]:
    name = f"search_{secrets.token_hex(4)}"
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    store = open_store(pg.url(name))
    yield store
    store.close()


@pytest.fixture(scope="module")
def catalogs(sqlite_catalog: CatalogStore, pg_catalog: CatalogStore) -> dict[str, CatalogStore]:
    return {"sqlite": sqlite_catalog, "postgresql": pg_catalog}
