"""`run_search(store, params)`: one page of results with facet counts and snippets.

The store answers which records match, in which order, and the counts (all SQL stays in
the backends); this module turns that into what a page shows, from the records' stored
JSON (no model validation: a page of 100 hits costs a few milliseconds).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from catalog.search.params import FACET_FAMILIES, SearchParams
from catalog.search.snippet import Segment, snippet
from catalog.search.text import parse_text
from catalog.store.api import CatalogStore, SearchQuery, SearchResult, TextTerm

if TYPE_CHECKING:
    from catalog.search.memory import SearchMemory

FACET_LIMIT = 10  # values shown per family


@dataclass(frozen=True)
class Hit:
    record_id: int
    title: str
    date: str  # as the page shows it ("" when none)
    date_normalized: str | None
    type: str  # the record's types, joined with ", "
    languages: tuple[str, ...]  # original languages, by name
    snippet: list[Segment]  # (text, is_match) segments; the renderer escapes and marks
    url: str  # the archive's page
    deleted: bool = False


@dataclass(frozen=True)
class FacetOption:
    value: str  # the token in the facet key (what `facet=family:value` carries)
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class SearchPage:
    params: SearchParams
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetOption]] = field(default_factory=dict)  # family -> options, FACET_FAMILIES order

    @property
    def page(self) -> int:
        return self.params.page

    @property
    def per_page(self) -> int:
        return self.params.per_page

    @property
    def pages(self) -> int:
        """The number of the last page (1 when there are no hits)."""
        return max(1, -(-self.total // self.params.per_page))

    @property
    def first(self) -> int:
        """1-based position of the first hit on this page (0 when the page is empty)."""
        return (self.params.page - 1) * self.params.per_page + 1 if self.hits else 0

    @property
    def last(self) -> int:
        return self.first + len(self.hits) - 1 if self.hits else 0

    @property
    def has_previous(self) -> bool:
        return self.params.page > 1

    @property
    def has_next(self) -> bool:
        return self.params.page < self.pages

    def to_json(self) -> dict[str, Any]:
        """The page as the JSON API returns it (docs/web.md, catalog/web/openapi.yaml)."""
        return {
            "query": dict(_grouped(self.params.to_query())),
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "hits": [{
                "record_id": h.record_id, "title": h.title, "date": h.date, "date_normalized": h.date_normalized,
                "type": h.type, "languages": list(h.languages), "url": h.url, "deleted": h.deleted,
                "snippet": [{"text": t, "match": m} for t, m in h.snippet],
            } for h in self.hits],
            "facets": {family: [{"value": o.value, "label": o.label, "count": o.count, "selected": o.selected}
                                for o in options] for family, options in self.facets.items()},
        }


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for name, value in pairs:
        if name == "facet":
            facets = out.setdefault("facet", [])
            assert isinstance(facets, list)
            facets.append(value)
        else:
            out[name] = value
    return out


def run_search(store: CatalogStore, params: SearchParams, *, facet_limit: int = FACET_LIMIT,
               with_facets: bool = True) -> SearchPage:
    """One page of `params` from `store`: hits with snippets, facet counts, the total."""
    terms = parse_text(params.q)
    keys = params.facet_keys()
    if params.q.strip() and not terms:
        # Text without a single word ("()", "*", '"'): nothing can match it; an empty page, not an error.
        return SearchPage(params, 0, [], _facets({}, params, keys) if with_facets else {})
    low, high = params.date_bounds()
    query = SearchQuery(
        terms=terms, facets=keys, limit=params.per_page, offset=(params.page - 1) * params.per_page,
        facet_limit=facet_limit, date_from=low, date_to=high, sort=params.sort,  # type: ignore[arg-type]
        include_deleted=params.include_deleted, facet_families=tuple(FACET_FAMILIES) if with_facets else (),
    )
    result = _search(store, query)
    hits = _hits(store, result.record_ids, terms)
    counts = {family: [(c.key, c.label, c.count) for c in found] for family, found in result.facets.items()}
    return SearchPage(params, result.total, hits, _facets(counts, params, keys) if with_facets else {})


# The stores whose searches a snapshot in memory answers (catalog.search.memory.keep_in_memory
# registers them). Kept here, not there: only a process that keeps a snapshot imports that module
# and numpy; the CLI's one search does not pay for the import.
_MEMORIES: weakref.WeakKeyDictionary[CatalogStore, SearchMemory] = weakref.WeakKeyDictionary()
_MEMORIES_LOCK = threading.Lock()


def attach_memory(store: CatalogStore, make: Callable[[], SearchMemory]) -> SearchMemory:
    """The store's snapshot keeper, made by `make` the first time."""
    with _MEMORIES_LOCK:
        memory = _MEMORIES.get(store)
        if memory is None:
            memory = _MEMORIES[store] = make()
        return memory


def memory_of(store: CatalogStore) -> SearchMemory | None:
    return _MEMORIES.get(store)


def _search(store: CatalogStore, query: SearchQuery) -> SearchResult:
    """From the store's snapshot in memory when a server keeps one and it is up to date
    (catalog.search.memory), else from SQL: the same result either way. A server may also
    answer from a snapshot at most `max_stale` seconds behind the catalog (its choice)."""
    memory = memory_of(store)
    snapshot = memory.current(store) if memory is not None else None
    if snapshot is None:
        return store.search(query)
    return snapshot.search(store, query)


def _facets(counts: dict[str, list[tuple[str, str, int]]], params: SearchParams,
            keys: tuple[str, ...]) -> dict[str, list[FacetOption]]:
    chosen = set(keys)
    out: dict[str, list[FacetOption]] = {}
    for family in FACET_FAMILIES:
        options = [FacetOption(key.split(":", 1)[1], label, count, key in chosen)
                   for key, label, count in counts.get(family, [])]
        shown = {o.value for o in options}
        # A selected value always shows (to be removed), even when no record holds it.
        for (fam, value), key in zip(params.facets, keys, strict=True):
            token = key.split(":", 1)[1]
            if fam == family and token not in shown:
                options.append(FacetOption(token, value, 0, True))
                shown.add(token)
        if options:
            out[family] = options
    return out


def _hits(store: CatalogStore, record_ids: list[int], terms: tuple[TextTerm, ...]) -> list[Hit]:
    # The full body only when there are words to find in the document texts.
    rows = {raw.record_id: raw for raw in store.iter_raw(ids=record_ids, brief=not terms)}
    hits = []
    for record_id in record_ids:
        raw = rows.get(record_id)
        if raw is None:  # deleted between the two reads
            continue
        try:
            data = json.loads(raw.json)
        except ValueError:
            data = {}
        hits.append(_hit(record_id, data, terms, raw.deleted))
    return hits


def _hit(record_id: int, data: dict[str, Any], terms: tuple[TextTerm, ...], deleted: bool) -> Hit:
    found = data.get("date")
    date: dict[str, Any] = found if isinstance(found, dict) else {}
    texts = [str(data.get("summary") or "")]
    texts += [str(t.get("text") or "") for t in data.get("texts") or [] if isinstance(t, dict)]
    return Hit(
        record_id=record_id,
        title=str(data.get("title") or f"Record {record_id}"),
        date=str(date.get("display") or ""),
        date_normalized=date.get("normalized"),
        type=", ".join(str(t) for t in data.get("types") or []),
        languages=tuple(str(lang.get("name")) for lang in data.get("original_languages") or []
                        if isinstance(lang, dict) and lang.get("name")),
        snippet=snippet(texts, terms),
        url=str(data.get("url") or ""),
        deleted=deleted,
    )
