"""The SQL both backends share: records, history, derived indexes, OAI-PMH pages, sync runs.

Written once in the SQL SQLite and PostgreSQL both accept (`?` placeholders, which the
PostgreSQL backend turns into `%s`; `ON CONFLICT`, row values, `coalesce`). Each
backend supplies the connection handling and what differs: full-text search, the JSON
coverage query, its frozen migrations.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from catalog.errors import LeaseLost, StoreError, StoreUnavailable
from catalog.prepared import PreparedRecord, prepared_for
from catalog.store.api import (
    RUN_FIELDS,
    Event,
    FacetCount,
    FacetValue,
    ListRow,
    LockRow,
    OaiRow,
    RawRecord,
    RecordState,
    RunCounts,
    RunInfo,
    SearchQuery,
    SearchResult,
    SyncItem,
    TextTerm,
    UpsertOutcome,
    WorkerRow,
    WorkItem,
    run_info,
    to_db_time,
    utcnow,
)

if TYPE_CHECKING:  # imported where records are built or indexed (start-up of the read commands)
    from catalog.index import Derived
    from catalog.model import CatalogRecord, StoredRecord

Params = Sequence[object]
# A slug that may be a Record ID: ASCII digits, small enough for an INTEGER key.
_RECORD_ID = re.compile(r"[0-9]{1,15}")
T = TypeVar("T")

_RUN_COLUMNS = ("run_id, started_at, finished_at, status, params, phase, checkpoint, robots, baseline, requests,"
                " attempts, warc_files, stop_reason, report")
_ITEM_COLUMNS = "run_id, kind, key, seq, page, record_id, outcome, detail, fields, at"
_STATE_COLUMNS = "record_id, url, slug, etag, last_modified, last_checked, missing_count, deleted_at"
# Base tables copied by copy-catalog: (columns, integer key to page on or "").
COPY_TABLES: dict[str, tuple[str, str]] = {
    "record": ("record_id, node_id, slug, url, brief, body, content_hash, etag, last_modified, first_seen,"
               " last_changed, last_checked, deleted_at, missing_count", "record_id"),
    "record_event": ("id, record_id, at, outcome, detail, run_id", "id"),
    "sync_run": (_RUN_COLUMNS, ""),
    "sync_item": (_ITEM_COLUMNS, ""),
    "sync_queue": ("run_id, pos, record_id", ""),
    "store_meta": ("key, value", ""),
}
_WORK_COLUMNS = ("id, batch, kind, key, state, lease_owner, lease_expires, attempts, last_error, outcome,"
                 " detail")
_WORKER_COLUMNS = "worker_id, host, pid, started_at, heartbeat_at, items_done, stopped_at"
# Stopped workers' rows are kept this long for `harvester status`, then pruned.
_WORKER_KEEP = timedelta(days=7)
_RAW_COLUMNS = "record_id, {column}, content_hash, first_seen, last_changed, last_checked, deleted_at"


class SqlStore:
    """Everything but connections; subclasses provide the methods marked "backend"."""

    url: str
    read_only: bool = False
    # FormatOptions the stored renderings are made with (catalog.export.rendered); None: the
    # defaults. Write commands set it from the [export] settings.
    render_options: Any = None
    # Appended to the work queue's claim SELECT. SQLite needs nothing (a claim runs inside
    # BEGIN IMMEDIATE: one writer at a time); PostgreSQL says FOR UPDATE SKIP LOCKED.
    _claim_lock = ""
    _row_lock = ""  # PostgreSQL: " FOR UPDATE" (SQLite's BEGIN IMMEDIATE holds the one write lock)

    # -- backend --------------------------------------------------------------------
    def unit_of_work(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _exec(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        raise NotImplementedError

    def _many(self, sql: str, rows: Sequence[Params]) -> None:
        raise NotImplementedError

    def _text_write(self, record_id: int, derived: Derived) -> None:
        raise NotImplementedError

    def _text_match(self, terms: Sequence[TextTerm]) -> tuple[str, list[object], str]:
        """(JOIN clause over `record_sort o`, its params, ORDER BY rank expression, best first) for terms
        that all must match (words from `catalog.index.tokens`: letters and digits only)."""
        raise NotImplementedError

    def coverage(self, fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------
    def _one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, work: Callable[[], T]) -> T:
        """Run `work` in one unit of work. If the connection to the database server is lost,
        reconnect and run it once more (the lost attempt was rolled back, never half-written);
        a second loss raises StoreUnavailable, which stops the run."""
        if self._in_unit_of_work():
            return work()
        try:
            with self.unit_of_work():
                return work()
        except StoreUnavailable:
            with self.unit_of_work():
                return work()

    def _in_unit_of_work(self) -> bool:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        """The unit of work under its older name."""
        return self.unit_of_work()

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self._all("SELECT name FROM schema_migration ORDER BY name")]

    def meta(self, key: str, default: str) -> str:
        """A small per-catalog value, set to `default` on first use (e.g. the OAI token key)."""
        row = self._one("SELECT value FROM store_meta WHERE key = ?", (key,))
        if row is not None:
            return str(row[0])
        if self.read_only:  # kept for this process only
            return default
        with self.unit_of_work():
            self._exec("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, default))
            row = self._one("SELECT value FROM store_meta WHERE key = ?", (key,))
        assert row is not None
        return str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT INTO store_meta (key, value) VALUES (?, ?)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- records ----------------------------------------------------------------------
    def upsert(self, record: CatalogRecord | PreparedRecord, *, now: datetime | None = None) -> UpsertOutcome:
        """Insert or update by Record ID, with its derived indexes, in one transaction.
        Only a real content change moves `last_changed`. `record` may come prepared
        (catalog/prepared.py: a harvest prepares it in its parse workers)."""
        item = prepared_for(record, self.render_options)
        now_s = to_db_time(now or utcnow())
        digest, brief, body = item.content_hash, item.brief, item.body
        prov = item.record.provenance
        rid = item.record.record_id
        record = item.record
        try:
            with self.unit_of_work():
                row = self._one("SELECT content_hash, deleted_at FROM record WHERE record_id = ?", (rid,))
                if row is None:
                    self._exec(
                        "INSERT INTO record (record_id, node_id, slug, url, brief, body, content_hash, etag,"
                        " last_modified, first_seen, last_changed, last_checked, deleted_at, missing_count)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
                        (rid, record.node_id, record.slug, record.url, brief, body, digest,
                         prov.etag, prov.last_modified, now_s, now_s, now_s),
                    )
                    outcome: UpsertOutcome = "new"
                elif row[0] == digest and row[1] is None:
                    # Unchanged: keep the stored body (and its provenance) as it was; only
                    # the check time and the HTTP validators for the next conditional GET move.
                    self._exec(
                        "UPDATE record SET last_checked = ?, etag = ?, last_modified = ?, missing_count = 0"
                        " WHERE record_id = ?",
                        (now_s, prov.etag, prov.last_modified, rid),
                    )
                    return "unchanged"
                else:
                    self._exec(
                        "UPDATE record SET node_id = ?, slug = ?, url = ?, brief = ?, body = ?, content_hash = ?,"
                        " etag = ?, last_modified = ?, last_changed = ?, last_checked = ?, deleted_at = NULL,"
                        " missing_count = 0 WHERE record_id = ?",
                        (record.node_id, record.slug, record.url, brief, body, digest, prov.etag,
                         prov.last_modified, now_s, now_s, rid),
                    )
                    outcome = "restored" if row[1] is not None else "changed"
                self._write_indexes(rid, item.derived, now_s)
                self._write_renderings(rid, item.renderings)
        except StoreError:
            raise
        except Exception as exc:
            raise self._error(f"cannot store record {rid}", exc) from exc
        return outcome

    def _error(self, what: str, exc: Exception) -> Exception:
        """A backend error as a StoreError (other exceptions pass unchanged)."""
        return exc

    def _write_indexes(self, record_id: int, derived: Derived, last_changed: str,
                       deleted_at: str | None = None) -> None:
        """Replace the record's facet rows, sort keys and search text (inside the caller's transaction)."""
        self._exec("DELETE FROM record_facet WHERE record_id = ?", (record_id,))
        facets = derived.facets
        self._many("INSERT INTO facet (key, family, value, label) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                   [(f.key, f.family, f.value, f.label) for f in facets])
        self._many("INSERT INTO record_facet (key, record_id, last_changed) VALUES (?, ?, ?)",
                   [(f.key, record_id, last_changed) for f in facets])
        sort = derived.sort
        self._exec("INSERT INTO record_sort (record_id, date_start, date_end, title, last_changed, deleted_at)"
                   " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET date_start = excluded.date_start,"
                   " date_end = excluded.date_end, title = excluded.title, last_changed = excluded.last_changed,"
                   " deleted_at = excluded.deleted_at",
                   (record_id, sort.date_start, sort.date_end, sort.title, last_changed, deleted_at))
        self._text_write(record_id, derived)

    def _write_renderings(self, record_id: int, rendered: Iterable[tuple[str, str, str]]) -> None:
        """Replace the record's stored renderings, (format, key, text) each (inside the caller's transaction)."""
        self._exec("DELETE FROM record_rendered WHERE record_id = ?", (record_id,))
        self._many("INSERT INTO record_rendered (record_id, format, key, text) VALUES (?, ?, ?, ?)",
                   [(record_id, fmt, key, text) for fmt, key, text in rendered])

    def fill_renderings(self, *, options: Any = None, progress: Any = None, batch: int = 200) -> int:
        """Store the current renderings of every live record that lacks one (a catalog from
        before m0008, or made under another serializer version or other options); returns
        how many records were rendered. One transaction per batch, so a harvest or a server
        can go on meanwhile: a record changed since it was read is left to its own write."""
        from catalog.export.rendered import current_keys, renderings
        from catalog.model import CatalogRecord  # with the record model: read commands never get here

        if options is not None:
            self.render_options = options
        keys = current_keys(self.render_options)
        key_marks = ", ".join("?" * len(keys))
        done = 0
        last = 0
        while True:
            rows = self._all(
                "SELECT r.record_id, r.brief, r.content_hash FROM record r WHERE r.record_id > ?"
                " AND r.deleted_at IS NULL AND (SELECT count(*) FROM record_rendered x WHERE"
                f" x.record_id = r.record_id AND x.key IN ({key_marks})) < ? ORDER BY r.record_id LIMIT ?",
                (last, *keys.values(), len(keys), batch))
            if not rows:
                return done
            out: list[tuple[object, ...]] = []
            for record_id, brief, digest in rows:
                try:
                    record = CatalogRecord.model_validate_json(brief)
                except ValueError:
                    continue  # an unreadable row: readers report it; nothing to render
                out += [(record_id, fmt, key, text, record_id, digest)
                        for fmt, key, text in renderings(record, self.render_options)]
                done += 1
            with self.unit_of_work():
                self._many("INSERT INTO record_rendered (record_id, format, key, text) SELECT ?, ?, ?, ?"
                           " WHERE EXISTS (SELECT 1 FROM record WHERE record_id = ? AND content_hash = ?"
                           " AND deleted_at IS NULL)"
                           " ON CONFLICT (record_id, format) DO UPDATE SET key = excluded.key, text = excluded.text",
                           out)
            last = rows[-1][0]
            if progress is not None:
                progress(done)

    def get(self, record_id: int) -> StoredRecord | None:
        for raw in self.iter_raw(ids=[record_id]):
            return raw.stored()
        return None

    def iter_records(self, *, ids: Iterable[int] | None = None, changed_since: datetime | None = None,
                     include_deleted: bool = True, batch_size: int | None = None) -> Iterator[StoredRecord]:
        """Stream records in Record ID order, a batch at a time, so memory stays flat."""
        for raw in self.iter_raw(ids=ids, changed_since=changed_since, include_deleted=include_deleted,
                                 batch_size=batch_size):
            yield raw.stored()

    def iter_raw(self, *, ids: Iterable[int] | None = None, changed_since: datetime | None = None,
                 include_deleted: bool = True, batch_size: int | None = None,
                 brief: bool = False, rendered: tuple[str, str] | None = None) -> Iterator[RawRecord]:
        """Like `iter_records`, but the rows as stored (`RawRecord`), for exports.

        `brief=True` reads the record without its document texts' text (the `brief`
        column): for formats that never print the text. `rendered=(format, key)` also reads
        the record's stored rendering in that format when it was made under that key
        (`RawRecord.rendered`, else None). Keyset-paged on record_id.
        """
        column = "brief" if brief else "body"
        cols = "r." + _RAW_COLUMNS.format(column=column).replace(", ", ", r.")
        if rendered is not None and ids is None:
            yield from self._iter_rendered(rendered, cols, changed_since, include_deleted, brief, batch_size)
            return
        join = ""
        join_params: tuple[object, ...] = ()
        if rendered is not None:
            # A live record with its current rendering needs nothing else: its JSON is not read.
            cols = cols.replace(f"r.{column}", f"CASE WHEN x.text IS NULL OR r.deleted_at IS NOT NULL"
                                               f" THEN r.{column} ELSE '' END") + ", x.text"
            join = " LEFT JOIN record_rendered x ON x.record_id = r.record_id AND x.format = ? AND x.key = ?"
            join_params = (rendered[0], rendered[1])
        if batch_size is None:
            # Fewer, larger queries are faster; full bodies are ~3x the size of brief ones.
            batch_size = 2000 if brief else 1000
        if ids is not None:
            # A batch of IDs a query (a search page's 20 records: one round trip to a database
            # server instead of 20), yielded in the order given.
            wanted = iter(ids)
            while chunk := [int(i) for i in itertools.islice(wanted, min(batch_size, 500))]:
                unique = list(dict.fromkeys(chunk))
                found = {row[0]: row for row in self._all(
                    f"SELECT {cols} FROM record r{join} WHERE r.record_id IN ({', '.join('?' * len(unique))})",
                    (*join_params, *unique))}
                for record_id in chunk:
                    row = found.get(record_id)
                    if row is not None and (include_deleted or row[6] is None):
                        yield RawRecord(*row[:7], brief=brief, rendered=row[7] if rendered else None)
            return
        where, params = self._paging_filter(changed_since, include_deleted)
        sql = f"SELECT {cols} FROM record r{join} WHERE {' AND '.join(where)} ORDER BY r.record_id LIMIT ?"
        last = 0
        while True:
            rows = self._all(sql, (*join_params, last, *params, batch_size))
            if not rows:
                return
            if rendered is None:
                for row in rows:
                    yield RawRecord(*row, brief=brief)
            else:
                for row in rows:
                    yield RawRecord(*row[:7], brief=brief, rendered=row[7])
            last = rows[-1][0]

    @staticmethod
    def _paging_filter(changed_since: datetime | None, include_deleted: bool) -> tuple[list[str], list[object]]:
        """The WHERE terms of a keyset walk over `record r` (after a Record ID, changed since, live
        only) and their parameters after the Record ID's."""
        where = ["r.record_id > ?"]
        params: list[object] = []
        if changed_since is not None:
            where.append("r.last_changed >= ?")
            params.append(to_db_time(changed_since))
        if not include_deleted:
            where.append("r.deleted_at IS NULL")
        return where, params

    def _iter_rendered(self, rendered: tuple[str, str], cols: str, changed_since: datetime | None,
                       include_deleted: bool, brief: bool, batch_size: int | None) -> Iterator[RawRecord]:
        """`iter_raw(rendered=...)` over the whole catalog: per row only the Record ID, the
        deletion and the stored rendering. The record's other columns sit after its JSON in
        the row (SQLite walks the JSON's overflow pages to reach them), so they are read, in
        one query per batch, only for the rows that need the record itself (a tombstone, or
        no current rendering). A row with its rendering has `json` and the catalog timestamps
        "" (they are not needed to frame the rendering)."""
        where, params = self._paging_filter(changed_since, include_deleted)
        sql = (f"SELECT r.record_id, r.deleted_at, x.text FROM record r LEFT JOIN record_rendered x"
               f" ON x.record_id = r.record_id AND x.format = ? AND x.key = ?"
               f" WHERE {' AND '.join(where)} ORDER BY r.record_id LIMIT ?")
        batch_size = batch_size or 1000  # the texts (mods, marcxml ~4-9 KB) are what a batch holds in memory
        last = 0
        while True:
            rows = self._all(sql, (rendered[0], rendered[1], last, *params, batch_size))
            if not rows:
                return
            # The records themselves 500 at a time: a catalog without renderings needs every one.
            for start in range(0, len(rows), 500):
                part = rows[start:start + 500]
                need = [row[0] for row in part if row[2] is None or row[1] is not None]
                full = {row[0]: row for row in self._all(
                    f"SELECT {cols} FROM record r WHERE r.record_id IN ({', '.join('?' * len(need))})", tuple(need))
                } if need else {}
                for record_id, deleted_at, text in part:
                    if text is not None and deleted_at is None:
                        yield RawRecord(record_id, "", "", "", "", "", None, brief=brief, rendered=text)
                    elif record_id in full:  # (a row deleted between the two reads is left out)
                        yield RawRecord(*full[record_id], brief=brief, rendered=text)
            last = rows[-1][0]

    @staticmethod
    def _where(conditions: list[str], facet: str | None) -> tuple[str, tuple[object, ...]]:
        """A WHERE clause over `record` from conditions, plus membership of one facet key (an OAI set)."""
        params: tuple[object, ...] = ()
        if facet is not None:
            conditions = [*conditions, "record_id IN (SELECT record_id FROM record_facet WHERE key = ?)"]
            params = (facet,)
        return (" WHERE " + " AND ".join(conditions) if conditions else ""), params

    def record_ids(self, *, include_deleted: bool = True, facet: str | None = None) -> list[int]:
        where, params = self._where([] if include_deleted else ["deleted_at IS NULL"], facet)
        return [r[0] for r in self._all(f"SELECT record_id FROM record{where} ORDER BY record_id", params)]

    def count(self, *, include_deleted: bool = False) -> int:
        sql = "SELECT count(*) FROM record" + ("" if include_deleted else " WHERE deleted_at IS NULL")
        row = self._one(sql)
        return int(row[0]) if row else 0

    def count_deleted(self, *, facet: str | None = None) -> int:
        where, params = self._where(["deleted_at IS NOT NULL"], facet)
        row = self._one(f"SELECT count(*) FROM record{where}", params)
        return int(row[0]) if row else 0

    @staticmethod
    def _state(row: tuple[Any, ...]) -> RecordState:
        return RecordState(row[0], row[1], row[2], row[3], row[4], row[5], int(row[6]), row[7] is not None)

    def state(self, record_id: int) -> RecordState | None:
        row = self._one(f"SELECT {_STATE_COLUMNS} FROM record WHERE record_id = ?", (record_id,))
        return self._state(row) if row else None

    def states(self) -> list[RecordState]:
        """Every record's bookkeeping, pending 404s first, then least recently checked."""
        rows = self._all(
            f"SELECT {_STATE_COLUMNS} FROM record ORDER BY"
            " CASE WHEN missing_count > 0 AND deleted_at IS NULL THEN 0 ELSE 1 END, last_checked, record_id")
        return [self._state(r) for r in rows]

    def has_slug(self, slug: str) -> bool:
        """A record with this slug (or, for a numeric slug, this Record ID) is in the catalog."""
        if self._one("SELECT 1 FROM record WHERE slug = ? LIMIT 1", (slug,)) is not None:
            return True
        # ASCII digits only ("²", "١٢٣" pass str.isdigit()), and small enough for an INTEGER key.
        return (_RECORD_ID.fullmatch(slug) is not None
                and self._one("SELECT 1 FROM record WHERE record_id = ?", (int(slug),)) is not None)

    def slug_of(self, record_id: int) -> str | None:
        """The slug the catalog holds for a Record ID (None if the record or its slug is absent)."""
        row = self._one("SELECT slug FROM record WHERE record_id = ?", (record_id,))
        return row[0] if row is not None and row[0] else None

    def list_rows(self, *, batch_size: int = 5000) -> Iterator[ListRow]:
        """What `harvester list` prints, for every record in Record ID order, without the model.

        Reads the brief JSON and picks out title, normalized date and problems (a backend may do
        that in SQL, see SQLiteStore). A row whose stored JSON is unreadable has `fields` None.
        """
        sql = "SELECT record_id, brief, deleted_at FROM record WHERE record_id > ? ORDER BY record_id LIMIT ?"
        last = 0
        loads = json.loads
        while True:
            rows = self._all(sql, (last, batch_size))
            if not rows:
                return
            for record_id, brief, deleted_at in rows:
                fields: list[Any] | None
                try:
                    data = loads(brief)
                    date = data.get("date")
                    fields = [data.get("title"), date.get("normalized") if isinstance(date, dict) else None,
                              data.get("problems")]
                except (ValueError, TypeError, AttributeError):
                    fields = None
                yield ListRow(record_id, fields, deleted_at is not None)
            last = rows[-1][0]

    def validators(self, record_id: int) -> tuple[str | None, str | None]:
        """The stored ETag and Last-Modified, for a conditional request."""
        row = self._one("SELECT etag, last_modified FROM record WHERE record_id = ?", (record_id,))
        return (row[0], row[1]) if row else (None, None)

    def mark_checked(self, record_id: int, *, now: datetime | None = None, found: bool = False) -> None:
        """Record a check that changed nothing. `found=True` (e.g. a 304) also ends a run of
        404s, so only *consecutive* misses can lead to a tombstone."""
        sql = "UPDATE record SET last_checked = ?" + (", missing_count = 0" if found else "") + " WHERE record_id = ?"
        with self.unit_of_work():
            self._exec(sql, (to_db_time(now or utcnow()), record_id))

    def mark_missing(self, record_id: int, *, now: datetime | None = None) -> int:
        """Count one more consecutive 404/410 for a record; returns the new count."""
        with self.unit_of_work():
            self._exec("UPDATE record SET missing_count = missing_count + 1, last_checked = ? WHERE record_id = ?",
                       (to_db_time(now or utcnow()), record_id))
            row = self._one("SELECT missing_count FROM record WHERE record_id = ?", (record_id,))
        return int(row[0]) if row else 0

    def tombstone(self, record_id: int, *, now: datetime | None = None) -> bool:
        """Mark a record deleted, keeping its last metadata forever. True if it changed state."""
        now_s = to_db_time(now or utcnow())
        with self.unit_of_work():
            changed = self._exec(
                "UPDATE record SET deleted_at = ?, last_changed = ? WHERE record_id = ? AND deleted_at IS NULL",
                (now_s, now_s, record_id))
            if changed:
                # The facet rows carry the datestamp (set pages are keyset-read from them), the
                # sort row the deletion too (a search leaves tombstones out by it).
                self._exec("UPDATE record_facet SET last_changed = ? WHERE record_id = ?", (now_s, record_id))
                self._exec("UPDATE record_sort SET last_changed = ?, deleted_at = ? WHERE record_id = ?",
                           (now_s, now_s, record_id))
        return changed > 0

    def due_count(self, cutoff: datetime) -> int:
        """Records due for revalidation: checked before `cutoff`, or with a pending 404."""
        row = self._one("SELECT count(*) FROM record WHERE last_checked < ?"
                        " OR (missing_count > 0 AND deleted_at IS NULL)", (to_db_time(cutoff),))
        return int(row[0]) if row else 0

    def earliest_change(self, *, include_deleted: bool = True, facet: str | None = None) -> str | None:
        where, params = self._where([] if include_deleted else ["deleted_at IS NULL"], facet)
        row = self._one(f"SELECT min(last_changed) FROM record{where}", params)
        return row[0] if row else None

    # -- history ----------------------------------------------------------------------
    def log_event(self, record_id: int | None, outcome: str, detail: str = "", *,
                  run_id: str | None = None) -> None:
        """Append to the record history (created, changed, unchanged, not found, failed, blocked…)."""
        with self.unit_of_work():
            self._exec("INSERT INTO record_event (record_id, at, outcome, detail, run_id) VALUES (?, ?, ?, ?, ?)",
                       (record_id, to_db_time(utcnow()), outcome, detail, run_id))

    def events_with_outcome(self, outcome: str) -> list[Event]:
        """Every history event of one kind (e.g. "conflict"), oldest first."""
        return [Event(*r) for r in self._all("SELECT id, record_id, at, outcome, detail, run_id FROM record_event"
                                             " WHERE outcome = ? ORDER BY id", (outcome,))]

    def events(self, record_id: int | None = None) -> list[Event]:
        cols = "SELECT id, record_id, at, outcome, detail, run_id FROM record_event"
        if record_id is None:
            rows = self._all(cols + " ORDER BY id")
        else:
            rows = self._all(cols + " WHERE record_id = ? ORDER BY id", (record_id,))
        return [Event(*r) for r in rows]

    # -- derived indexes ----------------------------------------------------------------
    def reindex(self, *, progress: Any = None, batch: int = 500) -> int:
        """Rebuild every record's facets and search text from its stored body; returns the count.

        One transaction: readers see the old indexes until the new ones are complete.
        """
        from catalog import index, model

        done = 0
        with self.unit_of_work():
            self._exec("DELETE FROM record_facet")
            self._exec("DELETE FROM facet")
            self._exec("DELETE FROM record_sort")
            self._text_clear()
            last = 0
            while True:
                rows = self._all("SELECT record_id, body, last_changed, deleted_at FROM record WHERE record_id > ?"
                                 " ORDER BY record_id LIMIT ?", (last, batch))
                if not rows:
                    break
                for record_id, body, last_changed, deleted_at in rows:
                    record = model.CatalogRecord.model_validate_json(body)
                    self._write_indexes(record_id, index.derive(record), last_changed, deleted_at)
                    done += 1
                last = rows[-1][0]
                if progress is not None:
                    progress(done)
            self._set_meta("index_version", str(index.INDEX_VERSION))
        return done

    def _text_clear(self) -> None:
        raise NotImplementedError

    def index_current(self) -> bool:
        row = self._one("SELECT value FROM store_meta WHERE key = 'index_version'")
        from catalog import index

        return row is not None and row[0] == str(index.INDEX_VERSION)

    def facet_page(self, families: Sequence[str], after: str | None, limit: int) -> list[FacetValue]:
        """Facet keys of these families (parents included) with at least one record, in key order."""
        marks = ", ".join("?" * len(families))
        rows = self._all(
            f"SELECT f.key, f.label FROM facet f WHERE f.family IN ({marks}) AND f.key > ?"
            " AND EXISTS (SELECT 1 FROM record_facet m WHERE m.key = f.key) ORDER BY f.key LIMIT ?",
            (*families, after or "", limit))
        return [FacetValue(r[0], r[1]) for r in rows]

    def count_facets(self, families: Sequence[str]) -> int:
        marks = ", ".join("?" * len(families))
        row = self._one(f"SELECT count(*) FROM facet f WHERE f.family IN ({marks})"
                        " AND EXISTS (SELECT 1 FROM record_facet m WHERE m.key = f.key)", tuple(families))
        return int(row[0]) if row else 0

    def facets_of(self, record_ids: Sequence[int], families: Sequence[str]) -> dict[int, list[str]]:
        """Each record's facet keys of these families, in key order. A key is its family, or
        `family:token` (catalog.index), so the family is read from the key: no join with
        `facet` (which cost half of an OAI-PMH page's set lookup)."""
        found: dict[int, list[str]] = {rid: [] for rid in record_ids}
        if not record_ids:
            return found
        parents = set(families)
        children = tuple(f"{family}:" for family in families)
        marks = ", ".join("?" * len(record_ids))
        for rid, key in self._all(f"SELECT record_id, key FROM record_facet WHERE record_id IN ({marks})"
                                  " ORDER BY record_id, key", tuple(record_ids)):
            if key.startswith(children) or key in parents:
                found[rid].append(key)
        return found

    # -- OAI-PMH keyset pages --------------------------------------------------------------
    def oai_row(self, record_id: int, *, rendered: tuple[str, str] | None = None) -> OaiRow | None:
        if rendered is None:
            row = self._one("SELECT record_id, last_changed, deleted_at, brief, NULL FROM record WHERE record_id = ?",
                            (record_id,))
        else:
            row = self._one("SELECT r.record_id, r.last_changed, r.deleted_at, r.brief, x.text FROM record r"
                            " LEFT JOIN record_rendered x ON x.record_id = r.record_id AND x.format = ? AND x.key = ?"
                            " WHERE r.record_id = ?", (*rendered, record_id))
        return OaiRow(row[0], row[1], row[2] is not None, row[3], row[4]) if row else None

    @staticmethod
    def _range(facet: str | None, from_: str | None, until: str) -> tuple[str, str, list[object]]:
        """(FROM clause, WHERE clause, params). A set page is read from record_facet, whose
        primary key (key, last_changed, record_id) is the page order: no sort, no set scan."""
        params: list[object] = []
        if facet is None:
            source, t = "record t", "t"
        else:
            source, t = "record_facet t", "t"
            params.append(facet)
        where = ([f"{t}.key = ?"] if facet is not None else []) + [f"{t}.last_changed <= ?"]
        params.append(until)
        if from_ is not None:
            where.append(f"{t}.last_changed >= ?")
            params.append(from_)
        return source, " AND ".join(where), params

    def oai_count(self, facet: str | None, from_: str | None, until: str) -> int:
        source, where, params = self._range(facet, from_, until)
        row = self._one(f"SELECT count(*) FROM {source} WHERE {where}", params)
        return int(row[0]) if row else 0

    def oai_page(self, facet: str | None, from_: str | None, until: str, after: tuple[str, int] | None,
                 limit: int, *, with_body: bool, rendered: tuple[str, str] | None = None) -> list[OaiRow]:
        """One keyset page. `rendered=(format, key)` adds each record's stored rendering in that
        format when it was made under that key (`OaiRow.rendered`, else None)."""
        source, where, params = self._range(facet, from_, until)
        if after is not None:
            where += " AND (t.last_changed, t.record_id) > (?, ?)"
            params += [str(after[0]), int(after[1])]
        # Unfiltered: the record table's (last_changed, record_id) index; a set: record_facet's key.
        r = "t" if facet is None else "r"
        join = "" if facet is None else " JOIN record r ON r.record_id = t.record_id"
        body = f"{r}.brief" if with_body else "NULL"
        text = "NULL"
        join_params: list[object] = []
        if rendered is not None and with_body:
            join += " LEFT JOIN record_rendered x ON x.record_id = t.record_id AND x.format = ? AND x.key = ?"
            join_params = [rendered[0], rendered[1]]
            text = "x.text"
            # A record with its current rendering needs no JSON: `body` is "" then (not None:
            # the record still has metadata to send).
            body = f"CASE WHEN x.text IS NULL THEN {body} ELSE '' END"
        sql = (f"SELECT t.record_id, t.last_changed, {r}.deleted_at, {body}, {text} FROM {source}{join}"
               f" WHERE {where} ORDER BY t.last_changed, t.record_id LIMIT ?")
        return [OaiRow(r[0], r[1], r[2] is not None, r[3], r[4])
                for r in self._all(sql, [*join_params, *params, limit])]

    def analyze(self) -> None:
        """Refresh the query planner's statistics (after a bulk load)."""
        self._exec("ANALYZE")

    def explain_set_page(self, facet: str) -> str:
        """The backend's query plan for a set-filtered page (for the plan test and benchmarks)."""
        raise NotImplementedError

    # -- search ----------------------------------------------------------------------------
    def search(self, query: SearchQuery) -> SearchResult:
        """Records matching every term, holding every facet key, within the date range; counts per family."""
        terms = query.text_terms()
        if terms is None:
            return SearchResult(0, [], {})  # text without a single word: nothing can match it
        joins = ""
        params: list[object] = []
        rank = ""
        if terms:
            joins, params, rank = self._text_match(terms)
        # Everything is filtered and sorted in record_sort (narrow rows): `record` is read only
        # for the page shown. A facet is a set of Record IDs from record_facet's (key, …) index.
        where = [] if query.include_deleted else ["o.deleted_at IS NULL"]
        for key in query.facets:
            where.append("o.record_id IN (SELECT q.record_id FROM record_facet q WHERE q.key = ?)")
            params.append(key)
        if query.date_from is not None:
            where.append("o.date_end >= ?")
            params.append(query.date_from)
        if query.date_to is not None:
            where.append("o.date_start <= ?")
            params.append(query.date_to)
        base = f"FROM record_sort o{joins}" + (f" WHERE {' AND '.join(where)}" if where else "")
        order = {
            "relevance": f"{rank}, o.record_id" if rank else "o.record_id",
            # records without a date last, whichever way (SQLite and PostgreSQL put NULLs apart)
            "date": "CASE WHEN o.date_start IS NULL THEN 1 ELSE 0 END, o.date_start, o.record_id",
            "-date": "CASE WHEN o.date_start IS NULL THEN 1 ELSE 0 END, o.date_start DESC, o.record_id",
            "title": "o.title, o.record_id",
            "changed": "o.last_changed DESC, o.record_id",
        }[query.sort]
        total_row = self._one(f"SELECT count(*) {base}", params)
        total = int(total_row[0]) if total_row else 0
        ids: list[int] = []
        if total > query.offset and query.limit > 0:
            ids = [r[0] for r in self._all(f"SELECT o.record_id {base} ORDER BY {order} LIMIT ? OFFSET ?",
                                           [*params, query.limit, query.offset])]
        counts: dict[str, list[FacetCount]] = {}
        families = query.facet_families
        if total and (families is None or families or query.facets):
            # Counted per key over the matches first (record_facet's (record_id, key) index), then
            # joined to the few distinct keys for their family and label: a window function over
            # the joined rows cost three times as much. The top values per family are picked here.
            rows = self._all(
                f"SELECT f.family, t.key, f.label, t.n FROM (SELECT c.key AS key, count(*) AS n FROM record_facet c"
                f" WHERE c.record_id IN (SELECT o.record_id {base}) GROUP BY c.key) AS t JOIN facet f ON f.key = t.key"
                f" WHERE f.value <> ''", params)
            chosen = set(query.facets)
            keep = set(families) if families is not None else None
            for family, key, label, n in sorted(rows, key=lambda row: (row[0], -row[3], row[1])):
                shown = counts.setdefault(family, [])
                if key in chosen or ((keep is None or family in keep) and len(shown) < query.facet_limit):
                    shown.append(FacetCount(key, family, label, int(n)))
            counts = {family: found for family, found in counts.items() if found}
        return SearchResult(total, ids, counts)

    # -- what catalog.search.memory keeps in memory ---------------------------------------------
    # The SQL aggregate joining a group's Record IDs with commas (SQLite group_concat, PostgreSQL string_agg).
    _id_list = "group_concat(record_id)"

    def search_stamp(self) -> int:
        """A number that moves with every committed change of the search indexes (m0011 / PG m0007:
        a trigger on record_sort, which every index write touches)."""
        row = self._one("SELECT n FROM search_stamp")
        return int(row[0]) if row else 0

    def search_sort_rows(self) -> list[tuple[int, str | None, str | None, str, str, bool]]:
        """Every record's (record_id, date_start, date_end, title, last_changed, deleted), by Record ID."""
        return [(int(r[0]), r[1], r[2], r[3], r[4], r[5] is not None) for r in self._all(
            "SELECT record_id, date_start, date_end, title, last_changed, deleted_at FROM record_sort"
            " ORDER BY record_id")]

    def search_facet_rows(self) -> list[tuple[str, str, str, str]]:
        """Every facet key's (key, family, value, label); value '' for a family's parent key."""
        return [(r[0], r[1], r[2], r[3]) for r in self._all("SELECT key, family, value, label FROM facet")]

    def search_postings(self) -> list[tuple[str, str]]:
        """Each facet key with the Record IDs holding it, comma-separated (in no set order): one row
        a key, so a catalog's millions of (key, record) rows never become Python tuples."""
        return [(r[0], r[1]) for r in self._all(f"SELECT key, {self._id_list} FROM record_facet GROUP BY key")]

    def text_matches(self, terms: Sequence[TextTerm], *, ranked: bool,
                     among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """(record_id, rank) of every record whose text matches all `terms` (of those `among` them
        when given), in no order; a lower rank is a better match, the order `search` gives by
        relevance (0.0 each when not `ranked`). Ranking costs ~2 µs a row in SQLite: the search
        snapshot ranks only the matches its facets and dates leave (`among`)."""
        raise NotImplementedError

    def text_match_ids(self, terms: Sequence[TextTerm]) -> str:
        """The Record IDs of every record whose text matches all `terms`, comma-separated, in no order
        ("" for none): one aggregate, unranked, so a broad word's matches never become tuples."""
        raise NotImplementedError

    # -- copying a whole catalog (harvester copy-catalog) ------------------------------------
    def copy_rows(self, table: str, batch: int = 1000) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of a base table, in batches (derived indexes are rebuilt, not copied)."""
        cols, key = COPY_TABLES[table]
        if key:
            last = -1
            while True:
                rows = self._all(f"SELECT {cols} FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT ?", (last, batch))
                if not rows:
                    return
                yield rows
                last = rows[-1][0]
        else:
            rows = self._all(f"SELECT {cols} FROM {table}")
            if rows:
                yield rows

    def insert_rows(self, table: str, rows: Sequence[Params]) -> None:
        cols, _ = COPY_TABLES[table]
        marks = ", ".join("?" * len(cols.split(",")))
        self._many(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)

    def clear_meta(self) -> None:
        self._exec("DELETE FROM store_meta")

    def after_copy(self) -> None:
        """Backend fix-ups after rows were inserted with their own keys (e.g. sequences)."""

    # -- sync runs: lock -------------------------------------------------------------------
    def lock_holder(self, name: str) -> LockRow | None:
        row = self._one("SELECT token, run_id, owner_pid, owner_host, acquired_at, heartbeat_at, expires_at"
                        " FROM sync_lock WHERE name = ?", (name,))
        return LockRow(*row) if row else None

    def lock_heartbeat(self, name: str, token: str, heartbeat_at: str, expires_at: str,
                       run_id: str | None) -> bool:
        with self.unit_of_work():
            return self._exec("UPDATE sync_lock SET heartbeat_at = ?, expires_at = ?, run_id = coalesce(?, run_id)"
                              " WHERE name = ? AND token = ?", (heartbeat_at, expires_at, run_id, name, token)) > 0

    def lock_release(self, name: str, token: str) -> None:
        with self.unit_of_work():
            self._exec("DELETE FROM sync_lock WHERE name = ? AND token = ?", (name, token))

    def lease_take(self, name: str, row: LockRow, *, dead_token: str | None = None) -> LockRow | None:
        """Take the named lease (a `sync_lock` row) if it is free, expired at `row.acquired_at`,
        already ours (the same token: a renewal), or held by `dead_token` (a holder the caller
        knows is dead). One upsert, so of two takers at once exactly one wins (SQLite: one
        writer; PostgreSQL: ON CONFLICT locks the row and re-checks the condition). Returns
        the holder after the attempt: the caller compares its token."""
        with self.unit_of_work():
            self._exec("INSERT INTO sync_lock (name, token, run_id, owner_pid, owner_host, acquired_at, heartbeat_at,"
                       " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                       " token = excluded.token, run_id = excluded.run_id, owner_pid = excluded.owner_pid,"
                       " owner_host = excluded.owner_host, acquired_at = excluded.acquired_at,"
                       " heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at"
                       " WHERE sync_lock.expires_at <= excluded.acquired_at OR sync_lock.token = excluded.token"
                       " OR sync_lock.token = ?",
                       (name, row.token, row.run_id, row.owner_pid, row.owner_host, row.acquired_at,
                        row.heartbeat_at, row.expires_at, dead_token or ""))
            return self.lock_holder(name)

    # -- sync runs: runs ---------------------------------------------------------------------
    def _runs(self, where: str, params: Params = (), tail: str = "") -> list[RunInfo]:
        names = [c.strip() for c in _RUN_COLUMNS.split(",")]
        rows = self._all(f"SELECT {_RUN_COLUMNS} FROM sync_run {where} {tail}", params)
        return [run_info(dict(zip(names, r, strict=True))) for r in rows]

    def run_create(self, run_id: str, started_at: str, params: dict[str, Any]) -> None:
        with self.unit_of_work():
            self._exec("INSERT INTO sync_run (run_id, started_at, status, params, phase)"
                       " VALUES (?, ?, 'running', ?, 'robots')",
                       (run_id, started_at, json.dumps(params, sort_keys=True)))

    def run_get(self, run_id: str | None = None, *, unfinished: bool = False) -> RunInfo | None:
        """A run by id (a unique prefix is enough), else the latest (the latest unfinished one)."""
        if run_id is None:
            where = "WHERE status = 'running'" if unfinished else ""
            found = self._runs(where, (), "ORDER BY started_at DESC LIMIT 1")
            return found[0] if found else None
        found = self._runs("WHERE run_id = ?", (run_id,))
        if not found:
            found = self._runs("WHERE run_id LIKE ? || '%'", (run_id,))
        return found[0] if len(found) == 1 else None

    def run_list(self, limit: int) -> list[RunInfo]:
        return self._runs("", (), f"ORDER BY started_at DESC LIMIT {int(limit)}")

    def run_update(self, run_id: str, **values: Any) -> None:
        """Set run columns (phase, checkpoint, robots, baseline, requests, stop_reason, report)."""
        if not set(values) <= RUN_FIELDS:
            raise ValueError(f"not a run field: {sorted(set(values) - RUN_FIELDS)}")
        cols, params = [], []
        for key, value in values.items():
            cols.append(f"{key} = ?")
            params.append(json.dumps(value, sort_keys=True) if key in {"checkpoint", "baseline", "report"} else value)
        with self.unit_of_work():
            self._exec(f"UPDATE sync_run SET {', '.join(cols)} WHERE run_id = ?", (*params, run_id))

    def run_attempt(self, run_id: str, warc_file: str | None, *, new_attempt: bool) -> None:
        """Count one more attempt (a resume) and/or add a WARC file to the run."""
        with self.unit_of_work():
            row = self._one("SELECT warc_files FROM sync_run WHERE run_id = ?", (run_id,))
            files = json.loads(row[0]) if row else []
            if warc_file and (new_attempt or warc_file not in files):
                files.append(warc_file)
            self._exec("UPDATE sync_run SET attempts = attempts + ?, warc_files = ? WHERE run_id = ?",
                       (1 if new_attempt else 0, json.dumps(files), run_id))

    def run_finish(self, run_id: str, status: str, finished_at: str, report: dict[str, Any],
                   stop_reason: str) -> bool:
        """End a running run; False if it had ended already (several workers of one sync may each
        find its queue empty: the first one ends it)."""
        with self.unit_of_work():
            return self._exec("UPDATE sync_run SET status = ?, finished_at = ?, phase = 'done', report = ?,"
                              " stop_reason = ? WHERE run_id = ? AND status = 'running'",
                              (status, finished_at, json.dumps(report, sort_keys=True), stop_reason, run_id)) > 0

    def run_add_requests(self, run_id: str, requests: int) -> None:
        """Add requests made for a run (each worker of a sync adds its own)."""
        if requests:
            with self.unit_of_work():
                self._exec("UPDATE sync_run SET requests = requests + ? WHERE run_id = ?", (int(requests), run_id))

    # -- sync runs: items (the checkpoint) and the queue ---------------------------------------
    @staticmethod
    def _item(row: tuple[Any, ...]) -> SyncItem:
        return SyncItem(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                        json.loads(row[8]) if row[8] is not None else None, row[9])

    def item_add(self, run_id: str, kind: str, key: str, outcome: str, *, detail: str = "",
                 record_id: int | None = None, page: int | None = None, fields: list[str] | None = None) -> None:
        """Log one finished item. Call inside the unit of work that made the item's catalog change:
        the row is the checkpoint, so the change and "done" are committed together or not at all."""
        with self.unit_of_work():
            # The run's row locked first (PostgreSQL; SQLite's write transaction already is one writer),
            # so two workers of one sync finishing items at once number them one after the other
            # instead of both reading the same max(seq).
            self._one(f"SELECT run_id FROM sync_run WHERE run_id = ?{self._row_lock}", (run_id,))
            row = self._one("SELECT coalesce(max(seq), 0) + 1 FROM sync_item WHERE run_id = ?", (run_id,))
            seq = int(row[0]) if row else 1
            self._exec(f"INSERT INTO sync_item ({_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (run_id, kind, key, seq, page, record_id, outcome, detail,
                        json.dumps(fields) if fields is not None else None, to_db_time(utcnow())))

    def item_get(self, run_id: str, kind: str, key: str) -> SyncItem | None:
        row = self._one(f"SELECT {_ITEM_COLUMNS} FROM sync_item WHERE run_id = ? AND kind = ? AND key = ?",
                        (run_id, kind, key))
        return self._item(row) if row else None

    def items(self, run_id: str, kind: str | None = None, page: int | None = None) -> list[SyncItem]:
        sql = f"SELECT {_ITEM_COLUMNS} FROM sync_item WHERE run_id = ?"
        params: list[object] = [run_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if page is not None:
            sql += " AND page = ?"
            params.append(page)
        return [self._item(r) for r in self._all(sql + " ORDER BY seq", params)]

    def run_counts(self, run_id: str) -> RunCounts:
        counts = RunCounts()
        for kind, outcome, n in self._all(
                "SELECT kind, outcome, count(*) FROM sync_item WHERE run_id = ? GROUP BY kind, outcome"
                " ORDER BY kind, outcome", (run_id,)):
            if kind == "listing" and outcome == "listed":
                counts.listing_pages += n
                continue
            counts.outcomes[outcome] = counts.outcomes.get(outcome, 0) + n
        for row in self._all(
                "SELECT kind, key, record_id, outcome, detail FROM sync_item WHERE run_id = ?"
                " AND outcome IN ('failed', 'blocked', 'disallowed', 'conflict') ORDER BY seq", (run_id,)):
            counts.failures.append({"kind": row[0], "key": row[1], "record_id": row[2], "outcome": row[3],
                                    "reason": row[4]})
        for (fields_json,) in self._all("SELECT fields FROM sync_item WHERE run_id = ? AND fields IS NOT NULL"
                                        " ORDER BY seq", (run_id,)):
            counts.parsed += 1
            for name in json.loads(fields_json):
                counts.fields[name] = counts.fields.get(name, 0) + 1
        return counts

    def queue_get(self, run_id: str) -> list[int]:
        return [r[0] for r in self._all("SELECT record_id FROM sync_queue WHERE run_id = ? ORDER BY pos", (run_id,))]

    def queue_save(self, run_id: str, record_ids: list[int]) -> None:
        with self.unit_of_work():
            self._many("INSERT INTO sync_queue (run_id, pos, record_id) VALUES (?, ?, ?)",
                       [(run_id, i, rid) for i, rid in enumerate(record_ids)])


    # -- the work queue ----------------------------------------------------------------------
    @staticmethod
    def _marks(values: Sequence[object]) -> str:
        return ", ".join("?" * len(values))

    def work_add(self, batch: str, kind: str, keys: Sequence[str], *, reset_finished: bool = True,
                 now: datetime | None = None) -> int:
        """Queue `keys` (pending). An item already pending or leased is left alone (never twice in
        a batch); a done or failed one goes back to pending when `reset_finished`. Returns how many
        items became pending."""
        now_s = to_db_time(now or utcnow())
        on_conflict = ("DO UPDATE SET state = 'pending', lease_owner = NULL, lease_expires = NULL, attempts = 0,"
                       " last_error = '', outcome = '', detail = '', finished_at = NULL,"
                       " enqueued_at = excluded.enqueued_at WHERE work_item.state IN ('done', 'failed')"
                       if reset_finished else "DO NOTHING")
        with self.unit_of_work():
            before = self._work_open(batch)
            self._many(f"INSERT INTO work_item (batch, kind, key, state, enqueued_at) VALUES (?, ?, ?, 'pending', ?)"
                       f" ON CONFLICT (batch, kind, key) {on_conflict}",
                       [(batch, kind, key, now_s) for key in dict.fromkeys(keys)])
            return self._work_open(batch) - before

    def _work_open(self, batch: str) -> int:
        row = self._one("SELECT count(*) FROM work_item WHERE batch = ? AND state IN ('pending', 'leased')", (batch,))
        return int(row[0]) if row else 0

    def work_claim(self, worker_id: str, *, lease_seconds: float, batch: str | None = None, limit: int = 1,
                   max_attempts: int = 5, now: datetime | None = None) -> list[WorkItem]:
        """Lease up to `limit` items (oldest first): pending ones, and leased ones whose lease has
        expired (their worker died). An item whose lease expired `max_attempts` times (it kills
        every worker that tries it) is failed instead of claimed again."""
        moment = now or utcnow()
        now_s, expires = to_db_time(moment), to_db_time(moment + timedelta(seconds=lease_seconds))
        in_batch, params = (" AND batch = ?", [batch]) if batch is not None else ("", [])
        with self.unit_of_work():
            self._exec("UPDATE work_item SET state = 'failed', lease_owner = NULL, lease_expires = NULL,"
                       " finished_at = ?, outcome = 'failed', detail = 'its worker stopped or died on each of '"
                       " || attempts || ' attempts', last_error = 'its worker stopped or died on each of '"
                       " || attempts || ' attempts'"
                       f" WHERE state = 'leased' AND lease_expires < ? AND attempts >= ?{in_batch}",
                       (now_s, now_s, max_attempts, *params))
            rows = self._all("SELECT id FROM work_item WHERE (state = 'pending' OR (state = 'leased'"
                             f" AND lease_expires < ?)){in_batch} ORDER BY id LIMIT ?{self._claim_lock}",
                             (now_s, *params, int(limit)))
            ids = [int(r[0]) for r in rows]
            if not ids:
                return []
            self._exec("UPDATE work_item SET state = 'leased', lease_owner = ?, lease_expires = ?,"
                       f" attempts = attempts + 1 WHERE id IN ({self._marks(ids)})", (worker_id, expires, *ids))
            return self._work_select(f"WHERE id IN ({self._marks(ids)}) ORDER BY id", ids)

    def _work_select(self, where: str, params: Params) -> list[WorkItem]:
        return [WorkItem(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]), r[8], r[9], r[10])
                for r in self._all(f"SELECT {_WORK_COLUMNS} FROM work_item {where}", params)]

    def work_renew(self, worker_id: str, *, lease_seconds: float, now: datetime | None = None) -> int:
        """The heartbeat: extend every lease this worker holds and note it alive; the leases renewed."""
        moment = now or utcnow()
        # Items first, the worker's row last: the order work_finish takes its locks in. The other
        # order deadlocked on PostgreSQL when a heartbeat met an item being finished (each held
        # the row the other wanted next).
        with self.unit_of_work():
            renewed = self._exec("UPDATE work_item SET lease_expires = ? WHERE lease_owner = ? AND state = 'leased'",
                                 (to_db_time(moment + timedelta(seconds=lease_seconds)), worker_id))
            self._exec("UPDATE work_worker SET heartbeat_at = ? WHERE worker_id = ?", (to_db_time(moment), worker_id))
            return renewed

    def work_finish(self, item_id: int, worker_id: str, *, state: str, outcome: str, detail: str = "",
                    now: datetime | None = None) -> None:
        """Mark a leased item done or failed, and count it for its worker. Call inside the unit of
        work that stores the item's record and history event: all three commit together. Raises
        LeaseLost (rolling that unit of work back) when the lease is no longer this worker's."""
        if state not in ("done", "failed"):
            raise ValueError(f"an item finishes done or failed, not {state!r}")
        with self.unit_of_work():
            changed = self._exec(
                "UPDATE work_item SET state = ?, outcome = ?, detail = ?, last_error = ?, lease_owner = NULL,"
                " lease_expires = NULL, finished_at = ? WHERE id = ? AND lease_owner = ? AND state = 'leased'",
                (state, outcome, detail, detail if state == "failed" else "", to_db_time(now or utcnow()),
                 item_id, worker_id))
            if not changed:
                raise LeaseLost(f"work item {item_id}: the lease passed to another worker")
            self._exec("UPDATE work_worker SET items_done = items_done + 1 WHERE worker_id = ?", (worker_id,))

    def work_release(self, item_ids: Sequence[int], worker_id: str, *, error: str = "",
                     count_attempt: bool = False) -> int:
        """Give leased items back (pending) unfinished: the run stopped before them. An item that was
        not tried (`count_attempt` False) does not keep the claim in its attempts."""
        if not item_ids:
            return 0
        ids = list(item_ids)
        attempts = "attempts" if count_attempt else "CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
        with self.unit_of_work():
            return self._exec(f"UPDATE work_item SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
                              f" attempts = {attempts}, last_error = CASE WHEN ? = '' THEN last_error ELSE ? END"
                              f" WHERE lease_owner = ? AND state = 'leased' AND id IN ({self._marks(ids)})",
                              (error, error, worker_id, *ids))

    def work_expire(self, worker_id: str, *, now: datetime | None = None) -> int:
        """A worker known to be dead (stopped, or its pid gone on its host): let its leases be claimed
        now instead of after they run out, and note it stopped. The leases expired."""
        now_s = to_db_time(now or utcnow())
        with self.unit_of_work():  # items, then the worker's row: the lock order of work_finish and work_renew
            expired = self._exec("UPDATE work_item SET lease_expires = ? WHERE lease_owner = ? AND state = 'leased'"
                                 " AND lease_expires > ?", (now_s, worker_id, now_s))
            self._exec("UPDATE work_worker SET stopped_at = coalesce(stopped_at, ?) WHERE worker_id = ?",
                       (now_s, worker_id))
            return expired

    def work_counts(self, batch: str | None = None) -> dict[str, int]:
        """Items by state (every state present, 0 when none), and `expired`: leased ones whose lease ran out."""
        in_batch, params = (" WHERE batch = ?", [batch]) if batch is not None else ("", [])
        counts = dict.fromkeys(("pending", "leased", "done", "failed"), 0)
        for state, n in self._all(f"SELECT state, count(*) FROM work_item{in_batch} GROUP BY state", params):
            counts[state] = int(n)
        row = self._one("SELECT count(*) FROM work_item WHERE state = 'leased' AND lease_expires < ?"
                        + (" AND batch = ?" if batch is not None else ""), (to_db_time(utcnow()), *params))
        counts["expired"] = int(row[0]) if row else 0
        return counts

    def work_items(self, batch: str | None = None, *, state: str | None = None) -> list[WorkItem]:
        conditions, params = [], []
        if batch is not None:
            conditions.append("batch = ?")
            params.append(batch)
        if state is not None:
            conditions.append("state = ?")
            params.append(state)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        return self._work_select(f"{where} ORDER BY id", params)

    def work_clear(self, batch: str) -> int:
        with self.unit_of_work():
            return self._exec("DELETE FROM work_item WHERE batch = ?", (batch,))

    def worker_start(self, row: WorkerRow) -> None:
        with self.unit_of_work():
            self._exec(f"INSERT INTO work_worker ({_WORKER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (row.worker_id, row.host, row.pid, row.started_at, row.heartbeat_at, row.items_done,
                        row.stopped_at))

    def worker_stop(self, worker_id: str, *, now: datetime | None = None) -> None:
        """Note a worker stopped (its leases are released by the caller first); prune old rows."""
        moment = now or utcnow()
        with self.unit_of_work():
            self._exec("UPDATE work_worker SET stopped_at = ?, heartbeat_at = ? WHERE worker_id = ?",
                       (to_db_time(moment), to_db_time(moment), worker_id))
            self._exec("DELETE FROM work_worker WHERE stopped_at IS NOT NULL AND stopped_at < ?",
                       (to_db_time(moment - _WORKER_KEEP),))

    def workers(self, *, include_stopped: bool = False) -> list[WorkerRow]:
        where = "" if include_stopped else "WHERE stopped_at IS NULL"
        return [WorkerRow(r[0], r[1], int(r[2]), r[3], r[4], int(r[5]), r[6])
                for r in self._all(f"SELECT {_WORKER_COLUMNS} FROM work_worker {where} ORDER BY started_at, worker_id")]
