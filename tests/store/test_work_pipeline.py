"""The pipeline's three execution paths fed from the work queue (harvester/work.py), and SIGTERM/SIGINT stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.store import open_store
from harvester import work
from harvester.config import load_settings
from harvester.pipeline import ids_in_archive
from tests.store.backends import DOCUMENTS
from tests.support.archive_server import Answer
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

ROOT = Path(__file__).resolve().parents[2]


# The pool over the whole replay folder takes ~5 s on 2 busy cores: slow. The fast subset keeps the
# thread path here and the process pool in the live harvest test below.
@pytest.mark.parametrize("processes", [pytest.param(False, id="thread"),
                                       pytest.param(True, id="pool", marks=pytest.mark.slow)])
def test_a_replay_harvest_through_the_queue_on_each_path(processes: bool, tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"storage": {"database": str(tmp_path / "c.db"),
                                                                "warc_dir": str(tmp_path / "warc")}})
    ids = ids_in_archive(DOCUMENTS)
    with open_store(settings.storage.database) as store:
        summary = work.harvest(ids, settings=settings, store=store, replay=DOCUMENTS, processes=processes)
        assert [o.record_id for o in summary.outcomes] == ids  # reported in the order asked
        assert {o.status for o in summary.outcomes} <= {"new", "not_document", "failed"}
        batch = work.harvest_batch(ids, DOCUMENTS)
        counts = store.work_counts(batch)
        assert counts["done"] + counts["failed"] == len(ids) and counts["pending"] == counts["leased"] == 0
        assert {int(i.key): i.outcome for i in store.work_items(batch)} == {o.record_id: o.status
                                                                           for o in summary.outcomes}


def test_a_live_harvest_with_parse_workers_through_the_queue(tmp_path: Path) -> None:
    ids = DOCUMENT_IDS[:6]
    with TestArchive(ids) as site:
        settings = load_settings(environ={}, overrides={
            "archive": {"base_url": site.base_url, "contact": "mailto:t@example.org"},
            "http": {"rate_limit": 1000, "concurrency": 2},
            "storage": {"database": str(tmp_path / "c.db"), "warc_dir": str(tmp_path / "warc")}})
        with open_store(settings.storage.database) as store:
            summary = work.harvest(ids, settings=settings, store=store, processes=True)
            assert [o.status for o in summary.outcomes] == ["new"] * 6
            assert sorted(store.record_ids()) == sorted(ids)
            assert store.work_counts()["done"] == 6


def _env(site: TestArchive, tmp: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "WCDA_ARCHIVE__BASE_URL": site.base_url,
            "WCDA_ARCHIVE__CONTACT": "mailto:t@example.org", "WCDA_HTTP__RATE_LIMIT": "1000",
            "WCDA_HTTP__CONCURRENCY": "1", "WCDA_STORAGE__WARC_DIR": str(tmp / "warc")}


def _slow(site: TestArchive, delay: float) -> None:
    for doc in site.docs.values():

        def slow_page(seen: object, rid: int = doc.record_id) -> Answer:
            answer = site._page(rid, seen)  # type: ignore[arg-type]
            answer.delay = delay
            return answer

        site.server.route(f"/document/{doc.slug}", slow_page)


def _wait_pages(site: TestArchive, n: int) -> None:
    deadline = time.monotonic() + 60
    while sum(1 for s in site.seen if s.path.startswith("/document/") and not s.path[10:].isdigit()) < n:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.slow
def test_sigterm_stops_a_worker_cleanly_and_gives_its_items_back(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    ids = DOCUMENT_IDS[:10]
    with TestArchive(ids) as site:
        _slow(site, 0.3)
        env = _env(site, tmp_path)
        subprocess.run([sys.executable, "-m", "harvester", "--db", db, "enqueue", *map(str, ids)], env=env,
                       cwd=tmp_path, check=True, capture_output=True)
        proc = subprocess.Popen([sys.executable, "-m", "harvester", "--db", db, "work"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_pages(site, 3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "Traceback" not in err and "not_attempted" not in err
    with open_store(db) as store:
        counts = store.work_counts()
        assert counts["leased"] == 0 and counts["done"] >= 3 and counts["done"] + counts["pending"] == 10
        assert store.workers() == []


@pytest.mark.slow
def test_ctrl_c_then_the_same_harvest_fetches_only_what_was_left(tmp_path: Path) -> None:
    """The issue's case: Ctrl-C part-way through a harvest, then the same command again."""
    db = str(tmp_path / "c.db")
    ids = DOCUMENT_IDS[:12]
    with TestArchive(ids) as site:
        _slow(site, 0.25)
        env = _env(site, tmp_path)
        args = [sys.executable, "-m", "harvester", "--db", db, "harvest", *map(str, ids)]
        proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        _wait_pages(site, 4)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (out, err)
        with open_store(db) as store:
            finished = set(store.record_ids())
        assert 0 < len(finished) < len(ids)
        before = len(site.seen)
        again = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"harvested {len(ids)} (new {len(ids)}" in again.stdout
        assert f"resumed an interrupted run: {len(finished)} ID(s)" in again.stderr
        refetched = {s.path for s in site.seen[before:]}
        assert not refetched & {f"/document/{rid}" for rid in finished}  # nothing finished was asked again
        assert f"; {2 * (len(ids) - len(finished))} requests" in again.stdout
