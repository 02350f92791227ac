"""Benchmark 8, search (issue 12): the search model and the JSON API, SQLite and PostgreSQL side by side.

At `--size` synthetic records (default 100,000; bench/common.py's cached catalog, copied into
a throw-away PostgreSQL cluster by copy-catalog's code path, `--pg-size` to fill a smaller one):

1. Server time of a search through `catalog.search.run_search` (the page the web and the API
   answer: hits, snippets, counts for every facet family), in process, p50/p95 of `--rounds`,
   for words + three facets, three facets alone, one common word alone and with three facets
   (which leave a twentieth of its matches to rank); beside it, in the same
   run and on the same catalog, the bare full-text query (the same words through the store,
   no facets, no counts, no snippets). The ratio is the figure; the goal is p95 <= 50 ms.
2. Over HTTP (the API app on waitress in a child process, loopback, keep-alive): /api/search
   with three facets, and /api/records/<id> for random records (goal p95 <= 30 ms), beside
   /api/openapi.yaml (a static answer: what waitress and HTTP cost alone).

    python bench/search.py [--size 100000] [--pg-size N] [--rounds 200] [--no-pg]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backends import bench_targets
from common import ROOT, Results, met
from oai import Proc, free_port

QUERIES: dict[str, dict[str, Any]] = {
    # words + three facets: what a reader narrowing a search sends
    "words + 3 facets": {"q": "kohl", "facets": (("language", "German"), ("place", "Germany"), ("decade", "1990s"))},
    "3 facets, no words": {"facets": (("language", "Russian"), ("type", "Cable"), ("has_scan", "yes"))},
    "one common word": {"q": "the"},
    # the facets leave a twentieth of the word's matches: only those are ranked
    "common word + 3 facets": {"q": "the", "facets": (("language", "Russian"), ("type", "Cable"), ("has_scan", "yes"))},
    "phrase + prefix": {"q": '"foreign ministry" jap*'},
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return 1000 * values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def timed(work: Callable[[], object], rounds: int, cpu: list[float] | None = None) -> list[float]:
    """Wall times of `rounds` calls (after one to warm caches); their CPU times into `cpu`."""
    work()  # warm: caches, the first connection
    out = []
    for _ in range(rounds):
        started, used = time.perf_counter(), time.process_time()
        work()
        out.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - used)
    return out


def in_process(url: str, rounds: int, sql_rounds: int) -> tuple[list[list[Any]], float]:
    """Each query through run_search from the snapshot in memory (what `harvester serve` answers
    with), beside the bare FTS query and, for `sql_rounds`, run_search from SQL (what it answers with
    before its first snapshot, and after a write once the snapshot is too old); and the snapshot's build time."""
    from catalog.search import SearchParams, parse_text, run_search
    from catalog.search.memory import keep_in_memory
    from catalog.search.run import memory_of
    from catalog.store import SearchQuery, open_store

    rows = []
    with open_store(url, mode="read") as store:
        started = time.perf_counter()
        memory = keep_in_memory(store, background=False)
        built = time.perf_counter() - started
        snapshot = memory.snapshot
        assert snapshot is not None
        for name, spec in QUERIES.items():
            params = SearchParams(**spec)
            page = run_search(store, params)
            full_cpu: list[float] = []
            cold_cpu: list[float] = []
            full = timed(lambda p=params: run_search(store, p), rounds, full_cpu)  # type: ignore[misc]

            def first(p: SearchParams = params) -> None:
                snapshot.forget_texts()  # the first search for these words since the catalog changed
                run_search(store, p)

            cold = timed(first, rounds, cold_cpu)
            terms = parse_text(params.q)
            if terms:
                bare_query = SearchQuery(terms=terms, facet_families=(), limit=20)
                bare = timed(lambda q=bare_query: store.search(q), rounds)  # type: ignore[misc]
                listed = timed(lambda t=terms: store.text_match_ids(t), rounds)  # type: ignore[misc]
                words = timed(lambda t=terms: store.text_matches(t, ranked=True), rounds)  # type: ignore[misc]
                bare_p95: float | str = pct(bare, 0.95)
                listed_p95: float | str = pct(listed, 0.95)
                words_p95: float | str = pct(words, 0.95)
                ratio = f"{pct(cold, 0.95) / pct(bare, 0.95):.2f}x / {pct(full, 0.95) / pct(bare, 0.95):.2f}x"
            else:
                bare_p95, listed_p95, words_p95, ratio = "-", "-", "-", "-"
            memory.snapshot, kept = None, memory.snapshot  # the SQL path: no snapshot (as at start-up)
            memory.min_interval = float("inf")
            sql = timed(lambda p=params: run_search(store, p), sql_rounds)  # type: ignore[misc]
            memory.snapshot = kept
            assert memory_of(store) is memory and memory.current(store) is kept
            rows.append([name, page.total, pct(cold, 0.5), pct(cold, 0.95), pct(cold_cpu, 0.95), pct(full, 0.5),
                         pct(full, 0.95), pct(full_cpu, 0.95),
                         bare_p95, ratio, listed_p95, words_p95, pct(sql, 0.95),
                         "<= 50 ms: " + met(pct(cold, 0.95) <= 50) + " (first) / " + met(pct(full, 0.95) <= 50)])
    return rows, built


