"""Offline validators for the official schemas, copied into tests/schemas/ from ../shared/schemas
(provenance and licence: tests/schemas/README.md and each folder's README.md).

Every schema import that points at an official http:// URL is mapped to the local
copy, and any other network URL is refused (xmlschema `allow="local"`), so a test can
never pass or fail because of the network.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import xmlschema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "schemas"  # shipped in the repository: the suite must run without ../shared
LOCAL = SCHEMAS
OAI = LOCAL / "oai-pmh"
DC = LOCAL / "dublin-core"
MODS = LOCAL / "mods"
MARC = LOCAL / "marcxml"
QDC = LOCAL / "qdc"
STATIC = LOCAL / "static-repository"
CSL = LOCAL / "csl"

# Official schema URLs -> local copies.
_URLS = {
    "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd": OAI / "OAI-PMH.xsd",
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd": OAI / "oai_dc.xsd",
    "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd": OAI / "oai-identifier.xsd",
    "http://www.openarchives.org/OAI/2.0/friends.xsd": OAI / "friends.xsd",
    "http://www.openarchives.org/OAI/2.0/provenance.xsd": OAI / "provenance.xsd",
    "http://dublincore.org/schemas/xmls/simpledc20021212.xsd": OAI / "simpledc20021212.xsd",
    "http://www.w3.org/2001/03/xml.xsd": OAI / "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": OAI / "xml.xsd",
    "http://dublincore.org/schemas/xmls/qdc/2008/02/11/dc.xsd": DC / "dc.xsd",
    "http://dublincore.org/schemas/xmls/qdc/2008/02/11/dcterms.xsd": DC / "dcterms.xsd",
    "http://dublincore.org/schemas/xmls/qdc/2008/02/11/dcmitype.xsd": DC / "dcmitype.xsd",
    "http://dublincore.org/schemas/xmls/qdc/dc.xsd": DC / "dc.xsd",
    "http://dublincore.org/schemas/xmls/qdc/dcterms.xsd": DC / "dcterms.xsd",
    "http://dublincore.org/schemas/xmls/qdc/dcmitype.xsd": DC / "dcmitype.xsd",
    "http://dublincore.org/schemas/xmls/qdc/2008/02/11/qualifieddc.xsd": QDC / "qualifieddc.xsd",
    "http://www.loc.gov/standards/mods/v3/mods-3-8.xsd": MODS / "mods-3-8.xsd",
    "http://www.loc.gov/mods/xml.xsd": MODS / "xml.xsd",
    "http://www.loc.gov/standards/xlink/xlink.xsd": MODS / "xlink.xsd",
    "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd": MARC / "MARC21slim.xsd",
    "http://www.openarchives.org/OAI/2.0/static-repository.xsd": STATIC / "static-repository.xsd",
    "http://www.openarchives.org/OAI/2.0/OAI-PMH-static-repository.xsd": STATIC / "OAI-PMH-static-repository.xsd",
}


def _uri_mapper(uri: str) -> str:
    local = _URLS.get(uri)
    if local is None and uri.startswith("file:") and uri.endswith("/qdc/dcterms.xsd"):
        local = DC / "dcterms.xsd"  # qualifieddc.xsd imports schemaLocation="dcterms.xsd" (relative)
    return local.as_uri() if local is not None else uri


def load_xsd(path: Path, extra: list[tuple[str, Path]] | None = None) -> xmlschema.XMLSchema:
    """Load an XSD offline; `extra` adds (namespace, file) schemas, e.g. for OAI-PMH's strict wildcards."""
    locations = [(ns, str(p)) for ns, p in (extra or [])]
    return xmlschema.XMLSchema(str(path), uri_mapper=_uri_mapper, allow="local", locations=locations or None)


@cache
def oai_dc_schema() -> xmlschema.XMLSchema:
    return load_xsd(OAI / "oai_dc.xsd")


@cache
def dcterms_schema() -> xmlschema.XMLSchema:
    return load_xsd(DC / "dcterms.xsd")


