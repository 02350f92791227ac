"""OAI-PMH: set membership, the index state behind it, and per-catalog settings.

`oai_set_member` holds one row per (setSpec, record), parents included, so a
`set=` harvest is a join on an indexed key rather than a JSON scan of every body.
`oai_set_indexed` remembers which content each record's membership was computed
from; a record whose `content_hash` differs (written by a process that did not load
catalog.oai) is re-indexed by `catalog.oai.sets.ensure_current`.
`oai_meta` keeps small values such as the generated resumption-token key.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE oai_set (
            set_spec TEXT PRIMARY KEY,
            set_name TEXT NOT NULL
        ) STRICT
        """
    )
    conn.execute(
        """
        CREATE TABLE oai_set_member (
            set_spec  TEXT NOT NULL,
            record_id INTEGER NOT NULL,
            PRIMARY KEY (set_spec, record_id)
        ) STRICT, WITHOUT ROWID
        """
    )
    conn.execute("CREATE INDEX oai_set_member_record ON oai_set_member (record_id, set_spec)")
    conn.execute(
        """
        CREATE TABLE oai_set_indexed (
            record_id    INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL
        ) STRICT
        """
    )
    conn.execute("CREATE TABLE oai_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT")
