"""The web catalog in a real browser (Debian's Chromium, headless, through Playwright): search,
a facet click, paging, a record page, copying a citation, downloading an export, keyboard-only
use, and axe-core's accessibility check on the search, record and changes pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from playwright.sync_api import Browser, BrowserContext, Page, expect

from catalog.cite import cite
from tests.web.browser import axe_violations, chromium, serious
from tests.web.conftest import ARABIC_ID, HOSTILE_ID, HOSTILE_TITLE, WebCatalog, WebServer, serving

pytestmark = pytest.mark.slow  # a browser start and a dozen pages: several seconds


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@contextmanager
def _context(browser: Browser, url: str) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=url, accept_downloads=True, locale="en-US")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


def _watched_page(ctx: BrowserContext) -> Page:
    """A new page whose script errors and console errors are collected in `page.errors`."""
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    p.errors = errors  # type: ignore[attr-defined]
    return p


@pytest.fixture
def context(browser: Browser, web_server: WebServer) -> Iterator[BrowserContext]:
    with _context(browser, web_server.url) as ctx:
        yield ctx


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return _watched_page(context)


@pytest.fixture
def fresh_page(browser: Browser, web_catalog: WebCatalog) -> Iterator[tuple[Page, WebServer]]:
    """A page on a server of its own, which has rendered no citation yet (as after a start)."""
    with serving(web_catalog) as fresh, _context(browser, fresh.url) as ctx:
        yield _watched_page(ctx), fresh


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def summary_total(page: Page) -> int:
    text = page.locator("#results-summary").inner_text()
    match = re.search(r"of (\d+)", text)
    assert match, text
    return int(match[1])


def test_search_shows_results_with_snippets(page: Page) -> None:
    page.goto("/")
    page.get_by_label('Words, "phrases" or prefix*').fill("Kohl")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"q=Kohl"))
    results = page.locator("ol.results > li")
    assert results.count() >= 1
    expect(results.first.locator("h3 a")).to_contain_text("Kohl")
    marks = page.locator("ol.results mark").all_inner_texts()
    assert marks and all(m.lower().startswith("kohl") for m in marks)
    assert page.title().startswith("Kohl")
    assert page.errors == []  # type: ignore[attr-defined]


def test_facet_click_narrows_and_is_a_shareable_url(page: Page) -> None:
    page.goto("/")
    everything = summary_total(page)
    link = page.locator("#facet-language + ul a").first
    label = link.inner_text()
    count = int(re.sub(r"\D", "", link.locator("xpath=..").locator(".count").inner_text()))
    link.click()
    page.wait_for_url(re.compile(r"facet=language"))
    assert summary_total(page) == count < everything
    assert all(label in meta for meta in page.locator(".result-languages").all_inner_texts())
    shared = page.url
    # the same address in a fresh page gives the same results
    other = page.context.new_page()
    other.goto(shared)
    assert other.locator("ol.results h3").all_inner_texts() == page.locator("ol.results h3").all_inner_texts()
    other.close()
    # the selected value is marked and removable
    page.get_by_role("link", name=re.compile(f"Remove filter Original language: {re.escape(label)}")).click()
    page.wait_for_url(lambda url: "facet=" not in url)
    assert summary_total(page) == everything


def test_paging_and_sorting(page: Page) -> None:
    page.goto("/?per_page=5&sort=title")
    total = summary_total(page)
    assert total > 10
    first_page = page.locator("ol.results h3").all_inner_texts()
    assert first_page == sorted(first_page, key=str.casefold) or len(first_page) == 5
    page.get_by_role("navigation", name="Result pages").get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert query(page)["per_page"] == ["5"] and query(page)["sort"] == ["title"]
    expect(page.locator("#results-summary")).to_contain_text(f"Records 6–10 of {total}")
    expect(page.locator(".pagination [aria-current=page]")).to_have_text("Page 2")
    assert set(page.locator("ol.results h3").all_inner_texts()).isdisjoint(first_page)
    page.get_by_role("link", name="Page 3", exact=True).click()
    page.wait_for_url(re.compile(r"page=3"))
    assert page.locator("ol.results").get_attribute("start") == "11"
    # changing the sort keeps the words and facets and goes back to page 1
    page.get_by_label("Sort by").select_option("-date")
    page.get_by_role("button", name="Sort").click()
    page.wait_for_url(re.compile(r"sort=-date"))
    assert "page" not in query(page) and query(page)["per_page"] == ["5"]
    dates = [d for d in page.locator("ol.results time").evaluate_all("els => els.map(e => e.dateTime)") if d]
    assert dates == sorted(dates, reverse=True)


def test_record_page(page: Page, web_server: WebServer) -> None:
    page.goto("/?q=%22Zhou+Enlai%22")
    page.locator("ol.results h3 a").first.click()
    page.wait_for_url(re.compile(r"/records/\d+$"))
    record_id = int(page.url.rsplit("/", 1)[1])
    stored = web_server.store.get(record_id)
    assert stored is not None
    expect(page.locator("h1")).to_have_text(stored.record.title)
    expect(page.locator("dl.fields").first).to_contain_text(stored.record.source or "")
    expect(page.locator(".citation-pending")).to_have_count(0)  # every style fetched and in place
    assert page.locator(".citation-text").count() == 6
    assert page.locator(".downloads a").count() == 10
    jsonld = page.locator("head script[type='application/ld+json']").text_content() or ""
    assert '"@context": "https://schema.org"' in jsonld
    # texts in their language and direction
    page.goto(f"/records/{ARABIC_ID}")
    arabic = page.locator(".text-body").first
    assert (arabic.get_attribute("lang"), arabic.get_attribute("dir")) == ("ar", "rtl")
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # a hostile title is shown as text, never run
    page.goto(f"/records/{HOSTILE_ID}")
    expect(page.locator("h1")).to_have_text(HOSTILE_TITLE)
    assert page.evaluate("() => document.querySelectorAll('main script, main img, main b').length") == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_copy_citation_puts_it_on_the_clipboard(fresh_page: tuple[Page, WebServer]) -> None:
    page, server = fresh_page
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(urlsplit(r.url).path) if "/citations/" in r.url else None)
    page.goto("/records/175798")
    stored = server.store.get(175798)
    assert stored is not None
    # the page rendered the house style; the script fetched the others and put them in place
    expect(page.locator(".citation-pending")).to_have_count(0)
    assert sorted(fetched) == sorted(f"/records/175798/citations/{slug}" for slug in
                                     ("chicago", "chicago-note", "chicago-author-date", "apa", "mla"))
    shown = {el.get_attribute("id"): el.inner_text() for el in page.locator(".citation-text").all()}
    assert shown["cite-mla"] == cite(stored.record, "mla") and shown["cite-wcda"] == cite(stored.record, "wcda")
    button = page.locator("button[data-copy='cite-apa']")
    expect(button).to_be_visible()  # shown by the script (hidden without JavaScript)
    button.click()
    expect(page.locator("#copy-status")).to_have_text("Citation copied to the clipboard.")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == cite(stored.record, "apa")
    page.locator("button[data-copy='cite-chicago-note']").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == cite(stored.record, "chicago", note=True)
    page.locator("button[data-copy='cite-wcda']").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == cite(stored.record, "wcda")
    assert page.errors == []  # type: ignore[attr-defined]  # the fetches pass the page's CSP


def test_without_javascript_each_citation_is_a_link(browser: Browser, web_catalog: WebCatalog) -> None:
    with serving(web_catalog) as fresh:
        ctx = browser.new_context(base_url=fresh.url, java_script_enabled=False)
        try:
            page = ctx.new_page()
            page.goto("/records/175798")
            stored = fresh.store.get(175798)
            assert stored is not None
            expect(page.locator("#cite-wcda")).to_have_text(cite(stored.record, "wcda"))
            assert page.locator("button[data-copy]").first.is_hidden()  # the copy button needs the script
            page.get_by_role("link", name="Show the citation (APA)").click()
            page.wait_for_url(re.compile(r"/records/175798/citations/apa$"))
            expect(page.locator("#cite-apa")).to_have_text(cite(stored.record, "apa"))
            page.get_by_role("link", name="Every citation style, and the whole record").click()
            page.wait_for_url(re.compile(r"/records/175798#cite-heading$"))
            expect(page.locator("#cite-apa")).to_have_text(cite(stored.record, "apa"))  # kept: now on the page
        finally:
            ctx.close()


def test_download_an_export(page: Page) -> None:
    page.goto("/records/175798")
    with page.expect_download() as info:
        page.get_by_role("link", name="MODS", exact=True).click()
    download = info.value
    assert download.suggested_filename == "wcda-175798-mods.xml"
    path = download.path()
    root = etree.parse(str(path)).getroot()
    assert root.tag == "{http://www.loc.gov/mods/v3}modsCollection"
    assert "175798" in etree.tostring(root, encoding="unicode")


def focused(page: Page) -> str:
    """The focused element, as tag#id.text (for the keyboard test's messages)."""
    return str(page.evaluate("() => { const e = document.activeElement; return e.tagName.toLowerCase() + '#' "
                             "+ e.id + ' ' + (e.innerText || e.value || '').trim() }"))


