"""What the catalog says an OAI-PMH harvest must return (computed from the store, not the server)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lxml import etree

from catalog.export.oai_dc import oai_dc_xml
from catalog.oai.sets import record_sets
from catalog.store import SQLiteStore

REPO_ID = "digitalarchive.wilsoncenter.org"


@dataclass(frozen=True)
class Expected:
    identifier: str
    datestamp: str  # YYYY-MM-DDThh:mm:ssZ
    deleted: bool
    sets: tuple[str, ...]
    dc: dict[str, list[str]] | None  # None for deleted records


def dc_map(record) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for child in etree.fromstring(oai_dc_xml(record)):
        found[child.tag.split("}")[1]].append(child.text or "")
    return dict(found)


def expected_catalog(store: SQLiteStore) -> dict[str, Expected]:
    out: dict[str, Expected] = {}
    for stored in store.iter_records(include_deleted=True):
        ident = f"oai:{REPO_ID}:{stored.record.record_id}"
        out[ident] = Expected(
            identifier=ident,
            datestamp=stored.last_changed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            deleted=stored.deleted,
            sets=tuple(sorted(s.spec for s in record_sets(stored.record))),
            dc=None if stored.deleted else dc_map(stored.record),
        )
    return out
