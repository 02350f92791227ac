"""Stored renderings: each record's text per export/OAI format (catalog.export.rendered).

One row per (record, format): the text the format's serializer gave when the record was
written, and the key it was made under (format, serializer version, data and options
fingerprints). Readers use a row only when its key is the one they would render with.

The table starts empty: renderings come from live serializer code, which a frozen
migration must not import. New and changed records get theirs as they are written;
`harvester reindex` fills (or refreshes) them for the records already in a catalog.
Until then readers format those records themselves (same output, slower).
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE record_rendered (
            record_id INTEGER NOT NULL,
            format    TEXT NOT NULL,
            key       TEXT NOT NULL,
            text      TEXT NOT NULL,
            PRIMARY KEY (record_id, format)
        ) STRICT
        """
    )
