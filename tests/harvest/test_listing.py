"""The search listing: sort parameters always sent, the counter read by its numbers alone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from harvester.site.listing import listing_url, parse_listing
from tests.support.fixture_site import FIXTURES


def test_the_sort_is_sent_explicitly() -> None:
    url = urlparse(listing_url("https://digitalarchive.wilsoncenter.org", 3))
    assert url.path == "/search"
    assert parse_qs(url.query) == {"sort_by": ["created"], "sort_order": ["DESC"], "items_per_page": ["10"],
                                   "page": ["3"]}


@pytest.mark.parametrize("counter", [
    "Results: 11 - 20 of 99 Documents",
    "Results:<span> 11 - 20 of 99 </span>Documents",
    "11 - 20 of 99",
    "<b>11</b> - <b>20</b> of <b>99</b>",
    "Results: 11 – 20 of 99",
])
def test_the_counter_with_or_without_its_words(counter: str) -> None:
    body = (f'<html><body><main><div class="count">{counter}</div><table><tr><td class="document">'
            '<a href="/document/a-slug">A</a></td></tr></table></main></body></html>').encode()
    listing = parse_listing(body, page=1)
    assert (listing.first, listing.last, listing.total) == (11, 20, 99)
    assert listing.slugs == ["a-slug"] and not listing.is_last_page


def test_the_look_alike_listing_pages_read_as_listings() -> None:
    listing = parse_listing((FIXTURES / "lookalikes" / "listing.html").read_bytes(), page=1)
    assert listing.selector == "result_link" and len(listing.slugs) == 2
    assert (listing.first, listing.last, listing.total) == (11, 20, 99)
    other = parse_listing((FIXTURES / "lookalikes" / "listing-at-document-address.html").read_bytes(), page=0)
    assert other.selector == "views_row_link" and other.total == 16153
