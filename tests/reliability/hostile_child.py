"""Runs one harvest step in a child process and prints what happened and its peak memory.

Memory is the point of some hostile cases (a compression bomb, a pathological page), so
they run here, in a fresh interpreter, and the test reads this process's own peak RSS from
the JSON line printed last: VmHWM from /proc/self/status (this process's memory alone), not
`ru_maxrss`, which Linux carries over an exec from the forking parent (a pytest process of
250 MB would count as this child's peak).

    python -m tests.reliability.hostile_child harvest BASE_URL WORKDIR ID...
    python -m tests.reliability.hostile_child reparse WARC_DIR WORKDIR
    python -m tests.reliability.hostile_child parse PAGE_FILE
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from catalog.errors import ParseError
from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import Settings, load_settings
from harvester.parse import parse_page


def _settings(base_url: str, work: Path) -> Settings:
    return load_settings(environ={}, overrides={
        "archive": {"base_url": base_url, "contact": "mailto:test@example.org"},
        "http": {"rate_limit": 1000.0, "max_retries": 0, "read_timeout": 5.0, "connect_timeout": 2.0},
        "storage": {"database": str(work / "catalog.db"), "warc_dir": str(work / "warc")},
    })


def main(argv: list[str]) -> dict[str, object]:
    mode = argv[0]
    if mode == "parse":
        body = Path(argv[1]).read_bytes()
        try:
            page = parse_page(body, record_id=1, final_url="http://127.0.0.1/document/x")
            return {"result": "parsed", "problems": page.problems}
        except ParseError as exc:
            return {"result": "failed", "detail": str(exc)}
    work = Path(argv[2])
    if mode == "harvest":
        settings = _settings(argv[1], work)
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.harvest([int(a) for a in argv[3:]], settings=settings, store=store, processes=False)
    else:
        settings = _settings("https://digitalarchive.wilsoncenter.org", work)
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.reparse(settings=settings, store=store, source=argv[1], processes=False)
    return {"outcomes": [[o.record_id, o.status, o.detail] for o in summary.outcomes]}


def peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    result = main(sys.argv[1:])
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))
