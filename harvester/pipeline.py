"""Harvest: Record IDs in, catalog records out, raw pages kept.

One loop (in `harvest`) over a small executor interface (`Executor`): the executor fetches
and parses (`ThreadExecutor`, `ReplayPoolExecutor`, `LivePoolExecutor`), the loop stores
each result on the calling thread (`finish`: record, history event, work-queue item in one
unit of work), and every exception of one item becomes its outcome in `outcome_for`.

Worker threads fetch in parallel (bounded by the HTTP concurrency setting, and spaced
by the shared rate limiter); parsing is CPU work that holds the GIL, so for a large job
it runs in a pool of worker processes (one per core), and for a small one on the calling
thread. The calling thread alone writes to the catalog, so the store sees one writer;
each record, its event and its work item commit together (on the fast paths several records
share one transaction: COMMIT_BATCH). A blocked response, a Retry-After longer than we may
wait, and a catalog or raw archive that cannot be written (a full disk) stop the run: IDs
not yet started are reported as not attempted. A record is stored only after its raw
response is in the WARC file and synced to disk (one fsync before each transaction that
stores records).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from catalog.errors import (
    ArchiveWriteError,
    AskedToWait,
    Blocked,
    FetchError,
    LeaseLost,
    StoreError,
)
from catalog.prepared import PreparedRecord
from catalog.quality import alarms, catalog_coverage, fallback_lines, fallback_marks
from catalog.store import CatalogStore, display_name
from harvester import __version__
from harvester.commands import EXIT_WAIT
from harvester.config import Settings
from harvester.http import Fetcher, FetchResult
from harvester.parse_worker import (
    Outcome,
    PageParts,
    init_worker,
    outcome_for,
    page_parts,
    parse_in_worker,
    prepared_from_page,
    replay_in_worker,
)
from harvester.politeness import catalog_limiter
from harvester.warc import LockedWriter, WarcIndex, WarcWriter, warc_files, warcinfo_text
from harvester.workers import SupervisedPool

if TYPE_CHECKING:
    from catalog.export.options import FormatOptions
    from harvester.work import WorkFeed

_DOC_ID_URL = re.compile(r"/document/(\d+)/?$")


# A live run stops after this many IDs in a row could not even connect: the archive (or our
# network) is down, and every further ID would only spend its retries to fail the same way.
UNREACHABLE_AFTER = 3


@dataclass
class HarvestSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    requests: int = 0
    warc_file: str | None = None
    interrupted: bool = False  # stopped by the user (Ctrl-C): what was done is kept
    skipped: int = 0  # reparse: catalog records with no recorded page, left as they are
    unreachable: str | None = None  # why the run stopped early because the archive could not be reached
    # Set when the run had to stop: the catalog or the WARC could not be written (one line).
    fatal: str | None = None
    # Seconds the archive asked us to wait (Retry-After over http.backoff_max), if it did.
    asked_to_wait: float | None = None
    # Files of a replay folder that were not read, and why (junk, symlinks).
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    parsed: int = 0  # pages that gave a record
    fields: Counter[str] = field(default_factory=Counter)  # present fields and fallback marks, per page
    alarms: list[str] = field(default_factory=list)  # the quality alarm that stopped the run, if any
    # Work queue runs (harvester/work.py): items a resumed harvest found finished by an earlier
    # run (reported, not fetched again), this worker's id, and whether a budget ended the run.
    resumed: int = 0
    worker_id: str | None = None
    budget_stop: bool = False
    catalog_failed: bool = False  # the catalog itself could not be written (fatal says why)
    synced: list[tuple[str, int]] = field(default_factory=list)  # `work`: (sync run, items revalidated for it)

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def blocked(self) -> bool:
        return any(o.status == "blocked" for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 all good, 1 some IDs failed (or were not document pages) or a quality alarm, 2 blocked,
        fatal or the archive unreachable, 75 (EXIT_WAIT) the archive asked us to wait, 130 interrupted."""
        if self.interrupted:
            return 130  # 128 + SIGINT, what a shell reports for a Ctrl-C
        if self.blocked or self.fatal or self.unreachable:
            return 2
        if self.asked_to_wait is not None:
            return EXIT_WAIT
        if self.alarms or any(o.status in {"failed", "not_document", "not_attempted"} for o in self.outcomes):
            return 1
        return 0

    def line(self) -> str:
        c = self.counts
        harvested = c["new"] + c["changed"] + c["restored"]
        return (f"harvested {harvested} (new {c['new']}, changed {c['changed']}, restored {c['restored']}), "
                f"unchanged {c['unchanged']}, not found {c['not_found'] + c['gone']}, "
                f"not a document {c['not_document']}, failed {c['failed']}, "
                f"blocked {c['blocked']}, not attempted {c['not_attempted']}; {self.requests} requests")

    def fallback_lines(self) -> list[str]:
        """Fields found by a fallback alternative of the selector table, and on how many pages."""
        return fallback_lines(dict(self.fields), self.parsed)


