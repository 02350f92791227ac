"""Fixtures shared by more than one test folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from tests.support.postgres import Cluster, cluster

# Keep compiled modules even where PYTHONDONTWRITEBYTECODE is set (it is on the build machines):
# otherwise each of the suite's pytest processes rewrites and compiles every test module again, and
# each of its ~200 `harvester` child processes compiles the product's modules again (~0.2 s CPU each),
# which is a fifth of the fast subset's CPU time. The caches are __pycache__ folders, ignored by git.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    """One throw-away PostgreSQL cluster per test process, shared by tests/store and tests/search
    (each test makes its own database in it); the tests fail (never skip) when it cannot start."""
    with cluster() as c:
        yield c
