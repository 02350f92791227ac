"""Sync tests: a mutable test archive on loopback, settings pointing at it, a run helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.store import SQLiteStore
from harvester.config import Settings, load_settings
from harvester.sync import SyncResult, run_sync
from tests.support.test_archive import TestArchive

CONTACT = "mailto:test@example.org"


def make_settings(base_url: str, tmp_path: Path, **sync: Any) -> Settings:
    return load_settings(environ={}, overrides={
        "archive": {"base_url": base_url, "contact": CONTACT},
        # The rate limit is lifted: politeness itself is tested in tests/harvest and by Crawl-delay here.
        "http": {"rate_limit": 1000.0, "max_retries": 1, "backoff_base": 0.01, "backoff_max": 5.0,
                 "read_timeout": 2.0, "connect_timeout": 1.0},
        "storage": {"database": str(tmp_path / "catalog.db"), "warc_dir": str(tmp_path / "warc")},
        "sync": {"quality_min_pages": 5, **sync},
    })


@pytest.fixture
def archive() -> Iterator[TestArchive]:
    with TestArchive(page_size=5) as site:
        yield site


@pytest.fixture
def settings(archive: TestArchive, tmp_path: Path) -> Settings:
    return make_settings(archive.base_url, tmp_path)


@pytest.fixture
def sync_once(settings: Settings) -> Callable[..., SyncResult]:
    """Run one sync against the catalog in settings (options: full, recheck_all, settings)."""

    def run(*, settings_: Settings | None = None, **kw: Any) -> SyncResult:
        s = settings_ or settings
        with SQLiteStore(s.storage.database) as store:
            return run_sync(settings=s, store=store, **kw)

    return run
