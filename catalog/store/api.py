"""The catalog contract: what every store backend provides, and the values that cross it.

Everything outside `catalog/store/` codes against `CatalogStore` and these value types;
no backend type (a `sqlite3.Row`, a psycopg cursor) ever crosses. All SQL lives in the
backends (`catalog.store.sqlite`, `catalog.store.postgres`).

The unit of work: `with store.unit_of_work():` opens one transaction; every write made
inside it on the same thread (the record with its derived indexes, its history event,
a sync item, which is the sync checkpoint) commits together or not at all. Outside a
unit of work each write is its own transaction.

Timestamps are kept as ISO 8601 UTC text with microseconds (`2026-11-25T15:38:04.123456Z`,
see `to_db_time`): they sort as text, so datestamp ranges and keyset pages use indexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeVar

from catalog.errors import StoreError

if TYPE_CHECKING:  # the record model (pydantic) is imported where a record is built: `show` and `list` never do
    from catalog.model import CatalogRecord, StoredRecord
    from catalog.prepared import PreparedRecord

UpsertOutcome = Literal["new", "changed", "unchanged", "restored"]
T = TypeVar("T")


# -- time ---------------------------------------------------------------------------
def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
    # isoformat, not strftime: glibc's %Y writes year 999 as "999", which sorts after "2024"
    # as text (an OAI-PMH until=0999-12-31 would have matched every record).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_DB_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def from_db_time(value: str) -> datetime:
    # fromisoformat is ~20x faster than strptime (three calls per record read: a tenth of
    # an export's time); the pattern keeps the accepted format exactly what strptime took.
    if _DB_TIME.fullmatch(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# -- value types ----------------------------------------------------------------------
class RawRecord:
    """One catalog row as stored: the record's JSON text and the catalog timestamps as text.

    Exports read these so a format can use the stored text directly (jsonl) and only
    the others pay for the model. `json` is the full body, or the brief one (texts'
    text emptied) when `brief` is True.
    """

    __slots__ = ("record_id", "json", "content_hash", "first_seen", "last_changed", "last_checked", "deleted_at",
                 "brief", "rendered")

    def __init__(self, record_id: int, json: str, content_hash: str, first_seen: str, last_changed: str,
                 last_checked: str, deleted_at: str | None, *, brief: bool = False,
                 rendered: str | None = None) -> None:
        self.record_id = record_id
        self.json = json
        self.content_hash = content_hash
        self.first_seen = first_seen
        self.last_changed = last_changed
        self.last_checked = last_checked
        self.deleted_at = deleted_at
        self.brief = brief
        # The stored rendering asked for with `iter_raw(rendered=(format, key))`, when the
        # catalog holds it under that key (None: absent or stale; see catalog.export.rendered).
        # A live row that has it is read without its JSON (`json` is "" then).
        self.rendered = rendered

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def stored(self) -> StoredRecord:
        # One pass of pydantic's JSON parser over the record text with the catalog fields
        # around it: a third cheaper than validating the record, then wrapping it.
        from pydantic import ValidationError

        from catalog.model import StoredRecord

        q = encode_basestring
        deleted_at = q(self.deleted_at) if self.deleted_at else "null"
        text = (f'{{"record":{self.json},"content_hash":{q(self.content_hash)},"first_seen":{q(self.first_seen)},'
                f'"last_changed":{q(self.last_changed)},"last_checked":{q(self.last_checked)},'
                f'"deleted_at":{deleted_at}}}')
        try:
            return StoredRecord.model_validate_json(text)
        except (ValidationError, ValueError) as exc:
            raise StoreError(f"record {self.record_id} in the catalog is unreadable: {exc}") from exc


class ListRow(NamedTuple):
    """A record as `harvester list` shows it: `fields` is [title, normalized date, problems]
    as stored (None when the stored JSON is unreadable)."""

    record_id: int
    fields: list[Any] | None
    deleted: bool


@dataclass(frozen=True)
class Event:
    """One entry of the record history (created, changed, unchanged, not_found, failed…)."""

    id: int
    record_id: int | None
    at: str  # store time text
    outcome: str
    detail: str
    run_id: str | None


@dataclass(frozen=True)
class RecordState:
    """The bookkeeping columns of one record (what sync decides with)."""

    record_id: int
    url: str
    slug: str | None
    etag: str | None
    last_modified: str | None
    last_checked: str
    missing_count: int
    deleted: bool


@dataclass(frozen=True)
class OaiRow:
    """One record as an OAI-PMH list page needs it."""

    record_id: int
    last_changed: str  # store time text, the keyset key
    deleted: bool
    # The store's `brief` body (texts' text emptied): no OAI metadata format prints the
    # document text. None when the page was asked without bodies (ListIdentifiers); "" on a
    # page read with renderings for a record that has its current one (`rendered`).
    body: str | None
    # The stored rendering asked for (format, key), when current (catalog.export.rendered).
    rendered: str | None = None

    @property
    def datestamp(self) -> datetime:
        """Naive UTC, seconds: what oaipmh's datestamp helpers expect."""
        return from_db_time(self.last_changed).replace(microsecond=0, tzinfo=None)


