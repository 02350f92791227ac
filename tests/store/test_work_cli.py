"""`harvester enqueue`, `work`, a harvest that resumes, and `status`, end to end over a loopback archive.

The single commands run in process through click (the exit codes and the output a user sees), which
keeps them in the fast subset; the two workers that share a queue are real `python -m harvester`
processes, since there the processes are the point, and so is the worker that exits 2 (the error
becomes an exit code in the entry point). The archive is tests/support/test_archive.py's,
and its request log says what was fetched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.store import open_store
from harvester.cli import cli
from tests.support.archive_server import Answer
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

ROOT = Path(__file__).resolve().parents[2]
IDS = DOCUMENT_IDS[:8]
CHALLENGE = (b"<html><head><title>Just a moment...</title></head><body>"
             b"Checking your browser before accessing the site.</body></html>")


@dataclass(frozen=True)
class Ran:
    """What a command gave back, named as `subprocess.CompletedProcess` names it."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run from the test's folder, as the subprocesses did (relative paths, no repo config.toml)."""
    monkeypatch.chdir(tmp_path)


def _env(tmp: Path, site: TestArchive) -> dict[str, str]:
    return {"WCDA_ARCHIVE__BASE_URL": site.base_url, "WCDA_ARCHIVE__CONTACT": "mailto:t@example.org",
            "WCDA_HTTP__RATE_LIMIT": "1000", "WCDA_HTTP__CONCURRENCY": "1", "WCDA_HTTP__MAX_RETRIES": "0",
            "WCDA_STORAGE__WARC_DIR": str(tmp / "warc")}