@cache
def oai_pmh_schema(*extra: tuple[str, str]) -> xmlschema.XMLSchema:
    """OAI-PMH.xsd with oai_dc and oai-identifier loaded, plus any (namespace, path) given."""
    base = [
        ("http://www.openarchives.org/OAI/2.0/oai_dc/", OAI / "oai_dc.xsd"),
        ("http://www.openarchives.org/OAI/2.0/oai-identifier", OAI / "oai-identifier.xsd"),
    ]
    return load_xsd(OAI / "OAI-PMH.xsd", base + [(ns, Path(p)) for ns, p in extra])


@cache
def csl_data_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((CSL / "csl-data.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


QDC_CONTAINER_NS = "http://worldcat.org/xmlschemas/qdc-1.0/"
PROVENANCE = ("http://www.openarchives.org/OAI/2.0/provenance", OAI / "provenance.xsd")


@cache
def mods_schema() -> xmlschema.XMLSchema:
    return load_xsd(MODS / "mods-3-8.xsd")


@cache
def marcxml_schema() -> xmlschema.XMLSchema:
    return load_xsd(MARC / "MARC21slim.xsd")


@cache
def oai_qdc_schema() -> xmlschema.XMLSchema:
    """The oai_qdc container (stand-in for OCLC's unpublished XSD: DCMI's container in OCLC's
    namespace, tests/schemas/qdc/local) with the DCMI 2008 dc/dcterms schemas."""
    return load_xsd(QDC / "local" / "oai_qdc-worldcat.STANDIN.xsd")


@cache
def _oai_with_qdc() -> xmlschema.XMLSchema:
    return load_xsd(OAI / "OAI-PMH.xsd", [
        (QDC_CONTAINER_NS, QDC / "local" / "oai_qdc-worldcat.STANDIN.xsd"),
        ("http://purl.org/dc/elements/1.1/", DC / "dc.xsd"),
        ("http://purl.org/dc/terms/", DC / "dcterms.xsd"),
        ("http://www.openarchives.org/OAI/2.0/oai-identifier", OAI / "oai-identifier.xsd"),
        PROVENANCE,
    ])


@cache
def _oai_with_all_but_qdc() -> xmlschema.XMLSchema:
    # MODS first: its xml.xsd (LC's copy of W3C 2005/08) must win over DCMI's 2001/03 one.
    return load_xsd(OAI / "OAI-PMH.xsd", [
        ("http://www.loc.gov/mods/v3", MODS / "mods-3-8.xsd"),
        ("http://www.loc.gov/MARC21/slim", MARC / "MARC21slim.xsd"),
        ("http://www.openarchives.org/OAI/2.0/oai_dc/", OAI / "oai_dc.xsd"),
        ("http://www.openarchives.org/OAI/2.0/oai-identifier", OAI / "oai-identifier.xsd"),
        PROVENANCE,
    ])


def oai_response_schema(data: bytes) -> xmlschema.XMLSchema:
    """OAI-PMH.xsd with the metadata schemas an OAI response needs (strict wildcards).

    simpledc (under oai_dc) and DCMI's dc.xsd (under qualified DC) define the same namespace
    differently, so one set cannot hold both: a response carrying oai_qdc records is validated
    with the qdc set, every other one with the oai_dc + MODS + MARCXML set.
    """
    if QDC_CONTAINER_NS.encode() in data and b"qualifieddc" in data:
        return _oai_with_qdc()
    return _oai_with_all_but_qdc()


@cache
def static_repository_schema() -> xmlschema.XMLSchema:
    """static-repository.xsd (with its restricted OAI-PMH) plus oai_dc, MODS and MARCXML."""
    return load_xsd(STATIC / "static-repository.xsd", [
        ("http://www.openarchives.org/OAI/2.0/", STATIC / "OAI-PMH-static-repository.xsd"),
        ("http://www.loc.gov/mods/v3", MODS / "mods-3-8.xsd"),
        ("http://www.loc.gov/MARC21/slim", MARC / "MARC21slim.xsd"),
        ("http://www.openarchives.org/OAI/2.0/oai_dc/", OAI / "oai_dc.xsd"),
        ("http://www.openarchives.org/OAI/2.0/oai-identifier", OAI / "oai-identifier.xsd"),
    ])
