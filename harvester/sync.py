"""The scheduled sync: discover new documents, revalidate known ones, tombstone the gone.

One run, in phases: robots (fetch robots.txt once, take the quality baseline) →
discover (walk /search?page=N, newest first, fetch only slugs the catalog lacks, stop
after `stop_after_known_pages` pages with nothing new, or at the end with --full) →
revalidate (a queue fixed once per run: records with a pending 404, overdue records,
then the oldest-checked up to a daily share; conditional GETs) → report.

Resumability: every item (listing page, discovered slug, revalidated record) is
committed in ONE transaction with the catalog change it caused and its `sync_item`
row; the item row is the checkpoint. A run killed at any moment restarts after its last
committed item; only the item in flight is fetched again. The listing page's slugs are
stored with its item, so a resume never re-fetches a listing page either.

Deletions only ever come from a document's own 404/410, counted once per run, and only
`tombstone_after` consecutive ones make a tombstone. Listings, 5xx, timeouts and
blocks never delete anything.

Several workers: discovery (robots, the listing, new slugs, building the revalidation
queue) is done by one worker at a time under the coordinator lease "discovery"
(catalog/runs.py); the revalidation queue goes into the catalog's work queue (batch
`sync:<run>`), and every `sync` and `harvester work` of the catalog revalidates from it,
each item finished in the transaction of its outcome. Within one worker processing is
sequential on purpose: politeness caps the rate anyway (shared by every worker through
the catalog), and one item at a time keeps the checkpoint exact.

Hostile answers: one bad item (an unreadable Record ID, a parser or library bug) becomes
a failed item with its reason, never the end of the run. A discovered page that claims
the Record ID of a record the catalog holds under another slug is a *conflict*: recorded,
kept in the WARC, never stored over that record (unless the archive itself says the slug
was renamed). The run stops, and says why, when the archive asks for a longer pause than
http.backoff_max (status asked_to_wait), when robots.txt asks for a Crawl-delay over
sync.max_crawl_delay, and when the catalog or the WARC cannot be written (a full disk).
No wait and no request outlasts --max-minutes.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from catalog.changes import change_note, diff_note
from catalog.errors import (
    ArchiveWriteError,
    AskedToWait,
    Blocked,
    FetchError,
    Gone,
    HarvesterError,
    LeaseLost,
    NotFound,
    OutOfTime,
    ParseError,
    RecordValidationError,
    StoreError,
)
from catalog.quality import alarms, catalog_coverage, fallback_counts, fallback_marks, present_fields
from catalog.runs import DISCOVERY, Lease, LockLost, RunInfo, Runs
from catalog.store import CatalogStore, to_db_time, utcnow
from catalog.store.api import WorkerRow, WorkItem
from harvester import __version__
from harvester.commands import EXIT_WAIT
from harvester.config import Settings
from harvester.discover import Listing, document_url, listing_url, parse_listing
from harvester.http import Fetcher, FetchResult
from harvester.idlist import RECORD_ID
from harvester.normalize import build_record
from harvester.parse import parse_page
from harvester.parse_worker import provenance_for, record_from_result
from harvester.politeness import catalog_limiter
from harvester.robots import RobotsRules, RobotsUnavailable, apply_crawl_delay, fetch_robots
from harvester.warc import LockedWriter, WarcWriter
from harvester.work import REVALIDATE, reap_dead_workers, worker_identity

Progress = Callable[[str], None]
NEW_OUTCOMES = ("new", "restored")
# Stops that say something about the archive (or the catalog), not about one worker: they end
# the run for every worker of it. A budget ends only the worker that ran out of it.
_RUN_WIDE = frozenset({"blocked", "asked_to_wait", "quality_alarm", "failed"})
# How often a worker with nothing to claim looks again while others finish the run's last items.
POLL_SECONDS = 0.25


DISCOVER = "discover"  # a work item of a sync: a new slug of a listing page (REVALIDATE: a record)


def sync_batch(run_id: str) -> str:
    """The work-queue batch of one sync run: its new slugs and revalidation items."""
    return f"sync:{run_id}"


class _Stop(Exception):
    """Ends the run early: status and reason for the report."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class SyncResult:
    run_id: str
    status: str  # finished, budget, blocked, asked_to_wait, quality_alarm, failed, interrupted (lock lost)
    resumed: bool
    report: dict[str, Any] = field(default_factory=dict)
    items: int = 0  # queue items this worker did (the run's counts are in the report)

    @property
    def exit_code(self) -> int:
        return exit_code(self.report)


def exit_code(report: dict[str, Any]) -> int:
    """0 all good (a budget stop included), 1 some items failed, a conflict or a quality alarm,
    2 blocked/fatal, 75 (EXIT_WAIT) the archive asked us to wait longer than http.backoff_max."""
    if report.get("status") in {"blocked", "failed", "interrupted"}:
        return 2
    if report.get("status") == "asked_to_wait":
        return EXIT_WAIT
    counts = report.get("counts", {})
    if (counts.get("failed", 0) or counts.get("blocked", 0) or counts.get("conflict", 0)
            or report.get("quality", {}).get("alarms")):
        return 1
    return 0


