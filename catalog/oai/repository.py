"""The catalog as an OAI-PMH repository: formats, identity and the keyset queries.

All OAI-specific SQL lives here. Lists are read with keyset pagination on the
(last_changed, record_id) index: "rows after (datestamp, id), LIMIT n", so page 1000
costs what page 1 costs (no OFFSET, no re-listing).

Datestamps: the store keeps microseconds, OAI-PMH shows seconds. A record stored at
10:00:00.5 is shown as 10:00:00Z, so `from=10:00:00Z` must include it (compare with
.000000) and `until=10:00:00Z` must include it too (compare with .999999).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from catalog.export.oai_dc import OAI_DC_NS, OAI_DC_SCHEMA, oai_dc_element
from catalog.model import CatalogRecord
from catalog.oai.sets import OaiSet, ensure_current
from catalog.store import SQLiteStore, from_db_time

try:  # the qualified-DC export lives in another part of the project; offer it only if present
    from catalog.export.qdc import QDC_NS, qdc_element
except ImportError:  # pragma: no cover - depends on the tree
    QDC_NS = None  # type: ignore[assignment]
    qdc_element = None  # type: ignore[assignment]

QDC_XSD_PATH: Path | None = (
    Path(__file__).resolve().parents[1] / "export" / "schemas" / "wcda-qdc.xsd" if qdc_element is not None else None
)
QDC_SCHEMA_PATH = "/schemas/wcda-qdc.xsd"  # served by the app, relative to the base URL


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str  # URL of the XSD
    namespace: str
    write: Callable[[CatalogRecord], etree._Element]


# The column metadata formats are built from (see Row.body).
RECORD_JSON = "brief"


@dataclass(frozen=True)
class Row:
    """One record as a list page needs it."""

    record_id: int
    last_changed: str  # store time text, the keyset key
    deleted: bool
    # The record's JSON as the metadata formats need it: the store's `brief` body (texts'
    # text emptied, a third of the full body), since no OAI metadata format prints the
    # document text. A format that does would read `record.body` instead.
    body: str | None

    @property
    def datestamp(self) -> datetime:
        """Naive UTC, seconds: what oaipmh's datestamp helpers expect."""
        return from_db_time(self.last_changed).replace(microsecond=0, tzinfo=None)


def metadata_formats(base_url: str) -> list[MetadataFormat]:
    formats = [MetadataFormat("oai_dc", OAI_DC_SCHEMA, OAI_DC_NS, oai_dc_element)]
    if qdc_element is not None and QDC_NS is not None and QDC_XSD_PATH is not None and QDC_XSD_PATH.exists():
        formats.append(MetadataFormat("oai_qdc", base_url.rstrip("/") + QDC_SCHEMA_PATH, QDC_NS, qdc_element))
    return formats


class CatalogRepository:
    """Read access to the catalog for OAI-PMH, on the store's thread-local connection."""

    def __init__(self, store: SQLiteStore, *, token_secret: str | None = None) -> None:
        self.store = store
        self._key = token_secret.encode("utf-8") if token_secret else None
        ensure_current(store, force=True)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.connection

    def refresh(self) -> None:
        """Bring set membership up to date if another process wrote (cheap otherwise)."""
        ensure_current(self.store)

    # -- settings kept in the catalog ----------------------------------------------
    @property
    def token_key(self) -> bytes:
        """The configured token secret, or a random key generated once per catalog and kept in it."""
        if self._key is None:
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO oai_meta (key, value) VALUES ('token_key', ?)", (secrets.token_hex(32),)
                )
                self._key = conn.execute("SELECT value FROM oai_meta WHERE key = 'token_key'").fetchone()[0].encode()
        return self._key

    # -- records -------------------------------------------------------------------
    def earliest_datestamp(self) -> datetime:
        value = self.conn.execute("SELECT min(last_changed) FROM record").fetchone()[0]
        moment = from_db_time(value) if value else datetime.now(UTC)
        return moment.replace(microsecond=0, tzinfo=None)

    def get(self, record_id: int) -> Row | None:
        row = self.conn.execute(
            f"SELECT record_id, last_changed, deleted_at, {RECORD_JSON} FROM record WHERE record_id = ?", (record_id,)
        ).fetchone()
        return Row(row[0], row[1], row[2] is not None, row[3]) if row else None

    def _where(self, set_spec: str | None, from_: str | None, until: str) -> tuple[str, str, list[object]]:
        join = ""
        where = ["r.last_changed <= ?"]
        params: list[object] = [until]
        if from_ is not None:
            where.append("r.last_changed >= ?")
            params.append(from_)
        if set_spec is not None:
            join = " JOIN oai_set_member m ON m.record_id = r.record_id AND m.set_spec = ?"
            params.insert(0, set_spec)
        return join, " AND ".join(where), params

    def count(self, set_spec: str | None, from_: str | None, until: str) -> int:
        join, where, params = self._where(set_spec, from_, until)
        return int(self.conn.execute(f"SELECT count(*) FROM record r{join} WHERE {where}", params).fetchone()[0])

    def page(
        self,
        set_spec: str | None,
        from_: str | None,
        until: str,
        after: Sequence[object] | None,
        limit: int,
        *,
        with_body: bool,
    ) -> list[Row]:
        join, where, params = self._where(set_spec, from_, until)
        if after is not None:
            where += " AND (r.last_changed, r.record_id) > (?, ?)"
            params += [str(after[0]), int(after[1])]  # type: ignore[call-overload]
        body = f"r.{RECORD_JSON}" if with_body else "NULL"
        sql = (
            f"SELECT r.record_id, r.last_changed, r.deleted_at, {body} FROM record r{join}"
            f" WHERE {where} ORDER BY r.last_changed, r.record_id LIMIT ?"
        )
        rows = self.conn.execute(sql, [*params, limit]).fetchall()
        return [Row(r[0], r[1], r[2] is not None, r[3]) for r in rows]

    def set_specs(self, record_ids: Sequence[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {rid: [] for rid in record_ids}
        if not record_ids:
            return found
        marks = ",".join("?" * len(record_ids))
        for rid, spec in self.conn.execute(
            f"SELECT record_id, set_spec FROM oai_set_member WHERE record_id IN ({marks}) ORDER BY record_id, set_spec",
            list(record_ids),
        ):
            found[rid].append(spec)
        return found

    # -- sets ----------------------------------------------------------------------
    def has_sets(self) -> bool:
        return self.conn.execute("SELECT 1 FROM oai_set_member LIMIT 1").fetchone() is not None

    def count_sets(self) -> int:
        return int(self.conn.execute("SELECT count(DISTINCT set_spec) FROM oai_set_member").fetchone()[0])

    def sets_page(self, after: str | None, limit: int) -> list[OaiSet]:
        """Sets with at least one member (tombstones count: their deletions must reach set harvests)."""
        rows = self.conn.execute(
            "SELECT s.set_spec, s.set_name FROM oai_set s"
            " WHERE s.set_spec > ? AND EXISTS (SELECT 1 FROM oai_set_member m WHERE m.set_spec = s.set_spec)"
            " ORDER BY s.set_spec LIMIT ?",
            (after or "", limit),
        ).fetchall()
        return [OaiSet(r[0], r[1]) for r in rows]


def record_from_body(body: str) -> CatalogRecord:
    return CatalogRecord.model_validate_json(body)

