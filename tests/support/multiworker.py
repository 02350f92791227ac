"""Several `harvester harvest` processes on one catalog, for the shared-politeness tests and
bench/politeness.py: their environment, their start, and the server-side rate they made.

Each process gets its own contact address, so the User-Agent the server logs says which
worker sent a request; times are the server's own (Seen.at, time.monotonic of the test
process that serves), so the rate is measured where the archive would measure it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.archive_server import Seen

ROOT = Path(__file__).resolve().parents[2]


def worker_env(base_url: str, db: str, warc_dir: Path, worker: int, **http: object) -> dict[str, str]:
    """The environment of worker `worker`: settings through WCDA_* variables only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCDA_")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "WCDA_ARCHIVE__BASE_URL": base_url,
        "WCDA_ARCHIVE__CONTACT": f"mailto:worker{worker}@example.org",
        "WCDA_STORAGE__DATABASE": db,
        "WCDA_STORAGE__WARC_DIR": str(warc_dir),
        "WCDA_HTTP__BACKOFF_BASE": "0.05",
    })
    env.update({f"WCDA_HTTP__{key.upper()}": str(value) for key, value in http.items()})
    return env


def start_harvests(base_url: str, db: str, tmp: Path, id_lists: Sequence[Sequence[int]],
                   **http: object) -> list[subprocess.Popen[bytes]]:
    """One `harvester harvest ID…` process per list, all on catalog `db`, started together."""
    procs = []
    for n, ids in enumerate(id_lists):
        env = worker_env(base_url, db, tmp / f"warc{n}", n, **http)
        procs.append(subprocess.Popen([sys.executable, "-m", "harvester", "harvest", *map(str, ids)], env=env,
                                      cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return procs


def finish(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 300) -> list[tuple[int, str]]:
    """Each process's (exit code, stderr + stdout)."""
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        done.append((proc.returncode, (err + out).decode(errors="replace")))
    return done


def worker_of(seen: Seen) -> int | None:
    """Which worker sent a request (from the contact in its User-Agent)."""
    agent = seen.headers.get("user-agent", "")
    marker = agent.find("mailto:worker")
    if marker < 0:
        return None
    digits = agent[marker + len("mailto:worker"):].split("@", 1)[0]
    return int(digits) if digits.isdigit() else None


def busiest_window(times: Sequence[float], window: float) -> int:
    """The most requests that started within any `window` seconds (both ends included)."""
    ordered = sorted(times)
    most = 0
    first = 0
    for last, at in enumerate(ordered):
        while at - ordered[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most
