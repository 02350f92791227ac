"""MODS 3.8 (Library of Congress): one `mods` element per record.

Valid against http://www.loc.gov/standards/mods/v3/mods-3-8.xsd (tests/export/test_mods.py
checks every fixture record and hostile ones). Mapping (full table: docs/exports.md):

    titleInfo/title              the title as shown
    name (personal | corporate)  senders (role author/aut), translators (translator/trl),
                                 contributors (contributor/ctb), donors (donor/dnr); life dates
                                 of authority forms in namePart type="date"
    typeOfResource               text, manuscript="yes"
    genre                        each document type ("Cable")
    originInfo                   dateCreated as shown, and the normalized date (encoding w3cdtf,
                                 keyDate, qualifier questionable/approximate/inferred)
    language/languageTerm        each original language, ISO 639-2/B code and name
    physicalDescription          text/html, "reformatted digital"
    abstract                     the summary
    note                         original classification, credit line, withdrawal note
    subject                      subjects split on "--" into topic/geographic/temporal; each
                                 person/organisation tag as subject/name; each place as geographic
    location                     physicalLocation (the archive) + shelfLocator (its reference);
                                 url: the page (primary display, object in context), the scan
                                 (preview), the download (raw object)
    accessCondition              the rights text; the rights URI as xlink:href when configured
    identifier                   page URL (uri), /document/<Record ID> (uri), Record ID, node id
    recordInfo                   source, harvest date, Record ID, "Harvested from ... on ..."
"""

from __future__ import annotations

from datetime import UTC
from functools import lru_cache

from catalog.export.common import (
    DEFAULT_OPTIONS,
    DELETED_NOTE,
    PUBLISHER,
    FormatOptions,
    date_qualifier,
    holdings,
    is_corporate,
    language_code_2b,
    name_and_dates,
    subject_parts,
    unique,
)
from catalog.export.xmlout import element, wrap, xml_attr
from catalog.model import CatalogRecord

MODS_NS = "http://www.loc.gov/mods/v3"
MODS_SCHEMA = "http://www.loc.gov/standards/mods/v3/mods-3-8.xsd"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# role text -> MARC relator code
ROLES = {"author": "aut", "translator": "trl", "contributor": "ctb", "donor": "dnr"}

_OPEN = (f'<mods xmlns="{MODS_NS}" xmlns:xlink="{XLINK_NS}" xmlns:xsi="{XSI_NS}" version="3.8"'
         f' xsi:schemaLocation="{MODS_NS} {MODS_SCHEMA}">')
COLLECTION_OPEN = (f'<modsCollection xmlns="{MODS_NS}" xmlns:xlink="{XLINK_NS}" xmlns:xsi="{XSI_NS}"'
                   f' xsi:schemaLocation="{MODS_NS} {MODS_SCHEMA}">\n')
COLLECTION_CLOSE = "</modsCollection>\n"


def _name_parts(written: str) -> str:
    name, dates = name_and_dates(written)
    return element("namePart", name) + (element("namePart", dates, ' type="date"') if dates else "")


@lru_cache(maxsize=16384)
def _name(written: str, role: str | None) -> str:
    """A `name` element (remembered: the same senders and translators recur across a catalog)."""
    kind = "corporate" if is_corporate(written) else "personal"
    parts = _name_parts(written)
    if not parts:
        return ""
    if role:
        parts += (f'<role><roleTerm type="text" authority="marcrelator">{role}</roleTerm>'
                  f'<roleTerm type="code" authority="marcrelator">{ROLES[role]}</roleTerm></role>')
    return f'<name type="{kind}">{parts}</name>'


@lru_cache(maxsize=16384)
def _subject(heading: str, places: tuple[str, ...]) -> str:
    return wrap("subject", "".join(element(kind, text) for kind, text in subject_parts(heading, list(places))))


def _names(record: CatalogRecord) -> list[str]:
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for role, names in (("author", record.authors), ("translator", record.translators),
                        ("contributor", record.contributors), ("donor", record.donors)):
        for written in unique(names):
            if (role, written) not in seen:
                seen.add((role, written))
                out.append(_name(written, role))
    return out


