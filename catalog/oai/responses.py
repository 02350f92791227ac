"""The OAI-PMH envelope, headers and errors, built with lxml.

oaipmh's XMLTreeServer builds the envelope for the verbs we delegate to it; the list
verbs and every error are built here because oaipmh cannot express them conformantly
(no completeListSize/cursor/expirationDate, no empty last token, no request
attributes in error responses). Both produce the same envelope: default namespace
OAI 2.0, xsi:schemaLocation pairing it with OAI-PMH.xsd, responseDate in UTC seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from lxml import etree
from oaipmh.datestamp import datetime_to_datestamp

from catalog.export.xmlout import xml_text
from catalog.model import CatalogRecord
from catalog.store import from_db_time
from catalog.xmltext import xml_safe

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_XSD = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: OAI_NS, "xsi": XSI_NS}


_DB_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")  # catalog.store.to_db_time's form


def q(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def datestamp(moment: datetime) -> str:
    """Seconds granularity with Z, via oaipmh (which wants naive UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return datetime_to_datestamp(moment)


def envelope(base_url: str, attrs: Mapping[str, str] | None) -> etree._Element:
    """The OAI-PMH root with responseDate and request; `attrs` None for badVerb/badArgument."""
    root = etree.Element(q("OAI-PMH"), nsmap=NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_XSD}")
    etree.SubElement(root, q("responseDate")).text = datestamp(datetime.now(UTC))
    request = etree.SubElement(root, q("request"))
    for name, value in (attrs or {}).items():
        request.set(name, value)
    request.text = base_url
    return root


def error_document(base_url: str, code: str, message: str, attrs: Mapping[str, str] | None) -> etree._Element:
    root = envelope(base_url, attrs)
    el = etree.SubElement(root, q("error"), code=code)
    # Messages may quote what the client sent (a repeated argument's name, say): characters
    # XML cannot carry are dropped, or lxml would refuse the text and the request would fail.
    el.text = xml_safe(message)
    return root


def header(parent: etree._Element, identifier: str, stamp: datetime, specs: list[str], deleted: bool) -> None:
    el = etree.SubElement(parent, q("header"))
    if deleted:
        el.set("status", "deleted")
    etree.SubElement(el, q("identifier")).text = identifier
    etree.SubElement(el, q("datestamp")).text = datestamp(stamp)
    for spec in specs:
        etree.SubElement(el, q("setSpec")).text = spec


_PLACEHOLDER = "wcda-metadata"
_PLACEHOLDERS = re.compile(rb"<\?" + _PLACEHOLDER.encode() + rb" (\d+)\?>")


def placeholder(parent: etree._Element, index: int) -> None:
    """A marker in `parent` for the `index`-th text given to `serialize`."""
    parent.append(etree.ProcessingInstruction(_PLACEHOLDER, str(index)))


def header_text(identifier: str, last_changed: str, specs: list[str], deleted: bool) -> str:
    """A record's `header` as text (OAI namespace inherited from the envelope), as `header` builds it.

    `last_changed` is the store's time text; the datestamp is its seconds with Z.
    """
    if _DB_TIME.fullmatch(last_changed):
        stamp = last_changed[:19] + "Z"
    else:
        stamp = datestamp(from_db_time(last_changed).replace(microsecond=0))
    # Set specs are slugs (catalog.index): escaped one by one only in the case one needs it.
    joined = "</setSpec><setSpec>".join(specs)
    if "&" in joined or "<" in joined or ">" in joined or "\r" in joined:
        joined = "</setSpec><setSpec>".join(xml_text(spec) for spec in specs)
    sets = f"<setSpec>{joined}</setSpec>" if specs else ""
    status = ' status="deleted"' if deleted else ""
    return (f"<header{status}><identifier>{xml_text(identifier)}</identifier><datestamp>{stamp}</datestamp>"
            f"{sets}</header>")


def serialize(root: etree._Element, texts: list[str] | None = None) -> bytes:
    """The document as UTF-8 bytes; each metadata placeholder replaced by its text.

    The texts are the XML formats' serializer output (an element with its namespaces declared
    on it, escaped as lxml escapes), so they go in as they are: parsing each record's metadata
    only to serialize it again was most of a ListRecords page's time.
    """
    data = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    if not texts:
        return data
    return _PLACEHOLDERS.sub(lambda m: texts[int(m[1])].encode("utf-8"), data)


PROVENANCE_NS = "http://www.openarchives.org/OAI/2.0/provenance"
PROVENANCE_XSD = "http://www.openarchives.org/OAI/2.0/provenance.xsd"
XHTML_NS = "http://www.w3.org/1999/xhtml"


def provenance_about(record: CatalogRecord) -> etree._Element:
    """`<about><provenance>`: where the metadata came from (OAI provenance.xsd).

    The origin is the archive's web page, not an OAI repository: baseURL is the archive's
    site, identifier the page, datestamp the day it was fetched, metadataNamespace XHTML
    (what was read), harvestDate the fetch time, altered="true" (it was re-modelled).
    """
    prov = record.provenance
    parts = urlsplit(prov.final_url)
    fetched = prov.fetched_at.astimezone(UTC)
    about = etree.Element(q("about"))
    root = etree.SubElement(about, f"{{{PROVENANCE_NS}}}provenance", nsmap={None: PROVENANCE_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{PROVENANCE_NS} {PROVENANCE_XSD}")
    origin = etree.SubElement(root, f"{{{PROVENANCE_NS}}}originDescription",
                              harvestDate=fetched.strftime("%Y-%m-%dT%H:%M:%SZ"), altered="true")
    for name, text in (("baseURL", f"{parts.scheme}://{parts.netloc}"), ("identifier", prov.final_url),
                       ("datestamp", fetched.strftime("%Y-%m-%d")), ("metadataNamespace", XHTML_NS)):
        etree.SubElement(origin, f"{{{PROVENANCE_NS}}}{name}").text = xml_safe(text)
    return about
