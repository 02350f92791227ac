"""Export layout: a small `brief` body next to the full one, and `body` in its export form.

Exports were bound by reading and re-serializing the full record (~5-8 KB, most of it
the document `texts`) for every record, although most formats never print the text.

- `brief` (new): the record as JSON with every `texts[].text` emptied (label, kind and
  language kept: citation formats pick their `language` from them). Formats that never
  print the text (oai_dc, qdc, csv, csl-json, ris, bibtex) build their record from it.
  The table is rebuilt so `brief` is stored *before* `body`: SQLite then reads it
  without walking the body's overflow pages.
- `body` keeps the whole CatalogRecord, now written as
  `json.dumps(record.model_dump(mode="json"), ensure_ascii=False)`: exactly the text the
  jsonl export prints for the record, so a jsonl line is assembled from it without
  building the model.

`content_hash` is untouched.

Frozen (issue 10): as released, this step rebuilt each body through the live
`CatalogRecord` model and `catalog.store.record_texts`, so a later change to the model
would have changed (or broken) what this migration does. It now works on the JSON
alone. The bodies it meets were written by m0001-m0003's release as
`record.model_dump_json()`: keys in model order, every field present, values already in
JSON mode. `json.dumps(json.loads(that), ensure_ascii=False)` is then exactly
`json.dumps(record.model_dump(mode="json"), ensure_ascii=False)`, and the brief form is
derived the same way as before, so the result is byte for byte what the released step
wrote (tests/store/test_upgrade.py checks both against the model). A body in any other
form is still readable: the jsonl export falls back to the model for it.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

_COLUMNS = ("record_id, node_id, slug, url, brief, body, content_hash, etag, last_modified, first_seen,"
            " last_changed, last_checked, deleted_at, missing_count")


def _texts(stored: str) -> tuple[str, str]:
    """(brief, body) of a stored body, as record_texts wrote them when this step was released."""
    data: dict[str, Any] = json.loads(stored)
    body = json.dumps(data, ensure_ascii=False)
    if data.get("texts"):
        data["texts"] = [{**text, "text": ""} for text in data["texts"]]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")), body


def apply(conn: sqlite3.Connection) -> None:
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
        brief, body = _texts(row[4])
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
