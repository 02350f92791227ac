"""SearchParams: every parameter validated into one-line BadSearch errors; canonical URLs."""

from __future__ import annotations

import pytest

from catalog.errors import BadSearch, HarvesterError
from catalog.search import FACET_FAMILIES, SearchParams, facet_key, parse_text
from catalog.store import TextTerm


def test_families_in_order() -> None:
    assert list(FACET_FAMILIES) == ["type", "language", "archive", "subject", "place", "person", "donor", "year",
                                    "decade", "has_text", "has_scan"]
    assert FACET_FAMILIES["language"] == "Original language"


def test_round_trip_through_the_url() -> None:
    p = SearchParams.from_query_string(
        "q=zhou+enlai&facet=language%3ARussian&facet=type=Cable&from=1950&to=1953-06&sort=date&page=3&per_page=50")
    assert p == SearchParams(q="zhou enlai", facets=(("language", "Russian"), ("type", "Cable")),
                             date_from="1950", date_to="1953-06", sort="date", page=3, per_page=50)
    assert p.query_string() == ("q=zhou+enlai&facet=language%3ARussian&facet=type%3ACable&from=1950&to=1953-06"
                                "&sort=date&page=3&per_page=50")
    assert SearchParams.from_query_string(p.query_string()) == p
    assert SearchParams().to_query() == [] and SearchParams.from_query_string("") == SearchParams()
    assert p.date_bounds() == ("1950-01-01", "1953-06-30")
    assert p.facet_keys() == ("language:rus", "type:cable")


def test_helpers_make_new_searches() -> None:
    p = SearchParams(q="x", page=4)
    q = p.with_facet("place", "Moscow")
    assert q.facets == (("place", "Moscow"),) and q.page == 1 and p.facets == ()
    assert q.with_facet("place", "Moscow") == q  # the same facet once
    assert q.without_facet("place", "Moscow").facets == ()
    assert p.with_page(2).page == 2 and p.with_sort("title") == SearchParams(q="x", sort="title")
    with pytest.raises(AttributeError):
        p.q = "y"  # type: ignore[misc]


@pytest.mark.parametrize(("query", "names"), [
    ("facet=colour:red", "facet: unknown facet family 'colour'"),
    ("facet=nonsense", "facet: 'nonsense' is not family:value"),
    ("facet=type:", "facet: type: no value"),
    ("facet=year:1950s", "facet: year: '1950s' is not a year"),
    ("facet=has_scan:maybe", "facet: has_scan: 'maybe' is not yes or no"),
    ("page=1000000000", "page: must be between 1 and 10000"),
    ("page=0", "page: must be between 1 and 10000"),
    ("page=-1", "page: '-1' is not a whole number"),
    ("page=99999999999999999999999", "page: '99999999999999999999999' is not a whole number"),
    ("per_page=101", "per_page: must be between 1 and 100"),
    ("sort=random", "sort: 'random' is not one of relevance, date, -date, title, changed"),
    ("from=1950-13", "from: '1950-13' is not a year"),
    ("to=1951-02-29", "to: '1951-02-29' is not a year"),
    ("from=1960&to=1950", "from: 1960 is after to=1950"),
    ("include_deleted=perhaps", "include_deleted: 'perhaps' is not true or false"),
    ("q=a&q=b", "q: given more than once"),
    ("colour=red", "colour: unknown parameter"),
    ("q=%ff%fe", "query: not UTF-8"),
    ("q=caf%C3", "query: not UTF-8"),
    ("q=" + "a" * 10240, "q: too long (10240 characters; at most 1000)"),
    ("q=" + "+".join(f"w{i}" for i in range(40)), "q: too many words (at most 32)"),
])
def test_bad_parameters_are_one_line_errors(query: str, names: str) -> None:
    with pytest.raises(BadSearch) as caught:
        SearchParams.from_query_string(query)
    message = str(caught.value)
    assert message.startswith(names) and "\n" not in message and len(message) < 200
    assert isinstance(caught.value, HarvesterError)


def test_raw_non_ascii_bytes_in_a_wsgi_query_string() -> None:
    # PEP 3333: QUERY_STRING is the raw bytes as latin-1; bytes outside ASCII are not a URL.
    with pytest.raises(BadSearch):
        SearchParams.from_query_string("q=caf\xc3\xa9")
    assert SearchParams.from_query_string("q=caf%C3%A9").q == "café"


def test_control_characters_and_hostile_text_are_plain_text() -> None:
    p = SearchParams.from_query_string("q=a%00b%0Dc")
    assert p.q == "a b c"
    p = SearchParams(q='<script>alert(1)</script> & \u200f"x" NEAR(a b) title:c*')
    # a chunk of several words is a phrase: `<script>alert(1)</script>` is found as written
    assert parse_text(p.q) == (TextTerm(("script", "alert", "1", "script")), TextTerm(("x",)),
                               TextTerm(("near", "a")), TextTerm(("b",)), TextTerm(("title", "c"), prefix=True))
    assert parse_text("()") == () and parse_text('"') == () and parse_text("*") == ()
    assert parse_text('"cold war"* Sino-Soviet') == (TextTerm(("cold", "war"), prefix=True),
                                                      TextTerm(("sino", "soviet")))
    assert SearchParams.from_query_string(p.query_string()) == p
    assert SearchParams.from_query({"ignored": ["1"]}, ignore=["ignored"]) == SearchParams()


def test_facet_values_as_names_or_tokens() -> None:
    assert facet_key("language", "Russian") == facet_key("language", "rus") == "language:rus"
    assert facet_key("subject", "Korean War, 1950-1953") == "subject:korean-war-1950-1953"
    assert facet_key("type", "cable") == facet_key("type", "Cable") == "type:cable"
    assert facet_key("has_text", "true") == "has_text:yes"