class _Heartbeat(threading.Thread):
    """Renews this worker's coordinator lease (while it walks the listing) and its item leases,
    also while a long request or a Retry-After pause is in progress."""

    def __init__(self, runs: Runs, worker_id: str, settings: Settings, lease: Lease | None) -> None:
        super().__init__(name="sync-heartbeat", daemon=True)
        self.runs, self.worker_id, self.lease = runs, worker_id, lease
        self.lease_seconds = settings.queue.lease_seconds
        # A third of the shorter lease: the discovery lease may be taken later (a holder that died).
        self.interval = min(self.lease_seconds, settings.queue.coordinator_lease_seconds) / 3
        self.stopped = threading.Event()
        self.lost = False  # the coordinator lease was taken over: stop discovering

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            lease = self.lease
            if lease is not None:
                try:
                    self.runs.lease_renew(lease)
                except LockLost:
                    self.lost, self.lease = True, None
                except HarvesterError:  # a busy database now and then: try again next beat
                    pass
            try:
                self.runs.store.work_renew(self.worker_id, lease_seconds=self.lease_seconds)
            except HarvesterError:  # the item's finish fails on its own (LeaseLost) if the lease ran out
                pass

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=5)


def _live_leases(store: CatalogStore, batch: str) -> bool:
    """Whether live workers hold items of a sync run's queue (leased, and not expired)."""
    counts = store.work_counts(batch)
    return counts["leased"] - counts["expired"] > 0


def run_sync(
    *,
    settings: Settings,
    store: CatalogStore,
    full: bool = False,
    recheck_all: bool = False,
    progress: Progress | None = None,
    notice: Progress | None = None,
) -> SyncResult:
    """Run (or resume, or join) one sync.

    Discovery (robots.txt, walking the listing, building the revalidation queue) is done
    under the coordinator lease "discovery": one worker of the catalog at a time. The
    revalidation items go into the work queue (batch `sync:<run>`), and every sync of the
    catalog, and every `harvester work` (see `help_sync`), revalidates from it. A sync
    that finds discovery taken says so once (`notice`), waits for the queue, and works it.
    """
    runs = Runs(store)
    worker_id, host, pid = worker_identity()
    ttl = settings.queue.coordinator_lease_seconds
    lease: Lease | None = None
    said = False
    began = time.monotonic()
    while True:
        got = runs.lease_take(DISCOVERY, holder=worker_id, ttl=ttl)
        info = runs.unfinished()
        if isinstance(got, Lease):
            lease = got
            break
        if not said and notice is not None:
            notice(f"discovery is being done by {got.owner_host} pid {got.owner_pid}, working the queue instead")
            said = True
        if info is not None and info.checkpoint.get("robots_done"):
            break  # the run is under way (its robots.txt and baseline are kept): work its queue
        limit = settings.sync.max_minutes
        if limit is not None and time.monotonic() - began >= limit * 60:
            return SyncResult(info.run_id if info else "", "budget", False,
                              {"status": "budget", "stop_reason": f"time budget reached ({limit:g} minutes) "
                                                                  "while another sync walked the listing"})
        time.sleep(min(1.0, ttl / 10))
    resumed = joined = False
    if info is None:
        assert lease is not None
        run_id = runs.create({"full": full, "recheck_all": recheck_all,
                              "sync": settings.sync.model_dump(), "tool_version": __version__})
        info = runs.get(run_id)
        assert info is not None
    else:
        # Another worker is on the run (its items are leased and alive): this sync joins it.
        # Otherwise the run was left by a worker that died or stopped: this sync resumes it.
        reap_dead_workers(store)
        joined = _live_leases(store, sync_batch(info.run_id)) or lease is None
        resumed = not joined
    if lease is not None:
        runs.lease_renew(lease, run_id=info.run_id)
    with _worker_session(settings, store, runs, (worker_id, host, pid), lease) as session:
        if resumed:
            runs.begin_attempt(info.run_id, session.warc)
            if progress:
                progress(f"resuming run {info.run_id} (attempt {info.attempts + 1}, phase {info.phase})")
        else:
            runs.add_warc_file(info.run_id, session.warc)
        if joined and progress:
            progress(f"joining run {info.run_id}: revalidating from its queue")
        session.run = _Run(settings, store, runs, info, session.fetcher, session.heart, progress,
                           worker_id=worker_id, lease=lease)
        return session.run.execute(resumed)


def help_sync(*, settings: Settings, store: CatalogStore, progress: Progress | None = None,
              cancel: threading.Event | None = None) -> SyncResult | None:
    """`harvester work` helping a running sync: revalidate items of its queue until none is left
    to claim (or `cancel`, or this worker's budget in settings.sync). None when no sync has items
    waiting. The last worker to finish the run's items ends the run (whichever it is)."""
    runs = Runs(store)
    info = runs.unfinished()
    if info is None or not info.checkpoint.get("robots_done"):
        return None
    reap_dead_workers(store)
    counts = store.work_counts(sync_batch(info.run_id))
    if counts["pending"] + counts["expired"] == 0:
        return None
    worker_id, host, pid = worker_identity()
    if progress:
        progress(f"helping sync run {info.run_id}: {counts['pending'] + counts['expired']} item(s) waiting")
    with _worker_session(settings, store, runs, (worker_id, host, pid), None) as session:
        runs.add_warc_file(info.run_id, session.warc)
        session.run = _Run(settings, store, runs, info, session.fetcher, session.heart, progress,
                           worker_id=worker_id, lease=None, helper=True, cancel=cancel)
        return session.run.execute(False)


