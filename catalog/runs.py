"""Sync runs in the catalog database: the lock, the run row and its checkpoint, items, reports.

The lock is a row in `sync_lock`, taken in a write transaction (so two processes
cannot both win) and kept alive by a heartbeat. A crashed holder leaves a row that
stops being honoured once its expiry passes, or at once when its owner process is
gone on this same host (kill -9): no stale file for a person to delete.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from catalog.errors import HarvesterError
from catalog.store import SQLiteStore, from_db_time, to_db_time, utcnow

LOCK_NAME = "sync"


class SyncLocked(HarvesterError):
    """Another sync holds the catalog."""


class LockLost(HarvesterError):
    """Our lock was taken over (our heartbeat stalled past its expiry): stop writing."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass
class LockHandle:
    token: str
    ttl: float


@dataclass
class RunInfo:
    run_id: str
    status: str
    phase: str
    checkpoint: dict[str, Any]
    params: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    robots: str | None
    baseline: dict[str, Any] | None
    requests: int
    attempts: int
    warc_files: list[str]
    stop_reason: str
    report: dict[str, Any] | None = None


@dataclass
class RunCounts:
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, int] = field(default_factory=dict)
    parsed: int = 0
    listing_pages: int = 0


class Runs:
    """Access to the sync tables of one catalog."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.connection

    # -- lock --------------------------------------------------------------------
    def acquire(self, *, ttl: float, run_id: str | None = None, now: datetime | None = None) -> LockHandle:
        """Take the sync lock or raise SyncLocked naming the holder."""
        now = now or utcnow()
        host, pid = socket.gethostname(), os.getpid()
        token = secrets.token_hex(8)
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM sync_lock WHERE name = ?", (LOCK_NAME,)).fetchone()
            if row is not None:
                expired = from_db_time(row["expires_at"]) <= now
                dead = row["owner_host"] == host and not _pid_alive(row["owner_pid"])
                if not expired and not dead:
                    raise SyncLocked(
                        f"another sync is running on this catalog: run {row['run_id'] or '?'}, pid "
                        f"{row['owner_pid']} on {row['owner_host']}, since {row['acquired_at']} (last heartbeat "
                        f"{row['heartbeat_at']}). Not starting a second one. If that process is gone, its lock "
                        f"is taken over automatically after {row['expires_at']}.")
            conn.execute("DELETE FROM sync_lock WHERE name = ?", (LOCK_NAME,))
            conn.execute(
                "INSERT INTO sync_lock (name, token, run_id, owner_pid, owner_host, acquired_at, heartbeat_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (LOCK_NAME, token, run_id, pid, host, to_db_time(now), to_db_time(now),
                 to_db_time(now + timedelta(seconds=ttl))),
            )
        return LockHandle(token, ttl)

    def heartbeat(self, lock: LockHandle, *, run_id: str | None = None) -> None:
        now = utcnow()
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE sync_lock SET heartbeat_at = ?, expires_at = ?, run_id = coalesce(?, run_id)"
                " WHERE name = ? AND token = ?",
                (to_db_time(now), to_db_time(now + timedelta(seconds=lock.ttl)), run_id, LOCK_NAME, lock.token),
            )
            if cur.rowcount == 0:
                raise LockLost("the sync lock was taken over by another process; this run stops")

    def release(self, lock: LockHandle) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM sync_lock WHERE name = ? AND token = ?", (LOCK_NAME, lock.token))

    def lock_holder(self) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM sync_lock WHERE name = ?", (LOCK_NAME,)).fetchone()

    # -- runs --------------------------------------------------------------------
    def create(self, params: dict[str, Any], *, now: datetime | None = None) -> str:
        now = now or utcnow()
        run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO sync_run (run_id, started_at, status, params, phase)"
                " VALUES (?, ?, 'running', ?, 'robots')",
                (run_id, to_db_time(now), json.dumps(params, sort_keys=True)),
            )
        return run_id

    def unfinished(self) -> RunInfo | None:
        """The latest run that never ended (killed or crashed): the one to resume."""
        row = self.conn.execute(
            "SELECT * FROM sync_run WHERE status = 'running' ORDER BY started_at DESC LIMIT 1").fetchone()
        return self._info(row) if row else None

    def get(self, run_id: str | None = None) -> RunInfo | None:
        if run_id is None:
            row = self.conn.execute("SELECT * FROM sync_run ORDER BY started_at DESC LIMIT 1").fetchone()
        else:
            row = self.conn.execute("SELECT * FROM sync_run WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:  # a unique prefix is enough on the command line
                rows = self.conn.execute("SELECT * FROM sync_run WHERE run_id LIKE ? || '%'", (run_id,)).fetchall()
                row = rows[0] if len(rows) == 1 else None
        return self._info(row) if row else None

    def recent(self, limit: int = 20) -> list[RunInfo]:  # not `list`: it would shadow the builtin in the class
        rows = self.conn.execute("SELECT * FROM sync_run ORDER BY started_at DESC LIMIT ?", (limit,)).fetchall()
        return [self._info(r) for r in rows]

    def begin_attempt(self, run_id: str, warc_file: str | None) -> None:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT warc_files FROM sync_run WHERE run_id = ?", (run_id,)).fetchone()
            files = json.loads(row[0]) + ([warc_file] if warc_file else [])
            conn.execute("UPDATE sync_run SET attempts = attempts + 1, warc_files = ? WHERE run_id = ?",
                         (json.dumps(files), run_id))

    def add_warc_file(self, run_id: str, warc_file: str) -> None:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT warc_files FROM sync_run WHERE run_id = ?", (run_id,)).fetchone()
            files = json.loads(row[0])
            if warc_file not in files:
                files.append(warc_file)
            conn.execute("UPDATE sync_run SET warc_files = ? WHERE run_id = ?", (json.dumps(files), run_id))

    def set_fields(self, run_id: str, **values: Any) -> None:
        """Update run columns (phase, checkpoint, robots, baseline, requests…) in the current transaction."""
        allowed = {"phase", "checkpoint", "robots", "baseline", "requests", "stop_reason"}
        assert set(values) <= allowed, values
        cols, params = [], []
        for key, value in values.items():
            cols.append(f"{key} = ?")
            params.append(json.dumps(value, sort_keys=True) if key in {"checkpoint", "baseline"} else value)
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE sync_run SET {', '.join(cols)} WHERE run_id = ?", (*params, run_id))

    def finish(self, run_id: str, status: str, report: dict[str, Any], *, stop_reason: str = "",
               now: datetime | None = None) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE sync_run SET status = ?, finished_at = ?, phase = 'done', report = ?, stop_reason = ?"
                " WHERE run_id = ?",
                (status, to_db_time(now or utcnow()), json.dumps(report, sort_keys=True), stop_reason, run_id),
            )

    # -- items -------------------------------------------------------------------
    def item(self, run_id: str, kind: str, key: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM sync_item WHERE run_id = ? AND kind = ? AND key = ?",
                                 (run_id, kind, key)).fetchone()

    def add_item(self, run_id: str, kind: str, key: str, outcome: str, *, detail: str = "",
                 record_id: int | None = None, page: int | None = None, fields: list[str] | None = None) -> None:
        """Log one finished item. Call inside the transaction that made the item's catalog change:
        the row is the checkpoint, so the change and "done" are committed together or not at all."""
        with self.store.transaction() as conn:
            seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM sync_item WHERE run_id = ?",
                               (run_id,)).fetchone()[0]
            conn.execute(
                "INSERT INTO sync_item (run_id, kind, key, seq, page, record_id, outcome, detail, fields, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind, key, seq, page, record_id, outcome, detail,
                 json.dumps(fields) if fields is not None else None, to_db_time(utcnow())),
            )

    def items(self, run_id: str, kind: str | None = None, page: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM sync_item WHERE run_id = ?"
        params: list[object] = [run_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if page is not None:
            sql += " AND page = ?"
            params.append(page)
        return list(self.conn.execute(sql + " ORDER BY seq", params))

    # -- revalidation queue --------------------------------------------------------
    def queue(self, run_id: str) -> list[int] | None:
        """The run's revalidation queue, or None if it was not built yet."""
        rows = self.conn.execute("SELECT record_id FROM sync_queue WHERE run_id = ? ORDER BY pos",
                                 (run_id,)).fetchall()
        if rows:
            return [r[0] for r in rows]
        built = self.conn.execute("SELECT checkpoint FROM sync_run WHERE run_id = ?", (run_id,)).fetchone()
        return [] if built and json.loads(built[0]).get("queue_built") else None

    def save_queue(self, run_id: str, record_ids: list[int], checkpoint: dict[str, Any]) -> None:
        with self.store.transaction() as conn:
            conn.executemany("INSERT INTO sync_queue (run_id, pos, record_id) VALUES (?, ?, ?)",
                             [(run_id, i, rid) for i, rid in enumerate(record_ids)])
            self.set_fields(run_id, checkpoint={**checkpoint, "queue_built": True}, phase="revalidate")

    # -- report counts -------------------------------------------------------------
    def counts(self, run_id: str) -> RunCounts:
        counts = RunCounts()
        for row in self.conn.execute(
                "SELECT kind, outcome, count(*) FROM sync_item WHERE run_id = ? GROUP BY kind, outcome", (run_id,)):
            if row[0] == "listing":
                counts.listing_pages += row[2] if row[1] == "listed" else 0
                if row[1] == "listed":
                    continue
            counts.outcomes[row[1]] = counts.outcomes.get(row[1], 0) + row[2]
        for row in self.conn.execute(
                "SELECT kind, key, record_id, outcome, detail FROM sync_item WHERE run_id = ?"
                " AND outcome IN ('failed', 'blocked', 'disallowed') ORDER BY seq", (run_id,)):
            counts.failures.append({"kind": row[0], "key": row[1], "record_id": row[2], "outcome": row[3],
                                    "reason": row[4]})
        for (fields_json,) in self.conn.execute(
                "SELECT fields FROM sync_item WHERE run_id = ? AND fields IS NOT NULL", (run_id,)):
            counts.parsed += 1
            for name in json.loads(fields_json):
                counts.fields[name] = counts.fields.get(name, 0) + 1
        return counts

    @staticmethod
    def _info(row: sqlite3.Row) -> RunInfo:
        return RunInfo(
            run_id=row["run_id"], status=row["status"], phase=row["phase"],
            checkpoint=json.loads(row["checkpoint"] or "{}"), params=json.loads(row["params"]),
            started_at=from_db_time(row["started_at"]),
            finished_at=from_db_time(row["finished_at"]) if row["finished_at"] else None,
            robots=row["robots"], baseline=json.loads(row["baseline"]) if row["baseline"] else None,
            requests=row["requests"], attempts=row["attempts"], warc_files=json.loads(row["warc_files"]),
            stop_reason=row["stop_reason"], report=json.loads(row["report"]) if row["report"] else None,
        )
