"""Derived indexes: facet tables and full-text search, replacing the OAI-PMH set tables.

- `facet`: one row per facet key (`subject:korean-war-1950-1953`, or a parent such as
  `subject`), with its family, token and label (the OAI setName).
- `record_facet`: one row per (key, record), carrying the record's `last_changed`; its
  primary key (key, last_changed, record_id) is the order of an OAI-PMH set page, so a
  `set=` page is an index range read, never a sort of the whole set.
- `record_text`: FTS5 over the record's searchable text, rowid = Record ID.
- `store_meta`: small per-catalog values (the OAI token key moves here from oai_meta;
  `index_version` says which derivation the indexes were built with).

The tables start empty: the rows are derived from each record by live code
(`catalog.index.derive`), which a frozen migration must not import. A store opened for
writing fills them when `index_version` is missing or older (`harvester reindex` does
the same on demand). The old set tables were kept by a hook only some processes ran;
they go away.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT")
    conn.execute("INSERT INTO store_meta (key, value) SELECT key, value FROM oai_meta")
    conn.execute(
        """
        CREATE TABLE facet (
            key    TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            value  TEXT NOT NULL,   -- '' for a family's parent key
            label  TEXT NOT NULL
        ) STRICT
        """
    )
    conn.execute("CREATE INDEX facet_family ON facet (family, key)")
    conn.execute(
        """
        CREATE TABLE record_facet (
            key          TEXT NOT NULL,
            record_id    INTEGER NOT NULL,
            last_changed TEXT NOT NULL,
            PRIMARY KEY (key, last_changed, record_id)
        ) STRICT, WITHOUT ROWID
        """
    )
    conn.execute("CREATE INDEX record_facet_record ON record_facet (record_id, key)")
    conn.execute(
        "CREATE VIRTUAL TABLE record_text USING fts5("
        "title, summary, names, places, subjects, source, texts, tokenize = 'unicode61 remove_diacritics 2')"
    )
    for table in ("oai_set_member", "oai_set_indexed", "oai_set", "oai_meta"):
        conn.execute(f"DROP TABLE {table}")
