"""Qualified Dublin Core (DCMI Terms) for one record, in an application container.

DCMI defines no root element for qualified DC, so records are wrapped in
`qdc:qualifieddc` in this application's namespace `urn:x-wcda-harvester:qdc:1`,
declared by catalog/export/schemas/wcda-qdc.xsd as dcterms' own
`elementOrRefinementContainer`; every child is a dcterms element valid against the
DCMI 2008-02-11 dcterms.xsd. Encoding schemes are given with `xsi:type` where a
value really is in that scheme: W3CDTF (dates), DCMIType ("Text"), IMT (MIME types),
URI (URLs), ISO639-3 (language codes). Mapping table: docs/exports.md.
"""

from __future__ import annotations

from lxml import etree

from catalog.export.common import DELETED_NOTE, PUBLISHER, archival_reference, original_language_codes, unique
from catalog.export.oai_dc import clean_texts
from catalog.model import CatalogRecord
from catalog.xmltext import xml_safe

QDC_NS = "urn:x-wcda-harvester:qdc:1"
DCTERMS_NS = "http://purl.org/dc/terms/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
DCTERMS_SCHEMA = "http://dublincore.org/schemas/xmls/qdc/2008/02/11/dcterms.xsd"
NSMAP = {"qdc": QDC_NS, "dcterms": DCTERMS_NS, "xsi": XSI_NS}

# (dcterms element, value, encoding scheme or None)
Term = tuple[str, str, str | None]


def qdc_terms(record: CatalogRecord, *, deleted: bool = False) -> list[Term]:
    """The dcterms statements for `record`, in output order."""
    terms: list[Term] = [("title", record.title, None)]
    terms += [("creator", n, None) for n in unique(record.authors)]
    terms += [("contributor", n, None) for n in unique(record.translators + record.contributors + record.donors)]
    terms += [("subject", s, None) for s in unique(record.subjects + record.people_and_organizations)]
    if record.summary:
        terms.append(("abstract", record.summary, None))
    if record.classification:
        terms.append(("description", f"Original classification: {record.classification}", None))
    if record.credit_line:
        terms.append(("description", record.credit_line, None))
    if deleted:
        terms.append(("description", DELETED_NOTE, None))
    terms.append(("publisher", PUBLISHER, None))
    if record.date.normalized:
        # ISO 8601 at the shown precision is exactly W3CDTF's gYear | gYearMonth | date.
        terms.append(("created", record.date.normalized, "W3CDTF"))
    if record.uploaded:
        terms.append(("available", record.uploaded.isoformat(), "W3CDTF"))
    terms.append(("type", "Text", "DCMIType"))
    terms += [("type", t, None) for t in unique(record.types)]  # genre: no DCMI scheme fits
    terms.append(("format", "text/html", "IMT"))
    terms += [("identifier", u, "URI") for u in unique([record.url, record.archive_url])]
    reference = archival_reference(record)
    if reference:
        terms.append(("source", reference, None))
    terms += [("language", code, "ISO639-3") for code in original_language_codes(record)]
    terms += [("spatial", p, None) for p in unique(record.places)]
    terms += [("hasFormat", u, "URI") for u in unique([record.pdf_url or "", record.download_url or ""])]
    if record.rights:
        terms.append(("rights", record.rights, None))
    prov = record.provenance
    terms.append(("provenance", f"Harvested from {prov.final_url} on {prov.fetched_at.isoformat()}", None))
    return terms


def qdc_element(record: CatalogRecord, *, deleted: bool = False) -> etree._Element:
    """The `qdc:qualifieddc` container holding the dcterms elements for `record`."""
    root = etree.Element(f"{{{QDC_NS}}}qualifieddc", nsmap=NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{DCTERMS_NS} {DCTERMS_SCHEMA}")
    for name, value, scheme in qdc_terms(record, deleted=deleted):
        text = xml_safe(value).strip()
        if not text:
            continue
        el = etree.SubElement(root, f"{{{DCTERMS_NS}}}{name}")
        el.text = text
        if scheme:
            el.set(f"{{{XSI_NS}}}type", f"dcterms:{scheme}")
    return root


_QDC_OPEN = (f'<qdc:qualifieddc xmlns:qdc="{QDC_NS}" xmlns:dcterms="{DCTERMS_NS}" xmlns:xsi="{XSI_NS}"'
             f' xsi:schemaLocation="{DCTERMS_NS} {DCTERMS_SCHEMA}">')


def qdc_xml(record: CatalogRecord, *, deleted: bool = False) -> str:
    """`etree.tostring(qdc_element(record, deleted=deleted))` as it prints inside the
    export's `record` wrapper, built as text (same bytes, no lxml tree per record)."""
    terms = qdc_terms(record, deleted=deleted)
    parts = [_QDC_OPEN]
    for (name, _, scheme), text in zip(terms, clean_texts([v for _, v, _ in terms]), strict=True):
        if not text:
            continue
        if scheme:
            parts.append(f'<dcterms:{name} xsi:type="dcterms:{scheme}">{text}</dcterms:{name}>')
        else:
            parts.append(f"<dcterms:{name}>{text}</dcterms:{name}>")
    parts.append("</qdc:qualifieddc>")
    return "".join(parts)