@dataclass(frozen=True)
class FacetValue:
    key: str
    label: str


@dataclass(frozen=True)
class FacetCount:
    key: str
    family: str
    label: str
    count: int


@dataclass(frozen=True)
class TextTerm:
    """One part of a full-text query, in indexed words (`catalog.index.tokens`): one word, or
    several that must stand next to each other in this order (a phrase); with `prefix` the
    last word matches every word it begins."""

    words: tuple[str, ...]
    prefix: bool = False


SearchSort = Literal["relevance", "date", "-date", "title", "changed"]


@dataclass(frozen=True)
class SearchQuery:
    """Which records a search wants, in which order, and which facet counts.

    `terms` all must match (AND); when None, `text` is split into words (every one must
    match), so a plain `SearchQuery("korean armistice")` still works. A query whose text
    holds no word at all matches nothing; an empty one every record. `facets` are keys
    that all must hold. `date_from`/`date_to` (ISO dates, inclusive) keep records whose date
    range overlaps them (records without a date drop out). Deleted records are left out
    unless `include_deleted`. `sort` "relevance" without terms is Record ID order.
    """

    text: str = ""
    facets: tuple[str, ...] = ()
    limit: int = 20
    offset: int = 0
    facet_limit: int = 10  # values per family in the counts
    terms: tuple[TextTerm, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None
    sort: SearchSort = "relevance"
    include_deleted: bool = False
    # families to count (None: all); the selected keys' counts always come back
    facet_families: tuple[str, ...] | None = None

    def text_terms(self) -> tuple[TextTerm, ...] | None:
        """The terms that must match (empty: no text condition), or None when the text holds no
        word at all, so nothing can match it. Every backend and the search snapshot read them here."""
        from catalog.index import tokens  # stdlib only, and only when text is searched

        terms = self.terms if self.terms is not None else tuple(TextTerm((w,)) for w in tokens(self.text))
        terms = tuple(t for t in terms if t.words)
        if self.terms is None and self.text.strip() and not terms:
            return None
        return terms


@dataclass(frozen=True)
class SearchResult:
    total: int
    record_ids: list[int]  # in the query's order (ties by Record ID)
    facets: dict[str, list[FacetCount]]  # family -> most frequent values among all matches


@dataclass(frozen=True)
class LockRow:
    token: str
    run_id: str | None
    owner_pid: int
    owner_host: str
    acquired_at: str
    heartbeat_at: str
    expires_at: str


@dataclass
class RunInfo:
    run_id: str
    status: str
    phase: str
    checkpoint: dict[str, Any]
    params: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    robots: str | None
    baseline: dict[str, Any] | None
    requests: int
    attempts: int
    warc_files: list[str]
    stop_reason: str
    report: dict[str, Any] | None = None


@dataclass(frozen=True)
class SyncItem:
    run_id: str
    kind: str
    key: str
    seq: int
    page: int | None
    record_id: int | None
    outcome: str
    detail: str
    fields: list[str] | None
    at: str


@dataclass
class RunCounts:
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, int] = field(default_factory=dict)
    parsed: int = 0
    listing_pages: int = 0


