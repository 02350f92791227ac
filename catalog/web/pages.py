"""The HTML pages of the web catalog: what each shows, read from the store and the format registry.

Each handler takes the parsed request and returns a Response; a bad parameter raises
HttpError(400), a missing record HttpError(404). Templates are in catalog/web/templates.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from catalog.changes import field_value, read_diff
from catalog.cite import cite
from catalog.errors import BadSearch, ExportError
from catalog.export.common import DEFAULT_OPTIONS, FormatOptions
from catalog.export.jsonld import jsonld_text
from catalog.export.registry import FORMATS, Format, format_for
from catalog.model import CatalogRecord, StoredRecord
from catalog.search import FACET_FAMILIES, MAX_PAGE, SORTS, FacetOption, SearchPage, SearchParams, facet_key, run_search
from catalog.store import CatalogStore
from catalog.store.api import RunInfo, SyncItem
from catalog.web.app import HttpError, Request, Response
from catalog.web.render import render
from catalog.xmltext import xml_safe

# (style, note form, label): every shipped style, and Chicago's note form too.
CITATION_STYLES: list[tuple[str, bool, str]] = [
    ("wcda", False, "Wilson Center Digital Archive (the archive's own form)"),
    ("chicago", False, "Chicago, bibliography"),
    ("chicago", True, "Chicago, note"),
    ("chicago-author-date", False, "Chicago, author-date"),
    ("apa", False, "APA"),
    ("mla", False, "MLA"),
]
FORMAT_LABELS = {
    "oai_dc": "Dublin Core (oai_dc)", "oai_qdc": "Qualified Dublin Core", "mods": "MODS", "marcxml": "MARCXML",
    "jsonld": "schema.org JSON-LD", "csl-json": "CSL-JSON", "jsonl": "JSON Lines", "csv": "CSV", "ris": "RIS",
    "bibtex": "BibTeX",
}
CITATIONS_CACHED = 6 * 4096  # rendered citations kept (one style of one record each, under 1 KB)
HISTORY_SHOWN = 100  # latest history events on a record page (a nightly check adds one a night)
RUNS_SHOWN = 10  # sync runs on /changes
ITEMS_SHOWN = 100  # records per kind of change and run (the rest are counted)
# Sync item outcomes, by the heading /changes shows them under.
CHANGE_KINDS = {"new": ("new", "restored"), "changed": ("changed",), "deleted": ("tombstoned",)}


# The styles a record page shows at once however the cache stands: the house style is written
# out by catalog.cite_text (no processor, ~0.05 ms); each citeproc-py style costs ~10-25 ms.
INLINE_STYLES = frozenset({"wcda"})


# A style's name in its address (/records/<id>/citations/<slug>) and, as cite-<slug>, its element id.
CITATION_SLUGS = {f"{style}{'-note' if note else ''}": (style, note, label) for style, note, label in CITATION_STYLES}


@dataclass(frozen=True)
class Citation:
    id: str
    label: str
    html: str | None  # catalog.cite's HTML rendering (its strings escaped before rendering)
    error: str | None
    url: str  # where the citation alone is shown (and fetched from, when `pending`)

    @property
    def pending(self) -> bool:
        """Not rendered yet: the page links to it and the copy script fetches it."""
        return self.html is None and self.error is None


@dataclass(frozen=True)
class Download:
    name: str
    label: str
    media_type: str
    url: str
    filename: str


@dataclass
class ChangedRecord:
    record_id: int
    title: str | None
    outcome: str
    fields: list[str] = field(default_factory=list)
    diff: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (old, new), from the history
    values: dict[str, str] = field(default_factory=dict)  # field -> its value now, where no diff was kept
    detail: str = ""


@dataclass
class RunChanges:
    run: RunInfo
    kinds: dict[str, list[ChangedRecord]]
    totals: dict[str, int]


def export_filename(record_id: int, fmt: Format) -> str:
    return f"wcda-{record_id}-{fmt.name}.{fmt.extension}"


class Pages:
    def __init__(self, store: CatalogStore, *, options: FormatOptions = DEFAULT_OPTIONS) -> None:
        self.store = store
        self.options = options
        # Rendered citations by (Record ID, content hash, style slug): citeproc-py takes 10-25 ms
        # for each style of a record (more under load), the rest of a record page ~2-10 ms. So a
        # record page renders only the house style and the styles kept here, and links to the
        # others, which the copy script fetches from /records/<id>/citations/<slug> (each one
        # rendering one style). A changed record has a new hash.
        self._cited: OrderedDict[tuple[int, str, str], tuple[str | None, str | None]] = OrderedDict()  # (html, error)
        self._cited_lock = threading.Lock()

    # -- /records/<id> ------------------------------------------------------------------------
    def record(self, request: Request, record_id: int) -> Response:
        if request.query:
            raise HttpError(400, "A record page takes no parameters.")
        stored = self._stored(record_id)
        events = self.store.events(record_id)
        hidden, events = max(0, len(events) - HISTORY_SHOWN), events[-HISTORY_SHOWN:]
        downloads = [self._download(request, stored, fmt) for fmt in FORMATS.values()
                     if fmt.prints_deleted or not stored.deleted]
        context: dict[str, Any] = dict(root=request.script_name, stored=stored, record=stored.record,
                                       events=events, earlier_events=hidden, downloads=downloads)
        if stored.deleted:
            body = render("tombstone.html", **context)
            return Response(410, body)
        context.update(citations=self._page_citations(request, stored),
                       jsonld=self._jsonld(stored.record))
        return Response(200, render("record.html", **context))

    def _jsonld(self, record: CatalogRecord) -> str:
        """The jsonld format's object as a script element. Every <, > and & is written as a JSON
        escape, so no value can close the element or open a comment ("<!--") that would keep
        the real end tag from closing it; characters HTML cannot carry are dropped."""
        text = xml_safe(jsonld_text(record, options=self.options))
        text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
        return f'<script type="application/ld+json">{text}</script>'

    def _stored(self, record_id: int) -> StoredRecord:
        stored = self.store.get(record_id)
        if stored is None:
            raise HttpError(404, f"Record {record_id} is not in this catalog.", title="Not found")
        return stored

    @staticmethod
    def _download(request: Request, stored: StoredRecord, fmt: Format) -> Download:
        rid = stored.record.record_id
        return Download(fmt.name, FORMAT_LABELS.get(fmt.name, fmt.name), fmt.media_type,
                        request.url(f"/records/{rid}/export/{fmt.name}"), export_filename(rid, fmt))

    def _page_citations(self, request: Request, stored: StoredRecord) -> list[Citation]:
        """Every style: rendered when it is cheap (the house style) or kept, else a link to fetch."""
        return [self._citation(request, stored, slug, make=slug in INLINE_STYLES) for slug in CITATION_SLUGS]

    def _citation(self, request: Request, stored: StoredRecord, slug: str, *, make: bool) -> Citation:
        """The citation in one style: kept, or (with `make`) rendered and kept; else pending."""
        url = request.url(f"/records/{stored.record.record_id}/citations/{slug}")
        style, note, label = CITATION_SLUGS[slug]
        key = (stored.record.record_id, stored.content_hash, slug)
        with self._cited_lock:
            found = self._cited.get(key)
            if found is not None:
                self._cited.move_to_end(key)
        if found is None and make:
            try:  # outside the lock: other pages go on meanwhile
                found = (cite(stored.record, style, fmt="html", note=note), None)
            except ExportError as exc:  # StyleCannotRender: said, never a wrong entry
                found = (None, str(exc))
            with self._cited_lock:
                self._cited[key] = found
                while len(self._cited) > CITATIONS_CACHED:
                    self._cited.popitem(last=False)
        html, error = found if found is not None else (None, None)
        return Citation(f"cite-{slug}", label, html, error, url)

    # -- /records/<id>/citations/<style> ------------------------------------------------------
    def citation(self, request: Request, record_id: int, slug: str) -> Response:
        """One citation style of a record as a small page: what the record page links to for a
        style it did not render, and what its copy script fetches and takes the citation from."""
        if request.query:
            raise HttpError(400, "A citation takes no parameters.")
        if slug not in CITATION_SLUGS:
            raise HttpError(404, f"There is no citation style {slug!r}; the styles are "
                                 f"{', '.join(CITATION_SLUGS)}.", title="Not found")
        stored = self._stored(record_id)
        if stored.deleted:
            raise HttpError(410, f"Record {record_id} was withdrawn from the archive: it has no citations.",
                            title="Gone")
        found = self._citation(request, stored, slug, make=True)
        return Response(200, render("citation.html", root=request.script_name, record=stored.record, citation=found))

    # -- /records/<id>/export/<format> ----------------------------------------------------------
    def export(self, request: Request, record_id: int, name: str) -> Response:
        if request.query:
            raise HttpError(400, "An export takes no parameters.")
        try:
            fmt = format_for(name)
        except ExportError:
            raise HttpError(404, f"There is no export format {name!r}; the formats are "
                                 f"{', '.join(FORMATS)}.", title="Not found") from None
        stored = self._stored(record_id)
        if stored.deleted and not fmt.prints_deleted:
            raise HttpError(410, f"Record {record_id} was withdrawn from the archive, and {fmt.name} cannot mark "
                                 "a record as withdrawn.", title="Gone")
        writer = fmt.writer(options=self.options)
        text = writer.header() + writer.record(stored) + writer.footer()
        ctype = fmt.media_type + ("; charset=utf-8" if not fmt.media_type.endswith("charset=utf-8") else "")
        disposition = f'attachment; filename="{export_filename(record_id, fmt)}"'
        return Response(200, text.encode("utf-8"), ctype, [("Content-Disposition", disposition)])

    # -- /changes ---------------------------------------------------------------------------------
    def changes(self, request: Request) -> Response:
        wanted: str | None = None
        for key, value in request.query:
            if key != "run" or wanted is not None:
                raise HttpError(400, f"Unknown or repeated parameter {key!r}: this page takes one 'run'.")
            wanted = value
        if wanted is not None:
            run = self.store.run_get(wanted) if wanted else None
            if run is None:
                raise HttpError(404, "There is no sync run with this id.", title="Not found")
            runs = [run]
        else:
            runs = self.store.run_list(RUNS_SHOWN)
        shown = [self._run_changes(run, limit=None if wanted else ITEMS_SHOWN) for run in runs]
        return Response(200, render("changes.html", root=request.script_name, runs=shown, one=wanted is not None))

    def _run_changes(self, run: RunInfo, *, limit: int | None) -> RunChanges:
        kinds: dict[str, list[ChangedRecord]] = {kind: [] for kind in CHANGE_KINDS}
        totals = dict.fromkeys(CHANGE_KINDS, 0)
        for item in self._items(run.run_id):
            kind = next((k for k, outcomes in CHANGE_KINDS.items() if item.outcome in outcomes), None)
            if kind is None or item.record_id is None:
                continue
            totals[kind] += 1
            if limit is None or len(kinds[kind]) < limit:
                kinds[kind].append(self._changed(item))
        return RunChanges(run, kinds, totals)

    def _items(self, run_id: str) -> Iterator[SyncItem]:
        seen: set[tuple[int | None, str]] = set()
        for item in self.store.items(run_id):
            if (item.record_id, item.outcome) not in seen:  # a record listed by discovery and revalidation
                seen.add((item.record_id, item.outcome))
                yield item

    def _changed(self, item: SyncItem) -> ChangedRecord:
        assert item.record_id is not None
        stored = self.store.get(item.record_id)
        title = stored.record.title if stored else None
        changed = ChangedRecord(item.record_id, title, item.outcome, detail=item.detail)
        if item.outcome == "changed" and item.detail.startswith("fields changed: "):
            changed.fields = [f.strip() for f in item.detail[len("fields changed: "):].split(",") if f.strip()]
            # the run's "changed" history event keeps the old and new values (catalog.changes.diff_note)
            for event in self.store.events(item.record_id):
                if event.run_id == item.run_id and event.outcome == "changed":
                    changed.diff = read_diff(event.detail)
            if not changed.diff and stored is not None:  # a run from before the values were kept
                now = stored.record.model_dump(mode="json")
                changed.values = {name: field_value(now.get(name)) or "(none)" for name in changed.fields}
        return changed

    # -- / ------------------------------------------------------------------------------------------
    def search(self, request: Request) -> Response:
        try:
            params = SearchParams.from_query_string(request.query_string)
            page = run_search(self.store, params)
        except BadSearch as exc:
            raise HttpError(400, f"This search cannot be run: {exc}", title="Bad search") from None
        canonical = params.query_string()
        if request.query_string != canonical and _round_trips(canonical):
            # The form sends empty fields (from=&to=): the shareable address is the canonical one.
            location = request.url("/") + (f"?{canonical}" if canonical else "")
            return Response(303, b"", "text/plain; charset=utf-8", [("Location", location)])
        view = SearchView(request, page)
        return Response(200, render("search.html", root=request.script_name, page=page, params=params, view=view,
                                    families=FACET_FAMILIES, sorts={k: SORT_LABELS.get(k, k) for k in SORTS}))


def _round_trips(query_string: str) -> bool:
    """Whether `query_string` reads back as itself (so a redirect to it can never loop)."""
    try:
        return SearchParams.from_query_string(query_string).query_string() == query_string
    except BadSearch:
        return False


# Sort orders as the menu names them (the search model's SORTS, in its order).
SORT_LABELS = {"relevance": "Relevance", "date": "Date (oldest first)", "-date": "Date (newest first)",
               "title": "Title (A–Z)", "changed": "Recently changed"}
PAGE_WINDOW = 2  # page links either side of the current one


@dataclass(frozen=True)
class PageLink:
    number: int
    url: str | None  # None: a gap ("…")
    current: bool = False


class SearchView:
    """The URLs one search page links to: every state of the page is a shareable address."""

    def __init__(self, request: Request, page: SearchPage) -> None:
        self.request = request
        self.page = page
        self.params = page.params
        # the facet pairs as given in the URL, by the index key they name (to remove one)
        self._given = {facet_key(f, v): (f, v) for f, v in self.params.facets}

    def url(self, params: SearchParams) -> str:
        query = params.query_string()
        return self.request.url("/") + (f"?{query}" if query else "")

    def facet_url(self, family: str, option: FacetOption) -> str:
        if option.selected:
            given = self._given.get(f"{family}:{option.value}", (family, option.value))
            return self.url(self.params.without_facet(*given))
        return self.url(self.params.with_facet(family, option.value))

    def selected(self) -> list[tuple[str, str, str]]:
        """(family label, value label, URL without it) for each facet in force."""
        out = []
        for family, options in self.page.facets.items():
            for option in options:
                if option.selected:
                    out.append((FACET_FAMILIES.get(family, family), option.label, self.facet_url(family, option)))
        return out

    def clear_url(self) -> str:
        return self.url(SearchParams(q=self.params.q, sort=self.params.sort, per_page=self.params.per_page))

    def page_url(self, number: int) -> str:
        return self.url(self.params.with_page(number))

    def pages(self) -> list[PageLink]:
        last = min(self.page.pages, MAX_PAGE)
        current = self.params.page
        wanted = {1, last, *range(max(1, current - PAGE_WINDOW), min(last, current + PAGE_WINDOW) + 1)}
        links: list[PageLink] = []
        for number in sorted(wanted):
            if links and number > links[-1].number + 1:
                links.append(PageLink(number - 1, None))
            links.append(PageLink(number, self.page_url(number), number == current))
        return links

    def search_form_fields(self) -> list[tuple[str, str]]:
        """What the search box's form carries along besides the words and dates: facets, sort."""
        return [(n, v) for n, v in self.params.to_query() if n not in ("q", "from", "to", "page")]

    def sort_form_fields(self) -> list[tuple[str, str]]:
        """What the sort menu's form carries along: the whole search but its sort and page."""
        return [(n, v) for n, v in self.params.to_query() if n not in ("sort", "page")]

