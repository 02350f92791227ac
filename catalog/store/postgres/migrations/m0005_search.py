"""Search (issue 12): sort keys beside the facets (see the SQLite m0009_search).

`record_sort` holds per record the date range its date covers, its folded title and copies of
`last_changed` and `deleted_at`: what a search filters and sorts by, in a narrow table; "C"
collation so the title sorts byte-wise, exactly as in SQLite. The `record_text` documents
are rebuilt from `catalog.index.tokens` (INDEX_VERSION 2 makes the store reindex).
"""

from __future__ import annotations

from typing import Any


def apply(conn: Any) -> None:
    conn.execute(
        """
        CREATE TABLE record_sort (
            record_id  BIGINT PRIMARY KEY,
            date_start TEXT COLLATE "C",
            date_end   TEXT COLLATE "C",
            title      TEXT COLLATE "C" NOT NULL,
            last_changed TEXT COLLATE "C" NOT NULL,
            deleted_at TEXT COLLATE "C"
        )
        """
    )
    conn.execute("CREATE INDEX record_sort_date ON record_sort (date_start, record_id)")
    conn.execute("CREATE INDEX record_sort_title ON record_sort (title, record_id)")
    conn.execute("CREATE INDEX record_sort_changed ON record_sort (last_changed, record_id)")
