"""Benchmark 5, OAI-PMH: the 100,000-record catalog served over loopback.

The real server (`harvester serve`, waitress, 8 threads) runs in its own process on
the synthetic catalog. Measured: latency of the first ListRecords page and of a page
90,000 records deep (its resumption token is minted with the configured token secret
at the keyset position of record 90,000), a complete harvest by `sickle`, and requests
per second with 16 concurrent clients asking for ListRecords pages at random depths,
counting every non-200 answer or OAI error as an error.

The reference, in the same run, is the same waitress (same threads) serving the bytes
of the first page as a static answer: the HTTP floor for a response of that size. For
the complete harvest the reference is a bare walk of the same list (httpx, the token
cut out with a regex, no XML parsing) over its first 20,000 records.

Full-harvest ratio (issue 14): every ListRecords page of a complete harvest of the
10,000-record catalog is captured once, then served pre-rendered (a dict lookup on the
resumption token) by the same waitress with the same threads; the same clients (sickle,
and a bare http.client walk) harvest the live server and the pre-rendered pages in
alternation, and the ratio of their times is the figure (target <= 1.3x for sickle).

    python bench/oai.py [--load-seconds 15] [--threads 8] [--clients 16] [--ratio-only | --no-ratio]
"""

from __future__ import annotations

import argparse
import http.client
import marshal
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Results, met, synthetic_catalog, with_renderings

SECRET = "bench-token-secret"
SIZE = 100_000
DEEP = 90_000
SERVER_LIFETIME = "900"  # seconds; `timeout` stops the servers even if this script dies
LOAD_ERRORS: dict[int, dict[str, int]] = {}
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def static_server(port: int, path: str, threads: int) -> None:
    """Child: waitress answering every request with the bytes of `path` (the reference)."""
    import waitress

    body = Path(path).read_bytes()

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def pages_server(port: int, path: str, threads: int) -> None:
    """Child: waitress serving captured ListRecords pages, looked up by resumption token
    ("" for the first page): the same pages, pre-rendered, from the same server code."""
    import waitress

    with open(path, "rb") as fh:
        pages: dict[str, bytes] = marshal.load(fh)

    import gzip

    from catalog.oai.app import _accepts_gzip

    def app(environ: Any, start_response: Any) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        body = pages[query.get("resumptionToken", [""])[0]]
        headers = [("Content-Type", "text/xml; charset=utf-8")]
        # The HTTP layer as `harvester serve` has it (catalog/oai/app.py): gzip when the client
        # accepts it (sickle's requests does), at the same level; only the page generation differs.
        if _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body, compresslevel=6)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def capture_pages(port: int, prefix: str) -> dict[str, bytes]:
    """Every page of a complete ListRecords harvest, by the token that asks for it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    pages: dict[str, bytes] = {}
    token = ""
    while True:
        path = (f"/oai?verb=ListRecords&resumptionToken={quote(token)}" if token
                else f"/oai?verb=ListRecords&metadataPrefix={prefix}")
        status, body = get(conn, path)
        if status != 200 or b"<error" in body:
            raise RuntimeError(f"bad page {status}: {body[:300]!r}")
        pages[token] = body
        match = _TOKEN.search(body)
        if not match:
            conn.close()
            return pages
        token = match.group(1).decode()


def full_walk(port: int, prefix: str) -> tuple[int, float]:
    """A complete bare harvest (http.client, token cut out by regex, no XML parsing)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    path = f"/oai?verb=ListRecords&metadataPrefix={prefix}"
    n = 0
    while True:
        status, body = get(conn, path)
        n += body.count(b"<record>")
        match = _TOKEN.search(body)
        if status != 200 or not match:
            break
        path = "/oai?verb=ListRecords&resumptionToken=" + quote(match.group(1).decode())
    conn.close()
    return n, time.perf_counter() - started


