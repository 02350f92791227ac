"""Benchmark 7, `harvester cite` over many records, beside citeproc-js on the same CSL-JSON.

Issue 18's rows: `cite` of 100 IDs in the house style (target: at least citeproc-js's rate)
and in Chicago (target: at least 2x the 36 records/s the issue measured, i.e. 72/s).

- cold: the whole command (`harvester cite --ids-file F`, process start included) against a
  whole `node tools/citeproc-js/render.js` run (process start, style, one entry per item, as
  the agreement test renders them), paired A B A B; records/s from CPU time (user + sys, from
  wait4), since wall time on this shared machine also counts waiting for a core.
- warm: in one process, after a first pass: `Citer.bibliography` against citeproc-js's engine
  rendering the same items again (bench/citeproc_warm.js).

    python bench/cite.py [--runs 5] [--records 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Results, met, synthetic_catalog

NODE_TOOL = ROOT / "tools" / "citeproc-js"
CHICAGO_TARGET = 2 * 36  # records/s: twice the measurement
CHILD_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(ROOT)}


def cpu_run(cmd: list[str], stdin: str | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds of one child process (user + sys, from wait4), and its stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), stdin=subprocess.PIPE, stdout=out, stderr=err, env=CHILD_ENV)
        assert proc.stdin is not None
        proc.stdin.write((stdin or "").encode())
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{cmd[:4]} failed: {err.read().decode()[-2000:]}")
        return wall, usage.ru_utime + usage.ru_stime, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=100)
    args = parser.parse_args()
    if not (NODE_TOOL / "node_modules" / "citeproc").is_dir():
        # not an error for bench/run (set -e): the other benchmarks' figures are still written
        print("bench/cite.py: citeproc-js is missing, skipped: (cd tools/citeproc-js && npm ci)", file=sys.stderr)
        return

    from catalog.cite import LOCALES_DIR, Citer
    from catalog.store import SQLiteStore
    from tests.export.citeproc_js import js_item

    db = synthetic_catalog(10_000)
    ids = list(range(1_000_000, 1_000_000 + args.records))
    store = SQLiteStore(db, read_only=True)
    try:
        records = [s.record for s in store.iter_records(ids=ids)]
    finally:
        store.close()
    res = Results("cite", f"7. cite: {len(records)} records, house style and Chicago, beside citeproc-js")
    ids_file = Path(tempfile.mkdtemp()) / "ids.txt"
    ids_file.write_text("\n".join(map(str, ids)) + "\n")
    n = len(records)
    cold_rows, warm_rows = [], []
    for label, style in (("house style (wcda)", "wcda"), ("Chicago notes-bibliography", "chicago")):
        citer = Citer(style)
        request = json.dumps({"style": str(citer.path), "locales": str(LOCALES_DIR), "format": "text",
                              "items": [js_item(r, citer) for r in records], "each": True, "lang": "en-US"})
        ours = [sys.executable, "-m", "harvester", "--db", str(db), "cite", "--style", style, "--ids-file",
                str(ids_file)]
        theirs = ["node", str(NODE_TOOL / "render.js")]
        cpu_run(ours), cpu_run(theirs, request)  # warm-up (bytecode caches, disk)
        pairs = [(cpu_run(ours), cpu_run(theirs, request)) for _ in range(args.runs)]
        a_cpu = statistics.median(p[0][1] for p in pairs)
        b_cpu = statistics.median(p[1][1] for p in pairs)
        a_wall = statistics.median(p[0][0] for p in pairs)
        ratio = statistics.median(p[1][1] / p[0][1] for p in pairs)  # >1: we are faster
        rate, ref_rate = n / a_cpu, n / b_cpu
        if style == "wcda":
            target = ">= citeproc-js: " + met(rate >= ref_rate)
        else:
            target = f">= {CHICAGO_TARGET}/s: " + met(rate >= CHICAGO_TARGET)
        print(f"{label} cold: {rate:,.0f}/s of CPU; citeproc-js {ref_rate:,.0f}/s", flush=True)
        cold_rows.append([f"harvester cite, {label}", rate, a_cpu, a_wall, f"{ratio:.2f}x", target])
        cold_rows.append([f"reference: citeproc-js (node render.js), {label}", ref_rate, b_cpu,
                          statistics.median(p[1][0] for p in pairs), "1x", "-"])

        # warm, in process: one Citer, a first pass, then timed passes
        citer.bibliography(records)
        times = []
        for _ in range(args.runs):
            t = time.process_time()
            entries = citer.bibliography(records)
            times.append(time.process_time() - t)
        errors = sum(e.error is not None for e in entries)
        js = [json.loads(cpu_run(["node", str(ROOT / "bench" / "citeproc_warm.js")], request)[2])
              for _ in range(args.runs)]
        ours_warm = n / statistics.median(times)
        theirs_warm = n / (statistics.median(j["warm_ms"] for j in js) / 1000)
        warm_rows.append([label, ours_warm, theirs_warm, f"{theirs_warm / ours_warm:.2f}x", errors])
    res.table(f"Cold: the whole command vs the whole citeproc-js process (median of {args.runs} paired runs)",
              ["what", "records/s (CPU)", "CPU s", "wall s", "CPU: reference / ours", "target"], cold_rows)
    res.table(f"Warm: in one process after a first pass (median of {args.runs})",
              ["style", "Citer.bibliography records/s (CPU)", "citeproc-js records/s (CPU)",
               "citeproc-js faster by", "entries refused"], warm_rows)
    res.note(f"The first {n} records of the synthetic 10,000-record catalog (clones of the 21 fixture documents); "
             "the same CSL-JSON items (tests/export/citeproc_js.js_item) and .csl files for citeproc-js. "
             "Output goes to a file and is not compared here (tests/export/test_citeproc_js.py does that).")
    res.note("The house style is written out (catalog/cite_text.py, no CSL processor, held to citeproc-py's "
             "rendering of wcda.csl by tests/export/test_house_citation.py); Chicago goes through citeproc-py with "
             "the style's elements remembering their XPath searches, terms and calls_variable answers "
             "(catalog/style_patch.py).")
    res.save()


if __name__ == "__main__":
    main()
