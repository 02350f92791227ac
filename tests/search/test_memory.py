"""The search snapshot in memory (catalog.search.memory) answers exactly as the store's SQL does,
on both backends, and once the catalog has changed is used only as long as its server allows."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from catalog.index import derive
from catalog.search import SearchParams, parse_text, run_search
from catalog.search.memory import RANK_ALL, Snapshot, keep_in_memory
from catalog.search.run import memory_of
from catalog.store import CatalogStore, SearchQuery, open_store
from tests.search.catalog import DELETED, RECORDS, T0, expected_ids
from tests.search.test_backends_agree import FACETS, QUERIES, SORTS

FAMILIES = (None, (), ("language", "type"))


def same(store: CatalogStore, snapshot: Snapshot, query: SearchQuery) -> None:
    assert snapshot.search(store, query) == store.search(query), query


# Every combination below (over a thousand searches, ~5 s CPU a backend) runs with the slow tests;
# the edit loop's fast subset checks every twelfth (each query still comes up, with several facet sets and sorts).
EVERY = [pytest.param(1, marks=pytest.mark.slow, id="all"), pytest.param(12, id="sample")]


@pytest.mark.parametrize("every", EVERY)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_snapshot_answers_as_sql(catalogs: dict[str, CatalogStore], backend: str, every: int) -> None:
    store = catalogs[backend]
    snapshot = Snapshot(store)
    assert snapshot.size == len(RECORDS)
    checked = 0
    for n, (q, facets, sort) in enumerate(itertools.product(QUERIES, FACETS, SORTS)):
        terms = parse_text(q)
        if (q.strip() and not terms) or n % every:
            continue
        keys = SearchParams(facets=facets).facet_keys()
        for low, high, deleted, families in [(None, None, False, None), ("1950-01-01", "1969-12-31", False, ()),
                                             (None, "1960-06-30", True, ("language", "type")),
                                             ("1952-03-04", None, True, None)]:
            for limit, offset in [(7, 0), (7, 7), (100, 0)]:
                same(store, snapshot, SearchQuery(terms=terms, facets=keys, limit=limit, offset=offset, sort=sort,
                                                  date_from=low, date_to=high, include_deleted=deleted,
                                                  facet_families=families, facet_limit=3))
                checked += 1
    assert checked > 1000 // every
    # keys nobody holds, a parent key, no facet limit at all
    for keys in [("type:no-such-type",), ("language",), ("language:rus", "language")]:
        same(store, snapshot, SearchQuery(facets=keys, facet_limit=1000))
    # the oracle too, for one broad and one narrow search through run_search
    memory = keep_in_memory(store, background=False)
    try:
        assert memory.current(store) is memory.snapshot is not None
        for q in ("", "cold war", "mem*"):
            page = run_search(store, SearchParams(q=q, per_page=100))
            assert {h.record_id for h in page.hits} == expected_ids(parse_text(q))
    finally:
        memory.snapshot = None


@pytest.fixture()
def catalog_copy(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[CatalogStore, CatalogStore]]:
    """A SQLite catalog of its own (these tests write), opened twice: a server and another process."""
    path = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, path)
    server, writer = open_store(path), open_store(path)
    yield server, writer
    server.close()
    writer.close()


def _new_record(n: int, word: str) -> object:
    return RECORDS[n].model_copy(update={"record_id": 990_000 + n, "slug": f"new-{n}", "summary": f"About {word}."})


@pytest.mark.parametrize("background", [False, True])
def test_no_stale_answer_after_a_write(catalog_copy: tuple[CatalogStore, CatalogStore], background: bool) -> None:
    server, writer = catalog_copy
    # background: the first snapshot is built here, later ones never (an hour apart), so every
    # search after a write has to answer from SQL; otherwise each write is followed by a rebuild.
    memory = keep_in_memory(server, background=background, min_interval=3600 if background else 0)
    memory.refresh(server, wait=True)
    assert memory.snapshot is not None
    before = run_search(server, SearchParams(q="memorandum", per_page=100))
    assert before.total > 3 and memory.current(server) is memory.snapshot

    # a tombstone by another connection (another process: the harvest beside the server)
    gone = before.hits[0].record_id
    writer.tombstone(gone, now=T0)  # a time in the past: a stamp by time would miss it
    after = run_search(server, SearchParams(q="memorandum", per_page=100))
    assert after.total == before.total - 1 and gone not in {h.record_id for h in after.hits}
    held = next(f for f in derive(next(r for r in RECORDS if r.record_id == gone)).facets
                if f.family == "language" and f.value)
    facet = SearchParams(q="memorandum", facets=((held.family, held.value),))
    want = expected_ids(parse_text("memorandum"), facet.facet_keys()) - {gone}
    assert run_search(server, facet).total == len(want) > 0
    assert run_search(server, facet).facets["language"][0].count == len(want)

    # a new record written through the server's own store, and one through the other
    server.upsert(_new_record(1, "zanzibar"), now=T0)  # type: ignore[arg-type]
    writer.upsert(_new_record(2, "zanzibar"), now=T0)  # type: ignore[arg-type]
    found = run_search(server, SearchParams(q="zanzibar", facets=(("has_text", "no"),)))
    assert {h.record_id for h in found.hits} >= {990_001, 990_002} and found.total >= 2
    assert memory.current(server) is (None if background else memory.snapshot)
    # a restored record counts again
    writer.upsert(RECORDS[[r.record_id for r in RECORDS].index(gone)].model_copy(update={"summary": "Back."}))
    again = run_search(server, SearchParams(q="memorandum", per_page=100))
    assert gone in {h.record_id for h in again.hits}
    assert again.total == server.search(SearchQuery(terms=parse_text("memorandum"))).total == before.total + 1


def test_a_server_may_answer_from_a_snapshot_behind_the_catalog_for_a_while(
        catalog_copy: tuple[CatalogStore, CatalogStore]) -> None:
    server, writer = catalog_copy
    # No rebuild meanwhile (an hour apart): what answers after the writes is the old snapshot, or SQL.
    memory = keep_in_memory(server, background=True, min_interval=3600, max_stale=600)
    memory.refresh(server, wait=True)
    old = memory.snapshot
    assert old is not None
    broad = SearchParams(q="memorandum", per_page=100)
    before = {h.record_id for h in run_search(server, broad).hits}
    gone = min(before)
    writer.tombstone(gone, now=T0)
    writer.upsert(_new_record(4, "memorandum"), now=T0)  # type: ignore[arg-type]
    assert old.stamp != server.search_stamp() and memory.current(server) is old  # behind, but young enough
    stale = {h.record_id for h in run_search(server, broad).hits}
    assert 990_004 not in stale and stale <= before  # the records as the snapshot holds them
    old.read_at -= 601  # older than max_stale: exact again, from SQL
    assert memory.current(server) is None
    exact = {h.record_id for h in run_search(server, broad).hits}
    assert 990_004 in exact and gone not in exact
    assert exact == {r for r in server.search(SearchQuery(terms=parse_text("memorandum"), limit=1000)).record_ids}


def test_a_snapshot_behind_the_catalog_is_rebuilt_once_half_as_old_as_allowed(
        catalog_copy: tuple[CatalogStore, CatalogStore]) -> None:
    server, writer = catalog_copy
    # Built on the spot (not in the background) whenever a rebuild is asked for.
    memory = keep_in_memory(server, background=False, min_interval=0, max_stale=600)
    old = memory.snapshot
    assert old is not None
    writer.upsert(_new_record(5, "zanzibar"), now=T0)  # type: ignore[arg-type]
    assert memory.current(server) is old  # young: answers, and no rebuild is asked for
    old.read_at -= 301  # half as old as allowed: rebuilt
    fresh = memory.current(server)
    assert fresh is not None and fresh is not old and fresh.stamp == server.search_stamp()
    assert 990_005 in {h.record_id for h in run_search(server, SearchParams(q="zanzibar")).hits}


def test_the_stamp_moves_with_every_kind_of_index_write(catalogs: dict[str, CatalogStore]) -> None:
    for name, store in catalogs.items():
        stamps = [store.search_stamp()]
        live = next(r for r in RECORDS if r.record_id not in DELETED)
        store.upsert(live.model_copy(update={"summary": f"changed on {name}"}))
        stamps.append(store.search_stamp())
        store.upsert(live.model_copy(update={"summary": f"changed on {name}"}))  # unchanged: no index write
        assert store.search_stamp() == stamps[-1]
        store.tombstone(live.record_id)
        stamps.append(store.search_stamp())
        store.upsert(live)  # restored
        stamps.append(store.search_stamp())
        store.reindex()
        stamps.append(store.search_stamp())
        assert stamps == sorted(set(stamps)), (name, stamps)


def test_a_failed_build_leaves_sql_answering(catalogs: dict[str, CatalogStore]) -> None:
    class Broken:
        def __getattr__(self, name: str) -> object:
            return getattr(catalogs["sqlite"], name)

        def search_sort_rows(self) -> list[tuple[int, str | None, str | None, str, str, bool]]:
            raise RuntimeError("lost")

    broken = Broken()
    memory = keep_in_memory(broken, background=False)  # type: ignore[arg-type]
    try:
        assert memory_of(broken) is memory and memory.current(broken) is None  # type: ignore[arg-type]
        params = SearchParams(q="memorandum", per_page=100)
        got, want = run_search(broken, params), run_search(catalogs["sqlite"], params)  # type: ignore[arg-type]
        assert got.total == want.total > 0 and [h.record_id for h in got.hits] == [h.record_id for h in want.hits]
    finally:
        memory.snapshot = None


def test_records_by_id_come_in_one_query_in_the_order_asked(catalogs: dict[str, CatalogStore]) -> None:
    # A search page reads its hits with iter_raw(ids=…): one query for the batch, the order given,
    # a missing ID skipped, a repeated one repeated, tombstones only with include_deleted.
    ids = [RECORDS[5].record_id, 1, DELETED[1], RECORDS[2].record_id, RECORDS[5].record_id]
    for store in catalogs.values():
        assert [r.record_id for r in store.iter_raw(ids=ids)] == [ids[0], ids[2], ids[3], ids[4]]
        assert [r.record_id for r in store.iter_raw(ids=ids, include_deleted=False)] == [ids[0], ids[3], ids[4]]
        assert [r.record_id for r in store.iter_raw(ids=iter(range(100_000, 100_000 + 7 * 600, 7)),
                                                    batch_size=100, brief=True)] == [r.record_id for r in RECORDS]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_store_ranks_only_the_matches_asked_for(catalogs: dict[str, CatalogStore], backend: str) -> None:
    store = catalogs[backend]
    terms = parse_text("memorandum")
    ranked = dict(store.text_matches(terms, ranked=True))
    assert len(ranked) > 6 and len(set(ranked.values())) > 1
    listed = store.text_match_ids(terms)
    assert sorted(int(i) for i in listed.split(",")) == sorted(ranked)
    among = sorted(ranked)[::3] + [1, 2]  # Record IDs that do not match are no answer
    assert dict(store.text_matches(terms, ranked=True, among=among)) == {i: ranked[i] for i in sorted(ranked)[::3]}
    assert store.text_matches(terms, ranked=True, among=[]) == []
    assert store.text_match_ids(parse_text("zzzz")) == ""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_search_ranks_only_the_matches_its_facets_leave(catalogs: dict[str, CatalogStore], backend: str) -> None:
    store = catalogs[backend]
    asked: list[int | None] = []

    class Counting:
        """The store, counting the matches each ranking asks for (None: all of them)."""

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def text_matches(self, terms: Any, *, ranked: bool, among: Any = None) -> list[tuple[int, float]]:
            asked.append(None if among is None else len(among))
            return store.text_matches(terms, ranked=ranked, among=among)

    counting = cast(CatalogStore, Counting())
    snapshot = Snapshot(store)
    terms = parse_text("memorandum")
    everything = store.search(SearchQuery(terms=terms, limit=1000))
    narrow = SearchQuery(terms=terms, facets=("language:rus",), limit=1000)
    narrowed = store.search(narrow)
    assert 0 < narrowed.total < everything.total * RANK_ALL
    # no page shown: nothing ranked
    nothing_shown = SearchQuery(terms=terms, limit=0)
    assert snapshot.search(counting, nothing_shown) == store.search(nothing_shown)
    assert asked == []
    # narrowed by a facet: only its matches are ranked, then the same again from what is kept
    assert snapshot.search(counting, narrow) == narrowed
    assert snapshot.search(counting, narrow) == narrowed
    assert asked == [narrowed.total]
    # all the matches: the rest are ranked (in one pass over all when they are most of them)
    assert snapshot.search(counting, SearchQuery(terms=terms, limit=1000)) == everything
    rest, matches = everything.total - narrowed.total, len(store.text_match_ids(terms).split(","))  # tombstones too
    assert asked[1:] == [None if rest >= RANK_ALL * matches else rest]
    # every order by relevance again from what is kept, with facets or without
    for query in [SearchQuery(terms=terms, limit=3, offset=2), SearchQuery(terms=terms, facets=("type:cable",))]:
        assert snapshot.search(counting, query) == store.search(query)
    assert len(asked) == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_matches_listed_in_any_order_give_the_same_answers(catalogs: dict[str, CatalogStore], backend: str) -> None:
    """SQLite lists a word's matches in Record ID order and the snapshot then skips sorting them;
    PostgreSQL's string_agg promises no order (a bitmap scan lists them as they lie on disk)."""
    store = catalogs[backend]

    class Shuffled:
        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def text_match_ids(self, terms: Any) -> str:
            listed = store.text_match_ids(terms).split(",")
            return ",".join(listed[1::2] + listed[::2])

    shuffled = cast(CatalogStore, Shuffled())
    terms = parse_text("memorandum")
    assert len(store.text_match_ids(terms).split(",")) > 3
    for query in [SearchQuery(terms=terms, limit=5), SearchQuery(terms=terms, facets=("type:cable",), sort="date")]:
        assert Snapshot(store).search(shuffled, query) == store.search(query)


