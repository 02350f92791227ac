"""The work of a parse worker process: parse and normalize one fetched page (a replay worker
reads the page from the WARC files first), and the outcome an error of one item stands for.

Apart from harvester.pipeline, and light, for memory: the fork server imports this module once
and forks every parse worker from it (`harvester.pipeline._process_pool`), so what it imports
is held in memory beside the main process's own copy. A worker needs the parser, the record
model and the serializers of the renderings stored with each record (catalog/prepared.py: it
prepares every record for the store, so the harvest's one writing thread only runs SQL), not
what the rest of the pipeline imports: the HTTP client (httpx and tenacity, ~10 MB
of a process), the catalog store, the quality checks. So a live worker is handed a page's
parts (`page_parts`) instead of the `FetchResult`, whose class would import the HTTP client
into the worker to unpickle it, and a replay worker imports the fetcher when it starts.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from catalog.errors import (
    Blocked,
    FetchError,
    Gone,
    HarvesterError,
    NotADocument,
    NotFound,
    ParseError,
    RecordValidationError,
    TransportError,
)
from catalog.model import CatalogRecord, Provenance
from catalog.prepared import PreparedRecord, prepare
from harvester import __version__

if TYPE_CHECKING:
    from catalog.export.options import FormatOptions
    from harvester.config import Settings
    from harvester.http import FetchResult
    from harvester.warc import RecordedResponse, WarcIndex


@dataclass
class Outcome:
    record_id: int
    status: str  # new, changed, unchanged, restored, not_found, gone, not_document, failed, blocked, not_attempted
    detail: str = ""
    problems: list[str] = field(default_factory=list)
    retry_after: float | None = None
    connect_failed: bool = False  # the archive could not be reached at all (no connection)


# How a failed connection reads in a TransportError's message (the HTTP client's exception names).
_CONNECT_FAILURE = re.compile(r"ConnectError|ConnectTimeout|timeout \(ConnectTimeout\)")


def could_not_connect(exc: BaseException) -> bool:
    """True when `exc` says the archive could not be reached at all (no connection was made)."""
    return isinstance(exc, TransportError) and bool(_CONNECT_FAILURE.search(str(exc)))

# (request URL, final URL, redirects, response): what parsing reads of a FetchResult.
PageParts = tuple[str, str, list[str], "RecordedResponse"]


def page_parts(result: FetchResult) -> PageParts:
    return result.request_url, result.final_url, result.redirects, result.response


def provenance_for(result: FetchResult, *, replayed: bool) -> Provenance:
    return _provenance(*page_parts(result), replayed=replayed)


def _provenance(request_url: str, final_url: str, redirects: list[str], response: RecordedResponse, *,
                replayed: bool) -> Provenance:
    from harvester.site.page import PARSER_VERSION  # the parser: see `record_from_page`

    return Provenance(
        request_url=request_url,
        final_url=final_url,
        http_status=response.status,
        fetched_at=response.fetched_at,
        etag=response.header("ETag"),
        last_modified=response.header("Last-Modified"),
        sha256=response.sha256,
        redirects=redirects,
        warc_file=response.warc_file,
        warc_record_id=response.warc_record_id,
        tool_version=__version__,
        parser_version=PARSER_VERSION,
        replayed=replayed,
    )


def record_from_result(result: FetchResult, record_id: int, *, replayed: bool) -> CatalogRecord:
    """Parse and normalize one fetched page (ParseError / RecordValidationError on failure)."""
    return record_from_page(record_id, page_parts(result), replayed=replayed)


def record_from_page(record_id: int, parts: PageParts, *, replayed: bool) -> CatalogRecord:
    """`record_from_result` from a page's parts (`page_parts`)."""
    # The parser (BeautifulSoup, lxml, soupsieve, the date libraries: ~10 MB) is imported where
    # a page is parsed, not with this module: the harvest's main process imports this module
    # for the outcomes but parses nothing (its workers do; harvester/fork_server.py loads the
    # parser for them).
    from harvester.normalize import build_record
    from harvester.parse import parse_page

    _, final_url, _, response = parts
    parsed = parse_page(response.body, record_id=record_id, final_url=final_url,
                        content_type=response.header("Content-Type"))
    return build_record(parsed, _provenance(*parts, replayed=replayed), requested_id=record_id)


def outcome_for(record_id: int, exc: BaseException) -> Outcome:
    """The outcome an exception from fetching or parsing one ID stands for."""
    if isinstance(exc, Blocked):
        return Outcome(record_id, "blocked", str(exc))
    if isinstance(exc, NotFound):
        return Outcome(record_id, "not_found", str(exc))
    if isinstance(exc, Gone):
        return Outcome(record_id, "gone", str(exc))
    if isinstance(exc, FetchError):
        return Outcome(record_id, "failed", str(exc), retry_after=exc.retry_after,
                       connect_failed=could_not_connect(exc))
    if isinstance(exc, NotADocument):  # a person page, a listing…: nothing stored
        return Outcome(record_id, "not_document", str(exc))
    if isinstance(exc, (ParseError, RecordValidationError, HarvesterError)):  # ours: reported, never a crash
        return Outcome(record_id, "failed", str(exc))
    # a bug (ours or a library's) fails this ID, not the whole run
    return Outcome(record_id, "failed", f"unexpected error: {type(exc).__name__}: {exc}")


# -- in a worker process -------------------------------------------------------------------
_WORKER: dict[str, object] = {}


def init_worker(settings: Settings, index: WarcIndex | None, replayed: bool,
                render_options: FormatOptions | None = None) -> None:
    # Ctrl-C reaches the whole process group: the parent winds the run down, the workers
    # must not die mid-task (a broken pool would fail every ID still in it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER["replayed"] = replayed
    _WORKER["render_options"] = render_options
    if index is not None:
        from harvester.http import Fetcher  # a replay worker reads its pages itself

        _WORKER["fetcher"] = Fetcher(settings, replay=index)


def prepared_from_page(record_id: int, parts: PageParts, *, replayed: bool,
                       options: FormatOptions | None) -> PreparedRecord:
    """`record_from_page`, prepared for the store (catalog/prepared.py): what a harvest hands its
    writing thread, so that thread only runs SQL. Raises as `record_from_page` does."""
    return prepare(record_from_page(record_id, parts, replayed=replayed), options)


def _prepared_here(record_id: int, parts: PageParts) -> PreparedRecord:
    return prepared_from_page(record_id, parts, replayed=bool(_WORKER["replayed"]),
                              options=_WORKER["render_options"])  # type: ignore[arg-type]


def parse_in_worker(record_id: int, parts: PageParts) -> Outcome | PreparedRecord:
    """Parse and normalize one fetched page; prepare the record for the store."""
    try:
        return _prepared_here(record_id, parts)
    except Exception as exc:
        return outcome_for(record_id, exc)


def replay_in_worker(record_id: int) -> tuple[Outcome | PreparedRecord, int]:
    """Read one ID from the archive (WARC file + offset), parse, normalize, prepare for the store.

    Returns the result and the number of requests the replay made.
    """
    from harvester.http import Fetcher

    fetcher = _WORKER["fetcher"]
    assert isinstance(fetcher, Fetcher)
    before = fetcher.requests_made
    try:
        result: Outcome | PreparedRecord = _prepared_here(record_id, page_parts(
            fetcher.get(fetcher.document_url(record_id))))
    except Exception as exc:
        result = outcome_for(record_id, exc)
    return result, fetcher.requests_made - before
