"""One search, two backends: SQLite and PostgreSQL give the same totals, hits, order and counts,
and both agree with the plain-Python oracle (tests/search/catalog.py)."""

from __future__ import annotations

import pytest

from catalog.search import SearchPage, SearchParams, parse_text, plain, run_search
from catalog.store import CatalogStore
from tests.search.catalog import DELETED, HOSTILE_TITLE, RECORDS, expected_counts, expected_ids

QUERIES = [
    "", "memorandum", "Memorandum conversation", '"memorandum of conversation"', '"conversation of memorandum"',
    "mem*", "Моск*", "москва", "北京", "subasic", "Šubašić", "SUBAŠIĆ", "digitalarchive", "wilsoncenter.org",
    "sino-soviet", "soviet sino", '"cold war"', "cold war", '"war cold"', "script", "alert", "NEAR(cold war)",
    "title:memorandum", '"unclosed phrase cold', "fond 7", "translated someone", "zzzz", "c*", "(", '"', "*",
    "AND OR NOT", "cold -war", "document 1*", "毛泽东", "مذكرة", "panmunjom", "nuclear weap*",
]
FACETS = [(), (("type", "Cable"),), (("language", "Russian"), ("place", "Moscow")),
          (("subject", "Cold War"), ("has_text", "yes"), ("decade", "1950s"))]
SORTS = ["relevance", "date", "-date", "title", "changed"]


def both(catalogs: dict[str, CatalogStore], params: SearchParams) -> tuple[SearchPage, SearchPage]:
    return run_search(catalogs["sqlite"], params), run_search(catalogs["postgresql"], params)


def counts(page: SearchPage) -> dict[str, list[tuple[str, int, bool]]]:
    return {f: [(o.value, o.count, o.selected) for o in options] for f, options in page.facets.items()}


@pytest.mark.parametrize("q", QUERIES)
def test_text_queries_match_the_oracle_on_both_backends(catalogs: dict[str, CatalogStore], q: str) -> None:
    params = SearchParams(q=q, per_page=100)
    lite, pg = both(catalogs, params)
    want = expected_ids(parse_text(q)) if parse_text(q) or not q.strip() else set()
    assert lite.total == pg.total == len(want)
    assert {h.record_id for h in lite.hits} == {h.record_id for h in pg.hits} == want
    assert counts(lite) == counts(pg)
    assert {f: [(o.value, o.count) for o in opts] for f, opts in lite.facets.items()} == expected_counts(want)
    # The snippets are made from the records, not by the backend: the same on both.
    assert {h.record_id: h.snippet for h in lite.hits} == {h.record_id: h.snippet for h in pg.hits}


def test_the_queries_find_something() -> None:
    # Guard against a vacuous parity test: most queries above must have matches.
    found = [q for q in QUERIES if q.strip() and parse_text(q) and expected_ids(parse_text(q))]
    assert len(found) >= 25, found
    # "War, cold and long" holds the phrase "war cold" (punctuation is no word); few records do
    assert set() < expected_ids(parse_text('"war cold"')) < expected_ids(parse_text("cold war"))
    assert expected_ids(parse_text('"conversation of memorandum"')) == set()
    assert expected_ids(parse_text("subasic")) == expected_ids(parse_text("Šubašić")) != set()


@pytest.mark.parametrize("facets", FACETS)
@pytest.mark.parametrize("sort", SORTS)
def test_facets_sorts_and_dates_give_the_same_pages(catalogs: dict[str, CatalogStore],
                                                   facets: tuple[tuple[str, str], ...], sort: str) -> None:
    for q, low, high in [("", None, None), ("memorandum", "1950", "1969"), ("cold war", None, "1960-06"),
                         ("m*", "1952-03-04", None)]:
        params = SearchParams(q=q, facets=facets, date_from=low, date_to=high, sort=sort, per_page=7)
        keys = params.facet_keys()
        bounds = params.date_bounds()
        want = expected_ids(parse_text(q), keys, *bounds)
        lite, pg = both(catalogs, params)
        assert lite.total == pg.total == len(want), (q, facets, low, high)
        if sort != "relevance" or not q:
            assert [h.record_id for h in lite.hits] == [h.record_id for h in pg.hits]
        assert counts(lite) == counts(pg)
        # every page together is the whole result, each record once
        seen: list[int] = []
        for n in range(1, lite.pages + 1):
            seen += [h.record_id for h in run_search(catalogs["sqlite"], params.with_page(n)).hits]
        assert sorted(seen) == sorted(want)


def test_sort_orders(catalogs: dict[str, CatalogStore]) -> None:
    by_id = {r.record_id: r for r in RECORDS}
    for name, store in catalogs.items():
        dated = run_search(store, SearchParams(sort="date", per_page=100)).hits
        starts = [by_id[h.record_id].date.normalized for h in dated]
        known = [s for s in starts if s]
        assert known == sorted(known, key=lambda s: (s + "-01-01")[:10]), name
        assert all(s is None for s in starts[len(known):]), "records without a date come last"
        newest = run_search(store, SearchParams(sort="-date", per_page=100)).hits
        assert newest[0].date_normalized == max(known, key=lambda s: (s + "-01-01")[:10])
        titles = [h.title for h in run_search(store, SearchParams(sort="title", per_page=100)).hits]
        assert titles.index("Cold War memorandum on Panmunjom") < titles.index(HOSTILE_TITLE)  # "cold" < "note"


def test_relevance_puts_a_title_match_first(catalogs: dict[str, CatalogStore]) -> None:
    for store in catalogs.values():
        page = run_search(store, SearchParams(q="panmunjom"))
        assert page.total == 3
        assert page.hits[0].title == "Cold War memorandum on Panmunjom"


def test_deleted_records_only_when_asked(catalogs: dict[str, CatalogStore]) -> None:
    for store in catalogs.values():
        live = run_search(store, SearchParams(per_page=100))
        everything = run_search(store, SearchParams(per_page=100, include_deleted=True))
        assert live.total == len(RECORDS) - len(DELETED) and everything.total == len(RECORDS)
        assert {h.record_id for h in everything.hits if h.deleted} == set(DELETED)
        assert not any(h.deleted for h in live.hits)


def test_selected_facets_show_as_selected_even_without_records(catalogs: dict[str, CatalogStore]) -> None:
    params = SearchParams(facets=(("language", "Russian"), ("type", "No Such Type")))
    lite, pg = both(catalogs, params)
    assert lite.total == pg.total == 0
    assert counts(lite) == counts(pg) == {"language": [("rus", 0, True)], "type": [("no-such-type", 0, True)]}
    params = SearchParams(facets=(("language", "rus"),))
    lite, pg = both(catalogs, params)
    assert lite.total == pg.total > 0
    assert ("rus", lite.total, True) in counts(lite)["language"]


def test_snippets_mark_the_words_and_keep_the_text_as_it_is(catalogs: dict[str, CatalogStore]) -> None:
    page = run_search(catalogs["sqlite"], SearchParams(q="subasic digital*"))
    assert page.total == len(expected_ids(parse_text("subasic digital*"))) > 0
    segments = page.hits[0].snippet
    assert [t for t, m in segments if m] == ["Šubašić", "digitalarchive"]
    assert "https://digitalarchive.wilsoncenter.org/document/175798" in plain(segments)
    page = run_search(catalogs["sqlite"], SearchParams(q="alert"))
    hit = next(h for h in page.hits if h.title == HOSTILE_TITLE)
    assert "<script>" in hit.title  # raw here: escaping is the renderer's job
