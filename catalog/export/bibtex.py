"""BibLaTeX-friendly BibTeX entries, written with bibtexparser 2.

`@misc` (no archival type exists in standard biblatex styles), key `wcda<Record ID>`.
Names: "Family, Given"; institutions and family-first names in braces, so BibTeX
never splits "Zhou Enlai" or "CC CPSU Politburo" into given/family. `date` is
biblatex's ISO 8601/EDTF field (with `~` for approximate dates); `organization`
names the archive; `note` carries the archival reference; `origlanguage` the
original language. UTF-8 is kept as is (biber reads it); only characters special to
TeX are escaped.
"""

from __future__ import annotations

import re

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.model import Entry, Field

from catalog.export.common import PUBLISHER, archival_reference, cached_name, unique
from catalog.export.csl_json import _UNCERTAIN, text_language
from catalog.model import CatalogRecord
from catalog.names import Institution, Name

_TEX_SPECIAL = re.compile(r"([\\{}&%$#_^~])")
_ESCAPES = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def tex_escape(text: str) -> str:
    text = " ".join(text.split())  # line breaks mean nothing in a field and confuse diffs
    return _TEX_SPECIAL.sub(lambda m: _ESCAPES.get(m[1], "\\" + m[1]), text)


def bib_name(name: Name) -> str:
    if isinstance(name, Institution):
        return "{" + tex_escape(name.name) + "}"
    if name.family_first:
        return "{" + tex_escape(name.natural) + "}"
    if name.given:
        return f"{tex_escape(name.family)}, {tex_escape(name.given)}"
    return tex_escape(name.family)


def bib_key(record: CatalogRecord) -> str:
    return f"wcda{record.record_id}"  # letters and digits only: safe in every BibTeX tool


def bib_date(record: CatalogRecord) -> str | None:
    if not record.date.normalized:
        return None
    uncertain = bool(record.date.display and _UNCERTAIN.search(record.date.display + " "))
    return record.date.normalized + ("~" if uncertain else "")


def bib_entry(record: CatalogRecord) -> Entry:
    fields: list[tuple[str, str | None]] = [
        ("author", " and ".join(bib_name(cached_name(a)) for a in unique(record.authors)) or None),
        ("translator", " and ".join(bib_name(cached_name(t)) for t in unique(record.translators)) or None),
        # double braces keep the title's capitalisation ("Zhou Enlai", "Peking") in BibTeX styles
        ("title", "{" + tex_escape(record.title) + "}"),
        ("date", bib_date(record)),
        ("type", tex_escape("; ".join(unique(record.types))) or None),
        ("organization", PUBLISHER),
        ("note", tex_escape(archival_reference(record) or "") or None),
        ("url", record.archive_url),
        ("urldate", record.provenance.fetched_at.date().isoformat()),
        ("langid", _langid(text_language(record))),
        ("origlanguage", ", ".join(lang.name.lower() for lang in record.original_languages) or None),
        ("abstract", tex_escape(record.summary) if record.summary else None),
        ("keywords", tex_escape(", ".join(unique(record.subjects))) or None),
    ]
    return Entry("misc", bib_key(record), [Field(k, v) for k, v in fields if v])


_LANGIDS = {"en": "english", "ru": "russian", "de": "german", "fr": "french", "zh": "chinese", "es": "spanish"}


def _langid(code: str | None) -> str | None:
    return _LANGIDS.get(code or "")


def bib_text(record: CatalogRecord) -> str:
    library = Library([bib_entry(record)])
    return bibtexparser.write_string(library).strip() + "\n\n"
