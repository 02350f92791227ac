"""The search listing parser: documented selectors, fallbacks, the counter."""

from __future__ import annotations

from harvester.discover import parse_listing, slug_of


def test_td_document_links_in_order_without_repeats() -> None:
    body = (b"<html><body><header><a href='/document/menu-item'>menu</a></header><main>"
            b"<div>1 - 10 of 16,153</div><table class='table table-hover table-striped'>"
            b"<tr><td class='document contextual-region'><a href='/document/b-doc'>B</a>"
            b"<a href='/document/b-doc'>B again</a></td></tr>"
            b"<tr><td class='document'><a href='https://digitalarchive.wilsoncenter.org/document/a-doc'>A</a></td></tr>"
            b"</table></main></body></html>")
    listing = parse_listing(body, page=0)
    assert listing.slugs == ["b-doc", "a-doc"]
    assert (listing.first, listing.last, listing.total) == (1, 10, 16153)
    assert listing.selector == "result_link" and not listing.is_last_page


def test_views_row_fallback() -> None:
    body = (b"<html><body><main><div class='views-row'><a href='/document/x-1'>x</a>"
            b"<a href='/about'>about</a></div></main></body></html>")
    assert parse_listing(body, page=2).slugs == ["x-1"]


def test_generic_fallback_ignores_header_footer_and_downloads() -> None:
    body = (b"<html><body><header><a href='/document/menu'>m</a></header><main><p>"
            b"<a href='/document/real-one'>r</a><a href='/document/98765/download'>pdf</a></p></main>"
            b"<footer><a href='/document/footer-link'>f</a></footer></body></html>")
    listing = parse_listing(body, page=0)
    assert listing.slugs == ["real-one"] and listing.selector == "any_document_link"


def test_empty_page_is_the_last() -> None:
    listing = parse_listing(b"<html><body><main><p>No results.</p></main></body></html>", page=1700)
    assert listing.slugs == [] and listing.is_last_page


def test_counter_says_last_page() -> None:
    body = (b"<html><body><main>41 - 43 of 43<table><tr><td class='document'><a href='/document/z'>z</a></td></tr>"
            b"</table></main></body></html>")
    assert parse_listing(body, page=4).is_last_page


def test_slug_of() -> None:
    assert slug_of("/document/cable-no-4785") == "cable-no-4785"
    assert slug_of("/document/175798.pdf?v=abc") is None
    assert slug_of("/document/123/download") is None
    assert slug_of("/search?page=2") is None