# -- worker processes ----------------------------------------------------------------------
# Below this many IDs a run parses on the calling thread. Measured (bench machine, 2 cores,
# replay of the synthetic archive): the first pool of a process costs ~0.9-1.2 s to start
# (the fork server imports the harvester once), and a replay then runs ~1.5-1.7x faster
# than on one thread: 50 IDs 0.42 s on one thread vs 1.33 s pooled, 200 IDs 1.85 vs 2.82 s,
# 400 IDs 3.48 vs 3.58 s. Break-even is ~300-400 IDs, so a pool only pays from there.
POOL_MIN_IDS = 300
# A live harvest below this rate (requests per second) gets a page every 20 ms or more,
# slower than one thread parses (~6 ms a page): a pool would only add its start-up. The
# default polite rate is 1/s.
POOL_MIN_RATE = 50.0
# "forkserver", not "fork": the fetch threads (httpx, the rate limiter's locks) are running
# when a harvest starts its pool, and forking a threaded process can copy a held lock into
# the child. Not "spawn" either: measured, a 2-worker spawn pool takes 1.7-2.1 s to start,
# every time (each worker imports bs4, pydantic, the catalog); the fork server imports the
# harvester once per process (~0.9-1.2 s, the first pool) and forks ready workers from it
# afterwards (0.05 s for every later pool).
POOL_START_METHOD = "forkserver"


def _pool_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _live_parse_workers() -> int:
    """Parse workers of a live harvest: one core fewer than a replay, since this process is busy
    too (fetching, WARC, storing: ~40 % of a page's CPU), but at least two. On 2 cores one worker
    was the limit (busy ~80 % while the other core had room); a second one adds ~21 MB
    (bench/harvest.py, 2,000 pages at 50 ms: peak PSS over all processes 123 -> 144 MB, under the
    150 MB goal) and 8-20 % more pages a second (5 of 5 paired runs)."""
    return max(2, _pool_workers() - 1)


def _process_pool(workers: int, settings: Settings, index: WarcIndex | None, replayed: bool,
                  render_options: FormatOptions | None) -> SupervisedPool:
    # Supervised (harvester/workers.py): a killed worker is replaced and its page retried,
    # and no worker outlives the harvest (a SIGKILLed harvest leaves no process behind).
    context = multiprocessing.get_context(POOL_START_METHOD)
    if POOL_START_METHOD == "forkserver":
        # The fork server imports what a worker runs, once, and the workers share it with it. Only
        # that (harvester/parse_worker.py), not this module: the fork server and each worker would
        # hold the catalog store and the HTTP client too. A replay worker fetches, so its pool
        # preloads the fetcher as well; harvester/fork_server.py comes last (it freezes what the
        # others imported). Only the first pool of a process starts the server.
        context.set_forkserver_preload(["harvester.parse_worker", *(["harvester.http"] if index is not None else []),
                                        "harvester.fork_server"])
    return SupervisedPool(workers, context, initializer=init_worker,
                          initargs=(settings, index, replayed, render_options))


def _for_worker(result: FetchResult) -> PageParts:
    """What a parse worker reads of a fetch result: its parts, not the FetchResult (whose class
    would import the HTTP client into the worker: harvester/parse_worker.py), and the response
    without the encoded body (already written to the WARC; the parse reads `body`)."""
    response = result.response
    if response.raw_body is not None:
        response = dataclasses.replace(response, raw_body=None)
    return result.request_url, result.final_url, result.redirects, response


def _future_result(record_id: int, future: Future) -> object:
    try:
        return future.result()
    except Exception as exc:  # the worker process died on every attempt (WorkerDied), or could not pickle
        return outcome_for(record_id, exc)


