"""Qualified Dublin Core in the container OAI-PMH harvesters recognise: CONTENTdm's `oai_qdc`.

DCMI defines no root element for qualified DC in a namespace; platforms each wrapped
DCMI's `qualifieddc` container in their own (see tests/schemas/qdc/CHOICE.md). The one
DPLA hubs, KriKri, Omeka and CONTENTdm harvesters look for is OCLC's:
`oai_qdc:qualifieddc` in `http://worldcat.org/xmlschemas/qdc-1.0/`, schema
`http://worldcat.org/xmlschemas/qdc/1.0/qdc-1.0.xsd`, children `dc:*` and `dcterms:*`.
OCLC's XSD is not published any more; the tests validate against DCMI's container in
that namespace (a stand-in) with the DCMI 2008-02-11 dc/dcterms schemas.

Encoding schemes are given with `xsi:type` only where a value really is in that scheme
and dcterms.xsd defines it: W3CDTF (dates), DCMIType ("Text"), IMT (MIME types), URI
(URLs), ISO639-3 (language codes). Mapping table: docs/exports.md. No element is empty
and no (element, value) pair is repeated.
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

QDC_NS = "http://worldcat.org/xmlschemas/qdc-1.0/"
QDC_SCHEMA = "http://worldcat.org/xmlschemas/qdc/1.0/qdc-1.0.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
DCTERMS_NS = "http://purl.org/dc/terms/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# (element as "dc:x" or "dcterms:x", value, encoding scheme or None)
Term = tuple[str, str, str | None]


def qdc_terms(record: CatalogRecord, *, deleted: bool = False, options: FormatOptions = DEFAULT_OPTIONS) -> list[Term]:
    """The statements for `record`, in output order: the 15 DCMES elements as `dc:`,
    refinements (abstract, created, available, spatial, hasFormat, provenance) as `dcterms:`."""
    terms: list[Term] = [("dc:title", record.title, None)]
    terms += [("dc:creator", n, None) for n in unique(record.authors)]
    terms += [("dc:contributor", n, None) for n in unique(record.translators + record.contributors + record.donors)]
    terms += [("dc:subject", s, None) for s in unique(record.subjects + record.people_and_organizations)]
    if record.summary:
        terms.append(("dcterms:abstract", record.summary, None))
    if record.classification:
        terms.append(("dc:description", f"Original classification: {record.classification}", None))
    if record.credit_line:
        terms.append(("dc:description", record.credit_line, None))
    if deleted:
        terms.append(("dc:description", DELETED_NOTE, None))
    terms.append(("dc:publisher", PUBLISHER, None))
    if record.date.normalized:
        # ISO 8601 at the shown precision is exactly W3CDTF's gYear | gYearMonth | date.
        terms.append(("dcterms:created", record.date.normalized, "W3CDTF"))
    if record.uploaded:
        terms.append(("dcterms:available", record.uploaded.isoformat(), "W3CDTF"))
    terms.append(("dc:type", "Text", "DCMIType"))
    terms += [("dc:type", t, None) for t in unique(record.types)]  # genre: no DCMI scheme fits
    terms.append(("dc:format", "text/html", "IMT"))
    # The page URL first: aggregators take the first identifier as the link to the item.
    terms += [("dc:identifier", u, "URI") for u in unique([record.url, record.archive_url])]
    reference = archival_reference(record)
    if reference:
        terms.append(("dc:source", reference, None))
    terms += [("dc:language", code, "ISO639-3") for code in original_language_codes(record)]
    terms += [("dcterms:spatial", p, None) for p in unique(record.places)]
    terms += [("dcterms:hasFormat", u, "URI") for u in unique([record.pdf_url or "", record.download_url or ""])]
    if record.rights:
        terms.append(("dc:rights", record.rights, None))
    if options.rights_uri:
        terms.append(("dc:rights", options.rights_uri, None))
    prov = record.provenance
    terms.append(("dcterms:provenance", f"Harvested from {prov.final_url} on {prov.fetched_at.isoformat()}", None))
    return terms


_QDC_OPEN = (f'<oai_qdc:qualifieddc xmlns:oai_qdc="{QDC_NS}" xmlns:dc="{DC_NS}" xmlns:dcterms="{DCTERMS_NS}"'
             f' xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{QDC_NS} {QDC_SCHEMA}">')


def qdc_xml(record: CatalogRecord, *, deleted: bool = False, options: FormatOptions = DEFAULT_OPTIONS) -> str:
    """The record's `oai_qdc:qualifieddc` element as text, namespaces declared on it."""
    terms = qdc_terms(record, deleted=deleted, options=options)
    parts = [_QDC_OPEN]
    seen: set[tuple[str, str]] = set()
    for (name, _, scheme), text in zip(terms, clean_texts([v for _, v, _ in terms]), strict=True):
        if not text or (name, text) in seen:
            continue
        seen.add((name, text))
        if scheme:
            parts.append(f'<{name} xsi:type="dcterms:{scheme}">{text}</{name}>')
        else:
            parts.append(f"<{name}>{text}</{name}>")
    parts.append("</oai_qdc:qualifieddc>")
    return "".join(parts)
