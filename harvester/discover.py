"""The search listing (`/search?page=N`): which documents the site lists, newest first.

A listing page gives slugs, not Record IDs (anatomy §2, §3). The sync recognises a
known document by its slug (the catalog's `record.slug`) and fetches only unknown
slugs, reading the Record ID from the page itself. This module only reads listing
pages; deciding what is new is the sync's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from bs4 import BeautifulSoup, Tag

from harvester.parse import decode_html
from harvester.selectors import LISTING_COUNTER, LISTING_MAIN, LISTING_SELECTORS, SELECTORS

_COUNTER = re.compile(LISTING_COUNTER)
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
    return f"{base_url}/search?page={page}"


def document_url(base_url: str, slug: str) -> str:
    return f"{base_url}/document/{slug}"


def slug_of(href: str) -> str | None:
    """The slug of a /document/<slug> link (absolute or root-relative), else None."""
    path = urlparse(href).path
    match = _DOCUMENT_PATH.match(path)
    if not match:
        return None
    slug = unquote(match.group(1))
    if slug.lower().endswith(".pdf"):
        return None
    return slug


def _outside_results(node: Tag) -> bool:
    return node.find_parent(SELECTORS["not_document"].replace(" ", "").split(",")) is not None


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
