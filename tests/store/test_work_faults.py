"""Several `harvester work` processes, SIGKILLed at random moments, on SQLite and on PostgreSQL.

The final catalog must equal the one an uninterrupted single worker makes (compared by
content hash and by an export), no record may be stored twice (its history holds one
event; the archive's request log shows at most one extra fetch per kill: the page in
flight), and no lease may stay stuck longer than `queue.lease_seconds`. A worker that
loses its database stops with exit 2, and its items go to another worker.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from catalog.store import from_db_time, open_store, utcnow
from tests.support.archive_server import Answer, Seen
from tests.support.postgres import Cluster
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LEASE = 3.0  # queue.lease_seconds: short, so a killed worker's items come back quickly
WORKERS = 3
KILLS = 20  # per backend, each while items are still waiting or leased
PAGE_DELAY = 0.25  # seconds the archive takes per page: the kills land mid-fetch too
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)")


class SlowArchive(TestArchive):
    """The test archive with every document page taking PAGE_DELAY, and five copies of each document
    (enough work to outlast KILLS kills, workers restarting in between)."""

    def __init__(self) -> None:
        super().__init__(DOCUMENT_IDS)
        for n, source in enumerate(DOCUMENT_IDS * 5):
            self.add(source, as_id=800_000 + n)

    def _page(self, record_id: int, seen: Seen) -> Answer:
        return dataclasses.replace(super()._page(record_id, seen), delay=PAGE_DELAY)


def _env(site: TestArchive, tmp: Path, concurrency: int = 1) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCDA_")}
    return env | {"PYTHONPATH": str(ROOT), "WCDA_ARCHIVE__BASE_URL": site.base_url,
                  "WCDA_ARCHIVE__CONTACT": "mailto:t@example.org", "WCDA_HTTP__RATE_LIMIT": "1000",
                  "WCDA_HTTP__CONCURRENCY": str(concurrency), "WCDA_HTTP__MAX_RETRIES": "0",
                  "WCDA_QUEUE__LEASE_SECONDS": str(LEASE), "WCDA_STORAGE__WARC_DIR": str(tmp / "warc"),
                  # Ten kills may land on the same (oldest-first) item five times: that is the
                  # poison-item rule (tests/store/test_work_queue.py), not what this test is about.
                  "WCDA_QUEUE__MAX_ATTEMPTS": str(KILLS + 2),
                  # Nor is the quality alarm (tests/harvest/test_quality_alarm.py): a worker started
                  # again judges its 20 pages against the catalog stored so far, and with clones of
                  # a few documents in a repeating order a window of them can lack a field that the
                  # first records mostly had (CI: "people_and_organizations" after 71 of 126 stored).
                  "WCDA_SYNC__QUALITY_MIN_PAGES": "1000000"}


def _cli(db: str, env: dict[str, str], tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harvester", "--db", db, *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _worker(db: str, env: dict[str, str], tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "harvester", "--db", db, "work", "--until-empty", "-q"],
                            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _snapshot(db: str, env: dict[str, str], tmp: Path) -> tuple[dict[int, str], str]:
    """(Record ID -> content hash, the csv export without the catalog's own timestamps)."""
    with open_store(db) as store:
        hashes = {raw.record_id: raw.content_hash for raw in store.iter_raw(brief=True)}
    export = _cli(db, env, tmp, "export", "csv")
    assert export.returncode == 0, export.stderr
    return hashes, _STAMP.sub("T", export.stdout)


def _catalog_url(backend: str, tmp: Path, request: pytest.FixtureRequest, name: str) -> str:
    if backend == "sqlite":
        return str(tmp / f"{name}.db")
    cluster: Cluster = request.getfixturevalue("pg")
    return cluster.create_database(name)


def test_killed_workers_leave_the_catalog_an_uninterrupted_run_makes(backend: str, request: pytest.FixtureRequest,
                                                                     tmp_path: Path) -> None:
    rng = random.Random(f"work-faults-{backend}")
    with SlowArchive() as site:
        ids = sorted(site.docs)
        db = _catalog_url(backend, tmp_path, request, "killed")
        env = _env(site, tmp_path)
        assert _cli(db, env, tmp_path, "enqueue", *map(str, ids)).returncode == 0
        started = len(site.seen)
        workers = [_worker(db, env, tmp_path) for _ in range(WORKERS)]
        try:
            kills, rounds, worst_overdue = 0, 0, 0.0
            deadline = time.monotonic() + 240
            with open_store(db) as watch:
                while time.monotonic() < deadline:
                    time.sleep(rng.uniform(0.2, 0.9) if kills < KILLS else 0.3)
                    now = utcnow()
                    for item in watch.work_items(state="leased"):
                        assert item.lease_expires is not None
                        worst_overdue = max(worst_overdue, (now - from_db_time(item.lease_expires)).total_seconds())
                    counts = watch.work_counts()
                    if kills < KILLS and counts["pending"] + counts["leased"]:  # a kill in the middle of the work
                        victim = rng.choice(workers)
                        if victim.poll() is None:
                            victim.send_signal(signal.SIGKILL)
                            kills += 1
                    for n, w in enumerate(workers):
                        if w.poll() is not None:
                            _, err = w.communicate()
                            assert w.returncode in (0, -signal.SIGKILL), (w.returncode, err[-2000:])
                            workers[n] = _worker(db, env, tmp_path)
                            rounds += 1
                    counts = watch.work_counts()
                    if kills >= KILLS and counts["pending"] + counts["leased"] == 0:
                        break
                for w in workers:
                    w.communicate(timeout=60)
                counts = watch.work_counts()
                events = {rid: [e.outcome for e in watch.events(rid)] for rid in ids}
                leftover = watch.workers()
        finally:  # a failed check above must not leave workers running into the next test
            for w in workers:
                if w.poll() is None:
                    w.kill()
                w.communicate()
        fetches = [s.path for s in site.seen[started:] if s.path.startswith("/document/")]

        # the reference: one worker, never interrupted, into a fresh catalog
        reference = _catalog_url(backend, tmp_path, request, "reference")
        ref_env = _env(site, tmp_path, concurrency=4)
        assert _cli(reference, ref_env, tmp_path, "enqueue", *map(str, ids)).returncode == 0
        one = _cli(reference, ref_env, tmp_path, "work", "--until-empty", "-q")
        assert one.returncode == 0, one.stderr

    print(f"{backend}: {kills} kills, {rounds} workers started again, worst lease overdue {worst_overdue:.1f} s")
    assert kills == KILLS
    assert counts == {"pending": 0, "leased": 0, "done": len(ids), "failed": 0, "expired": 0}
    assert all(outcomes == ["new"] for outcomes in events.values()), events  # stored once each
    assert _snapshot(db, env, tmp_path) == _snapshot(reference, ref_env, tmp_path)
    slugs = {f"/document/{site.docs[rid].slug}" for rid in ids}
    page_fetches = [p for p in fetches if p in slugs]
    assert set(page_fetches) == slugs
    assert len(page_fetches) - len(slugs) <= kills  # only a killed worker's page in flight is fetched again
    # An expired lease is claimed again by the next worker that asks, so no lease outlives its expiry
    # by much: measured 0.3-1.7 s at idle, 3.5 and 4.2 s with the load average at 3-10 (a worker
    # started again spends 1-2 s importing before its first claim). Without the reclaim an item
    # stays leased to the end of the run (tens of seconds).
    assert worst_overdue <= 2 * LEASE
    assert leftover == [] or all(w.stopped_at is None for w in leftover)


def test_a_worker_that_loses_its_database_exits_2_and_another_takes_its_items(
        pg: Cluster, tmp_path: Path) -> None:
    db = pg.create_database("lost")
    dbname = conninfo_to_dict(db)["dbname"]
    with SlowArchive() as site:
        ids = sorted(site.docs)[:12]
        env = _env(site, tmp_path)
        assert _cli(db, env, tmp_path, "enqueue", *map(str, ids)).returncode == 0
        first = subprocess.Popen([sys.executable, "-m", "harvester", "--db", db, "work", "--until-empty"],
                                 cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with open_store(db) as s:
                    if s.work_counts()["done"] >= 3:
                        break
                time.sleep(0.2)
            with psycopg.connect(pg.url(), autocommit=True) as admin:  # the database goes away under the worker
                admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                              (dbname,))
            out, err = first.communicate(timeout=180)
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()
        assert first.returncode == 2, (out, err)
        assert "Traceback" not in err and "error:" in err
        with psycopg.connect(pg.url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        time.sleep(LEASE)  # the lost worker's lease runs out (it runs on this host, so it is also reaped)
        second = _cli(db, env, tmp_path, "work", "--until-empty")
        assert second.returncode == 0, second.stdout + second.stderr
    with open_store(db) as store:
        assert store.work_counts()["done"] == len(ids)
        assert sorted(store.record_ids()) == ids
        assert all([e.outcome for e in store.events(rid)] == ["new"] for rid in ids)
