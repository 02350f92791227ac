"""Format records in worker processes, written in order by the calling process.

An export is one reader (SQLite) and one writer (the output file) around a formatting
step that costs 3-10x more than both: building the record model and the format's own
work. On a machine with several cores the formatting is handed to forked workers a
batch at a time; the parent keeps reading, writing, numbering (`Writer.emit`) and
reporting skips, so the output is byte for byte the serial one. At most `window`
batches are in flight, so memory stays flat whatever the catalog size.

Only with the "fork" start method (Linux): workers inherit the loaded modules, so they
start in milliseconds. Elsewhere, or with one core, the export runs serially.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain, islice

from catalog.export.options import DEFAULT_OPTIONS, FormatOptions
from catalog.export.registry import Writer, writer_for
from catalog.store import RawRecord

BATCH = 500
WRITE_BATCH = 100  # records a text when copied serially
Row = tuple[int, str, str, str, str, str, "str | None"]

_worker: Writer | None = None


def _init(fmt: str, options: FormatOptions = DEFAULT_OPTIONS) -> None:
    global _worker
    _worker = writer_for(fmt, options=options)


def _bodies(rows: list[Row], brief: bool) -> list[str | None]:
    """In a worker: each row's `body`, None for a record the format skips."""
    assert _worker is not None
    out: list[str | None] = []
    for row in rows:
        raw = RawRecord(*row, brief=brief)
        out.append(None if raw.deleted and _worker.skips_deleted else _worker.body(raw.stored()))
    return out


def _ready(raw: RawRecord) -> bool:
    """A live row that carries its stored rendering: the parent frames it, no worker needed."""
    return raw.rendered is not None and not raw.deleted


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def formatted(fmt: str, writer: Writer, rows: Iterable[RawRecord], *, jobs: int, window: int = 4) -> Iterator[str]:
    """`writer.record_raw(row)` for every row, in order; formatted by `jobs` workers when
    that can pay (more than one batch of records, a format worth sharing out, fork)."""
    rows = iter(rows)
    first = list(islice(rows, BATCH))
    # Rows read with their stored rendering are only framed (catalog.export.rendered): when the
    # first batch has them all, the catalog's renderings are current and workers would only add
    # the hand-off.
    serial = (jobs < 2 or not writer.parallel or len(first) < BATCH
              or all(_ready(r) for r in first) or not _can_fork())
    if serial:
        # One text per batch: a write per record costs as much as framing a stored rendering.
        # (100 a text: whole jsonl bodies joined 500 at a time added ~20 MB to the peak)
        record_raw = writer.record_raw
        rows = chain(first, rows)
        while batch := list(islice(rows, WRITE_BATCH)):
            yield "".join([record_raw(raw) for raw in batch])
        return
    import multiprocessing  # only to share out: a copy of stored renderings never needs it

    brief = first[0].brief
    pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_init, initargs=(fmt, writer.options))
    try:
        pending: deque = deque()
        batch = first
        while batch or pending:
            while batch and len(pending) < window:
                tuples = [(r.record_id, r.json, r.content_hash, r.first_seen, r.last_changed, r.last_checked,
                           r.deleted_at) for r in batch if not _ready(r)]
                pending.append((batch, pool.apply_async(_bodies, (tuples, brief))))
                batch = list(islice(rows, BATCH))
            done, result = pending.popleft()
            bodies = iter(result.get())
            for raw in done:
                body = None if _ready(raw) else next(bodies)
                if body is None:
                    # a stored rendering, or the skip path: framed or reported by the parent, in order
                    yield writer.record_raw(raw)
                else:
                    yield writer.emit(body)
        pool.close()
        pool.join()
    finally:
        pool.terminate()
