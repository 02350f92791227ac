"""The selector index: one walk over a page answers every selector of the table.

The walk (document order, no recursion: bs4's `next_element` chain) records for every element its position, the
position of its last descendant, which table selectors it matches, and for each "zone"
selector the nearest ancestor-or-self that matches it (the exclusion zones, the title's
`.content-block`, the enclosing `article`). Every `select`, `select_one` and scope check
is then a lookup, not a fresh tree walk through soupsieve or find_parent.

Simple compounds (tag, .class, #id, [attr], comma lists of them) are matched here;
attribute values are confirmed by soupsieve itself; any other selector is handed to
soupsieve whole. `tests/harvest/test_selector_index.py` checks, for every selector of the
table over every fixture page, that the index selects exactly what soupsieve selects.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import soupsieve
from bs4 import BeautifulSoup, Tag

_COMPOUND = re.compile(r"([a-z][a-z0-9]*)?((?:[.#][A-Za-z_][A-Za-z0-9_-]*)*)((?:\[[^\]]+\])*)")
_ATTR_NAME = re.compile(r"\[\s*([A-Za-z_][A-Za-z0-9_-]*)\s*([~|^$*]?=)?")
# [name="value"], [name='value'] or [name=value]: exact equality, checked here without soupsieve.
_ATTR_EQUALS = re.compile(r"\[\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+))\s*\]")


class _Soupsieve:
    """A selector soupsieve compiles on first use: compiling the table's few attribute selectors at
    import was ~0.3 s of every process that imports the parser, and most pages never ask
    (`tie` only breaks a case-insensitive equality)."""

    __slots__ = ("css", "_compiled")

    def __init__(self, css: str) -> None:
        self.css = css
        self._compiled: Any = None

    def _get(self) -> Any:
        if self._compiled is None:
            self._compiled = soupsieve.compile(self.css)
        return self._compiled

    def match(self, tag: Tag) -> bool:
        return bool(self._get().match(tag))

    def select(self, root: Tag) -> list[Tag]:
        return list(self._get().select(root))


@dataclass(frozen=True)
class _Compound:
    css: str  # the whole selector (a comma list) this compound belongs to
    tag: str | None
    classes: tuple[str, ...]
    id: str | None
    present: tuple[str, ...]  # attribute names that must be present
    equals: tuple[tuple[str, str], ...]  # [attr="value"] parts, checked here
    confirm: _Soupsieve | None  # soupsieve's compound, for other attribute operators (or two ids)
    tie: _Soupsieve | None  # soupsieve's compound, for a value equal to an [attr="value"] but for case

    @property
    def trivial(self) -> bool:
        """A bare tag name or a single class: matched by being a candidate at all (see SelectorIndex)."""
        rest = not (self.id or self.present or self.equals or self.confirm is not None or self.tie is not None)
        return rest and ((self.tag is not None and not self.classes) or (self.tag is None and len(self.classes) == 1))


class CompiledTable:
    """A set of selectors compiled once (at import): indexable compounds and soupsieve fallbacks (these
    compiled by soupsieve on first use)."""

    def __init__(self, selectors: Iterable[str]) -> None:
        self.by_tag: dict[str, list[_Compound]] = {}
        self.by_class: dict[str, list[_Compound]] = {}
        self.by_id: dict[str, list[_Compound]] = {}
        self.by_attr: dict[str, list[_Compound]] = {}
        self.fallback: dict[str, _Soupsieve] = {}
        self.trivial: set[int] = set()  # id() of the compounds that need no check beyond being a candidate
        self.selectors: set[str] = set()
        for css in dict.fromkeys(selectors):
            self.selectors.add(css)
            compounds = self._compounds(css)
            if compounds is None:
                self.fallback[css] = _Soupsieve(css)
                continue
            for c in compounds:
                if c.trivial:
                    self.trivial.add(id(c))
                if c.tag is not None:
                    self.by_tag.setdefault(c.tag, []).append(c)
                elif c.classes:
                    self.by_class.setdefault(c.classes[0], []).append(c)
                elif c.id is not None:
                    self.by_id.setdefault(c.id, []).append(c)
                else:
                    self.by_attr.setdefault(c.present[0], []).append(c)

    @staticmethod
    def _compounds(css: str) -> list[_Compound] | None:
        found: list[_Compound] = []
        for part in (p.strip() for p in css.split(",")):
            match = _COMPOUND.fullmatch(part)
            if match is None or not part:
                return None
            tag, simple, attrs = match.group(1), match.group(2), match.group(3)
            classes = tuple(re.findall(r"\.([A-Za-z0-9_-]+)", simple))
            ids = re.findall(r"#([A-Za-z0-9_-]+)", simple)
            names = _ATTR_NAME.findall(attrs)
            if attrs and len(names) != attrs.count("["):
                return None  # an attribute part this little parser does not understand
            present = tuple(name for name, _ in names)
            if not (tag or classes or ids or present):
                return None
            equals = tuple((m[0], m[1] or m[2] or m[3]) for m in _ATTR_EQUALS.findall(attrs))
            simple_equals = all(op in ("", "=") for _, op in names) and len(equals) == sum(op == "=" for _, op in names)
            # soupsieve confirms what this module does not check itself, and breaks ties (an
            # attribute value equal but for case: HTML compares some values case-insensitively).
            needs = len(ids) > 1 or not simple_equals
            confirm = _Soupsieve(part) if needs or equals else None
            found.append(_Compound(css, tag, classes, ids[0] if len(ids) == 1 else None, present,
                                   equals if not needs else (), confirm if needs else None,
                                   confirm if equals and not needs else None))
        return found


def _equals(c: _Compound, tag: Tag) -> bool:
    for name, want in c.equals:
        value = tag.attrs.get(name)
        got = " ".join(value) if isinstance(value, list) else value
        if got == want:
            continue
        if not isinstance(got, str) or got.lower() != want.lower():
            return False
        return c.tie is not None and c.tie.match(tag)
    return True


def _matches(c: _Compound, tag: Tag, classes: Any) -> bool:
    if c.tag is not None and tag.name != c.tag:
        return False
    for name in c.classes:
        if name not in classes:
            return False
    if c.id is not None and tag.attrs.get("id") != c.id:
        return False
    for name in c.present:
        if name not in tag.attrs:
            return False
    if c.equals and not _equals(c, tag):
        return False
    return c.confirm is None or c.confirm.match(tag)


class SelectorIndex:
    """Positions, zones and selector matches of every element of one page."""

    def __init__(self, soup: BeautifulSoup, table: CompiledTable, zones: Iterable[str] = (),
                 lookup_attrs: Iterable[str] = ()) -> None:
        self.soup = soup
        self.table = table
        self.zones = list(zones)
        order: list[Tag] = []
        parents: list[int] = []
        hits: dict[str, list[int]] = {}
        pos: dict[int, int] = {}
        zone_of: list[tuple[int, ...]] = []
        by_tag, by_class, by_id, by_attr = table.by_tag, table.by_class, table.by_id, table.by_attr
        trivial = table.trivial
        zone_set = set(self.zones)
        zone_at = {z: k for k, z in enumerate(self.zones)}
        none = tuple(-1 for _ in self.zones)
        attr_names = tuple(by_attr)
        # `lookup_attrs`, the attributes `find_by_attr` is asked about (tab labels), are collected
        # on the first lookup of each, one pass over `order`: collecting them for every element in
        # this walk was a quarter of its time, and most pages look up one or two of them, or none.
        #
        # The walk follows bs4's `next_element` chain (document order, what `Tag.descendants`
        # follows too): one flat loop, with each element's parent found by its position, instead
        # of a stack of child iterators that also stepped over every string (~0.25 ms of ~0.35 a
        # page went to that walk alone).
        node = soup.contents[0] if soup.contents else None
        while node is not None:
            if not isinstance(node, Tag):
                node = node.next_element
                continue
            child = node
            node = node.next_element
            i = len(order)
            order.append(child)
            pos[id(child)] = i
            parent = pos.get(id(child.parent), -1)
            parents.append(parent)
            attrs = child.attrs
            candidates = by_tag.get(child.name, ())
            if attrs:
                cls_value = attrs.get("class")
                classes = (cls_value.split() if isinstance(cls_value, str) else cls_value) if cls_value else ()
                for cls in classes:
                    more = by_class.get(cls)
                    if more:
                        candidates = [*candidates, *more]
                if by_id:
                    ident = attrs.get("id")
                    if isinstance(ident, str) and ident in by_id:
                        candidates = [*candidates, *by_id[ident]]
                for name in attr_names:
                    if name in attrs:
                        candidates = [*candidates, *by_attr[name]]
            else:
                classes = ()
            own = zone_of[parent] if parent >= 0 else none
            for c in candidates:
                got = hits.get(c.css)
                if got is not None and got[-1] == i:  # another part of the same comma list matched
                    continue
                if id(c) in trivial or _matches(c, child, classes):
                    if got is None:
                        hits[c.css] = [i]
                    else:
                        got.append(i)
                    if c.css in zone_set:  # rare: only zone elements build a new tuple
                        changed = list(own)
                        changed[zone_at[c.css]] = i
                        own = tuple(changed)
            zone_of.append(own)
        # The last descendant of each element: children come after their parent, so one pass
        # backwards carries each element's end up to its parent.
        end = list(range(len(order)))
        for i in range(len(order) - 1, -1, -1):
            parent = parents[i]
            if parent >= 0 and end[i] > end[parent]:
                end[parent] = end[i]
        self.order = order
        self.end = end
        self.hits = hits
        self.pos = pos
        self._zone_of = zone_of
        self._by_attr: dict[str, dict[str, list[int]]] = {}

    # -- positions -----------------------------------------------------------------------
    def position(self, node: Tag) -> int:
        return self.pos[id(node)]

    def span(self, root: Tag) -> tuple[int, int]:
        """Positions of `root`'s descendants (exclusive start, inclusive end)."""
        if root is self.soup:
            return -1, len(self.order) - 1
        i = self.pos[id(root)]
        return i, self.end[i]

    def contains(self, root: Tag, node: Tag) -> bool:
        lo, hi = self.span(root)
        return lo < self.pos[id(node)] <= hi

    def zone(self, node: Tag, css: str) -> Tag | None:
        """The nearest ancestor-or-self of `node` matching the zone selector `css`."""
        i = self._zone_of[self.pos[id(node)]][self.zones.index(css)]
        return self.order[i] if i >= 0 else None

    def first_named(self, name: str, root: Tag | None = None) -> Tag | None:
        """`root.find(name)` (`soup.body`…): the first element with this tag name below `root` (the
        whole page by default), by position, without building a bs4 filter for each call."""
        if root is None:
            return next((tag for tag in self.order if tag.name == name), None)
        lo, hi = self.span(root)
        order = self.order
        return next((order[i] for i in range(lo + 1, hi + 1) if order[i].name == name), None)

    # -- selecting -----------------------------------------------------------------------
    def select(self, root: Tag, css: str) -> list[Tag]:
        """`root.select(css)`: matching descendants in document order."""
        compiled = self.table.fallback.get(css)
        if compiled is not None:
            return compiled.select(root)
        positions = self.hits.get(css)
        if not positions:
            if css not in self.table.selectors:  # a typo must not read as "nothing matched"
                raise KeyError(f"selector not in the compiled table: {css!r}")
            return []
        lo, hi = self.span(root)
        return [self.order[i] for i in positions[bisect_right(positions, lo):bisect_right(positions, hi)]]

    def select_one(self, root: Tag, css: str) -> Tag | None:
        found = self.select(root, css)
        return found[0] if found else None

    def matches(self, node: Tag, css: str) -> bool:
        compiled = self.table.fallback.get(css)
        if compiled is not None:
            return compiled.match(node)
        positions = self.hits.get(css)
        if not positions:
            return False
        i = self.pos[id(node)]
        at = bisect_right(positions, i)
        return at > 0 and positions[at - 1] == i

    def find_by_attr(self, root: Tag, attr: str, value: str) -> Tag | None:
        """`root.find(attrs={attr: value})` for a single-valued attribute."""
        table = self._by_attr.get(attr)
        if table is None:
            table = {}
            for i, tag in enumerate(self.order):
                v = tag.attrs.get(attr)
                if isinstance(v, str):
                    table.setdefault(v, []).append(i)
            self._by_attr[attr] = table
        positions = table.get(value)
        if not positions:
            return None
        lo, hi = self.span(root)
        found = positions[bisect_right(positions, lo):bisect_right(positions, hi)]
        return self.order[found[0]] if found else None
