"""The document's own part of a page: its title, its `.content-block`, its region, and
the exclusion zones inside which nothing is ever read.

A page shows more than its document: header, menus and footer, a cookie banner, person or
region cards, and other documents' teasers (Related Documents, Popular Documents) that
reuse `.date`, `.title`, `.text-block` and `.pill`. Fields come only from elements that are
in the title's region and in no exclusion zone (`selectors.EXCLUDE`, and the sections under
an `EXCLUDE_HEADINGS` heading), and that belong to no other `.content-block` or `article`.
"""

from __future__ import annotations

from bisect import bisect_right

from bs4 import BeautifulSoup, Tag

from harvester.site import selectors as table
from harvester.site.decode import clean, text_of
from harvester.site.index import CompiledTable, SelectorIndex
from harvester.site.selectors import Alt

COMPILED = CompiledTable(table.table_selectors())
ZONES = (table.EXCLUDE, table.CONTENT_BLOCK, "article", table.PILL_BLOCK)
LOOKUP_ATTRS = (*table.TAB_LABEL_ATTRS, table.TAB_LABEL_ARIA, "id")
_EXCLUDE_AT, _BLOCK_AT, _ARTICLE_AT = (ZONES.index(z) for z in (table.EXCLUDE, table.CONTENT_BLOCK, "article"))


def heading_key(text: str) -> str:
    """A heading or label as the table spells it: case-folded, trailing colon and spaces trimmed."""
    return clean(text).rstrip(":").strip().casefold()


class DocumentScope:
    """One page, indexed, with the document's title, block and region once found."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.soup = soup
        self.index = SelectorIndex(soup, COMPILED, ZONES, LOOKUP_ATTRS)
        self._ranges: list[tuple[int, int]] = []  # excluded by a heading (start, end), sorted
        self.h1: Tag | None = None
        self.title_alt: Alt | None = None
        self.block: Tag | None = None
        self.region: Tag = soup
        self.settings_read = False
        self.settings_path: str | None = None  # Drupal's currentPath, once read
        self.settings_broken = False
        self._keys: dict[int, str] = {}  # id(element) -> its heading_key, once read
        # in_scope's positions: the title's block and, when the region is an article, the region
        self._block_at: int | None = None
        self._article_at: int | None = None
        self._find_title()
        pos = self.index.pos
        if self.block is not None:
            self._block_at = pos[id(self.block)]
        if self.region.name == "article" and self.region is not soup:
            self._article_at = pos[id(self.region)]

    def key_of(self, node: Tag) -> str:
        """`heading_key(text_of(node))`, read once a page: a heading is read for the exclusion
        zones, then again for the pill sections; a label for the document's markers, then again
        for Document Information."""
        key = self._keys.get(id(node))
        if key is None:
            key = self._keys[id(node)] = heading_key(text_of(node))
        return key

    # -- exclusion ---------------------------------------------------------------------------
    def excluded(self, node: Tag) -> bool:
        """Inside (or itself) an exclusion zone."""
        return self._excluded_at(self.index.pos[id(node)])

    def _excluded_at(self, i: int) -> bool:
        if self.index.zone_of[_EXCLUDE_AT][i] >= 0:
            return True
        if self._ranges:
            at = bisect_right(self._ranges, (i, len(self.index.order)))
            return at > 0 and self._ranges[at - 1][0] <= i <= self._ranges[at - 1][1]
        return False

    def _heading_zones(self, title: Tag | None) -> None:
        index = self.index
        ranges = []
        for heading in index.select(self.soup, table.EXCLUDE_HEADINGS_CSS):
            if self.key_of(heading) not in table.EXCLUDE_HEADINGS:
                continue
            parent = heading.parent
            if not isinstance(parent, Tag) or parent is self.soup:
                continue
            start, end = index.span(parent)
            if title is not None and start < index.position(title) <= end:
                # The heading sits beside the document itself: only what follows it is excluded.
                start = index.position(heading)
            ranges.append((max(start, 0), end))
        self._ranges = sorted(ranges)

    # -- title, block, region ----------------------------------------------------------------
    def _find_title(self) -> None:
        index = self.index
        first: Tag | None = None
        for alt in table.TITLE:
            for h1 in index.select(self.soup, alt.css):
                if index.zone(h1, table.EXCLUDE) is None and clean(text_of(h1)):
                    first = h1
                    break
            if first is not None:
                break
        self._heading_zones(first)
        for alt in table.TITLE:
            for h1 in index.select(self.soup, alt.css):
                if not self.excluded(h1) and clean(text_of(h1)):
                    self.h1, self.title_alt = h1, alt
                    break
            if self.h1 is not None:
                break
        if self.h1 is None:
            self.region = self.index.first_named("main") or self.index.first_named("body") or self.soup
            return
        block = index.zone(self.h1, table.CONTENT_BLOCK)
        self.block = block if block is not self.h1 else None
        self.region = self._region(self.h1)

    def _region(self, h1: Tag) -> Tag:
        """The nearest ancestor of the title matching the first REGION selector that has one."""
        for css in table.REGION:
            for ancestor in h1.parents:
                if isinstance(ancestor, Tag) and ancestor is not self.soup and self.index.matches(ancestor, css):
                    return ancestor
        body = self.index.first_named("body")
        return body if body is not None else self.soup

    # -- scope -------------------------------------------------------------------------------
    def in_scope(self, node: Tag) -> bool:
        """True if `node` belongs to this document, not to a teaser, card or page furniture."""
        return self.in_scope_at(self.index.pos[id(node)])

    def in_scope_at(self, i: int) -> bool:
        """`in_scope` of the element at position `i`: by positions, as the index records zones."""
        zone_of = self.index.zone_of
        if zone_of[_EXCLUDE_AT][i] >= 0 or (self._ranges and self._excluded_at(i)):
            return False
        # A nested article (a teaser) inside our region (an article) is another document.
        article = zone_of[_ARTICLE_AT][i]
        if article >= 0 and self._article_at is not None and article != self._article_at:
            return False
        # Another `.content-block` (a teaser reusing the classes) is not ours.
        block = zone_of[_BLOCK_AT][i]
        if block >= 0 and self._block_at is not None and block != self._block_at:
            return False
        return True

    def root_for(self, alt: Alt, item: Tag | None = None) -> Tag | None:
        if alt.scope == "block":
            return self.block
        if alt.scope == "region":
            return self.region
        if alt.scope == "item":
            return item
        return self.soup

    def find_all(self, alts: tuple[Alt, ...], item: Tag | None = None) -> tuple[list[Tag], Alt | None]:
        """The in-scope elements of the first alternative that finds any, and that alternative."""
        for alt in alts:
            root = self.root_for(alt, item)
            if root is None:
                continue
            order, in_scope_at = self.index.order, self.in_scope_at
            found = [order[i] for i in self.index.positions(root, alt.css) if in_scope_at(i)]
            if found:
                return found, alt
        return [], None

    def find(self, alts: tuple[Alt, ...], item: Tag | None = None) -> tuple[Tag | None, Alt | None]:
        """The first in-scope element of the first alternative that finds any (without checking the rest)."""
        for alt in alts:
            root = self.root_for(alt, item)
            if root is None:
                continue
            for i in self.index.positions(root, alt.css):
                if self.in_scope_at(i):
                    return self.index.order[i], alt
        return None, None