def test_keyboard_only(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    assert focused(page).startswith("a# Skip to main content")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus visible
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # type: ignore[index]  # and on screen
    page.keyboard.press("Enter")
    assert focused(page).startswith("main#main")
    page.keyboard.press("Tab")
    assert focused(page).startswith("input#q")  # the search box comes first in the main content
    page.keyboard.type("Kohl")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=Kohl"))
    # tab through the page (never trapped) to the first result and open it with Enter
    target = page.locator("ol.results h3 a").first
    for _ in range(200):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            break
    else:
        pytest.fail("the first result cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/records/\d+$"))
    # on the record page, the copy button works from the keyboard too
    button = page.locator("button[data-copy='cite-wcda']")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#copy-status")).to_have_text("Citation copied to the clipboard.")


@pytest.mark.parametrize("path", ["/", "/?q=Kohl&facet=type:cable", "/?per_page=5&page=2", "/records/175798",
                                  "/records/175798/citations/chicago-note", f"/records/{ARABIC_ID}",
                                  f"/records/{HOSTILE_ID}", "/records/300240", "/changes", "/?facet=nope:x"])
def test_axe_finds_no_serious_violation(browser: Browser, web_server: WebServer, path: str) -> None:
    ctx = browser.new_context(base_url=web_server.url, bypass_csp=True)  # axe is injected as a script
    try:
        page = ctx.new_page()
        page.goto(path)
        violations = axe_violations(page)
        assert serious(violations) == []
    finally:
        ctx.close()


