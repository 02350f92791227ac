"""Several workers on one sync, on SQLite and on PostgreSQL: discovery under the coordinator
lease (once), revalidation from the work queue by every sync and `harvester work` of the
catalog (each record once: the loopback archive's request log says so), run counts right
whoever finished the items, and an expired discovery lease of a killed holder taken over.

The syncs and workers are real `python -m harvester` processes: the processes are the point.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.runs import DISCOVERY, Lease, Runs
from catalog.store import CatalogStore, open_store
from harvester.pipeline import HarvestSummary
from harvester.sync import run_sync, sync_batch
from tests.store.conftest import BACKENDS, catalog_url
from tests.support.archive_server import Answer, Seen
from tests.support.test_archive import DOCUMENT_IDS, TestArchive, listing_path
from tests.sync.conftest import CONTACT, make_settings

ROOT = Path(__file__).resolve().parents[2]
PAGE_DELAY = 0.4  # seconds a document page takes: long enough for the workers to overlap (20 pages: 8 s)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return catalog_url(str(request.param), request, tmp_path)


@pytest.fixture
def archive() -> Iterator[TestArchive]:
    with TestArchive(page_size=5) as site:
        yield site


def _slow_pages(site: TestArchive) -> None:
    """Every document page answers after PAGE_DELAY (the routes call `_page` when asked)."""
    page = site._page

    def slow(record_id: int, seen: Seen) -> Answer:
        return dataclasses.replace(page(record_id, seen), delay=PAGE_DELAY)

    site._page = slow  # type: ignore[method-assign]


def _slow_listing(site: TestArchive, delay: float) -> None:
    """Every listing page answers after `delay` (the page is built when asked, as before)."""
    for page in range(0, 60):
        def handler(seen: Seen, page: int = page) -> Answer:
            return Answer(200, site.listing_page(page), delay=delay)
        site.server.route(listing_path(page), handler)


def _env(site: TestArchive, url: str, tmp: Path, n: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCDA_")}
    env.update({"PYTHONPATH": str(ROOT), "WCDA_ARCHIVE__BASE_URL": site.base_url,
                "WCDA_ARCHIVE__CONTACT": CONTACT, "WCDA_HTTP__RATE_LIMIT": "1000",
                "WCDA_HTTP__MAX_RETRIES": "0", "WCDA_STORAGE__DATABASE": url,
                "WCDA_STORAGE__WARC_DIR": str(tmp / f"warc{n}"), "WCDA_SYNC__TOMBSTONE_AFTER": "1",
                "WCDA_SYNC__QUALITY_MIN_PAGES": "5", **extra})
    return env


def _start(site: TestArchive, url: str, tmp: Path, n: int, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "harvester", *args], cwd=tmp, env=_env(site, url, tmp, n, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _done(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out + err


def _seed(site: TestArchive, url: str, tmp: Path) -> None:
    """A first, ordinary sync: every document in the catalog. Then the archive changes a little."""
    settings = make_settings(site.base_url, tmp, tombstone_after=1)
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(update={"database": url})})
    with open_store(url) as store:
        assert run_sync(settings=settings, store=store).status == "finished"
    site.change(DOCUMENT_IDS[0])
    site.change(DOCUMENT_IDS[1])
    site.delete(DOCUMENT_IDS[2])
    site.add(DOCUMENT_IDS[3], as_id=888001)  # one new document for discovery
    site.server.seen.clear()


def _workers_items(url: str) -> dict[str, int]:
    with open_store(url) as store:
        return {w.worker_id: w.items_done for w in store.workers(include_stopped=True)}


def _wait_for(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _queue_built(url: str) -> bool:
    with open_store(url) as store:
        info = Runs(store).unfinished()
        return info is not None and store.work_counts(sync_batch(info.run_id))["pending"] > 0


def _check_run(site: TestArchive, url: str, report: dict[str, object]) -> None:
    """Discovery once, every record's page asked for once, the run's counts right."""
    paths = Counter(s.path for s in site.seen)
    listings = {p: n for p, n in paths.items() if p.startswith("/search")}
    assert listings and set(listings.values()) == {1}, listings  # the listing was walked once
    assert paths["/robots.txt"] == 1
    for record_id, doc in site.docs.items():
        assert paths[f"/document/{doc.slug}"] == 1, (record_id, paths[f"/document/{doc.slug}"])
    counts = report["counts"]
    assert isinstance(counts, dict)
    others = len(DOCUMENT_IDS) - 3
    assert (counts["new"], counts["changed"], counts["tombstoned"], counts["failed"]) == (1, 2, 1, 0), counts
    assert counts["unchanged_total"] == others, counts
    assert report["status"] == "finished"
    with open_store(url) as store:
        runs = Runs(store)
        assert len(runs.recent()) == 2  # the seed run and this one: the workers shared one run
        items = runs.items(str(report["run_id"]))
        seqs = [i.seq for i in items]
        assert len(seqs) == len(set(seqs))  # item numbers unique, whoever wrote them
        revalidated = [i.key for i in items if i.kind == "revalidate"]
        assert len(revalidated) == len(set(revalidated)) == len(DOCUMENT_IDS)
        assert store.work_counts(sync_batch(str(report["run_id"]))) == dict.fromkeys(
            ("pending", "leased", "done", "failed", "expired"), 0)  # the ended run's queue is cleared
        assert runs.lease_holder(DISCOVERY) is None


@pytest.mark.slow
def test_two_syncs_at_once_discover_once_and_revalidate_each_record_once(
        archive: TestArchive, url: str, tmp_path: Path) -> None:
    _seed(archive, url, tmp_path)
    seeded = _workers_items(url)
    _slow_pages(archive)
    first = _start(archive, url, tmp_path, 1, "sync", "--recheck-all", "--json", str(tmp_path / "one.json"))
    _wait_for(lambda: _queue_built(url))
    second = _start(archive, url, tmp_path, 2, "sync", "--recheck-all", "--json", str(tmp_path / "two.json"))
    (code1, out1), (code2, out2) = _done(first), _done(second)
    assert (code1, code2) == (0, 0), out1 + out2
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert one["run_id"] == two["run_id"]  # the second sync joined the run, it did not start one
    _check_run(archive, url, one)
    assert two["counts"] == one["counts"]
    done = [n for worker, n in _workers_items(url).items() if worker not in seeded and n]
    assert len(done) == 2 and sum(done) == len(DOCUMENT_IDS) + 1, done  # both worked: 20 records, 1 new slug


@pytest.mark.slow
def test_a_second_sync_during_discovery_waits_then_works_the_queue(
        archive: TestArchive, url: str, tmp_path: Path) -> None:
    _seed(archive, url, tmp_path)
    _slow_pages(archive)
    _slow_listing(archive, 1.5)  # discovery takes a while: the second sync arrives during it
    first = _start(archive, url, tmp_path, 1, "sync", "--recheck-all", "--json", str(tmp_path / "one.json"))

    def discovering() -> bool:
        with open_store(url) as store:
            return Runs(store).lease_holder(DISCOVERY) is not None
    _wait_for(discovering)
    second = _start(archive, url, tmp_path, 2, "sync", "--recheck-all", "--json", str(tmp_path / "two.json"))
    (code1, out1), (code2, out2) = _done(first), _done(second)
    assert (code1, code2) == (0, 0), out1 + out2
    assert f"pid {first.pid}, working the queue instead" in out2  # the one line, naming the holder
    _check_run(archive, url, json.loads((tmp_path / "one.json").read_text()))


@pytest.mark.slow
def test_a_work_process_helps_a_sync(archive: TestArchive, url: str, tmp_path: Path) -> None:
    _seed(archive, url, tmp_path)
    _slow_pages(archive)
    syncing = _start(archive, url, tmp_path, 1, "sync", "--recheck-all", "--json", str(tmp_path / "one.json"))
    _wait_for(lambda: _queue_built(url))
    worker = _start(archive, url, tmp_path, 2, "work", "--until-empty")
    (code1, out1), (code2, out2) = _done(syncing), _done(worker)
    assert (code1, code2) == (0, 0), out1 + out2
    report = json.loads((tmp_path / "one.json").read_text())
    assert f"helped sync run {report['run_id']}: " in out2
    _check_run(archive, url, report)


def _kill_during_discovery(archive: TestArchive, url: str, tmp_path: Path) -> tuple[int, str]:
    """A sync SIGKILLed while it walks the listing; its lease row then says another host, so only
    the lease's expiry (2 s) frees it. Returns the killed pid and its run."""
    _slow_listing(archive, 30)
    proc = _start(archive, url, tmp_path, 1, "sync", WCDA_QUEUE__COORDINATOR_LEASE_SECONDS="2")

    def listing_asked() -> bool:
        return any(s.path.startswith("/search") for s in archive.seen)
    _wait_for(listing_asked)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaped, its pipes closed
    with open_store(url) as store:
        holder = Runs(store).lease_holder(DISCOVERY)
        assert holder is not None and holder.owner_pid == proc.pid  # left behind by the kill
        _elsewhere(store)
        run = Runs(store).unfinished()
        assert run is not None
    _slow_listing(archive, 0)
    return proc.pid, run.run_id