@dataclass
class _Session:
    """One worker's part in a sync run: its heartbeat, fetcher, WARC file, and the run it works."""

    heart: _Heartbeat
    fetcher: Fetcher
    warc: str  # the WARC file this worker's responses go to
    run: _Run | None = None


@contextmanager
def _worker_session(settings: Settings, store: CatalogStore, runs: Runs, worker: tuple[str, str, int],
                    lease: Lease | None) -> Iterator[_Session]:
    """Register the worker, keep its heartbeat, fetch into a new WARC file; at the end give back an
    unfinished item, close what was opened, release a lease still held and sign the worker off."""
    worker_id, host, pid = worker
    now = to_db_time(utcnow())
    store.worker_start(WorkerRow(worker_id, host, pid, now, now, 0, None))
    heart = _Heartbeat(runs, worker_id, settings, lease)
    heart.start()
    writer: WarcWriter | None = None
    fetcher: Fetcher | None = None
    session: _Session | None = None
    try:
        writer = WarcWriter.in_directory(settings.storage.warc_dir, prefix="sync",
                                         software=f"wcda-harvester/{__version__}", operator=settings.archive.contact)
        fetcher = Fetcher(settings, on_exchange=LockedWriter(writer), limiter=catalog_limiter(settings, store))
        session = _Session(heart, fetcher, str(writer.path))
        yield session
    finally:
        heart.stop()
        if session is not None and session.run is not None:
            session.run.give_back()
        if fetcher is not None:
            fetcher.close()
        if writer is not None:
            writer.close()
        if heart.lease is not None:  # the run's discovery lease, when this worker held it at the end
            runs.lease_release(heart.lease)
        try:
            store.worker_stop(worker_id)
        except StoreError:
            pass


