"""Simple Dublin Core as OAI-PMH carries it: one `oai_dc:dc` element per record.

Valid against http://www.openarchives.org/OAI/2.0/oai_dc.xsd. Simple DC has no
refinements or encoding schemes, so roles and schemes are expressed by the choice of
element alone (see docs/exports.md for the full table):

    title        the WCDA title, verbatim
    creator      each sender, in the catalog's written/authority form
    subject      each subject, then each person/organisation tag (one per element)
    description  the summary (plus a withdrawal note for tombstones)
    publisher    Wilson Center Digital Archive
    contributor  each translator, contributor and donor (never creator)
    date         the document's date, ISO 8601 at its precision (YYYY[-MM[-DD]])
    type         "Text" (DCMI Type Vocabulary), then each genre ("Cable")
    format       text/html (the catalogued surrogate is the web page)
    identifier   the page URL first (aggregators link to the first), then /document/<Record ID>
    relation     the scan (PDF preview), when there is one
    source       the archival reference of the original ("Source" block minus "Translated by")
    language     each original language as an ISO 639-3 code ("rus")
    coverage     each place, one per element
    rights       the rights statement, then the configured rights-statement URI

No element is empty and no (element, value) pair is repeated. This module is the one
serializer of the format: export files, OAI-PMH and the Static Repository print its text.
"""

from __future__ import annotations

from catalog.export.common import (
    DEFAULT_OPTIONS,
    DELETED_NOTE,
    PUBLISHER,
    FormatOptions,
    archival_reference,
    original_language_codes,
    unique,
)
from catalog.export.xmlout import clean_texts
from catalog.model import CatalogRecord

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"


def dc_values(record: CatalogRecord, *, deleted: bool = False,
              options: FormatOptions = DEFAULT_OPTIONS) -> list[tuple[str, str]]:
    """(DCMES element name, value) pairs in output order."""
    pairs: list[tuple[str, str]] = [("title", record.title)]
    pairs += [("creator", name) for name in unique(record.authors)]
    pairs += [("subject", s) for s in unique(record.subjects + record.people_and_organizations)]
    if record.summary:
        pairs.append(("description", record.summary))
    if deleted:
        pairs.append(("description", DELETED_NOTE))
    pairs.append(("publisher", PUBLISHER))
    pairs += [("contributor", n) for n in unique(record.translators + record.contributors + record.donors)]
    if record.date.normalized:
        pairs.append(("date", record.date.normalized))
    pairs.append(("type", "Text"))
    pairs += [("type", t) for t in unique(record.types)]
    pairs.append(("format", "text/html"))
    pairs += [("identifier", u) for u in unique([record.url, record.archive_url])]
    reference = archival_reference(record)
    if reference:
        pairs.append(("source", reference))
    pairs += [("language", code) for code in original_language_codes(record)]
    if record.pdf_url:
        pairs.append(("relation", record.pdf_url))
    pairs += [("coverage", p) for p in unique(record.places)]
    if record.rights:
        pairs.append(("rights", record.rights))
    if options.rights_uri:
        pairs.append(("rights", options.rights_uri))
    return pairs


_DC_OPEN = (f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{XSI_NS}"'
            f' xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">')


def oai_dc_xml(record: CatalogRecord, *, deleted: bool = False, options: FormatOptions = DEFAULT_OPTIONS) -> str:
    """The record's `oai_dc:dc` element as text, namespaces declared on it.

    `deleted` adds a withdrawal note (export files); OAI-PMH reports deletions in the
    header and sends no metadata.
    """
    pairs = dc_values(record, deleted=deleted, options=options)
    parts = [_DC_OPEN]
    seen: set[tuple[str, str]] = set()
    for (name, _), text in zip(pairs, clean_texts([v for _, v in pairs]), strict=True):
        if text and (name, text) not in seen:  # no empty elements, no repeated statement
            seen.add((name, text))
            parts.append(f"<dc:{name}>{text}</dc:{name}>")
    parts.append("</oai_dc:dc>")
    return "".join(parts)