def sickle_full(port: int, prefix: str) -> tuple[int, float]:
    from sickle import Sickle

    started = time.perf_counter()
    oai = Sickle(f"http://127.0.0.1:{port}/oai", max_retries=0, timeout=120)
    n = sum(1 for _ in oai.ListRecords(metadataPrefix=prefix, ignore_deleted=False))
    return n, time.perf_counter() - started


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def measured(run: Any, port: int, prefix: str, server_pid: int) -> tuple[int, float, float]:
    """(records, wall seconds, CPU seconds of client + server) of one complete harvest."""
    cpu0 = time.process_time() + tree_cpu(server_pid)
    n, wall = run(port, prefix)
    return n, wall, time.process_time() + tree_cpu(server_pid) - cpu0


RATIO_SIZE = 10_000
RATIO_PREFIXES = ["oai_dc", "mods", "marcxml"]


def harvest_ratio(res: Results, threads: int, rounds: int) -> None:
    """Issue 14: a complete ListRecords harvest against the same pages served pre-rendered."""
    path = synthetic_catalog(RATIO_SIZE)
    spent = with_renderings(path)
    if spent > 1:
        print(f"stored the current renderings of the {RATIO_SIZE:,}-record catalog in {spent:.1f} s", flush=True)
    port = free_port()
    env = {**os.environ, "WCDA_OAI__TOKEN_SECRET": SECRET}
    server = Proc([sys.executable, "-c", "from harvester.cli import main; main()", "--db", str(path), "serve",
                   "--port", str(port), "--threads", str(threads)], port, env)
    rows = []
    try:
        latencies(port, [f"/oai?verb=ListRecords&metadataPrefix={p}" for p in RATIO_PREFIXES], 2 * threads)
        load(port, ["/oai?verb=ListRecords&metadataPrefix=oai_dc"], threads * 2, 2.0)  # warm every thread
        for prefix in RATIO_PREFIXES:
            pages = capture_pages(port, prefix)
            page_file = CACHE_PAGES / f"oai-pages-{prefix}.marshal"
            page_file.parent.mkdir(parents=True, exist_ok=True)
            with open(page_file, "wb") as fh:
                marshal.dump(pages, fh)
            sport = free_port()
            static = Proc([sys.executable, __file__, "--pages", str(sport), str(page_file), str(threads)], sport)
            try:
                for client, run in (("sickle", sickle_full), ("bare walk", full_walk)):
                    live_t, static_t, live_c, static_c = [], [], [], []
                    for _ in range(rounds):  # interleaved: live, pre-rendered, live, pre-rendered...
                        n_live, t, c = measured(run, port, prefix, server.proc.pid)
                        live_t.append(t)
                        live_c.append(c)
                        n_static, t, c = measured(run, sport, prefix, static.proc.pid)
                        static_t.append(t)
                        static_c.append(c)
                        assert n_live == n_static == RATIO_SIZE, (n_live, n_static)
                    ratio = statistics.median(a / b for a, b in zip(live_t, static_t, strict=True))
                    cpu_ratio = statistics.median(a / b for a, b in zip(live_c, static_c, strict=True))
                    lm, sm = statistics.median(live_t), statistics.median(static_t)
                    target = "<= 1.3x: " + met(ratio <= 1.3) if client == "sickle" else "-"
                    rows.append([prefix, client, RATIO_SIZE, lm, RATIO_SIZE / lm, sm, RATIO_SIZE / sm,
                                 f"{ratio:.2f}x", statistics.median(live_c), statistics.median(static_c),
                                 f"{cpu_ratio:.2f}x", target])
                    print(f"{prefix} {client}: live {lm:.2f} s, pre-rendered {sm:.2f} s, {ratio:.2f}x; "
                          f"CPU {cpu_ratio:.2f}x", flush=True)
            finally:
                static.stop()
    finally:
        server.stop()
    res.table(f"Complete ListRecords harvest of {RATIO_SIZE:,} records: live server vs the same pages pre-rendered "
              f"(median of {rounds} interleaved pairs)",
              ["prefix", "client", "records", "live s", "live records/s", "pre-rendered s", "pre-rendered records/s",
               "live / pre-rendered", "CPU s live (client + server)", "CPU s pre-rendered", "CPU live / pre-rendered",
               "target"], rows)
    res.note("Pre-rendered: every page of one complete harvest captured, then answered by the same waitress "
             f"({threads} threads) from a dict keyed by the resumption token, gzipped as `harvester serve` does when "
             "the client accepts it (sickle does; the bare walk does not), so the clients do exactly the same "
             "work against both; the live server answers from the catalog's stored renderings "
             "(catalog.export.rendered), filled by the catalog's upserts or `harvester reindex`.")
    res.note("CPU: the client's process time plus the server's (its process tree, from /proc), per complete "
             "harvest: the work done, which a loaded machine does not inflate as it does wall time.")