def test_a_new_snapshot_asks_again_for_the_last_searches_words(catalog_copy: tuple[CatalogStore, CatalogStore]) -> None:
    server, writer = catalog_copy
    memory = keep_in_memory(server, background=False, min_interval=0)
    broad = SearchParams(q="memorandum", per_page=100)
    narrow = SearchParams(q="cold war", facets=(("language", "Russian"),))
    run_search(server, broad)  # every match ranked
    run_search(server, narrow)  # only the Russian ones ranked
    old = memory.snapshot
    assert old is not None
    (narrow_terms, narrow_ranked), (broad_terms, broad_ranked) = old.recent_texts(5)
    assert broad_ranked is None and narrow_ranked is not None
    narrowed = server.search(SearchQuery(terms=narrow_terms, facets=narrow.facet_keys(), limit=1000)).record_ids
    assert 0 < len(narrowed) == len(narrow_ranked) < len(old.text(server, narrow_terms).found)
    assert sorted(narrowed) == sorted(narrow_ranked.tolist())
    writer.upsert(_new_record(3, "memorandum"), now=T0)  # type: ignore[arg-type]
    assert memory.current(server) is not old  # rebuilt here (not in the background), then warmed
    fresh = memory.snapshot
    assert fresh is not None and fresh.stamp == server.search_stamp()
    assert [(t, None if r is None else sorted(r.tolist())) for t, r in fresh.recent_texts(5)] == [
        (narrow_terms, sorted(narrowed)), (broad_terms, None)]

    asked: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> object:
            if name.startswith("text_"):
                asked.append(name)
            return getattr(server, name)

    counting = cast(CatalogStore, Counting())
    for params in (broad, narrow, SearchParams(q="memorandum", page=2, per_page=5)):
        query = SearchQuery(terms=parse_text(params.q), facets=params.facet_keys(), limit=params.per_page,
                            offset=(params.page - 1) * params.per_page)
        assert fresh.search(counting, query) == server.search(query)
    assert asked == []  # nothing asked of the store: the new record is among the matches asked again
    assert 990_003 in fresh.ids[fresh.text(server, parse_text("memorandum")).found]
    # warming stops once the catalog has changed again
    writer.upsert(_new_record(4, "memorandum"), now=T0)  # type: ignore[arg-type]
    assert fresh.warm(server, old.recent_texts(5), 10.0) == 0
