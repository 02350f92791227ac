"""XML built as text: the one way every XML format here writes its record.

Each XML format has one serializer that returns the record's element as a string
with its namespaces declared on it, so the same text goes into an export file, an
OAI-PMH response or a Static Repository. Text is 2-3x cheaper than building an lxml
tree per record and serializing it; the tests parse the text and validate it against
the official schemas, so nothing is lost by not using a tree.
"""

from __future__ import annotations

from lxml import etree

from catalog.xmltext import has_forbidden, xml_safe


def xml_text(text: str) -> str:
    """Element content escaped as lxml serializes it (&, <, > and CR as &#13;)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def xml_attr(text: str) -> str:
    """Attribute value (in double quotes) escaped; tabs and newlines kept as references."""
    text = xml_text(xml_safe(text))
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\n" in text or "\t" in text:
        text = text.replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def clean(value: str) -> str:
    """A value as element content: characters XML cannot carry dropped, trimmed, escaped."""
    if has_forbidden(value):
        value = xml_safe(value)
    return xml_text(value.strip())


def clean_texts(values: list[str]) -> list[str]:
    """[clean(v) for v in values], with the regex and the escaping run once over all of a
    record's values in the usual case where none needs them."""
    joined = "".join(values)
    if has_forbidden(joined):
        values = [xml_safe(v) for v in values]
    if "&" in joined or "<" in joined or ">" in joined or "\r" in joined:
        return [xml_text(v.strip()) for v in values]
    return [v.strip() for v in values]


def element(name: str, value: str | None, attrs: str = "") -> str:
    """`<name attrs>value</name>`, or "" when the value is empty once cleaned (no empty elements).

    `attrs` is pre-built attribute text (leading space included), escaped with `xml_attr`.
    """
    if not value:
        return ""
    text = clean(value)
    return f"<{name}{attrs}>{text}</{name}>" if text else ""


def wrap(name: str, inner: str, attrs: str = "") -> str:
    """A container element around already built children; "" when it would be empty."""
    return f"<{name}{attrs}>{inner}</{name}>" if inner else ""


# For reading back our own serializers' text (OAI-PMH responses, the Static Repository):
# no DTD, no entities, no network, even though the text never has a DOCTYPE.
_OWN_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)


def element_of(text: str) -> etree._Element:
    """A serializer's text as an lxml element, to append into a larger document."""
    return etree.fromstring(text, _OWN_PARSER)
