"""RIS (EndNote, Zotero, Mendeley), written and read back with rispy.

TY GEN (RIS "generic": no RIS type fits an archival cable); AU senders as
"Family, Given" (institutions and family-first names whole); A4 translators (the
tag Zotero uses for translators); DA/PY date; PB the archive; CN the archival
reference (a shelf mark in the holding archives); UR the archive's URL.
"""

from __future__ import annotations

from typing import Any

import rispy

from catalog.export.common import PUBLISHER, archival_reference, cached_name, unique
from catalog.export.csl_json import csl_id, text_language
from catalog.model import CatalogRecord
from catalog.names import Institution, Name


def ris_name(name: Name) -> str:
    return name.name if isinstance(name, Institution) else name.inverted


def ris_entry(record: CatalogRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"type_of_reference": "GEN", "id": csl_id(record), "title": record.title}
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
    entry["publisher"] = PUBLISHER
    reference = archival_reference(record)
    if reference:
        entry["call_number"] = reference
    if record.types:
        entry["type_of_work"] = "; ".join(unique(record.types))
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
