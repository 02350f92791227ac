"""Is this page a bot-protection challenge instead of the document? Read by the fetcher on
every answer (harvester/http.py) and by the parser; apart from the parser's modules so that
the harvest's main process, which fetches but does not parse, never loads BeautifulSoup and
lxml (~10 MB of its memory) for it.
"""

from __future__ import annotations

from typing import AnyStr

from harvester.site.selectors import CHALLENGE_MARKERS, CHALLENGE_TITLES

# The challenge signs are ASCII, so they are looked for in the UTF-8 bytes of the head, lowered
# (bytes.lower() changes ASCII letters only), not in `head.lower()`: str.lower of a page with any
# non-ASCII character takes the slow Unicode path (~0.06 ms of every page's parse; 4x the bytes
# form). Equivalent, because lower() maps every non-ASCII character to non-ASCII characters (whose
# UTF-8 bytes are all >= 0x80, never part of an ASCII match) except these two, which lower to ASCII
# letters (LATIN CAPITAL LETTER I WITH DOT ABOVE -> "i" + a combining dot, KELVIN SIGN -> "k"): a
# head with either takes str.lower().
_LOWER_TO_ASCII = ("\u0130", "\u212a")
_CHALLENGE_TITLES_B = tuple(t.encode("ascii") for t in CHALLENGE_TITLES)
_CHALLENGE_MARKERS_B = tuple(m.encode("ascii") for m in CHALLENGE_MARKERS)


def is_challenge_html(text: str) -> bool:
    head = text[:20000]
    if _LOWER_TO_ASCII[0] in head or _LOWER_TO_ASCII[1] in head:
        lowered = head.lower()
        title = _title_text(lowered)
        if title is not None and any(t in title for t in CHALLENGE_TITLES):
            return True
        return any(marker in lowered for marker in CHALLENGE_MARKERS)
    # surrogatepass: a lone surrogate (from a lenient decode) becomes bytes >= 0x80 like any other.
    raw = head.encode("utf-8", "surrogatepass").lower()
    title_b = _title_text(raw)
    if title_b is not None and any(t in title_b for t in _CHALLENGE_TITLES_B):
        return True
    return any(marker in raw for marker in _CHALLENGE_MARKERS_B)


def _title_text(head: AnyStr) -> AnyStr | None:
    """What `re.search(r"<title[^>]*>(.*?)</title>", head, re.S)` captures, found with str.find
    (the regex scanned the 20,000 characters in Python's engine: ~0.1 ms of every page's parse).

    Only the first "<title" can start the match: if no ">" or no "</title>" follows it, none
    follows a later one either."""
    if isinstance(head, bytes):
        start, close, end = head.find(b"<title"), -1, -1
        if start >= 0:
            close = head.find(b">", start + 6)
            if close >= 0:
                end = head.find(b"</title>", close + 1)
    else:
        start, close, end = head.find("<title"), -1, -1
        if start >= 0:
            close = head.find(">", start + 6)
            if close >= 0:
                end = head.find("</title>", close + 1)
    return head[close + 1:end] if end >= 0 else None
