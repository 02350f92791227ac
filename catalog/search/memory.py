"""Facet counts, filters and sort orders in memory, for a server answering many searches.

Counting the facet values of a broad search in SQL reads every facet row of every match
(28,572 matches x ~20 rows at 100,000 synthetic records: 4.5 s on SQLite). Here a snapshot of
the search indexes is kept in numpy arrays instead:

- per facet key, the dense numbers (positions in Record ID order) of the records holding it;
- per record, its countable facet keys (a CSR table), so the counts of a set of matches are
  one `bincount` over their rows (or over the rest of the catalog's, when that is smaller);
- the deleted flags, the date range as ranks among the distinct dates, and each sort order
  (date, -date, title, changed) as a permutation of the records.

Only the free text is asked of the store: first every matching Record ID, unranked, as one
string (`text_match_ids`, ~0.1-0.3 µs a match), then, when the search shows a page by relevance,
the ranks of the matches its facets and dates leave (`text_matches(among=…)`: ranking costs
~2 µs a match in SQLite's FTS5, the bulk of a first search for a broad word). The last searches'
matches are kept with the ranks asked so far, so paging and facet clicks ask nothing. The
results are exactly those of `CatalogStore.search` (tests/search compare them): the same
totals, the same order with the same ties (Record ID), the same counts.

A snapshot is exact while the catalog's change stamp (`search_stamp`, moved by a trigger on
every committed index write) is the one it was read at. After a write a new snapshot is built,
in a background thread, at most one at a time and not more often than `min_interval` seconds
apart (a harvest writing into the catalog that a server reads must not keep a core busy
rebuilding). Meanwhile a search answers from SQL (`CatalogStore.search`: exact, but 0.5-2 s for
a broad search at 100,000 records), or, with `max_stale` > 0, from the last snapshot while it is
at most that many seconds old: its facets, filters and sort orders as they were then (records
written since are left out, those deleted since still count), the text matches as they are
now; the next one is then built once the last is half that old. A sync writes a record every
second or so for hours; without `max_stale` every search of a server beside it would answer
from SQL, since the next snapshot is out of date as soon as it is built, and a core would be
kept rebuilding. Search engines make the same trade (a refresh interval).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from catalog.search.run import attach_memory
from catalog.store.api import CatalogStore, FacetCount, SearchQuery, SearchResult, TextTerm

log = logging.getLogger(__name__)
TEXT_SEARCHES = 64  # the last searches' text matches kept per snapshot …
TEXT_ROWS = 2_000_000  # … and their matches together (16 bytes each)
# Ranks are asked only for the matches a search's facets and dates leave, unless those are at least
# this share of all the matches: then for all of them (one ranking pass, no list of Record IDs sent).
# Where the two cost the same, measured on both backends (38,096 and 28,572 matches at 100,000
# records on SQLite, 7,622 and 5,718 at 20,000 on PostgreSQL): a list of half the matches costs
# 0.75-1.08x ranking all of them, of three quarters 1.08-1.42x (sending the list, and testing
# each match against it).
RANK_ALL = 0.5
# A new snapshot (the catalog changed) asks again for the words of the previous one's last searches,
# ranked as they were, for at most this long: a reader paging on does not pay a first search again.
WARM_SEARCHES = 8
WARM_SECONDS = 1.0
Array = Any  # numpy arrays (numpy's own types add nothing to these few lines)


class _Text:
    """One search's text matches (dense numbers, ascending) and their ranks where asked (NaN: not yet)."""

    def __init__(self, found: Array) -> None:
        self.found = found
        self.ranks: Array = np.full(len(found), np.nan)


