"""Benchmark 6, the catalog store: SQLite and PostgreSQL side by side (issue 10).

1. Set-filtered ListRecords page against an unfiltered one (`set=subject`, 100 records
   with bodies, keyset pages at random depths), in process through the store contract,
   at `--size` records (default 100,000), on both backends; the query plans are printed.
2. OAI-PMH while another process writes: `harvester serve` (waitress) answers GetRecord,
   a ListRecords page and a set page, sequentially, for `--seconds`, first with no
   writer (the reference), then while a writer process commits a changed record every
   0.2 s: p50/p99 and the ratio; every non-200 answer (503 "database is locked") counted.
3. After a mass change of `--mass` records (a writer commits them in batches of 1,000),
   the next requests against a normal one.
4. Side by side: the replay harvest of the fixtures, `export jsonl` and `export oai_dc` of
   the whole catalog, and a full OAI-PMH walk (every ListRecords page, token followed).

PostgreSQL runs in a throw-away cluster (tests/support/postgres.py: initdb + pg_ctl on a
unix socket, fsync off as in the tests); the SQLite catalog is the cached synthetic one
(bench/common.py), copied into PostgreSQL with `copy-catalog`'s code path.

    python bench/backends.py [--size 100000] [--seconds 10] [--mass 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, FIXTURE_WARC, ROOT, Results, met, synthetic_catalog
from oai import Proc, free_port, get

UNTIL = "9999-12-31T23:59:59.999999Z"
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")
SET = "subject"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return 1000 * values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def p50(values: list[float]) -> float:
    return 1000 * statistics.median(values)


# -- child: the writer --------------------------------------------------------------------------
def writer(db: str, interval: float, mass: int) -> None:
    """Commit a changed record every `interval` s until killed; or `mass` changes in batches, then exit."""
    from catalog.store import open_store

    store = open_store(db)
    ids = store.record_ids(include_deleted=False)
    rng = random.Random(7)
    n = 0
    if mass:
        for start in range(0, mass, 1000):
            with store.unit_of_work():
                for rid in ids[start:start + 1000]:
                    stored = store.get(rid)
                    assert stored is not None
                    store.upsert(stored.record.model_copy(update={"title": f"{stored.record.title} (mass {rid})"}))
        store.close()
        print(f"mass change of {min(mass, len(ids))} records done", flush=True)
        return
    while True:
        rid = rng.choice(ids)
        stored = store.get(rid)
        assert stored is not None
        n += 1
        with store.unit_of_work():
            store.upsert(stored.record.model_copy(update={"title": f"Changed {n}"}))
            store.log_event(rid, "changed", "bench writer")
        time.sleep(interval)


# -- 1. set page vs unfiltered, in process ----------------------------------------------------------------
def set_vs_unfiltered(url: str, rounds: int) -> dict[str, Any]:
    from catalog.store import open_store

    store = open_store(url, mode="read")
    try:
        rng = random.Random(1)
        all_rows = store.oai_page(None, None, UNTIL, None, 100_000_000, with_body=False)
        set_rows = store.oai_page(SET, None, UNTIL, None, 100_000_000, with_body=False)
        keys_all = [(r.last_changed, r.record_id) for r in rng.sample(all_rows, min(20, len(all_rows)))]
        keys_set = [(r.last_changed, r.record_id) for r in rng.sample(set_rows, min(20, len(set_rows)))]
        out: dict[str, Any] = {"members": len(set_rows), "records": len(all_rows)}
        # Interleaved (unfiltered, set, unfiltered, set…) so that other work on the machine
        # weighs on both the same; one warm-up pass over every key first.
        for label, deep in (("first", False), ("deep", True)):
            times: dict[str, list[float]] = {"unfiltered": [], "set": []}
            for i in range(-len(keys_all), rounds):
                for name, facet, keys in (("unfiltered", None, keys_all), ("set", SET, keys_set)):
                    key = keys[i % len(keys)] if deep else None
                    t = time.perf_counter()
                    page = store.oai_page(facet, None, UNTIL, key, 100, with_body=True)
                    if i >= 0:
                        times[name].append(time.perf_counter() - t)
                    assert len(page) == 100 or deep
            for name, values in times.items():
                out[f"{name} {label}"] = p50(values)
        out["plan"] = store.explain_set_page(SET)
        return out
    finally:
        store.close()


# -- 2./3. latency of a live server ----------------------------------------------------------------------
def paths_for(url: str) -> dict[str, list[str]]:
    from catalog.store import open_store

    store = open_store(url, mode="read")
    try:
        ids = store.record_ids(include_deleted=False)
    finally:
        store.close()
    rng = random.Random(3)
    ident = "oai:digitalarchive.wilsoncenter.org:"
    return {
        "GetRecord": [f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={ident}{rid}"
                      for rid in rng.sample(ids, 200)],
        "ListRecords page": ["/oai?verb=ListRecords&metadataPrefix=oai_dc"],
        f"ListRecords set={SET}": [f"/oai?verb=ListRecords&metadataPrefix=oai_dc&set={SET}"],
    }


Samples = dict[str, list[float]]


def sample(port: int, paths: dict[str, list[str]], seconds: float) -> tuple[Samples, int, dict[str, int]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times: dict[str, list[float]] = {k: [] for k in paths}
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    i = 0
    while time.monotonic() < stop:
        for kind, options in paths.items():
            t = time.perf_counter()
            status, body = get(conn, options[i % len(options)])
            times[kind].append(time.perf_counter() - t)
            if status != 200 or b"<error" in body:
                errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
        i += 1
    conn.close()
    return times, i, errors


def serve(url: str, threads: int = 4) -> Proc:
    port = free_port()
    return Proc([sys.executable, "-c", "from harvester.cli import main; main()", "--db", url, "serve", "--port",
                 str(port), "--threads", str(threads)], port, {**os.environ, "PYTHONPATH": str(ROOT)})


def under_writes(url: str, seconds: float, mass: int) -> dict[str, Any]:
    paths = paths_for(url)
    server = serve(url)
    out: dict[str, Any] = {}
    try:
        sample(server.port, paths, 2.0)  # warm every path once
        quiet, n_quiet, err_quiet = sample(server.port, paths, seconds)
        proc = subprocess.Popen([sys.executable, __file__, "--writer", url, "0.2"], cwd=str(ROOT),
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            time.sleep(1.0)
            busy, n_busy, err_busy = sample(server.port, paths, seconds)
        finally:
            proc.terminate()
            proc.wait(30)
        out["quiet"], out["busy"] = quiet, busy
        out["errors"] = {**err_quiet, **{f"with writer: {k}": v for k, v in err_busy.items()}}
        # 3. a mass change, then the very next requests
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--writer", url, "0", "--mass", str(mass)], cwd=str(ROOT),
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True)
        out["mass_seconds"] = time.perf_counter() - started
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        after: dict[str, float] = {}
        for kind, options in paths.items():
            t = time.perf_counter()
            status, _ = get(conn, options[0])
            after[kind] = time.perf_counter() - t
            if status != 200:
                out["errors"][f"after mass: HTTP {status}"] = 1
        conn.close()
        out["after_mass"] = after
    finally:
        server.stop()
    return out


# -- 4. side by side -----------------------------------------------------------------------------------
def cli(url: str, *args: str, cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harvester", "--db", url, *args], cwd=str(cwd), check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT),
                                             "WCDA_STORAGE__WARC_DIR": str(cwd / "warc")})
    return time.perf_counter() - t


def oai_walk(url: str) -> tuple[int, float]:
    server = serve(url)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        path = "/oai?verb=ListRecords&metadataPrefix=oai_dc"
        n = 0
        started = time.perf_counter()
        while True:
            status, body = get(conn, path)
            assert status == 200, body[:300]
            n += body.count(b"<record>")
            match = _TOKEN.search(body)
            if not match:
                break
            path = "/oai?verb=ListRecords&resumptionToken=" + quote(match.group(1).decode())
        conn.close()
        return n, time.perf_counter() - started
    finally:
        server.stop()


def bench_targets(stack: contextlib.ExitStack, res: Results, size: int, pg_size: int | None, *,
                  sqlite: bool = True, postgres: bool = True) -> dict[str, str]:
    """The catalogs a benchmark runs on, by table label: the cached synthetic SQLite catalog of `size`
    records, and a throw-away PostgreSQL cluster (stopped with `stack`) holding a copy of `pg_size`
    (default `size`) records, filled by copy-catalog's code path."""
    from catalog.store import open_store
    from tests.support.postgres import cluster

    def source(records: int) -> Path:
        catalog = synthetic_catalog(records)
        open_store(catalog).close()  # a cached catalog gets the current schema's migrations first
        return catalog

    targets: dict[str, str] = {}
    if sqlite:
        targets[f"SQLite, {size:,}"] = str(source(size))
    if postgres:
        pg_size = pg_size or size
        pg = stack.enter_context(cluster())
        started = time.perf_counter()
        targets[f"PostgreSQL, {pg_size:,}"] = fill_postgres(pg, source(pg_size))
        res.note(f"PostgreSQL catalog of {pg_size:,} records filled in {time.perf_counter() - started:.0f} s "
                 "(copy-catalog's code path: rows copied, indexes derived)")
    return targets


