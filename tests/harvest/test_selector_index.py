"""The fast selector index selects exactly what soupsieve selects.

For every selector of the table, over every fixture page (recorded documents and
scenarios, hand-written variants, look-alikes): the whole-page selection is checked
exhaustively, and selections under random sub-roots, the zones (nearest ancestor-or-self)
and single-element matches are checked by hypothesis. The pages are built as the parser builds
them (`ElementsBuilder`, which keeps the elements in the order it makes them); the index of a
plain BeautifulSoup tree (found by a walk of the tree) is checked to be the same.
"""

from __future__ import annotations

import copy
import os

import pytest
import soupsieve
from bs4 import BeautifulSoup, Tag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester.site.decode import decode_html
from harvester.site.index import CompiledTable, ElementsBuilder, SelectorIndex
from harvester.site.scope import COMPILED, ZONES
from harvester.site.selectors import table_selectors
from tests.support.pages import all_pages

SELECTORS = table_selectors()
PAGES = all_pages()
EXAMPLES = int(os.environ.get("WCDA_HYPOTHESIS_EXAMPLES", "200"))
_SOUPS: dict[str, tuple[BeautifulSoup, SelectorIndex, list[Tag]]] = {}
# The checks over every page run with the slow tests (~5 s of CPU); the edit loop's fast subset
# checks every fourth page (documents, scenarios, variants and look-alikes all come up).
EVERY = [pytest.param(1, marks=pytest.mark.slow, id="all"), pytest.param(4, id="sample")]


def soup_of(name: str, body: bytes) -> tuple[BeautifulSoup, SelectorIndex, list[Tag]]:
    if name not in _SOUPS:
        soup = BeautifulSoup(decode_html(body, None)[0], builder=ElementsBuilder())
        _SOUPS[name] = (soup, SelectorIndex(soup, COMPILED, ZONES), list(soup.find_all(True)))
    return _SOUPS[name]


def test_there_is_something_to_check() -> None:
    assert len(PAGES) >= 30 and len(SELECTORS) >= 25
    # Most selectors go through the index itself, not the soupsieve fallback.
    assert len(COMPILED.fallback) <= 2, sorted(COMPILED.fallback)


@pytest.mark.parametrize("every", EVERY)
def test_every_selector_over_every_page(every: int) -> None:
    for name, body in PAGES[::every]:
        soup, index, elements = soup_of(name, body)
        assert index.order == elements, name  # every element, in document order
        for css in SELECTORS:
            got = index.select(soup, css)
            want = soup.select(css)
            assert [id(t) for t in got] == [id(t) for t in want], (name, css)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.integers(0, len(PAGES) - 1), at=st.integers(0, 10**6), css=st.sampled_from(SELECTORS))
def test_selection_under_any_root(page: int, at: int, css: str) -> None:
    name, body = PAGES[page]
    soup, index, elements = soup_of(name, body)
    root = elements[at % len(elements)]
    assert [id(t) for t in index.select(root, css)] == [id(t) for t in root.select(css)], (name, css, root.name)
    assert index.matches(root, css) == soupsieve.match(css, root), (name, css)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.integers(0, len(PAGES) - 1), at=st.integers(0, 10**6), zone=st.sampled_from(ZONES))
def test_zone_is_the_nearest_matching_ancestor_or_self(page: int, at: int, zone: str) -> None:
    name, body = PAGES[page]
    soup, index, elements = soup_of(name, body)
    node = elements[at % len(elements)]
    want = next((t for t in [node, *node.parents] if isinstance(t, Tag) and t is not soup
                 and soupsieve.match(zone, t)), None)
    assert index.zone(node, zone) is want, (name, zone)


@pytest.mark.parametrize("every", EVERY)
def test_the_builders_elements_are_the_walks(every: int) -> None:
    """The elements `ElementsBuilder` keeps as it makes them are those a walk of a plain
    BeautifulSoup(text, "lxml") tree finds, with the same matches and zones; a second index of the
    same tree (the builder's list already taken) walks it."""
    for name, body in PAGES[::every]:
        text = decode_html(body, None)[0]
        soup = BeautifulSoup(text, builder=ElementsBuilder())
        built = SelectorIndex(soup, COMPILED, ZONES)
        assert soup.builder.elements == []  # taken by the index
        plain = BeautifulSoup(text, "lxml")
        assert plain.decode() == soup.decode(), name  # the same tree
        # ... with the same attributes, of the same classes (the builder's own `start` makes them)
        assert [(type(t.attrs), t.attrs, [type(v) for v in t.attrs.values()]) for t in plain.find_all(True)] == \
            [(type(t.attrs), t.attrs, [type(v) for v in t.attrs.values()]) for t in soup.find_all(True)], name
        for walked in (SelectorIndex(plain, COMPILED, ZONES), SelectorIndex(soup, COMPILED, ZONES)):
            assert [t.name for t in walked.order] == [t.name for t in built.order], name
            assert walked.hits == built.hits and walked.zone_of == built.zone_of, name
    copied = copy.copy(soup.find("div"))  # made with the page's builder, after the index took its list
    assert copied is not None and built.order == soup.find_all(True)


