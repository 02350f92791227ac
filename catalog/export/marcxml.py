"""MARC 21 bibliographic records in MARCXML, built as pymarc records.

The record is built with pymarc (`marc_record`), then written as MARCXML text (`marcxml`)
field by field: the same document pymarc's `record_to_xml` gives, valid against
http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd, without an ElementTree per
record. The tests read every record back with pymarc's `parse_xml_to_array`.

A WCDA document is archival manuscript language material (Leader/06 `t`, /07 `m`,
/08 `a`), Unicode (/09 `a`), minimal level (/17 `7`), ISBD punctuation omitted (/18 `c`);
Leader/05 is `d` for a withdrawn record. Fields (full table: docs/exports.md):

    001/005/008   Record ID; last change; date entered, date type (s|q|n), year, language
    041           original languages (ISO 639-2/B); ind1 1 when the text is a translation
    100/110       first sender, personal or corporate, $e author
    245           title; ind1 1 when there is a 1XX, ind2 nonfiling characters
    264 _0        production date as shown
    520           summary
    524           preferred citation: the house citation (catalog.cite, style wcda)
    540           rights text, $u rights URI when configured
    546           language note
    561           the archive's Source block (custodial history)
    852           each archive $a with its reference $j (shelfmark)
    600/610/650/651  person/organisation tags, topical and geographic subjects ($x $y $z)
    655           document type
    700/710       further senders ($e author), translators ($e translator), contributors, donors
    856 40        page URL; 856 41 the scan (preview); the download
"""

from __future__ import annotations

import logging
from datetime import UTC

from pymarc import Field, Indicators, Record, Subfield

from catalog.errors import HarvesterError
from catalog.export.common import (
    DEFAULT_OPTIONS,
    DELETED_NOTE,
    FormatOptions,
    holdings,
    is_corporate,
    language_code_2b,
    name_and_dates,
    original_language_codes,
    subject_parts,
    unique,
)
from catalog.export.xmlout import clean, xml_attr
from catalog.model import CatalogRecord

log = logging.getLogger(__name__)

MARC_NS = "http://www.loc.gov/MARC21/slim"
MARC_SCHEMA = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

COLLECTION_OPEN = (f'<collection xmlns="{MARC_NS}" xmlns:xsi="{XSI_NS}"'
                   f' xsi:schemaLocation="{MARC_NS} {MARC_SCHEMA}">\n')
COLLECTION_CLOSE = "</collection>\n"
_OPEN = f'<record xmlns="{MARC_NS}" xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{MARC_NS} {MARC_SCHEMA}">'

_ARTICLES = ("the ", "a ", "an ")
_SUBFIELD_FOR = {"topic": "x", "geographic": "z", "temporal": "y"}


def _ind(a: str = " ", b: str = " ") -> Indicators:
    return Indicators(a, b)


def _name_field(tag_personal: str, tag_corporate: str, written: str, relator: str | None) -> Field:
    """X00 (personal, ind1 1 = surname first) or X10 (corporate, ind1 2 = direct order)."""
    if is_corporate(written):
        subs = [Subfield("a", written)]
        tag, ind = tag_corporate, _ind("2", " ")
    else:
        name, dates = name_and_dates(written)
        subs = [Subfield("a", name)] + ([Subfield("d", dates)] if dates else [])
        tag, ind = tag_personal, _ind("1" if "," in name else "0", " ")
    if relator:
        subs.append(Subfield("e", relator))
    return Field(tag=tag, indicators=ind, subfields=subs)


def _subject_field(heading: str, places: list[str]) -> Field | None:
    parts = subject_parts(heading, places)
    if not parts:
        return None
    kind, first = parts[0]
    tag = "651" if kind == "geographic" else "650"
    subs = [Subfield("a", first)] + [Subfield(_SUBFIELD_FOR[k], text) for k, text in parts[1:]]
    return Field(tag=tag, indicators=_ind(" ", "4"), subfields=subs)