def _elsewhere(store: CatalogStore) -> None:
    row = Runs(store).lease_holder(DISCOVERY)
    assert row is not None
    store.lock_release(DISCOVERY, row.token)
    taken = store.lease_take(DISCOVERY, dataclasses.replace(row, owner_host="another-machine"))
    assert taken is not None and taken.owner_host == "another-machine"


@pytest.mark.slow
def test_an_expired_discovery_lease_of_a_killed_holder_is_taken_over(
        archive: TestArchive, url: str, tmp_path: Path) -> None:
    killed, run_id = _kill_during_discovery(archive, url, tmp_path)
    settings = make_settings(archive.base_url, tmp_path)
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(update={"database": url})})
    said: list[str] = []
    began = time.monotonic()
    with open_store(url) as store:
        result = run_sync(settings=settings, store=store, notice=said.append)
        assert Runs(store).lease_holder(DISCOVERY) is None
        assert isinstance(Runs(store).lease_take(DISCOVERY, holder="next", ttl=5), Lease)  # free again
    assert said == [f"discovery is being done by another-machine pid {killed}, working the queue instead"]
    assert time.monotonic() - began < 30  # taken once its 2 s ran out, not after the listing's delay
    assert result.status == "finished" and result.run_id == run_id  # the killed run, taken over and finished
    assert result.report["counts"]["new"] == len(DOCUMENT_IDS)


