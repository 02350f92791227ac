"""Benchmark: the web catalog's pages on the synthetic catalog (SQLite).

Server time is measured by calling the WSGI application in this process (no HTTP): a search
page with three facets and counts, a record page the first time it is shown (six citations
rendered by citeproc-py) and again (citations kept per content hash). References in the same
run: the search model alone (`run_search`, what the page adds is templates and links) and the
JSON API's record answer (the same store read, no templates, no citations).

Then the real `harvester serve` (waitress, 8 threads) in its own process, and 16 clients
browsing over loopback (a search, a facet click, a record page, sometimes /changes) for
`--load-seconds`: requests per second and every answer that is not 200/303, or a failed request,
counted as an error.

    python bench/web.py [--size 100000] [--load-seconds 30] [--clients 16]
"""

from __future__ import annotations

import argparse
import io
import random
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
from common import ROOT, Results, met, synthetic_catalog

SEARCH = "q=conversation&facet=language:deu&facet=decade:1990s&facet=has_text:yes"


def call(app: Any, path: str, query: str = "") -> tuple[int, float]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8080", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "SCRIPT_NAME": ""}
    status: list[int] = []
    started = time.perf_counter()
    b"".join(app(environ, lambda s, h, e=None: status.append(int(s.split()[0]))))
    return status[0], (time.perf_counter() - started) * 1000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def browse(base: str, ids: list[int], deadline: float, counts: dict[str, int], lock: threading.Lock) -> None:
    rng = random.Random()
    words = ["conversation", "kohl", "telegram", "stalin", "nato", "\"prime minister\"", "minist*", "zhou"]
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        while time.monotonic() < deadline:
            paths = [f"/?q={rng.choice(words)}", f"/?{SEARCH}", f"/?facet=decade:1990s&page={rng.randint(1, 50)}",
                     f"/records/{rng.choice(ids)}", f"/records/{rng.choice(ids)}"]
            if rng.random() < 0.1:
                paths.append("/changes")
            for path in paths:
                try:
                    status = client.get(path).status_code
                    ok = status in (200, 303)
                except httpx.HTTPError:
                    ok = False
                with lock:
                    counts["requests"] += 1
                    counts["errors"] += 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--load-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    path = synthetic_catalog(args.size)

    from catalog.search import SearchParams, run_search
    from catalog.store import open_store
    from catalog.web.api import create_api_app
    from catalog.web.app import create_web_app

    res = Results("web", f"11. Web catalog: {args.size:,} records (SQLite)")
    store = open_store(str(path), mode="read")  # as `harvester serve` opens it
    try:
        app = create_web_app(store, api_app=create_api_app(store))
        ids = random.Random(7).sample(store.record_ids(include_deleted=False), args.samples)
        params = SearchParams.from_query_string(SEARCH)
        canonical = params.query_string()  # the page redirects other spellings of the same search
        status, _ = call(app, "/", canonical)
        assert status == 200, status
        total = run_search(store, params).total
        page, bare = [], []
        for _ in range(args.samples):
            page.append(call(app, "/", canonical)[1])
            started = time.perf_counter()
            run_search(store, params)
            bare.append((time.perf_counter() - started) * 1000)
        cold, warm, api = [], [], []
        for rid in ids:
            status, ms = call(app, f"/records/{rid}")
            assert status == 200, (rid, status)
            cold.append(ms)
            warm.append(call(app, f"/records/{rid}")[1])
            api.append(call(app, f"/api/records/{rid}")[1])
        res.table(f"Server time in this process, {args.samples} requests each (ms)",
                  ["what", "median", "p95", "target", "reference", "ref. p95", "ratio (p95)"], [
                      [f"search page, 3 facets + counts ({total} hits)", statistics.median(page), p95(page),
                       met(p95(page) <= 50, "p95 > 50 ms"), "run_search alone", p95(bare), p95(page) / p95(bare)],
                      ["record page, first view (6 citations rendered)", statistics.median(cold), p95(cold),
                       met(p95(cold) <= 30, "p95 > 30 ms"), "JSON API record", p95(api), p95(cold) / p95(api)],
                      ["record page, seen before (citations kept)", statistics.median(warm), p95(warm),
                       met(p95(warm) <= 30, "p95 > 30 ms"), "JSON API record", p95(api), p95(warm) / p95(api)],
                  ])
    finally:
        store.close()

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "harvester", "--db", str(path), "serve", "--port", str(port),
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
        deadline = time.monotonic() + args.load_seconds
        threads = [threading.Thread(target=browse, args=(base, ids, deadline, counts, lock))
                   for _ in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    res.table(f"{args.clients} clients browsing for {args.load_seconds:g} s over loopback (harvester serve, 8 threads)",
              ["requests", "requests/s", "errors", "target"],
              [[counts["requests"], counts["requests"] / elapsed, counts["errors"],
                met(counts["errors"] == 0, f"{counts['errors']} errors")]])
    res.note("Record pages of the load are drawn from the same sample, so most are seen before (citations kept).")
    res.note(f"Search: {SEARCH!r}.")
    res.save()


if __name__ == "__main__":
    main()