# The fast paths (worker processes) store up to this many results in one catalog transaction,
# and never hold a result longer than COMMIT_SECONDS for more to come. Measured (2 cores, the
# fixture records, SQLite): a commit a record costs ~0.45 ms of CPU a record more than one per 8
# and ~0.55 more than one per 32 (SQLite writes its pages and FTS5 its segment once per commit),
# and the WARC file is synced once per transaction instead of once a page. 16: most of the
# saving, with fewer parsed records held waiting (memory is a goal too). A crash loses no result silently: an item is
# "done" in the work queue only in the transaction that stores it, so the uncommitted ones are
# claimed again, and the raw pages are already in the WARC file.
COMMIT_BATCH = 16
COMMIT_SECONDS = 0.25


# -- executors: how the items of one run are fetched and parsed --------------------------------
class Executor(Protocol):
    """Runs the per-item work (fetch, parse) of `harvest`'s one loop; the loop stores the results.

    `room()` says how many more IDs may start now (a bounded window: memory stays flat),
    `collect()` waits for at least one step and yields the items that are finished
    (a parsed record prepared for the store, or an Outcome), `requests` counts requests made outside this
    process (replay workers)."""

    requests: int
    batch: int  # results stored per catalog transaction (at most; see COMMIT_BATCH)

    def __enter__(self) -> Executor: ...
    def __exit__(self, *exc: object) -> None: ...
    def room(self) -> int: ...
    def submit(self, record_id: int) -> None: ...
    def busy(self) -> bool: ...
    def collect(self) -> Iterable[tuple[int, object]]: ...


class ThreadExecutor:
    """Fetch threads; the parse on the calling thread (the cheap path: small runs, slow rates).

    A bounded window of fetches in flight keeps the threads busy while this thread parses;
    fetched pages cannot pile up when parsing is the slower side."""

    def __init__(self, workers: int, fetch: Callable[[int], Outcome | FetchResult],
                 parse: Callable[[int, FetchResult], object]) -> None:
        self.workers, self.fetch, self.parse = workers, fetch, parse
        self.requests = 0
        # One result a transaction: the cheap path (small runs, polite rates) has no commits to save,
        # and each page is stored right after its parse.
        self.batch = 1
        self.in_flight: dict[Future[Outcome | FetchResult], int] = {}

    def __enter__(self) -> ThreadExecutor:
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fetch")
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True)

    def room(self) -> int:
        return 2 * self.workers - len(self.in_flight)

    def submit(self, record_id: int) -> None:
        self.in_flight[self.pool.submit(self.fetch, record_id)] = record_id

    def busy(self) -> bool:
        return bool(self.in_flight)

    def collect(self) -> Iterator[tuple[int, object]]:
        done, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            rid = self.in_flight.pop(future)
            fetched = future.result()
            # Parsed here, on the one writing thread, while the threads keep fetching: the parse
            # holds the GIL, and threads parsing at once only fight over it. Lazily, so each page
            # is stored right after its parse (a stop in between leaves no parsed page unstored).
            yield rid, self.parse(rid, fetched) if isinstance(fetched, FetchResult) else fetched


class ReplayPoolExecutor:
    """A replay: no latency to overlap, all CPU. Each worker process reads its pages from the WARC
    files itself (the index says which file and offset), parses and normalizes; results come
    back in input order."""

    def __init__(self, workers: int, settings: Settings, index: WarcIndex, replayed: bool,
                 render_options: FormatOptions | None) -> None:
        self.workers, self.settings, self.index, self.replayed = workers, settings, index, replayed
        self.render_options = render_options
        self.requests = 0
        self.batch = COMMIT_BATCH
        self.window: deque[tuple[int, Future]] = deque()

    def __enter__(self) -> ReplayPoolExecutor:
        self.pool = _process_pool(self.workers, self.settings, self.index, self.replayed,
                                  self.render_options).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.__exit__(*exc)

    def room(self) -> int:
        return 4 * self.workers - len(self.window)

    def submit(self, record_id: int) -> None:
        self.window.append((record_id, self.pool.submit(replay_in_worker, record_id)))

    def busy(self) -> bool:
        return bool(self.window)

    def collect(self) -> list[tuple[int, object]]:
        rid, future = self.window.popleft()
        got = _future_result(rid, future)
        if isinstance(got, tuple):
            result, made = got
            self.requests += made
            return [(rid, result)]
        return [(rid, got)]