class _Run:
    def __init__(self, settings: Settings, store: CatalogStore, runs: Runs, info: RunInfo, fetcher: Fetcher,
                 heart: _Heartbeat, progress: Progress | None, *, worker_id: str, lease: Lease | None,
                 helper: bool = False, cancel: threading.Event | None = None) -> None:
        self.settings = settings
        self.store = store
        self.runs = runs
        self.info = info
        self.run_id = info.run_id
        self.fetcher = fetcher
        self.heart = heart
        self.progress = progress
        self.full = bool(info.params.get("full"))
        self.recheck_all = bool(info.params.get("recheck_all"))
        self.checkpoint: dict[str, Any] = dict(info.checkpoint)
        self.worker_id = worker_id
        self.lease = lease  # the coordinator lease, while this worker walks the listing
        self.helper = helper  # a `harvester work` helping: never discovers, its stops are its own
        self.cancel = cancel
        self.batch = sync_batch(info.run_id)
        self.held: WorkItem | None = None  # the queue item being revalidated
        self.saved_requests = 0  # of this worker's requests, those already added to the run's count
        self.items_done = 0
        self.pages: dict[str, int] = {}  # slug -> the listing page that listed it
        self.started = time.monotonic()
        if settings.sync.max_minutes is not None:
            # No request, and no wait before one (Crawl-delay, Retry-After), outlasts the budget.
            fetcher.set_budget(settings.sync.max_minutes * 60)
        self.base_url = settings.archive.base_url
        self.robots: RobotsRules | None = None
        # Running field coverage of this run's parsed pages (carried over on resume), so the
        # quality alarm can stop a run before a markup change degrades more of the catalog.
        counts = runs.counts(self.run_id)
        self.parsed, self.field_counts = counts.parsed, dict(counts.fields)

    # -- the run ---------------------------------------------------------------
    def execute(self, resumed: bool) -> SyncResult:
        status, reason = "finished", ""
        try:
            self._prepare()
            if self.lease is not None:
                self._coordinate()
            self._work()
        except _Stop as stop:
            status, reason = stop.status, stop.reason
        except LockLost as exc:
            # Someone else owns discovery now: leave the run "running" for them, write nothing more.
            return SyncResult(self.run_id, "interrupted", resumed, {"status": "interrupted", "stop_reason": str(exc)})
        except (StoreError, ArchiveWriteError) as exc:
            # A full disk (or a broken catalog): one line, exit 2. Every item is one transaction,
            # so nothing is half-written; if even this run's end cannot be written, the run
            # stays "running" and the next sync resumes it once there is room.
            reason = _storage_message(exc)
            try:
                self.give_back()
                self._save_requests()
                self._end("failed", reason)
            except StoreError:
                pass
            return SyncResult(self.run_id, "failed", resumed, {"run_id": self.run_id, "status": "failed",
                                                              "stop_reason": reason})
        except Exception as exc:  # a bug outside any one item: the run ends "failed", never stuck "running"
            status, reason = "failed", f"unexpected error: {type(exc).__name__}: {exc}"[:500]
        self.give_back()
        self._save_requests()
        ended = False
        if status in _RUN_WIDE or ((status == "finished" or not self.helper) and not self._others_on_it()):
            # This worker ends the run: the queue is empty, or the archive (or a bug) stopped it,
            # or a sync's budget ran out with nobody else left on the run (as one sync always did).
            # A helper's own budget or SIGTERM never ends the run: the sync it helps goes on.
            ended = self._end(status, reason)
        # Built after the end so it has the end time; `report` rebuilds it if a kill lands in between.
        report = build_report(self.runs, self.run_id, self.settings)
        if ended:
            self.runs.set_fields(self.run_id, report=report)
        if report["status"] == "running":
            # Others go on with the run: this worker's own stop (a budget) is what it reports.
            report = {**report, "status": status, "stop_reason": reason}
        return SyncResult(self.run_id, report["status"], resumed, report, items=self.items_done)

    def _coordinate(self) -> None:
        """Under the discovery lease: walk the listing (resuming where the run's checkpoint says),
        queue the revalidation, then let the lease go so another sync need not wait for it."""
        assert self.lease is not None
        latest = self.runs.get(self.run_id)
        if latest is not None:  # taken over from a holder that died: go on from its checkpoint
            self.checkpoint = dict(latest.checkpoint)
        if not self.checkpoint.get("discover_done"):
            self._discover()
        self._enqueue()
        self.heart.lease = None
        self.runs.lease_release(self.lease)
        self.lease = None

    def _others_on_it(self) -> bool:
        """Whether other live workers still hold items of this run."""
        return _live_leases(self.store, self.batch)

    def _end(self, status: str, reason: str) -> bool:
        """End the run (once, whichever worker gets here first) and drop what is left of its queue:
        the other workers find nothing more to claim, and the next sync starts a new run. Items
        the queue failed without an outcome of the run (their worker died on every attempt) are
        counted as failed items of the run."""
        with self.store.unit_of_work():
            ended = self.runs.finish(self.run_id, status, {}, stop_reason=reason)
            if ended:
                for item in self.store.work_items(self.batch, state="failed"):
                    if self.runs.item(self.run_id, item.kind, item.key) is None:
                        self.runs.add_item(self.run_id, item.kind, item.key, "failed", detail=item.detail,
                                           record_id=int(item.key) if item.key.isdigit() else None)
                self.store.work_clear(self.batch)
        return ended

    def _prepare(self) -> None:
        """robots.txt (fetched once per run, kept in the run row) and the quality baseline."""
        if "robots_done" not in self.checkpoint:
            text: str | None = None
            if self.settings.sync.respect_robots:
                try:
                    text = fetch_robots(self.fetcher)
                except Blocked as exc:
                    raise _Stop("blocked", f"robots.txt: {exc}") from exc
                except (OutOfTime, AskedToWait) as exc:
                    raise self._stop_for(exc) from exc
                except RobotsUnavailable as exc:
                    raise _Stop("failed", f"robots.txt could not be read ({exc}); not crawling without it") from exc
            self.checkpoint["robots_done"] = True
            with self.store.unit_of_work():
                baseline = catalog_coverage(self.store)
                self.runs.set_fields(self.run_id, robots=text, baseline=baseline, checkpoint=self.checkpoint,
                                     phase="discover")
                made = self._add_requests()
            self.saved_requests = made
            self.info.robots = text
            self.info.baseline = baseline
        if self.info.robots is not None and self.settings.sync.respect_robots:
            self.robots = RobotsRules.from_text(self.info.robots)
            asked = self.robots.crawl_delay(self.fetcher.user_agent)
            most = self.settings.sync.max_crawl_delay
            if asked is not None and asked > most:
                raise _Stop("failed", f"robots.txt asks for Crawl-delay {asked:g} s, over sync.max_crawl_delay "
                                      f"({most:g} s): not crawling at that pace "
                                      "(raise sync.max_crawl_delay to accept it)")
            delay = apply_crawl_delay(self.fetcher, self.robots)
            if delay and self.progress:
                self.progress(f"robots.txt asks for Crawl-delay {delay:g}s; obeying it")

    # -- budget, robots, bookkeeping ---------------------------------------------
    def _add_requests(self) -> int:
        """Add this worker's requests not yet counted to the run (in the caller's unit of work);
        returns the count to note as saved once that unit commits. Each worker of a sync adds its
        own, so the run's count is the sum over all of them and all attempts."""
        made = self.fetcher.requests_made
        self.runs.add_requests(self.run_id, made - self.saved_requests)
        return made

    def _save_requests(self) -> None:
        self.saved_requests = self._add_requests()

    def _check_budget(self) -> None:
        if self.heart.lost:
            raise LockLost("the discovery lease was taken over by another process; this sync stops")
        if self.cancel is not None and self.cancel.is_set():
            raise _Stop("interrupted", "stopped (Ctrl-C or SIGTERM)")
        sync = self.settings.sync
        if sync.max_requests is not None and self.fetcher.requests_made >= sync.max_requests:
            raise _Stop("budget", f"request budget reached ({sync.max_requests} requests)")
        if sync.max_minutes is not None and time.monotonic() - self.started >= sync.max_minutes * 60:
            raise _Stop("budget", f"time budget reached ({sync.max_minutes:g} minutes)")
        found = alarms(self.info.baseline, self.field_counts, self.parsed, min_pages=sync.quality_min_pages,
                       normal_share=sync.quality_normal_share, alarm_share=sync.quality_alarm_share)
        if found:
            # The site's markup has probably changed: stop before more records are overwritten
            # with thinner ones. The raw pages are in the WARC, so `reparse` after a parser fix
            # restores what this run already changed.
            raise _Stop("quality_alarm", "; ".join(a.message() for a in found))

    def _stop_for(self, exc: OutOfTime | AskedToWait) -> _Stop:
        if isinstance(exc, AskedToWait):
            return _Stop("asked_to_wait", exc.detail)
        return _Stop("budget", f"time budget reached ({self.settings.sync.max_minutes:g} minutes): {exc.detail}")

    def _get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """fetcher.get, with the run-wide stops turned into the end of the run (the item in
        flight is not recorded, so a resumed run asks for it again)."""
        try:
            return self.fetcher.get(url, etag=etag, last_modified=last_modified)
        except (OutOfTime, AskedToWait) as exc:
            raise self._stop_for(exc) from exc

    def _guarded(self, kind: str, key: str, step: Callable[[], None], **kw: Any) -> None:
        """One item; a bug (ours or a library's) on it fails this item, never the run."""
        try:
            step()
        except (_Stop, LockLost, LeaseLost, StoreError, ArchiveWriteError):
            raise
        except Exception as exc:
            self._done(kind, key, "failed", detail=f"unexpected error: {type(exc).__name__}: {exc}"[:500], **kw)

    def _allowed(self, url: str) -> bool:
        return self.robots is None or self.robots.allows(url, self.fetcher.user_agent)

    def _done(self, kind: str, key: str, outcome: str, **kw: Any) -> None:
        """Log an item and save the request count, inside the caller's transaction if any."""
        held = self.held
        finishing = held is not None and held.kind == kind and held.key == key  # the queue item this logs
        with self.store.unit_of_work():
            self.runs.add_item(self.run_id, kind, key, outcome, **kw)
            made = self._add_requests()
            if finishing:
                assert held is not None
                # "item done" in the unit of work of its outcome: LeaseLost (another worker has the
                # item now) rolls all of it back, so an item is never counted twice.
                self.store.work_finish(held.id, self.worker_id, state="failed" if outcome in ("failed", "blocked")
                                       else "done", outcome=outcome, detail=kw.get("detail") or "")
        self.saved_requests = made
        if finishing:
            self.held = None
            self.items_done += 1
        if kw.get("fields") is not None:
            self.parsed += 1
            for name in kw["fields"]:
                self.field_counts[name] = self.field_counts.get(name, 0) + 1
        if self.progress:
            detail = kw.get("detail") or ""
            self.progress(f"{kind} {key}: {outcome}" + (f" ({detail})" if detail else ""))

    # -- discover ----------------------------------------------------------------
    def _discover(self) -> None:
        sync = self.settings.sync
        while True:
            page = int(self.checkpoint.get("page", 0))
            listing = self._listing(page)
            if listing is None:  # the listing ended or failed: discovery is over, revalidation goes on
                self._checkpoint(discover_done=True)
                return
            fresh = [slug for slug in listing.slugs
                     if self.runs.item(self.run_id, DISCOVER, slug) is None and not self._known(slug)]
            if fresh:
                # The page's new slugs go into the work queue: every worker of the run may fetch
                # them; this one works them too and waits for the page's last one before it
                # judges the page (nothing new on it?) and walks on.
                self.pages.update(dict.fromkeys(fresh, page))  # _page_of need not read the listing items again
                self.store.work_add(self.batch, DISCOVER, fresh, reset_finished=False)
                self._work(drain=True)
            new = sum(1 for r in self.runs.items(self.run_id, "discover", page=page) if r.outcome in NEW_OUTCOMES)
            streak = 0 if new else int(self.checkpoint.get("known_streak", 0)) + 1
            enough = not self.full and streak >= sync.stop_after_known_pages
            self._checkpoint(page=page + 1, known_streak=streak, discover_done=enough or listing.is_last_page)
            if enough or listing.is_last_page:
                return

    def _checkpoint(self, **values: Any) -> None:
        self.checkpoint.update(values)
        self.runs.set_fields(self.run_id, checkpoint=self.checkpoint)

    def _listing(self, page: int) -> Listing | None:
        done = self.runs.item(self.run_id, "listing", str(page))
        if done is not None:  # fetched before a kill: its slugs were kept, never fetch it again
            if done.outcome != "listed":
                return None
            data = json.loads(done.detail)
            return Listing(page=page, slugs=data["slugs"], last=data.get("last"), total=data.get("total"))
        self._check_budget()
        url = listing_url(self.base_url, page)
        if not self._allowed(url):
            self._done("listing", str(page), "disallowed", detail="robots.txt disallows the search listing")
            return None
        try:
            result = self._get(url)
        except Blocked as exc:
            self._done("listing", str(page), "blocked", detail=str(exc))
            raise _Stop("blocked", str(exc)) from exc
        except (NotFound, Gone):
            self._done("listing", str(page), "end", detail="no such listing page")
            return None
        except FetchError as exc:
            # A missing listing ends discovery for tonight; it never deletes anything.
            self._done("listing", str(page), "failed", detail=f"search listing page {page}: {exc}")
            return None
        try:
            listing = parse_listing(result.response.body, page=page,
                                    content_type=result.response.header("Content-Type"))
        except Exception as exc:  # a poison listing ends discovery for tonight, never the run
            self._done("listing", str(page), "failed", detail=f"search listing page {page}: unreadable: "
                                                              f"{type(exc).__name__}: {exc}"[:500])
            return None
        self._done("listing", str(page), "listed",
                   detail=json.dumps({"slugs": listing.slugs, "last": listing.last, "total": listing.total,
                                      "selector": listing.selector}))
        return listing

    def _known(self, slug: str) -> bool:
        return self.store.has_slug(slug)

    def _discover_one(self, slug: str, page: int | None) -> None:
        url = document_url(self.base_url, slug)
        if not self._allowed(url):
            self._done("discover", slug, "disallowed", page=page, detail="robots.txt disallows it")
            return
        try:
            result = self._get(url)
        except Blocked as exc:
            self._done("discover", slug, "blocked", page=page, detail=str(exc))
            raise _Stop("blocked", str(exc)) from exc
        except (NotFound, Gone) as exc:
            self._done("discover", slug, "not_found", page=page, detail=f"listed but {exc}")
            return
        except FetchError as exc:
            self._done("discover", slug, "failed", page=page, detail=str(exc))
            return
        try:
            # The listing gives a slug; the Record ID is read from the page itself.
            parsed = parse_page(result.response.body, record_id=slug, final_url=result.final_url,
                                content_type=result.response.header("Content-Type"))
            shown = parsed.info.get("record_id")
            shown = shown[0] if isinstance(shown, list) and shown else shown
            shown = shown.strip() if isinstance(shown, str) else ""
            if not shown:
                raise ParseError(slug, "no Record ID shown on the page, so it cannot be catalogued")
            # ASCII digits only ("²", "١٢٣" pass str.isdigit()), and small enough for SQLite.
            if not RECORD_ID.fullmatch(shown) or int(shown) == 0:
                raise ParseError(slug, f"the Record ID shown ({shown[:40]!r}) is not a plain number of up to "
                                       "15 digits, so the page cannot be catalogued")
            record_id = int(shown)
            record = build_record(parsed, provenance_for(result, replayed=False), requested_id=record_id)
        except (ParseError, RecordValidationError) as exc:
            self._done("discover", slug, "failed", page=page, detail=str(exc))
            return
        conflict = self._conflict(record_id, record.slug, result)
        if conflict:
            with self.store.unit_of_work():
                self.store.log_event(record_id, "conflict", conflict, run_id=self.run_id)
                self._done("discover", slug, "conflict", page=page, record_id=record_id, detail=conflict)
            return
        with self.store.unit_of_work():
            before = self.store.get(record_id)
            outcome = self.store.upsert(record)
            note = change_note(before.record if before else None, record) if outcome == "changed" else ""
            # the history event keeps the old and new values too (the web catalog's /changes shows them)
            event = diff_note(before.record if before else None, record) if note else ""
            self.store.log_event(record_id, outcome, "; ".join([event, *record.problems] if event else record.problems),
                                 run_id=self.run_id)
            self._done("discover", slug, outcome, page=page, record_id=record_id, detail=note,
                       fields=present_fields(record) + fallback_marks(record))

    def _conflict(self, record_id: int, new_slug: str | None, result: FetchResult) -> str | None:
        """Why this page must not be stored as `record_id`, or None.

        A page claiming the Record ID of a record held under another slug is either that
        record renamed, which the archive confirms (/document/<ID>, or the old slug,
        redirects to the new slug: one request each, the page itself is not fetched again),
        or a conflict that must never overwrite the record.
        """
        old_slug = self.store.slug_of(record_id)
        if old_slug is None or not new_slug or old_slug == new_slug:
            return None
        for url in (self.fetcher.document_url(record_id), document_url(self.base_url, old_slug)):
            if not self._allowed(url):
                continue
            try:
                target = self.fetcher.location(url)
            except Blocked as exc:
                self._done("discover", new_slug, "blocked", detail=str(exc))
                raise _Stop("blocked", str(exc)) from exc
            except (OutOfTime, AskedToWait) as exc:
                raise self._stop_for(exc) from exc
            except FetchError:
                continue
            if target and urlparse(target).path.rstrip("/").endswith(f"/document/{new_slug}"):
                return None  # a real rename: the archive sends the old address to the new page
        kept = (f"; the page is kept in {result.response.warc_file} ({result.response.warc_record_id})"
                if result.response.warc_file else "")
        return (f"Record ID conflict: {result.final_url} claims Record ID {record_id}, which the catalog holds "
                f"under the slug {old_slug!r} (and the archive does not redirect it there); not stored{kept}")

    # -- revalidate ---------------------------------------------------------------
    def _enqueue(self) -> None:
        """Build the run's revalidation queue once (under the discovery lease) and put it in the work
        queue, with the checkpoint, in one unit of work. A resumed run makes sure its items are there
        (a run begun by an older version kept only the fixed list)."""
        keys: list[int] | None = self.runs.queue(self.run_id)
        if keys is None:
            queue = self._build_queue()
            with self.store.unit_of_work():
                self.runs.save_queue(self.run_id, queue, self.checkpoint)
                self.store.work_add(self.batch, REVALIDATE, [str(r) for r in queue], reset_finished=False)
            self.checkpoint["queue_built"] = True
            return
        done = {r.key for r in self.runs.items(self.run_id, "revalidate")}
        left = [str(r) for r in keys if str(r) not in done]
        if left:
            self.store.work_add(self.batch, REVALIDATE, left, reset_finished=False)

    def _work(self, *, drain: bool = False) -> None:
        """Do items of the run's queue (new slugs of a listing page, then the revalidation),
        claimed with a lease, until none is left. While other workers hold the last items, wait
        for them: one that dies leaves its item to be claimed again once its lease expires (at
        once if it died on this host). `drain`: the discovery holder working one listing page's
        items; otherwise the run's queue is only done once discovery has built it, and a
        discovery whose holder died is taken over here."""
        queue = self.settings.queue
        while True:
            self._check_budget()
            claimed = self.store.work_claim(self.worker_id, lease_seconds=queue.lease_seconds, batch=self.batch,
                                            max_attempts=queue.max_attempts)
            if not claimed:
                counts = self.store.work_counts(self.batch)
                idle = counts["pending"] + counts["leased"] == 0
                if self.helper or (idle and (drain or self._discovered())):
                    return
                if idle and self._take_discovery():
                    self._coordinate()
                    continue
                time.sleep(POLL_SECONDS)
                reap_dead_workers(self.store)
                continue
            item = self.held = claimed[0]
            try:
                if self.runs.item(self.run_id, item.kind, item.key) is not None:
                    # Done before (an older version's run, or a kill between two commits): not again.
                    self.store.work_finish(item.id, self.worker_id, state="done", outcome="done",
                                           detail="done earlier in this run")
                    self.held = None
                elif item.kind == DISCOVER:
                    page = self._page_of(item.key)
                    self._guarded(DISCOVER, item.key, functools.partial(self._discover_one, item.key, page),
                                  page=page)
                elif item.kind == REVALIDATE and item.key.isdigit():
                    record_id = int(item.key)
                    self._guarded(REVALIDATE, item.key, functools.partial(self._revalidate_one, record_id),
                                  record_id=record_id)
                else:
                    self._done(item.kind, item.key, "failed", detail=f"not an item of a sync: {item.kind} {item.key!r}")
            except LeaseLost:
                # Our lease ran out and another worker has the item: nothing of ours was written.
                self.held = None
                if self.progress:
                    self.progress(f"{item.kind} {item.key}: left to another worker (lease lost)")

    def _discovered(self) -> bool:
        """Whether discovery has built the run's queue (or the run has ended: nothing more to do)."""
        latest = self.runs.get(self.run_id)
        return latest is None or latest.status != "running" or bool(latest.checkpoint.get("queue_built"))

    def _take_discovery(self) -> bool:
        """Take over discovery when its lease is free or expired (its holder died or stopped)."""
        got = self.runs.lease_take(DISCOVERY, holder=self.worker_id, ttl=self.settings.queue.coordinator_lease_seconds,
                                   run_id=self.run_id)
        if not isinstance(got, Lease):
            return False
        self.lease = self.heart.lease = got
        if self.progress:
            self.progress(f"taking over the discovery of run {self.run_id} (its holder is gone)")
        return True

    def _page_of(self, slug: str) -> int | None:
        """The listing page that listed `slug` (from the run's listing items, which keep their slugs)."""
        if slug not in self.pages:
            for item in self.runs.items(self.run_id, "listing"):
                if item.outcome == "listed":
                    for listed in json.loads(item.detail).get("slugs", []):
                        self.pages.setdefault(listed, int(item.key))
        return self.pages.get(slug)

    def give_back(self) -> None:
        """The item this worker holds unfinished (a stop in the middle of it) goes back to the queue."""
        held, self.held = self.held, None
        if held is not None:
            try:
                self.store.work_release([held.id], self.worker_id)
            except StoreError:  # the catalog is gone: the lease expires on its own
                pass

    def _build_queue(self) -> list[int]:
        """Pending 404s first (so "consecutive" means consecutive runs), then overdue records,
        then the oldest-checked up to a daily share (catalog / revalidate_days), which spreads
        the checks evenly over the days instead of all falling due on the same night."""
        sync = self.settings.sync
        touched = {r.record_id for r in self.runs.items(self.run_id, "discover") if r.record_id is not None}
        rows = self.store.states()
        cutoff = to_db_time(utcnow() - timedelta(days=sync.revalidate_days))
        share = math.ceil(len(rows) / sync.revalidate_days)
        queue: list[int] = []
        for row in rows:
            if row.record_id in touched:
                continue
            pending = row.missing_count > 0 and not row.deleted
            if self.recheck_all or pending or row.last_checked < cutoff or len(queue) < share:
                queue.append(row.record_id)
        return queue

    def _target(self, record_id: int) -> tuple[str, str]:
        """The canonical slug URL (one request, no redirect) and the stable /document/<ID> URL."""
        id_url = self.fetcher.document_url(record_id)
        row = self.store.state(record_id)
        if row is None or not row.slug:
            return id_url, id_url
        # Rebased on the configured archive (a mirror or test server serves the same paths).
        return self.base_url + urlparse(row.url).path, id_url

    def _revalidate_one(self, record_id: int) -> None:
        key = str(record_id)
        target, id_url = self._target(record_id)
        row = self.store.state(record_id)
        deleted = row is not None and row.deleted
        # A tombstone is asked unconditionally: a page that comes back must answer 200, not 304.
        etag, last_modified = (None, None) if deleted else self.store.validators(record_id)
        if not self._allowed(target):
            self._done("revalidate", key, "disallowed", record_id=record_id, detail="robots.txt disallows it")
            return
        try:
            result: FetchResult | None = self._fetch_record(target, id_url, etag, last_modified)
        except Blocked as exc:
            self._done("revalidate", key, "blocked", record_id=record_id, detail=str(exc))
            raise _Stop("blocked", str(exc)) from exc
        except (NotFound, Gone) as exc:
            self._missing(record_id, deleted, exc)
            return
        except FetchError as exc:
            # 5xx, timeouts, 429s after the retries: reported, never counted as missing.
            self._done("revalidate", key, "failed", record_id=record_id, detail=str(exc))
            return
        assert result is not None
        if result.not_modified:
            with self.store.unit_of_work():
                self.store.mark_checked(record_id, found=True)
                self._done("revalidate", key, "not_modified", record_id=record_id)
            return
        try:
            record = record_from_result(result, record_id, replayed=False)
        except (ParseError, RecordValidationError) as exc:
            self._done("revalidate", key, "failed", record_id=record_id, detail=str(exc))
            return
        with self.store.unit_of_work():
            before = self.store.get(record_id)
            outcome = self.store.upsert(record)
            note = change_note(before.record if before else None, record) if outcome == "changed" else ""
            # the history event keeps the old and new values too (the web catalog's /changes shows them)
            event = diff_note(before.record if before else None, record) if note else ""
            self.store.log_event(record_id, outcome, "; ".join([event, *record.problems] if event else record.problems),
                                 run_id=self.run_id)
            self._done("revalidate", key, outcome, record_id=record_id, detail=note,
                       fields=present_fields(record) + fallback_marks(record))

    def _fetch_record(self, target: str, id_url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        try:
            return self._get(target, etag=etag, last_modified=last_modified)
        except (NotFound, Gone):
            if target == id_url or not self._allowed(id_url):
                raise
            # The slug may have changed with the title: /document/<ID> redirects to the new one.
            return self._get(id_url)

    def _missing(self, record_id: int, deleted: bool, exc: FetchError) -> None:
        key = str(record_id)
        limit = self.settings.sync.tombstone_after
        with self.store.unit_of_work():
            if deleted:
                self.store.mark_checked(record_id)
                self._done("revalidate", key, "not_found", record_id=record_id, detail=f"still gone: {exc.detail}")
                return
            misses = self.store.mark_missing(record_id)
            if misses >= limit:
                self.store.tombstone(record_id)
                self.store.log_event(record_id, "tombstoned", f"{exc.detail} on {misses} consecutive syncs",
                                     run_id=self.run_id)
                self._done("revalidate", key, "tombstoned", record_id=record_id,
                           detail=f"{exc.detail} on {misses} consecutive syncs")
            else:
                self.store.log_event(record_id, "not_found", f"{exc.detail} ({misses} of {limit})", run_id=self.run_id)
                self._done("revalidate", key, "not_found", record_id=record_id,
                           detail=f"{exc.detail} ({misses} of {limit} before a tombstone)")


# -- the report ---------------------------------------------------------------------------
REPORT_OUTCOMES = ("new", "changed", "unchanged", "not_modified", "restored", "not_found", "tombstoned",
                   "failed", "blocked", "disallowed", "conflict")


def build_report(runs: Runs, run_id: str, settings: Settings, *, status: str | None = None,
                 stop_reason: str | None = None) -> dict[str, Any]:
    """What a run did, from its items (so it is right for a running or resumed run too)."""
    info = runs.get(run_id)
    if info is None:
        raise KeyError(run_id)
    counts = runs.counts(run_id)
    outcome_counts = {name: counts.outcomes.get(name, 0) for name in REPORT_OUTCOMES}
    outcome_counts["unchanged_total"] = outcome_counts["unchanged"] + outcome_counts["not_modified"]
    sync = settings.sync
    found = alarms(info.baseline, counts.fields, counts.parsed, min_pages=sync.quality_min_pages,
                   normal_share=sync.quality_normal_share, alarm_share=sync.quality_alarm_share)
    base = info.baseline or {"records": 0, "fields": {}}
    fields = {}
    for name, catalog_count in base.get("fields", {}).items():
        run_count = counts.fields.get(name, 0)
        fields[name] = {"run": run_count, "run_share": round(run_count / counts.parsed, 3) if counts.parsed else None,
                        "catalog": catalog_count,
                        "catalog_share": round(catalog_count / base["records"], 3) if base["records"] else None}
    finished = info.finished_at
    store = runs.store
    return {
        "run_id": run_id,
        "status": status or info.status,
        "stop_reason": stop_reason if stop_reason is not None else info.stop_reason,
        "started_at": info.started_at.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "seconds": round(((finished or utcnow()) - info.started_at).total_seconds(), 3),
        "attempts": info.attempts,
        "requests": info.requests,
        "full": bool(info.params.get("full")),
        "recheck_all": bool(info.params.get("recheck_all")),
        "listing_pages": counts.listing_pages,
        "counts": outcome_counts,
        "failures": counts.failures,
        "quality": {"parsed": counts.parsed, "baseline_records": base["records"], "fields": fields,
                    "alarms": [a.message() for a in found],
                    # {field: {alternative: pages}}: fields found by a fallback of the selector table
                    "fallbacks": fallback_counts(counts.fields)},
        "catalog": {"records": store.count(), "deleted": store.count_deleted()},
        "warc_files": info.warc_files,
    }


def due_count(store: CatalogStore, settings: Settings) -> int:
    """Records due for revalidation now: overdue, or with a pending 404."""
    return store.due_count(utcnow() - timedelta(days=settings.sync.revalidate_days))


def _storage_message(exc: BaseException) -> str:
    """One line for a catalog or WARC that cannot be written."""
    if isinstance(exc, ArchiveWriteError):
        return str(exc)
    text = str(exc)
    if "full" in text or "disk" in text.lower():
        return f"the catalog could not be written (is the disk full?): {text}"
    return f"the catalog could not be written: {text}"