CACHE_PAGES = ROOT / "bench" / ".cache"


class Proc:
    def __init__(self, cmd: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        # stderr to a file, never an unread pipe: waitress logs "Task queue depth" warnings
        # whenever all threads are busy, and a full pipe would block (stall) the server.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["timeout", SERVER_LIFETIME, *cmd], cwd=str(ROOT), env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.log.seek(0)
                    raise RuntimeError(f"server did not start: {self.log.read().decode()[-2000:]}") from None
                time.sleep(0.2)

    def warnings(self) -> int:
        self.log.seek(0)
        return self.log.read().count(b"Task queue depth")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def latencies(port: int, paths: list[str], rounds: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for i in range(rounds):
        t = time.perf_counter()
        status, body = get(conn, paths[i % len(paths)])
        out.append(time.perf_counter() - t)
        if status != 200 or b"<error" in body:
            raise RuntimeError(f"bad answer {status}: {body[:300]!r}")
    conn.close()
    return out


def load(port: int, paths: list[str], clients: int, seconds: float) -> tuple[int, int, float]:
    """`clients` threads, each with its own keep-alive connection, for `seconds`: (requests, errors, wall)."""
    stop = time.monotonic() + seconds
    counts = [0] * clients
    errors = [0] * clients
    kinds: dict[str, int] = {}

    def client(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            try:
                status, body = get(conn, rng.choice(paths))
                if status != 200 or b"<error" in body:
                    errors[n] += 1
                    kinds[f"HTTP {status}"] = kinds.get(f"HTTP {status}", 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                errors[n] += 1
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            counts[n] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if kinds:
        print(f"load errors on port {port}: {kinds}", flush=True)
        LOAD_ERRORS[port] = kinds
    return sum(counts), sum(errors), time.perf_counter() - started


def mint_tokens(db: str, cursors: list[int]) -> dict[int, str]:
    """Resumption tokens at given depths, exactly as the server would issue them."""
    import sqlite3

    from catalog.oai import tokens
    from catalog.store import to_db_time

    until = to_db_time(datetime.now(UTC))
    conn = sqlite3.connect(db)
    total = conn.execute("SELECT count(*) FROM record WHERE last_changed <= ?", (until,)).fetchone()[0]
    out = {}
    for cursor in cursors:
        row = conn.execute("SELECT last_changed, record_id FROM record WHERE last_changed <= ?"
                           " ORDER BY last_changed, record_id LIMIT 1 OFFSET ?", (until, cursor - 1)).fetchone()
        state = tokens.TokenState("ListRecords", "oai_dc", None, None, until, [row[0], row[1]], cursor, total,
                                  int(time.time()) + 3600)
        out[cursor] = tokens.encode(state, SECRET.encode("utf-8"))
    conn.close()
    return out


def sickle_harvest(port: int, limit: int | None = None) -> tuple[int, int, float]:
    from sickle import Sickle

    started = time.perf_counter()
    oai = Sickle(f"http://127.0.0.1:{port}/oai", max_retries=0, timeout=120)
    n = deleted = 0
    for record in oai.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False):
        n += 1
        deleted += bool(record.header.deleted)
        if limit and n >= limit:
            break
    return n, deleted, time.perf_counter() - started


def bare_walk(port: int, limit: int) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    path = "/oai?verb=ListRecords&metadataPrefix=oai_dc"
    n = 0
    while n < limit:
        status, body = get(conn, path)
        n += body.count(b"<record>")
        match = _TOKEN.search(body)
        if status != 200 or not match:
            break
        path = "/oai?verb=ListRecords&resumptionToken=" + quote(match.group(1).decode())
    conn.close()
    return n, time.perf_counter() - started


def ms(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return 1000 * statistics.median(values), 1000 * values[int(0.9 * (len(values) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (both servers)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--load-seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--harvest-limit", type=int, default=0, help="stop the sickle harvest early (0: all)")
    parser.add_argument("--static", nargs=3)
    parser.add_argument("--pages", nargs=3)
    parser.add_argument("--ratio-rounds", type=int, default=3)
    parser.add_argument("--no-ratio", action="store_true",
                        help="skip the full-harvest ratio (keeps the last --ratio-only figures)")
    parser.add_argument("--ratio-only", action="store_true",
                        help="only the full-harvest ratio (issue 14), kept beside the last run's other figures")
    args = parser.parse_args()
    if args.static:
        return static_server(int(args.static[0]), args.static[1], int(args.static[2]))
    if args.pages:
        return pages_server(int(args.pages[0]), args.pages[1], int(args.pages[2]))

    res = Results("oai", "5. OAI-PMH: 100,000 records over loopback")
    if args.ratio_only:
        res = Results("oai_ratio", "5b. OAI-PMH: complete harvest vs pre-rendered pages (issue 14)")
        harvest_ratio(res, args.threads, args.ratio_rounds)
        res.save()
        return
    if not args.no_ratio:
        harvest_ratio(res, args.threads, args.ratio_rounds)
        (ROOT / "bench" / ".cache" / "results" / "oai_ratio.json").unlink(missing_ok=True)  # now part of this run
    db_path = synthetic_catalog(SIZE)
    spent = with_renderings(db_path)
    if spent > 1:
        print(f"stored the current renderings of the {SIZE:,}-record catalog in {spent:.1f} s", flush=True)
    db = str(db_path)
    env = {**os.environ, "WCDA_OAI__TOKEN_SECRET": SECRET, "WCDA_OAI__BASE_URL": ""}
    env.pop("WCDA_OAI__BASE_URL")
    port = free_port()
    started = time.perf_counter()
    server = Proc([sys.executable, "-c", "from harvester.cli import main; main()", "--db", db, "serve",
                   "--port", str(port), "--threads", str(args.threads)], port, env)
    startup = time.perf_counter() - started
    static = None
    first = "/oai?verb=ListRecords&metadataPrefix=oai_dc"
    try:
        # The first request a waitress thread answers opens its SQLite connection; measured
        # once, then every thread is warmed.
        cold = latencies(port, [first], 1)[0]
        load(port, [first], args.threads * 2, 2.0)
        tokens = mint_tokens(db, [DEEP] + [random.Random(i).randrange(100, SIZE - 100) for i in range(60)])
        deep = f"/oai?verb=ListRecords&resumptionToken={quote(tokens[DEEP])}"
        status, first_body = get(http.client.HTTPConnection("127.0.0.1", port, timeout=60), first)
        status_d, deep_body = get(http.client.HTTPConnection("127.0.0.1", port, timeout=60), deep)
        assert status == status_d == 200 and b"<error" not in deep_body, deep_body[:500]
        assert b'cursor="90000"' in deep_body, "deep page is not at cursor 90,000"
        page_file = Path(ROOT / "bench" / ".cache" / "oai-first-page.xml")
        page_file.write_bytes(first_body)
        sport = free_port()
        static = Proc([sys.executable, __file__, "--static", str(sport), str(page_file), str(args.threads)], sport)
        latencies(sport, ["/"], 3)

        lat_first = latencies(port, [first], args.rounds)
        lat_deep = latencies(port, [deep], args.rounds)
        lat_static = latencies(sport, ["/oai"], args.rounds)
        f_med, f_p90 = ms(lat_first)
        d_med, d_p90 = ms(lat_deep)
        s_med, s_p90 = ms(lat_static)
        print(f"latency first {f_med:.1f} ms, deep {d_med:.1f} ms, static {s_med:.1f} ms", flush=True)

        mix = [first] + [f"/oai?verb=ListRecords&resumptionToken={quote(t)}" for t in tokens.values()]
        req, err, wall = load(port, mix, args.clients, args.load_seconds)
        queue_warnings = server.warnings()
        sreq, serr, swall = load(sport, ["/oai"], args.clients, args.load_seconds)
        print(f"load: {req / wall:.1f} req/s ({err} errors), static {sreq / swall:.1f} req/s", flush=True)

        walked, walk_wall = bare_walk(port, 20_000)
        print(f"bare walk: {walked / walk_wall:.0f} records/s", flush=True)
        n, deleted, harvest_wall = sickle_harvest(port, args.harvest_limit or None)
        print(f"sickle: {n:,} records in {harvest_wall:.1f} s", flush=True)
    finally:
        server.stop()
        if static is not None:
            static.stop()

    res.table("Latency of one ListRecords page (100 records, oai_dc, no gzip), sequential requests",
              ["request", "median ms", "p90 ms", "bytes", "vs first page", "target"],
              [["first page (counts the list: completeListSize)", f_med, f_p90, len(first_body), "1x", "-"],
               [f"page {DEEP:,} records deep (resumption token)", d_med, d_p90, len(deep_body), f"{d_med / f_med:.2f}x",
                "<= 1.5x first: " + met(d_med <= 1.5 * f_med)],
               ["reference: the first page's bytes served static by the same waitress", s_med, s_p90,
                len(first_body), f"{s_med / f_med:.2f}x", "-"]])
    complete = n == SIZE or bool(args.harvest_limit)
    res.table("Complete harvest",
              ["client", "records", "seconds", "records/s", "target"],
              [["sickle ListRecords (oai_dc), every page", n, harvest_wall, n / harvest_wall,
                ("all records: " + met(n == SIZE)) if not args.harvest_limit else "limited run"],
               ["reference: bare walk of the first 20,000 (http.client, token cut out by regex, no XML parsing)",
                walked, walk_wall,
                walked / walk_wall, "-"]])
    res.table(f"{args.clients} concurrent clients, {args.load_seconds:g} s each (ListRecords pages at random depths)",
              ["server", "requests", "requests/s", "records/s", "errors", "target"],
              [[f"harvester serve (waitress, {args.threads} threads)", req, req / wall, 100 * req / wall, err,
                "zero errors: " + met(err == 0)],
               ["reference: static bytes, same waitress threads", sreq, sreq / swall, "-", serr, "-"]])
    res.note(f"Server start (imports, opening the {SIZE:,}-record catalog): {startup:.1f} s; the first request on "
             f"a fresh waitress thread took {cold * 1000:.0f} ms (it opens its own SQLite connection), so every "
             "thread is warmed before measuring.")
    res.note(f"waitress logged {queue_warnings} 'Task queue depth' warnings under load ({args.clients} clients, "
             f"{args.threads} threads: requests wait for a free thread; expected, not errors).")
    for where, kinds in LOAD_ERRORS.items():
        res.note(f"Errors under load ({'static reference' if static and where == static.port else 'OAI server'}): "
                 f"{kinds}")
    res.note(f"Deleted records seen by sickle: {deleted}. Complete: {complete}.")
    res.save()


if __name__ == "__main__":
    main()