class Snapshot:
    """The search indexes of one catalog as they were at `stamp` (immutable once built)."""

    def __init__(self, store: CatalogStore) -> None:
        started = time.perf_counter()
        # The stamp first: a write committed while the rows below are read moves it, so such a
        # snapshot is never taken for exact (it may hold part of that write).
        self.stamp = store.search_stamp()
        self.read_at = time.monotonic()  # its age, for answering while out of date (SearchMemory.max_stale)
        rows = store.search_sort_rows()
        n = self.size = len(rows)
        self.ids: Array = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        self.deleted: Array = np.fromiter((r[5] for r in rows), dtype=bool, count=n)
        # Dates, titles and change times as ranks among their distinct values: the comparisons
        # SQL makes on the strings (byte order in both backends: SQLite BINARY, PostgreSQL "C";
        # code point order in Python, which is the same for UTF-8).
        self.dates: list[str] = sorted({d for r in rows for d in (r[1], r[2]) if d is not None})
        where = {d: i for i, d in enumerate(self.dates)}
        self.start: Array = np.fromiter((-1 if r[1] is None else where[r[1]] for r in rows), dtype=np.int32, count=n)
        self.end: Array = np.fromiter((-1 if r[2] is None else where[r[2]] for r in rows), dtype=np.int32, count=n)
        title = _ranks([r[3] for r in rows])
        changed = _ranks([r[4] for r in rows])
        del rows, where
        order = np.arange(n)
        undated = self.start < 0
        # np.lexsort sorts by its last key first; `order` (Record ID) breaks ties, as in SQL.
        self.orders: dict[str, Array] = {
            "date": np.lexsort((order, self.start, undated)),
            "-date": np.lexsort((order, -self.start, undated)),
            "title": np.lexsort((order, title)),
            "changed": np.lexsort((order, -changed)),
        }
        del title, changed, undated

        # Facet keys in key order: a key's number orders ties the way SQL's sort by key does.
        facets = sorted(store.search_facet_rows())
        self.keys: list[str] = [f[0] for f in facets]
        self.labels: list[str] = [f[3] for f in facets]
        families = sorted({f[1] for f in facets})
        self.families: list[str] = families
        family_of = {name: i for i, name in enumerate(families)}
        self.key_family: Array = np.fromiter((family_of[f[1]] for f in facets), dtype=np.int32, count=len(facets))
        number = {key: i for i, key in enumerate(self.keys)}
        countable = {f[0] for f in facets if f[2] != ""}  # a family's parent key is never counted
        self.postings: dict[str, Array] = {}
        counted: list[Array] = []
        counted_keys: list[int] = []
        for key, id_list in store.search_postings():
            if not id_list:
                continue
            found = np.fromstring(id_list, dtype=np.int64, sep=",")
            dense = np.searchsorted(self.ids, found).clip(0, max(n - 1, 0))
            dense = np.unique(dense[self.ids[dense] == found]) if n else dense[:0]
            self.postings[key] = dense
            if key in countable and len(dense):
                counted.append(dense)
                counted_keys.append(number[key])
        # The CSR table: row_key[indptr[d]:indptr[d + 1]] are record d's countable keys.
        if counted:
            record_of_row = np.concatenate(counted)
            key_of_row = np.repeat(np.array(counted_keys, dtype=np.int32), [len(c) for c in counted])
        else:
            record_of_row = np.zeros(0, dtype=np.int64)
            key_of_row = np.zeros(0, dtype=np.int32)
        by_record = np.argsort(record_of_row, kind="stable")
        self.row_key: Array = key_of_row[by_record]
        self.indptr: Array = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(record_of_row, minlength=n), out=self.indptr[1:])
        self.all_counts: Array = np.bincount(self.row_key, minlength=len(self.keys))
        self._lock = threading.Lock()
        self._texts: OrderedDict[tuple[TextTerm, ...], _Text] = OrderedDict()
        self._kept = 0  # rows in _texts
        self.seconds = time.perf_counter() - started

    # -- one search -------------------------------------------------------------------------------
    def search(self, store: CatalogStore, query: SearchQuery) -> SearchResult:
        """`store.search(query)` from memory; only the text matches are asked of the store (or
        taken from the last searches' with the same words)."""
        n = self.size
        mask = np.ones(n, dtype=bool) if query.include_deleted else ~self.deleted
        for key in query.facets:
            holders = self.postings.get(key)
            if holders is None:
                mask[:] = False
                break
            held = np.zeros(n, dtype=bool)
            held[holders] = True
            mask &= held
        if query.date_from is not None:  # date_end >= from (NULL: no)
            mask &= self.end >= bisect.bisect_left(self.dates, query.date_from)
        if query.date_to is not None:  # date_start <= to (NULL: no)
            mask &= (self.start >= 0) & (self.start < bisect.bisect_right(self.dates, query.date_to))
        terms = query.text_terms()
        if terms is None:
            return SearchResult(0, [], {})  # text without a single word: nothing can match it
        text: _Text | None = None
        if terms:
            text = self.text(store, terms)
            held = np.zeros(n, dtype=bool)
            held[text.found] = True
            mask &= held
        total = int(np.count_nonzero(mask))
        page: list[int] = []
        if total > query.offset and query.limit > 0:
            window = slice(query.offset, query.offset + query.limit)
            if query.sort == "relevance" and text is not None:
                # ranked only now, and only the matches left: a search showing no page ranks none
                keep = mask[text.found]
                found, ranks = text.found[keep], self._ranks(store, terms, text, keep)
                wanted = query.offset + query.limit
                if wanted < len(found):  # only those ranked at most as the wanted-th best need sorting
                    near = ranks <= np.partition(ranks, wanted - 1)[wanted - 1]
                    found, ranks = found[near], ranks[near]
                picked = found[np.lexsort((found, ranks))[window]]
            elif query.sort == "relevance":
                picked = np.flatnonzero(mask)[window]
            else:
                order = self.orders[query.sort]
                picked = order[mask[order]][window]
            page = [int(i) for i in self.ids[picked]]
        counts: dict[str, list[FacetCount]] = {}
        families = query.facet_families
        if total and (families is None or families or query.facets):
            counts = self._counts(mask, total, query)
        return SearchResult(total, page, counts)

    def text(self, store: CatalogStore, terms: tuple[TextTerm, ...]) -> _Text:
        """The records matching `terms`, with the ranks asked for so far. The last searches' are kept:
        a reader paging or clicking facets searches the same words again. Kept in the snapshot, so
        they go when it does (the catalog changed)."""
        with self._lock:
            hit = self._texts.get(terms)
            if hit is not None:
                self._texts.move_to_end(terms)
                return hit
        # Unranked, as one string: ~0.1 µs a match, where ranking costs ~2 µs (see _ranks).
        listed = store.text_match_ids(terms)
        record_ids = np.fromstring(listed, dtype=np.int64, sep=",") if listed else np.zeros(0, dtype=np.int64)
        found = self._dense(record_ids)[0]
        # FTS5 lists its matches in Record ID order, so their dense numbers are already sorted and
        # distinct: checking that costs ~0.1 ms at 38,000 matches, np.unique's sort ~6 ms.
        text = _Text(found if bool((found[1:] > found[:-1]).all()) else np.unique(found))
        with self._lock:
            old = self._texts.pop(terms, None)
            self._kept += len(text.found) - (len(old.found) if old is not None else 0)
            self._texts[terms] = text
            while self._texts and (self._kept > TEXT_ROWS or len(self._texts) > TEXT_SEARCHES):
                _, dropped = self._texts.popitem(last=False)
                self._kept -= len(dropped.found)
        return text

    def _ranks(self, store: CatalogStore, terms: tuple[TextTerm, ...], text: _Text, keep: Array) -> Array:
        """The ranks of the matches `keep` selects (those the facets and dates leave), asked of the
        store for those not ranked yet: only they, when they are fewer than most of the matches (a
        broad word narrowed by facets ranks a fraction of its matches)."""
        ranks = text.ranks[keep]
        missing = np.isnan(ranks)
        if missing.any():
            wanted = text.found[np.flatnonzero(keep)[missing]]
            among = None if len(wanted) >= RANK_ALL * len(text.found) else self.ids[wanted].tolist()
            rows = store.text_matches(terms, ranked=True, among=among)
            # Record IDs < 2^53: exact as floats. fromiter over the flattened rows: a third of np.array's time.
            both = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64,
                               count=2 * len(rows)).reshape(-1, 2)
            dense, known = self._dense(both[:, 0].astype(np.int64))
            where = np.searchsorted(text.found, dense).clip(0, max(len(text.found) - 1, 0))
            inside = text.found[where] == dense if len(text.found) else np.zeros(len(dense), dtype=bool)
            # Written in place: another thread may write the same numbers at the same time.
            text.ranks[where[inside]] = both[known, 1][inside]
            ranks = text.ranks[keep]
            # A match the store no longer ranks (the catalog changed meanwhile, and the next
            # search will not use this snapshot): last, not NaN, which sorts unpredictably.
            ranks[np.isnan(ranks)] = np.inf
        return ranks

    def _dense(self, record_ids: Array) -> tuple[Array, Array]:
        """The dense numbers of those `record_ids` the snapshot holds, and which those are."""
        n = self.size
        found = np.searchsorted(self.ids, record_ids).clip(0, max(n - 1, 0))
        known = self.ids[found] == record_ids if n else np.zeros(len(found), dtype=bool)
        return found[known], known

    def recent_texts(self, limit: int) -> list[tuple[tuple[TextTerm, ...], Array | None]]:
        """The words of the last `limit` searches, newest first, each with the Record IDs of the
        matches ranked so far (None: all of them)."""
        with self._lock:
            kept = list(self._texts.items())[-limit:]
        out = []
        for terms, text in reversed(kept):
            ranked = ~np.isnan(text.ranks)
            out.append((terms, None if ranked.all() else self.ids[text.found[ranked]]))
        return out

    def warm(self, store: CatalogStore, searches: list[tuple[tuple[TextTerm, ...], Array | None]],
             seconds: float) -> int:
        """Ask the store again for the text matches of `searches` (words, Record IDs ranked or None
        for all), as the previous snapshot held them, for at most about `seconds`: a reader paging or
        clicking a facet just after the catalog changed finds their words here instead of paying a
        first search. Stops when the catalog changes again (this snapshot is of no use then). How
        many were asked for."""
        deadline = time.monotonic() + seconds
        done = 0
        for terms, ranked in searches:
            if time.monotonic() > deadline or store.search_stamp() != self.stamp:
                break
            text = self.text(store, terms)
            keep = np.ones(len(text.found), dtype=bool) if ranked is None else np.isin(self.ids[text.found], ranked)
            if keep.any():
                self._ranks(store, terms, text, keep)
            done += 1
        with self._lock:  # asked newest first; kept in their old order (the oldest is dropped first)
            for terms, _ in reversed(searches[:done]):
                if terms in self._texts:
                    self._texts.move_to_end(terms)
        return done

    def forget_texts(self) -> None:
        """Drop the kept text matches (benchmarks: the first search for some words)."""
        with self._lock:
            self._texts.clear()
            self._kept = 0

    def _counts(self, mask: Array, total: int, query: SearchQuery) -> dict[str, list[FacetCount]]:
        if 2 * total > self.size:  # most of the catalog: count the rest and subtract
            counts = self.all_counts - self._count(np.flatnonzero(~mask))
        else:
            counts = self._count(np.flatnonzero(mask))
        present = np.flatnonzero(counts)
        # (family, -count, key), as CatalogStore.search sorts them
        present = present[np.lexsort((present, -counts[present], self.key_family[present]))]
        chosen = set(query.facets)
        keep = set(query.facet_families) if query.facet_families is not None else None
        out: dict[str, list[FacetCount]] = {}
        bounds = np.searchsorted(self.key_family[present], np.arange(len(self.families) + 1))
        for number, family in enumerate(self.families):
            segment = present[bounds[number]:bounds[number + 1]]
            if not len(segment):
                continue
            limit = query.facet_limit if keep is None or family in keep else 0
            shown = [int(k) for k in segment[:limit]]
            shown += [int(k) for k in segment[limit:] if self.keys[k] in chosen] if chosen else []
            if shown:
                out[family] = [FacetCount(self.keys[k], family, self.labels[k], int(counts[k])) for k in shown]
        return out

    def _count(self, records: Array) -> Array:
        """How many of `records` (dense numbers) hold each key."""
        starts = self.indptr[records]
        lengths = self.indptr[records + 1] - starts
        rows = int(lengths.sum())
        if not rows:
            return np.zeros(len(self.keys), dtype=np.int64)
        # every row number of every record: each record's start, then +0, +1, … within it
        firsts = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - firsts, lengths) + np.arange(rows)
        return np.bincount(self.row_key[positions], minlength=len(self.keys))


