"""Benchmark 8, several workers on one queue: 1, 2 and 4 `harvester work` processes.

A loopback archive (its own process) serves N document pages, each answered after
200 ms (the `/document/<ID>` redirect in front of it is immediate); the rate limit is
lifted and each worker fetches one page at a time (`http.concurrency = 1`), so the
figure is what more processes give, not more threads. Each round enqueues the N IDs into
a fresh SQLite catalog and starts K workers with `--until-empty`. Pages/s is counted by
the server (first to last page request) and over the whole wall time (process start-up
included). The reference is the one-worker round of the same run: the goal is 4 workers
>= 3.5x one worker. Checked: every page fetched exactly once, every item done.

    python bench/work.py [--items 120] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Results, met

SERVER_LIFETIME = 900
WORKERS = (1, 2, 4)


def serve(items: int, latency: float) -> None:
    """Child: the test archive with `items` documents whose pages take `latency` s; prints its URL,
    then (stdin closed) the page requests it saw as JSON."""
    sys.path.insert(0, str(ROOT))
    from tests.support.archive_server import Answer, Seen
    from tests.support.test_archive import DOCUMENT_IDS, TestArchive

    class Slow(TestArchive):
        def _page(self, record_id: int, seen: Seen) -> Answer:
            return dataclasses.replace(super()._page(record_id, seen), delay=latency)

    site = Slow([])
    for n in range(items):
        site.add(DOCUMENT_IDS[n % len(DOCUMENT_IDS)], as_id=700_000 + n)
    with site:
        print(site.base_url, flush=True)
        print(json.dumps(sorted(site.docs)), flush=True)
        while True:
            line = sys.stdin.readline()
            if not line:
                return
            # one line per round: report and forget what was seen so far
            slugs = {f"/document/{d.slug}" for d in site.docs.values()}
            pages = [s.at for s in site.seen if s.path in slugs]
            distinct = len({s.path for s in site.seen if s.path in slugs})
            print(json.dumps({"pages": len(pages), "distinct": distinct, "first": min(pages, default=0.0),
                              "last": max(pages, default=0.0),
                              "span": (max(pages) - min(pages)) if pages else 0.0}), flush=True)
            site.server.seen.clear()


def round_of(k: int, url: str, ids: list[int], tmp: Path) -> dict[str, float]:
    db = tmp / f"catalog-{k}.db"
    env = {key: v for key, v in os.environ.items() if not key.startswith("WCDA_")}
    env |= {"PYTHONPATH": str(ROOT), "WCDA_ARCHIVE__BASE_URL": url, "WCDA_ARCHIVE__CONTACT": "mailto:bench@example.org",
            "WCDA_HTTP__RATE_LIMIT": "100000", "WCDA_HTTP__CONCURRENCY": "1",
            "WCDA_STORAGE__WARC_DIR": str(tmp / f"warc-{k}")}
    harvester = [sys.executable, "-m", "harvester", "--db", str(db)]
    subprocess.run([*harvester, "enqueue", *map(str, ids)], env=env, check=True, capture_output=True, cwd=tmp)
    started = time.monotonic()
    procs = [subprocess.Popen([*harvester, "work", "--until-empty", "-q"], env=env, cwd=tmp,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(k)]
    errors = [p.communicate(timeout=SERVER_LIFETIME)[1] for p in procs]
    wall = time.monotonic() - started
    if any(p.returncode != 0 for p in procs):
        raise RuntimeError(f"a worker failed: {errors}")
    conn = sqlite3.connect(db)
    done = conn.execute("SELECT count(*) FROM work_item WHERE state = 'done'").fetchone()[0]
    conn.close()
    return {"wall": wall, "done": done, "started": started, "ended": started + wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", nargs=2, metavar=("ITEMS", "LATENCY"))
    parser.add_argument("--items", type=int, default=120)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), float(args.serve[1]))
        return
    res = Results("work", f"9. Several workers on one queue: {args.items} pages at {args.latency * 1000:.0f} ms")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(args.items), str(args.latency)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
    assert server.stdin is not None and server.stdout is not None
    url = server.stdout.readline().strip()
    ids = json.loads(server.stdout.readline())
    rows, rates = [], {}
    checks = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-work-") as tmp:
            for k in WORKERS:
                got = round_of(k, url, ids, Path(tmp))
                server.stdin.write("report\n")
                server.stdin.flush()
                seen = json.loads(server.stdout.readline())
                rate = seen["pages"] / seen["span"] if seen["span"] else 0.0
                rates[k] = rate
                rows.append([k, rate, args.items / got["wall"], got["wall"], seen["first"] - got["started"],
                             got["ended"] - seen["last"], seen["pages"]])
                checks.append(seen["pages"] == seen["distinct"] == args.items == got["done"])
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    res.table("Workers (separate processes, http.concurrency 1 each, rate limit lifted)",
              ["workers", "pages/s (server)", "pages/s (wall, start-up included)", "wall s", "first page after s",
               "exit after last page s", "pages fetched"],
              rows)
    ratio = rates[4] / rates[1] if rates.get(1) else 0.0
    res.table("Checks", ["check", "figure", "expected", "result"], [
        ["4 workers vs 1 (server pages/s)", f"{ratio:.2f}x", ">= 3.5x", met(ratio >= 3.5)],
        ["every page fetched once, every item done", str(all(checks)), "True", met(all(checks))],
    ])
    res.note("Start-up (first page after s) is process start and imports; on a loaded machine it dominates the "
             "wall figure, so the goal is judged on the server's steady-state pages/s.")
    res.note(f"Ideal with one page in flight per worker: {1 / args.latency:.1f} pages/s a worker; the one-worker "
             "round of this run is the reference. The server and the workers share this machine's cores.")
    res.save()


if __name__ == "__main__":
    main()