class LivePoolExecutor:
    """Live, fast: threads fetch (and write every exchange to the WARC), worker processes parse.
    Bounded: at most 2 x concurrency pages fetched or waiting for a parser, and 2 per worker
    process being parsed."""

    def __init__(self, workers: int, procs: int, settings: Settings, replayed: bool,
                 fetch: Callable[[int], Outcome | FetchResult], render_options: FormatOptions | None) -> None:
        self.workers, self.procs, self.settings, self.replayed, self.fetch = workers, procs, settings, replayed, fetch
        self.render_options = render_options
        self.requests = 0
        self.batch = COMMIT_BATCH
        self.fetching: dict[Future, int] = {}
        self.parsing: dict[Future, int] = {}
        self.waiting: deque[tuple[int, FetchResult]] = deque()

    def __enter__(self) -> LivePoolExecutor:
        self.fetch_pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fetch")
        self.parse_pool = _process_pool(self.procs, self.settings, None, self.replayed,
                                        self.render_options).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.fetch_pool.shutdown(wait=True)
        finally:
            self.parse_pool.__exit__(*exc)

    def room(self) -> int:
        return 2 * self.workers - len(self.fetching) - len(self.waiting)

    def submit(self, record_id: int) -> None:
        self.fetching[self.fetch_pool.submit(self.fetch, record_id)] = record_id

    def busy(self) -> bool:
        return bool(self.fetching or self.parsing or self.waiting)

    def collect(self) -> list[tuple[int, object]]:
        while self.waiting and len(self.parsing) < 2 * self.procs:
            rid, fetched = self.waiting.popleft()
            self.parsing[self.parse_pool.submit(parse_in_worker, rid, _for_worker(fetched))] = rid
        done, _ = wait([*self.fetching, *self.parsing], return_when=FIRST_COMPLETED)
        finished: list[tuple[int, object]] = []
        for future in done:
            if future in self.fetching:
                rid = self.fetching.pop(future)
                result = future.result()
                if isinstance(result, FetchResult):
                    self.waiting.append((rid, result))
                    continue
            else:
                rid = self.parsing.pop(future)
                result = _future_result(rid, future)
            finished.append((rid, result))
        return finished


