"""Benchmark 2, harvest pipeline: throughput against a server with 50 ms latency, and memory.

A loopback archive (tests/support/archive_server.py, in its own process so it does not
compete with the harvester for the GIL) answers every /document/<ID> with a fixture
page after 50 ms. `harvester.pipeline.harvest` runs live against it with politeness
lifted (rate limit 1e6/s) and concurrency 8: fetch, WARC writing, parse, normalize,
validate, store. Ideal: 8 / 0.05 s = 160 pages/s. The reference, in the same run, is
the same 8 threads doing bare GETs of the same URLs with httpx (no parse, no store):
what the transport and the server allow. Each harvest runs in its own process, at two
sizes, so its peak RSS shows whether memory grows with the count.

    python bench/harvest.py [--sizes 500,2000] [--latency 0.05] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Results, met, run_child, settings_for

FIRST_ID = 3_000_000
SERVER_LIFETIME = 600  # seconds: the server process stops by itself even if we die


def serve(count: int, latency: float) -> None:
    """Child: run the loopback archive; print its URL; stop when stdin closes or after a while."""
    import threading

    sys.path.insert(0, str(ROOT))
    from parse import fixture_pages

    from tests.support.archive_server import Answer, ArchiveServer

    pages = [r.body for _, r in fixture_pages()]
    server = ArchiveServer()
    for i in range(count):
        server.route(f"/document/{FIRST_ID + i}",
                     Answer(200, pages[i % len(pages)], {"ETag": f'"e{i}"'}, delay=latency))
    server.route("/robots.txt", Answer(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    # http.server sends headers and body in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK add ~40 ms to every answer (the reference then tops out near 84 pages/s).
    server.httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
    with server:
        print(server.base_url, flush=True)
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()  # type: ignore[func-returns-value]
        done.wait(SERVER_LIFETIME)


class Server:
    def __init__(self, count: int, latency: float) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(count), str(latency)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the bench server did not start")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def tree_memory_mb() -> tuple[float, float]:
    """RSS and PSS summed over this process and every process below it (fork server, resource
    tracker, parse workers), from /proc. RSS counts pages shared between processes once per
    process; PSS splits each shared page between its sharers, so its sum is the real total."""
    pids = [os.getpid()]
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in pids}
        pids.extend(frontier)
    rss = pss = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return rss, pss


class MemorySampler:
    """Samples tree_memory_mb() every 0.2 s on a thread; keeps the peaks. `cpu`: the seconds of CPU
    the sampling thread itself used (reading /proc for every process: ~4 ms a sample on the bench
    machine), which the harvest's own figure leaves out."""

    def __init__(self) -> None:
        import threading

        self.peak_rss = self.peak_pss = 0.0
        self.cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()
        self.cpu = time.thread_time()

    def sample(self) -> None:
        rss, pss = tree_memory_mb()
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def harvest_child(base_url: str, count: int, concurrency: int, processes: bool | None = None,
                  queue: bool = True) -> None:
    """Child: one live harvest of `count` documents; prints a JSON line.

    `queue`: as `harvester harvest` runs it (harvester.work.harvest: enqueue the IDs in the
    command's batch, then claim, lease, heartbeat and finish each item in the catalog's work
    queue around the pipeline); False: the pipeline alone on the list of IDs (no work queue)."""
    from parse import descendants_cpu

    from catalog.store import SQLiteStore
    from harvester import pipeline, work

    harvest: Any = work.harvest if queue else pipeline.harvest

    with tempfile.TemporaryDirectory(prefix="bench-harvest-") as tmp:
        settings = settings_for(Path(tmp), archive={"base_url": base_url, "contact": "mailto:bench@example.org"},
                                http={"rate_limit": 1e6, "concurrency": concurrency})
        store = SQLiteStore(Path(tmp) / "catalog.db")
        ids = list(range(FIRST_ID, FIRST_ID + count))
        marks: dict[str, float] = {}
        done = [0]

        def progress(outcome: Any) -> None:
            done[0] += 1
            if done[0] == count:  # the parse pool's processes are still alive: count their CPU
                marks["tree_cpu"] = descendants_cpu()
                sampler.sample()

        d0 = descendants_cpu()
        sampler = MemorySampler()
        w0, c0 = time.perf_counter(), cpu()
        summary = harvest(ids, settings=settings, store=store, progress=progress, processes=processes)
        wall, used = time.perf_counter() - w0, cpu() - c0
        sampler.stop()
        used -= sampler.cpu
        store.close()
    print(json.dumps({"wall": wall, "cpu": used, "tree_cpu": marks.get("tree_cpu", d0) - d0,
                      "counts": dict(summary.counts), "requests": summary.requests,
                      "tree_rss_mb": sampler.peak_rss, "tree_pss_mb": sampler.peak_pss,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def reference_child(base_url: str, count: int, concurrency: int, tree: str = "lxml") -> None:
    """Child: the lean harvester: the same GETs by the same number of threads, each page parsed
    by lxml into a tree (no WARC, no normalizing, no store). `tree="bs4"`: each page parsed into
    a BeautifulSoup(page, "lxml") tree instead, the tree the parser's interface needs: the floor
    of any harvester that keeps BeautifulSoup."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import lxml.html
    from bs4 import BeautifulSoup

    client = httpx.Client(limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))

    def get(i: int) -> int:
        response = client.get(f"{base_url}/document/{FIRST_ID + i}")
        if tree == "bs4":
            BeautifulSoup(response.content, "lxml")
        else:
            lxml.html.document_fromstring(response.content)
        return response.status_code

    w0, c0 = time.perf_counter(), cpu()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(get, range(count)))
    wall, used = time.perf_counter() - w0, cpu() - c0
    client.close()
    print(json.dumps({"wall": wall, "cpu": used, "ok": statuses.count(200),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--serve", nargs=2)
    parser.add_argument("--harvest-child", nargs="+")
    parser.add_argument("--reference-child", nargs="+")
    args = parser.parse_args()
    if args.serve:
        return serve(int(args.serve[0]), float(args.serve[1]))
    if args.harvest_child:
        mode = args.harvest_child[3] if len(args.harvest_child) > 3 else "default"
        return harvest_child(args.harvest_child[0], int(args.harvest_child[1]), int(args.harvest_child[2]),
                             processes={"default": None, "inline": False, "pool": True, "no-queue": None}[mode],
                             queue=mode != "no-queue")
    if args.reference_child:
        return reference_child(args.reference_child[0], int(args.reference_child[1]), int(args.reference_child[2]),
                               *args.reference_child[3:4])

    sizes = [int(s) for s in args.sizes.split(",")]
    conc, latency = args.concurrency, args.latency
    ideal = conc / latency
    res = Results("harvest", "2. Harvest pipeline: 50 ms latency, concurrency 8")
    load_start = os.getloadavg()
    figures = {}
    with Server(max(sizes), latency) as server:
        for size in sizes:
            ref = run_child([__file__, "--reference-child", server.url, str(size), str(conc)])
            got = run_child([__file__, "--harvest-child", server.url, str(size), str(conc)])
            figures[size] = (got, ref)
            print(f"{size:,} documents: harvest {size / got['wall']:.1f} pages/s ({got['counts']}), "
                  f"reference {size / ref['wall']:.1f} pages/s, ideal {ideal:.0f}", flush=True)
        big = max(sizes)
        # The floor: the lean harvester building the BeautifulSoup tree the parser reads; once here
        # and once after the harvests (other work on the machine only ever adds: the lower is used).
        floors = [run_child([__file__, "--reference-child", server.url, str(big), str(conc), "bs4"])]
        print(f"{big:,} documents, lean + bs4 tree: {big / floors[0]['wall']:.1f} pages/s", flush=True)
        # The same run with the parse on the storing thread (no worker processes), right after.
        inline = run_child([__file__, "--harvest-child", server.url, str(big), str(conc), "inline"])
        print(f"{big:,} documents, parse inline: {big / inline['wall']:.1f} pages/s", flush=True)
        # And the pipeline alone on the list of IDs (no work queue): what the queue's claim,
        # lease, heartbeat and finish cost per item.
        bare = run_child([__file__, "--harvest-child", server.url, str(big), str(conc), "no-queue"])
        print(f"{big:,} documents, no work queue: {big / bare['wall']:.1f} pages/s", flush=True)
        floors.append(run_child([__file__, "--reference-child", server.url, str(big), str(conc), "bs4"]))
        print(f"{big:,} documents, lean + bs4 tree again: {big / floors[1]['wall']:.1f} pages/s", flush=True)
    floor = min(floors, key=lambda f: f["cpu"])
    got, ref = figures[big]
    rate, ref_rate = big / got["wall"], big / ref["wall"]
    cpu_ms = 1000 * got["cpu"] / big
    worker_ms = 1000 * got.get("tree_cpu", 0.0) / big
    res.table(f"Throughput, {big:,} documents (one request each, {latency * 1000:.0f} ms server latency)",
              ["what", "pages/s", "share of ideal", "CPU ms per page (harvest process)",
               "CPU ms per page (parse workers)", "target"],
              [["harvest as `harvester harvest` runs it (work queue; fetch, WARC, parse in worker processes, "
                "normalize, validate, store)", rate,
                f"{rate / ideal:.0%}", cpu_ms, worker_ms,
                ">= 90% of ideal: " + met(rate >= 0.9 * ideal,
                                          f"CPU-bound: {cpu_ms + worker_ms:.1f} ms of CPU a page in all "
                                          f"({cpu_ms:.1f} fetching, WARC, storing; {worker_ms:.1f} parsing), "
                                          f"plus the server's, on {os.cpu_count()} cores; see 'where the time "
                                          "goes'")],
               ["the same harvest parsing on the storing thread (no worker processes)", big / inline["wall"],
                f"{big / inline['wall'] / ideal:.0%}", 1000 * inline["cpu"] / big, "-", "-"],
               ["the pipeline alone on the ID list (no work queue: no claim, lease, heartbeat, finish)",
                big / bare["wall"], f"{big / bare['wall'] / ideal:.0%}", 1000 * bare["cpu"] / big,
                1000 * bare.get("tree_cpu", 0.0) / big, "-"],
               ["reference: lean harvester (httpx GETs, same 8 threads, lxml tree of each page)", ref_rate,
                f"{ref_rate / ideal:.0%}", 1000 * ref["cpu"] / big, "-", "-"],
               ["reference, the floor: the same lean harvester building a BeautifulSoup(page, 'lxml') tree of "
                "each page instead (the tree the parser reads)", big / floor["wall"],
                f"{big / floor['wall'] / ideal:.0%}", 1000 * floor["cpu"] / big, "-", "-"],
               ["ideal: concurrency / latency", ideal, "100%", "-", "-", "-"]])
    res.table("Peak memory of the harvest process (RSS, MB)",
              ["documents", "harvest peak MB", "reference peak MB", "outcomes"],
              [[s, figures[s][0]["peak_rss_mb"], figures[s][1]["peak_rss_mb"], json.dumps(figures[s][0]["counts"])]
               for s in sizes])
    lean_ms = 1000 * ref["cpu"] / big
    rows = []
    for label, fig, all_ms in [("harvest (default: pool of parse workers)", got, cpu_ms + worker_ms),
                               ("harvest, parse inline", inline, 1000 * inline["cpu"] / big),
                               ("pipeline alone, no work queue (default: pool)", bare,
                                1000 * (bare["cpu"] + bare.get("tree_cpu", 0.0)) / big)]:
        rows.append([label, all_ms, f"{all_ms / lean_ms:.1f}x", fig["tree_rss_mb"], fig["tree_pss_mb"],
                     "<= 2x lean CPU: " + met(all_ms <= 2 * lean_ms) + "; <= 150 MB (PSS): "
                     + met(fig["tree_pss_mb"] <= 150)])
    floor_ms = 1000 * floor["cpu"] / big
    rows.append(["reference, the floor: lean harvester + BeautifulSoup(page, 'lxml') tree", floor_ms,
                 f"{floor_ms / lean_ms:.1f}x", floor["peak_rss_mb"], "-",
                 "<= 2x lean CPU: " + met(floor_ms <= 2 * lean_ms)])
    rows.append(["reference: lean harvester", lean_ms, "1x", ref["peak_rss_mb"], "-", "-"])
    res.table(f"CPU per page and memory over all processes, {big:,} documents",
              ["what", "CPU ms per page (all processes)", "vs lean", "peak RSS summed over processes MB",
               "peak PSS summed MB", "target"], rows)
    cores = os.cpu_count() or 1
    all_ms = cpu_ms + worker_ms
    res.note("The floor was measured twice in this run, before and after the harvests: "
             + " and ".join(f"{1000 * f['cpu'] / big:.2f} ms a page at {big / f['wall']:.0f} pages/s" for f in floors)
             + "; the tables show the lower. Its 8 threads build their trees in one process, so its CPU "
             "includes their contention for the GIL; the tree alone, page after page in one loop, is "
             "section 1's reference.")
    if floor_ms > 2 * lean_ms:
        res.note(f"The floor alone exceeds the goal: building the BeautifulSoup tree of a page costs "
                 f"{floor_ms:.2f} ms of CPU with the fetch ({floor_ms / lean_ms:.1f}x the lean "
                 f"{lean_ms:.2f} ms), so '<= 2x the lean CPU per page' cannot be met while BeautifulSoup "
                 "remains the parser's interface; the goal that can be held is a multiple of this floor "
                 f"(the harvest: {all_ms / floor_ms:.1f}x it).")
    budget = cores * 1000 / ideal
    res.note(f"What {cores} cores allow, CPU alone (the server's own CPU left out): the ideal {ideal:.0f} pages/s "
             f"leaves {budget:.1f} ms of CPU a page for everything; the floor takes {floor_ms:.2f} of it, leaving "
             f"{budget - floor_ms:.1f} ms for the WARC, storing and the parse beyond the tree (the harvest spends "
             f"{all_ms - floor_ms:.1f} there). The harvest's {all_ms:.1f} ms caps it at {cores * 1000 / all_ms:.0f} "
             f"pages/s ({min(1.0, cores * 1000 / all_ms / ideal):.0%} of ideal). The floor in one process (the tree "
             f"is built under the GIL) caps at {1000 / floor_ms:.0f} pages/s "
             f"({min(1.0, 1000 / floor_ms / ideal):.0%} of ideal); measured here: {big / floor['wall']:.0f}.")
    small = min(sizes)
    growth = figures[big][0]["peak_rss_mb"] - figures[small][0]["peak_rss_mb"]
    if big > small:  # one size (--sizes 2000): nothing to compare
        res.note(f"Memory from {small:,} to {big:,} documents: {growth:+.0f} MB "
                 f"({growth * 1024 / (big - small):.1f} KB per extra document; flat means ~0).")
    load_end = os.getloadavg()
    res.note(f"Machine load average (1, 5, 15 min) at the start {', '.join(f'{v:.1f}' for v in load_start)}, at the "
             f"end {', '.join(f'{v:.1f}' for v in load_end)}, on {cores} cores: other work shares them, so the "
             "ratios to the references of the same run are the figures, and pages/s moves from run to run.")
    res.note("The server answers /document/<ID> directly with 200 (no slug redirect), so one page is one request "
             "and the issue's ideal (8 / 0.05 s) applies as stated; records therefore note 'final URL is not a "
             "/document/<slug> URL'.")
    res.save()


if __name__ == "__main__":
    main()