def _house_citation(record: CatalogRecord) -> str | None:
    from catalog.cite import cite  # citeproc: loaded only when MARC is written

    try:
        return cite(record, "wcda")
    except HarvesterError:  # a record the house style refuses has no preferred citation
        return None
    except (IndexError, KeyError, ValueError, TypeError):
        # The citation engine failing on odd values (a name that is only a control
        # character) must not cost the catalogue record: it is written without 524.
        log.warning("record %s: no preferred citation (524): the house style failed", record.record_id,
                    exc_info=True)
        return None


def _fixed_008(record: CatalogRecord, entered: str) -> str:
    date = record.date
    year = (date.normalized or "")[:4]
    if not year:
        kind, date1 = "n", "uuuu"
    elif date.display and "?" in date.display:
        kind, date1 = "q", year
    else:
        kind, date1 = "s", year
    langs = original_language_codes(record, language_code_2b)
    lang = langs[0] if len(langs) == 1 else ("mul" if langs else "und")
    # 00-05 entered, 06 date type, 07-14 dates, 15-17 place unknown, 18-34 books/manuscripts
    # (23 form of item: o online), 35-37 language, 38 not modified, 39 cataloging source: other
    fixed = f"{entered}{kind}{date1}    xx     o      000 0 {lang} d"
    assert len(fixed) == 40, fixed
    return fixed


