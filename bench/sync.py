"""Benchmark 3, no-change sync: 10,000 records whose pages all answer 304.

`harvester.sync.run_sync(recheck_all=True)` over a copy of the synthetic 10,000-record
catalog, against a loopback archive (own process, no added latency) that answers every
document URL with 304 Not Modified. Checked: no page parsed (parse_page is wrapped with
a counter), one request per record (counted by the server, conditional headers
included). The reference, in the same run, is the bare floor: the same conditional
GETs sent one after another by httpx to the same server, nothing stored. The run's own
overhead per record is (sync - reference) / records.

    python bench/sync.py [--records 10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Results, met, run_child, settings_for, synthetic_catalog

SERVER_LIFETIME = 600


def paths_of(db: str) -> list[tuple[str, str | None]]:
    conn = sqlite3.connect(db)
    rows = [(urlparse(url).path, etag) for url, etag in conn.execute("SELECT url, etag FROM record ORDER BY record_id")]
    conn.close()
    return rows


def serve(db: str) -> None:
    """Child: every record's page answers 304; prints its URL, then (at the end) what it saw."""
    sys.path.insert(0, str(ROOT))
    from tests.support.archive_server import Answer, ArchiveServer

    server = ArchiveServer()
    server.httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]  # see bench/harvest.py
    for path, etag in paths_of(db):
        server.route(path, Answer(304, b"", {"ETag": etag or '"bench"'}))
    server.route("/robots.txt", Answer(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    with server:
        print(server.base_url, flush=True)
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()  # type: ignore[func-returns-value]
        done.wait(SERVER_LIFETIME)
    docs = [s for s in server.seen if s.path.startswith("/document/")]
    print(json.dumps({"requests": len(server.seen), "document_requests": len(docs),
                      "distinct_documents": len({s.path for s in docs}),
                      "conditional": sum(1 for s in docs if "if-none-match" in s.headers or
                                         "if-modified-since" in s.headers)}), flush=True)


class Server:
    def __init__(self, db: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", db], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the bench server did not start")
        self.seen: dict = {}

    def stop(self) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(timeout=30)
        self.seen = json.loads(out.strip().splitlines()[-1])
        return self.seen

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def sync_child(base_url: str, db: str) -> None:
    import harvester.pipeline
    import harvester.sync
    from catalog.store import SQLiteStore
    from harvester.sync import run_sync

    parsed = {"n": 0}
    for module in (harvester.sync, harvester.pipeline):
        original = module.parse_page

        def counting(*a: Any, _original: Any = original, **kw: Any) -> Any:
            parsed["n"] += 1
            return _original(*a, **kw)

        module.parse_page = counting  # type: ignore[attr-defined]
    tmp = Path(db).parent
    settings = settings_for(tmp, archive={"base_url": base_url, "contact": "mailto:bench@example.org"},
                            http={"rate_limit": 1e6}, storage={"database": db})
    store = SQLiteStore(db)
    w0, c0 = time.perf_counter(), cpu()
    result = run_sync(settings=settings, store=store, recheck_all=True)
    wall, used = time.perf_counter() - w0, cpu() - c0
    checked = store.connection.execute("SELECT count(*) FROM record WHERE last_checked > ?",
                                       ("2025-06-01",)).fetchone()[0]
    store.close()
    print(json.dumps({"wall": wall, "cpu": used, "status": result.status, "counts": result.report["counts"],
                      "requests": result.report["requests"], "parsed": parsed["n"], "checked": checked,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def reference_child(base_url: str, db: str) -> None:
    import httpx

    targets = paths_of(db)
    client = httpx.Client()
    w0, c0 = time.perf_counter(), cpu()
    codes = [client.get(base_url + path, headers={"If-None-Match": etag or '"x"'}).status_code for path,
             etag in targets]
    wall, used = time.perf_counter() - w0, cpu() - c0
    client.close()
    print(json.dumps({"wall": wall, "cpu": used, "not_modified": codes.count(304),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--serve")
    parser.add_argument("--sync-child", nargs=2)
    parser.add_argument("--reference-child", nargs=2)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    if args.sync_child:
        return sync_child(*args.sync_child)
    if args.reference_child:
        return reference_child(*args.reference_child)

    n = args.records
    res = Results("sync", f"3. No-change sync: {n:,} records, every page 304")
    source = synthetic_catalog(n)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        db = str(Path(tmp) / "catalog.db")
        shutil.copyfile(source, db)
        server = Server(db)
        try:
            ref = run_child([__file__, "--reference-child", server.url, db])
            got = run_child([__file__, "--sync-child", server.url, db])
        finally:
            seen = server.stop() if server.proc.poll() is None else {}
            server.kill()
    doc_requests = seen.get("document_requests", 0) - n  # the reference sent one per record first
    per_rec = 1000 * got["wall"] / n
    ref_rec = 1000 * ref["wall"] / n
    not_modified = got["counts"].get("not_modified", 0)
    res.table("Per record (wall-clock ms; the sync is sequential by design)",
              ["what", "records", "seconds", "ms per record", "CPU ms per record", "records/s"],
              [["sync --recheck-all (all 304)", n, got["wall"], per_rec, 1000 * got["cpu"] / n, n / got["wall"]],
               ["reference: bare conditional GETs, one after another", n, ref["wall"], ref_rec,
                1000 * ref["cpu"] / n, n / ref["wall"]],
               ["the run's own overhead (sync - reference)", n, got["wall"] - ref["wall"], per_rec - ref_rec, "-",
                "-"]])
    res.table("Checks", ["check", "figure", "expected", "result"],
              [["pages parsed", got["parsed"], 0, met(got["parsed"] == 0)],
               ["document requests seen by the server (sync)", doc_requests, n, met(doc_requests == n)],
               ["of which conditional (If-None-Match / If-Modified-Since)", seen.get("conditional", 0) - n, n,
                met(seen.get("conditional", 0) - n == n)],
               ["requests counted by the run (robots.txt and the listing included)", got["requests"], n + 2, "-"],
               ["revalidate outcomes: not_modified", not_modified, n, met(not_modified == n)],
               ["records whose last_checked moved", got["checked"], n, met(got["checked"] == n)],
               ["run status", got["status"], "finished", met(got["status"] == "finished")]])
    res.note(f"Peak RSS of the sync process: {got['peak_rss_mb']:.0f} MB (reference {ref['peak_rss_mb']:.0f} MB).")
    res.note("The catalog is a copy of the synthetic 10,000-record catalog (bench/.cache); politeness lifted "
             "(rate limit 1e6/s) so the figure is the run's own cost, not the 1 request/s it would wait live.")
    res.save()


if __name__ == "__main__":
    main()
