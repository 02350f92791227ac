"""`harvester sync` killed with SIGKILL at random points, restarted until done.

The final catalog must equal that of an uninterrupted run from the same start, and no
URL may be fetched twice across the attempts, except the item in flight at each kill.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from catalog.store import SQLiteStore
from harvester.sync import run_sync
from tests.support.test_archive import TestArchive
from tests.sync.conftest import CONTACT, make_settings

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [11, 23, 37]
MAX_KILLS = 3
TIME_CAP = 25.0  # seconds per seed, all attempts together


def _catalog(db: Path) -> dict[int, tuple[str, bool, int, str | None]]:
    with SQLiteStore(db) as store:
        rows = store.connection.execute(
            "SELECT record_id, content_hash, deleted_at IS NOT NULL, missing_count, slug FROM record").fetchall()
        return {r[0]: (r[1], bool(r[2]), r[3], r[4]) for r in rows}


def _copy_db(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)


def _env(archive: TestArchive, db: Path, warc: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCDA_")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "WCDA_ARCHIVE__BASE_URL": archive.base_url, "WCDA_ARCHIVE__CONTACT": CONTACT,
        "WCDA_HTTP__RATE_LIMIT": "1000", "WCDA_HTTP__MAX_RETRIES": "0",
        "WCDA_STORAGE__DATABASE": str(db), "WCDA_STORAGE__WARC_DIR": str(warc),
        "WCDA_SYNC__TOMBSTONE_AFTER": "1", "WCDA_SYNC__QUALITY_MIN_PAGES": "5",
    })
    return env


def _last_run(db: Path) -> tuple[str, str] | None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT run_id, status FROM sync_run ORDER BY started_at DESC").fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_killed_sync_resumes_to_the_same_catalog(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    with TestArchive(page_size=5) as archive:
        # Start: a catalog from a first sync.
        start = make_settings(archive.base_url, tmp_path / "start")
        with SQLiteStore(start.storage.database) as store:
            run_sync(settings=start, store=store)
        # The site moves on: new uploads, a change, a touch, deletions, a renamed slug.
        archive.add(300641, as_id=400001)
        archive.add(999004, as_id=400002)
        archive.add(175798, as_id=400003)
        archive.change(300640)
        archive.touch(300239)
        archive.delete(999007)
        archive.delete(300653, status=410)
        archive.rename(999001, "renamed-note-soviet-economic-assistance")

        # The reference: one uninterrupted run (in-process; same code path as the CLI).
        ref = make_settings(archive.base_url, tmp_path / "ref", tombstone_after=1)
        _copy_db(Path(start.storage.database), Path(ref.storage.database))
        mark = len(archive.seen)
        with SQLiteStore(ref.storage.database) as store:
            reference = run_sync(settings=ref, store=store, recheck_all=True)
        assert reference.status == "finished"
        ref_paths = Counter(archive.paths(mark))
        assert max(ref_paths.values()) == 1

        # The same run as `python -m harvester sync`, killed at random points.
        db = tmp_path / "killed" / "catalog.db"
        _copy_db(Path(start.storage.database), db)
        env = _env(archive, db, tmp_path / "killed" / "warc")
        mark = len(archive.seen)
        kills, deadline, rc, late_kill = 0, time.monotonic() + TIME_CAP, None, False
        before = _last_run(db)  # the start catalog's own finished run
        while time.monotonic() < deadline:
            proc = subprocess.Popen([sys.executable, "-m", "harvester", "sync", "--recheck-all"], env=env,
                                    cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if kills < MAX_KILLS:
                # Kill once the server has seen k more requests, a few ms later (in parsing, in the commit…).
                k, delay = rng.randint(1, 10), rng.uniform(0, 0.02)
                seen_at_start = len(archive.seen)

                def killer(p: subprocess.Popen = proc, target: int = seen_at_start + k, d: float = delay) -> None:
                    while p.poll() is None:
                        if len(archive.seen) >= target:
                            time.sleep(d)
                            if p.poll() is None:
                                p.send_signal(signal.SIGKILL)
                            return
                        time.sleep(0.001)

                watcher = threading.Thread(target=killer, daemon=True)
                watcher.start()
            out, err = proc.communicate(timeout=60)
            if proc.returncode == -signal.SIGKILL:
                kills += 1
                last = _last_run(db)
                if last is not None and last != before and last[1] == "finished":
                    # On a loaded machine the killer can wake after the run had finished (the
                    # process was only exiting): the run is done, and a further sync would be a
                    # new run that fetches everything again by design.
                    rc, late_kill = 0, True
                    break
                continue
            rc = proc.returncode
            break
        assert rc == 0, (rc, err.decode()[-2000:])
        assert kills >= 1

    # Same final catalog: content hashes, tombstones, miss counts, slugs.
    assert _catalog(db) == _catalog(Path(ref.storage.database))
    # Nothing fetched twice except the item in flight at each kill (an item is at most 2 URLs).
    paths = Counter(archive.paths(mark))
    assert set(paths) == set(ref_paths)
    extra = sum(n - 1 for n in paths.values())
    assert extra <= 2 * kills, {p: n for p, n in paths.items() if n > 1}
    # The run's report counts every item once, whatever the number of attempts.
    with SQLiteStore(db) as store:
        row = store.connection.execute(
            "SELECT status, attempts, run_id FROM sync_run ORDER BY started_at DESC").fetchone()
        # one attempt per kill plus the one that finished (itself killed while exiting: a late kill)
        assert row[0] == "finished" and row[1] == kills + (0 if late_kill else 1)
        n_items = store.connection.execute("SELECT count(*) FROM sync_item WHERE kind != 'listing' AND run_id = ?",
                                           (row[2],)).fetchone()[0]
    assert n_items == sum(reference.report["counts"][k] for k in
                          ("new", "changed", "unchanged", "not_modified", "restored", "not_found", "tombstoned",
                           "failed", "blocked", "disallowed"))