@dataclass(frozen=True)
class BudgetSlot:
    """The answer to one `budget_take`: how long to wait before the request may start.

    Durations only, never clock readings: the backend measures on its own clock (the
    database server's for PostgreSQL), so workers on machines whose clocks differ agree.
    """

    wait: float  # seconds from now until the request may start (0: at once)
    taken: bool  # False: the wait was over max_wait, and nothing was reserved
    paused: float  # seconds the host stays paused (a Retry-After seen by any worker); 0 if none
    pause_reason: str = ""


@dataclass(frozen=True)
class BudgetState:
    """The request budget of one host as stored (for status and tests)."""

    host: str
    interval: float  # seconds between request starts, as the last taker asked
    crawl_delay: float | None  # robots.txt Crawl-delay recorded by a sync; slows every taker
    taken: int  # requests granted so far, by every worker
    next_in: float  # seconds until the next request may start (0: now)
    paused: float  # seconds the host stays paused; 0 if none
    pause_reason: str
    # requests granted that started in the last minute / ten minutes, by every worker
    # (the measured request rate; a take keeps ten minutes of grant times)
    last_minute: int = 0
    last_10_minutes: int = 0


@dataclass(frozen=True)
class WorkItem:
    """One item of the work queue (`harvester enqueue` / `work`, and every `harvest`)."""

    id: int
    batch: str  # "queue" for enqueue/work, "harvest:<digest>" for one harvest command
    kind: str  # harvest, revalidate
    key: str  # a Record ID as text (or a slug)
    state: str  # pending, leased, done, failed
    lease_owner: str | None
    lease_expires: str | None  # store time text
    attempts: int
    last_error: str
    outcome: str  # what finishing it did: new, changed, unchanged, not_found…
    detail: str


@dataclass(frozen=True)
class WorkerRow:
    """One worker process of the queue, as `harvester status` shows it."""

    worker_id: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str
    items_done: int
    stopped_at: str | None


WORK_STATES = ("pending", "leased", "done", "failed")


# Columns of a sync run a caller may set (the rest are written by dedicated calls).
RUN_FIELDS = frozenset({"phase", "checkpoint", "robots", "baseline", "requests", "stop_reason", "report"})