def mods_xml(record: CatalogRecord, *, deleted: bool = False, options: FormatOptions = DEFAULT_OPTIONS) -> str:
    """The record's `mods` element as text (MODS namespace as default, declared on it)."""
    parts = [_OPEN, wrap("titleInfo", element("title", record.title))]
    parts += _names(record)
    parts.append('<typeOfResource manuscript="yes">text</typeOfResource>')
    parts += [element("genre", t) for t in unique(record.types)]

    date = record.date
    origin = element("dateCreated", date.display) if date.display != date.normalized else ""
    if date.normalized:
        qualifier = date_qualifier(date.display)
        attrs = ' encoding="w3cdtf" keyDate="yes"' + (f' qualifier="{qualifier}"' if qualifier else "")
        origin += element("dateCreated", date.normalized, attrs)
    parts.append(wrap("originInfo", origin, ' eventType="production"'))

    for lang in record.original_languages:
        code = language_code_2b(lang)
        terms = (element("languageTerm", code, ' type="code" authority="iso639-2b"') if code else "")
        terms += element("languageTerm", lang.name, ' type="text"')
        parts.append(wrap("language", terms))
    parts.append("<physicalDescription><internetMediaType>text/html</internetMediaType>"
                 "<digitalOrigin>reformatted digital</digitalOrigin></physicalDescription>")
    parts.append(element("abstract", record.summary))
    if record.classification:
        parts.append(element("note", record.classification, ' type="classification"'))
    parts.append(element("note", record.credit_line, ' type="acknowledgment"'))
    if deleted:
        parts.append(element("note", DELETED_NOTE, ' type="withdrawn"'))

    subjects = unique(record.subjects)
    places = tuple(record.places)
    parts += [_subject(s, places) for s in subjects]
    parts += [wrap("subject", _name(n, None)) for n in unique(record.people_and_organizations)]
    parts += [wrap("subject", element("geographic", p)) for p in unique(record.places)]

    for archive, shelfmark in holdings(record):
        parts.append(wrap("location", (element("physicalLocation", archive) if archive else "")
                          + (element("shelfLocator", shelfmark) if shelfmark else "")))
    urls = element("url", record.url, ' usage="primary display" access="object in context"')
    if record.pdf_url:
        urls += element("url", record.pdf_url, ' access="preview" displayLabel="Scan (PDF)"')
    if record.download_url and record.download_url != record.pdf_url:
        urls += element("url", record.download_url, ' access="raw object" displayLabel="Download"')
    parts.append(wrap("location", urls))

    href = f' xlink:href="{xml_attr(options.rights_uri)}"' if options.rights_uri else ""
    if record.rights:
        parts.append(element("accessCondition", record.rights, f' type="use and reproduction"{href}'))
    elif href:
        parts.append(f'<accessCondition type="use and reproduction"{href}/>')

    parts.append(element("identifier", record.url, ' type="uri"'))
    if record.archive_url != record.url:
        parts.append(element("identifier", record.archive_url, ' type="uri"'))
    parts.append(f'<identifier type="local" displayLabel="Record ID">{record.record_id}</identifier>')
    if record.node_id is not None:
        parts.append(f'<identifier type="local" displayLabel="Node ID">{record.node_id}</identifier>')

    prov = record.provenance
    harvested = prov.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts.append(
        "<recordInfo>"
        + element("recordContentSource", PUBLISHER)
        + element("recordCreationDate", harvested, ' encoding="w3cdtf"')
        + element("recordIdentifier", str(record.record_id), f' source="{xml_attr(PUBLISHER)}"')
        + element("recordOrigin", f"Harvested from {prov.final_url} on {prov.fetched_at.isoformat()}"
                  f" by wcda-harvester {prov.tool_version}")
        + '<languageOfCataloging><languageTerm type="code" authority="iso639-2b">eng</languageTerm>'
        "</languageOfCataloging></recordInfo>"
    )
    parts.append("</mods>")
    return "".join(parts)
