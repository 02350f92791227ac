"""The PostgreSQL backend: psycopg 3 with its connection pool.

Chosen by a `postgresql://` URL in `storage.database` / `--db` (a libpq URL, e.g.
`postgresql://wcda@/wcda?host=/run/postgresql`). Reads borrow a pooled connection in
autocommit mode for one statement; a unit of work keeps one connection for its thread
until it commits. Readers never wait for writers (MVCC), so the OAI-PMH server keeps
answering while a harvest or sync writes. See docs/postgresql.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from catalog.errors import StoreError, StoreUnavailable
from catalog.index import Derived
from catalog.store.api import TextTerm, to_db_time, utcnow
from catalog.store.postgres.budget import PostgresBudget
from catalog.store.postgres.migrations import MIGRATIONS, Migration
from catalog.store.sql import Params, SqlStore

CONNECT_TIMEOUT = 5.0  # seconds to reach the server at start before giving up


@lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """The shared SQL's `?` placeholders as psycopg's `%s` (a literal % doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


def describe(url: str) -> str:
    """"database D on host H" from a libpq URL, for one-line errors (never the password)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured PostgreSQL database"
    host = parts.get("host") or "the default socket"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"database {parts.get('dbname') or '?'} on host {host}{port}"


# -- full-text documents, written as tsvector text -----------------------------------------------
# The document is built here from catalog.index.tokens, not by to_tsvector: PostgreSQL's
# parser has its own idea of a word (host names, paths, hyphenated compounds kept whole), and
# SQLite must index exactly the same words. Weights: title A; summary, names, places, subjects
# B; source C; texts D. ts_rank's weights for {D, C, B, A}, as SQLite's bm25 column weights.
_FIELD_WEIGHTS = "ABBBBCD"
_WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'::float4[]"
_MAX_POSITION = 16383  # tsvector positions stop here; a later word is kept without a position
_MAX_POSITIONS = 256  # positions kept per word


_MAX_DOCUMENT = 900_000  # bytes of tsvector text; PostgreSQL refuses a tsvector over 1 MB


def tsvector_text(fields: Sequence[Sequence[str]]) -> str:
    """The tsvector literal of the record's fields, each given as its words
    (`SearchText.words`): 'word':1A,5A 'other':2B …

    Positions run on through the fields with a gap of one between fields, so a phrase never
    joins the end of one field to the start of the next (FTS5 keeps columns apart too). A
    pathological text (tens of thousands of distinct long "words") is cut at `_MAX_DOCUMENT`
    bytes rather than fail the record's whole unit of work: those words only are not found."""
    found: dict[str, list[str]] = {}
    position = 0
    size = 0
    for weight, words in zip(_FIELD_WEIGHTS, fields, strict=True):
        for word in words:
            position += 1
            places = found.get(word)
            if places is None:
                size += len(word.encode("utf-8")) + 4
                if size > _MAX_DOCUMENT:
                    continue
                places = found[word] = []
            if position <= _MAX_POSITION and len(places) < _MAX_POSITIONS:
                places.append(f"{position}{weight}")
                size += 7
        position += 1
    return " ".join(f"'{word}'" + (":" + ",".join(places) if places else "") for word, places in found.items())


def tsquery_text(terms: Sequence[TextTerm]) -> str:
    """The tsquery literal of terms that all must match: 'a' & 'b' <-> 'c':* …

    Words are letters and digits only (catalog.index.tokens), so quoting them cannot fail;
    an empty query matches nothing."""
    parts = []
    for term in terms:
        words = [f"'{w}'" for w in term.words if w.isalnum()]
        if not words:
            continue
        if term.prefix:
            words[-1] += ":*"
        parts.append("(" + " <-> ".join(words) + ")" if len(words) > 1 else words[0])
    return " & ".join(parts) or "''"


def _lost(exc: Exception) -> bool:
    """A broken connection (server gone, backend terminated), not a failed statement."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}


class PostgresStore(PostgresBudget, SqlStore):
    # Workers claiming at once skip each other's locked rows instead of queueing on them.
    _claim_lock = " FOR UPDATE SKIP LOCKED"
    _row_lock = " FOR UPDATE"
    _id_list = "string_agg(record_id::text, ',')"

    def __init__(self, url: str, *, read_only: bool = False, max_connections: int = 8) -> None:
        self.url = url
        self.read_only = read_only
        self._local = threading.local()
        try:  # one direct try first: a clear one-line answer, without the pool's retries and logs
            psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT)).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot connect to PostgreSQL {describe(url)}: {reason}") from None
        self.pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False,
                                   kwargs={"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT)},
                                   check=ConnectionPool.check_connection, name="wcda-catalog")
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (PoolTimeout, psycopg.Error) as exc:
            self.pool.close()
            raise StoreError(f"cannot connect to PostgreSQL {describe(url)}: the server is unreachable or "
                             f"refused the connection ({type(exc).__name__})") from None
        self._migrate(MIGRATIONS)

    # -- connections ---------------------------------------------------------------
    def _in_unit_of_work(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    def _error(self, what: str, exc: Exception) -> Exception:
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and _lost(exc):
            return StoreUnavailable(f"{what}: lost the connection to PostgreSQL {describe(self.url)}")
        if isinstance(exc, psycopg.Error):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return StoreError(f"{what} ({describe(self.url)}): {first}")
        return exc

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """One transaction on one pooled connection for this thread; nested calls join it."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        try:
            with self.pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        yield
                finally:
                    self._local.conn = None
        except psycopg.Error as exc:
            raise self._error("catalog write failed", exc) from exc

    def _all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        try:
            with self._conn() as conn:
                return conn.execute(_pg(sql), params).fetchall()
        except psycopg.Error as exc:
            raise self._error("catalog read failed", exc) from exc

    def _exec(self, sql: str, params: Params = ()) -> int:
        try:
            with self._conn() as conn:
                return conn.execute(_pg(sql), params).rowcount
        except psycopg.Error as exc:
            raise self._error("catalog write failed", exc) from exc

    def _many(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        try:
            with self._conn() as conn, conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)
        except psycopg.Error as exc:
            raise self._error("catalog write failed", exc) from exc

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    # -- migrations ----------------------------------------------------------------
    def _migrate(self, migrations: list[Migration]) -> None:
        try:
            with self.pool.connection() as conn:
                exists = conn.execute("SELECT to_regclass('schema_migration') IS NOT NULL").fetchone()
                if self.read_only:
                    if not (exists and exists[0]):
                        raise StoreError(f"no catalog in PostgreSQL {describe(self.url)}: harvest into it first, "
                                         f"or point --db (storage.database) at one")
                    done = {r[0] for r in conn.execute("SELECT name FROM schema_migration")} \
                        if exists and exists[0] else set()
                    pending = [m.name for m in migrations if m.name not in done]
                    if pending:
                        raise StoreError(f"PostgreSQL {describe(self.url)} needs an upgrade ({', '.join(pending)}):"
                                         f" run any write command once with a role that may change the schema")
                    return
                with conn.transaction():
                    # One migrating process at a time (two harvests starting together).
                    conn.execute("SELECT pg_advisory_xact_lock(4242010)")
                    conn.execute("CREATE TABLE IF NOT EXISTS schema_migration"
                                 " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
                    done = {r[0] for r in conn.execute("SELECT name FROM schema_migration")}
                    for migration in migrations:
                        if migration.name in done:
                            continue
                        migration.apply(conn)
                        conn.execute("INSERT INTO schema_migration (name, applied_at) VALUES (%s, %s)",
                                     (migration.name, to_db_time(utcnow())))
        except psycopg.Error as exc:
            raise self._error("cannot migrate catalog", exc) from exc
        if not self.index_current():
            self.reindex()

    # -- full-text search ----------------------------------------------------------
    def _text_write(self, record_id: int, derived: Derived) -> None:
        self._exec("INSERT INTO record_text (record_id, document) VALUES (?, ?::tsvector)"
                   " ON CONFLICT (record_id) DO UPDATE SET document = excluded.document",
                   (record_id, tsvector_text(derived.text.words)))

    def _text_clear(self) -> None:
        self._exec("DELETE FROM record_text")

    def _text_match(self, terms: Sequence[TextTerm]) -> tuple[str, list[object], str]:
        join = (" JOIN (SELECT ?::tsquery AS query) AS q ON true"
                " JOIN record_text s ON s.record_id = o.record_id AND s.document @@ q.query")
        return join, [tsquery_text(terms)], f"ts_rank({_WEIGHTS}, s.document, q.query) DESC"

    def text_matches(self, terms: Sequence[TextTerm], *, ranked: bool,
                     among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        # ts_rank negated: a lower rank is a better match, as `search` orders by ts_rank DESC.
        rank = f"-ts_rank({_WEIGHTS}, s.document, q.query)" if ranked else "0.0"
        sql = (f"SELECT s.record_id, {rank} FROM (SELECT ?::tsquery AS query) AS q"
               " JOIN record_text s ON s.document @@ q.query")
        params: list[object] = [tsquery_text(terms)]
        if among is not None:
            sql += " WHERE s.record_id = ANY(?::bigint[])"
            params.append([int(i) for i in among])
        return [(int(r[0]), float(r[1])) for r in self._all(sql, params)]

    def text_match_ids(self, terms: Sequence[TextTerm]) -> str:
        row = self._one("SELECT string_agg(s.record_id::text, ',') FROM (SELECT ?::tsquery AS query) AS q"
                        " JOIN record_text s ON s.document @@ q.query", [tsquery_text(terms)])
        return str(row[0]) if row and row[0] is not None else ""

    def coverage(self, fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
        """{"records": N, "fields": {field: count}} over the live catalog (jsonb path queries)."""
        parts = []
        for path, kind in fields.values():
            value = f"jsonb_path_query_first(b, '{path}')"
            if kind == "list":
                parts.append(f"count(*) FILTER (WHERE jsonb_typeof({value}) = 'array'"
                             f" AND jsonb_array_length({value}) > 0)")
            else:
                parts.append(f"count(*) FILTER (WHERE {value} IS NOT NULL AND {value} <> 'null'::jsonb"
                             f" AND {value} <> '\"\"'::jsonb)")
        row = self._one(f"SELECT count(*), {', '.join(parts)} FROM"
                        " (SELECT body::jsonb AS b FROM record WHERE deleted_at IS NULL) AS live")
        assert row is not None
        return {"records": int(row[0]), "fields": {name: int(row[i + 1]) for i, name in enumerate(fields)}}

    def explain_set_page(self, facet: str) -> str:
        until = to_db_time(utcnow())
        source, where, params = self._range(facet, None, until)
        sql = (f"EXPLAIN SELECT t.record_id, t.last_changed, r.deleted_at, r.brief FROM {source}"
               f" JOIN record r ON r.record_id = t.record_id WHERE {where} AND (t.last_changed, t.record_id) > (?, ?)"
               f" ORDER BY t.last_changed, t.record_id LIMIT ?")
        return "\n".join(r[0] for r in self._all(sql, [*params, "", 0, 100]))

    def analyze(self) -> None:
        """Statistics and the visibility map after a bulk load (VACUUM cannot run in a transaction).

        Without the visibility map an index-only scan of record_facet (a set page) still
        visits the heap for every row; autovacuum sets it eventually, this does it now."""
        if self._in_unit_of_work():
            self._exec("ANALYZE")
            return
        self._exec("VACUUM (ANALYZE)")

    def after_copy(self) -> None:
        self._exec("SELECT setval(pg_get_serial_sequence('record_event', 'id'), coalesce(max(id), 0) + 1, false)"
                   " FROM record_event")
