"""A change stamp for the search indexes (issue 12: facet counts kept in memory).

A web server keeps a search snapshot in memory (catalog.search.memory: facet postings,
sort orders, the deleted flags) and must never answer from it after a write. `search_stamp`
holds one number that moves with every committed change of `record_sort`, which every
index write touches (`_write_indexes` for each record written or restored, `tombstone`,
`reindex`): a reader compares it with its snapshot's in one cheap query. Triggers rather than
the store's own writes, so that no write path can forget it. SQLite has one writer at a
time, so the single row costs no waiting.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE search_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL) STRICT")
    conn.execute("INSERT INTO search_stamp (id, n) VALUES (1, 0)")
    for event in ("INSERT", "UPDATE", "DELETE"):
        conn.execute(f"CREATE TRIGGER record_sort_stamp_{event.lower()} AFTER {event} ON record_sort"
                     " BEGIN UPDATE search_stamp SET n = n + 1; END")
