"""The catalog as an OAI-PMH repository: formats (from the export registry), identity and the keyset queries.

The queries are the store's (`CatalogStore.oai_page` and friends). Lists are read with
keyset pagination on (last_changed, record_id): "rows after (datestamp, id), LIMIT n",
so page 1000 costs what page 1 costs (no OFFSET, no re-listing); a set page reads the
facet index in the same order.

Datestamps: the store keeps microseconds, OAI-PMH shows seconds. A record stored at
10:00:00.5 is shown as 10:00:00Z, so `from=10:00:00Z` must include it (compare with
.000000) and `until=10:00:00Z` must include it too (compare with .999999).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from catalog.export.registry import OAI_FORMATS, Format
from catalog.model import CatalogRecord
from catalog.oai.sets import PARENTS, OaiSet, is_set_spec
from catalog.store import CatalogStore, OaiRow, from_db_time

# One record as a list page needs it (its body is the store's brief one: no OAI
# metadata format prints the document text).
Row = OaiRow


def metadata_formats() -> list[Format]:
    """The formats OAI-PMH offers: every registry format with an OAI binding."""
    return list(OAI_FORMATS.values())


class CatalogRepository:
    """Read access to the catalog for OAI-PMH, through the store contract."""

    def __init__(self, store: CatalogStore, *, token_secret: str | None = None) -> None:
        self.store = store
        self._key = token_secret.encode("utf-8") if token_secret else None

    def refresh(self) -> None:
        """Nothing to catch up: the store writes set membership with every record."""

    # -- settings kept in the catalog ----------------------------------------------
    @property
    def token_key(self) -> bytes:
        """The configured token secret, or a random key generated once per catalog and kept in it."""
        if self._key is None:
            self._key = self.store.meta("token_key", secrets.token_hex(32)).encode()
        return self._key

    # -- records -------------------------------------------------------------------
    def earliest_datestamp(self) -> datetime:
        value = self.store.earliest_change()
        moment = from_db_time(value) if value else datetime.now(UTC)
        return moment.replace(microsecond=0, tzinfo=None)

    def get(self, record_id: int, *, rendered: tuple[str, str] | None = None) -> Row | None:
        return self.store.oai_row(record_id, rendered=rendered)

    def count(self, set_spec: str | None, from_: str | None, until: str) -> int:
        if set_spec is not None and not is_set_spec(set_spec):
            return 0
        return self.store.oai_count(set_spec, from_, until)

    def page(
        self,
        set_spec: str | None,
        from_: str | None,
        until: str,
        after: Sequence[object] | None,
        limit: int,
        *,
        with_body: bool,
        rendered: tuple[str, str] | None = None,
    ) -> list[Row]:
        if set_spec is not None and not is_set_spec(set_spec):
            return []
        key = (str(after[0]), int(after[1])) if after is not None else None  # type: ignore[call-overload]
        return self.store.oai_page(set_spec, from_, until, key, limit, with_body=with_body, rendered=rendered)

    def set_specs(self, record_ids: Sequence[int]) -> dict[int, list[str]]:
        return self.store.facets_of(record_ids, tuple(PARENTS))

    # -- sets ----------------------------------------------------------------------
    def has_sets(self) -> bool:
        return bool(self.store.facet_page(tuple(PARENTS), None, 1))

    def count_sets(self) -> int:
        return self.store.count_facets(tuple(PARENTS))

    def sets_page(self, after: str | None, limit: int) -> list[OaiSet]:
        """Sets with at least one member (tombstones count: their deletions must reach set harvests)."""
        return [OaiSet(f.key, f.label) for f in self.store.facet_page(tuple(PARENTS), after, limit)]


def record_from_body(body: str) -> CatalogRecord:
    return CatalogRecord.model_validate_json(body)

