"""The fetcher's shared limiter (harvester/politeness.py) over a real catalog, in one process:
time budgets, a long pause another worker recorded, a lifted rate, Crawl-delay, a lost database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from catalog.store import open_store
from harvester.config import Settings, load_settings
from harvester.http import PausedTooLong
from harvester.pipeline import harvest
from harvester.politeness import SharedLimiter, archive_host, catalog_limiter
from harvester.sync import run_sync
from tests.support.postgres import Cluster
from tests.support.test_archive import TestArchive

HOST = "archive.example.org"


def settings_for(base_url: str, tmp_path: Path, db: str, **http: object) -> Settings:
    values = {"rate_limit": 1000.0, "max_retries": 0, "backoff_base": 0.01, "backoff_max": 60.0,
              "read_timeout": 2.0, "connect_timeout": 1.0, **http}
    return load_settings(environ={}, overrides={
        "archive": {"base_url": base_url, "contact": "mailto:test@example.org"}, "http": values,
        "storage": {"database": db, "warc_dir": str(tmp_path / "warc")}})


@pytest.fixture
def site() -> Iterator[TestArchive]:
    with TestArchive(robots="User-agent: *\nCrawl-delay: 0.05\nAllow: /\n") as archive:
        yield archive


def test_a_wait_past_the_deadline_reserves_nothing(tmp_path: Path) -> None:
    with open_store(tmp_path / "catalog.db") as store:
        limiter = SharedLimiter(store, HOST, 0.01, max_pause=60)  # one request per 100 s
        assert limiter.wait() is None  # the first slot: at once
        early = limiter.wait(deadline=time.monotonic() + 5)
        assert early is not None and 99 < early <= 100  # not slept, not taken
        state = store.budget_state(HOST)
        assert state is not None and state.taken == 1


def test_a_lifted_rate_never_touches_the_catalog(tmp_path: Path) -> None:
    with open_store(tmp_path / "catalog.db") as store:
        limiter = SharedLimiter(store, HOST, None, max_pause=60)
        for _ in range(3):
            assert limiter.wait() is None
        assert store.budget_state(HOST) is None


def test_no_shared_budget_without_a_catalog_other_processes_can_open(tmp_path: Path) -> None:
    settings = settings_for("http://127.0.0.1:9", tmp_path, str(tmp_path / "c.db"))
    assert catalog_limiter(settings, None) is None
    with open_store(":memory:") as memory:
        assert catalog_limiter(settings, memory) is None
    with open_store(tmp_path / "c.db") as store:
        assert isinstance(catalog_limiter(settings, store), SharedLimiter)


def test_a_long_pause_another_worker_recorded_stops_this_one(site: TestArchive, tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    settings = settings_for(site.base_url, tmp_path, db)
    with open_store(db) as store:
        # Another worker got "429, Retry-After 900" a moment ago: longer than http.backoff_max.
        store.budget_pause(archive_host(settings), 900, "HTTP 429, Retry-After 900 s")
        with pytest.raises(PausedTooLong):
            SharedLimiter(store, archive_host(settings), 1.0, max_pause=60).wait()
        summary = harvest([300237, 300238], settings=settings, store=store, processes=False)
    assert site.seen == []  # not one request
    assert summary.exit_code == 75 and summary.asked_to_wait is not None and summary.asked_to_wait > 890
    assert {o.status for o in summary.outcomes} <= {"failed", "not_attempted"}
    assert "asked every worker to wait" in summary.outcomes[0].detail


def test_a_sync_records_the_crawl_delay_for_every_worker(site: TestArchive, tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    settings = settings_for(site.base_url, tmp_path, db)
    with open_store(db) as store:
        run_sync(settings=settings, store=store)
        state = store.budget_state(archive_host(settings))
    assert state is not None and state.crawl_delay == 0.05 and state.taken == len(site.seen)
    times = [s.at for s in site.seen]
    assert (times[-1] - times[0]) / (len(times) - 1) >= 0.04  # at 1000/s asked, the site's 0.05 s held


@pytest.mark.slow
def test_a_database_lost_while_taking_a_slot_stops_the_run_with_one_line(site: TestArchive, tmp_path: Path,
                                                                        pg: Cluster) -> None:
    url = pg.create_database("lostbudget")
    dbname = url.split("/")[3].split("?")[0]
    settings = settings_for(site.base_url, tmp_path, url, concurrency=1)
    lost: list[bool] = []
    page = site.server.routes["/document/300237"]

    def lose_the_database(seen):  # type: ignore[no-untyped-def]
        # While this request is answered, the catalog's server goes away for good.
        if not lost:
            with psycopg.connect(pg.url(), autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                             (dbname,))
            lost.append(True)
        return page(seen)  # type: ignore[operator]

    site.server.route("/document/300237", lose_the_database)
    store = open_store(url)
    store.pool.timeout = 2.0  # type: ignore[attr-defined]  # not 30 s per try in a test
    try:
        summary = harvest([300237, 300238, 300239], settings=settings, store=store, processes=False)
    finally:
        store.close()
    assert lost
    assert summary.exit_code == 2 and summary.fatal is not None
    assert "lost the connection to PostgreSQL" in summary.fatal and "\n" not in summary.fatal
    # /document/300237 answered a redirect; following it needed a slot, which could not be
    # taken: the page itself was never asked for, and neither was the next ID.
    slug_page = f"/document/{site.docs[300237].slug}"
    assert [s.path for s in site.seen] == ["/document/300237"] and slug_page not in site.paths()
    first = summary.outcomes[0]
    assert first.status == "failed" and "lost the connection to PostgreSQL" in first.detail
