"""The store contract, one suite over both backends (SQLite file, PostgreSQL cluster)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from catalog.errors import StoreError
from catalog.index import derive
from catalog.model import CatalogRecord
from catalog.quality import FIELDS, catalog_coverage
from catalog.runs import DISCOVERY, Lease, LockLost, Runs
from catalog.store import CatalogStore, SearchQuery, open_store, to_db_time, utcnow
from catalog.store.api import LockRow
from tests.oai.catalog_builder import make_record

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
UNTIL = "9999-12-31T23:59:59.999999Z"


def rec(i: int, **changes: object) -> CatalogRecord:
    record = make_record(i)
    return record.model_copy(update=changes) if changes else record


def fill(store: CatalogStore, n: int = 30) -> list[CatalogRecord]:
    records = [rec(i) for i in range(1, n + 1)]
    with store.unit_of_work():
        for i, r in enumerate(records):
            store.upsert(r, now=T0 + timedelta(seconds=i))
    return records


# -- records -------------------------------------------------------------------------------
def test_upsert_outcomes_and_timestamps(store: CatalogStore) -> None:
    r = rec(1)
    assert store.upsert(r, now=T0) == "new"
    assert store.upsert(r, now=T0 + timedelta(hours=1)) == "unchanged"
    got = store.get(r.record_id)
    assert got is not None and got.record == r and got.last_changed == T0
    assert got.last_checked == T0 + timedelta(hours=1)
    changed = r.model_copy(update={"title": "Another title"})
    assert store.upsert(changed, now=T0 + timedelta(hours=2)) == "changed"
    assert store.tombstone(r.record_id, now=T0 + timedelta(hours=3)) is True
    assert store.tombstone(r.record_id) is False
    assert store.count() == 0 and store.count(include_deleted=True) == 1 and store.count_deleted() == 1
    assert store.upsert(changed, now=T0 + timedelta(hours=4)) == "restored"
    got = store.get(r.record_id)
    assert got is not None and not got.deleted and got.record.title == "Another title"
    assert got.first_seen == T0 and got.last_changed == T0 + timedelta(hours=4)
    assert store.get(999_999_999) is None


def test_streams_and_bookkeeping(store: CatalogStore) -> None:
    records = fill(store, 12)
    ids = sorted(r.record_id for r in records)
    assert store.record_ids() == ids
    assert [s.record.record_id for s in store.iter_records(batch_size=5)] == ids
    assert [r.record_id for r in store.iter_raw(ids=[ids[3], 1, ids[0]])] == [ids[3], ids[0]]
    brief = next(store.iter_raw(ids=[ids[0]], brief=True))
    assert brief.brief and '"text":""' in brief.json or not records[0].texts
    since = [s.record.record_id for s in store.iter_records(changed_since=T0 + timedelta(seconds=10))]
    assert since == ids[10:]
    store.tombstone(ids[0])
    assert store.record_ids(include_deleted=False) == ids[1:]
    state = store.state(ids[1])
    assert state is not None and state.missing_count == 0 and not state.deleted and state.url.endswith(str(ids[1]))
    assert store.mark_missing(ids[1]) == 1 and store.mark_missing(ids[1]) == 2
    store.mark_checked(ids[1], found=True)
    assert store.state(ids[1]).missing_count == 0  # type: ignore[union-attr]
    assert store.has_slug(records[2].slug or "") and store.has_slug(str(ids[2])) and not store.has_slug("nope")
    assert store.due_count(T0 + timedelta(days=1)) == 11  # all but ids[1], checked just now
    first = store.states()[0]
    assert first.record_id == ids[0] or first.record_id == ids[1]
    assert store.validators(ids[2]) == (records[2].provenance.etag, records[2].provenance.last_modified)
    assert store.earliest_change() == to_db_time(T0 + timedelta(seconds=1))  # ids[0]'s tombstone moved it


def test_list_rows_slugs_conflict_events_and_set_selection(store: CatalogStore) -> None:
    records = fill(store, 12)
    ids = sorted(r.record_id for r in records)
    by_id = {r.record_id: r for r in records}
    problem = by_id[ids[4]].model_copy(update={"problems": ["no date on the page"]})
    store.upsert(problem)
    store.tombstone(ids[0])
    rows = list(store.list_rows(batch_size=5))  # several batches
    assert [row.record_id for row in rows] == ids
    assert rows[0].deleted and not any(row.deleted for row in rows[1:])
    assert rows[4].fields == [problem.title, problem.date.normalized, ["no date on the page"]]
    assert rows[1].fields == [by_id[ids[1]].title, by_id[ids[1]].date.normalized, []]
    # A damaged row is listed as unreadable, and the rest still are (the backend's own statement).
    store._exec("UPDATE record SET brief = ? WHERE record_id = ?", ("{not json", ids[2]))  # type: ignore[attr-defined]
    rows = list(store.list_rows())
    assert rows[2].fields is None and [r.record_id for r in rows] == ids and rows[3].fields is not None

    assert store.slug_of(ids[3]) == by_id[ids[3]].slug and store.slug_of(999_999_999) is None
    # Only ASCII digits name a Record ID ("١٢٣" and "²" pass str.isdigit()).
    arabic = str(ids[3]).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert store.has_slug(str(ids[3])) and not store.has_slug(arabic) and not store.has_slug("²")

    store.log_event(ids[3], "conflict", "page X claims it", run_id="r1")
    store.log_event(ids[3], "unchanged")
    store.log_event(ids[5], "conflict", "page Y claims it")
    conflicts = store.events_with_outcome("conflict")
    assert [(e.record_id, e.detail, e.run_id) for e in conflicts] == [(ids[3], "page X claims it", "r1"),
                                                                      (ids[5], "page Y claims it", None)]

    # One OAI set (a facet key) selects records, live and deleted, as feed --set needs.
    key = next(k for k in store.facets_of([ids[0]], ("type",))[ids[0]] if ":" in k)
    members = [rid for rid in ids if key in store.facets_of([rid], ("type",))[rid]]
    assert store.record_ids(facet=key) == members
    assert store.record_ids(include_deleted=False, facet=key) == members[1:]
    assert store.count_deleted(facet=key) == 1 and store.count_deleted(facet="type:no-such-type") == 0
    assert store.earliest_change(include_deleted=False, facet="type:no-such-type") is None
    assert store.earliest_change(include_deleted=False, facet=key) is not None


def test_unit_of_work_commits_all_or_nothing(store: CatalogStore) -> None:
    r = rec(5)
    with pytest.raises(RuntimeError), store.unit_of_work():
        store.upsert(r, now=T0)
        store.log_event(r.record_id, "new", run_id="x")
        raise RuntimeError("killed between the writes")
    assert store.get(r.record_id) is None and store.events(r.record_id) == []
    assert store.facets_of([r.record_id], ("type",)) == {r.record_id: []}
    assert store.search(SearchQuery("Memorandum")).total == 0
    with store.unit_of_work():
        store.upsert(r, now=T0)
        store.log_event(r.record_id, "new", "fine", run_id="x")
    (event,) = store.events(r.record_id)
    assert (event.record_id, event.outcome, event.detail, event.run_id) == (r.record_id, "new", "fine", "x")
    assert store.events()[-1] == event


def test_a_reader_never_sees_half_a_unit_of_work(store: CatalogStore) -> None:
    r = rec(6)
    seen: list[tuple[bool, int]] = []
    inside, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.unit_of_work():
            store.upsert(r, now=T0)
            inside.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    inside.wait(10)
    other = open_store(store.url, mode="read")
    try:
        seen.append((other.get(r.record_id) is not None, len(other.facets_of([r.record_id], ("type",))[r.record_id])))
        release.set()
        t.join()
        seen.append((other.get(r.record_id) is not None, len(other.facets_of([r.record_id], ("type",))[r.record_id])))
    finally:
        other.close()
    assert seen[0] == (False, 0) and seen[1][0] and seen[1][1] > 0


# -- derived indexes and OAI pages ---------------------------------------------------------------
def test_facets_are_written_with_the_record_and_follow_changes(store: CatalogStore) -> None:
    r = rec(3, types=["Cable"], subjects=["Korean War, 1950-1953"], places=["Korea"])
    store.upsert(r, now=T0)
    keys = {f.key for f in derive(r).facets}
    fams = ("type", "language", "archive", "subject", "place", "person", "donor", "year", "decade", "has_text",
            "has_scan")
    assert set(store.facets_of([r.record_id], fams)[r.record_id]) == keys
    assert {"type", "type:cable", "subject:korean-war-1950-1953", "place:korea"} <= keys
    store.upsert(r.model_copy(update={"types": ["Letter"]}), now=T0 + timedelta(seconds=5))
    assert store.facets_of([r.record_id], ("type",))[r.record_id] == ["type", "type:letter"]
    assert store.oai_count("type:cable", None, UNTIL) == 0
    assert [v.key for v in store.facet_page(("type",), None, 10)] == ["type", "type:letter"]
    assert store.count_facets(("type",)) == 2


def test_set_pages_are_keyset_pages_in_datestamp_order(store: CatalogStore) -> None:
    records = fill(store, 40)
    cables = [r.record_id for r in records if "type:cable" in {f.key for f in derive(r).facets}]
    assert cables, "the builder makes some cables"
    got: list[int] = []
    after = None
    while True:
        page = store.oai_page("type:cable", None, UNTIL, after, 3, with_body=True)
        if not page:
            break
        assert all(row.body for row in page)
        got += [row.record_id for row in page]
        after = (page[-1].last_changed, page[-1].record_id)
    assert got == cables  # fill() writes them in datestamp order
    assert store.oai_count("type:cable", None, UNTIL) == len(cables)
    assert store.oai_count(None, None, UNTIL) == 40
    window = store.oai_page(None, to_db_time(T0 + timedelta(seconds=5)), to_db_time(T0 + timedelta(seconds=9)), None,
                            100, with_body=False)
    assert [r.record_id for r in window] == [r.record_id for r in records[5:10]]
    assert all(r.body is None for r in window)
    # a tombstone moves the datestamp of its set rows too: a set harvest sees the deletion
    store.tombstone(cables[0], now=T0 + timedelta(days=1))
    last = store.oai_page("type:cable", to_db_time(T0 + timedelta(hours=1)), UNTIL, None, 10, with_body=False)
    assert [(r.record_id, r.deleted) for r in last] == [(cables[0], True)]
    row = store.oai_row(cables[0])
    assert row is not None and row.deleted and row.last_changed == to_db_time(T0 + timedelta(days=1))


def test_search_text_facets_and_counts(store: CatalogStore) -> None:
    records = fill(store, 20)
    special = rec(99, title="Conversation about the Korean armistice", summary="Panmunjom talks",
                  places=["Korea"], types=["Memorandum"])
    store.upsert(special, now=T0)
    found = store.search(SearchQuery("Panmunjom"))
    assert found.total == 1 and found.record_ids == [special.record_id]
    assert store.search(SearchQuery("korean armistice")).record_ids == [special.record_id]
    assert store.search(SearchQuery("armistice Nonexistentword")).total == 0
    assert store.search(SearchQuery('"); DROP TABLE record; --')).total == 0  # words only, never syntax
    everything = store.search(SearchQuery("", limit=5))
    assert everything.total == 21 and len(everything.record_ids) == 5
    assert everything.record_ids == sorted(everything.record_ids)
    assert store.search(SearchQuery("", limit=5, offset=20)).record_ids == [max(store.record_ids())]
    types = {c.key: c.count for c in everything.facets["type"]}
    expected: dict[str, int] = {}
    for r in [*records, special]:
        for f in derive(r).facets:
            if f.family == "type" and f.value:
                expected[f.key] = expected.get(f.key, 0) + 1
    assert types == expected and "type:memorandum" in types
    narrowed = store.search(SearchQuery("", facets=("place:korea", "type:memorandum")))
    assert narrowed.record_ids == [special.record_id]
    assert {c.key for c in narrowed.facets["place"]} == {"place:korea"}
    store.tombstone(special.record_id)
    assert store.search(SearchQuery("Panmunjom")).total == 0  # the search shows live records only


def test_reindex_rebuilds_the_same_indexes(store: CatalogStore) -> None:
    records = fill(store, 10)
    ids = [r.record_id for r in records]
    fams = ("type", "language", "archive", "subject", "year")
    before = store.facets_of(ids, fams), store.search(SearchQuery("Memorandum")).record_ids
    assert store.reindex() == 10
    assert (store.facets_of(ids, fams), store.search(SearchQuery("Memorandum")).record_ids) == before


def test_coverage_counts_present_fields(store: CatalogStore) -> None:
    records = fill(store, 10)
    cov = catalog_coverage(store)
    assert cov["records"] == 10
    assert cov["fields"]["title"] == 10
    assert cov["fields"]["texts"] == sum(1 for r in records if r.texts)
    assert cov["fields"]["summary"] == sum(1 for r in records if r.summary)
    assert set(cov["fields"]) == set(FIELDS)


def test_meta_is_set_once(store: CatalogStore) -> None:
    first = store.meta("token_key", "a")
    assert store.meta("token_key", "b") == first


# -- sync runs -------------------------------------------------------------------------------------
def test_lease_run_items_queue(store: CatalogStore) -> None:
    runs = Runs(store)
    lease = runs.lease_take(DISCOVERY, holder="w1", ttl=60)
    assert isinstance(lease, Lease)
    run_id = runs.create({"full": False})
    runs.lease_renew(lease, run_id=run_id)
    holder = runs.lease_holder(DISCOVERY)
    assert holder is not None and holder.run_id == run_id
    assert runs.get(run_id[:12]).run_id == run_id  # type: ignore[union-attr]
    assert runs.unfinished().run_id == run_id  # type: ignore[union-attr]
    r = rec(7)
    with store.unit_of_work():  # the record and its checkpoint item together
        store.upsert(r)
        runs.add_item(run_id, "discover", "doc-7", "new", record_id=r.record_id, page=1, fields=["title"])
        runs.set_fields(run_id, checkpoint={"page": 1}, phase="discover", requests=3)
    runs.add_item(run_id, "listing", "1", "listed", detail="{}")
    runs.add_item(run_id, "revalidate", "5", "failed", detail="timeout", record_id=5)
    items = runs.items(run_id)
    assert [(i.kind, i.key, i.seq) for i in items] == [("discover", "doc-7", 1), ("listing", "1", 2),
                                                       ("revalidate", "5", 3)]
    assert items[0].fields == ["title"] and runs.items(run_id, "discover", page=1) == [items[0]]
    assert runs.item(run_id, "listing", "1") == items[1]
    assert runs.queue(run_id) is None
    runs.save_queue(run_id, [3, 1, 2], {"page": 1})
    assert runs.queue(run_id) == [3, 1, 2]
    counts = runs.counts(run_id)
    assert counts.listing_pages == 1 and counts.outcomes == {"new": 1, "failed": 1} and counts.parsed == 1
    assert counts.failures == [{"kind": "revalidate", "key": "5", "record_id": 5, "outcome": "failed",
                                "reason": "timeout"}]
    runs.begin_attempt(run_id, "a.warc.gz")
    runs.add_warc_file(run_id, "a.warc.gz")
    runs.finish(run_id, "finished", {"ok": True}, stop_reason="")
    info = runs.get(run_id)
    assert info is not None and info.status == "finished" and info.attempts == 2 and info.warc_files == ["a.warc.gz"]
    assert info.checkpoint == {"page": 1, "queue_built": True} and info.requests == 3 and info.report == {"ok": True}
    assert [i.run_id for i in runs.recent()] == [run_id] and runs.unfinished() is None
    runs.lease_release(lease)
    assert runs.lease_holder(DISCOVERY) is None
    with pytest.raises(LockLost):
        runs.lease_renew(lease)


def test_store_errors_are_one_error_type(store: CatalogStore) -> None:
    with pytest.raises(ValueError):
        store.run_update("x", status="nope")
    store.item_add("run", "listing", "1", "listed")
    with pytest.raises(StoreError):
        store.item_add("run", "listing", "1", "listed")  # the item key is the checkpoint: never twice
    assert len(store.items("run")) == 1


def test_coordinator_lease_taken_once_renewed_expired_released(store: CatalogStore) -> None:
    runs = Runs(store)
    mine = runs.lease_take(DISCOVERY, holder="w1", ttl=60)
    assert isinstance(mine, Lease)
    theirs = runs.lease_take(DISCOVERY, holder="w2", ttl=60)  # live (this pid, not expired): not taken
    assert isinstance(theirs, LockRow) and theirs.token == "w1" and theirs.owner_pid == os.getpid()
    runs.lease_renew(mine, run_id="r1")
    assert runs.lease_holder(DISCOVERY).run_id == "r1"  # type: ignore[union-attr]
    # expired (its holder stopped renewing, on any machine): the next taker gets it, the old holder loses it
    later = utcnow() + timedelta(seconds=61)
    taken = runs.lease_take(DISCOVERY, holder="w2", ttl=60, now=later)
    assert isinstance(taken, Lease) and runs.lease_holder(DISCOVERY).token == "w2"  # type: ignore[union-attr]
    with pytest.raises(LockLost):
        runs.lease_renew(mine)
    runs.lease_release(mine)  # not the holder any more: changes nothing
    assert runs.lease_holder(DISCOVERY).token == "w2"  # type: ignore[union-attr]
    runs.lease_release(taken)
    assert runs.lease_holder(DISCOVERY) is None


def test_concurrent_lease_takers_one_wins(url: str) -> None:
    """Eight takers at once (a connection each): exactly one gets the lease."""
    stores = [open_store(url) for _ in range(8)]
    try:
        barrier = threading.Barrier(len(stores))

        def take(n: int) -> bool:
            barrier.wait()
            return isinstance(Runs(stores[n]).lease_take(DISCOVERY, holder=f"w{n}", ttl=60), Lease)

        with ThreadPoolExecutor(len(stores)) as pool:
            won = list(pool.map(take, range(len(stores))))
        assert won.count(True) == 1
    finally:
        for s in stores:
            s.close()


def test_sync_items_of_one_run_numbered_once_by_concurrent_workers(url: str) -> None:
    """Workers of one sync add items at once: every item gets its own number (no max(seq)+1 race)."""
    stores = [open_store(url) for _ in range(4)]
    try:
        run_id = Runs(stores[0]).create({})
        barrier = threading.Barrier(len(stores))

        def add(n: int) -> None:
            barrier.wait()
            for k in range(25):
                with stores[n].unit_of_work():
                    Runs(stores[n]).add_item(run_id, "revalidate", f"{n}-{k}", "unchanged")
                    Runs(stores[n]).add_requests(run_id, 1)

        with ThreadPoolExecutor(len(stores)) as pool:
            list(pool.map(add, range(len(stores))))
        seqs = [i.seq for i in Runs(stores[0]).items(run_id)]
        assert sorted(seqs) == list(range(1, 101))
        assert Runs(stores[0]).get(run_id).requests == 100  # type: ignore[union-attr]
    finally:
        for s in stores:
            s.close()
