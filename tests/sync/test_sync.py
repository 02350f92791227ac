"""The sync against the loopback test archive: discovery, revalidation, tombstones, politeness, lock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from catalog.runs import DISCOVERY, Lease, Runs
from catalog.store import SQLiteStore, to_db_time, utcnow
from harvester.config import Settings
from harvester.sync import SyncResult, run_sync
from tests.support.archive_server import Answer
from tests.support.test_archive import DOCUMENT_IDS, TestArchive, listing_path
from tests.sync.conftest import make_settings

Sync = Callable[..., SyncResult]


def _listing_paths(paths: list[str]) -> list[str]:
    return [p for p in paths if p.startswith("/search")]


def test_first_sync_discovers_every_document(archive: TestArchive, settings: Settings, sync_once: Sync) -> None:
    result = sync_once()
    assert result.status == "finished" and result.exit_code == 0
    assert result.report["counts"]["new"] == len(DOCUMENT_IDS)
    with SQLiteStore(settings.storage.database) as store:
        assert sorted(store.record_ids()) == sorted(DOCUMENT_IDS)
        # Catalogued under the Record ID read from the page, with the canonical slug URL.
        record = store.get(175798).record
        assert record.slug == "cable-no-4785-filippov-stalin-and-zhou-enlai-soviet-ambassador-peking"
    # Every document page was fetched by its slug, once; the WARC kept every exchange.
    doc_paths = [p for p in archive.paths() if p.startswith("/document/")]
    assert len(doc_paths) == len(set(doc_paths)) == len(DOCUMENT_IDS)
    assert list((Path(settings.storage.warc_dir)).glob("sync-*.warc.gz"))


def test_discovery_stops_after_known_pages_and_skips_known_slugs(archive: TestArchive, tmp_path: Path) -> None:
    settings = make_settings(archive.base_url, tmp_path, stop_after_known_pages=2)
    with SQLiteStore(settings.storage.database) as store:
        run_sync(settings=settings, store=store)
        archive.add(300641, as_id=400001)
        archive.add(300640, as_id=400002)
        before = len(archive.seen)
        result = run_sync(settings=settings, store=store)
    paths = archive.paths(before)
    # Page 0 holds the 2 new documents; pages 1 and 2 bring nothing new: stop there.
    assert _listing_paths(paths) == [listing_path(0), listing_path(1), listing_path(2)]
    assert result.report["counts"]["new"] == 2
    discovered = [p for p in paths if p.startswith("/document/") and "400001" in p or "400002" in p]
    assert len(discovered) == 2


def test_full_walks_every_page(archive: TestArchive, tmp_path: Path) -> None:
    settings = make_settings(archive.base_url, tmp_path, stop_after_known_pages=1)
    with SQLiteStore(settings.storage.database) as store:
        run_sync(settings=settings, store=store)
        before = len(archive.seen)
        run_sync(settings=settings, store=store, full=True)
    assert _listing_paths(archive.paths(before)) == [listing_path(n) for n in range(4)]


def test_304_same_hash_and_change(archive: TestArchive, settings: Settings, sync_once: Sync) -> None:
    sync_once()
    with SQLiteStore(settings.storage.database) as store:
        before = {s.record.record_id: s for s in store.iter_records()}
    archive.touch(300640)  # new bytes, same content
    archive.change(300641)  # a real change
    mark = len(archive.seen)
    result = sync_once(recheck_all=True)
    counts = result.report["counts"]
    assert (counts["not_modified"], counts["unchanged"], counts["changed"]) == (len(DOCUMENT_IDS) - 2, 1, 1)
    assert counts["unchanged_total"] == len(DOCUMENT_IDS) - 1
    # Conditional requests carried the stored validators.
    revalidations = [s for s in archive.seen[mark:] if s.path.startswith("/document/")]
    assert all("if-none-match" in s.headers and "if-modified-since" in s.headers for s in revalidations)
    with SQLiteStore(settings.storage.database) as store:
        after = {s.record.record_id: s for s in store.iter_records()}
    assert after[300641].last_changed > before[300641].last_changed
    assert "(revised)" in after[300641].record.title
    # Which fields changed is said in the run's item and the record's history (`report --records`).
    with SQLiteStore(settings.storage.database) as store:
        changed = [i for i in Runs(store).items(result.run_id) if i.outcome == "changed"]
        events = [e for e in store.events(300641) if e.outcome == "changed"]
    assert [(i.record_id, i.detail) for i in changed] == [(300641, "fields changed: title")]
    assert events and events[-1].detail.startswith("fields changed: title")
    for rid in (300640, 175798):  # same hash / 304: checked, not changed
        assert after[rid].last_changed == before[rid].last_changed
        assert after[rid].last_checked > before[rid].last_checked
        assert after[rid].content_hash == before[rid].content_hash


def test_tombstone_after_n_consecutive_misses_then_restore(archive: TestArchive, tmp_path: Path) -> None:
    settings = make_settings(archive.base_url, tmp_path, tombstone_after=3)
    outcomes = []
    with SQLiteStore(settings.storage.database) as store:
        run_sync(settings=settings, store=store)
        archive.delete(300653, status=410)
        archive.delete(300641, status=404)
        for night in range(3):
            if night == 1:
                archive.restore(300641)  # back for one night: its count starts again
            if night == 2:
                archive.delete(300641)
            # Night 0 checks everything; after that, records with a pending 404 are due every night.
            result = run_sync(settings=settings, store=store, recheck_all=night == 0)
            outcomes.append((night, store.get(300653).deleted, store.get(300641).deleted))
        assert outcomes == [(0, False, False), (1, False, False), (2, True, False)]
        assert result.report["counts"]["tombstoned"] == 1
        tomb = store.get(300653)
        assert tomb.record.title  # the last metadata is kept
        assert store.count() == len(DOCUMENT_IDS) - 1 and store.count(include_deleted=True) == len(DOCUMENT_IDS)
        # The page comes back: the tombstone is asked without validators and restored.
        archive.restore(300653)
        mark = len(archive.seen)
        result = run_sync(settings=settings, store=store, recheck_all=True)
        asked = [s for s in archive.seen[mark:] if "chancellors" not in s.path and s.path.startswith("/document/")
                 and "nehru" in s.path]
        assert asked and "if-none-match" not in asked[0].headers
        assert result.report["counts"]["restored"] == 1
        assert not store.get(300653).deleted


def test_errors_and_missing_listing_never_delete(archive: TestArchive, tmp_path: Path) -> None:
    settings = make_settings(archive.base_url, tmp_path, tombstone_after=1)
    # Two attempts (max_retries 1) wait out the timeout on the slow page. A spurious timeout of
    # another page on a busy machine changes nothing below: no error may delete or count a miss.
    settings.http.read_timeout = 0.3
    with SQLiteStore(settings.storage.database) as store:
        run_sync(settings=settings, store=store)
        slug = store.get(300641).record.slug
        archive.server.route(listing_path(0), Answer(503, b"down"))
        archive.server.route(f"/document/{slug}", Answer(500, b"oops"))
        archive.server.route(f"/document/{store.get(300640).record.slug}", Answer(200, b"slow", delay=1.0))
        result = run_sync(settings=settings, store=store, recheck_all=True)
        assert result.exit_code == 1
        reasons = " ".join(f["reason"] for f in result.report["failures"])
        assert "search listing page 0" in reasons and "HTTP 500" in reasons and "timeout" in reasons
        assert store.count() == len(DOCUMENT_IDS)  # nothing deleted, nothing counted as missing
        row = store.connection.execute("SELECT max(missing_count) FROM record").fetchone()
        assert row[0] == 0


def test_renamed_slug_is_followed_not_deleted(archive: TestArchive, tmp_path: Path) -> None:
    settings = make_settings(archive.base_url, tmp_path, tombstone_after=1)
    with SQLiteStore(settings.storage.database) as store:
        run_sync(settings=settings, store=store)
        archive.rename(999001, "a-brand-new-slug")
        result = run_sync(settings=settings, store=store, recheck_all=True)
        assert not store.get(999001).deleted
        assert store.get(999001).record.slug == "a-brand-new-slug"
        assert result.report["counts"]["tombstoned"] == 0


def test_robots_disallow_and_crawl_delay(tmp_path: Path) -> None:
    ids = [300641, 300640, 300639]
    with TestArchive(ids, robots="User-agent: *\nCrawl-delay: 0.25\nDisallow: /document/asian-affairs\n") as site:
        settings = make_settings(site.base_url, tmp_path)
        with SQLiteStore(settings.storage.database) as store:
            result = run_sync(settings=settings, store=store)
            assert sorted(store.record_ids()) == [300639, 300641]
        assert result.report["counts"]["disallowed"] == 1
        assert not any(p.startswith("/document/asian-affairs") for p in site.paths())
        times = [s.at for s in site.seen][1:]  # after robots.txt was read
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        # Arrival times are taken on the server, where a busy machine delays one request's handling
        # and so shortens the next gap: the span (jitter only at its two ends) must show the delay,
        # each gap only that there was one (with no Crawl-delay the gaps are ~1 ms at 1000 requests/s).
        assert gaps and (times[-1] - times[0]) / len(gaps) >= 0.22 and min(gaps) >= 0.1


def test_request_budget_ends_the_run_and_next_run_goes_on(archive: TestArchive, tmp_path: Path) -> None:
    settings = make_settings(archive.base_url, tmp_path, max_requests=6)
    with SQLiteStore(settings.storage.database) as store:
        result = run_sync(settings=settings, store=store)
        assert result.status == "budget" and result.exit_code == 0
        assert "request budget" in result.report["stop_reason"]
        assert len(archive.seen) <= 6
        assert store.count() == 4  # robots + listing + 4 documents
        result = run_sync(settings=settings, store=store)  # the next night picks up
        assert store.count() > 4


def test_time_budget(archive: TestArchive, tmp_path: Path) -> None:
    archive.server.route(listing_path(0), Answer(200, archive.listing_page(0), delay=0.3))
    settings = make_settings(archive.base_url, tmp_path, max_minutes=0.004)  # 0.24 s
    with SQLiteStore(settings.storage.database) as store:
        result = run_sync(settings=settings, store=store)
    assert result.status == "budget" and "time budget" in result.report["stop_reason"]
    assert len(archive.seen) == 2  # robots.txt and the slow listing page, then nothing


def test_second_sync_does_not_discover_while_another_holds_the_discovery_lease(
        archive: TestArchive, tmp_path: Path) -> None:
    settings = make_settings(archive.base_url, tmp_path, max_minutes=0.01)  # 0.6 s of waiting
    said: list[str] = []
    with SQLiteStore(settings.storage.database) as store:
        held = Runs(store).lease_take(DISCOVERY, holder="elsewhere-worker", ttl=300)  # a live holder (this pid)
        assert isinstance(held, Lease)
        result = run_sync(settings=settings, store=store, notice=said.append)
        assert Runs(store).lease_holder(DISCOVERY).token == "elsewhere-worker"  # not taken from a live holder
    assert result.status == "budget" and "another sync walked the listing" in result.report["stop_reason"]
    assert said == [f"discovery is being done by {os.uname().nodename} pid {os.getpid()}, "
                    "working the queue instead"]
    assert archive.seen == []  # no listing walked, no robots.txt: discovery is the holder's


def test_discovery_lease_of_a_dead_process_is_taken_over(archive: TestArchive, settings: Settings) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with SQLiteStore(settings.storage.database) as store:
        store.connection.execute(
            "INSERT INTO sync_lock VALUES ('discovery', 't', 'old', ?, ?, ?, ?, ?)",
            (dead.pid, os.uname().nodename, to_db_time(utcnow()), to_db_time(utcnow()),
             to_db_time(utcnow() + timedelta(hours=1))))
        assert run_sync(settings=settings, store=store).status == "finished"
        assert Runs(store).lease_holder(DISCOVERY) is None  # released at the end


def test_expired_discovery_lease_from_another_host_is_taken_over(archive: TestArchive, settings: Settings) -> None:
    with SQLiteStore(settings.storage.database) as store:
        old = to_db_time(utcnow() - timedelta(hours=2))
        store.connection.execute("INSERT INTO sync_lock VALUES ('discovery', 't', 'x', 1, 'elsewhere', ?, ?, ?)",
                                 (old, old, old))
        assert run_sync(settings=settings, store=store).status == "finished"


def test_quality_alarm_on_markup_change(archive: TestArchive, settings: Settings, sync_once: Sync) -> None:
    first = sync_once()
    assert first.report["quality"]["alarms"] == []
    archive.restyle(b'class="text-block"', b'class="text-body"')  # the summary's class renamed
    result = sync_once(recheck_all=True)
    assert result.exit_code == 1
    assert any("'summary'" in a for a in result.report["quality"]["alarms"])
    fields = result.report["quality"]["fields"]
    assert fields["summary"]["run"] == 0 and fields["title"]["run"] == result.report["quality"]["parsed"]
    # The run stopped as soon as the alarm could fire (quality_min_pages = 5 parsed pages),
    # instead of thinning every record in the catalog.
    assert result.status == "quality_alarm" and result.report["quality"]["parsed"] == 5
    assert first.report["quality"]["parsed"] > 5
