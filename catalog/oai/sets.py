"""OAI-PMH sets: the setSpec scheme and the membership table behind it.

setSpec scheme (documented in docs/oai-pmh.md; setSpecs are public identifiers, so
the mapping below must stay stable):

    type                      every record with a document type
    type:<slug>               Type, e.g. type:cable
    language                  every record with an original language
    language:<code>           original language, ISO 639-3 (language:rus); a slug of
                              the name when the language has no code
    archive                   every record with an original archive
    archive:<slug>            original archive
    subject                   every record with a subject
    subject:<slug>            subject, e.g. subject:korean-war-1950-1953

<slug> is the value folded to ASCII, lower-cased, runs of other characters turned
into "-". When folding loses letters (non-Latin scripts, e.g. "Холодная война") or the
slug is cut at 60 characters, "-" and 8 hex digits of the SHA-1 of the case-folded
value are appended, so different values never share a set by accident while values
that differ only in case, accents or punctuation do.

Why a table filled by a write hook (rather than a query over the JSON bodies): a
`set=` harvest must page with the same keyset query as an unfiltered one, which
needs set membership as an indexed key; json_each over every body would make each
page cost a scan of the catalog. Processes that write without importing catalog.oai
do not run the hook, so `ensure_current` re-indexes every record whose content hash
differs from the one its membership was computed from; the server runs it at start
and whenever SQLite's data_version says another connection has committed.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass

from catalog.export.common import language_code_3
from catalog.model import CatalogRecord
from catalog.store import SQLiteStore, UpsertOutcome
from catalog.xmltext import xml_safe

# Top-level sets: (setSpec, setName). Each value set below is a child of one of these.
PARENTS: dict[str, str] = {
    "type": "Document type",
    "language": "Original language",
    "archive": "Original archive",
    "subject": "Subject",
}
_MAX_SLUG = 60


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str


def slug(value: str) -> str:
    """A setSpec-safe, stable token for `value` (see the module docstring)."""
    text = value.strip()
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    base = "-".join(re.findall(r"[a-z0-9]+", folded.lower()))
    lost = any(
        unicodedata.category(ch)[0] in "LN" and not unicodedata.normalize("NFKD", ch).encode("ascii", "ignore")
        for ch in text
    )
    if not base or lost or len(base) > _MAX_SLUG:
        digest = hashlib.sha1(text.casefold().encode("utf-8")).hexdigest()[:8]
        base = f"{base[:_MAX_SLUG].strip('-') or 'x'}-{digest}"
    return base


def _name(value: str, fallback: str) -> str:
    return xml_safe(value).strip() or fallback


def record_sets(record: CatalogRecord) -> list[OaiSet]:
    """Every set `record` belongs to, parents included, in a stable order."""
    found: dict[str, str] = {}

    def add(parent: str, token: str, name: str) -> None:
        spec = f"{parent}:{token}"
        found.setdefault(parent, PARENTS[parent])
        found.setdefault(spec, _name(name, spec))

    for value in record.types:
        if value.strip():
            add("type", slug(value), value)
    for lang in record.original_languages:
        code = language_code_3(lang)
        add("language", code if code and re.fullmatch(r"[a-z]{3}", code) else slug(lang.name), lang.name)
    for value in record.original_archives:
        if value.strip():
            add("archive", slug(value), value)
    for value in record.subjects:
        if value.strip():
            add("subject", slug(value), value)
    return [OaiSet(spec, name) for spec, name in sorted(found.items())]


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'oai_set_member'").fetchone()
    return row is not None


def index_record(conn: sqlite3.Connection, record: CatalogRecord, content_hash: str) -> None:
    """Replace the membership rows of one record (call inside a transaction)."""
    sets = record_sets(record)
    conn.execute("DELETE FROM oai_set_member WHERE record_id = ?", (record.record_id,))
    conn.executemany("INSERT OR IGNORE INTO oai_set (set_spec, set_name) VALUES (?, ?)",
                     [(s.spec, s.name) for s in sets])
    conn.executemany(
        "INSERT OR IGNORE INTO oai_set_member (set_spec, record_id) VALUES (?, ?)",
        [(s.spec, record.record_id) for s in sets],
    )
    conn.execute(
        "INSERT INTO oai_set_indexed (record_id, content_hash) VALUES (?, ?)"
        " ON CONFLICT (record_id) DO UPDATE SET content_hash = excluded.content_hash",
        (record.record_id, content_hash),
    )


def write_hook(conn: sqlite3.Connection, record: CatalogRecord, outcome: UpsertOutcome) -> None:
    """SQLiteStore.write_hooks entry: keep membership current inside the upsert's transaction."""
    # Stores opened with a custom migration list may lack our tables; the hook is
    # registered process-wide, so it must never break their writes.
    if not _has_tables(conn):
        return
    digest = record.content_hash()
    if outcome == "unchanged":
        row = conn.execute("SELECT content_hash FROM oai_set_indexed WHERE record_id = ?",
                           (record.record_id,)).fetchone()
        if row is not None and row[0] == digest:
            return
    index_record(conn, record, digest)


if write_hook not in SQLiteStore.write_hooks:
    SQLiteStore.write_hooks.append(write_hook)


_seen = threading.local()


def ensure_current(store: SQLiteStore, *, force: bool = False) -> int:
    """Re-index records whose membership is stale; returns how many were re-indexed.

    Cheap when nothing changed: it only looks at the tables when `PRAGMA data_version`
    shows a commit by another connection since this thread last checked.
    """
    conn = store.connection
    version = conn.execute("PRAGMA data_version").fetchone()[0]
    key = id(conn)
    versions: dict[int, int] = getattr(_seen, "versions", None) or {}
    _seen.versions = versions
    if not force and versions.get(key) == version:
        return 0
    versions[key] = version
    stale = conn.execute(
        "SELECT r.record_id, r.body, r.content_hash FROM record r"
        " LEFT JOIN oai_set_indexed i ON i.record_id = r.record_id"
        " WHERE i.content_hash IS NULL OR i.content_hash <> r.content_hash"
    ).fetchall()
    if not stale:
        return 0
    with store.transaction() as tx:
        for row in stale:
            record = CatalogRecord.model_validate_json(row["body"])
            index_record(tx, record, row["content_hash"])
    return len(stale)
