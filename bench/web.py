"""Benchmark: the web catalog's pages on the synthetic catalog, SQLite and PostgreSQL.

Server time is measured by calling the WSGI application in this process (no HTTP), with a new
application per catalog (nothing kept from an earlier page): a search page with three facets and
counts (reference: the search model alone, `run_search`); a record page the first time it is shown
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


def in_process(name: str, url: str, samples: int, search_samples: int) -> list[list[Any]]:
    """The server time of each page (rows of the first table) on one catalog."""
    from catalog.search import SearchParams, run_search
    from catalog.store import open_store
    from catalog.web.api import create_api_app
    from catalog.web.app import create_web_app

    store = open_store(url, mode="read")  # as `harvester serve` opens it
    try:
        app = create_web_app(store, api_app=create_api_app(store))
        ids = random.Random(7).sample(store.record_ids(include_deleted=False), samples)
        params = SearchParams.from_query_string(SEARCH)
        canonical = params.query_string()  # the page redirects other spellings of the same search
        status, _, _ = call(app, "/", canonical)
        assert status == 200, status
        total = run_search(store, params).total
        page, bare = [], []
        for _ in range(search_samples):
            page.append(call(app, "/", canonical)[1])
            started = time.perf_counter()
            run_search(store, params)
            bare.append((time.perf_counter() - started) * 1000)
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
    ref = p95(api)
    return [
        [name, f"search page, 3 facets + counts ({total} hits)", statistics.median(page), p95(page),
         met(p95(page) <= 50, "p95 > 50 ms"), "run_search alone", p95(bare), p95(page) / p95(bare)],
        [name, "record page, first view (house citation; 5 styles linked)", statistics.median(cold), p95(cold),
         met(p95(cold) <= 30, "p95 > 30 ms"), "JSON API record", ref, p95(cold) / ref],
        [name, "one citeproc-py style, first time (/records/<id>/citations/<style>)", statistics.median(one_style),
         p95(one_style), "-", "JSON API record", ref, p95(one_style) / ref],
        [name, "first view + its 5 fetched styles (server time summed)", statistics.median(all_styles),
         p95(all_styles), "-", "JSON API record", ref, p95(all_styles) / ref],
        [name, "record page, seen before (all 6 styles kept, shown at once)", statistics.median(warm), p95(warm),
         met(p95(warm) <= 30, "p95 > 30 ms"), "JSON API record", ref, p95(warm) / ref],
    ]


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
    parser.add_argument("--search-samples", type=int, default=20)
    args = parser.parse_args()

    from catalog.store import open_store

    res = Results("web", f"11. Web catalog: {args.size:,} records")
    rows: list[list[Any]] = []
    load_rows: list[list[Any]] = []
    with contextlib.ExitStack() as stack:
        targets = bench_targets(stack, res, args.size, args.pg_size, sqlite=not args.no_sqlite, postgres=not args.no_pg)
        for name, url in targets.items():
            rows += in_process(name, url, args.samples, args.search_samples)
            with open_store(url, mode="read") as store:
                ids = random.Random(7).sample(store.record_ids(include_deleted=False), args.samples)
            requests, rate, errors, kinds = load(url, ids, args.load_seconds, args.clients)
            load_rows.append([name, requests, rate, errors, kinds, met(errors == 0, f"{errors} errors")])
    res.table(f"Server time in this process, a new application per catalog: {args.samples} records "
              f"({args.search_samples} searches) (ms)",
              ["catalog", "what", "median", "p95", "target", "reference", "ref. p95", "ratio (p95)"], rows)
    res.table(f"{args.clients} clients browsing for {args.load_seconds:g} s over loopback (harvester serve, "
              "8 threads; each record page followed by the citations its script fetches)",
              ["catalog", "requests", "requests/s", "errors", "errors by page", "target"], load_rows)
    res.note(f"The load's record pages are drawn from a sample of {args.samples} records, so as the run goes "
             "on the server keeps more and more of their citations (shown at once, fewer fetches).")
    res.note(f"Search: {SEARCH!r}.")
    res.save()


if __name__ == "__main__":
    main()
