"""Benchmark: the web catalog's pages on the synthetic catalog, SQLite and PostgreSQL.

Server time is measured by calling the WSGI application in this process (no HTTP), with a new
application per catalog (nothing kept from an earlier page) whose search snapshot in memory is
built first, as `harvester serve` builds it at start-up (catalog.search.memory.keep_in_memory;
there in a background thread): a search page with three facets and counts, the first time its
words are searched (the snapshot's kept text matches dropped before each: `forget_texts`) and
again at once (a page link or facet click), with the search model alone (`run_search`) the same
two ways, and a few times from SQL with the snapshot set aside (what a server answers with before
its snapshot is built, and after a write once its snapshot is over `oai.search_stale_seconds` old;
benchmark 13, bench/stale.py, measures the searches beside a writer); reference: the bare full-text query,
same run. Then a record page the first time it is shown
(the house citation rendered, the five citeproc-py styles linked), each of those five citations
the first time it is asked for (what the page's script fetches: one style rendered by citeproc-py),
and the record page again (every style kept by then, shown at once). Reference for the record
figures: the JSON API's record answer (the same store read, no templates, no citations), in the
same run, record by record.

Then the real `harvester serve` (waitress, 8 threads) in its own process, and 16 clients
browsing over loopback as a browser with JavaScript would (a search, a facet click, a page of
results, record pages with the citations each page's script fetches, sometimes /changes) for
`--load-seconds`: requests per second and every answer that is not 200/303, or a failed request,
counted as an error.

PostgreSQL runs in a throw-away cluster (tests/support/postgres.py) filled from the SQLite catalog
by copy-catalog's code path (bench/backends.py fill_postgres); `--pg-size` fills a smaller one.

    python bench/web.py [--size 100000] [--pg-size N] [--no-pg | --no-sqlite] [--load-seconds 30] [--clients 16]
        [--search-samples 40] [--sql-samples 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backends import bench_targets
from common import ROOT, Results, met

SEARCH = "q=conversation&facet=language:deu&facet=decade:1990s&facet=has_text:yes"
_PENDING = re.compile(r'data-load="([^"]+)"')  # a citation the record page links to (copy.js fetches it)


def call(app: Any, path: str, query: str = "") -> tuple[int, float, bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8080", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "SCRIPT_NAME": ""}
    status: list[int] = []
    started = time.perf_counter()
    body = b"".join(app(environ, lambda s, h, e=None: status.append(int(s.split()[0]))))
    return status[0], (time.perf_counter() - started) * 1000, body


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_process(name: str, url: str, samples: int, search_samples: int,
               sql_samples: int) -> tuple[list[list[Any]], float]:
    """The server time of each page (rows of the first table) on one catalog, and the search
    snapshot's build time."""
    from catalog.search import SearchParams, parse_text, run_search
    from catalog.search.memory import keep_in_memory
    from catalog.search.run import memory_of
    from catalog.store import SearchQuery, open_store
    from catalog.web.api import create_api_app
    from catalog.web.app import create_web_app

    store = open_store(url, mode="read")  # as `harvester serve` opens it
    try:
        app = create_web_app(store, api_app=create_api_app(store))
        # As `harvester serve` does at start-up (there in a background thread, searches answering
        # from SQL until it is built): the search snapshot in memory.
        started = time.perf_counter()
        memory = keep_in_memory(store, background=False)
        built = time.perf_counter() - started
        snapshot = memory.snapshot
        assert snapshot is not None
        ids = random.Random(7).sample(store.record_ids(include_deleted=False), samples)
        params = SearchParams.from_query_string(SEARCH)
        canonical = params.query_string()  # the page redirects other spellings of the same search
        status, _, _ = call(app, "/", canonical)  # the first page of a process compiles the templates
        assert status == 200, status
        total = run_search(store, params).total
        bare_query = SearchQuery(terms=parse_text(params.q), facet_families=(), limit=20)

        def timed_ms(work: Any) -> float:
            started = time.perf_counter()
            work()
            return (time.perf_counter() - started) * 1000

        first, again, first_model, again_model, bare = [], [], [], [], []
        for _ in range(search_samples):
            snapshot.forget_texts()  # the first search for these words since start-up (or a write)
            first.append(call(app, "/", canonical)[1])
            again.append(call(app, "/", canonical)[1])  # a page link or facet click: its words kept
            snapshot.forget_texts()
            first_model.append(timed_ms(lambda: run_search(store, params)))
            again_model.append(timed_ms(lambda: run_search(store, params)))
            bare.append(timed_ms(lambda: store.search(bare_query)))
        # No snapshot: what a server answers with before its first is built, and after a write once its
        # snapshot is too old (what this benchmark measured before the snapshot existed).
        memory.snapshot, kept = None, memory.snapshot
        memory.min_interval = float("inf")  # no new build meanwhile
        sql = [call(app, "/", canonical)[1] for _ in range(sql_samples)]
        memory.snapshot = kept
        assert memory_of(store) is memory and memory.current(store) is kept
        # one record outside the sample first: the first page of a process compiles the templates and
        # parses the styles (a one-off at start-up, not the cost of a record's first view)
        warmup = next(r for r in store.record_ids(include_deleted=False)[:1000] if r not in ids)
        call(app, f"/api/records/{warmup}")
        for link in [f"/records/{warmup}", *_PENDING.findall(call(app, f"/records/{warmup}")[2].decode())]:
            call(app, link)
        cold, one_style, all_styles, warm, api = [], [], [], [], []
        for rid in ids:
            api.append(call(app, f"/api/records/{rid}")[1])
            status, ms, body = call(app, f"/records/{rid}")
            assert status == 200, (rid, status)
            cold.append(ms)
            spent = ms
            for link in _PENDING.findall(body.decode()):
                status, ms, _ = call(app, link)
                assert status == 200, (link, status)
                one_style.append(ms)
                spent += ms
            all_styles.append(spent)
            warm.append(call(app, f"/records/{rid}")[1])
    finally:
        store.close()
    ref, ref_bare = p95(api), p95(bare)
    return [
        [name, f"search page, 3 facets + counts ({total:,} hits), first search for its words (snapshot built)",
         statistics.median(first), p95(first), met(p95(first) <= 50, "p95 > 50 ms"), "bare FTS query", ref_bare,
         p95(first) / ref_bare],
        [name, "run_search alone, first search for its words", statistics.median(first_model), p95(first_model),
         "-", "bare FTS query", ref_bare, p95(first_model) / ref_bare],
        [name, "search page again (a page link or facet click: its words kept)", statistics.median(again),
         p95(again), met(p95(again) <= 50, "p95 > 50 ms"), "bare FTS query", ref_bare, p95(again) / ref_bare],
        [name, "run_search alone, again", statistics.median(again_model), p95(again_model), "-",
         "bare FTS query", ref_bare, p95(again_model) / ref_bare],
        [name, "search page from SQL, no snapshot (before the first is built; after a write, once it is too old) "
         f"({sql_samples} searches)", statistics.median(sql), p95(sql), met(p95(sql) <= 50, "p95 > 50 ms"),
         "bare FTS query", ref_bare, p95(sql) / ref_bare],
        [name, "record page, first view (house citation; 5 styles linked)", statistics.median(cold), p95(cold),
         met(p95(cold) <= 30, "p95 > 30 ms"), "JSON API record", ref, p95(cold) / ref],
        [name, "one citeproc-py style, first time (/records/<id>/citations/<style>)", statistics.median(one_style),
         p95(one_style), "-", "JSON API record", ref, p95(one_style) / ref],
        [name, "first view + its 5 fetched styles (server time summed)", statistics.median(all_styles),
         p95(all_styles), "-", "JSON API record", ref, p95(all_styles) / ref],
        [name, "record page, seen before (all 6 styles kept, shown at once)", statistics.median(warm), p95(warm),
         met(p95(warm) <= 30, "p95 > 30 ms"), "JSON API record", ref, p95(warm) / ref],
    ], built


