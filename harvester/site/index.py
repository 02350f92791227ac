"""The selector index: one pass over a page's elements answers every selector of the table.

The elements come in document order, as the page's tree builder made them (`ElementsBuilder`),
else from a walk of the tree (bs4's `next_element` chain, no recursion). The pass records for
every element its position, the position of its last descendant (when asked), which table
selectors it matches, and for each "zone"
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
from bs4 import BeautifulSoup, PageElement, Tag
from bs4.builder._lxml import LXMLTreeBuilder  # where bs4 defines it (bs4.builder re-exports it untyped)
from bs4.element import nonwhitespace_re  # how bs4 splits a multi-valued attribute ("class")

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


_TRIVIAL, _HAS_ATTR, _HAS_CLASS, _MATCHES = range(4)
_DIRECT_SCANS = 8  # find_by_attr's scans of a root before it collects the page's values once


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
        return self.check == (_TRIVIAL, "")

    @property
    def check(self) -> tuple[int, str]:
        """What the walk checks beyond an element being a candidate (by its tag name, else its first
        class): nothing, one attribute's presence (`a[href]`), one more class (`h1.title`), or all
        of `_matches`. The common forms are checked in the walk without a call."""
        rest = not (self.id or self.equals or self.confirm is not None or self.tie is not None)
        if rest and self.tag is not None:
            if not self.classes and not self.present:
                return _TRIVIAL, ""
            if not self.classes and len(self.present) == 1:
                return _HAS_ATTR, self.present[0]
            if len(self.classes) == 1 and not self.present:
                return _HAS_CLASS, self.classes[0]
        if rest and self.tag is None and len(self.classes) == 1 and not self.present:
            return _TRIVIAL, ""
        return _MATCHES, ""


_Entry = tuple[str, int, str, _Compound]


class CompiledTable:
    """A set of selectors compiled once (at import): indexable compounds and soupsieve fallbacks (these
    compiled by soupsieve on first use)."""

    def __init__(self, selectors: Iterable[str]) -> None:
        # (the whole selector, its check, the check's name, the compound) by what makes an element a
        # candidate: a tuple unpacked in the walk costs less than attribute reads
        self.by_tag: dict[str, list[_Entry]] = {}
        self.by_class: dict[str, list[_Entry]] = {}
        self.by_id: dict[str, list[_Entry]] = {}
        self.by_attr: dict[str, list[_Entry]] = {}
        self.fallback: dict[str, _Soupsieve] = {}
        self.selectors: set[str] = set()
        for css in dict.fromkeys(selectors):
            self.selectors.add(css)
            compounds = self._compounds(css)
            if compounds is None:
                self.fallback[css] = _Soupsieve(css)
                continue
            for c in compounds:
                entry = (css, *c.check, c)
                if c.tag is not None:
                    self.by_tag.setdefault(c.tag, []).append(entry)
                elif c.classes:
                    self.by_class.setdefault(c.classes[0], []).append(entry)
                elif c.id is not None:
                    self.by_id.setdefault(c.id, []).append(entry)
                else:
                    self.by_attr.setdefault(c.present[0], []).append(entry)
        self.class_names = frozenset(self.by_class)

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


class ElementsBuilder(LXMLTreeBuilder):
    """bs4's lxml tree builder, keeping the elements in the order it makes them: document order (it
    appends each new element as the last child of the deepest open one), what the selector index
    would otherwise walk the finished tree for, stepping over every string too (~0.03 ms a page).

    `BeautifulSoup(text, builder=ElementsBuilder())` builds the same tree as
    `BeautifulSoup(text, "lxml")`. The elements are recorded in `set_up_substitutions`, which every
    element's constructor already calls with the builder: no call is added per element (overriding
    `handle_starttag` added one, and cost more than the walk).

    It also does three of bs4's steps for less (`start`, `end`, the splitting of multi-valued
    attributes): the same tree in ~9 % less time (3.47-4.00 -> 3.17-3.65 ms a fixture page)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.elements: list[Tag] = []
        self._multi_valued: dict[str, frozenset[str]] = {}
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        # Before every parse (BeautifulSoup retries with another encoding): also drops the
        # BeautifulSoup object itself, which is made (and set up) before the parse starts.
        super().reset()
        self.elements = []

    def set_up_substitutions(self, tag: Tag) -> bool:
        self.elements.append(tag)
        # bs4 substitutes only in <meta> (the charset it re-encodes on output): calling it for every
        # element, an added frame each, cost as much as the walk this list saves.
        return tag.name == "meta" and super().set_up_substitutions(tag)

    # bs4's lxml `start` copies each element's attributes twice, one `__setitem__` (Python) an
    # attribute each, and looks every name up for a namespace; `end` looks the tag's up again.
    # An HTML page through lxml's HTML parser has no namespaces: no mapping, no "{uri}name".
    # Then the attributes are copied once, in C (lxml gives only strings, which the attribute
    # dict would keep as they are), and the same calls reach BeautifulSoup: the same tree
    # (tests/harvest/test_selector_index.py compares each page's with `BeautifulSoup(text,
    # "lxml")`'s), in less time (see the class's docstring). Anything namespaced goes the stock way.
    def start(self, tag: Any, attrib: Any, nsmap: Any = {}) -> None:  # noqa: B006  # bs4's signature
        if nsmap or len(self.nsmaps) > 1 or tag[:1] == "{" or any(k[:1] == "{" for k in attrib):
            super().start(tag, attrib, nsmap)
            return
        self.soup.handle_starttag(tag, None, None, self.attribute_dict_class(attrib),  # type: ignore[union-attr]
                                  namespaces=self.active_namespace_prefixes[-1])

    def _replace_cdata_list_attribute_values(self, tag_name: str, attrs: Any) -> Any:
        # bs4's own (run by every element's constructor) builds a set and lowers the tag's name
        # each time, then tests every attribute; here each tag name's multi-valued attributes
        # ("class" everywhere, "rel" on links...) are worked out once, and a C-level test skips
        # the elements that have none. The values are split as bs4 splits them.
        if not attrs:
            return attrs
        names = self._multi_valued.get(tag_name)
        if names is None:
            lists = self.cdata_list_attributes
            names = self._multi_valued[tag_name] = frozenset(
                lists.get("*", set()) | lists.get(tag_name.lower(), set()))
        if names.isdisjoint(attrs):
            return attrs
        for attr in [a for a in attrs if a in names]:
            value = attrs[attr]
            if isinstance(value, str):
                attrs[attr] = self.attribute_value_list_class(nonwhitespace_re.findall(value))
        return attrs

    def end(self, tag: Any) -> None:
        if len(self.nsmaps) > 1 or tag[:1] == "{":
            super().end(tag)
            return
        soup = self.soup
        soup.endData()  # type: ignore[union-attr]
        soup.handle_endtag(tag, None)  # type: ignore[union-attr]

    def take_elements(self) -> list[Tag]:
        """The elements made so far, once: a tag copied later (made with this builder) goes to a
        new list, never into the index's."""
        elements, self.elements = self.elements, []
        return elements