def marc_record(record: CatalogRecord, *, deleted: bool = False, options: FormatOptions = DEFAULT_OPTIONS,
                changed: str | None = None) -> Record:
    """The pymarc Record for `record`; `changed` is the 005 value (yyyymmddhhmmss.f) if known."""
    fetched = record.provenance.fetched_at.astimezone(UTC)
    marc = Record(leader=f"00000{'d' if deleted else 'n'}tmaa22000007c 4500", force_utf8=True)
    marc.add_field(Field(tag="001", data=str(record.record_id)))
    marc.add_field(Field(tag="005", data=changed or fetched.strftime("%Y%m%d%H%M%S.0")))
    marc.add_field(Field(tag="008", data=_fixed_008(record, fetched.strftime("%y%m%d"))))

    langs = original_language_codes(record, language_code_2b)
    translated = [c for t in record.texts if t.kind == "translation" and t.language
                  for c in [language_code_2b(t.language)] if c and c not in langs]
    if translated:
        marc.add_field(Field(tag="041", indicators=_ind("1", " "), subfields=[
            *(Subfield("a", c) for c in unique(translated)), *(Subfield("h", c) for c in langs)]))
    elif langs:
        marc.add_field(Field(tag="041", indicators=_ind("0", " "), subfields=[Subfield("a", c) for c in langs]))

    authors = unique(record.authors)
    if authors:
        marc.add_field(_name_field("100", "110", authors[0], "author"))
    title = record.title.strip()
    nonfiling = next((len(a) for a in _ARTICLES if title.lower().startswith(a)), 0)
    marc.add_field(Field(tag="245", indicators=_ind("1" if authors else "0", str(nonfiling)),
                         subfields=[Subfield("a", title)]))
    if record.date.display or record.date.normalized:
        marc.add_field(Field(tag="264", indicators=_ind(" ", "0"),
                             subfields=[Subfield("c", record.date.display or record.date.normalized or "")]))
    if record.summary:
        marc.add_field(Field(tag="520", indicators=_ind(), subfields=[Subfield("a", record.summary)]))
    if deleted:
        marc.add_field(Field(tag="500", indicators=_ind(), subfields=[Subfield("a", DELETED_NOTE)]))
    citation = _house_citation(record) if options.marc_citation else None
    if citation:
        marc.add_field(Field(tag="524", indicators=_ind(), subfields=[Subfield("a", citation)]))
    if record.rights or options.rights_uri:
        subs = [Subfield("a", record.rights)] if record.rights else []
        if options.rights_uri:
            subs.append(Subfield("u", options.rights_uri))
        marc.add_field(Field(tag="540", indicators=_ind(), subfields=subs))
    names = [lang.name for lang in record.original_languages]
    if names:
        note = "In " + ", ".join(names) + "."
        trans = unique([t.language.name for t in record.texts if t.kind == "translation" and t.language])
        if trans:
            note += " Translation: " + ", ".join(trans) + "."
        marc.add_field(Field(tag="546", indicators=_ind(), subfields=[Subfield("a", note)]))
    if record.source:
        marc.add_field(Field(tag="561", indicators=_ind(), subfields=[Subfield("a", record.source.strip())]))
    for archive, shelfmark in holdings(record):
        subs = ([Subfield("a", archive)] if archive else []) + ([Subfield("j", shelfmark)] if shelfmark else [])
        marc.add_field(Field(tag="852", indicators=_ind(), subfields=subs))

    for written in unique(record.people_and_organizations):
        field = _name_field("600", "610", written, None)
        field.indicators = Indicators(field.indicators[0] if field.indicators else " ", "4")
        marc.add_field(field)
    for heading in unique(record.subjects):
        subject = _subject_field(heading, record.places)
        if subject is not None:
            marc.add_field(subject)
    for place in unique(record.places):
        marc.add_field(Field(tag="651", indicators=_ind(" ", "4"), subfields=[Subfield("a", place)]))
    for genre in unique(record.types):
        marc.add_field(Field(tag="655", indicators=_ind(" ", "4"), subfields=[Subfield("a", genre)]))

    seen: set[tuple[str, str]] = set()
    for relator, group in (("author", authors[1:]), ("translator", record.translators),
                           ("contributor", record.contributors), ("donor", record.donors)):
        for written in unique(group):
            if (relator, written) not in seen:
                seen.add((relator, written))
                marc.add_field(_name_field("700", "710", written, relator))

    marc.add_field(Field(tag="856", indicators=_ind("4", "0"),
                         subfields=[Subfield("u", record.url), Subfield("y", "Catalog page")]))
    if record.pdf_url:
        marc.add_field(Field(tag="856", indicators=_ind("4", "1"),
                             subfields=[Subfield("3", "Scan (PDF)"), Subfield("u", record.pdf_url),
                                        Subfield("q", "application/pdf")]))
    if record.download_url and record.download_url != record.pdf_url:
        marc.add_field(Field(tag="856", indicators=_ind("4", "1"),
                             subfields=[Subfield("3", "Download"), Subfield("u", record.download_url)]))
    return marc


def record_text(marc: Record) -> str:
    """A pymarc Record as one MARCXML `record` element (namespace declared on it).

    Values lose the characters XML cannot carry and are trimmed; a data field left with
    no subfield text is not written (MARC21slim wants at least one subfield).
    """
    parts = [_OPEN, f"<leader>{marc.leader}</leader>"]
    for field in marc.fields:
        if field.is_control_field():
            text = clean(field.data or "")
            if text:
                parts.append(f'<controlfield tag="{field.tag}">{text}</controlfield>')
            continue
        subs = []
        for sub in field.subfields:
            text = clean(sub.value or "")
            if text:
                subs.append(f'<subfield code="{xml_attr(sub.code)}">{text}</subfield>')
        if subs:
            ind1, ind2 = field.indicators or (" ", " ")
            parts.append(f'<datafield tag="{field.tag}" ind1="{ind1}" ind2="{ind2}">{"".join(subs)}</datafield>')
    parts.append("</record>")
    return "".join(parts)


def marcxml(record: CatalogRecord, *, deleted: bool = False, options: FormatOptions = DEFAULT_OPTIONS) -> str:
    """The record's MARCXML `record` element as text."""
    return record_text(marc_record(record, deleted=deleted, options=options))