@pytest.mark.slow
def test_an_idle_work_process_helps_a_sync_that_starts_later(archive: TestArchive, url: str, tmp_path: Path) -> None:
    """`work` without --until-empty, waiting for items, picks up a sync run's queue when one appears."""
    from catalog.quality import catalog_coverage
    from harvester import work

    settings = make_settings(archive.base_url, tmp_path)
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(update={"database": url})})
    with open_store(url) as store:
        assert run_sync(settings=settings, store=store).status == "finished"
    archive.server.seen.clear()
    result: list[HarvestSummary] = []

    def worker() -> None:
        with open_store(url) as store:
            result.append(work.work(settings=settings, store=store, processes=False,
                                    budget=work.Budget(until_empty=False, max_minutes=0.08, poll_seconds=0.2)))

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(1.0)  # the worker is waiting for items of its own queue by now
    keys = [str(i) for i in DOCUMENT_IDS[:5]]
    with open_store(url) as store:  # a sync's run as discovery leaves it: robots, baseline, the queue built
        runs = Runs(store)
        run_id = runs.create({"full": False, "recheck_all": True})
        with store.unit_of_work():
            runs.set_fields(run_id, robots=archive.robots, baseline=catalog_coverage(store), phase="revalidate",
                            checkpoint={"robots_done": True, "discover_done": True, "queue_built": True})
            store.work_add(sync_batch(run_id), "revalidate", keys)
    thread.join(timeout=60)
    summary = result[0]
    assert summary.synced == [(run_id, 5)]
    with open_store(url) as store:
        info = Runs(store).get(run_id)
        assert info is not None and info.status == "finished"  # the helper drained the queue: it ended the run
        assert Runs(store).counts(run_id).outcomes == {"not_modified": 5}  # conditional GETs, as a sync asks
    slugs = Counter(s.path for s in archive.seen)
    assert [slugs[f"/document/{archive.docs[int(k)].slug}"] for k in keys] == [1] * 5
