"""Backends for the store tests: SQLite in a temporary file, PostgreSQL in a throw-away cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.store import CatalogStore, open_store
from tests.support.postgres import Cluster

BACKENDS = ["sqlite", "postgresql"]


def catalog_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return str(tmp_path / "catalog.db")
    c: Cluster = request.getfixturevalue("pg")
    return c.create_catalog_database()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return catalog_url(backend, request, tmp_path)


@pytest.fixture
def store(url: str) -> Iterator[CatalogStore]:
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()
