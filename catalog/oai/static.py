"""The catalog as an OAI-PMH Static Repository: one XML file a Static Repository Gateway serves.

The format (openarchives.org "Specification for an OAI Static Repository and an OAI
Static Repository Gateway", schema static-repository.xsd with its restricted
OAI-PMH-static-repository.xsd) narrows OAI-PMH in ways that decide what goes in:

- granularity must be YYYY-MM-DD, so datestamps are days;
- deletedRecord must be "no" and headers may not carry status="deleted", so
  tombstoned records are left out (the live endpoint keeps reporting them);
- headers may not carry setSpecs, and there are no resumption tokens;
- Identify may not list compression; an oai-identifier description is allowed.

The metadata inside each record is exactly what the live endpoint serves: the format
registry's serializer for each chosen prefix (oai_dc by default; mods, marcxml too), one
`ListRecords` per prefix. The file is streamed with lxml's xmlfile, so memory stays
flat, written next to the target then renamed, so a reader never sees half a file, and
given the mode a web server can read (0666 less the umask, like any new file; mkstemp's
0600 would make the gateway's fetch fail). Gateways reject a file of more than 5,000
records (the specification's limit); a bigger catalog, or set, is refused with a message
before anything is written: split it per set (`set_spec`) or serve it live.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from catalog.errors import ExportError
from catalog.export.common import DEFAULT_OPTIONS, FormatOptions
from catalog.export.output import publish
from catalog.export.registry import OAI_FORMATS, Format
from catalog.export.xmlout import element_of
from catalog.oai import identifiers
from catalog.oai.sets import is_set_spec
from catalog.store import CatalogStore

SR_NS = "http://www.openarchives.org/OAI/2.0/static-repository"
SR_XSD = "http://www.openarchives.org/OAI/2.0/static-repository.xsd"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_RECORDS = 5000  # records per Static Repository file (Static Repository specification)
RECOMMENDED_MAX = MAX_RECORDS


@dataclass(frozen=True)
class StaticResult:
    path: Path
    count: int
    skipped_deleted: int


def _oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def _sr(name: str) -> str:
    return f"{{{SR_NS}}}{name}"


def _identify(*, name: str, base_url: str, admin_email: str, earliest: str,
              repository_identifier: str) -> etree._Element:
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


def _formats(formats: list[Format]) -> etree._Element:
    el = etree.Element(_sr("ListMetadataFormats"), nsmap={None: SR_NS, "oai": OAI_NS})
    for f in formats:
        assert f.oai is not None
        fmt = etree.SubElement(el, _oai("metadataFormat"))
        etree.SubElement(fmt, _oai("metadataPrefix")).text = f.oai.prefix
        etree.SubElement(fmt, _oai("schema")).text = f.oai.schema
        etree.SubElement(fmt, _oai("metadataNamespace")).text = f.oai.namespace
    return el


def _static_formats(prefixes: list[str]) -> list[Format]:
    formats = []
    for prefix in dict.fromkeys(prefixes):
        fmt = OAI_FORMATS.get(prefix)
        if fmt is None or fmt.record_xml is None:
            raise ExportError(f"unknown metadata prefix {prefix!r}: use one of {', '.join(OAI_FORMATS)}")
        formats.append(fmt)
    return formats


def write_static_repository(
    store: CatalogStore,
    out: str | Path,
    *,
    repository_name: str,
    repository_identifier: str,
    admin_email: str,
    base_url: str,
    prefixes: list[str] | None = None,
    set_spec: str | None = None,
    options: FormatOptions = DEFAULT_OPTIONS,
    max_records: int = MAX_RECORDS,
) -> StaticResult:
    """Write the live records (of `set_spec`, if given) as a Static Repository at `out` (atomically).

    Raises ExportError, before writing anything, when there is nothing to write or more
    records than a gateway takes.
    """
    if not base_url.startswith(("http://", "https://")):
        raise ExportError(f"the Static Repository's baseURL must be the public http(s) URL a gateway serves "
                          f"it at, not {base_url!r}")
    formats = _static_formats(prefixes or ["oai_dc"])
    out = Path(out)
    # A set is one key of the catalog's facet index (see catalog.oai.sets).
    offered = set_spec is None or is_set_spec(set_spec)
    earliest = store.earliest_change(include_deleted=False, facet=set_spec) if offered else None
    where = f"set {set_spec!r}" if set_spec else "the catalog"
    if earliest is None:
        raise ExportError(f"{where} has no live records; a Static Repository needs at least one")
    ids = store.record_ids(include_deleted=False, facet=set_spec)
    live = len(ids)
    if live > max_records:
        raise ExportError(
            f"{where} has {live} live records; gateways take at most {max_records} per Static Repository file. "
            "Write one file per set (--set SPEC; `harvester serve` lists them with ListSets) "
            "or offer the catalog through the live OAI-PMH endpoint (`harvester serve`)")
    deleted = store.count_deleted(facet=set_spec)
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
                    xf.write(_formats(formats))
                    for fmt in formats:
                        assert fmt.oai is not None and fmt.record_xml is not None
                        with xf.element(_sr("ListRecords"), {"metadataPrefix": fmt.oai.prefix}):
                            count = 0
                            for stored in store.iter_records(ids=ids, include_deleted=False):
                                rec = etree.Element(_oai("record"), nsmap={"oai": OAI_NS})
                                header = etree.SubElement(rec, _oai("header"))
                                etree.SubElement(header, _oai("identifier")).text = identifiers.oai_identifier(
                                    repository_identifier, stored.record.record_id
                                )
                                etree.SubElement(header, _oai("datestamp")).text = stored.last_changed.strftime(
                                    "%Y-%m-%d")
                                etree.SubElement(rec, _oai("metadata")).append(
                                    element_of(fmt.record_xml(stored.record, options=options)))
                                xf.write(rec)
                                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp_name, out)  # the umask's mode, not mkstemp's 0600
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return StaticResult(out, count, deleted)