def harvest(
    ids: list[int],
    *,
    settings: Settings,
    store: CatalogStore,
    replay: str | Path | WarcIndex | None = None,
    progress: Callable[[Outcome], None] | None = None,
    fetcher: Fetcher | None = None,
    run_id: str | None = None,
    processes: bool | None = None,
    cancel: threading.Event | None = None,
    log_failures: bool = True,
    feed: WorkFeed | None = None,
) -> HarvestSummary:
    """Fetch, keep, parse, normalize and store each ID. Never raises for one bad ID.

    `cancel`: set it (from a signal handler) to stop starting IDs; what was done is kept and
    the rest is `not_attempted`. `log_failures=False` keeps failed outcomes out of the
    records' histories (reparse: a recording that cannot be read says nothing about a record).

    `processes`: parse in worker processes (True), on the calling thread (False), or
    decide (None: a pool from POOL_MIN_IDS IDs up on a multi-core machine, for a replay
    or a live harvest allowed POOL_MIN_RATE requests/s or more, unless a fetcher is
    passed in).

    `feed`: take the IDs from the catalog's work queue instead of `ids` (harvester/work.py):
    claimed as the fetch window has room, each finished in the unit of work that stores it.
    """
    summary = HarvestSummary()
    writer: WarcWriter | None = None
    locked: LockedWriter | None = None
    replayed = replay is not None
    index: WarcIndex | None = None
    custom_fetcher = fetcher is not None
    if fetcher is None:
        index = replay if isinstance(replay, WarcIndex) else WarcIndex(replay) if replay is not None else None
        on_exchange = None
        if index is None:
            # Synced before each transaction that stores records (`kept` below), not once a page.
            writer = WarcWriter.in_directory(settings.storage.warc_dir, prefix="harvest",
                                             software=f"wcda-harvester/{__version__}",
                                             operator=settings.archive.contact, sync_each=False)
            summary.warc_file = str(writer.path)
            on_exchange = locked = LockedWriter(writer)
        # Live: the catalog's request budget, shared with every other worker of the catalog.
        fetcher = Fetcher(settings, replay=index, on_exchange=on_exchange, limiter=catalog_limiter(settings, store))
    if processes is None:
        expected = len(ids) if feed is None else feed.expected
        processes = (not custom_fetcher and expected >= POOL_MIN_IDS and _pool_workers() > 1
                     and (replayed or settings.http.rate_limit >= POOL_MIN_RATE))
    if index is not None:
        summary.skipped_files = [(str(path), why) for path, why in index.skipped]
    stop = cancel if cancel is not None else threading.Event()
    stop_reason = ["the run stopped after a block"]
    connect_streak = [0]
    # The quality alarm: coverage of the catalog before the run, against this run's pages (a
    # scan of the catalog, so only taken when the run is long enough for the alarm to judge).
    quality = settings.sync
    judged = (feed.expected if feed is not None else len(ids)) >= quality.quality_min_pages and store.count() > 0
    baseline = catalog_coverage(store) if judged else None

    def halt(why: str) -> None:
        stop_reason[0] = why
        stop.set()

    def guarded(record_id: int,
                step: Callable[[], FetchResult | PreparedRecord]) -> Outcome | FetchResult | PreparedRecord:
        try:
            return step()
        except Exception as exc:
            outcome = outcome_for(record_id, exc)
            if isinstance(exc, AskedToWait):
                # Every worker stops asking: the fetcher refuses the requests already queued.
                summary.asked_to_wait = exc.retry_after
                halt(f"the run stopped: {exc.detail}")
            elif isinstance(exc, ArchiveWriteError):
                summary.fatal = summary.fatal or str(exc)
                halt("the run stopped: the raw archive could not be written")
            elif outcome.status == "blocked":
                stop.set()
            return outcome

    def work(record_id: int) -> Outcome | FetchResult:
        if stop.is_set():
            return Outcome(record_id, "not_attempted", _stop_reason())
        return guarded(record_id, lambda: fetcher.get(fetcher.document_url(record_id)))  # type: ignore[return-value]

    def _stop_reason() -> str:
        return "interrupted (Ctrl-C)" if user_stopped() else stop_reason[0]

    def user_stopped() -> bool:
        # `stop` is the caller's cancel event when there is one, so a stop for a block, an
        # unreachable archive, a full disk or a long Retry-After sets it too: not a Ctrl-C.
        return (cancel is not None and cancel.is_set() and not summary.blocked and not summary.unreachable
                and not summary.fatal and not summary.alarms and summary.asked_to_wait is None)

    def checked(rid: int, result: object) -> tuple[object, bool]:
        """The result to store, and False when nothing may be written any more (the catalog is lost)."""
        if isinstance(result, PreparedRecord) and (summary.fatal or summary.alarms):
            # Fetched, but nothing more is written: after a full disk, or after the quality alarm
            # went off (so no record gets thinner).
            result = Outcome(rid, "not_attempted", stop_reason[0])
        if feed is not None and feed.lost and not summary.catalog_failed:
            # The work queue's heartbeat or claim found the catalog gone: stop, as a failed write does.
            summary.fatal, summary.catalog_failed = summary.fatal or feed.lost, True
            halt("the run stopped: the catalog could not be reached")
        if summary.catalog_failed:
            # Every further write would wait for the same lost database (a pool timeout each).
            return Outcome(rid, "not_attempted", stop_reason[0]), False
        return result, True

    def write(rid: int, result: object, settled: list[bool]) -> Outcome:
        """One item's writes (inside the caller's unit of work): record, history event, item done."""
        if isinstance(result, PreparedRecord):
            status = store.upsert(result)
            written = Outcome(rid, status, problems=list(result.record.problems))
        else:
            assert isinstance(result, Outcome)
            written = result
        stored = written.status in {"new", "changed", "unchanged", "restored"}
        if written.status != "not_attempted" and (log_failures or stored):
            store.log_event(rid, written.status, written.detail or "; ".join(written.problems), run_id=run_id)
        if feed is not None:  # "item done" in the same unit of work as the record and its event
            settled[0] = feed.finish(rid, written.status, written.detail or "; ".join(written.problems),
                                     # a failure while the run stops (a full disk…) is the run's, not the item's
                                     retry_later=written.retry_after is not None or written.connect_failed
                                     or stop.is_set())
        return written

    def judge(result: object, outcome: Outcome) -> None:
        """After an item's writes: the quality alarm, a block, an unreachable archive."""
        if isinstance(result, PreparedRecord):
            summary.parsed += 1
            summary.fields.update([*result.present, *fallback_marks(result.record)])
            found = alarms(baseline, summary.fields, summary.parsed, min_pages=quality.quality_min_pages,
                           normal_share=quality.quality_normal_share,
                           alarm_share=quality.quality_alarm_share)
            if found and not summary.alarms:
                # The site's markup has probably changed: stop before more records get thinner.
                summary.alarms = [a.message() for a in found]
                halt("the run stopped on a quality alarm")
        elif outcome.status == "blocked":
            stop.set()
        if outcome.connect_failed and not replayed:
            connect_streak[0] += 1
            if connect_streak[0] >= UNREACHABLE_AFTER and not summary.unreachable:
                summary.unreachable = (f"{connect_streak[0]} IDs in a row could not connect to "
                                       f"{settings.archive.base_url} ({outcome.detail})")
                halt("the run stopped: archive unreachable")
        elif outcome.status != "not_attempted":
            connect_streak[0] = 0

    def report(rid: int, outcome: Outcome, settled: bool) -> None:
        """After the commit: the item is no longer this worker's; the outcome is counted and shown."""
        if feed is not None and settled:
            feed.settled(rid)
        summary.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    def kept(items: list[tuple[int, object]]) -> list[tuple[int, object]]:
        """Before records are stored: their raw responses made durable, one fsync for the lot.
        If the WARC cannot be synced, no record of these is stored and the run stops."""
        if locked is None or not any(isinstance(r, PreparedRecord) for _, r in items):
            return items
        try:
            locked.sync()
        except ArchiveWriteError as exc:
            summary.fatal = summary.fatal or str(exc)
            halt("the run stopped: the raw archive could not be written")
            return [(rid, Outcome(rid, "failed", str(exc)) if isinstance(r, PreparedRecord) else r)
                    for rid, r in items]
        return items

    def finish(rid: int, result: object) -> None:
        """Store one result in its own unit of work (on this thread only), log and report its outcome."""
        result, writable = checked(rid, result)
        if not writable:
            assert isinstance(result, Outcome)
            report(rid, result, False)
            return
        settled = [False]
        try:
            # One unit of work: the record, its derived indexes and its history event commit together
            # (retried once if the connection to a database server was lost).
            outcome = store.write(partial(write, rid, result, settled))
        except LeaseLost as exc:
            # This worker's lease had expired and another worker took the item: nothing was
            # written here (the unit of work rolled back); the other worker stores it.
            settled[0] = True
            outcome = Outcome(rid, "not_attempted", f"left to another worker: {exc}")
        except StoreError as exc:
            # The catalog cannot be written (a full disk, a database server gone for good): nothing
            # half-written (each write is one unit of work), and the run stops with one line.
            summary.fatal = summary.fatal or f"cannot write the catalog {display_name(store.url)}: {exc}"
            summary.catalog_failed = True
            halt("the run stopped: the catalog could not be written")
            outcome = Outcome(rid, "failed", f"not stored: {exc}")
        else:
            judge(result, outcome)
        report(rid, outcome, settled[0])

    def finish_all(items: list[tuple[int, object]]) -> None:
        """Store finished results: several in one unit of work (each item's record, event and
        "item done" still commit together, and a batch commits whole or not at all)."""
        items = kept(items)
        if len(items) == 1:
            finish(*items[0])
            return
        before = (summary.parsed, Counter(summary.fields), list(summary.alarms), summary.unreachable,
                  connect_streak[0], summary.fatal, summary.catalog_failed)

        def restore() -> None:
            (summary.parsed, summary.fields, summary.alarms, summary.unreachable, connect_streak[0],
             summary.fatal, summary.catalog_failed) = (before[0], Counter(before[1]), list(before[2]), *before[3:])

        def one_unit() -> list[tuple[int, Outcome, bool]]:
            restore()  # store.write runs this again after a lost database connection
            done: list[tuple[int, Outcome, bool]] = []
            for rid, result in items:
                result, writable = checked(rid, result)
                if not writable:
                    assert isinstance(result, Outcome)
                    done.append((rid, result, False))
                    continue
                settled = [False]
                outcome = write(rid, result, settled)
                judge(result, outcome)
                done.append((rid, outcome, settled[0]))
            return done

        try:
            done = store.write(one_unit)
        except (LeaseLost, StoreError):
            # Nothing of the batch was written (rolled back). One by one, each in its own unit of
            # work as above, says which item's lease was lost, or stops the run if the catalog
            # cannot be written at all.
            restore()
            for rid, result in items:
                finish(rid, result)
            return
        for rid, outcome, settled in done:
            report(rid, outcome, settled)

    # With a feed, IDs are claimed from the queue as the windows below have room for them.
    source: Iterator[int] = iter(ids) if feed is None else feed.ids(stop.is_set, lambda: fetcher.requests_made)
    executor: Executor
    if processes and index is not None:
        executor = ReplayPoolExecutor(_pool_workers(), settings, index, replayed, store.render_options)
    elif processes:
        executor = LivePoolExecutor(settings.http.concurrency, _live_parse_workers(), settings, replayed, work,
                                    store.render_options)
    else:
        # A replay answers from disk, so there is no latency for threads to overlap, and the
        # parse holds the GIL: more threads only add contention (~10-20 % more CPU a page).
        executor = ThreadExecutor(1 if replayed else settings.http.concurrency, work,
                                  lambda rid, fetched: guarded(rid, partial(
                                      prepared_from_page, rid, page_parts(fetched), replayed=replayed,
                                      options=store.render_options)))
    try:
        # The one loop: keep the executor's window full, store the results as they come (a few
        # at a time on the fast paths: COMMIT_BATCH). After a stop (Ctrl-C, a block, an alarm…)
        # nothing new starts; the IDs left are reported below.
        with executor:
            batch: list[tuple[int, object]] = []
            since = 0.0
            while True:
                while executor.room() > 0 and not stop.is_set():
                    rid = next(source, None)
                    if rid is None:
                        break
                    executor.submit(rid)
                if not executor.busy():
                    break
                for rid, result in executor.collect():
                    if executor.batch == 1:
                        finish_all([(rid, result)])
                        continue
                    if not batch:
                        since = time.monotonic()
                    batch.append((rid, result))
                if batch and (len(batch) >= executor.batch or stop.is_set() or not executor.busy()
                              or time.monotonic() - since >= COMMIT_SECONDS):
                    finish_all(batch)
                    batch = []
            if batch:
                finish_all(batch)
    finally:
        summary.requests = fetcher.requests_made + executor.requests
        fetcher.close()
        if writer is not None:
            writer.close()
            if writer.exchanges == 0:  # nothing was received: no file that only says "warcinfo"
                writer.path.unlink(missing_ok=True)
                summary.warc_file = None
    summary.interrupted = user_stopped()
    finished = {o.record_id for o in summary.outcomes}
    # With a feed: what it claimed, then the IDs it was to work on and never reached.
    claimed = set(feed.claimed) if feed is not None else set()
    wanted = ids if feed is None else [*feed.claimed, *(i for i in ids if i not in claimed)]
    for rid in wanted:  # IDs a stop left in the queue (the windows above stop refilling)
        if rid not in finished:
            summary.outcomes.append(Outcome(rid, "not_attempted", _stop_reason()))
    position = {rid: i for i, rid in enumerate(wanted)}
    summary.outcomes.sort(key=lambda o: position[o.record_id])
    return summary


