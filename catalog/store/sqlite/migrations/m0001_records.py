"""The record table and the append-only record history."""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE record (
            record_id     INTEGER PRIMARY KEY,
            node_id       INTEGER,
            slug          TEXT,
            url           TEXT NOT NULL,
            body          TEXT NOT NULL,      -- the CatalogRecord as JSON
            content_hash  TEXT NOT NULL,      -- sha256 of the normalized content
            etag          TEXT,
            last_modified TEXT,
            first_seen    TEXT NOT NULL,
            last_changed  TEXT NOT NULL,      -- the OAI-PMH datestamp
            last_checked  TEXT NOT NULL,
            deleted_at    TEXT,               -- tombstone: kept forever
            missing_count INTEGER NOT NULL DEFAULT 0
        ) STRICT
        """
    )
    conn.execute("CREATE INDEX record_last_changed ON record (last_changed, record_id)")
    conn.execute("CREATE INDEX record_last_checked ON record (last_checked)")
    conn.execute(
        """
        CREATE TABLE record_event (
            id        INTEGER PRIMARY KEY,
            record_id INTEGER,
            at        TEXT NOT NULL,
            outcome   TEXT NOT NULL,
            detail    TEXT NOT NULL DEFAULT '',
            run_id    TEXT
        ) STRICT
        """
    )
    conn.execute("CREATE INDEX record_event_record ON record_event (record_id, id)")