def run(tmp: Path, site: TestArchive, db: str, *args: str) -> Ran:
    result = CliRunner().invoke(cli, ["--db", db, *args], env=_env(tmp, site), catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def run_process(tmp: Path, site: TestArchive, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m harvester`: its entry point (harvester.cli.main) is what turns a store error into exit 2."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **_env(tmp, site)}
    return subprocess.run([sys.executable, "-m", "harvester", "--db", db, *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def page_requests(site: TestArchive, record_id: int) -> int:
    """Requests for a document's own page (its slug), not the /document/<ID> redirect."""
    slug = site.docs[record_id].slug
    return sum(1 for s in site.seen if s.path == f"/document/{slug}")


def test_an_interrupted_harvest_resumes_without_fetching_finished_ids(tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    blocked = IDS[5]
    with TestArchive(IDS) as site:
        site.server.route(f"/document/{blocked}", Answer(403, CHALLENGE, {"cf-mitigated": "challenge"}))
        first = run(tmp_path, site, db, "harvest", *map(str, IDS))
        assert first.returncode == 2, first.stdout + first.stderr  # blocked: the run stops
        assert "harvested 5 (new 5" in first.stdout and "not attempted 2" in first.stdout
        site._route_doc(site.docs[blocked])  # the archive lets us in again
        before = {rid: page_requests(site, rid) for rid in IDS}
        again = run(tmp_path, site, db, "harvest", *map(str, IDS))
        assert again.returncode == 0, again.stdout + again.stderr
        # the summary covers every ID; only the three unfinished ones were fetched
        assert "harvested 8 (new 8" in again.stdout and "; 6 requests" in again.stdout, again.stdout
        assert "resumed an interrupted run: 5 ID(s)" in again.stderr
        assert [page_requests(site, rid) - before[rid] for rid in IDS] == [0, 0, 0, 0, 0, 1, 1, 1]
        # a finished batch, run once more, starts over; --fresh would too
        third = run(tmp_path, site, db, "harvest", *map(str, IDS))
        assert "unchanged 8" in third.stdout and "resumed" not in third.stderr
        fresh = run(tmp_path, site, db, "harvest", "--fresh", *map(str, IDS[:3]))
        assert fresh.returncode == 0 and "unchanged 3" in fresh.stdout
    with open_store(db) as store:
        assert sorted(store.record_ids()) == sorted(IDS)
        assert [e.outcome for e in store.events(IDS[0])] == ["new", "unchanged", "unchanged"]


def test_fresh_starts_an_interrupted_harvest_over(tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    with TestArchive(IDS[:4]) as site:
        site.server.route(f"/document/{IDS[2]}", Answer(403, CHALLENGE, {"cf-mitigated": "challenge"}))
        assert run(tmp_path, site, db, "harvest", *map(str, IDS[:4])).returncode == 2
        site._route_doc(site.docs[IDS[2]])
        again = run(tmp_path, site, db, "harvest", "--fresh", *map(str, IDS[:4]))
        assert again.returncode == 0 and "unchanged 2" in again.stdout and "new 2" in again.stdout
        assert "resumed" not in again.stderr
        assert page_requests(site, IDS[0]) == 2


def test_enqueue_then_a_worker_empties_the_queue_and_status_tells(tmp_path: Path) -> None:
    """The fast subset's version of the next test, with one in-process worker in place of two processes."""
    db = str(tmp_path / "catalog.db")
    ids = DOCUMENT_IDS[:12]
    with TestArchive(ids) as site:
        queued = run(tmp_path, site, db, "enqueue", *map(str, ids[:8]))
        assert queued.returncode == 0 and "queued 8 item(s)" in queued.stdout
        (tmp_path / "more.txt").write_text("\n".join(map(str, ids[6:])) + "\n# a comment\n")
        more = run(tmp_path, site, db, "enqueue", "--ids-file", "more.txt")
        assert "queued 4 item(s) (2 already waiting)" in more.stdout
        worked = run(tmp_path, site, db, "work", "--until-empty")
        assert worked.returncode == 0, worked.stdout + worked.stderr
        assert all(page_requests(site, rid) == 1 for rid in ids)  # every page fetched once
        status = run(tmp_path, site, db, "status")
        assert status.returncode == 0
        assert "queue:     0 pending, 0 leased, 12 done, 0 failed" in status.stdout, status.stdout
        requeue = run(tmp_path, site, db, "enqueue", str(ids[0]), "--due")
        assert "queued 1 item(s)" in requeue.stdout  # done items go back to pending; nothing is due yet
        nothing = run(tmp_path, site, db, "enqueue")
        assert nothing.returncode == 2 and "give Record IDs" in nothing.stderr
    with open_store(db) as store:
        assert sorted(store.record_ids()) == sorted(ids)
        assert sum(w.items_done for w in store.workers(include_stopped=True)) == 12
        assert store.workers() == []  # stopped cleanly


@pytest.mark.slow  # two worker processes (~5-12 s on 2 busy cores); the test above is its fast version
def test_enqueue_then_two_workers_share_the_queue(tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    ids = DOCUMENT_IDS[:12]
    with TestArchive(ids) as site:
        queued = run(tmp_path, site, db, "enqueue", *map(str, ids[:8]))
        assert queued.returncode == 0 and "queued 8 item(s)" in queued.stdout
        (tmp_path / "more.txt").write_text("\n".join(map(str, ids[6:])) + "\n# a comment\n")
        more = run(tmp_path, site, db, "enqueue", "--ids-file", "more.txt")
        assert "queued 4 item(s) (2 already waiting)" in more.stdout
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WCDA_ARCHIVE__BASE_URL": site.base_url,
               "WCDA_ARCHIVE__CONTACT": "mailto:t@example.org", "WCDA_HTTP__RATE_LIMIT": "1000",
               "WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc")}
        workers = [subprocess.Popen([sys.executable, "-m", "harvester", "--db", db, "work", "--until-empty"],
                                    cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(2)]
        outputs = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        assert all(page_requests(site, rid) == 1 for rid in ids)  # every page fetched once, by one worker
        status = run(tmp_path, site, db, "status")
        assert status.returncode == 0
        assert "queue:     0 pending, 0 leased, 12 done, 0 failed" in status.stdout, status.stdout
        requeue = run(tmp_path, site, db, "enqueue", str(ids[0]), "--due")
        assert "queued 1 item(s)" in requeue.stdout  # done items go back to pending; nothing is due yet
        nothing = run(tmp_path, site, db, "enqueue")
        assert nothing.returncode == 2 and "give Record IDs" in nothing.stderr
    with open_store(db) as store:
        assert sorted(store.record_ids()) == sorted(ids)
        assert sum(w.items_done for w in store.workers(include_stopped=True)) == 12
        assert store.workers() == []  # both stopped cleanly


def test_a_worker_reports_failures_and_status_shows_live_workers(tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    with TestArchive(IDS[:3]) as site:
        site.server.route("/document/4242", Answer(500, b"<html>oops</html>"))
        run(tmp_path, site, db, "enqueue", *map(str, IDS[:3]), "4242")
        done = run(tmp_path, site, db, "work", "--until-empty", "--max-requests", "3")
        assert done.returncode == 0, done.stdout + done.stderr  # the budget stopped it before 4242
        assert "budget reached" in done.stdout and "queue: 2 pending" in done.stdout
        rest = run(tmp_path, site, db, "work", "--until-empty")
        assert rest.returncode == 1 and "4242: failed" in rest.stderr
        with open_store(db) as store:
            [failed] = store.work_items(state="failed")
            assert failed.key == "4242" and "500" in failed.last_error
            from catalog.store.api import WorkerRow

            store.worker_start(WorkerRow("elsewhere:77:abc", "elsewhere", 77, "2026-01-01T00:00:00.000000Z",
                                         "2026-01-01T00:00:00.000000Z", 5, None))
        status = run(tmp_path, site, db, "status")
        assert "3 done, 1 failed" in status.stdout
        assert "worker:    elsewhere pid 77, last heartbeat 2026-01-01T00:00:00Z" in status.stdout
        assert "5 item(s) done - no heartbeat for longer than queue.lease_seconds" in status.stdout


def test_a_worker_without_its_catalog_exits_2(tmp_path: Path) -> None:
    with TestArchive(IDS[:1]) as site:
        missing = f"postgresql://nobody@/nowhere?host={tmp_path}&port=1"
        done = run_process(tmp_path, site, missing, "work", "--until-empty")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot connect to PostgreSQL" in done.stderr