# -- the contract ---------------------------------------------------------------------
class CatalogStore(Protocol):
    """What every catalog backend provides. See the module docstring for the unit of work."""

    url: str  # what it was opened from (a path or a URL), for messages
    read_only: bool
    render_options: Any  # FormatOptions of the renderings written with records (None: defaults)

    # lifecycle and transactions
    def unit_of_work(self) -> AbstractContextManager[None]: ...
    def transaction(self) -> AbstractContextManager[None]: ...  # the unit of work under its older name
    def write(self, work: Callable[[], T]) -> T: ...
    def close(self) -> None: ...
    def __enter__(self) -> CatalogStore: ...
    def __exit__(self, *exc: object) -> None: ...
    def applied_migrations(self) -> list[str]: ...

    # records
    def upsert(self, record: CatalogRecord | PreparedRecord, *, now: datetime | None = None) -> UpsertOutcome: ...
    def get(self, record_id: int) -> StoredRecord | None: ...
    def iter_records(self, *, ids: Iterable[int] | None = None, changed_since: datetime | None = None,
                     include_deleted: bool = True, batch_size: int | None = None) -> Iterator[StoredRecord]: ...
    def iter_raw(self, *, ids: Iterable[int] | None = None, changed_since: datetime | None = None,
                 include_deleted: bool = True, batch_size: int | None = None,
                 brief: bool = False, rendered: tuple[str, str] | None = None) -> Iterator[RawRecord]: ...
    def record_ids(self, *, include_deleted: bool = True, facet: str | None = None) -> list[int]: ...
    def count(self, *, include_deleted: bool = False) -> int: ...
    def count_deleted(self, *, facet: str | None = None) -> int: ...
    def state(self, record_id: int) -> RecordState | None: ...
    def states(self) -> list[RecordState]: ...
    def has_slug(self, slug: str) -> bool: ...
    def slug_of(self, record_id: int) -> str | None: ...
    def list_rows(self, *, batch_size: int = 5000) -> Iterator[ListRow]: ...
    def validators(self, record_id: int) -> tuple[str | None, str | None]: ...
    def mark_checked(self, record_id: int, *, now: datetime | None = None, found: bool = False) -> None: ...
    def mark_missing(self, record_id: int, *, now: datetime | None = None) -> int: ...
    def tombstone(self, record_id: int, *, now: datetime | None = None) -> bool: ...
    def due_count(self, cutoff: datetime) -> int: ...
    def earliest_change(self, *, include_deleted: bool = True, facet: str | None = None) -> str | None: ...
    def coverage(self, fields: dict[str, tuple[str, str]]) -> dict[str, Any]: ...

    # history
    def log_event(self, record_id: int | None, outcome: str, detail: str = "", *,
                  run_id: str | None = None) -> None: ...
    def events(self, record_id: int | None = None) -> list[Event]: ...
    def events_with_outcome(self, outcome: str) -> list[Event]: ...

    # derived indexes, OAI-PMH keyset pages, search
    def reindex(self, *, progress: Any = None) -> int: ...
    def facet_page(self, families: Sequence[str], after: str | None, limit: int) -> list[FacetValue]: ...
    def count_facets(self, families: Sequence[str]) -> int: ...
    def facets_of(self, record_ids: Sequence[int], families: Sequence[str]) -> dict[int, list[str]]: ...
    def oai_row(self, record_id: int, *, rendered: tuple[str, str] | None = None) -> OaiRow | None: ...
    def oai_count(self, facet: str | None, from_: str | None, until: str) -> int: ...
    def oai_page(self, facet: str | None, from_: str | None, until: str, after: tuple[str, int] | None,
                 limit: int, *, with_body: bool, rendered: tuple[str, str] | None = None) -> list[OaiRow]: ...
    # stored renderings (catalog.export.rendered)
    def fill_renderings(self, *, options: Any = None, progress: Any = None) -> int: ...
    def search(self, query: SearchQuery) -> SearchResult: ...
    # what catalog.search.memory keeps in memory, and the change stamp that says when to read it again
    def search_stamp(self) -> int: ...
    def search_sort_rows(self) -> list[tuple[int, str | None, str | None, str, str, bool]]: ...
    def search_facet_rows(self) -> list[tuple[str, str, str, str]]: ...
    def search_postings(self) -> list[tuple[str, str]]: ...
    def text_matches(self, terms: Sequence[TextTerm], *, ranked: bool,
                     among: Sequence[int] | None = None) -> list[tuple[int, float]]: ...
    def text_match_ids(self, terms: Sequence[TextTerm]) -> str: ...
    def meta(self, key: str, default: str) -> str: ...

    def explain_set_page(self, facet: str) -> str: ...
    def analyze(self) -> None: ...

    # copying a whole catalog (copy-catalog): base tables out of one store, into another
    def copy_rows(self, table: str, batch: int = 1000) -> Iterator[list[tuple[Any, ...]]]: ...
    def insert_rows(self, table: str, rows: Sequence[Sequence[object]]) -> None: ...
    def clear_meta(self) -> None: ...
    def after_copy(self) -> None: ...

    # sync runs: leases, runs with their checkpoint, items, the revalidation queue
    def lock_holder(self, name: str) -> LockRow | None: ...
    def lock_heartbeat(self, name: str, token: str, heartbeat_at: str, expires_at: str,
                       run_id: str | None) -> bool: ...
    def lock_release(self, name: str, token: str) -> None: ...
    # a coordinator lease (a named row of the same table, e.g. "discovery"): taken atomically
    def lease_take(self, name: str, row: LockRow, *, dead_token: str | None = None) -> LockRow | None: ...
    def run_create(self, run_id: str, started_at: str, params: dict[str, Any]) -> None: ...
    def run_get(self, run_id: str | None = None, *, unfinished: bool = False) -> RunInfo | None: ...
    def run_list(self, limit: int) -> list[RunInfo]: ...
    def run_update(self, run_id: str, **values: Any) -> None: ...
    def run_attempt(self, run_id: str, warc_file: str | None, *, new_attempt: bool) -> None: ...
    def run_finish(self, run_id: str, status: str, finished_at: str, report: dict[str, Any],
                   stop_reason: str) -> bool: ...
    def run_add_requests(self, run_id: str, requests: int) -> None: ...
    def item_add(self, run_id: str, kind: str, key: str, outcome: str, *, detail: str = "",
                 record_id: int | None = None, page: int | None = None, fields: list[str] | None = None) -> None: ...
    def item_get(self, run_id: str, kind: str, key: str) -> SyncItem | None: ...
    def items(self, run_id: str, kind: str | None = None, page: int | None = None) -> list[SyncItem]: ...
    def run_counts(self, run_id: str) -> RunCounts: ...
    def queue_get(self, run_id: str) -> list[int]: ...
    def queue_save(self, run_id: str, record_ids: list[int]) -> None: ...

    # the request budget shared by every worker of the catalog (harvester/politeness.py):
    # one row per archive host, taken atomically, so N workers on any machines together
    # keep http.rate_limit, a robots.txt Crawl-delay, and a Retry-After pause
    def budget_take(self, host: str, interval: float, *, max_wait: float | None = None) -> BudgetSlot: ...
    def budget_pause(self, host: str, seconds: float, reason: str) -> None: ...
    def budget_crawl_delay(self, host: str, seconds: float | None) -> None: ...
    def budget_state(self, host: str) -> BudgetState | None: ...
    # the work queue (several worker processes; see WorkItem). Every call is its own unit of
    # work, or joins the caller's: `work_finish` goes in the one that stores the record.
    def work_add(self, batch: str, kind: str, keys: Sequence[str], *, reset_finished: bool = True,
                 now: datetime | None = None) -> int: ...
    def work_claim(self, worker_id: str, *, lease_seconds: float, batch: str | None = None, limit: int = 1,
                   max_attempts: int = 5, now: datetime | None = None) -> list[WorkItem]: ...
    def work_renew(self, worker_id: str, *, lease_seconds: float, now: datetime | None = None) -> int: ...
    def work_finish(self, item_id: int, worker_id: str, *, state: str, outcome: str, detail: str = "",
                    now: datetime | None = None) -> None: ...
    def work_release(self, item_ids: Sequence[int], worker_id: str, *, error: str = "",
                     count_attempt: bool = False) -> int: ...
    def work_expire(self, worker_id: str, *, now: datetime | None = None) -> int: ...
    def work_counts(self, batch: str | None = None) -> dict[str, int]: ...
    def work_items(self, batch: str | None = None, *, state: str | None = None) -> list[WorkItem]: ...
    def work_clear(self, batch: str) -> int: ...
    def worker_start(self, row: WorkerRow) -> None: ...
    def worker_stop(self, worker_id: str, *, now: datetime | None = None) -> None: ...
    def workers(self, *, include_stopped: bool = False) -> list[WorkerRow]: ...


def run_info(values: dict[str, Any]) -> RunInfo:
    """A RunInfo from a sync_run row given as {column: value} (backends share this)."""
    return RunInfo(
        run_id=values["run_id"], status=values["status"], phase=values["phase"],
        checkpoint=json.loads(values["checkpoint"] or "{}"), params=json.loads(values["params"]),
        started_at=from_db_time(values["started_at"]),
        finished_at=from_db_time(values["finished_at"]) if values["finished_at"] else None,
        robots=values["robots"], baseline=json.loads(values["baseline"]) if values["baseline"] else None,
        requests=values["requests"], attempts=values["attempts"], warc_files=json.loads(values["warc_files"]),
        stop_reason=values["stop_reason"], report=json.loads(values["report"]) if values["report"] else None,
    )