def fill_postgres(pg: Any, source: Path) -> str:
    """A new database of the cluster holding a copy of the SQLite catalog (copy-catalog's code path)."""
    from catalog.store import open_store

    url: str = pg.create_database("bench")
    with open_store(str(source), mode="read") as src, open_store(url) as dst:
        with dst.unit_of_work():
            dst.clear_meta()
            for table in ("record", "record_event", "sync_run", "sync_item", "sync_queue", "store_meta"):
                for batch in src.copy_rows(table):
                    dst.insert_rows(table, batch)
            dst.after_copy()
            dst.reindex()
        dst.analyze()
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--mass", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--writer", nargs=2)
    parser.add_argument("--only-pages", action="store_true", help="only part 1 (set vs unfiltered pages)")
    parser.add_argument("--pg", action="store_true", help="with --only-pages: PostgreSQL too")
    parser.add_argument("--only-writes", action="store_true",
                        help="only part 2 on SQLite, with a CPU reference: the writer on another catalog")
    args, _ = parser.parse_known_args()
    if args.writer:
        return writer(args.writer[0], float(args.writer[1]), args.mass if "--mass" in sys.argv else 0)

    from tests.support.postgres import cluster

    rows: list[list[Any]] = []
    if args.only_writes:
        res = Results("backends-writes", f"6c. OAI-PMH while another process writes, SQLite, {args.size:,} records")
        rows = []
        work = CACHE / "catalog-bench"
        work.mkdir(parents=True, exist_ok=True)
        served, other = work / "served.db", work / "other.db"
        for path in (served, other):
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            path.write_bytes(synthetic_catalog(args.size).read_bytes())
        paths = paths_for(str(served))
        server = serve(str(served))
        found: dict[str, Samples] = {}
        errors: dict[str, int] = {}
        try:
            sample(server.port, paths, 2.0)
            for phase, target in (("no writer", None), ("writer on another catalog", other),
                                  ("writer on the served catalog", served)):
                proc = None
                if target is not None:
                    proc = subprocess.Popen([sys.executable, __file__, "--writer", str(target), "0.2"], cwd=str(ROOT),
                                            env={**os.environ, "PYTHONPATH": str(ROOT)})
                    time.sleep(1.0)
                try:
                    found[phase], _, err = sample(server.port, paths, args.seconds)
                    errors.update({f"{phase}: {k}": v for k, v in err.items()})
                finally:
                    if proc is not None:
                        proc.terminate()
                        proc.wait(30)
        finally:
            server.stop()
        base, cpu = found["no writer"], found["writer on another catalog"]
        shared = found["writer on the served catalog"]
        for kind in base:
            rows.append([kind, p50(base[kind]), pct(base[kind], 0.99), p50(cpu[kind]), pct(cpu[kind], 0.99),
                         p50(shared[kind]), pct(shared[kind], 0.99), f"{p50(shared[kind]) / p50(base[kind]):.2f}x",
                         f"{p50(shared[kind]) / p50(cpu[kind]):.2f}x",
                         "p50 <= 1.5x: " + met(p50(shared[kind]) <= 1.5 * p50(base[kind]))])
        res.table(f"Sequential requests for {args.seconds:g} s in each phase; the writer commits a changed record "
                  "every 0.2 s", ["request", "p50 ms", "p99 ms", "p50 ms, writer elsewhere", "p99 ms, writer elsewhere",
                            "p50 ms, writer here", "p99 ms, writer here", "vs no writer", "vs writer elsewhere",
                            "target"], rows)
        res.note(f"Answers other than 200: {errors or 'none'}. 'Writer elsewhere' writes to a copy of the catalog: "
                 "the same CPU taken from the 2 shared cores, none of the database shared; it separates what the "
                 "catalog costs readers from what the machine's CPU costs them.")
        res.save()
        return

    if args.only_pages:  # interleaved; PostgreSQL too with --pg (filling it takes ~10 ms a record here)
        res = Results("backends-pages", f"6b. Set page vs unfiltered, {args.size:,} records, interleaved")
        source = synthetic_catalog(args.size)
        targets = {"SQLite": str(source)}
        with contextlib.ExitStack() as stack:
            if args.pg:
                pg = stack.enter_context(cluster())
                targets["PostgreSQL"] = fill_postgres(pg, source)
            for name, url in targets.items():
                r = set_vs_unfiltered(url, args.rounds)
                rows += [[name, d, r[f"unfiltered {d}"], r[f"set {d}"], f"{r[f'set {d}'] / r[f'unfiltered {d}']:.2f}x",
                          "<= 1.5x: " + met(r[f"set {d}"] <= 1.5 * r[f"unfiltered {d}"])] for d in ("first", "deep")]
                res.note(f"{name} plan: " + " / ".join(str(r["plan"]).splitlines()))
        res.table(f"ListRecords page (100 records with bodies) through the store, median of {args.rounds}",
                  ["backend", "page", "unfiltered ms", f"set={SET} ms", "set / unfiltered", "target"], rows)
        res.save()
        return

    rows = []
    res = Results("backends", f"6. Catalog store: SQLite and PostgreSQL side by side ({args.size:,} records)")
    source = synthetic_catalog(args.size)
    work = CACHE / "catalog-bench"
    work.mkdir(parents=True, exist_ok=True)
    sqlite_db = work / "catalog.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(sqlite_db) + suffix).unlink(missing_ok=True)
    sqlite_db.write_bytes(source.read_bytes())  # the writer changes it: a copy per run
    with cluster() as pg:
        started = time.perf_counter()
        pg_url = fill_postgres(pg, sqlite_db)
        res.note(f"PostgreSQL catalog filled by copy-catalog's code path (rows copied, indexes derived): "
                 f"{time.perf_counter() - started:.0f} s for {args.size:,} records.")
        backends = {"SQLite": str(sqlite_db), "PostgreSQL": pg_url}

        # 1.
        rows = []
        for name, url in backends.items():
            r = set_vs_unfiltered(url, args.rounds)
            print(name, r, flush=True)
            for depth in ("first", "deep"):
                un, st = float(r[f"unfiltered {depth}"]), float(r[f"set {depth}"])
                rows.append([name, depth, un, st, f"{st / un:.2f}x", "<= 1.5x: " + met(st <= 1.5 * un)])
            res.note(f"{name} plan of the set page: " + " / ".join(str(r["plan"]).splitlines()))
            res.note(f"{name}: set `{SET}` has {r['members']:,} of {r['records']:,} records.")
        res.table(f"ListRecords page (100 records with bodies) through the store, median of {args.rounds}",
                  ["backend", "page", "unfiltered ms", f"set={SET} ms", "set / unfiltered", "target"], rows)

        # 2. and 3.
        rows = []
        mass_rows: list[list[Any]] = []
        for name, url in backends.items():
            r = under_writes(url, args.seconds, args.mass)
            quiet, busy = r["quiet"], r["busy"]
            for kind in quiet:
                q, b = quiet[kind], busy[kind]
                ratio = p50(b) / p50(q)
                rows.append([name, kind, p50(q), pct(q, 0.99), p50(b), pct(b, 0.99), f"{ratio:.2f}x",
                             f"{pct(b, 0.99) / pct(q, 0.99):.2f}x", "p50 <= 1.5x: " + met(ratio <= 1.5)])
                after = r["after_mass"][kind]
                mass_rows.append([name, kind, p50(q), 1000 * after, f"{1000 * after / p50(q):.2f}x",
                                  "<= 2x: " + met(1000 * after <= 2 * p50(q))])
            res.note(f"{name}: answers other than 200: {r['errors'] or 'none'}; the mass change of {args.mass:,} "
                     f"records took {r['mass_seconds']:.0f} s.")
        res.table(f"OAI-PMH latency, sequential requests for {args.seconds:g} s each: no writer (reference) and "
                  f"with a process committing a changed record every 0.2 s",
                  ["backend", "request", "p50 ms", "p99 ms", "p50 ms, writer", "p99 ms, writer", "p50 ratio",
                   "p99 ratio", "target"], rows)
        res.table(f"The first request after a mass change of {args.mass:,} records",
                  ["backend", "request", "normal p50 ms", "next request ms", "ratio", "target"], mass_rows)

        # 4.
        rows = []
        tmp = work / "side"
        tmp.mkdir(exist_ok=True)
        for name, url in backends.items():
            fresh = str(tmp / "replay.db") if name == "SQLite" else pg.create_database("replay")
            Path(tmp / "replay.db").unlink(missing_ok=True)
            replay = cli(fresh, "harvest", "--replay", str(FIXTURE_WARC), "-q", cwd=tmp)
            jsonl = cli(url, "export", "jsonl", "--out", str(tmp / "out.jsonl"), cwd=tmp)
            oai_dc = cli(url, "export", "oai_dc", "--out", str(tmp / "out.xml"), cwd=tmp)
            walked, walk = oai_walk(url)
            rows.append([name, replay, jsonl, args.size / jsonl, oai_dc, args.size / oai_dc, walked, walk,
                         walked / walk])
        res.table("Side by side (wall seconds, process start included)",
                  ["backend", "replay harvest of the 21 fixtures s", "export jsonl s", "records/s",
                   "export oai_dc s", "records/s", "OAI walk records", "OAI walk s", "records/s"], rows)
    res.save()


if __name__ == "__main__":
    main()
