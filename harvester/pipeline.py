"""Harvest: Record IDs in, catalog records out, raw pages kept.

Workers fetch and parse in parallel (bounded by the HTTP concurrency setting, and
spaced by the shared rate limiter); the calling thread alone writes to the catalog,
so the store sees one writer and each record is one transaction. A blocked response
stops the run: IDs not yet started are reported as not attempted.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from catalog.errors import Blocked, FetchError, Gone, HarvesterError, NotFound, ParseError, RecordValidationError
from catalog.model import CatalogRecord, Provenance
from catalog.store import SQLiteStore
from harvester import __version__
from harvester.config import Settings
from harvester.http import Fetcher, FetchResult
from harvester.normalize import build_record
from harvester.parse import PARSER_VERSION, parse_page
from harvester.warc import RecordedRequest, RecordedResponse, WarcIndex, WarcWriter, warc_files

_DOC_ID_URL = re.compile(r"/document/(\d+)/?$")
# ASCII digits only (str.isdigit() also accepts "١٢٣", "１２" and "²"), and small enough for
# an SQLite INTEGER: Record IDs are six or seven digits today.
_RECORD_ID = re.compile(r"[0-9]{1,15}")


@dataclass
class Outcome:
    record_id: int
    status: str  # new, changed, unchanged, restored, not_found, gone, failed, blocked, not_attempted
    detail: str = ""
    problems: list[str] = field(default_factory=list)
    retry_after: float | None = None


@dataclass
class HarvestSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    requests: int = 0
    warc_file: str | None = None

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def blocked(self) -> bool:
        return any(o.status == "blocked" for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 all good, 1 some IDs failed, 2 blocked."""
        if self.blocked:
            return 2
        if any(o.status in {"failed", "not_attempted"} for o in self.outcomes):
            return 1
        return 0

    def line(self) -> str:
        c = self.counts
        harvested = c["new"] + c["changed"] + c["restored"]
        return (f"harvested {harvested} (new {c['new']}, changed {c['changed']}, restored {c['restored']}), "
                f"unchanged {c['unchanged']}, not found {c['not_found'] + c['gone']}, failed {c['failed']}, "
                f"blocked {c['blocked']}, not attempted {c['not_attempted']}; {self.requests} requests")


def parse_ids(values: Iterable[str]) -> list[int]:
    """Record IDs from the command line or a file: positive integers only, order kept, no repeats."""
    ids: list[int] = []
    for raw in values:
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if not _RECORD_ID.fullmatch(text) or int(text) <= 0:
            raise ValueError(f"not a Record ID: {text!r} (Record IDs are positive whole numbers)")
        value = int(text)
        if value not in ids:
            ids.append(value)
    return ids


def provenance_for(result: FetchResult, *, replayed: bool) -> Provenance:
    response = result.response
    return Provenance(
        request_url=result.request_url,
        final_url=result.final_url,
        http_status=response.status,
        fetched_at=response.fetched_at,
        etag=response.header("ETag"),
        last_modified=response.header("Last-Modified"),
        sha256=response.sha256,
        redirects=result.redirects,
        warc_file=response.warc_file,
        warc_record_id=response.warc_record_id,
        tool_version=__version__,
        parser_version=PARSER_VERSION,
        replayed=replayed,
    )


def record_from_result(result: FetchResult, record_id: int, *, replayed: bool) -> CatalogRecord:
    """Parse and normalize one fetched page (ParseError / RecordValidationError on failure)."""
    parsed = parse_page(result.response.body, record_id=record_id, final_url=result.final_url,
                        content_type=result.response.header("Content-Type"))
    return build_record(parsed, provenance_for(result, replayed=replayed), requested_id=record_id)


class _LockedWriter:
    """Serializes WARC writes from worker threads."""

    def __init__(self, writer: WarcWriter) -> None:
        self.writer = writer
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest, response: RecordedResponse) -> None:
        with self._lock:
            self.writer.write_exchange(request, response)


