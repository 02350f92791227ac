"""Offline validators for the official schemas in tests/schemas (copies of ../shared/schemas; sources there).

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
OAI = SCHEMAS / "oai-pmh"
DC = SCHEMAS / "dublin-core"
CSL = SCHEMAS / "csl"

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
}


def _uri_mapper(uri: str) -> str:
    local = _URLS.get(uri)
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
