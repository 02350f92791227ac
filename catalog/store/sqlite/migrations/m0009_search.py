"""Search (issue 12): sort keys beside the facets, and the full-text table rebuilt for tokens.

- `record_sort`: per record the date range its date covers (`date_start`, `date_end`, ISO
  dates, NULL without a date), its folded title, and copies of `last_changed` and
  `deleted_at`: everything a search filters and sorts by, in a narrow table. A search never
  reads `record`'s rows but for the page it shows (in SQLite `deleted_at` sits behind the
  record's JSON bodies: checking it row by row read the whole catalog).
- `record_text`: the same FTS5 columns, now filled with the words `catalog.index.tokens`
  made (folded, space-separated) and read with FTS5's `ascii` tokenizer, which splits them on
  the spaces only: the index holds exactly the words PostgreSQL's holds, so both backends
  answer a query alike (unicode61 had its own idea of letters and diacritics).

Both start empty; the store refills them because `catalog.index.INDEX_VERSION` moved to 2.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE record_sort (
            record_id  INTEGER PRIMARY KEY,
            date_start TEXT,
            date_end   TEXT,
            title      TEXT NOT NULL,
            last_changed TEXT NOT NULL,
            deleted_at TEXT
        ) STRICT
        """
    )
    conn.execute("CREATE INDEX record_sort_date ON record_sort (date_start, record_id)")
    conn.execute("CREATE INDEX record_sort_title ON record_sort (title, record_id)")
    conn.execute("CREATE INDEX record_sort_changed ON record_sort (last_changed, record_id)")
    conn.execute("DROP TABLE record_text")
    conn.execute(
        "CREATE VIRTUAL TABLE record_text USING fts5("
        "title, summary, names, places, subjects, source, texts, tokenize = 'ascii')"
    )
