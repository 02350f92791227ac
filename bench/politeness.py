"""Benchmark 8, politeness shared by several workers: four harvest processes, one catalog, 5 requests/s.

Four `harvester harvest` processes on disjoint ID lists write one catalog (SQLite, then
PostgreSQL in a throw-away cluster) with `http.rate_limit = 5`, against a loopback archive
(tests/support/test_archive.py: each ID is a redirect and a page, two requests) that
logs when every request arrives. Measured on the server: the busiest 10 s window (target
<= 5.5 requests/s) and the total time of the N requests (first start to last start, plus
one interval; target within 10 % of the ideal N / 5 s). The reference, in the same run, is
one harvest process alone on the same IDs: what the rate limit allows one worker, and what
four must not beat.

    python bench/politeness.py [--ids 80] [--rate 5] [--workers 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Results, met

WINDOW = 10.0  # seconds: the window the rate target is judged over


def run(ids: int, rate: float, workers: int, db_url: str | None, tmp: Path) -> dict[str, Any]:
    """One configuration: `workers` harvest processes on `ids` documents; the server's figures."""
    sys.path.insert(0, str(ROOT))
    from tests.support.multiworker import busiest_window, finish, start_harvests, worker_of
    from tests.support.test_archive import DOCUMENT_IDS, TestArchive

    site = TestArchive()
    copy = 0
    while len(site.docs) < ids:
        for rid in DOCUMENT_IDS:
            if len(site.docs) < ids:
                site.add(rid, as_id=900_000 + 1000 * copy + DOCUMENT_IDS.index(rid))
        copy += 1
    record_ids = sorted(site.docs)[:ids]
    db = db_url or str(tmp / "catalog.db")
    with site:
        started = time.monotonic()
        procs = start_harvests(site.base_url, db, tmp, [record_ids[i::workers] for i in range(workers)],
                               rate_limit=rate)
        results = finish(procs, timeout=3600)
        wall = time.monotonic() - started
    times = sorted(s.at for s in site.seen)
    n = len(times)
    total = times[-1] - times[0] + 1 / rate
    return {"requests": n, "total": total, "ideal": n / rate, "busiest": busiest_window(times, WINDOW) / WINDOW,
            "mean": (n - 1) / (times[-1] - times[0]), "wall": wall, "codes": [code for code, _ in results],
            "workers_seen": len({worker_of(s) for s in site.seen}),
            "errors": [text.strip().splitlines()[-1] for code, text in results if code != 0 and text.strip()]}


def take_cost(db_url: str, takes: int) -> tuple[float, float]:
    """Median microseconds of one budget_take (interval 0.000001 s: never a real wait), and of
    the reference in the same store: the cheapest round trip (SQLite: an empty BEGIN IMMEDIATE
    transaction; PostgreSQL: SELECT 1 on a pooled connection)."""
    import statistics

    sys.path.insert(0, str(ROOT))
    from catalog.store import open_store

    with open_store(db_url) as store:
        def reference() -> None:
            with store.unit_of_work():
                store._all("SELECT 1")  # type: ignore[attr-defined]

        costs: dict[str, list[float]] = {"take": [], "reference": []}
        for _ in range(takes):
            for name, step in (("take", lambda: store.budget_take("bench.example.org", 1e-6)),
                               ("reference", reference)):
                t0 = time.perf_counter()
                step()
                costs[name].append((time.perf_counter() - t0) * 1e6)
    return statistics.median(costs["take"]), statistics.median(costs["reference"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=80)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import cluster

    res = Results("politeness", f"8. Politeness shared by {args.workers} workers: http.rate_limit = {args.rate:g}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="wcda-bench-polite-") as tmp, cluster() as pg:
        configs = [("one harvest process alone (reference), SQLite", 1, None),
                   (f"{args.workers} harvest processes, SQLite", args.workers, None),
                   (f"{args.workers} harvest processes, PostgreSQL", args.workers, pg.create_database("bench"))]
        for n, (label, workers, db_url) in enumerate(configs):
            where = Path(tmp) / f"run{n}"
            where.mkdir()
            fig = run(args.ids, args.rate, workers, db_url, where)
            ok_rate = fig["busiest"] <= 1.1 * args.rate
            ok_time = abs(fig["total"] - fig["ideal"]) <= 0.1 * fig["ideal"]
            rows.append([label, fig["requests"], fig["workers_seen"], fig["busiest"], fig["mean"], fig["total"],
                         fig["ideal"], f"{fig['total'] / fig['ideal']:.3f}x", fig["wall"],
                         " ".join(map(str, fig["codes"])),
                         f"<= {1.1 * args.rate:g}/s: " + met(ok_rate) + "; within 10 % of ideal: " + met(ok_time)])
            if fig["errors"]:
                res.note(f"{label}: " + "; ".join(fig["errors"]))
        cost_rows = []
        for backend, url, ref in (("SQLite", str(Path(tmp) / "cost.db"), "BEGIN IMMEDIATE; SELECT 1; COMMIT"),
                                  ("PostgreSQL", pg.create_database("cost"), "BEGIN; SELECT 1; COMMIT")):
            take, reference = take_cost(url, 2000)
            cost_rows.append([backend, take, ref, reference, f"{take / reference:.1f}x"])
    res.table(f"Server-side request rate, {args.ids} IDs (two requests each: redirect, page)",
              ["run", "requests", "workers seen", f"busiest {WINDOW:g} s window (req/s)", "mean req/s",
               "total s (server)", "ideal s (N / rate)", "total vs ideal", "wall s (with start-up)", "exit codes",
               "target"], rows)
    res.table("Catalog cost of one request slot (median of 2,000, paired with the reference)",
              ["backend", "budget_take µs", "reference", "reference µs", "take vs reference"], cost_rows)
    res.note("Times are the loopback server's own (arrival of each request). Total = first to last request start "
             "plus one interval, i.e. N slots. Wall time adds the processes' start-up (imports, catalog migration).")
    res.note("Each request takes its slot from the catalog's request_budget row (SQLite: one BEGIN IMMEDIATE "
             "transaction; PostgreSQL: SELECT ... FOR UPDATE + UPDATE), see docs/sync.md.")
    res.save()


if __name__ == "__main__":
    main()
