"""The embedded default backend: one SQLite file in WAL mode.

One writer at a time (a harvest or a sync), any number of readers (exports, the OAI-PMH
server): WAL readers never wait for the writer and never see half a unit of work. Each
thread gets its own connection (sqlite3 connections must not be shared between
threads, and the OAI server is threaded).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.errors import StoreError
from catalog.store.api import ListRow, TextTerm, to_db_time, utcnow
from catalog.store.sql import Params, SqlStore
from catalog.store.sqlite.budget import SQLiteBudget
from catalog.store.sqlite.migrations import MIGRATIONS, Migration

if TYPE_CHECKING:
    from catalog.index import Derived

# bm25 weights of record_text's columns: title, summary, names, places, subjects, source, texts
_WEIGHTS = "10.0, 4.0, 4.0, 4.0, 4.0, 2.0, 1.0"


class SQLiteStore(SQLiteBudget, SqlStore):
    """A catalog in one SQLite file (`path`), or `:memory:` for a throw-away one.

    `read_only=True` opens the file without ever writing to it (for read commands on a
    file the user may not write); such a catalog must already be up to date.
    """

    def __init__(self, path: str | Path, *, migrations: list[Migration] | None = None,
                 read_only: bool = False) -> None:
        self.path = Path(path)
        self.url = str(path)
        self.read_only = read_only
        if str(path) != ":memory:" and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate(migrations if migrations is not None else MIGRATIONS, full=migrations is None)

    # -- connections ---------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            # mode=ro needs the -shm file or the right to create it; immutable=1 reads a
            # file in a folder we cannot write (no other writer can be running there then).
            try:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=30)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error:
                conn = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True, isolation_level=None,
                                       check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            return conn
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a unit of work is
        # exactly one transaction and a killed process leaves no half record.
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        # Turning a new file to WAL needs it to itself, and SQLite answers "database is locked" at
        # once (no busy wait) while another process opening it at the same moment does the same:
        # workers started together on a new catalog. Try again for as long as the busy timeout.
        deadline = time.monotonic() + 30
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    conn.close()
                    raise
                time.sleep(0.01)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (backend-specific: for tests and benchmarks of this backend)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._open()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open catalog {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all_connections.append(conn)
        return conn

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error (nested calls join the outer one)."""
        conn = self.connection
        if conn.in_transaction:
            yield
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._error(f"catalog {self.path}", exc) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _in_unit_of_work(self) -> bool:
        return self.connection.in_transaction

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

    def _error(self, what: str, exc: Exception) -> Exception:
        if isinstance(exc, sqlite3.Error):
            return StoreError(f"{what}: {exc}")
        return exc

    def _all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"catalog {self.path}: {exc}") from exc

    def _exec(self, sql: str, params: Params = ()) -> int:
        try:
            return self.connection.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"catalog {self.path}: {exc}") from exc

    def _many(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            try:
                self.connection.executemany(sql, rows)
            except sqlite3.Error as exc:
                raise StoreError(f"catalog {self.path}: {exc}") from exc

    # -- migrations ----------------------------------------------------------------
    def _migrate(self, migrations: list[Migration], *, full: bool) -> None:
        conn = self.connection
        try:
            if self.read_only:
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                done = {r[0] for r in conn.execute("SELECT name FROM schema_migration")} \
                    if "schema_migration" in names else set()
                pending = [m.name for m in migrations if m.name not in done]
                if pending or (full and not self.index_current()):
                    steps = ", ".join(pending) or "reindex"
                    raise StoreError(f"catalog {self.path} is read-only and needs an upgrade ({steps}): run any "
                                     f"write command (e.g. `harvester --db {self.path} reindex`) with write access")
                return
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migration")}
            for migration in migrations:
                if migration.name in done:
                    continue
                with self.unit_of_work():
                    # Again under the write lock: workers started together on a new catalog each
                    # read `done` before any had migrated ("table record_sort already exists").
                    if conn.execute("SELECT 1 FROM schema_migration WHERE name = ?", (migration.name,)).fetchone():
                        continue
                    migration.apply(conn)
                    conn.execute("INSERT INTO schema_migration (name, applied_at) VALUES (?, ?)",
                                 (migration.name, to_db_time(utcnow())))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot migrate catalog {self.path}: {exc}") from exc
        # The step after the frozen ones: indexes derived by live code (see m0005).
        if full and not self.index_current():
            self.reindex()

    # -- full-text search ----------------------------------------------------------
    def _text_write(self, record_id: int, derived: Derived) -> None:
        self._exec("DELETE FROM record_text WHERE rowid = ?", (record_id,))
        # The words as catalog.index.tokens makes them, space-separated: the table's `ascii`
        # tokenizer splits on the spaces only, so FTS5 indexes exactly these words (m0009).
        self._exec("INSERT INTO record_text (rowid, title, summary, names, places, subjects, source, texts)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (record_id, *(" ".join(words) for words in derived.text.words)))

    def _text_clear(self) -> None:
        self._exec("DELETE FROM record_text")

    def _text_match(self, terms: Sequence[TextTerm]) -> tuple[str, list[object], str]:
        # Every term a quoted FTS5 string of letters and digits (what catalog.index.tokens makes):
        # user text never becomes FTS5 query syntax. "a b" is a phrase, "a"* a prefix.
        parts = []
        for term in terms:
            words = [w for w in term.words if w.isalnum()]
            if words:
                parts.append('"' + " ".join(words) + '"' + ("*" if term.prefix else ""))
        query = " AND ".join(parts) or '""'
        join = " JOIN record_text ON record_text.rowid = o.record_id AND record_text MATCH ?"
        # bm25 with the fields weighted as PostgreSQL's setweight does (title A, …, texts D)
        return join, [query], f"bm25(record_text, {_WEIGHTS})"

    def text_matches(self, terms: Sequence[TextTerm], *, ranked: bool,
                     among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        join, params, rank = self._text_match(terms)
        # The same MATCH as `search`, without the join: FTS5 hands the rowids over as it reads its doclists.
        sql = f"SELECT rowid, {rank if ranked else '0.0'} FROM record_text WHERE record_text MATCH ?"
        if among is not None:
            # `+rowid`: not a constraint FTS5 is offered (it would run the MATCH once per Record ID),
            # a test on each matching row before bm25 is computed for it, so only these are ranked.
            sql += " AND +rowid IN (SELECT value FROM json_each(?))"
            params = [*params, json.dumps([int(i) for i in among])]
        return self._all(sql, params)

    def text_match_ids(self, terms: Sequence[TextTerm]) -> str:
        _, params, _ = self._text_match(terms)
        row = self._one("SELECT group_concat(rowid) FROM record_text WHERE record_text MATCH ?", params)
        return str(row[0]) if row and row[0] is not None else ""

    def coverage(self, fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
        """{"records": N, "fields": {field: count}} over the live catalog, in SQL (JSON functions)."""
        parts = []
        for path, kind in fields.values():
            if kind == "list":
                parts.append(f"coalesce(sum(coalesce(json_array_length(body, '{path}'), 0) > 0), 0)")
            else:
                parts.append(f"coalesce(sum(json_extract(body, '{path}') IS NOT NULL"
                             f" AND json_extract(body, '{path}') != ''), 0)")
        row = self._one(f"SELECT count(*), {', '.join(parts)} FROM record WHERE deleted_at IS NULL")
        assert row is not None
        return {"records": int(row[0]), "fields": {name: int(row[i + 1]) for i, name in enumerate(fields)}}

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
            rows = self._all(sql, (last, batch_size))
            if not rows:
                return
            for record_id, fields, deleted_at in rows:
                yield ListRow(record_id, loads(fields) if fields else None, deleted_at is not None)
            last = rows[-1][0]

    def explain_set_page(self, facet: str) -> str:
        until = to_db_time(utcnow())
        source, where, params = self._range(facet, None, until)
        sql = (f"SELECT t.record_id, t.last_changed, r.deleted_at, r.brief FROM {source}"
               f" JOIN record r ON r.record_id = t.record_id WHERE {where} AND (t.last_changed, t.record_id) > (?, ?)"
               f" ORDER BY t.last_changed, t.record_id LIMIT ?")
        rows = self._all("EXPLAIN QUERY PLAN " + sql, [*params, "", 0, 100])
        return "\n".join(str(r[-1]) for r in rows)

    def checkpoint(self) -> None:
        """Fold the WAL back into the file (for copies and benchmarks)."""
        self._exec("PRAGMA wal_checkpoint(TRUNCATE)")


def sqlite_path(url: str) -> str:
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url


def writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
