"""Fixtures shared by more than one test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.postgres import Cluster, cluster

# Live requests honour the environment's proxy (harvester/http.py); the tests' archives are on
# loopback and must be reached direct, whatever proxy the machine running the tests has
# (tests/harvest/test_proxy.py sets its own).
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.lower(), None)


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    """One throw-away PostgreSQL cluster per test process, shared by tests/store and tests/search
    (each test makes its own database in it); the tests fail (never skip) when it cannot start."""
    with cluster() as c:
        yield c