def ids_in_archive(path: str | Path | WarcIndex) -> list[int]:
    """Record IDs whose /document/<ID> request is in the WARC files, and those the index was
    pointed at another recorded request for (`WarcIndex.add_page`): what a reparse can rebuild."""
    index = path if isinstance(path, WarcIndex) else WarcIndex(path)
    found = set(index.page_urls)
    for url in index.urls():
        match = _DOC_ID_URL.search(url)
        if match:
            found.add(int(match.group(1)))
    return sorted(found)


@dataclass
class _Recorded:
    """What reparse needs of the catalog's provenance, read in one pass over the stored records."""

    replayed_from: list[str] = field(default_factory=list)  # recordings records were replayed from
    requests: list[tuple[int, str | None, str | None]] = field(default_factory=list)  # (ID, request, page)


def _recorded(store: CatalogStore) -> _Recorded:
    found = _Recorded()
    seen: set[str] = set()
    for raw in store.iter_raw(brief=True):  # the stored JSON: no model to build, a damaged row is skipped
        try:
            prov = json.loads(raw.json).get("provenance") or {}
        except ValueError:
            continue
        request, page, name = prov.get("request_url"), prov.get("final_url"), prov.get("warc_file")
        found.requests.append((raw.record_id, request if isinstance(request, str) else None,
                               page if isinstance(page, str) else None))
        if prov.get("replayed") and isinstance(name, str) and name not in seen:
            seen.add(name)
            found.replayed_from.append(name)
    return found


