"""Workers on the catalog's work queue: `harvester enqueue`, `harvester work`, and `harvest` on top.

Items live in the catalog (`work_item`, see catalog/store/api.py `WorkItem`), so any
number of worker processes, on one machine or several, share one queue:

- A worker *claims* items with a lease (`queue.lease_seconds`) and renews its leases from
  a heartbeat thread every third of that. A worker that dies (SIGKILL, a power cut, a
  lost database) stops renewing; once its leases expire another worker claims the items.
- Finishing an item is one unit of work: the record, its history event and "item done"
  commit together (`WorkFeed.finished`, called by the pipeline inside its write). A
  worker whose lease passed to another worker cannot finish the item (LeaseLost rolls the
  write back), so an item is never stored twice.
- An item the run could not do (it stopped: Ctrl-C, a block, a Retry-After, a budget)
  goes back to pending; a failure that is the item's own (HTTP 500 after the retries, a
  page that does not parse) marks it failed with the reason.

`harvester harvest` is enqueue + work in one process, on a batch of its own named after
the IDs it was given: the same command run again after an interruption resumes the
batch (only unfinished items are fetched); `--fresh`, or a batch that had finished,
starts over.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from catalog.errors import StoreError
from catalog.runs import pid_alive
from catalog.store import CatalogStore, display_name, to_db_time, utcnow
from catalog.store.api import WorkerRow, WorkItem
from harvester.config import Settings

if TYPE_CHECKING:
    from harvester.pipeline import HarvestSummary, Outcome
    from harvester.sync import SyncResult

QUEUE_BATCH = "queue"  # the batch `enqueue` fills and `work` drains
HARVEST = "harvest"
REVALIDATE = "revalidate"
# Outcomes that finish an item for good: the archive answered about this document.
DONE = frozenset({"new", "changed", "unchanged", "restored", "not_found", "gone", "not_document"})
# Items claimed at once: a live worker takes a few (its fetch window), so an idle worker
# beside it still finds work; a replay is all CPU, and a larger claim costs fewer commits.
CLAIM_LIVE = 2
CLAIM_REPLAY = 16


def worker_identity() -> tuple[str, str, int]:
    """(worker id, host, pid): unique even when a pid is reused on a host."""
    host, pid = socket.gethostname(), os.getpid()
    return f"{host}:{pid}:{secrets.token_hex(3)}", host, pid


def harvest_batch(ids: Sequence[int], replay: str | Path | None) -> str:
    """The batch of one `harvester harvest` command: the same IDs (and recording) give the same batch."""
    text = ",".join(str(i) for i in sorted(set(ids))) + "|" + (str(Path(replay).resolve()) if replay else "")
    return "harvest:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def due_ids(store: CatalogStore, settings: Settings) -> list[int]:
    """Records due for revalidation (what `sync` would check): overdue, or with a pending 404."""
    cutoff = to_db_time(utcnow() - timedelta(days=settings.sync.revalidate_days))
    return [s.record_id for s in sorted(store.states(), key=lambda s: (s.last_checked, s.record_id))
            if s.last_checked < cutoff or (s.missing_count > 0 and not s.deleted)]


def reap_dead_workers(store: CatalogStore) -> int:
    """Free now the leases of workers known dead: stopped (their release failed: a full disk, a lost
    database), or on this host with their pid gone (SIGKILL). Others' leases run out on their own
    (`queue.lease_seconds`). Returns the leases freed."""
    owners = {i.lease_owner for i in store.work_items(state="leased")}
    host = socket.gethostname()
    freed = 0
    for w in store.workers(include_stopped=True):
        if w.worker_id in owners and (w.stopped_at is not None or (w.host == host and not pid_alive(w.pid))):
            freed += store.work_expire(w.worker_id)
    return freed


@dataclass
class Budget:
    """When a worker stops claiming: queue empty (`until_empty`), minutes, requests."""

    until_empty: bool = True
    max_minutes: float | None = None
    max_requests: int | None = None
    poll_seconds: float = 2.0  # how often an idle worker (not until_empty) looks for new items
    started: float = field(default_factory=time.monotonic)

    def out_of_time(self) -> bool:
        return self.max_minutes is not None and time.monotonic() - self.started >= self.max_minutes * 60


class WorkFeed:
    """Record IDs for `pipeline.harvest`, claimed lazily from the queue while a heartbeat renews them.

    The pipeline pulls IDs (`ids`) as its fetch window has room, calls `finished` inside the
    unit of work that stores each item, and `close` gives back whatever it did not finish.
    """

    def __init__(self, store: CatalogStore, settings: Settings, *, batch: str | None, chunk: int,
                 budget: Budget | None = None, expected: int = 0) -> None:
        self.store = store
        self.batch = batch
        self.chunk = max(1, chunk)
        self.budget = budget or Budget()
        self.lease_seconds = settings.queue.lease_seconds
        self.max_attempts = settings.queue.max_attempts
        self.expected = expected  # items the run expects (progress total, quality alarm)
        self.worker_id, self.host, self.pid = worker_identity()
        self.claimed: list[int] = []  # Record IDs in claim order
        self.held: dict[int, WorkItem] = {}  # claimed, not finished: Record ID -> item
        self.lost: str | None = None  # the catalog could not be reached: why (the worker stops, exit 2)
        self.stopped_by_budget = False
        # Called while an idle worker waits for items (`work` without --until-empty): helps a sync.
        self.when_idle: Callable[[], None] | None = None
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        reap_dead_workers(self.store)
        now = to_db_time(utcnow())
        self.store.worker_start(WorkerRow(self.worker_id, self.host, self.pid, now, now, 0, None))
        self._beat = threading.Thread(target=self._heartbeat, name="work-heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        # Its own connection (SQLite: one a thread; PostgreSQL: the pool). A beat that fails
        # means the catalog is gone: stop claiming; the writes in flight fail on their own.
        while not self._beat_stop.wait(self.lease_seconds / 3):
            try:
                self.store.work_renew(self.worker_id, lease_seconds=self.lease_seconds)
            except StoreError as exc:
                self.lost = self.lost or f"lost the catalog {display_name(self.store.url)}: {exc}"
                return

    def close(self) -> None:
        """Stop the heartbeat; give back the items not finished (a stop, a budget), note the worker stopped."""
        self._beat_stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if self.lost:  # every call would wait for a catalog that is gone: the leases expire on their own
            return
        try:
            if self.held:
                self.store.work_release([i.id for i in self.held.values()], self.worker_id,
                                        count_attempt=False)
                self.held.clear()
            self.store.worker_stop(self.worker_id)
        except StoreError as exc:  # the catalog is gone: the leases expire on their own
            self.lost = self.lost or f"lost the catalog {display_name(self.store.url)}: {exc}"

    def __enter__(self) -> WorkFeed:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the pipeline calls --------------------------------------------------------------
    def ids(self, should_stop: Callable[[], bool], requests: Callable[[], int]) -> Iterator[int]:
        """Claim and yield Record IDs until the queue is empty, the run stops or the budget is spent."""
        pending: list[WorkItem] = []
        while True:
            if should_stop() or self.lost:
                return
            if self.budget.out_of_time() or (self.budget.max_requests is not None
                                             and requests() >= self.budget.max_requests):
                self.stopped_by_budget = True
                return
            if not pending:
                try:
                    pending = self.store.work_claim(self.worker_id, lease_seconds=self.lease_seconds,
                                                    batch=self.batch, limit=self.chunk,
                                                    max_attempts=self.max_attempts)
                    pending = self._hold(pending)
                except StoreError as exc:
                    self.lost = f"lost the catalog {display_name(self.store.url)}: {exc}"
                    return
                if not pending:
                    if self.budget.until_empty or not self._idle_wait(should_stop):
                        return
                    continue
            rid = int(pending.pop(0).key)
            self.claimed.append(rid)
            yield rid

    def _hold(self, items: list[WorkItem]) -> list[WorkItem]:
        """Keep claimed items as held (given back at close if never finished); fail a key that is
        not a Record ID, and give back a second item for a record already held (kind harvest and
        revalidate of one record): it is claimed again once this one is finished."""
        kept, twice = [], []
        for item in items:
            if not item.key.isascii() or not item.key.isdigit():
                self.store.work_finish(item.id, self.worker_id, state="failed", outcome="failed",
                                       detail=f"not a Record ID: {item.key!r}")
            elif int(item.key) in self.held:
                twice.append(item.id)
            else:
                self.held[int(item.key)] = item
                kept.append(item)
        if twice:
            self.store.work_release(twice, self.worker_id)
        return kept

    def _idle_wait(self, should_stop: Callable[[], bool]) -> bool:
        """An empty queue, waiting for more (`work` without --until-empty); False when the run ends."""
        if self.when_idle is not None:
            self.when_idle()
        deadline = time.monotonic() + self.budget.poll_seconds
        while time.monotonic() < deadline:
            if should_stop() or self.lost or self.budget.out_of_time():
                return False
            time.sleep(0.1)
        return True

    def finish(self, record_id: int, status: str, detail: str, *, retry_later: bool = False) -> bool:
        """Inside the unit of work that stores an item's outcome: mark the item done or failed
        (True), or leave it held to be given back (False) when the outcome says nothing about the
        item: a stop, a block, a Retry-After, an archive that could not be reached (`retry_later`)."""
        item = self.held.get(record_id)
        if item is None or (status not in DONE and (status != "failed" or retry_later)):
            return False
        state = "done" if status in DONE else "failed"
        self.store.work_finish(item.id, self.worker_id, state=state, outcome=status, detail=detail)
        return True

    def settled(self, record_id: int) -> None:
        """The unit of work that finished the item committed (or its lease was lost): not ours any more."""
        self.held.pop(record_id, None)


# -- runs -----------------------------------------------------------------------------------------
def _chunk(settings: Settings, replay: str | Path | None) -> int:
    return CLAIM_REPLAY if replay is not None else max(CLAIM_LIVE, settings.http.concurrency)


def work(*, settings: Settings, store: CatalogStore, batch: str = QUEUE_BATCH, budget: Budget | None = None,
         replay: str | Path | None = None, progress: Callable[[Outcome], None] | None = None,
         cancel: threading.Event | None = None, processes: bool | None = None,
         sync_progress: Callable[[str], None] | None = None) -> HarvestSummary:
    """One worker: claim items of `batch` and harvest them until the budget says stop.

    A running sync's revalidation items are revalidated first (harvester.sync.help_sync), and
    again whenever this worker waits for items (without `until_empty`).

    The summary's `fatal` is set when the catalog was lost (the caller exits 2); items this
    worker held are given back, or (catalog gone) their leases expire."""
    from harvester import pipeline

    helped: list[SyncResult] = []
    budget = budget or Budget()

    def help_sync() -> None:
        # A running sync's revalidation items (the queue `sync` fills) are done first: the sync
        # is the nightly job others wait for. Live only; this worker's budget applies.
        from harvester.sync import help_sync as help_run

        if replay is not None or (cancel is not None and cancel.is_set()) or budget.out_of_time():
            return
        left = None if budget.max_minutes is None else max(
            0.001, budget.max_minutes - (time.monotonic() - budget.started) / 60)
        limited = settings.model_copy(update={"sync": settings.sync.model_copy(
            update={"max_minutes": left, "max_requests": budget.max_requests})})
        try:
            result = help_run(settings=limited, store=store, progress=sync_progress, cancel=cancel)
        except StoreError:
            return  # the catalog is gone: the queue's own claim says so next
        if result is not None:
            helped.append(result)

    help_sync()
    counts = store.work_counts(batch)
    feed = WorkFeed(store, settings, batch=batch, chunk=_chunk(settings, replay), budget=budget,
                    expected=counts["pending"] + counts["expired"])
    if not budget.until_empty:
        feed.when_idle = help_sync
    with feed:
        summary = pipeline.harvest([], settings=settings, store=store, replay=replay, progress=progress,
                                   cancel=cancel, processes=processes, feed=feed, run_id=None)
        if summary.catalog_failed:
            feed.lost = feed.lost or summary.fatal
    if feed.lost and not summary.fatal:
        summary.fatal = feed.lost
    summary.worker_id = feed.worker_id
    summary.budget_stop = feed.stopped_by_budget
    summary.synced = [(r.run_id, r.items) for r in helped if r.items]
    return summary


def harvest(ids: list[int], *, settings: Settings, store: CatalogStore, replay: str | Path | None = None,
            fresh: bool = False, progress: Callable[[Outcome], None] | None = None,
            cancel: threading.Event | None = None, processes: bool | None = None) -> HarvestSummary:
    """`harvester harvest`: enqueue `ids` in this command's batch and work it in this process.

    An unfinished batch (an interrupted run of the same command) is resumed: items finished
    then are reported from the queue and not fetched again. A finished batch, or `fresh`,
    starts over.
    """
    from harvester import pipeline

    batch = harvest_batch(ids, replay)
    if fresh:
        store.work_clear(batch)
    counts = store.work_counts(batch)
    keys = [str(i) for i in ids]
    resuming = counts["pending"] + counts["leased"] > 0
    store.work_add(batch, HARVEST, keys, reset_finished=not resuming)
    earlier: list[Outcome] = []
    if resuming:
        earlier = [pipeline.Outcome(int(i.key), i.outcome, i.detail)
                   for i in store.work_items(batch) if i.state in ("done", "failed") and i.key.isdigit()]
    finished_before = {o.record_id for o in earlier}
    remaining = [i for i in ids if i not in finished_before]
    feed = WorkFeed(store, settings, batch=batch, chunk=_chunk(settings, replay), expected=len(remaining))
    with feed:
        summary = pipeline.harvest(remaining, settings=settings, store=store, replay=replay, progress=progress,
                                   cancel=cancel, processes=processes, feed=feed)
        if summary.catalog_failed:
            feed.lost = feed.lost or summary.fatal
    if feed.lost and not summary.fatal:
        summary.fatal = feed.lost
    if not summary.interrupted and not summary.fatal:
        # An item another process is working on (the same command run twice at once) is theirs.
        elsewhere = {int(i.key) for i in store.work_items(batch, state="leased") if i.key.isdigit()}
        for outcome in summary.outcomes:
            if outcome.status == "not_attempted" and outcome.record_id in elsewhere:
                outcome.detail = "being harvested by another worker"
    position = {rid: n for n, rid in enumerate(ids)}
    summary.outcomes = sorted([*earlier, *summary.outcomes], key=lambda o: position.get(o.record_id, len(ids)))
    summary.resumed = len(earlier)
    summary.worker_id = feed.worker_id
    return summary
