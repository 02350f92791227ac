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

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

from pydantic import ValidationError

from catalog.errors import StoreError
from catalog.migrations import MIGRATIONS, Migration
from catalog.model import CatalogRecord, StoredRecord

UpsertOutcome = Literal["new", "changed", "unchanged", "restored"]


def record_texts(record: CatalogRecord) -> tuple[str, str]:
    """The two stored forms of `record`: (brief, body).

    `body` is the whole record exactly as the jsonl export prints it
    (`json.dumps(model_dump(mode="json"), ensure_ascii=False)`), so that export copies
    it instead of rebuilding the model; `brief` is the record with every `texts[].text`
    emptied, small enough that formats which never print the text read it instead.
    """
    data = record.model_dump(mode="json")
    body = json.dumps(data, ensure_ascii=False)
    if data["texts"]:
        data["texts"] = [{**text, "text": ""} for text in data["texts"]]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")), body


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

    def log_event(self, record_id: int | None, outcome: str, detail: str = "", *,
                  run_id: str | None = None) -> None: ...

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
        brief, body = record_texts(record)
        prov = record.provenance
        try:
            with self.transaction() as conn:
                row = conn.execute(
                    "SELECT content_hash, deleted_at FROM record WHERE record_id = ?", (record.record_id,)
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO record (record_id, node_id, slug, url, brief, body, content_hash, etag,"
                        " last_modified, first_seen, last_changed, last_checked, deleted_at, missing_count)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
                        (record.record_id, record.node_id, record.slug, record.url, brief, body, digest,
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
                        "UPDATE record SET node_id = ?, slug = ?, url = ?, brief = ?, body = ?, content_hash = ?,"
                        " etag = ?,"
                        " last_modified = ?, last_changed = ?, last_checked = ?, deleted_at = NULL,"
                        " missing_count = 0 WHERE record_id = ?",
                        (record.node_id, record.slug, record.url, brief, body, digest, prov.etag, prov.last_modified,
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
        batch_size: int | None = None,
    ) -> Iterator[StoredRecord]:
        """Stream records in Record ID order, a batch at a time, so memory stays flat."""
        for raw in self.iter_raw(ids=ids, changed_since=changed_since, include_deleted=include_deleted,
                                 batch_size=batch_size):
            yield raw.stored()

    def iter_raw(
        self,
        *,
        ids: Iterable[int] | None = None,
        changed_since: datetime | None = None,
        include_deleted: bool = True,
        batch_size: int | None = None,
        brief: bool = False,
    ) -> Iterator[RawRecord]:
        """Like `iter_records`, but the rows as stored (`RawRecord`), for exports.

        `brief=True` reads the record without its document texts' text (the `brief`
        column): for formats that never print the text. Rows come as plain tuples, a
        batch per query, keyset-paged on record_id so memory stays flat.
        """
        column = "brief" if brief else "body"
        if batch_size is None:
            # Fewer, larger queries are faster; full bodies are ~3x the size of brief ones.
            batch_size = 2000 if brief else 1000
        cols = f"record_id, {column}, content_hash, first_seen, last_changed, last_checked, deleted_at"
        conn = self.connection
        if ids is not None:
            for record_id in ids:
                cur = conn.execute(f"SELECT {cols} FROM record WHERE record_id = ?", (int(record_id),))
                cur.row_factory = None
                row = cur.fetchone()
                if row is not None and (include_deleted or row[6] is None):
                    yield RawRecord(*row, brief=brief)
            return
        where = ["record_id > ?"]
        params: list[object] = []
        if changed_since is not None:
            where.append("last_changed >= ?")
            params.append(to_db_time(changed_since))
        if not include_deleted:
            where.append("deleted_at IS NULL")
        sql = f"SELECT {cols} FROM record WHERE {' AND '.join(where)} ORDER BY record_id LIMIT ?"
        last = 0
        while True:
            cur = conn.execute(sql, (last, *params, batch_size))
            cur.row_factory = None  # plain tuples: cheaper than sqlite3.Row, and read by position below
            rows = cur.fetchall()
            if not rows:
                return
            for row in rows:
                yield RawRecord(*row, brief=brief)
            last = rows[-1][0]

    def list_rows(self, *, batch_size: int = 5000) -> Iterator[ListRow]:
        """What `harvester list` prints, for every record in Record ID order, without the model.

        SQLite's JSON functions pick the three fields out of the brief body in one parse
        per row (a record's title, date and problems are inside its JSON), so listing the
        catalog costs a few microseconds a record instead of validating each one. A row
        whose stored JSON is unreadable comes back with `fields` None.
        """
        sql = ("SELECT record_id, CASE WHEN json_valid(brief) THEN "
               "json_extract(brief, '$.title', '$.date.normalized', '$.problems') END, deleted_at "
               "FROM record WHERE record_id > ? ORDER BY record_id LIMIT ?")
        last = 0
        loads = json.loads
        while True:
            cur = self.connection.execute(sql, (last, batch_size))
            cur.row_factory = None
            rows = cur.fetchall()
            if not rows:
                return
            for record_id, fields, deleted_at in rows:
                yield ListRow(record_id, loads(fields) if fields else None, deleted_at is not None)
            last = rows[-1][0]

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
        return RawRecord(row["record_id"], row["body"], row["content_hash"], row["first_seen"], row["last_changed"],
                         row["last_checked"], row["deleted_at"]).stored()


class ListRow(NamedTuple):
    """A record as `harvester list` shows it: `fields` is [title, normalized date, problems]
    as stored (None when the stored JSON is unreadable)."""

    record_id: int
    fields: list | None
    deleted: bool


class RawRecord:
    """One catalog row as stored: the record's JSON text and the catalog timestamps as text.

    Exports read these so a format can use the stored text directly (jsonl) and only
    the others pay for the model. `json` is the full body, or the brief one (texts'
    text emptied) when `brief` is True.
    """

    __slots__ = ("record_id", "json", "content_hash", "first_seen", "last_changed", "last_checked", "deleted_at",
                 "brief")

    def __init__(self, record_id: int, json: str, content_hash: str, first_seen: str, last_changed: str,
                 last_checked: str, deleted_at: str | None, *, brief: bool = False) -> None:
        self.record_id = record_id
        self.json = json
        self.content_hash = content_hash
        self.first_seen = first_seen
        self.last_changed = last_changed
        self.last_checked = last_checked
        self.deleted_at = deleted_at
        self.brief = brief

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def stored(self) -> StoredRecord:
        # One pass of pydantic's JSON parser over the record text with the catalog fields
        # around it: a third cheaper than validating the record, then wrapping it.
        q = encode_basestring
        deleted_at = q(self.deleted_at) if self.deleted_at else "null"
        text = (f'{{"record":{self.json},"content_hash":{q(self.content_hash)},"first_seen":{q(self.first_seen)},'
                f'"last_changed":{q(self.last_changed)},"last_checked":{q(self.last_checked)},'
                f'"deleted_at":{deleted_at}}}')
        try:
            return StoredRecord.model_validate_json(text)
        except (ValidationError, ValueError) as exc:
            raise StoreError(f"record {self.record_id} in the catalog is unreadable: {exc}") from exc


def open_store(url_or_path: str | Path) -> SQLiteStore:
    """Open the catalog named in the config. Only SQLite is built in today."""
    text = str(url_or_path)
    if text.startswith(("postgres://", "postgresql://")):
        raise StoreError("PostgreSQL is not implemented yet; the CatalogStore interface is where it plugs in")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    return SQLiteStore(text)