def _ranks(values: list[str]) -> Array:
    """Each value's rank among the distinct values (equal values, equal ranks)."""
    distinct = {v: i for i, v in enumerate(sorted(set(values)))}
    return np.fromiter((distinct[v] for v in values), dtype=np.int64, count=len(values))


class SearchMemory:
    """One store's snapshot and its refreshing. `current(store)` is the snapshot when it is up to
    date with the catalog, or out of date but at most `max_stale` seconds old, else None (and a
    new one is on its way)."""

    def __init__(self, *, background: bool = True, min_interval: float = 5.0, max_stale: float = 0.0) -> None:
        self.background = background
        self.min_interval = min_interval
        self.max_stale = max_stale
        self.snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_build = float("-inf")

    def current(self, store: CatalogStore) -> Snapshot | None:
        stamp = store.search_stamp()
        snapshot = self.snapshot
        if snapshot is not None and snapshot.stamp == stamp:
            return snapshot
        age = float("inf") if snapshot is None else time.monotonic() - snapshot.read_at
        # Behind the catalog but young enough, it answers, and a new one is built only once it is
        # half that old: a sync writing every second would otherwise keep a core rebuilding (a
        # build took 4.7 s at 100,000 records, every 5 s, and slowed the searches it served).
        if age > self.max_stale / 2:
            self.refresh(store)
        snapshot = self.snapshot
        if snapshot is None:
            return None
        if snapshot.stamp == stamp or time.monotonic() - snapshot.read_at <= self.max_stale:
            return snapshot
        return None

    def refresh(self, store: CatalogStore, *, wait: bool = False) -> None:
        """Build a new snapshot unless one is being built or the last was started less than
        `min_interval` seconds ago; without `background`, or with `wait`, return when it is built
        (`wait` also starts one at once)."""
        with self._lock:
            thread = self._thread
            if thread is None and (wait or time.monotonic() - self._last_build >= self.min_interval):
                self._last_build = time.monotonic()
                thread = self._thread = threading.Thread(target=self._build, args=(store,), name="search-snapshot",
                                                         daemon=True)
                thread.start()
        if thread is not None and (wait or not self.background):
            thread.join()

    def join(self) -> None:
        """Wait for the snapshot being built, if any (before the store is closed)."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def _build(self, store: CatalogStore) -> None:
        try:
            previous = self.snapshot
            snapshot = Snapshot(store)
            self.snapshot = snapshot
            log.info("search snapshot of %d records built in %.2f s", snapshot.size, snapshot.seconds)
            if previous is not None:
                # Still in this thread, so no other build starts meanwhile; searches use the new
                # snapshot already (one asking for the same words first asks the store itself).
                try:
                    warmed = snapshot.warm(store, previous.recent_texts(WARM_SEARCHES), WARM_SECONDS)
                    log.info("search snapshot: the words of %d recent searches asked again", warmed)
                except Exception as exc:
                    log.warning("search snapshot: recent searches not asked again: %s", exc)
        except Exception as exc:  # a closed store, a lost server: searches go on answering from SQL
            log.warning("search snapshot not built (searches answer from SQL): %s", exc)
        finally:
            with self._lock:
                self._thread = None


def keep_in_memory(store: CatalogStore, *, background: bool = True, min_interval: float = 5.0,
                   max_stale: float = 0.0) -> SearchMemory:
    """Answer `run_search` on `store` from a snapshot in memory from now on (a long-running server's
    choice: building one costs ~1-2 s of a core at 100,000 records). With `background` the first
    snapshot is built in a thread and searches answer from SQL meanwhile; `max_stale`: see the
    module's text."""
    memory = attach_memory(store, lambda: SearchMemory(background=background, min_interval=min_interval,
                                                       max_stale=max_stale))
    memory.refresh(store, wait=not background)
    return memory
