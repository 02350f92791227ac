"""Scheduled sync: runs with their checkpoint, the per-item log, the revalidation queue, the lock.

Everything a resumed run needs lives here, written in the same transaction as the
catalog change it describes, so a run killed at any instant (kill -9, power cut)
restarts exactly after its last committed item:

- `sync_run`: one row per run (id, status, parameters, phase checkpoint, the
  robots.txt it obeys, the quality baseline taken at its start, the report).
- `sync_item`: what the run did, one row per listing page / document / record
  checked; its primary key is what makes "fetch nothing twice" checkable.
- `sync_queue`: the revalidation list, fixed once per run so a resume works
  through the same records in the same order.
- `sync_lock`: one row while a sync runs. A row, not a file: a crash cannot leave
  a stale lock behind for ever, because the row carries the owner's pid and a
  heartbeat-driven expiry that the next run may take over.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE sync_run (
            run_id      TEXT PRIMARY KEY,
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            status      TEXT NOT NULL,              -- running, finished, budget, blocked, failed
            params      TEXT NOT NULL,              -- JSON: full, recheck_all, settings used
            phase       TEXT NOT NULL,              -- robots, discover, revalidate, done
            checkpoint  TEXT NOT NULL DEFAULT '{}', -- JSON: phase state (listing page, known streak)
            robots      TEXT,                       -- robots.txt as fetched for this run (NULL: none)
            baseline    TEXT,                       -- JSON: catalog field coverage at the start
            requests    INTEGER NOT NULL DEFAULT 0, -- across every attempt of the run
            attempts    INTEGER NOT NULL DEFAULT 1,
            warc_files  TEXT NOT NULL DEFAULT '[]',
            stop_reason TEXT NOT NULL DEFAULT '',
            report      TEXT                        -- JSON, written when the run ends
        ) STRICT
        """
    )
    conn.execute("CREATE INDEX sync_run_started ON sync_run (started_at)")
    conn.execute(
        """
        CREATE TABLE sync_item (
            run_id    TEXT NOT NULL,
            kind      TEXT NOT NULL,                -- listing, discover, revalidate
            key       TEXT NOT NULL,                -- page number, slug, or Record ID
            seq       INTEGER NOT NULL,
            page      INTEGER,                      -- listing page a discovered slug came from
            record_id INTEGER,
            outcome   TEXT NOT NULL,
            detail    TEXT NOT NULL DEFAULT '',
            fields    TEXT,                         -- JSON list of fields present (parsed pages only)
            at        TEXT NOT NULL,
            PRIMARY KEY (run_id, kind, key)
        ) STRICT
        """
    )
    conn.execute("CREATE INDEX sync_item_seq ON sync_item (run_id, seq)")
    conn.execute(
        """
        CREATE TABLE sync_queue (
            run_id    TEXT NOT NULL,
            pos       INTEGER NOT NULL,
            record_id INTEGER NOT NULL,
            PRIMARY KEY (run_id, pos)
        ) STRICT
        """
    )
    conn.execute(
        """
        CREATE TABLE sync_lock (
            name         TEXT PRIMARY KEY,
            token        TEXT NOT NULL,
            run_id       TEXT,
            owner_pid    INTEGER NOT NULL,
            owner_host   TEXT NOT NULL,
            acquired_at  TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            expires_at   TEXT NOT NULL
        ) STRICT
        """
    )
    # Discovery recognises known documents by slug, without fetching them.
    conn.execute("CREATE INDEX IF NOT EXISTS record_slug ON record (slug)")
