"""OAI identifiers: `oai:<repositoryIdentifier>:<Record ID>` (the oai-identifier scheme).

The local part is the archive's own Record ID, so an identifier never changes when a
document's slug or URL does, and a harvester can map it back to
https://digitalarchive.wilsoncenter.org/document/<Record ID>.
"""

from __future__ import annotations

import re

from lxml import etree

OAI_IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
OAI_IDENTIFIER_XSD = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# What we accept as the *syntax* of an identifier argument (xs:anyURI in OAI-PMH.xsd):
# a URI scheme, a colon and printable ASCII without the characters RFC 3986 excludes.
# Anything else is badArgument; a well-formed identifier we do not hold is idDoesNotExist.
_URI_LIKE = re.compile(r'^[A-Za-z][A-Za-z0-9+.\-]*:[!#$%&\'()*+,\-./0-9:;=?@A-Z\[\]_a-z~]+$')


def oai_identifier(repository_identifier: str, record_id: int) -> str:
    return f"oai:{repository_identifier}:{record_id}"


def is_identifier_syntax(value: str) -> bool:
    return bool(_URI_LIKE.match(value))


def parse_identifier(repository_identifier: str, identifier: str) -> int | None:
    """The Record ID in one of our identifiers, or None if it is not ours."""
    prefix = f"oai:{repository_identifier}:"
    if not identifier.startswith(prefix):
        return None
    local = identifier[len(prefix):]
    # Only the canonical form: "0175798" or "+1" would alias a record under a second name.
    # At most 15 digits, as for harvested IDs: a longer one cannot be ours and would overflow
    # SQLite's INTEGER in the lookup (a 40-digit identifier answered 503 instead of idDoesNotExist).
    if not local.isascii() or not local.isdigit() or local.startswith("0") or len(local) > 15:
        return None
    return int(local)


def identifier_description(repository_identifier: str, sample_record_id: int = 175798) -> str:
    """The `oai-identifier` description for Identify, as an XML string (oaipmh's add_description form)."""
    root = etree.Element(f"{{{OAI_IDENTIFIER_NS}}}oai-identifier", nsmap={None: OAI_IDENTIFIER_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_IDENTIFIER_NS} {OAI_IDENTIFIER_XSD}")
    for name, value in (
        ("scheme", "oai"),
        ("repositoryIdentifier", repository_identifier),
        ("delimiter", ":"),
        ("sampleIdentifier", oai_identifier(repository_identifier, sample_record_id)),
    ):
        etree.SubElement(root, f"{{{OAI_IDENTIFIER_NS}}}{name}").text = value
    return etree.tostring(root, encoding="unicode")
