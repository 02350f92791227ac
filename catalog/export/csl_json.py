"""CSL-JSON 1.0.2 items (valid against csl-data.json) for citation managers and citeproc.

Rules (docs/exports.md has the table): type `document`; id `wcda-<Record ID>`; the
archive as `publisher`; the whole archival reference in `archive_location` (CSL has
one archive per item and WCDA documents often cite two); translators as
`translator`; dates only as `date-parts` (+ `circa`) or `literal`, never `raw` (which
citeproc-py drops) or an EDTF string (invalid in 1.0.2); senders as persons where
they are persons, institutions as `literal`. Catalog-only facts go into `custom`,
which no style prints; `note` is left empty because annotated styles print it.
"""

from __future__ import annotations

import re
from typing import Any

from catalog.export.common import PUBLISHER, archival_reference, language_code_1, original_language_codes, unique
from catalog.model import CatalogRecord
from catalog.names import Institution, Name, parse_name

CslItem = dict[str, Any]

# How the archive marks a date it is not sure of ("ca. 1950", "[1950?]", "circa 1950").
_UNCERTAIN = re.compile(r"\b(?:circa|ca\.|c\.|approx\w*|about)\s|\?", re.IGNORECASE)


def csl_id(record: CatalogRecord) -> str:
    return f"wcda-{record.record_id}"


def csl_name(name: Name) -> dict[str, Any]:
    if isinstance(name, Institution):
        return {"literal": name.name}
    out: dict[str, Any] = {"family": name.family}
    if name.given:
        out["given"] = name.given
    if name.family_first:
        out["static-ordering"] = True  # CSL's way to say "Zhou Enlai", never "Enlai Zhou"
    return out


def csl_date(record: CatalogRecord) -> dict[str, Any] | None:
    date = record.date
    if date.normalized and date.precision != "none":
        out: dict[str, Any] = {"date-parts": [date.parts]}
        if date.display and _UNCERTAIN.search(date.display + " "):
            out["circa"] = True
        return out
    if date.display and date.display.strip():
        return {"literal": date.display.strip()}  # shown but not readable: print as shown
    return None  # no date at all: styles print "n.d."


def text_language(record: CatalogRecord) -> str | None:
    """The language of the text a reader cites: the translation's, else the original's."""
    for kind in ("translation", "transcript", "original"):
        for text in record.texts:
            if text.kind == kind and text.language:
                code = language_code_1(text.language)
                if code:
                    return code
    for lang in record.original_languages:
        code = language_code_1(lang)
        if code:
            return code
    return None


def csl_item(record: CatalogRecord) -> CslItem:
    item: CslItem = {"id": csl_id(record), "type": "document", "title": record.title}
    authors = [csl_name(parse_name(a)) for a in unique(record.authors)]
    if authors:
        item["author"] = authors
    translators = [csl_name(parse_name(t)) for t in unique(record.translators)]
    if translators:
        item["translator"] = translators
    issued = csl_date(record)
    if issued:
        item["issued"] = issued
    item["publisher"] = PUBLISHER
    reference = archival_reference(record)
    if reference:
        item["archive_location"] = reference
    item["URL"] = record.archive_url  # the stable URL the archive's own citation uses
    language = text_language(record)
    if language:
        item["language"] = language
    if record.summary:
        item["abstract"] = record.summary
    keywords = unique(record.subjects)
    if keywords:
        item["keyword"] = "; ".join(keywords)
    accessed = record.provenance.fetched_at.date()
    item["accessed"] = {"date-parts": [[accessed.year, accessed.month, accessed.day]]}
    custom: dict[str, Any] = {
        "wcda_record_id": record.record_id,
        "canonical_url": record.url,
        "authors_as_written": unique(record.authors),
        "genre": unique(record.types),
        "original_languages": original_language_codes(record),
    }
    if record.source:
        custom["source_as_written"] = record.source
    item["custom"] = {k: v for k, v in custom.items() if v not in ([], None, "")}
    return item
