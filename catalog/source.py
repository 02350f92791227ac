"""Reading the verbatim "Source" string: who translated the document.

The site has no translator field; translators are named in the source string
("… Translated by Gary Goldberg.", "Contributed by Robert Hoppens and translated by
Stephen Mercado.", "Obtained by Béla Révész; translated and edited by Barnabás Vajd,
Laura Deal, and Karl P. Benziger."). The string itself is always kept verbatim; this
only lists the names, and lists none rather than guess when the phrase is unclear.
"""

from __future__ import annotations

import re

# "translated by", "translated and edited by", "translation by", "translated for CWIHP by".
_PHRASE = re.compile(r"\btranslat(?:ed|ion)\b(?:[^.;]{0,40}?)\bby\s+", re.IGNORECASE)
_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*")
_INITIAL = re.compile(r"(?:^|[\s.])[A-Z]$")


def _phrase_end(text: str) -> int:
    """Where the names end: ';', or a full stop that is not after an initial ("Karl P. Benziger")."""
    for index, char in enumerate(text):
        if char == ";":
            return index
        if char == "." and not _INITIAL.search(text[:index]):
            return index
    return len(text)


def translators_from_source(source: str | None) -> list[str]:
    names: list[str] = []
    if not source:
        return names
    for match in _PHRASE.finditer(source):
        rest = source[match.end():]
        chunk = rest[: _phrase_end(rest)].strip()
        for name in _SPLIT.split(chunk):
            name = name.strip(" ,")
            # A name starts with a capital letter; anything else means we misread the phrase.
            if name and name[0].isupper() and len(name.split()) <= 6 and name not in names:
                names.append(name)
    return names
