"""The catalog as an OAI-PMH Static Repository: one XML file a Static Repository Gateway serves.

The format (openarchives.org "Specification for an OAI Static Repository and an OAI
Static Repository Gateway", schema static-repository.xsd with its restricted
OAI-PMH-static-repository.xsd) narrows OAI-PMH in ways that decide what goes in:

- granularity must be YYYY-MM-DD, so datestamps are days;
- deletedRecord must be "no" and headers may not carry status="deleted", so
  tombstoned records are left out (the live endpoint keeps reporting them);
- headers may not carry setSpecs, and there are no resumption tokens;
- Identify may not list compression; an oai-identifier description is allowed.

The metadata inside each record is exactly what the live endpoint serves for
oai_dc (the same `oai_dc_element`). The file is streamed with lxml's xmlfile, so
memory stays flat, and written next to the target then renamed, so a reader never
sees half a file. The specification aims at up to about 5,000 records; bigger
catalogs are written anyway and the caller is told (`count`).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from catalog.errors import ExportError
from catalog.export.oai_dc import OAI_DC_NS, OAI_DC_SCHEMA, oai_dc_element
from catalog.oai import identifiers
from catalog.store import CatalogStore

SR_NS = "http://www.openarchives.org/OAI/2.0/static-repository"
SR_XSD = "http://www.openarchives.org/OAI/2.0/static-repository.xsd"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
RECOMMENDED_MAX = 5000


@dataclass(frozen=True)
class StaticResult:
    path: Path
    count: int
    skipped_deleted: int


def _oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def _sr(name: str) -> str:
    return f"{{{SR_NS}}}{name}"


def _identify(*, name: str, base_url: str, admin_email: str, earliest: str, repository_identifier: str) -> etree._Element:
    el = etree.Element(_sr("Identify"), nsmap={None: SR_NS, "oai": OAI_NS})
    for tag, text in (
        ("repositoryName", name),
        ("baseURL", base_url),
        ("protocolVersion", "2.0"),
        ("adminEmail", admin_email),
        ("earliestDatestamp", earliest),
        ("deletedRecord", "no"),
        ("granularity", "YYYY-MM-DD"),
    ):
        etree.SubElement(el, _oai(tag)).text = text
    etree.SubElement(el, _oai("description")).append(
        etree.fromstring(identifiers.identifier_description(repository_identifier))
    )
    return el


def _formats() -> etree._Element:
    el = etree.Element(_sr("ListMetadataFormats"), nsmap={None: SR_NS, "oai": OAI_NS})
    fmt = etree.SubElement(el, _oai("metadataFormat"))
    etree.SubElement(fmt, _oai("metadataPrefix")).text = "oai_dc"
    etree.SubElement(fmt, _oai("schema")).text = OAI_DC_SCHEMA
    etree.SubElement(fmt, _oai("metadataNamespace")).text = OAI_DC_NS
    return el


def write_static_repository(
    store: CatalogStore,
    out: str | Path,
    *,
    repository_name: str,
    repository_identifier: str,
    admin_email: str,
    base_url: str,
) -> StaticResult:
    """Write every live record as a Static Repository at `out` (atomically)."""
    out = Path(out)
    earliest = store.earliest_change(include_deleted=False)
    if earliest is None:
        raise ExportError("the catalog has no live records; a Static Repository needs at least one")
    deleted = store.count_deleted()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    count = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            with etree.xmlfile(fh, encoding="UTF-8") as xf:
                xf.write_declaration()
                root_attrs = {f"{{{XSI_NS}}}schemaLocation": f"{SR_NS} {SR_XSD}"}
                with xf.element(_sr("Repository"), root_attrs, nsmap={None: SR_NS, "oai": OAI_NS, "xsi": XSI_NS}):
                    xf.write(_identify(
                        name=repository_name, base_url=base_url, admin_email=admin_email,
                        earliest=earliest[:10], repository_identifier=repository_identifier,
                    ))
                    xf.write(_formats())
                    with xf.element(_sr("ListRecords"), {"metadataPrefix": "oai_dc"}):
                        for stored in store.iter_records(include_deleted=False):
                            rec = etree.Element(_oai("record"), nsmap={"oai": OAI_NS})
                            header = etree.SubElement(rec, _oai("header"))
                            etree.SubElement(header, _oai("identifier")).text = identifiers.oai_identifier(
                                repository_identifier, stored.record.record_id
                            )
                            etree.SubElement(header, _oai("datestamp")).text = stored.last_changed.strftime("%Y-%m-%d")
                            etree.SubElement(rec, _oai("metadata")).append(oai_dc_element(stored.record))
                            xf.write(rec)
                            count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return StaticResult(out, count, deleted)
