"""Killing the process during a write never corrupts the catalog.

A child process writes records through `SQLiteStore.upsert` (WAL, one transaction per
record, OAI set membership in the same transaction) and is killed with SIGKILL at a seeded
random point, again and again on the same database (the first kills can land inside the
schema migrations). After every kill: `PRAGMA integrity_check` is ok, every record present
is whole (its JSON validates as a CatalogRecord and its hash matches), every write the
child acknowledged is there, and the store opens and writes again.

`WCDA_CRASH_RUNS` (default 3 databases x 4 kills) runs longer forms.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.model import CatalogRecord
from catalog.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("WCDA_CRASH_RUNS", "3"))
KILLS_PER_RUN = 4


def check_catalog(db: Path) -> dict[int, str]:
    """Integrity, whole records; returns {record_id: content_hash} of what is there."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        present = {}
        for rid, body, digest in conn.execute("SELECT record_id, body, content_hash FROM record"):
            record = CatalogRecord.model_validate(json.loads(body))
            assert record.record_id == rid and record.content_hash() == digest
            present[rid] = digest
        return present
    finally:
        conn.close()


def run_and_kill(db: Path, seed: int, rng: random.Random) -> list[tuple[int, str]]:
    """Start a writer, let it make a random number of writes, kill it mid-stream; its acknowledged writes."""
    child = subprocess.Popen([sys.executable, "-m", "tests.reliability.crash_writer", str(db), str(seed)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    acked: list[tuple[int, str]] = []
    try:
        assert child.stdout is not None
        wanted = rng.choice([0, 0, 1, 5, 20, 60, 150])
        if wanted == 0:
            time.sleep(rng.uniform(0.0, 0.4))  # maybe during start-up or the migrations
        else:
            # Unbuffered, a byte at a time: whatever is not read here, communicate() gets below.
            for raw in iter(child.stdout.readline, b""):
                line = raw.decode()
                if line.startswith("ok "):
                    _, rid, digest = line.split()
                    acked.append((int(rid), digest))
                    if len(acked) >= wanted:
                        break
            time.sleep(rng.uniform(0, 0.003))  # land inside the next transaction, or between
    finally:
        child.send_signal(signal.SIGKILL)
        out_bytes, err = child.communicate(timeout=30)
    for line in out_bytes.decode().split("\n")[:-1]:  # whole lines written before the kill but not yet read
        if line.startswith("ok "):
            _, rid, digest = line.split()
            acked.append((int(rid), digest))
    assert child.returncode == -signal.SIGKILL, err
    return acked


@pytest.mark.slow
@pytest.mark.parametrize("run", range(RUNS))
def test_kill_during_writes_never_corrupts(tmp_path: Path, run: int) -> None:
    rng = random.Random(1000 + run)
    db = tmp_path / "catalog.db"
    latest: dict[int, str] = {}
    for kill in range(KILLS_PER_RUN):
        acked = run_and_kill(db, seed=run * 100 + kill, rng=rng)
        for rid, digest in acked:
            latest[rid] = digest
        if not db.exists():
            continue  # killed before the database was created
        present = check_catalog(db)
        # Every acknowledged write survived (WAL + synchronous=NORMAL is durable against a process crash);
        # a later, unacknowledged write may have replaced it, never a half one.
        missing = [rid for rid in latest if rid not in present]
        assert missing == []
        changed = {rid for rid, digest in latest.items() if present[rid] != digest}
        assert len(changed) <= 1  # at most the write in flight when the kill came
        latest.update({rid: present[rid] for rid in changed})
    # The catalog opens (migrations complete or resumed) and takes writes after all that.
    with SQLiteStore(db) as store:
        assert store.count(include_deleted=True) == len(check_catalog(db))
        store.log_event(None, "checked", "after the kills")
    assert check_catalog(db)
