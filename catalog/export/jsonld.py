"""schema.org JSON-LD: each record as an `ArchiveComponent` (a CreativeWork held by an archive).

The same object serves an export file (`@graph` under one `@context`) and a web page
(`jsonld_script`: a `<script type="application/ld+json">` element). Mapping (full table:
docs/exports.md):

    @id, url      the page URL              sameAs         /document/<Record ID>
    identifier    the Record ID             name           the title
    dateCreated   ISO 8601 at its precision abstract       the summary
    inLanguage    each original language (BCP 47: ISO 639-1, else 639-3)
    author        senders, Person or Organization; translator, contributor likewise
    about         subjects (Thing), person/organisation tags (Person/Organization)
    spatialCoverage  places              genre          document types
    holdingArchive   each original archive (ArchiveOrganization); itemLocation its reference
    associatedMedia  the scan (MediaObject, application/pdf)
    license       the configured rights URI; copyrightNotice the rights text
    publisher     Wilson Center Digital Archive; sdDatePublished the harvest date
"""

from __future__ import annotations

import json
from typing import Any

from catalog.export.common import (
    DEFAULT_OPTIONS,
    PUBLISHER,
    FormatOptions,
    archival_reference,
    is_corporate,
    language_code_1,
    language_code_3,
    unique,
)
from catalog.model import CatalogRecord
from catalog.xmltext import xml_safe

CONTEXT = "https://schema.org"


def _agent(written: str) -> dict[str, str]:
    return {"@type": "Organization" if is_corporate(written) else "Person", "name": written}


def jsonld_object(record: CatalogRecord, *, options: FormatOptions = DEFAULT_OPTIONS,
                  context: bool = True) -> dict[str, Any]:
    """The record as a schema.org ArchiveComponent; `context` False inside an `@graph`."""
    obj: dict[str, Any] = {"@context": CONTEXT} if context else {}
    obj.update({"@type": "ArchiveComponent", "@id": record.url, "url": record.url, "name": record.title.strip(),
                "identifier": str(record.record_id)})
    if record.archive_url != record.url:
        obj["sameAs"] = record.archive_url
    if record.date.normalized:
        obj["dateCreated"] = record.date.normalized
    if record.summary and record.summary.strip():
        obj["abstract"] = record.summary.strip()
    langs = [language_code_1(lang) or language_code_3(lang) for lang in record.original_languages]
    if any(langs):
        obj["inLanguage"] = unique([c for c in langs if c])
    for key, names in (("author", record.authors), ("translator", record.translators),
                       ("contributor", record.contributors + record.donors)):
        agents = [_agent(n) for n in unique(names)]
        if agents:
            obj[key] = agents
    about: list[dict[str, str]] = [{"@type": "Thing", "name": s} for s in unique(record.subjects)]
    about += [_agent(n) for n in unique(record.people_and_organizations)]
    if about:
        obj["about"] = about
    places = unique(record.places)
    if places:
        obj["spatialCoverage"] = [{"@type": "Place", "name": p} for p in places]
    genres = unique(record.types)
    if genres:
        obj["genre"] = genres
    archives = unique(record.original_archives)
    if archives:
        obj["holdingArchive"] = [{"@type": "ArchiveOrganization", "name": a} for a in archives]
    reference = archival_reference(record)
    if reference:
        obj["itemLocation"] = reference
    if record.pdf_url:
        obj["associatedMedia"] = {"@type": "MediaObject", "contentUrl": record.pdf_url,
                                  "encodingFormat": "application/pdf"}
    if options.rights_uri:
        obj["license"] = options.rights_uri
    if record.rights and record.rights.strip():
        obj["copyrightNotice"] = record.rights.strip()
    obj["publisher"] = {"@type": "Organization", "name": PUBLISHER}
    obj["sdDatePublished"] = record.provenance.fetched_at.date().isoformat()
    return obj


def jsonld_text(record: CatalogRecord, *, options: FormatOptions = DEFAULT_OPTIONS, context: bool = True) -> str:
    return json.dumps(jsonld_object(record, options=options, context=context), ensure_ascii=False)


def jsonld_script(record: CatalogRecord, *, options: FormatOptions = DEFAULT_OPTIONS) -> str:
    """For a web record page: the object in a script element ("</" escaped so markup in a
    value cannot close the element; characters HTML cannot carry dropped)."""
    text = xml_safe(jsonld_text(record, options=options)).replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'
