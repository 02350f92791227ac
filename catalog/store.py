"""The catalog store: one small interface, SQLite behind it by default.

`CatalogStore` is the contract the rest of the project codes against; `SQLiteStore`
implements it with the standard library. A PostgreSQL store needs the same methods
and the same migrations (the SQL is kept to what both engines accept, apart from the
placeholder style, which the engine class owns).

Timestamps are stored as ISO 8601 UTC strings with microseconds
(`2026-11-25T15:38:04.123456Z`): they sort as text, so the OAI-PMH datestamp range
queries and keyset paging use the index directly.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import ValidationError

from catalog.errors import StoreError
from catalog.migrations import MIGRATIONS, Migration
from catalog.model import CatalogRecord, StoredRecord

UpsertOutcome = Literal["new", "changed", "unchanged", "restored"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
    # isoformat, not strftime: glibc's %Y writes year 999 as "999", which sorts after "2024"
    # as text (an OAI-PMH until=0999-12-31 would have matched every record).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_DB_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def from_db_time(value: str) -> datetime:
    # fromisoformat is ~20x faster than strptime (three calls per record read: a tenth of
    # an export's time); the pattern keeps the accepted format exactly what strptime took.
    if _DB_TIME.fullmatch(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class CatalogStore(Protocol):
    """What every catalog backend provides."""

    def upsert(self, record: CatalogRecord, *, now: datetime | None = None) -> UpsertOutcome: ...

    def get(self, record_id: int) -> StoredRecord | None: ...

    def iter_records(
        self,
        *,
        ids: Iterable[int] | None = None,
        changed_since: datetime | None = None,
        include_deleted: bool = True,
    ) -> Iterator[StoredRecord]: ...

    def record_ids(self, *, include_deleted: bool = True) -> list[int]: ...

    def count(self, *, include_deleted: bool = False) -> int: ...

    def mark_checked(self, record_id: int, *, now: datetime | None = None) -> None: ...

    def tombstone(self, record_id: int, *, now: datetime | None = None) -> bool: ...

    def log_event(self, record_id: int | None, outcome: str, detail: str = "", *, run_id: str | None = None) -> None: ...

    def close(self) -> None: ...


class SQLiteStore:
    """The embedded default: one SQLite file in WAL mode.

    One writer at a time (the harvest or the sync), any number of readers (exports,
    the OAI-PMH server). Each thread gets its own connection, because sqlite3
    connections must not be shared between threads and the OAI server is threaded.
    """

    def __init__(self, path: str | Path, *, migrations: list[Migration] | None = None) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate(migrations if migrations is not None else MIGRATIONS)

    # -- connections -------------------------------------------------------------
    @property
    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a write is
                # exactly one transaction and a killed process leaves no half record.
                conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open catalog {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all_connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error (nested calls join the outer one)."""
        conn = self.connection
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            for conn in self._all_connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all_connections.clear()
        self._local = threading.local()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- migrations --------------------------------------------------------------
    def _migrate(self, migrations: list[Migration]) -> None:
        conn = self.connection
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migration")}
            for migration in migrations:
                if migration.name in done:
                    continue
                with self.transaction():
                    migration.apply(conn)
                    conn.execute(
                        "INSERT INTO schema_migration (name, applied_at) VALUES (?, ?)",
                        (migration.name, to_db_time(utcnow())),
                    )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot migrate catalog {self.path}: {exc}") from exc

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.connection.execute("SELECT name FROM schema_migration ORDER BY name")]

    # -- records -----------------------------------------------------------------
    def upsert(self, record: CatalogRecord, *, now: datetime | None = None) -> UpsertOutcome:
        """Insert or update by Record ID. Only a real content change moves `last_changed`."""
        now_s = to_db_time(now or utcnow())
        digest = record.content_hash()
        body = record.model_dump_json()
        prov = record.provenance
        try:
            with self.transaction() as conn:
                row = conn.execute(
                    "SELECT content_hash, deleted_at FROM record WHERE record_id = ?", (record.record_id,)
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO record (record_id, node_id, slug, url, body, content_hash, etag,"
                        " last_modified, first_seen, last_changed, last_checked, deleted_at, missing_count)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
                        (record.record_id, record.node_id, record.slug, record.url, body, digest,
                         prov.etag, prov.last_modified, now_s, now_s, now_s),
                    )
                    outcome: UpsertOutcome = "new"
                elif row["content_hash"] == digest and row["deleted_at"] is None:
                    # Unchanged: keep the stored body (and its provenance) as it was; only
                    # the check time and the HTTP validators for the next conditional GET move.
                    conn.execute(
                        "UPDATE record SET last_checked = ?, etag = ?, last_modified = ?, missing_count = 0"
                        " WHERE record_id = ?",
                        (now_s, prov.etag, prov.last_modified, record.record_id),
                    )
                    outcome = "unchanged"
                else:
                    conn.execute(
                        "UPDATE record SET node_id = ?, slug = ?, url = ?, body = ?, content_hash = ?, etag = ?,"
                        " last_modified = ?, last_changed = ?, last_checked = ?, deleted_at = NULL,"
                        " missing_count = 0 WHERE record_id = ?",
                        (record.node_id, record.slug, record.url, body, digest, prov.etag, prov.last_modified,
                         now_s, now_s, record.record_id),
                    )
                    outcome = "restored" if row["deleted_at"] is not None else "changed"
                self._after_write(conn, record, outcome)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store record {record.record_id}: {exc}") from exc
        return outcome

    def _after_write(self, conn: sqlite3.Connection, record: CatalogRecord, outcome: UpsertOutcome) -> None:
        """Hook for derived tables kept in the same transaction (e.g. OAI set membership)."""
        for hook in self.write_hooks:
            hook(conn, record, outcome)

    # Functions called inside the upsert transaction; modules that keep derived tables
    # (such as OAI-PMH sets) register themselves here.
    write_hooks: list = []

    def get(self, record_id: int) -> StoredRecord | None:
        row = self.connection.execute("SELECT * FROM record WHERE record_id = ?", (record_id,)).fetchone()
        return self._stored(row) if row is not None else None

    def iter_records(
        self,
        *,
        ids: Iterable[int] | None = None,
        changed_since: datetime | None = None,
        include_deleted: bool = True,
        batch_size: int = 500,
    ) -> Iterator[StoredRecord]:
        """Stream records in Record ID order, a batch at a time, so memory stays flat."""
        if ids is not None:
            for record_id in ids:
                stored = self.get(int(record_id))
                if stored is not None and (include_deleted or not stored.deleted):
                    yield stored
            return
        where = ["record_id > ?"]
        params: list[object] = []
        if changed_since is not None:
            where.append("last_changed >= ?")
            params.append(to_db_time(changed_since))
        if not include_deleted:
            where.append("deleted_at IS NULL")
        sql = f"SELECT * FROM record WHERE {' AND '.join(where)} ORDER BY record_id LIMIT ?"
        last = 0
        while True:
            rows = self.connection.execute(sql, (last, *params, batch_size)).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._stored(row)
            last = rows[-1]["record_id"]

    def record_ids(self, *, include_deleted: bool = True) -> list[int]:
        sql = "SELECT record_id FROM record" + ("" if include_deleted else " WHERE deleted_at IS NULL")
        return [r[0] for r in self.connection.execute(sql + " ORDER BY record_id")]

    def count(self, *, include_deleted: bool = False) -> int:
        sql = "SELECT count(*) FROM record" + ("" if include_deleted else " WHERE deleted_at IS NULL")
        return int(self.connection.execute(sql).fetchone()[0])

    def validators(self, record_id: int) -> tuple[str | None, str | None]:
        """The stored ETag and Last-Modified, for a conditional request."""
        row = self.connection.execute(
            "SELECT etag, last_modified FROM record WHERE record_id = ?", (record_id,)
        ).fetchone()
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def mark_checked(self, record_id: int, *, now: datetime | None = None, found: bool = False) -> None:
        """Record a check that changed nothing. `found=True` (e.g. a 304) also ends a run of
        404s, so only *consecutive* misses can lead to a tombstone."""
        sql = "UPDATE record SET last_checked = ?" + (", missing_count = 0" if found else "") + " WHERE record_id = ?"
        with self.transaction() as conn:
            conn.execute(sql, (to_db_time(now or utcnow()), record_id))

    def mark_missing(self, record_id: int, *, now: datetime | None = None) -> int:
        """Count one more consecutive 404/410 for a record; returns the new count."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE record SET missing_count = missing_count + 1, last_checked = ? WHERE record_id = ?",
                (to_db_time(now or utcnow()), record_id),
            )
            row = conn.execute("SELECT missing_count FROM record WHERE record_id = ?", (record_id,)).fetchone()
        return int(row[0]) if row else 0

    def tombstone(self, record_id: int, *, now: datetime | None = None) -> bool:
        """Mark a record deleted, keeping its last metadata forever. True if it changed state."""
        now_s = to_db_time(now or utcnow())
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE record SET deleted_at = ?, last_changed = ? WHERE record_id = ? AND deleted_at IS NULL",
                (now_s, now_s, record_id),
            )
            return cur.rowcount > 0

    def log_event(
        self, record_id: int | None, outcome: str, detail: str = "", *, run_id: str | None = None
    ) -> None:
        """Append to the record history (created, changed, unchanged, not found, failed, blocked…)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO record_event (record_id, at, outcome, detail, run_id) VALUES (?, ?, ?, ?, ?)",
                (record_id, to_db_time(utcnow()), outcome, detail, run_id),
            )

    def events(self, record_id: int | None = None) -> list[sqlite3.Row]:
        if record_id is None:
            return list(self.connection.execute("SELECT * FROM record_event ORDER BY id"))
        return list(self.connection.execute("SELECT * FROM record_event WHERE record_id = ? ORDER BY id", (record_id,)))

    # -- helpers -----------------------------------------------------------------
    @staticmethod
    def _stored(row: sqlite3.Row) -> StoredRecord:
        try:
            # Straight from the JSON text: pydantic's own parser, no intermediate dicts.
            record = CatalogRecord.model_validate_json(row["body"])
        except (ValidationError, ValueError) as exc:
            raise StoreError(f"record {row['record_id']} in the catalog is unreadable: {exc}") from exc
        return StoredRecord(
            record=record,
            content_hash=row["content_hash"],
            first_seen=from_db_time(row["first_seen"]),
            last_changed=from_db_time(row["last_changed"]),
            last_checked=from_db_time(row["last_checked"]),
            deleted_at=from_db_time(row["deleted_at"]) if row["deleted_at"] else None,
        )


def open_store(url_or_path: str | Path) -> SQLiteStore:
    """Open the catalog named in the config. Only SQLite is built in today."""
    text = str(url_or_path)
    if text.startswith(("postgres://", "postgresql://")):
        raise StoreError("PostgreSQL is not implemented yet; the CatalogStore interface is where it plugs in")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    return SQLiteStore(text)
