"""Politeness shared by every worker of a catalog (issue 11): several `harvester harvest`
processes on one catalog, SQLite and PostgreSQL, against a loopback archive that logs
when each request arrived. Rates are measured on the server side only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.store import open_store
from tests.support.archive_server import Answer, Seen
from tests.support.multiworker import busiest_window, finish, start_harvests, worker_of
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

pytestmark = pytest.mark.slow  # four harvest processes each, several seconds of polite pacing


def _archive(copies: int) -> TestArchive:
    """The fixture documents, plus `copies` more copies of each under new Record IDs."""
    site = TestArchive()
    for n in range(copies):
        for rid in DOCUMENT_IDS:
            site.add(rid, as_id=900_000 + 1000 * n + DOCUMENT_IDS.index(rid))
    return site


def _split(ids: list[int], parts: int) -> list[list[int]]:
    return [ids[i::parts] for i in range(parts)]


@pytest.fixture
def site() -> Iterator[TestArchive]:
    with _archive(copies=2) as archive:  # 60 documents: two requests each (redirect, page)
        yield archive


def test_four_workers_together_keep_the_configured_rate(site: TestArchive, url: str, tmp_path: Path) -> None:
    rate = 20.0
    ids = sorted(site.docs)
    procs = start_harvests(site.base_url, url, tmp_path, _split(ids, 4), rate_limit=rate, concurrency=2)
    results = finish(procs)
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    docs = [s for s in site.seen if s.path.startswith("/document/")]
    assert len(docs) == 2 * len(ids)
    # The four really ran at once: each one's first request came before any one's last.
    spans = {w: [s.at for s in docs if worker_of(s) == w] for w in range(4)}
    assert max(min(t) for t in spans.values()) < min(max(t) for t in spans.values())
    # Server side: at most `rate` request starts a second, over any window (one more for the
    # fencepost, and 10 % for scheduling jitter on a loaded machine). Unshared, four workers
    # at 20/s each would put far more than 45 requests into 2 s.
    times = [s.at for s in docs]
    assert busiest_window(times, 2.0) <= 2 * rate * 1.1 + 1
    assert (len(times) - 1) / (max(times) - min(times)) <= rate * 1.05
    with open_store(url) as store:
        assert store.count() == len(ids)
        state = store.budget_state(site.base_url.split("//", 1)[1])
        assert state is not None and state.taken == len(docs)  # every request took its slot


def test_a_retry_after_seen_by_one_worker_pauses_them_all(site: TestArchive, url: str, tmp_path: Path) -> None:
    pause = 3.0
    fired: list[Seen] = []

    def throttle(inner):  # type: ignore[no-untyped-def]
        def handler(seen: Seen) -> Answer:
            # Once all four workers are under way, the next request gets a 429 (just once).
            if not fired and {worker_of(s) for s in site.seen} >= {0, 1, 2, 3}:
                fired.append(seen)
                return Answer(429, b"slow down", {"Retry-After": f"{pause:.0f}"})
            return inner(seen)
        return handler

    for path, route in list(site.server.routes.items()):
        if path.startswith("/document/") and callable(route):
            site.server.routes[path] = throttle(route)
    ids = sorted(site.docs)[:40]
    procs = start_harvests(site.base_url, url, tmp_path, _split(ids, 4), rate_limit=10, concurrency=1,
                           max_retries=2)
    results = finish(procs)
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert fired, "the 429 was never sent"
    at, who = fired[0].at, worker_of(fired[0])
    after = [s for s in site.seen if s.at > at]
    # Requests whose slots were taken before the pause was recorded (one per worker, 0.1 s
    # apart) may still arrive just after the 429; after that nobody asks until it is over.
    quiet = [s for s in after if at + 1.0 < s.at < at + pause - 0.2]
    assert quiet == [], [(round(s.at - at, 2), worker_of(s), s.path) for s in quiet]
    later = {worker_of(s) for s in after if s.at >= at + pause - 0.2}
    assert later == {0, 1, 2, 3}  # everyone resumed after the pause, the throttled one included
    assert who in later
    with open_store(url) as store:
        assert store.count() == len(ids)