def _point_at_recorded_requests(index: WarcIndex, recorded: _Recorded, base_url: str) -> None:
    """Point the replay at the request each record came from when /document/<ID> is not recorded.

    A sync asks /document/<slug> (one request, no redirect), so its recordings hold no
    /document/<ID> request; the record's provenance names the page. The parse still checks
    that the page is that record's (its Record ID), so a stale mapping fails, never overwrites.
    """
    for record_id, request, page in recorded.requests:
        if f"{base_url}/document/{record_id}" in index:
            continue
        # The request as it was made (a redirect then replays as it went), else the page it gave.
        for url in (request, page):
            if url is not None and index.add_page(record_id, url):
                break


def reparse_sources(settings: Settings, recorded: _Recorded) -> list[Path]:
    """Where `reparse` reads by default: storage.warc_dir (live harvests), and every recording
    that records were replayed from (their provenance names the file), wherever it is."""
    sources: list[Path] = []
    warc_dir = Path(settings.storage.warc_dir)
    if warc_dir.exists():
        sources.append(warc_dir)
    for name in recorded.replayed_from:
        path = Path(name)
        if path.is_absolute() and path.is_file() and not path.is_relative_to(warc_dir.resolve()):
            sources.append(path)
    return sources


def reparse(*, settings: Settings, store: CatalogStore, source: str | Path | None = None,
            progress: Callable[[Outcome], None] | None = None, processes: bool | None = None,
            cancel: threading.Event | None = None) -> HarvestSummary:
    """Rebuild records from the raw archive, with no network: a harvest replayed from our own WARC.

    Only IDs whose page is in the recordings are rebuilt; the others are left as they are and
    counted in `skipped`. A failure is reported, never written into a record's history.
    """
    recorded = _recorded(store)
    sources: list[Path] = [Path(source)] if source else reparse_sources(settings, recorded)
    where = source or f"{settings.storage.warc_dir} (storage.warc_dir) or the recordings records came from"
    if not warc_files(sources):
        raise FileNotFoundError(f"no WARC files in {where}; name a recording with --replay")
    # One scan of the archive serves both the ID list and the replay (scanning is ~1 ms a page).
    index = WarcIndex(sources)
    bad = {path for path, _ in index.skipped}
    if not [f for f in index.files if f not in bad]:
        skipped = "; ".join(f"{path.name}: {why}" for path, why in index.skipped)
        raise FileNotFoundError(f"no readable WARC files in {where}" + (f" ({skipped})" if skipped else ""))
    _point_at_recorded_requests(index, recorded, settings.archive.base_url)
    replayable = set(ids_in_archive(index))
    if not replayable:
        raise FileNotFoundError(f"no document pages in the WARC files of {source or 'storage.warc_dir'}")
    ids = sorted(replayable)
    summary = harvest(ids, settings=settings, store=store, replay=index, progress=progress, processes=processes,
                      cancel=cancel, log_failures=False)
    summary.skipped = len(set(store.record_ids()) - replayable)
    return summary


