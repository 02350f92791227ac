"""A hostile archive against the sync (the mutable test archive on loopback).

- A newly listed page with another slug whose Record ID block reads an ID already in the
  catalog (in ASCII or Arabic-Indic digits) never replaces that record: a conflict is
  recorded, the page stays in the WARC, the report and `list --problems` show it.
  A real rename (the archive redirects /document/<ID> to the new slug) is still followed.
- Poison listing entries (Record ID `²`, thirty nines, `0`) become failed items with their
  reason; the run finishes, no traceback, nothing stays "running", the next sync works.
- Crawl-delay 3600 never sleeps past --max-minutes; Crawl-delay over sync.max_crawl_delay
  stops the run with a message.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

from click.testing import CliRunner

from catalog.runs import Runs
from catalog.store import SQLiteStore
from harvester.cli import cli
from harvester.site.listing import listing_url
from harvester.sync import run_sync
from harvester.warc import WarcIndex
from tests.support.test_archive import TestArchive
from tests.sync.conftest import make_settings

LISTING_0 = listing_url("", 0)  # the first listing page as the sync asks for it (sort order explicit)

IDS = [175798, 300237, 300238, 300239]
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _hashes(store: SQLiteStore) -> dict[int, str]:
    hashes = {}
    for rid in IDS:
        stored = store.get(rid)
        assert stored is not None
        hashes[rid] = stored.content_hash
    return hashes


def _claim(site: TestArchive, source: int, as_id: int, shown: str) -> str:
    """Publish a new page (a copy of `source` under a new slug) whose Record ID block reads `shown`."""
    doc = site.add(source, as_id=as_id)
    doc.body = re.sub(rb"(Record ID</h3>\s*<[^>]*>\s*)\d+", lambda m: m.group(1) + shown.encode(), doc.body, count=1)
    return doc.slug


def test_a_page_claiming_a_stored_record_id_never_overwrites_it(tmp_path: Path) -> None:
    with TestArchive(IDS, page_size=10) as site:
        settings = make_settings(site.base_url, tmp_path)
        with SQLiteStore(settings.storage.database) as store:
            assert run_sync(settings=settings, store=store).status == "finished"
            before = _hashes(store)
            hostile = _claim(site, 300238, 900001, "175798")
            arabic = _claim(site, 300239, 900002, "300237".translate(ARABIC_INDIC))
            result = run_sync(settings=settings, store=store)
            after = _hashes(store)
            events = [dataclasses.asdict(e) for e in store.events_with_outcome("conflict")]
            assert 900001 not in store.record_ids() and 900002 not in store.record_ids()
        config = tmp_path / "config.toml"
        config.write_text(f'[storage]\ndatabase = "{settings.storage.database}"\n')
        listing = CliRunner().invoke(cli, ["--config", str(config), "list", "--problems"])
    assert after == before  # neither record was touched
    report = result.report
    assert result.status == "finished" and result.exit_code == 1
    assert report["counts"]["conflict"] == 1
    conflict = next(f for f in report["failures"] if f["outcome"] == "conflict")
    assert conflict["key"] == hostile and conflict["record_id"] == 175798
    assert "claims Record ID 175798" in conflict["reason"] and "175798" in conflict["reason"]
    assert "kept in sync-" in conflict["reason"]
    poison = next(f for f in report["failures"] if f["key"] == arabic)
    assert poison["outcome"] == "failed" and "not a plain number" in poison["reason"]
    assert [e["record_id"] for e in events] == [175798]
    # The conflicting page is in the WARC, and `list --problems` shows the conflict.
    index = WarcIndex(tmp_path / "warc")
    assert f"{site.base_url}/document/{hostile}" in index
    assert listing.exit_code == 0
    assert f"conflict: Record ID conflict: {site.base_url}/document/{hostile}" in listing.output


def test_a_real_rename_is_recognised_by_the_archive_redirect(tmp_path: Path) -> None:
    with TestArchive(IDS, page_size=10) as site:
        settings = make_settings(site.base_url, tmp_path)
        with SQLiteStore(settings.storage.database) as store:
            run_sync(settings=settings, store=store)
            site.rename(300237, "a-renamed-slug")  # /document/300237 now redirects to the new slug
            result = run_sync(settings=settings, store=store)
            renamed = store.get(300237)
            assert renamed is not None and renamed.record.slug == "a-renamed-slug"
    assert result.report["counts"]["conflict"] == 0 and result.exit_code == 0


def test_poison_listing_entries_become_failed_items(tmp_path: Path) -> None:
    with TestArchive(IDS, page_size=10) as site:
        poison = {_claim(site, 300238, 900011, "²"): "not a plain number",
                  _claim(site, 300239, 900012, "9" * 30): "not a plain number",
                  _claim(site, 300240, 900013, "0"): "not a plain number"}
        settings = make_settings(site.base_url, tmp_path)
        with SQLiteStore(settings.storage.database) as store:
            result = run_sync(settings=settings, store=store)
            assert sorted(store.record_ids()) == sorted(IDS)
            assert Runs(store).unfinished() is None  # nothing left "running"
            again = run_sync(settings=settings, store=store)
            assert not again.resumed
    assert result.status == "finished" and result.exit_code == 1
    failures = {f["key"]: f for f in result.report["failures"]}
    for slug, reason in poison.items():
        assert failures[slug]["outcome"] == "failed" and reason in failures[slug]["reason"]
    assert result.report["counts"]["new"] == len(IDS)


def test_crawl_delay_never_sleeps_past_the_time_budget(tmp_path: Path) -> None:
    with TestArchive(IDS, page_size=10, robots="User-agent: *\nCrawl-delay: 3600\n") as site:
        settings = make_settings(site.base_url, tmp_path, max_minutes=0.05, max_crawl_delay=100000.0)
        started = time.monotonic()
        with SQLiteStore(settings.storage.database) as store:
            result = run_sync(settings=settings, store=store)
        took = time.monotonic() - started
        seen = site.paths()
    assert result.status == "budget" and "time budget" in result.report["stop_reason"]
    # The listing went out at once (its slot was taken before robots.txt was read); the next
    # request would start an hour later, after the budget: it never does, and nobody sleeps.
    assert seen == ["/robots.txt", LISTING_0]
    assert took < 15  # 3 s budget (a hang detector, not a speed target)


def test_crawl_delay_over_the_maximum_stops_the_run(tmp_path: Path) -> None:
    with TestArchive(IDS, page_size=10, robots="User-agent: *\nCrawl-delay: 100000\n") as site:
        settings = make_settings(site.base_url, tmp_path)  # sync.max_crawl_delay 60 s by default
        with SQLiteStore(settings.storage.database) as store:
            result = run_sync(settings=settings, store=store)
        seen = site.paths()
    assert result.status == "failed" and result.exit_code == 2
    assert "Crawl-delay 100000 s, over sync.max_crawl_delay (60 s)" in result.report["stop_reason"]
    assert seen == ["/robots.txt"]
