"""The work queue: items that any number of worker processes claim with a lease (issue 11).

- `work_item`: one row per (batch, kind, key). `batch` groups items: `queue` for
  `harvester enqueue` / `harvester work`, `harvest:<digest>` for one `harvester harvest`
  command (so the same command run again resumes it). `state` is pending, leased, done
  or failed; a leased item carries its worker (`lease_owner`) and `lease_expires`, and
  an expired lease is claimed again. `attempts` counts claims, `last_error` the latest
  reason, `outcome` / `detail` what finishing it did (new, unchanged, not_found…).
  `id` is the rowid (AUTOINCREMENT: never reused, so item numbers only grow).
- `work_worker`: one row per worker process (host, pid, start, last heartbeat, items
  done, and when it stopped), for `harvester status`.

A claim runs inside BEGIN IMMEDIATE (the store's unit of work), so two processes never
take the same item: SQLite has one writer at a time.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE work_item (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            batch         TEXT NOT NULL,
            kind          TEXT NOT NULL,     -- harvest, revalidate
            key           TEXT NOT NULL,     -- a Record ID (or a slug)
            state         TEXT NOT NULL,     -- pending, leased, done, failed
            lease_owner   TEXT,
            lease_expires TEXT,
            attempts      INTEGER NOT NULL DEFAULT 0,
            last_error    TEXT NOT NULL DEFAULT '',
            outcome       TEXT NOT NULL DEFAULT '',
            detail        TEXT NOT NULL DEFAULT '',
            enqueued_at   TEXT NOT NULL,
            finished_at   TEXT,
            UNIQUE (batch, kind, key)
        )
        """
    )
    conn.execute("CREATE INDEX work_item_claim ON work_item (state, batch, id)")
    conn.execute("CREATE INDEX work_item_owner ON work_item (lease_owner)")
    conn.execute(
        """
        CREATE TABLE work_worker (
            worker_id    TEXT PRIMARY KEY,
            host         TEXT NOT NULL,
            pid          INTEGER NOT NULL,
            started_at   TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            items_done   INTEGER NOT NULL DEFAULT 0,
            stopped_at   TEXT
        )
        """
    )