ODD_MARKUP = """<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml" xmlns:og="http://ogp.me/ns#"
xml:lang="en"><head><meta charset="utf-8"><meta property="og:title" content="T"><link REL="alternate  stylesheet"
href="/a"></head><body class=" a  b\tc " id=x><SVG viewBox="0 0 1 1" xmlns:xlink="http://www.w3.org/1999/xlink">
<use xlink:href="#i"/></svg><table><tr><td headers="h1 h2" class="">1</td><th HEADERS=" h3 ">2</th></tr></table>
<input disabled checked=checked value=""><a rel="nofollow noopener" rev="x" accesskey="a b">l</a>
<iframe sandbox="allow-scripts  allow-forms"></iframe><p dropzone="copy move" data-x="1 2">t</p></body></html>"""


def test_the_builder_makes_bs4_s_tree_of_odd_markup() -> None:
    """Namespace declarations, prefixed and upper-case names, empty, boolean and multi-valued
    attributes: the builder's own `start`, `end` and attribute splitting give what bs4's give."""
    plain, ours = BeautifulSoup(ODD_MARKUP, "lxml"), BeautifulSoup(ODD_MARKUP, builder=ElementsBuilder())
    assert ours.decode() == plain.decode()
    assert [(t.name, t.prefix, t.namespace, type(t.attrs), t.attrs) for t in ours.find_all(True)] == \
        [(t.name, t.prefix, t.namespace, type(t.attrs), t.attrs) for t in plain.find_all(True)]
    assert ours.body is not None and ours.body["class"] == ["a", "b", "c"]


@pytest.mark.parametrize("every", EVERY)
def test_first_inside_agrees_with_select_one_and_find(every: int) -> None:
    """`first_in` (`select_one` by positions) and `first_named_in` (`find(name)`), over every element
    of every page: the first child answers without the element's end, the rest by its end."""
    from harvester.site.selectors import FIELDS, PILL, PILL_NAME, PILL_NAME_INNER

    for name, body in PAGES[::every]:
        soup, index, elements = soup_of(name, body)
        for i, element in enumerate(elements):
            for css in (PILL, PILL_NAME, FIELDS["section_heading"][0].css, FIELDS["info_label"][1].css):
                want = element.select_one(css)
                assert index.first_in(i, css) == (index.position(want) if want is not None else -1), (name, css)
            for tag in (PILL_NAME_INNER, "a", "p"):
                found = element.find(tag)
                assert index.first_named_in(i, tag) == (index.position(found) if found is not None else -1), name


def test_an_unknown_selector_is_an_error_not_an_empty_result() -> None:
    soup, index, _ = soup_of(*PAGES[0])
    try:
        index.select(soup, ".not-in-the-table")
    except KeyError:
        return
    raise AssertionError("an unknown selector must raise")


def test_attribute_values_and_odd_selectors_agree_too() -> None:
    """Selectors outside the table's simple forms (soupsieve fallback) and valued attributes."""
    extra = ["a[href*='/document/']", "div > p", "td.document a[href]", "[lang]", "link[rel~='canonical']",
             "#documentTabs.document-tabs", ".pill.pill-subject"]
    table = CompiledTable(extra)
    for name, body in PAGES[:12]:
        soup = BeautifulSoup(decode_html(body, None)[0], "lxml")
        index = SelectorIndex(soup, table)
        for css in extra:
            assert [id(t) for t in index.select(soup, css)] == [id(t) for t in soup.select(css)], (name, css)


@pytest.mark.parametrize("every", EVERY)
def test_attribute_lookups_agree_with_find(every: int) -> None:
    """`find_by_attr` (the tab labels' lookups: a scan of the root for the first few of a page, then
    the page's values collected once) is bs4's `find(attrs=…)`, on both paths."""
    from harvester.site.scope import LOOKUP_ATTRS

    for name, body in PAGES[::every]:
        soup, index, elements = soup_of(name, body)
        for attr in (*LOOKUP_ATTRS, "aria-labelledby"):
            values = {v for t in elements if isinstance(v := t.attrs.get(attr), str)}
            for value in [*sorted(values)[:20], "#not-on-the-page"]:
                for root in (soup, index.zone(elements[-1], "article") or soup):
                    want = root.find(attrs={attr: value})
                    # a fresh index answers by scanning, the shared one (after 8 lookups) from its tables
                    scanning = SelectorIndex(soup, COMPILED, ZONES, LOOKUP_ATTRS)
                    assert scanning.find_by_attr(root, attr, value) is want, (name, attr, value, "scan")
                    assert index.find_by_attr(root, attr, value) is want, (name, attr, value)
    assert index._by_attr is not None  # the shared index went past its scans: the tables were checked too
