"""BibLaTeX-friendly BibTeX entries, written with bibtexparser 2.

`@misc` (no archival type exists in standard biblatex styles), key `wcda<Record ID>`.
Names: "Family, Given"; institutions and family-first names in braces, so BibTeX
never splits "Zhou Enlai" or "CC CPSU Politburo" into given/family. `date` is
given as `year` and `month`, which classic BibTeX styles print and biber turns into
biblatex's date without a warning (biber warns "Overwriting field 'year'" when `date`
and `year` are both given, so `date` is left out; the day is not carried);
`organization` names the archive; `note` carries the archival reference.
biblatex's default data model (what `biber --validate-datamodel` checks) allows
`translator` and `origlanguage` only on book-like and article types, never on `@misc`:
translators go into `editor` with `editortype = {translator}` (a role every biblatex
language module names: "trans. by"; with no author, biblatex puts the editor in the
author's place, "Goldberg, Gary, trans.", which is what CMOS asks for), and the
original languages into `language`, joined with " and " (a biblatex list of
localisation keys: "russian"), the languages of the document itself; `langid` stays the
language of the text a reader cites (for hyphenation).
`keywords` the subject headings separated by commas, a heading that contains a comma
("Korean War, 1950-1953") braced so it stays one keyword. UTF-8 is kept as is (biber reads it);
only characters special to TeX are escaped.
"""

from __future__ import annotations

import re

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.model import Entry, Field

from catalog.export.common import PUBLISHER, archival_reference, cached_name, unique
from catalog.export.csl_json import text_language
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


def bib_year_month(record: CatalogRecord) -> tuple[str | None, str | None]:
    parts = record.date.parts if record.date.normalized else []
    year = f"{parts[0]:04d}" if parts else None
    month = str(parts[1]) if len(parts) > 1 else None  # biblatex: an integer 1-12
    return year, month


def _keyword(subject: str) -> str:
    text = tex_escape(subject)
    return "{" + text + "}" if "," in text else text


def bib_entry(record: CatalogRecord) -> Entry:
    fields: list[tuple[str, str | None]] = [
        ("author", " and ".join(bib_name(cached_name(a)) for a in unique(record.authors)) or None),
        ("editor", " and ".join(bib_name(cached_name(t)) for t in unique(record.translators)) or None),
        ("editortype", "translator" if record.translators else None),
        # double braces keep the title's capitalisation ("Zhou Enlai", "Peking") in BibTeX styles
        ("title", "{" + tex_escape(record.title) + "}"),
        ("year", bib_year_month(record)[0]),
        ("month", bib_year_month(record)[1]),
        ("type", tex_escape("; ".join(unique(record.types))) or None),
        ("organization", PUBLISHER),
        ("note", tex_escape(archival_reference(record) or "") or None),
        ("url", record.archive_url),
        ("urldate", record.provenance.fetched_at.date().isoformat()),
        ("langid", _langid(text_language(record))),
        ("language", " and ".join(lang.name.lower() for lang in record.original_languages) or None),
        ("abstract", tex_escape(record.summary) if record.summary else None),
        ("keywords", ", ".join(_keyword(k) for k in unique(record.subjects)) or None),
    ]
    return Entry("misc", bib_key(record), [Field(k, v) for k, v in fields if v])


_LANGIDS = {"en": "english", "ru": "russian", "de": "german", "fr": "french", "zh": "chinese", "es": "spanish"}


def _langid(code: str | None) -> str | None:
    return _LANGIDS.get(code or "")


def bib_text(record: CatalogRecord) -> str:
    library = Library([bib_entry(record)])
    return bibtexparser.write_string(library).strip() + "\n\n"
