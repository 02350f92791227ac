"""Fixtures shared by more than one test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import Cluster, cluster


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    """One throw-away PostgreSQL cluster per test process, shared by tests/store and tests/search
    (each test makes its own database in it); the tests fail (never skip) when it cannot start."""
    with cluster() as c:
        yield c
