"""One search model for the CLI (`harvester search`), the web catalog and the JSON API.

    params = SearchParams.from_query_string(environ["QUERY_STRING"])   # BadSearch -> 400
    page = run_search(store, params)                                   # SearchPage
    page.total, page.hits[0].snippet, page.facets["language"], params.with_page(2).query_string()

Free text (words, "phrases", prefix*), facets with counts, a date range, sorting, paging,
snippets; deleted records only when asked. The store backends do the matching and counting
(catalog.store: SearchQuery/SearchResult) the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from catalog.errors import BadSearch
from catalog.search.params import FACET_FAMILIES, MAX_PAGE, MAX_PER_PAGE, MAX_QUERY, SORTS, SearchParams, facet_key
from catalog.search.run import FacetOption, Hit, SearchPage, run_search
from catalog.search.snippet import Segment, plain
from catalog.search.text import parse_text

__all__ = ["FACET_FAMILIES", "MAX_PAGE", "MAX_PER_PAGE", "MAX_QUERY", "SORTS", "BadSearch", "FacetOption", "Hit",
           "SearchPage", "SearchParams", "Segment", "facet_key", "parse_text", "plain", "run_search"]
