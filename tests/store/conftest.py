"""Backends for the store tests: SQLite in a temporary file, PostgreSQL in a throw-away cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.store import CatalogStore, open_store
from tests.support.postgres import Cluster

BACKENDS = ["sqlite", "postgresql"]
# The fast subset runs PostgreSQL through the store contract (the API every backend keeps); the
# PostgreSQL variants of the other store modules here (work queue, budget, renderings, …) wait
# ~0.2-0.4 s each on a server and are slow: CI runs them, like every slow test.
PG_IN_FAST_SUBSET = {"test_contract.py"}


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (callspec is not None and callspec.params.get("backend") == "postgresql"
                and item.path.parent == here and item.path.name not in PG_IN_FAST_SUBSET):
            item.add_marker(pytest.mark.slow)


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
