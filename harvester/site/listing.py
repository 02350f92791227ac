"""The search listing (`/search`): which documents the site lists, newest first.

A listing page gives slugs, not Record IDs (anatomy §2, §3). The links are read by the
table's listing selectors, tried in order; the "11 - 20 of 99" counter is read from the
page text by its numbers alone (live captures frame it as "Results: … Documents", some
omit both words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlencode, urlparse

import soupsieve
from bs4 import BeautifulSoup, Tag

from harvester.site.decode import decode_html
from harvester.site.selectors import EXCLUDE, LISTING_COUNTER, LISTING_MAIN, LISTING_PARAMS, LISTING_SELECTORS

_COUNTER = re.compile(LISTING_COUNTER)
_EXCLUDE = soupsieve.compile(EXCLUDE)
# /document/<slug> exactly: not /document/<nid>/download, not /document/<id>.pdf.
_DOCUMENT_PATH = re.compile(r"^/document/([^/?#]+)/?$")


@dataclass
class Listing:
    page: int
    slugs: list[str] = field(default_factory=list)  # in listing order, no repeats
    first: int | None = None  # the "1 - 10 of N" counter, when shown
    last: int | None = None
    total: int | None = None
    selector: str | None = None  # which selector found the links (a fallback is worth a look)

    @property
    def is_last_page(self) -> bool:
        """True when the page says it shows the final results, or shows none."""
        if not self.slugs:
            return True
        return self.last is not None and self.total is not None and self.last >= self.total


def listing_url(base_url: str, page: int) -> str:
    """The listing page, with the sort order sent explicitly (never the site's default)."""
    return f"{base_url}/search?{urlencode({**LISTING_PARAMS, 'page': page})}"


def slug_of(href: str) -> str | None:
    """The slug of a /document/<slug> link (absolute or root-relative), else None."""
    try:
        path = urlparse(href).path
    except ValueError:
        return None
    match = _DOCUMENT_PATH.match(path)
    if not match:
        return None
    slug = unquote(match.group(1))
    if slug.lower().endswith(".pdf"):
        return None
    return slug


def _outside_results(node: Tag) -> bool:
    return any(isinstance(p, Tag) and _EXCLUDE.match(p) for p in node.parents)


def parse_listing(body: bytes, *, page: int, content_type: str | None = None) -> Listing:
    """Read the document links and the result counter of one listing page."""
    text, _ = decode_html(body, content_type)
    soup = BeautifulSoup(text, "lxml")
    listing = Listing(page=page)
    main = soup.select_one(LISTING_MAIN) or soup.body or soup
    for name, selector in LISTING_SELECTORS.items():
        # The specific selectors are trusted anywhere; the generic one only in the main content.
        scope = main if name == "any_document_link" else soup
        seen: list[str] = []
        for link in scope.select(selector):
            if name == "any_document_link" and _outside_results(link):
                continue
            slug = slug_of(str(link.get("href", "")))
            if slug and slug not in seen:
                seen.append(slug)
        if seen:
            listing.slugs, listing.selector = seen, name
            break
    match = _COUNTER.search(soup.get_text(" "))
    if match:
        first, last, total = (int(g.replace(",", "")) for g in match.groups())
        listing.first, listing.last, listing.total = first, last, total
    return listing