def browse(base: str, ids: list[int], deadline: float, counts: dict[str, int], lock: threading.Lock) -> None:
    rng = random.Random()
    words = ["conversation", "kohl", "telegram", "stalin", "nato", "\"prime minister\"", "minist*", "zhou"]
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        while time.monotonic() < deadline:
            paths = [f"/?q={rng.choice(words)}", f"/?{SEARCH}", f"/?facet=decade:1990s&page={rng.randint(1, 50)}",
                     f"/records/{rng.choice(ids)}", f"/records/{rng.choice(ids)}"]
            if rng.random() < 0.1:
                paths.append("/changes")
            while paths:
                path = paths.pop(0)
                kind = ("citation" if "/citations/" in path else "record" if path.startswith("/records/")
                        else "search" if path.startswith("/?") else path)
                try:
                    resp = client.get(path)
                    ok = resp.status_code in (200, 303)
                    why = f"{kind}: HTTP {resp.status_code}"
                    if ok and path.startswith("/records/") and "/citations/" not in path:
                        paths[:0] = _PENDING.findall(resp.text)  # what the page's script fetches
                except httpx.HTTPError as exc:
                    ok, why = False, f"{kind}: {type(exc).__name__}"
                with lock:
                    counts["requests"] += 1
                    if not ok:
                        counts["errors"] += 1
                        counts[why] = counts.get(why, 0) + 1


