"""Stored renderings: each record's text per export/OAI format (catalog.export.rendered).

Same table and meaning as SQLite's m0008_rendered: one row per (record, format) with the
key it was rendered under; empty at first, filled as records are written and by
`harvester reindex`.
"""

from __future__ import annotations

from typing import Any


def apply(conn: Any) -> None:
    conn.execute(
        """
        CREATE TABLE record_rendered (
            record_id BIGINT NOT NULL,
            format    TEXT COLLATE "C" NOT NULL,
            key       TEXT COLLATE "C" NOT NULL,
            text      TEXT NOT NULL,
            PRIMARY KEY (record_id, format)
        )
        """
    )
