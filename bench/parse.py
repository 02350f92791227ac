"""Benchmark 1, parse: pages per second per core of `reparse` (parse + normalize + validate).

The project figure is a real `harvester.pipeline.reparse` (WARC replay, parse,
normalize, pydantic validation, upsert, record history) over a synthetic archive of
the 21 fixture pages cloned under new Record IDs (each with its redirect, like the
site). Per core = pages / CPU seconds of the process. The reference, measured in the
same run, is lxml alone parsing the same bytes (`lxml.html.document_fromstring`):
the bare cost of reading the HTML. A breakdown (parse_page, build_record) shows where
the time goes. Target: the archive's 16,800 pages re-parsed in under a minute on 2 cores.

    python bench/parse.py [--copies 24]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, FIXTURE_WARC, Results, met, settings_for  # noqa: E402

ARCHIVE_PAGES = 16_800
TARGET_SECONDS = 60
CORES = 2


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def fixture_pages() -> list:
    """(final URL, RecordedResponse) of every fixture document page (status 200)."""
    from harvester.warc import WarcIndex

    index = WarcIndex(FIXTURE_WARC)
    pages = []
    for url in index.urls():
        response = index.get(url)
        if response.status == 200:
            pages.append((url, response))
    return pages


def synthetic_archive(copies: int) -> Path:
    """bench/.cache/parse-warc-<copies>/: each fixture document under `copies` new Record IDs."""
    import re

    from harvester.warc import RecordedRequest, RecordedResponse, WarcIndex, WarcWriter

    folder = CACHE / f"parse-warc-{copies}"
    if folder.exists():
        return folder
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    index = WarcIndex(FIXTURE_WARC)
    redirects = {}
    for url in index.urls():
        response = index.get(url)
        match = re.search(r"/document/(\d+)$", url)
        if match and response.status in (301, 302):
            redirects[int(match.group(1))] = (url, response)
    n = 0
    with WarcWriter(tmp / "bench.warc.gz", software="wcda-harvester-bench") as writer:
        for copy in range(copies):
            for rid, (url, redirect) in sorted(redirects.items()):
                base = url.split("/document/")[0]
                target = redirect.header("Location") or ""
                final = target if target.startswith("http") else base + target
                page = index.get(final)
                new_id = 2_000_000 + copy * 1000 + (rid % 1000)
                new_final = f"{final}-{new_id}"
                headers = [(k, (new_final if k.lower() == "location" else v)) for k, v in redirect.headers]
                req = RecordedRequest("GET", f"{base}/document/{new_id}", [])
                writer.write_exchange(req, RecordedResponse(url=req.url, status=redirect.status, reason=redirect.reason,
                                                            headers=headers, body=redirect.body,
                                                            fetched_at=redirect.fetched_at))
                writer.write_exchange(RecordedRequest("GET", new_final, []),
                                      RecordedResponse(url=new_final, status=page.status, reason=page.reason,
                                                       headers=page.headers, body=page.body,
                                                       fetched_at=page.fetched_at))
                n += 1
    tmp.rename(folder)
    print(f"built {folder.name}: {n} documents", flush=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=20, help="rounds over the fixture pages for the loops")
    args = parser.parse_args()

    import lxml.html

    from catalog.store import SQLiteStore
    from harvester.http import FetchResult
    from harvester.normalize import build_record
    from harvester.parse import parse_page
    from harvester.pipeline import provenance_for, reparse

    res = Results("parse", "1. Parse: reparse pages per second per core")
    pages = fixture_pages()
    archive = synthetic_archive(args.copies)

    def loop(fn) -> tuple[float, float, int]:
        w0, c0 = time.perf_counter(), cpu()
        n = 0
        for _ in range(args.rounds):
            for url, response in pages:
                fn(url, response)
                n += 1
        return time.perf_counter() - w0, cpu() - c0, n

    # Reference: lxml alone on the same bytes.
    lx_wall, lx_cpu, lx_n = loop(lambda url, r: lxml.html.document_fromstring(r.body))

    # Breakdown, in-process, one page at a time.
    def do_parse(url, r):
        return parse_page(r.body, record_id=1, final_url=url, content_type=r.header("Content-Type"))

    p_wall, p_cpu, p_n = loop(do_parse)
    parsed = {url: do_parse(url, r) for url, r in pages}
    provs = {url: provenance_for(FetchResult(url, url, r, []), replayed=True) for url, r in pages}

    def do_build(url, r):
        build_record(parsed[url], provs[url], requested_id=1)

    b_wall, b_cpu, b_n = loop(do_build)

    # The project: a real reparse of the synthetic archive into a fresh catalog.
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        settings = settings_for(Path(tmp), storage={"warc_dir": str(archive)})
        store = SQLiteStore(Path(tmp) / "catalog.db")
        w0, c0 = time.perf_counter(), cpu()
        summary = reparse(settings=settings, store=store, source=archive)
        r_wall, r_cpu = time.perf_counter() - w0, cpu() - c0
        store.close()
    counts = summary.counts
    docs = len(summary.outcomes)
    ok = counts["new"] + counts["changed"] + counts["unchanged"] + counts["restored"]

    per_core = docs / r_cpu
    throughput = docs / r_wall
    lx_rate = lx_n / lx_cpu
    full_one = ARCHIVE_PAGES / throughput
    full_two = ARCHIVE_PAGES / (per_core * CORES)
    res.table("Pages per second (CPU-time based per core; wall-clock for the run)",
              ["what", "pages", "pages/s per core", "wall pages/s", "ms per page (CPU)", "vs lxml alone"],
              [["reparse (fetch from WARC, parse, normalize, validate, store)", docs, per_core, throughput,
                1000 * r_cpu / docs, f"{lx_rate / per_core:.0f}x slower"],
               ["  parse_page (bs4 + soupsieve)", p_n, p_n / p_cpu, p_n / p_wall, 1000 * p_cpu / p_n,
                f"{lx_rate / (p_n / p_cpu):.0f}x slower"],
               ["  build_record (normalize + pydantic validation)", b_n, b_n / b_cpu, b_n / b_wall,
                1000 * b_cpu / b_n, "-"],
               ["reference: lxml.html.document_fromstring alone", lx_n, lx_rate, lx_n / lx_wall, 1000 * lx_cpu / lx_n,
                "1x"]])
    res.table(f"Target: {ARCHIVE_PAGES:,} pages re-parsed in under {TARGET_SECONDS} s on {CORES} cores",
              ["projection", "seconds for 16,800 pages", "target"],
              [["reparse as it runs today (one process: the parse holds the GIL, so one core)", full_one,
                met(full_one < TARGET_SECONDS, "bs4 parsing costs ~10 ms of GIL-held CPU a page, so one "
                    "reparse uses one core; see 'where the time goes'")],
               [f"{CORES} cores fully used (per-core rate x {CORES}, e.g. the archive split over {CORES} processes)",
                full_two, met(full_two < TARGET_SECONDS, "even with both cores the per-page CPU cost is too high")]])
    res.note(f"reparse outcomes: {dict(counts)} ({ok} of {docs} stored); each document is 2 WARC responses "
             f"(the /document/<ID> redirect and the page).")
    res.note(f"Fixture pages: {len(pages)}, {sum(len(r.body) for _, r in pages) // len(pages):,} bytes on average; "
             f"loops ran {args.rounds} rounds over them.")
    res.save()


if __name__ == "__main__":
    main()
