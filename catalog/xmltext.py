"""XML-1.0-safe text.

XML 1.0 forbids most C0 control characters, lone surrogates and U+FFFE/U+FFFF even as
character references (`&#1;` is not well-formed either), so they cannot be escaped:
they are removed. Everything else, including every non-Latin script, passes through
unchanged; escaping of `<`, `&` etc. is left to the serializer (lxml) so nothing is
escaped twice.
"""

from __future__ import annotations

import re

# The complement of the XML 1.0 `Char` production (section 2.2 of the spec).
_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry."""
    return _FORBIDDEN.sub("", text)


def has_forbidden(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None
