"""The free-text part of a search: what people type, as terms the store can match.

Words, "phrases" and prefix* are the only syntax. Everything else (FTS operators such as
NEAR or AND, column filters `title:`, parentheses, stray quotes) is plain text: it is cut
into words exactly as the index cuts record text (`catalog.index.tokens`), so it can
never be a syntax error in either backend. A chunk that holds several words ("cold-war",
"f.0100") is matched as a phrase, as the record wrote them together.
"""

from __future__ import annotations

import re

from catalog.index import tokens
from catalog.store.api import TextTerm

# A quoted phrase (an unclosed quote runs to the end), or a run of anything but space and
# quotes; either may end in "*" (a prefix).
_CHUNK = re.compile(r'"([^"]*)"?(\*?)|([^\s"]+)')


def parse_text(text: str) -> tuple[TextTerm, ...]:
    """The terms of a query text, each once, in the order typed; () when it holds no word."""
    found: list[TextTerm] = []
    for match in _CHUNK.finditer(text):
        phrase, star, chunk = match.group(1), match.group(2), match.group(3)
        if chunk is not None:
            star = "*" if chunk.rstrip(")]}.,;:!?'").endswith("*") else ""
            words = tokens(chunk)
        else:
            words = tokens(phrase or "")
        if words:
            term = TextTerm(tuple(words), prefix=bool(star))
            if term not in found:
                found.append(term)
    return tuple(found)


def has_words(text: str) -> bool:
    return bool(tokens(text, 1))