def serve_api(url: str, port: int) -> None:
    """Child: the JSON API app on waitress (as `harvester serve` runs its apps)."""
    import waitress

    from catalog.search.memory import keep_in_memory
    from catalog.store import open_store
    from catalog.web.api import create_api_app

    store = open_store(url, mode="read")
    keep_in_memory(store, background=False)  # as `harvester serve` does (there in the background)
    waitress.serve(create_api_app(store), host="127.0.0.1", port=port, threads=4, _quiet=True)


def over_http(url: str, rounds: int) -> list[list[Any]]:
    from catalog.search import SearchParams
    from catalog.store import open_store

    with open_store(url, mode="read") as store:
        ids = store.record_ids(include_deleted=False)
    rng = random.Random(12)
    port = free_port()
    server = Proc([sys.executable, __file__, "--serve-api", url, str(port)], port,
                  env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def get(path: str) -> None:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")

        search = "/api/search?" + SearchParams(**QUERIES["words + 3 facets"]).query_string()
        static = timed(lambda: get("/api/openapi.yaml"), rounds)
        found = timed(lambda: get(search), rounds)
        records = timed(lambda: get(f"/api/records/{rng.choice(ids)}"), rounds)
        conn.close()
    finally:
        server.stop()
    return [
        ["/api/openapi.yaml (static reference)", pct(static, 0.5), pct(static, 0.95), "-"],
        ["/api/search, words + 3 facets", pct(found, 0.5), pct(found, 0.95),
         "<= 50 ms: " + met(pct(found, 0.95) <= 50)],
        ["/api/records/<random id>", pct(records, 0.5), pct(records, 0.95),
         "<= 30 ms: " + met(pct(records, 0.95) <= 30)],
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--pg-size", type=int, default=None, help="records in the PostgreSQL catalog (default --size)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sql-rounds", type=int, default=5, help="rounds of the SQL path (seconds each)")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--serve-api", nargs=2)
    args = parser.parse_args()
    if args.serve_api:
        return serve_api(args.serve_api[0], int(args.serve_api[1]))

    res = Results("search", f"10. Search and the JSON API ({args.size:,} records)")
    searches: list[list[Any]] = []
    http_rows: list[list[Any]] = []
    with contextlib.ExitStack() as stack:
        targets = bench_targets(stack, res, args.size, args.pg_size, postgres=not args.no_pg)
        for name, url in targets.items():
            found, built = in_process(url, args.rounds, args.sql_rounds)
            searches += [[name, *row] for row in found]
            res.note(f"{name}: the search snapshot in memory built in {built:.1f} s")
            http_rows += [[name, *row] for row in over_http(url, args.rounds)]
    res.table(f"run_search in process (hits, snippets, counts of all 11 facet families), {args.rounds} rounds "
              f"({args.sql_rounds} from SQL)",
              ["catalog", "search", "matches", "first p50 ms", "first p95 ms", "first p95 CPU ms", "again p50 ms",
               "again p95 ms", "again p95 CPU ms",
               "bare FTS p95 ms", "p95 / bare (first / again)", "match IDs p95 ms", "rank all p95 ms",
               "from SQL p95 ms", "target"],
              searches)
    res.table(f"JSON API over loopback HTTP (waitress, keep-alive, one client), {args.rounds} requests each",
              ["catalog", "request", "p50 ms", "p95 ms", "target"], http_rows)
    res.note("run_search answers from the snapshot in memory (catalog.search.memory), as `harvester serve` "
             "does while the catalog is unchanged; 'from SQL' is the same search without it (what a server "
             "answers with before its first snapshot and after a write once it is over oai.search_stale_seconds "
             "old, and the CLI always). 'first': the first search "
             "for these words since the snapshot was built (the text matches asked of the store); 'again': the "
             "same words again, as paging or a click on a facet sends them (the snapshot keeps the last 64 "
             "searches' text matches with the ranks asked so far). A first search asks the store for every "
             "matching Record ID unranked, as one string ('match IDs', store.text_match_ids), and then ranks "
             "only the matches its facets and dates leave, and only when it shows a page ('rank all' is the "
             "cost when none is left out: store.text_matches, FTS5's bm25 or ts_rank of every match, ~2 µs a "
             "row on SQLite; the facets of 'words + 3 facets' leave every match of `kohl` in this synthetic catalog, "
             "those of 'common word + 3 facets' a twentieth). "
             "'bare FTS' is the same words through store.search without facet "
             "counts, hits or snippets: "
             "count(*) and one page of Record IDs. 'CPU': the process's CPU time per search, the part that the "
             "other work on this shared machine does not add to. The synthetic records are clones of the 21 fixture "
             "documents, so every facet value and word is shared by ~1/21 of the catalog or more (a hard case "
             "for counts).")
    load = os.getloadavg()
    res.note(f"Load average at the end of the run: {load[0]:.1f} (1 min), {load[2]:.1f} (15 min) on "
             f"{os.cpu_count()} cores: other work shares the machine, so wall times exceed the CPU times.")
    res.save()


if __name__ == "__main__":
    main()
