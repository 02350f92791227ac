"""RIS (EndNote, Zotero, Mendeley), written and read back with rispy.

Tags follow Zotero's RIS translator (zotero/translators, RIS.js: exportTypeMap and
fieldMap), so that a Zotero import gives back what the catalog knows:

* TY MANSCPT: Zotero's "manuscript" (GEN, RIS "generic", imports as a Journal Article);
* ID the Record ID; TI title; AU senders as "Family, Given" (institutions and
  family-first names whole: Zotero splits AU at the first comma);
* A4 translators (RIS.js: A4 -> creators/translator for every type but case,
  conferencePaper and film; citation-js reads A4 as translator too);
* DB the original archive(s) (Zotero "Archive"), AN the archival reference without
  credit sentences (Zotero "Loc. in Archive"), M3 the document type (Zotero
  "manuscriptType"), DP the Wilson Center Digital Archive (Zotero "Library Catalog":
  a manuscript has no publisher field, and PB would become a note);
* DA/PY date, UR the archive's URL, LA, AB, KW, Y2 access date.
"""

from __future__ import annotations

from typing import Any

import rispy

from catalog.export.common import PUBLISHER, archival_reference, cached_name, unique
from catalog.export.csl_json import text_language
from catalog.model import CatalogRecord
from catalog.names import Institution, Name


def ris_name(name: Name) -> str:
    return name.name if isinstance(name, Institution) else name.inverted


def ris_entry(record: CatalogRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"type_of_reference": "MANSCPT", "id": str(record.record_id), "title": record.title}
    if record.authors:
        entry["authors"] = [ris_name(cached_name(a)) for a in unique(record.authors)]
    if record.translators:
        entry["subsidiary_authors"] = [ris_name(cached_name(t)) for t in unique(record.translators)]
    parts = record.date.parts
    if parts:
        entry["year"] = str(parts[0])
        # RIS DA is YYYY/MM/DD/other, with empty slots for unknown parts
        padded = [f"{parts[0]:04d}"] + [f"{p:02d}" for p in parts[1:]] + [""] * (3 - len(parts))
        entry["date"] = "/".join(padded) + "/"
    elif record.date.display:
        entry["date"] = f"///{record.date.display}"
    archives = unique(record.original_archives)
    if archives:
        entry["name_of_database"] = "; ".join(archives)  # DB: Zotero "Archive"
    reference = archival_reference(record)
    if reference:
        entry["accession_number"] = reference  # AN: Zotero "Loc. in Archive"
    entry["database_provider"] = PUBLISHER  # DP: Zotero "Library Catalog"
    if record.types:
        entry["type_of_work"] = "; ".join(unique(record.types))  # M3: Zotero "manuscriptType"
    entry["urls"] = [record.archive_url]
    language = text_language(record)
    if language:
        entry["language"] = language
    if record.summary:
        entry["abstract"] = record.summary
    keywords = unique(record.subjects + record.places)
    if keywords:
        entry["keywords"] = keywords
    accessed = record.provenance.fetched_at.date()
    entry["access_date"] = accessed.strftime("%Y/%m/%d")
    return entry


class _StreamWriter(rispy.RisWriter):
    """rispy numbers references ("1.") per dumps() call; in a stream every one would be "1."."""

    def set_header(self, count: int) -> str | None:
        return None


def _one_line(value: Any) -> Any:
    # A RIS value ends at the line end: a multi-line summary would turn its later lines into garbage tags.
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_one_line(v) for v in value]
    return value


def ris_text(record: CatalogRecord) -> str:
    entry = {k: _one_line(v) for k, v in ris_entry(record).items()}
    return rispy.dumps([entry], implementation=_StreamWriter)