class SelectorIndex:
    """Positions, zones and selector matches of every element of one page.

    The elements are those the page's `ElementsBuilder` made, if it was built with one and not
    indexed yet (index a tree before changing it: the parser never changes it), else a walk of the
    tree finds them."""

    def __init__(self, soup: BeautifulSoup, table: CompiledTable, zones: Iterable[str] = (),
                 lookup_attrs: Iterable[str] = ()) -> None:
        self.soup = soup
        self.table = table
        self.zones = list(zones)
        self.zone_at = {z: k for k, z in enumerate(self.zones)}  # list.index per lookup cost more
        self.lookup_attrs = tuple(lookup_attrs)
        hits: dict[str, list[int]] = {}
        i = -1
        by_tag, by_class, by_id, by_attr = table.by_tag, table.by_class, table.by_id, table.by_attr
        attr_names = tuple(by_attr)
        class_names = table.class_names
        # The elements, in document order: the builder's list, else a walk of bs4's `next_element`
        # chain (what `Tag.descendants` follows too). One flat loop over them records only
        # positions and selector hits; an element's end (its last descendant) is found when asked
        # (`span`, from the tree: few elements are ever roots), and the zones are filled in from
        # their hits after the loop. Tracking every element's parent, zones and end here was half
        # the walk's time (~0.07 of ~0.15 ms a page).
        #
        # `lookup_attrs`, the attributes `find_by_attr` is asked about (tab labels), are collected
        # on the first lookup, one pass over `order` for all of them: collecting them for every
        # element in this walk was a quarter of its time, and most pages look up none.
        builder = soup.builder
        elements = builder.take_elements() if isinstance(builder, ElementsBuilder) else []
        if not elements:
            node = soup.contents[0] if soup.contents else None
            while node is not None:
                if isinstance(node, Tag):
                    elements.append(node)
                node = node.next_element
        for child in elements:
            i += 1
            attrs = child.attrs
            candidates = by_tag.get(child.name, ())
            if attrs:
                cls_value = attrs.get("class")
                classes = (cls_value.split() if isinstance(cls_value, str) else cls_value) if cls_value else ()
                if classes and not class_names.isdisjoint(classes):  # most classes are none of the table's
                    for cls in classes:
                        more = by_class.get(cls)
                        if more:
                            candidates = [*candidates, *more]
                if by_id and "id" in attrs:
                    ident = attrs["id"]
                    if isinstance(ident, str) and ident in by_id:
                        candidates = [*candidates, *by_id[ident]]
                for name in attr_names:
                    if name in attrs:
                        candidates = [*candidates, *by_attr[name]]
            else:
                classes = ()
            for css, check, name, c in candidates:
                got = hits.get(css)
                if got is not None and got[-1] == i:  # another part of the same comma list matched
                    continue
                if (check == _TRIVIAL or (check == _HAS_ATTR and name in attrs)
                        or (check == _HAS_CLASS and name in classes)
                        or (check == _MATCHES and _matches(c, child, classes))):
                    if got is None:
                        hits[css] = [i]
                    else:
                        got.append(i)
        self.order = order = elements
        self.hits = hits
        self.pos = dict(zip(map(id, order), range(len(order)), strict=True))  # in C, not a step of the walk
        self._end: dict[int, int] = {}
        # Per zone, per position: the position of the nearest ancestor-or-self in that zone, or -1.
        # Zone elements come in document order, so a nested one (a descendant) overwrites its
        # ancestor's positions within its own span: nearest wins.
        self.zone_of: list[list[int]] = []
        for css in self.zones:
            nearest = [-1] * len(order)
            for z in hits.get(css, ()):
                last = self.end(z)
                nearest[z:last + 1] = [z] * (last + 1 - z)
            self.zone_of.append(nearest)
        self._by_attr: dict[str, dict[str, list[int]]] | None = None
        self._scans = 0

    # -- positions -----------------------------------------------------------------------
    def position(self, node: Tag) -> int:
        return self.pos[id(node)]

    def end(self, i: int) -> int:
        """The position of the last element inside the element at `i` (`i` itself if it holds none)."""
        last = self._end.get(i)
        if last is None:
            # Its last descendant, down the last children; if that is a string, back along the
            # document order to the nearest element: still inside (the element itself at worst).
            node: PageElement = self.order[i]
            while isinstance(node, Tag) and node.contents:
                node = node.contents[-1]
            while not isinstance(node, Tag):
                node = node.previous_element  # type: ignore[assignment]  # an element precedes it
            last = self._end[i] = self.pos[id(node)]
        return last

    def span(self, root: Tag) -> tuple[int, int]:
        """Positions of `root`'s descendants (exclusive start, inclusive end)."""
        if root is self.soup:
            return -1, len(self.order) - 1
        i = self.pos[id(root)]
        return i, self.end(i)

    def contains(self, root: Tag, node: Tag) -> bool:
        lo, hi = self.span(root)
        return lo < self.pos[id(node)] <= hi

    def zone(self, node: Tag, css: str) -> Tag | None:
        """The nearest ancestor-or-self of `node` matching the zone selector `css`."""
        i = self.zone_of[self.zone_at[css]][self.pos[id(node)]]
        return self.order[i] if i >= 0 else None

    def first_named(self, name: str, root: Tag | None = None) -> Tag | None:
        """`root.find(name)` (`soup.body`…): the first element with this tag name below `root` (the
        whole page by default), by position, without building a bs4 filter for each call."""
        if root is None:
            for tag in self.order:
                if tag.name == name:
                    return tag
            return None
        at = self.first_named_in(self.pos[id(root)], name)
        return self.order[at] if at >= 0 else None

    def first_named_in(self, i: int, name: str) -> int:
        """The position of the first element named `name` inside the element at `i`, or -1."""
        order = self.order
        # The element after `i` is its first descendant if it is its child (a pill's `.name` and the
        # span in it, most calls): answered without finding where `i` ends.
        if i + 1 < len(order) and order[i + 1].name == name and order[i + 1].parent is order[i]:
            return i + 1
        for at in range(i + 1, self.end(i) + 1):
            if order[at].name == name:
                return at
        return -1

    def first_in(self, i: int, css: str) -> int:
        """The position of the first element inside the element at `i` that matches `css`, or -1:
        `select_one` by positions."""
        positions = self.hits.get(css)
        if not positions or css in self.table.fallback:
            inside = self.positions(self.order[i], css)
            return inside[0] if inside else -1
        at = bisect_right(positions, i)
        if at == len(positions):
            return -1
        found = positions[at]
        if found == i + 1 and self.order[found].parent is self.order[i]:  # its first child (see first_named_in)
            return found
        return found if found <= self.end(i) else -1

    # -- selecting -----------------------------------------------------------------------
    def positions(self, root: Tag, css: str) -> list[int]:
        """Positions of `root.select(css)`, in document order (what `select` returns, as positions:
        the scope checks read the per-position tables without a lookup by identity)."""
        compiled = self.table.fallback.get(css)
        if compiled is not None:
            pos = self.pos
            return [pos[id(tag)] for tag in compiled.select(root)]
        positions = self.hits.get(css)
        if not positions:
            if css not in self.table.selectors:  # a typo must not read as "nothing matched"
                raise KeyError(f"selector not in the compiled table: {css!r}")
            return []
        lo, hi = self.span(root)
        return positions[bisect_right(positions, lo):bisect_right(positions, hi)]

    def select(self, root: Tag, css: str) -> list[Tag]:
        """`root.select(css)`: matching descendants in document order."""
        order = self.order
        return [order[i] for i in self.positions(root, css)]

    def select_one(self, root: Tag, css: str) -> Tag | None:
        """`root.select_one(css)`: the first of `select`, without building the rest."""
        positions = self.hits.get(css)
        if not positions or css in self.table.fallback:
            found = self.select(root, css)
            return found[0] if found else None
        lo, hi = self.span(root)
        at = bisect_right(positions, lo)
        return self.order[positions[at]] if at < len(positions) and positions[at] <= hi else None

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
        if self._by_attr is None or attr not in self._by_attr:
            # A page asks one to five of these (one tab pane's label): a scan of `root` alone costs
            # less than collecting every value of the page. Many lookups (many panes) collect
            # once, so that a page of thousands of panes stays linear.
            self._scans += 1
            if self._scans <= _DIRECT_SCANS:
                lo, hi = self.span(root)
                order = self.order
                for i in range(lo + 1, hi + 1):
                    if order[i].attrs.get(attr) == value:  # a list value (class, rel) never equals a str
                        return order[i]
                return None
            self._collect_attrs(attr)
        assert self._by_attr is not None
        positions = self._by_attr[attr].get(value)
        if not positions:
            return None
        lo, hi = self.span(root)
        found = positions[bisect_right(positions, lo):bisect_right(positions, hi)]
        return self.order[found[0]] if found else None

    def _collect_attrs(self, attr: str) -> None:
        """value -> positions of `attr` and of every `lookup_attrs` not collected yet, in one pass
        (a page with tab labels asks three to five of them in turn)."""
        have = self._by_attr if self._by_attr is not None else {}
        tables: dict[str, dict[str, list[int]]] = {name: {} for name in (*self.lookup_attrs, attr) if name not in have}
        for i, tag in enumerate(self.order):
            attrs = tag.attrs
            if attrs:
                for name, v in attrs.items():
                    table = tables.get(name)
                    if table is not None and isinstance(v, str):
                        table.setdefault(v, []).append(i)
        self._by_attr = {**have, **tables}
