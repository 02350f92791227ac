"""The web catalog's pages over real HTTP (no browser): record pages, exports, tombstones,
/changes, escaping of harvested values, bad input, and /oai still answering beside them."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from lxml import etree, html

from catalog.cite import cite
from catalog.export.registry import FORMATS
from tests.web.conftest import (
    ADDED_ID,
    ARABIC_ID,
    CHANGED_ID,
    DELETED_ID,
    HOSTILE_ID,
    HOSTILE_TITLE,
    LONG_HISTORY,
    LONG_HISTORY_ID,
    WebCatalog,
    WebServer,
    serving,
)

SLUGS = {"wcda": ("wcda", False), "chicago": ("chicago", False), "chicago-note": ("chicago", True),
         "chicago-author-date": ("chicago-author-date", False), "apa": ("apa", False), "mla": ("mla", False)}


@pytest.fixture(scope="module")
def client(web_server: WebServer) -> httpx.Client:
    with httpx.Client(base_url=web_server.url, timeout=30) as c:
        yield c


def page(resp: httpx.Response) -> html.HtmlElement:
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    return html.fromstring(resp.text)


def test_record_page_shows_every_field_citations_downloads_and_jsonld(client: httpx.Client,
                                                                     web_server: WebServer) -> None:
    resp = client.get("/records/175798")
    assert resp.status_code == 200
    doc = page(resp)
    stored = web_server.store.get(175798)
    assert stored is not None
    record = stored.record
    assert doc.findtext(".//h1").strip() == record.title
    text = doc.text_content()
    for value in [record.source, record.summary, *record.subjects, *record.places, *record.original_archives,
                  *record.people_and_organizations, record.provenance.sha256, record.provenance.final_url]:
        if value:
            assert value in text, value
    # a citation in every style (rendered, or a link to it: test_citations_* below)
    cites = {el.get("id") for el in doc.cssselect(".citation-text")}
    assert cites == {f"cite-{slug}" for slug in SLUGS}
    assert doc.get_element_by_id("cite-wcda").text_content() == cite(record, "wcda")
    assert len(doc.cssselect("button.copy-button[data-copy]")) == 6
    # a download link for every format of the registry
    links = {a.get("href") for a in doc.cssselect(".downloads a")}
    assert links == {f"/records/175798/export/{name}" for name in FORMATS}
    # the archive's page and scan
    hrefs = {a.get("href") for a in doc.iter("a")}
    assert record.archive_url in hrefs and record.pdf_url in hrefs
    # schema.org JSON-LD in the head: the jsonld format's object
    scripts = doc.xpath("//head/script[@type='application/ld+json']")
    assert len(scripts) == 1
    data = json.loads(scripts[0].text)
    assert data["@context"] == "https://schema.org" and data["name"] == record.title
    # history: the harvest that made it
    assert doc.cssselect("table.history tbody tr")


def test_citations_a_first_view_renders_the_house_style_and_links_to_the_others(web_catalog: WebCatalog) -> None:
    with serving(web_catalog) as fresh, httpx.Client(base_url=fresh.url, timeout=30) as client:  # nothing kept yet
        stored = fresh.store.get(175798)
        assert stored is not None
        doc = page(client.get("/records/175798"))
        assert doc.get_element_by_id("cite-wcda").text_content() == cite(stored.record, "wcda")
        pending = {el.get("id"): el for el in doc.cssselect(".citation-pending")}
        assert set(pending) == {f"cite-{slug}" for slug in SLUGS if slug != "wcda"}
        for slug, (style, note) in SLUGS.items():
            url = f"/records/175798/citations/{slug}"
            if slug != "wcda":  # without JavaScript, a link shows the style; the copy script fetches it
                placeholder = pending[f"cite-{slug}"]
                assert placeholder.get("data-load") == url
                assert [a.get("href") for a in placeholder.iter("a")] == [url]
            resp = client.get(url)
            assert resp.status_code == 200
            one = page(resp)
            assert one.get_element_by_id(f"cite-{slug}").text_content() == cite(stored.record, style, note=note)
            assert not one.cssselect(".citation-pending")
            assert one.cssselect(f"button.copy-button[data-copy='cite-{slug}']")
            assert "/records/175798" in {a.get("href").split("#")[0] for a in one.iter("a")}
        # a style once rendered is kept: the next view of the record shows every style at once
        again = page(client.get("/records/175798"))
        assert not again.cssselect(".citation-pending")
        shown = {el.get("id"): el.text_content() for el in again.cssselect(".citation-text")}
        assert shown == {f"cite-{slug}": cite(stored.record, style, note=note) for slug, (style, note) in SLUGS.items()}


@pytest.mark.parametrize(("path", "status"), [("/records/175798/citations/harvard", 404),
                                              ("/records/175798/citations/apa?x=1", 400),
                                              ("/records/1/citations/apa", 404),
                                              (f"/records/{DELETED_ID}/citations/apa", 410)])
def test_citations_bad_addresses(client: httpx.Client, path: str, status: int) -> None:
    resp = client.get(path)
    assert resp.status_code == status
    assert "Traceback" not in resp.text


def test_citations_a_style_that_cannot_render_the_record_says_so(client: httpx.Client) -> None:
    # the hostile record's title (markup, RTL marks) defeats the entry checks of every style
    resp = client.get(f"/records/{HOSTILE_ID}/citations/chicago")
    assert resp.status_code == 200
    assert "<script>alert" not in resp.text and "<b>bold</b>" not in resp.text and "<img" not in resp.text
    doc = page(resp)
    said = doc.get_element_by_id("cite-chicago")
    assert said.get("class") == "citation-error"
    assert "cannot be rendered correctly" in said.text_content()
    assert not doc.cssselect("button[data-copy]")  # nothing to copy


def test_texts_carry_their_language_and_direction(client: httpx.Client) -> None:
    doc = page(client.get(f"/records/{ARABIC_ID}"))
    bodies = doc.cssselect(".text-body")
    assert [(b.get("lang"), b.get("dir")) for b in bodies] == [("ar", "rtl"), ("en", "ltr")]
    assert "رسالة من القاهرة" in bodies[0].text_content()


def test_harvested_values_are_escaped(client: httpx.Client) -> None:
    resp = client.get(f"/records/{HOSTILE_ID}")
    assert resp.status_code == 200
    assert "<script>alert" not in resp.text and "<b>bold</b>" not in resp.text and "<img" not in resp.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Tom &amp; Jerry" in resp.text
    doc = page(resp)
    assert doc.findtext(".//h1") == HOSTILE_TITLE  # the value comes back whole, marks included
    assert doc.findtext(".//title").startswith(HOSTILE_TITLE)
    # the only scripts are ours: the copy script and the JSON-LD (whose "</" is escaped)
    scripts = doc.xpath("//script")
    assert [s.get("src") or s.get("type") for s in scripts] == ["application/ld+json", "/static/copy.js"]
    assert "<" not in scripts[0].text and json.loads(scripts[0].text)["name"] == HOSTILE_TITLE
    hebrew = doc.cssselect(".text-body")[0]
    assert (hebrew.get("lang"), hebrew.get("dir")) == ("he", "rtl")
    assert "<script>alert(2)</script>" in hebrew.text_content()


def test_export_streams_the_serializer_with_the_registry_media_type(client: httpx.Client) -> None:
    for name, fmt in FORMATS.items():
        resp = client.get(f"/records/175798/export/{name}")
        assert resp.status_code == 200, name
        assert resp.headers["content-type"] == f"{fmt.media_type}; charset=utf-8"
        assert resp.headers["content-disposition"] == f'attachment; filename="wcda-175798-{name}.{fmt.extension}"'
        assert "175798" in resp.text
    mods = etree.fromstring(client.get("/records/175798/export/mods").content)
    assert mods.tag == "{http://www.loc.gov/mods/v3}modsCollection"
    assert client.get("/records/175798/export/qdc").status_code == 200  # the registry's alias
    assert client.get("/records/175798/export/docx").status_code == 404


def test_tombstone_says_deleted_and_when(client: httpx.Client, web_server: WebServer) -> None:
    resp = client.get(f"/records/{DELETED_ID}")
    assert resp.status_code == 410
    doc = page(resp)
    stored = web_server.store.get(DELETED_ID)
    assert stored is not None and stored.deleted_at is not None
    assert "This record was deleted" in doc.text_content()
    assert doc.cssselect("time")[0].get("datetime") == stored.deleted_at.isoformat()
    # formats that can say "withdrawn" still export it; the citation formats cannot
    assert client.get(f"/records/{DELETED_ID}/export/mods").status_code == 200
    assert client.get(f"/records/{DELETED_ID}/export/ris").status_code == 410
    assert "tombstoned" in [td.text_content() for td in doc.cssselect("table.history td")]


def test_changes_lists_new_changed_and_deleted_records_per_run(client: httpx.Client, web_server: WebServer) -> None:
    doc = page(client.get("/changes"))
    runs = doc.cssselect("section.run")
    assert len(runs) == 2  # newest first
    latest = runs[0]
    new = [a.get("href") for a in latest.cssselect(".changes-new a")]
    changed = latest.cssselect(".changes-changed > li")
    deleted = [a.get("href") for a in latest.cssselect(".changes-deleted a")]
    assert new == [f"/records/{ADDED_ID}"]
    assert deleted == [f"/records/{DELETED_ID}"]
    assert len(changed) == 1 and changed[0].cssselect("a")[0].get("href") == f"/records/{CHANGED_ID}"
    diff = {row.findtext("th"): [td.text_content() for td in row.cssselect("td")]
            for row in changed[0].cssselect("tbody tr")}
    title = web_server.store.get(CHANGED_ID).record.title  # type: ignore[union-attr]
    assert "(revised)" in title
    assert diff == {"title": [title.replace(" (revised)", ""), title]}  # old -> new
    first = runs[1]
    assert len(first.cssselect(".changes-new li")) == 20
    # one run on its own page, with every record
    one = page(client.get("/changes", params={"run": web_server.catalog.first_run}))
    assert len(one.cssselect(".changes-new li")) == 20


@pytest.mark.parametrize("path, status", [
    ("/records/1", 404), ("/records/abc", 404), ("/records/175798?x=1", 400), ("/records/" + "9" * 40, 404),
    ("/changes?run=nope", 404), ("/changes?run=a&run=b", 400), ("/changes?x=1", 400), ("/nowhere", 404),
    ("/static/../app.py", 404), ("/static/style.css", 200), ("/changes?run=%FF%FE", 400),
    ("/changes?run=" + "x" * 20000, 400),
])
def test_bad_addresses_get_a_page_never_a_500(client: httpx.Client, path: str, status: int) -> None:
    resp = client.get(path)
    assert resp.status_code == status, resp.text[:300]
    assert "Traceback" not in resp.text
    if resp.headers["content-type"].startswith("text/html"):
        assert page(resp).findtext(".//h1")


def test_read_only_and_safe_headers(client: httpx.Client) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        resp = client.request(method, "/records/175798")
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, HEAD"
    head = client.head("/records/175798")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 1000
    csp = client.get("/changes").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp


def test_oai_answers_beside_the_pages(client: httpx.Client) -> None:
    resp = client.get("/oai", params={"verb": "GetRecord", "identifier": "oai:example.org:175798",
                                      "metadataPrefix": "oai_dc"})
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/xml; charset=utf-8"
    assert re.search(r"<dc:title>Cable No\. 4785", resp.text)
    assert client.get("/oai/other").status_code == 404


def test_the_json_api_answers_beside_the_pages(client: httpx.Client) -> None:
    found = client.get("/api/search", params={"q": "Kohl"})
    assert found.status_code == 200 and found.headers["content-type"].startswith("application/json")
    html_ids = {a.get("href") for a in page(client.get("/", params={"q": "Kohl"})).cssselect("ol.results h3 a")}
    assert {f"/records/{hit['record_id']}" for hit in found.json()["hits"]} == html_ids
    assert client.get("/api/records/175798").json()["record_id"] == 175798


def test_search_page_results_facets_and_canonical_urls(client: httpx.Client, web_server: WebServer) -> None:
    doc = page(client.get("/", params={"q": "Kohl"}))
    titles = [a.text_content() for a in doc.cssselect("ol.results h3 a")]
    assert titles and all("Kohl" in t for t in titles)
    assert all(m.text_content().lower().startswith("kohl") for m in doc.cssselect(".snippet mark"))
    # a facet link adds the facet to the same search; its count is what the narrowed search finds
    link = doc.cssselect("#facet-language + ul a")[0]
    count = int(re.sub(r"\D", "", link.getparent().cssselect(".count")[0].text_content()))
    narrowed = page(client.get(link.get("href")))
    assert f"of {count}." in narrowed.get_element_by_id("results-summary").text_content()
    assert narrowed.cssselect("a[aria-current=true]")[0].get("href") == "/?q=Kohl"  # a click removes it
    # the form's empty fields are redirected to the canonical address of the same search
    resp = client.get("/?q=Kohl&from=&to=")
    assert resp.status_code == 303 and resp.headers["location"] == "/?q=Kohl"
    # a deleted record is left out unless asked for
    everything = page(client.get("/", params={"per_page": "100"}))
    ids = {a.get("href") for a in everything.cssselect("ol.results h3 a")}
    assert f"/records/{DELETED_ID}" not in ids and f"/records/{HOSTILE_ID}" in ids
    with_deleted = page(client.get("/", params={"per_page": "100", "include_deleted": "true"}))
    assert f"/records/{DELETED_ID}" in {a.get("href") for a in with_deleted.cssselect("ol.results h3 a")}
    # escaped in the results too
    hostile = client.get("/", params={"q": "Jerry"})
    assert "<script>alert" not in hostile.text and "&lt;script&gt;" in hostile.text


@pytest.mark.parametrize("query", [
    "facet=nope:x", "facet=type", "page=1000000000", "page=-1", "page=abc", "per_page=1000", "sort=random",
    "from=1950-13", "from=1960&to=1950", "q=" + "a" * 10_000, "q=%FF%FE", "q=a&q=b", "bogus=1", "q=%00",
])
def test_bad_search_parameters_are_a_400_page(client: httpx.Client, query: str) -> None:
    resp = client.get("/?" + query)
    assert resp.status_code == 400, (query, resp.status_code)
    doc = page(resp)
    assert doc.findtext(".//h1") in ("Bad search", "Bad request")
    assert "Traceback" not in resp.text


@pytest.mark.parametrize("q", ['"', '"unclosed phrase', "*", "NEAR(a b)", "title:x", "(a OR b)", "a AND NOT b",
                               "-", "^", "kohl*", "\u202e\u200f", "'; DROP TABLE record; --"])
def test_full_text_syntax_is_words_never_an_error(client: httpx.Client, q: str) -> None:
    resp = client.get("/", params={"q": q})
    if resp.status_code == 303:  # the canonical form of the same search
        resp = client.get(resp.headers["location"])
    assert resp.status_code == 200, (q, resp.status_code, resp.text[:300])
    assert page(resp).get_element_by_id("results-summary") is not None


def test_a_page_past_the_last_says_so_and_links_back(client: httpx.Client) -> None:
    doc = page(client.get("/", params={"page": "500"}))
    summary = doc.get_element_by_id("results-summary")
    assert "No records on page 500" in summary.text_content()
    assert summary.cssselect("a")[0].get("href") == "/?page=2"
    assert not doc.cssselect("ol.results")


def test_a_long_history_shows_the_latest_events(client: httpx.Client, web_server: WebServer) -> None:
    assert len(web_server.store.events(LONG_HISTORY_ID)) == LONG_HISTORY
    doc = page(client.get(f"/records/{LONG_HISTORY_ID}"))
    rows = doc.cssselect("table.history tbody tr")
    assert len(rows) == 100 and rows[-1].cssselect("td")[2].text_content() == f"check {LONG_HISTORY - 2}"
    assert f"{LONG_HISTORY - 100} earlier ones are not shown" in doc.text_content()
