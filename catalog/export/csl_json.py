"""CSL-JSON 1.0.2 items (valid against csl-data.json) for citation managers and citeproc.

Rules (docs/exports.md and docs/citations.md have the table): type `document`; id
`wcda-<Record ID>`; the archive as `publisher`; the original archive(s) as `archive`
(Zotero's Archive), the whole archival reference (the shelf mark, without credit
sentences) in `archive_location` (Zotero's Loc. in Archive; CSL has one archive per
item and WCDA documents often cite two); the document type as `genre`; translators as
`translator`; dates only as `date-parts` (+ `circa`) or `literal`, never `raw` (which
citeproc-py drops) or an EDTF string (invalid in 1.0.2); senders as persons where
they are persons, institutions as `literal`. Catalog-only facts go into `custom`,
which no style prints; `note` is left empty because annotated styles print it.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses
from typing import Any

from catalog.export.common import (
    PUBLISHER,
    archival_reference,
    cached_name,
    language_code_1,
    original_language_codes,
    unique,
)
from catalog.model import CatalogRecord
from catalog.names import Institution, Name

CslItem = dict[str, Any]

# How the archive marks a date it is not sure of ("ca. 1950", "[1950?]", "circa 1950").
_UNCERTAIN = re.compile(r"\b(?:circa|ca\.|c\.|approx\w*|about)\s|\?", re.IGNORECASE)


def csl_id(record: CatalogRecord) -> str:
    return f"wcda-{record.record_id}"


def csl_name(name: Name, *, static_ordering: bool = False) -> dict[str, Any]:
    """A CSL name. Family-first names ("Zhou Enlai") are exported as `literal`: Zotero's CSL-JSON
    import drops `static-ordering` and would show and cite "Enlai Zhou"; a literal becomes a
    single-field creator that is never inverted. `static_ordering` gives the structured form
    (family, given, static-ordering) for processors that honour it (cite.py's renderer)."""
    if isinstance(name, Institution):
        return {"literal": name.name}
    if name.family_first and not static_ordering:
        return {"literal": name.natural}
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


def csl_item(record: CatalogRecord, *, static_ordering: bool = False) -> CslItem:
    item: CslItem = {"id": csl_id(record), "type": "document", "title": record.title}
    authors = [csl_name(cached_name(a), static_ordering=static_ordering) for a in unique(record.authors)]
    if authors:
        item["author"] = authors
    translators = [csl_name(cached_name(t), static_ordering=static_ordering) for t in unique(record.translators)]
    if translators:
        item["translator"] = translators
    issued = csl_date(record)
    if issued:
        item["issued"] = issued
    item["publisher"] = PUBLISHER
    genre = "; ".join(unique(record.types))
    if genre:
        item["genre"] = genre
    archives = unique(record.original_archives)
    if archives:
        item["archive"] = "; ".join(archives)
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
        "original_languages": original_language_codes(record),
    }
    if record.source:
        custom["source_as_written"] = record.source
    item["custom"] = {k: v for k, v in custom.items() if v not in ([], None, "")}
    return item


def _indented(value: Any, newline: str) -> str:
    """`value` as json.dumps(ensure_ascii=False, indent=1) writes it at the depth whose
    line start is `newline` ("\\n" plus one space per level)."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    inner = newline + " "
    if type(value) is dict:
        if not value:
            return "{}"
        parts = []
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError("non-string key")
            # strings (most values) inline: a call per value was most of the cost
            text = encode_basestring(item) if type(item) is str else _indented(item, inner)
            parts.append(f"{encode_basestring(key)}: {text}")
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if type(value) is list:
        if not value:
            return "[]"
        items = [encode_basestring(item) if type(item) is str else _indented(item, inner) for item in value]
        return "[" + inner + ("," + inner).join(items) + newline + "]"
    raise TypeError(f"not written by the fast path: {type(value).__name__}")


def csl_json_text(item: CslItem) -> str:
    """`json.dumps(item, ensure_ascii=False, indent=1)`, the documented CSL-JSON layout,
    written by a small emitter for the types a CSL item holds: the standard library
    switches to its pure-Python encoder whenever `indent` is set, which cost half of a
    csl-json export. Anything else (floats, tuples...) goes to json.dumps itself."""
    try:
        return _indented(item, "\n")
    except TypeError:
        return json.dumps(item, ensure_ascii=False, indent=1)
