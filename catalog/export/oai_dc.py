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
    identifier   the canonical URL, then the archive's /document/<Record ID> URL
    source       the archival reference of the original ("Source" block minus "Translated by")
    language     each original language as an ISO 639-3 code ("rus")
    coverage     each place, one per element
    rights       the rights statement
"""

from __future__ import annotations

from lxml import etree

from catalog.export.common import DELETED_NOTE, PUBLISHER, archival_reference, original_language_codes, unique
from catalog.model import CatalogRecord
from catalog.xmltext import has_forbidden, xml_safe

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
NSMAP = {"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS}


def dc_values(record: CatalogRecord, *, deleted: bool = False) -> list[tuple[str, str]]:
    """(DCMES element name, value) pairs in output order; shared with the qdc exporter's tests."""
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
    pairs += [("coverage", p) for p in unique(record.places)]
    if record.rights:
        pairs.append(("rights", record.rights))
    return pairs


def oai_dc_element(record: CatalogRecord, *, deleted: bool = False) -> etree._Element:
    """The `oai_dc:dc` root element for `record` (namespaces oai_dc, dc, xsi; schemaLocation set).

    `deleted` adds a withdrawal note; OAI-PMH itself reports deletions in the header
    and sends no metadata, so the OAI server should not need it.
    """
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap=NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")
    for name, value in dc_values(record, deleted=deleted):
        text = xml_safe(value).strip()
        if text:  # an element that lost all its text to cleaning says nothing
            etree.SubElement(root, f"{{{DC_NS}}}{name}").text = text
    return root


def xml_text(text: str) -> str:
    """Element content escaped exactly as lxml serializes it (&, <, > and CR as &#13;)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


_DC_OPEN = (f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{XSI_NS}"'
            f' xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">')


def clean_texts(values: list[str]) -> list[str]:
    """[xml_text(xml_safe(v).strip()) for v in values], with the regex and the escaping
    run once over all of a record's values in the usual case where none needs them."""
    joined = "".join(values)
    if has_forbidden(joined):
        values = [xml_safe(v) for v in values]
    if "&" in joined or "<" in joined or ">" in joined or "\r" in joined:
        return [xml_text(v.strip()) for v in values]
    return [v.strip() for v in values]


def oai_dc_xml(record: CatalogRecord, *, deleted: bool = False) -> str:
    """`etree.tostring(oai_dc_element(record, deleted=deleted))` as it prints inside an
    element with another default namespace (the export's `record` wrapper), built as
    text: the same bytes without a tree of lxml elements per record."""
    pairs = dc_values(record, deleted=deleted)
    parts = [_DC_OPEN]
    for (name, _), text in zip(pairs, clean_texts([v for _, v in pairs]), strict=True):
        if text:  # an element that lost all its text to cleaning says nothing
            parts.append(f"<dc:{name}>{text}</dc:{name}>")
    parts.append("</oai_dc:dc>")
    return "".join(parts)
