"""Bounds for pathological pages under the size cap.

19 MB of nested <div> took 4.7 GB and 147 s to parse; 100 000 subject pills 101 s. A real
document page has a few hundred to a few thousand elements, a few dozen names in a section and
names of a few hundred characters; a tree costs about 1 KB an element, so MAX_ELEMENTS keeps a
parse near 100 MB. The page is refused before any tree is built.
"""

from __future__ import annotations

import re

from catalog.errors import ParseError

MAX_ELEMENTS = 50_000
MAX_DEPTH = 5_000
MAX_VALUES = 1_000  # names kept per field
MAX_VALUE_CHARS = 2_000
_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^<>]*?(/?)>")
# Tags that never hold children, or whose end tag HTML lets a page leave out: not counted in depth.
_FLAT_TAGS = {b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"source",
              b"track", b"wbr", b"param", b"p", b"li", b"dt", b"dd", b"tr", b"td", b"th", b"option"}


def check_bounds(body: bytes, record_id: int | str) -> None:
    """Refuse a page too big to build a tree of (before any tree is built)."""
    # Start tags, comments and doctypes, counted in C; an upper bound on the elements.
    opening = body.count(b"<")
    if opening <= MAX_DEPTH:
        # Fewer "<" than either bound (MAX_DEPTH <= MAX_ELEMENTS): nothing below can refuse the
        # page, and a real page (a few hundred elements) skips even the count of "</".
        return
    elements = opening - body.count(b"</")
    if elements > MAX_ELEMENTS:
        raise ParseError(record_id, f"a pathological page: about {elements} elements, over the bound of "
                                    f"{MAX_ELEMENTS}; not parsed")
    if elements <= MAX_DEPTH:
        # Each level of depth is an opening tag, so a page with fewer of them cannot be too deep:
        # a real page (a few hundred elements) skips the walk below (~0.3-0.5 ms a page).
        return
    depth = deepest = 0
    for match in _TAG.finditer(body):
        closing, name, empty = match.group(1), match.group(2).lower(), match.group(3)
        if empty or name in _FLAT_TAGS:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise ParseError(record_id, f"a pathological page: elements nested {deepest} deep, over the bound of "
                                    f"{MAX_DEPTH}; not parsed")


def within_bounds(names: list[str]) -> bool:
    """True if `bounded` would keep `names` as they are (its callers then skip naming the field)."""
    return len(names) <= MAX_VALUES and max(map(len, names), default=0) <= MAX_VALUE_CHARS


def bounded(names: list[str], what: str, problems: list[str]) -> list[str]:
    """At most MAX_VALUES names of at most MAX_VALUE_CHARS each; a problem says what was cut."""
    if len(names) > MAX_VALUES:
        problems.append(f"{what} has over {MAX_VALUES} names; only the first {MAX_VALUES} are kept")
        names = names[:MAX_VALUES]
    if any(len(n) > MAX_VALUE_CHARS for n in names):
        problems.append(f"{what} has a name over {MAX_VALUE_CHARS} characters; cut there")
        names = [n if len(n) <= MAX_VALUE_CHARS else n[:MAX_VALUE_CHARS - 1] + "…" for n in names]
    return names
