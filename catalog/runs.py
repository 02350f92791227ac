"""Sync runs in the catalog database: leases, the run row and its checkpoint, items, reports.

A lease is a named row in `sync_lock`, taken in a write transaction (so two processes
cannot both win) and kept alive by a heartbeat. A crashed holder leaves a row that
stops being honoured once its expiry passes, or at once when its owner process is
gone on this same host (kill -9): no stale file for a person to delete.

`sync` takes the short *coordinator lease* "discovery" (`lease_take`) only while it walks
the listing and fills the work queue; revalidation is then done by every worker of the
catalog.
"""

from __future__ import annotations

import builtins
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from catalog.errors import HarvesterError
from catalog.store.api import CatalogStore, LockRow, RunCounts, RunInfo, SyncItem, to_db_time, utcnow

__all__ = ["DISCOVERY", "Lease", "LockLost", "RunCounts", "RunInfo", "Runs"]

DISCOVERY = "discovery"  # the coordinator lease of a sync's discovery (walking the listing)


class LockLost(HarvesterError):
    """Our lock was taken over (our heartbeat stalled past its expiry): stop writing."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (the liveness test of locks and workers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass
class Lease:
    """A coordinator lease held by this process: `token` is the holder's worker id."""

    name: str
    token: str
    ttl: float


class Runs:
    """The sync runs of one catalog: the lock policy here, the rows in the store."""

    def __init__(self, store: CatalogStore) -> None:
        self.store = store

    # -- coordinator leases --------------------------------------------------------------
    def lease_take(self, name: str, *, holder: str, ttl: float, run_id: str | None = None,
                   now: datetime | None = None) -> Lease | LockRow:
        """Take the lease `name` for `holder` (a worker id) if it is free or expired, or its holder
        is gone from this host (kill -9). Returns the Lease, or the row of the live holder.

        Liveness is the expiry (`ttl` after the last renewal), so a holder on another machine
        is honoured until then; the pid is only a shortcut for a holder on this host."""
        now = now or utcnow()
        host, pid = socket.gethostname(), os.getpid()
        current = self.store.lock_holder(name)
        dead = (current.token if current is not None and current.token != holder and current.owner_host == host
                and not pid_alive(current.owner_pid) else None)
        if current is not None and current.token != holder and dead is None and current.expires_at > to_db_time(now):
            # A live holder: found by a read, without a write transaction (waiting workers ask
            # every poll); the upsert below re-checks the same condition for the takers that race.
            return current
        row = LockRow(holder, run_id, pid, host, to_db_time(now), to_db_time(now),
                      to_db_time(now + timedelta(seconds=ttl)))
        got = self.store.lease_take(name, row, dead_token=dead)
        if got is not None and got.token == holder:
            return Lease(name, holder, ttl)
        assert got is not None  # the upsert leaves a row: ours or the live holder's
        return got

    def lease_renew(self, lease: Lease, *, run_id: str | None = None) -> None:
        now = utcnow()
        if not self.store.lock_heartbeat(lease.name, lease.token, to_db_time(now),
                                         to_db_time(now + timedelta(seconds=lease.ttl)), run_id):
            raise LockLost(f"the {lease.name} lease was taken over by another process")

    def lease_release(self, lease: Lease) -> None:
        self.store.lock_release(lease.name, lease.token)

    def lease_holder(self, name: str) -> LockRow | None:
        return self.store.lock_holder(name)

    # -- runs --------------------------------------------------------------------
    def create(self, params: dict[str, Any], *, now: datetime | None = None) -> str:
        now = now or utcnow()
        run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        self.store.run_create(run_id, to_db_time(now), params)
        return run_id

    def unfinished(self) -> RunInfo | None:
        """The latest run that never ended (killed or crashed): the one to resume."""
        return self.store.run_get(unfinished=True)

    def get(self, run_id: str | None = None) -> RunInfo | None:
        """A run by id (a unique prefix is enough on the command line), else the latest."""
        return self.store.run_get(run_id)

    def recent(self, limit: int = 20) -> builtins.list[RunInfo]:  # not `list`: it would shadow the builtin
        return self.store.run_list(limit)

    def begin_attempt(self, run_id: str, warc_file: str | None) -> None:
        self.store.run_attempt(run_id, warc_file, new_attempt=True)

    def add_warc_file(self, run_id: str, warc_file: str) -> None:
        self.store.run_attempt(run_id, warc_file, new_attempt=False)

    def set_fields(self, run_id: str, **values: Any) -> None:
        """Update run columns (phase, checkpoint, robots, baseline, requests…) in the current unit of work."""
        self.store.run_update(run_id, **values)

    def finish(self, run_id: str, status: str, report: dict[str, Any], *, stop_reason: str = "",
               now: datetime | None = None) -> bool:
        """End a running run (False: another worker of the sync ended it first)."""
        return self.store.run_finish(run_id, status, to_db_time(now or utcnow()), report, stop_reason)

    def add_requests(self, run_id: str, requests: int) -> None:
        self.store.run_add_requests(run_id, requests)

    # -- items -------------------------------------------------------------------
    def item(self, run_id: str, kind: str, key: str) -> SyncItem | None:
        return self.store.item_get(run_id, kind, key)

    def add_item(self, run_id: str, kind: str, key: str, outcome: str, *, detail: str = "",
                 record_id: int | None = None, page: int | None = None,
                 fields: builtins.list[str] | None = None) -> None:
        """Log one finished item. Call inside the unit of work that made the item's catalog change:
        the row is the checkpoint, so the change and "done" are committed together or not at all."""
        self.store.item_add(run_id, kind, key, outcome, detail=detail, record_id=record_id, page=page,
                            fields=fields)

    def items(self, run_id: str, kind: str | None = None, page: int | None = None) -> builtins.list[SyncItem]:
        return self.store.items(run_id, kind, page)

    # -- revalidation queue --------------------------------------------------------
    def queue(self, run_id: str) -> builtins.list[int] | None:
        """The run's revalidation queue, or None if it was not built yet."""
        found = self.store.queue_get(run_id)
        if found:
            return found
        info = self.store.run_get(run_id)
        return [] if info and info.checkpoint.get("queue_built") else None

    def save_queue(self, run_id: str, record_ids: builtins.list[int], checkpoint: dict[str, Any]) -> None:
        with self.store.unit_of_work():
            self.store.queue_save(run_id, record_ids)
            self.set_fields(run_id, checkpoint={**checkpoint, "queue_built": True}, phase="revalidate")

    # -- report counts -------------------------------------------------------------
    def counts(self, run_id: str) -> RunCounts:
        return self.store.run_counts(run_id)
