"""Export layout: a small `brief` body next to the full one, and `body` in its export form.

Exports were bound by reading and re-serializing the full record (~5-8 KB, most of it
the document `texts`) for every record, although most formats never print the text.

- `brief` (new): the record as JSON with every `texts[].text` emptied (label, kind and
  language kept: citation formats pick their `language` from them). Formats that never
  print the text (oai_dc, qdc, csv, csl-json, ris, bibtex) build their record from it.
  The table is rebuilt so `brief` is stored *before* `body`: SQLite then reads it
  without walking the body's overflow pages.
- `body` keeps the whole CatalogRecord (every other reader is unchanged), now written as
  `json.dumps(record.model_dump(mode="json"), ensure_ascii=False)`: exactly the text the
  jsonl export prints for the record, so a jsonl line is assembled from it without
  building the model. The migration rewrites existing bodies through the model, so
  each body is the model's canonical form whatever wrote it before.

`content_hash` is untouched: it is computed from the model, which is the same record.
"""

from __future__ import annotations

import sqlite3

from catalog.model import CatalogRecord

_COLUMNS = ("record_id, node_id, slug, url, brief, body, content_hash, etag, last_modified, first_seen,"
            " last_changed, last_checked, deleted_at, missing_count")


def apply(conn: sqlite3.Connection) -> None:
    # Imported here: the store imports the migrations package at start-up.
    from catalog.store import record_texts

    conn.execute(
        """
        CREATE TABLE record_new (
            record_id     INTEGER PRIMARY KEY,
            node_id       INTEGER,
            slug          TEXT,
            url           TEXT NOT NULL,
            brief         TEXT NOT NULL,      -- the CatalogRecord as JSON, texts[].text emptied
            body          TEXT NOT NULL,      -- the whole CatalogRecord as JSON (json.dumps form)
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
    rows = conn.execute(
        "SELECT record_id, node_id, slug, url, body, content_hash, etag, last_modified, first_seen,"
        " last_changed, last_checked, deleted_at, missing_count FROM record ORDER BY record_id"
    )
    insert = f"INSERT INTO record_new ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"
    batch: list[tuple[object, ...]] = []
    for row in rows:
        record = CatalogRecord.model_validate_json(row[4])
        brief, body = record_texts(record)
        batch.append((*row[:4], brief, body, *row[5:]))
        if len(batch) >= 1000:
            conn.executemany(insert, batch)
            batch.clear()
    if batch:
        conn.executemany(insert, batch)
    conn.execute("DROP TABLE record")
    conn.execute("ALTER TABLE record_new RENAME TO record")
    conn.execute("CREATE INDEX record_last_changed ON record (last_changed, record_id)")
    conn.execute("CREATE INDEX record_last_checked ON record (last_checked)")
    conn.execute("CREATE INDEX record_slug ON record (slug)")