def harvest(
    ids: list[int],
    *,
    settings: Settings,
    store: SQLiteStore,
    replay: str | Path | WarcIndex | None = None,
    progress: Callable[[Outcome], None] | None = None,
    fetcher: Fetcher | None = None,
    run_id: str | None = None,
) -> HarvestSummary:
    """Fetch, keep, parse, normalize and store each ID. Never raises for one bad ID."""
    summary = HarvestSummary()
    writer: WarcWriter | None = None
    replayed = replay is not None
    if fetcher is None:
        index = replay if isinstance(replay, WarcIndex) else WarcIndex(replay) if replay is not None else None
        on_exchange = None
        if index is None:
            writer = WarcWriter.in_directory(settings.storage.warc_dir, prefix="harvest", software=f"wcda-harvester/{__version__}",
                                             operator=settings.archive.contact)
            summary.warc_file = str(writer.path)
            on_exchange = _LockedWriter(writer)
        fetcher = Fetcher(settings, replay=index, on_exchange=on_exchange)
    stop = threading.Event()

    def guarded(record_id: int, step: Callable[[], FetchResult | CatalogRecord]) -> Outcome | FetchResult | CatalogRecord:
        try:
            return step()
        except Blocked as exc:
            stop.set()
            return Outcome(record_id, "blocked", str(exc))
        except NotFound as exc:
            return Outcome(record_id, "not_found", str(exc))
        except Gone as exc:
            return Outcome(record_id, "gone", str(exc))
        except FetchError as exc:
            return Outcome(record_id, "failed", str(exc), retry_after=exc.retry_after)
        except (ParseError, RecordValidationError) as exc:
            return Outcome(record_id, "failed", str(exc))
        except HarvesterError as exc:  # anything else of ours: reported, never a crash
            return Outcome(record_id, "failed", str(exc))
        except Exception as exc:  # a bug (ours or a library's) fails this ID, not the whole run
            return Outcome(record_id, "failed", f"unexpected error: {type(exc).__name__}: {exc}")

    def work(record_id: int) -> Outcome | FetchResult:
        if stop.is_set():
            return Outcome(record_id, "not_attempted", "the run stopped after a block")
        return guarded(record_id, lambda: fetcher.get(fetcher.document_url(record_id)))  # type: ignore[return-value]

    try:
        # A replay answers from disk, so there is no latency for threads to overlap, and the
        # parse holds the GIL: more threads only add contention (~10-20 % more CPU a page).
        workers = 1 if replayed else settings.http.concurrency
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            # A bounded window of fetches in flight: the workers stay busy while this thread
            # parses, and fetched pages cannot pile up in memory when parsing is the slower side.
            queue = iter(ids)
            in_flight: dict[Future[Outcome | FetchResult], int] = {}

            def refill() -> None:
                while len(in_flight) < 2 * workers:
                    rid = next(queue, None)
                    if rid is None:
                        return
                    in_flight[pool.submit(work, rid)] = rid

            refill()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    rid = in_flight.pop(future)
                    result: Outcome | FetchResult | CatalogRecord = future.result()
                    if isinstance(result, FetchResult):
                        # Parsed here, on the one writing thread, while the workers keep fetching:
                        # the parse holds the GIL, and threads parsing at once only fight over it.
                        fetched = result
                        result = guarded(rid, lambda: record_from_result(fetched, rid, replayed=replayed))
                    if isinstance(result, CatalogRecord):
                        status = store.upsert(result)
                        outcome = Outcome(rid, status, problems=list(result.problems))
                    else:
                        outcome = result
                    if outcome.status != "not_attempted":
                        store.log_event(rid, outcome.status, outcome.detail or "; ".join(outcome.problems),
                                        run_id=run_id)
                    summary.outcomes.append(outcome)
                    if progress is not None:
                        progress(outcome)
                refill()
    finally:
        summary.requests = fetcher.requests_made
        fetcher.close()
        if writer is not None:
            writer.close()
    position = {rid: i for i, rid in enumerate(ids)}
    summary.outcomes.sort(key=lambda o: position[o.record_id])
    return summary


def ids_in_archive(path: str | Path | WarcIndex) -> list[int]:
    """Record IDs whose /document/<ID> request is in the WARC files (for reparse without a catalog)."""
    index = path if isinstance(path, WarcIndex) else WarcIndex(path)
    found = set()
    for url in index.urls():
        match = _DOC_ID_URL.search(url)
        if match:
            found.add(int(match.group(1)))
    return sorted(found)


def reparse(*, settings: Settings, store: SQLiteStore, source: str | Path | None = None,
            progress: Callable[[Outcome], None] | None = None) -> HarvestSummary:
    """Rebuild every record from the raw archive, with no network: a harvest replayed from our own WARC."""
    archive = Path(source or settings.storage.warc_dir)
    if not warc_files(archive):
        raise FileNotFoundError(f"no WARC files under {archive}")
    # One scan of the archive serves both the ID list and the replay (scanning is ~1 ms a page).
    index = WarcIndex(archive)
    ids = sorted(set(store.record_ids()) | set(ids_in_archive(index)))
    return harvest(ids, settings=settings, store=store, replay=index, progress=progress)


def record(ids: list[int], *, settings: Settings, out: str | Path) -> HarvestSummary:
    """Record live responses (redirects included) into one WARC file, for fixtures. Catalog untouched."""
    summary = HarvestSummary(warc_file=str(out))
    with WarcWriter(out, software=f"wcda-harvester/{__version__}", operator=settings.archive.contact) as writer:
        fetcher = Fetcher(settings, on_exchange=_LockedWriter(writer))
        try:
            for rid in ids:
                try:
                    result = fetcher.get(fetcher.document_url(rid))
                    summary.outcomes.append(Outcome(rid, "new", f"recorded {result.final_url}"))
                except Blocked as exc:
                    summary.outcomes.append(Outcome(rid, "blocked", str(exc)))
                    break
                except FetchError as exc:
                    # 404s and the like are recorded too: they make good fixtures.
                    summary.outcomes.append(Outcome(rid, "failed", str(exc)))
        finally:
            summary.requests = fetcher.requests_made
            fetcher.close()
    return summary
