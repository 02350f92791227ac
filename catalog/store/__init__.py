"""The catalog store: one contract (`api.CatalogStore`), two backends.

`open_store(storage.database)` picks the backend from the setting: a path or
`sqlite:///path` is the embedded SQLite file (`catalog.store.sqlite`), a
`postgresql://` URL a PostgreSQL database (`catalog.store.postgres`, psycopg 3 and its
pool). Everything else in the project imports from here and codes against the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from catalog.errors import StoreError
from catalog.prepared import record_texts
from catalog.store.api import (
    CatalogStore,
    Event,
    FacetCount,
    ListRow,
    OaiRow,
    RawRecord,
    RecordState,
    SearchQuery,
    SearchResult,
    SearchSort,
    TextTerm,
    UpsertOutcome,
    from_db_time,
    to_db_time,
    utcnow,
)
from catalog.store.sqlite import SQLiteStore, sqlite_path, writable

__all__ = ["CatalogStore", "Event", "FacetCount", "ListRow", "OaiRow", "RawRecord", "RecordState", "SQLiteStore",
           "SearchQuery", "SearchResult", "SearchSort", "TextTerm", "UpsertOutcome", "display_name", "from_db_time",
           "is_postgres", "open_store", "record_texts", "to_db_time", "utcnow"]

Mode = Literal["write", "read"]


def is_postgres(url: str | Path) -> bool:
    return str(url).startswith(("postgres://", "postgresql://"))


def display_name(url_or_path: str | Path) -> str:
    """The catalog as messages name it: the SQLite path, or "database D on host H" (never a password)."""
    text = str(url_or_path)
    if is_postgres(text):
        from catalog.store.postgres import describe

        return describe(text)
    return sqlite_path(text)


def open_store(url_or_path: str | Path, *, mode: Mode = "write") -> CatalogStore:
    """Open the catalog named by `storage.database` / `--db`.

    `mode="write"` creates a missing SQLite catalog and upgrades an old one. `mode="read"`
    (list, show, export, cite, serve, feed, status, report) never creates one: a missing
    catalog is an error naming it, and a SQLite file this user cannot write is opened
    read-only instead of failing.
    """
    text = str(url_or_path)
    if is_postgres(text):
        from catalog.store.postgres import PostgresStore  # psycopg is only loaded for PostgreSQL

        return PostgresStore(text, read_only=mode == "read")
    path = Path(sqlite_path(text))
    if mode == "read" and text != ":memory:":
        if not path.is_file():
            raise StoreError(f"no catalog at {path}: harvest first, or point --db (storage.database) at one")
        if not writable(path):
            return SQLiteStore(path, read_only=True)
    return SQLiteStore(path)