def load(db: str, ids: list[int], seconds: float, clients: int) -> tuple[int, float, int, str]:
    """`clients` browsing `harvester serve --db db` for `seconds`: requests, requests/s, errors, their kinds."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "harvester", "--db", db, "serve", "--port", str(port),
                               "--threads", "8"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/changes", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        # The server builds its search snapshot in the background at start-up (searches answer from
        # SQL meanwhile): browsing starts once it answers a repeated search as from the snapshot
        # (well under the ~1 s or more of the SQL path), i.e. in the steady state of a running server.
        ready = time.monotonic() + 120
        while time.monotonic() < ready:
            httpx.get(f"{base}/?{SEARCH}", timeout=60)
            started = time.perf_counter()
            httpx.get(f"{base}/?{SEARCH}", timeout=60)
            if time.perf_counter() - started < 0.3:
                break
        counts = {"requests": 0, "errors": 0}
        lock = threading.Lock()
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=browse, args=(base, ids, deadline, counts, lock)) for _ in range(clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    kinds = ", ".join(f"{k} x{v}" for k, v in counts.items() if k not in ("requests", "errors")) or "-"
    return counts["requests"], counts["requests"] / elapsed, counts["errors"], kinds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--pg-size", type=int, default=None, help="records in the PostgreSQL catalog (default --size)")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only (filled from the SQLite catalog)")
    parser.add_argument("--load-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--samples", type=int, default=200, help="records (each: page, citations, again, API)")
    parser.add_argument("--search-samples", type=int, default=40, help="searches (each: first, again, bare FTS)")
    parser.add_argument("--sql-samples", type=int, default=3, help="searches from SQL (seconds each)")
    args = parser.parse_args()

    from catalog.store import open_store

    res = Results("web", f"11. Web catalog: {args.size:,} records")
    rows: list[list[Any]] = []
    load_rows: list[list[Any]] = []
    with contextlib.ExitStack() as stack:
        targets = bench_targets(stack, res, args.size, args.pg_size, sqlite=not args.no_sqlite, postgres=not args.no_pg)
        for name, url in targets.items():
            found, built = in_process(name, url, args.samples, args.search_samples, args.sql_samples)
            rows += found
            res.note(f"{name}: the search snapshot in memory built in {built:.1f} s (at start-up, as `harvester "
                     "serve` does in the background).")
            with open_store(url, mode="read") as store:
                ids = random.Random(7).sample(store.record_ids(include_deleted=False), args.samples)
            requests, rate, errors, kinds = load(url, ids, args.load_seconds, args.clients)
            load_rows.append([name, requests, rate, errors, kinds, met(errors == 0, f"{errors} errors")])
    res.table(f"Server time in this process, one application per catalog with its search snapshot built as at "
              f"`harvester serve` start-up: {args.samples} records, {args.search_samples} searches (ms)",
              ["catalog", "what", "median", "p95", "target", "reference", "ref. p95", "ratio (p95)"], rows)
    res.table(f"{args.clients} clients browsing for {args.load_seconds:g} s over loopback (harvester serve, "
              "8 threads; each record page followed by the citations its script fetches)",
              ["catalog", "requests", "requests/s", "errors", "errors by page", "target"], load_rows)
    res.note(f"The load's record pages are drawn from a sample of {args.samples} records, so as the run goes "
             "on the server keeps more and more of their citations (shown at once, fewer fetches).")
    res.note(f"Search: {SEARCH!r}. 'first search for its words': the snapshot's kept text matches dropped "
             "before each (`forget_texts`), so the store is asked for the word's matches and for the ranks of "
             "those the facets leave, as on the first search for a word since start-up or since the catalog "
             "changed; 'again': the same search at once after it (paging, a facet click: the words' matches "
             "kept, only the page's records read). 'from SQL': the snapshot set aside, as before the first is "
             "built (a few seconds after start-up), and after a write once the snapshot is over "
             "oai.search_stale_seconds old (benchmark 13); this is what the "
             "benchmark measured before the snapshot existed. Reference: the bare full-text query (the same "
             "words through the store, 20 hits by relevance, no facets, counts or snippets), same run.")
    res.note("The load starts once the server answers a repeated search in under 0.3 s, i.e. with its "
             "snapshot built.")
    res.save()


if __name__ == "__main__":
    main()