def test_texts_become_tabs_with_javascript(page: Page, context: BrowserContext) -> None:
    page.goto(f"/records/{ARABIC_ID}")
    tabs = page.get_by_role("tab")
    assert tabs.all_inner_texts() == ["Original Scan Transcript (Arabic)", "English Translation (English)"]
    expect(tabs.first).to_have_attribute("aria-selected", "true")
    expect(page.locator("#text-1")).to_be_visible()
    expect(page.locator("#text-2")).to_be_hidden()
    tabs.first.focus()
    page.keyboard.press("ArrowRight")  # keyboard: the next tab, selected and focused
    expect(tabs.nth(1)).to_be_focused()
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#text-2")).to_be_visible()
    expect(page.locator("#text-1")).to_be_hidden()
    page.keyboard.press("Tab")  # into the text itself
    expect(page.locator("#text-2")).to_be_focused()
    # without JavaScript every text is shown, with links to each
    plain = context.browser.new_context(base_url=page.url.split("/records/")[0], java_script_enabled=False)  # type: ignore[union-attr]
    try:
        bare = plain.new_page()
        bare.goto(f"/records/{ARABIC_ID}")
        assert bare.get_by_role("tab").count() == 0
        expect(bare.locator("#text-1")).to_be_visible()
        expect(bare.locator("#text-2")).to_be_visible()
        assert bare.locator(".text-tabs a").count() == 2
        assert bare.locator("button[data-copy]").first.is_hidden()  # the copy button needs the script
    finally:
        plain.close()
