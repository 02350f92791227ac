"""Benchmark 13: the web catalog's searches while another process writes into the catalog.

A sync writes a record every second or so for hours into the catalog that `harvester serve`
reads. Every write moves the catalog's search stamp, so the search snapshot in memory is out of
date again as soon as a new one is built. This measures the search page (the web application
called in this process, as bench/web.py does) on a copy of the synthetic SQLite catalog while a
writer process upserts a changed record every `--every` seconds, two ways, one after the other:

- as `harvester serve` answers by default: from the last snapshot while it is at most
  `oai.search_stale_seconds` (60 s) old (catalog.search.memory, `max_stale`);
- exact (`search_stale_seconds = 0`): from SQL whenever the snapshot is out of date.

Reference, same run: the same searches before the writer starts (the snapshot up to date).
Each search is the first for its words on its snapshot (`forget_texts` before it): the worst case.

    python bench/stale.py [--size 100000] [--seconds 90] [--every 1.0]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Results, copy_catalog, met, synthetic_catalog
from search import QUERIES, pct
from web import call

STALE_SECONDS = 60.0  # oai.search_stale_seconds' default


def write(path: str, seconds: float, every: float) -> None:
    """The writer process: upsert a changed record every `every` seconds for `seconds`."""
    from catalog.store import open_store

    store = open_store(path)
    ids = store.record_ids(include_deleted=False)
    rng = random.Random(13)
    end = time.monotonic() + seconds
    written = 0
    while time.monotonic() < end:
        stored = store.get(rng.choice(ids))
        assert stored is not None
        record = stored.record
        store.upsert(record.model_copy(update={"summary": f"{record.summary or ''} (revised {written})"}))
        written += 1
        time.sleep(every)
    store.close()
    print(written)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--quiet-searches", type=int, default=40)
    parser.add_argument("--write", nargs=3)
    args = parser.parse_args()
    if args.write:
        return write(args.write[0], float(args.write[1]), float(args.write[2]))

    from catalog.search import SearchParams
    from catalog.search.memory import keep_in_memory
    from catalog.store import open_store
    from catalog.web.api import create_api_app
    from catalog.web.app import create_web_app

    res = Results("stale", f"13. Searches while another process writes ({args.size:,} records, SQLite)")
    searches = [SearchParams(**spec).query_string() for name, spec in QUERIES.items() if spec.get("facets")]
    with tempfile.TemporaryDirectory(dir=str(ROOT / "bench" / ".cache")) as tmp:
        started = time.perf_counter()
        path = copy_catalog(synthetic_catalog(args.size), Path(tmp) / "catalog.db")
        res.note(f"The {args.size:,}-record catalog copied in {time.perf_counter() - started:.0f} s.")
        # Two servers' stores on the one catalog, each with its own snapshot: one answers as `harvester
        # serve` does by default, the other exactly; each is searched only in its own phase.
        stores = {mode: open_store(path, mode="read") for mode in ("default", "exact")}  # as serve opens it
        runs: dict[str, list[tuple[float, bool]]] = {}
        built: dict[str, int] = {}
        ages: list[float] = []
        cpu: dict[str, float] = {}
        written: dict[str, int] = {}
        try:
            for mode, store in stores.items():
                app = create_web_app(store, api_app=create_api_app(store))
                max_stale = STALE_SECONDS if mode == "default" else 0.0
                memory = keep_in_memory(store, background=True, max_stale=max_stale)  # min_interval: serve's 5 s
                memory.refresh(store, wait=True)
                call(app, "/", searches[0])  # the first page of a process compiles the templates
                snapshots: list[object] = [memory.snapshot]

                def one(query: str, memory: Any = memory, store: Any = store, app: Any = app,
                        snapshots: list[object] = snapshots) -> tuple[float, bool]:
                    snapshot = memory.current(store)  # None: this search answers from SQL
                    if snapshot is not None:
                        snapshot.forget_texts()
                    if memory.snapshot is not snapshots[-1]:  # the newest built, up to date or not
                        snapshots.append(memory.snapshot)
                    status, ms, _ = call(app, "/", query)
                    assert status == 200, (query, status)
                    return ms, snapshot is not None

                if mode == "default":  # the reference: no writer yet, the snapshot up to date
                    runs["quiet"] = [one(searches[i % len(searches)]) for i in range(args.quiet_searches)]
                writer = subprocess.Popen([sys.executable, __file__, "--write", str(path), str(args.seconds),
                                           str(args.every)], stdout=subprocess.PIPE, text=True,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)})
                runs[mode] = []
                started_cpu = time.process_time()
                i = 0
                while writer.poll() is None:
                    runs[mode].append(one(searches[i % len(searches)]))
                    snapshot = memory.snapshot
                    if mode == "default" and runs[mode][-1][1] and snapshot is not None:
                        ages.append(time.monotonic() - snapshot.read_at)
                    i += 1
                cpu[mode] = time.process_time() - started_cpu
                written[mode] = int((writer.communicate()[0] or "0").strip() or 0)
                built[mode] = len(snapshots) - 1
                memory.join()
        finally:
            for store in stores.values():
                store.close()
    quiet, default, exact = runs["quiet"], runs["default"], runs["exact"]

    def ms(runs: list[tuple[float, bool]], q: float) -> float:
        return pct([m for m, _ in runs], q) / 1000  # pct takes seconds; these are ms

    def row(name: str, runs: list[tuple[float, bool]], target: str) -> list[Any]:
        return [name, len(runs), ms(runs, 0.5), ms(runs, 0.95), sum(1 for _, s in runs if s), target]

    default_p95 = ms(default, 0.95)
    res.table(f"The search page (3 facets and counts, first search for its words), a writer committing a record "
              f"every {args.every:g} s for {args.seconds:.0f} s",
              ["what", "searches", "p50 ms", "p95 ms", "answered from a snapshot", "target"],
              [row("reference: no writer, the snapshot up to date", quiet, "-"),
               row(f"writer; serve's default (a snapshot at most {STALE_SECONDS:.0f} s old answers)", default,
                   "<= 50 ms: " + met(default_p95 <= 50)),
               row("writer; exact (search_stale_seconds = 0: SQL while the snapshot is out of date)", exact, "-")])
    res.note(f"Each way ran {args.seconds:.0f} s beside its own writer ({written['default']} and {written['exact']} "
             f"records written), one after the other. Snapshots built meanwhile: {built['default']} by default "
             f"(the next once the last is {STALE_SECONDS / 2:.0f} s old), {built['exact']} exact (one every 5 s at "
             f"most, each out of date at once, so searches go on answering from SQL); the oldest snapshot "
             f"that answered was {max(ages, default=0):.1f} s old. This process's CPU (searches and snapshot "
             f"builds): {cpu['default']:.1f} s by default, {cpu['exact']:.1f} s exact.")
    res.note(f"Searches rotate over {len(searches)} of benchmark 10's queries with facets: "
             + "; ".join(searches) + f". Load average (1 min) at the end: {os.getloadavg()[0]:.1f} on "
             f"{os.cpu_count()} cores shared with other work: absolute times are inflated, the two ways equally.")
    res.save()


if __name__ == "__main__":
    main()