def record(ids: list[int], *, settings: Settings, out: str | Path, append: bool = False) -> HarvestSummary:
    """Record live responses (redirects included) into one WARC file, for fixtures. Catalog untouched.

    The file is replaced (written beside it, renamed at the end, so a failed recording leaves
    the old one), or with `append=True` added to; a reconstructed fixture is never appended
    to, so its "reconstructed" warcinfo never heads live responses.
    """
    target = Path(out)
    summary = HarvestSummary(warc_file=str(target))
    if append and target.exists() and "reconstructed" in warcinfo_text(target).lower():
        raise FileExistsError(f"{target} is a reconstructed fixture, not a recording: replace it "
                              "(leave out --append) rather than add live responses to it")
    # The temporary name keeps the target's suffix: .gz decides whether the writer compresses.
    path = target if append else target.with_name(f".part-{target.name}")
    with WarcWriter(path, software=f"wcda-harvester/{__version__}", operator=settings.archive.contact,
                    replace=not append) as writer:
        fetcher = Fetcher(settings, on_exchange=LockedWriter(writer))
        try:
            for rid in ids:
                try:
                    result = fetcher.get(fetcher.document_url(rid))
                    summary.outcomes.append(Outcome(rid, "new", f"recorded {result.final_url}"))
                except Blocked as exc:
                    summary.outcomes.append(Outcome(rid, "blocked", str(exc)))
                    break
                except FetchError as exc:
                    # 404s and the like are recorded too: they make good fixtures.
                    summary.outcomes.append(Outcome(rid, "failed", str(exc)))
        finally:
            summary.requests = fetcher.requests_made
            fetcher.close()
    if not append:
        if writer.exchanges:
            os.replace(path, target)
        else:  # nothing recorded: keep what was there
            path.unlink(missing_ok=True)
            summary.warc_file = None
    return summary
