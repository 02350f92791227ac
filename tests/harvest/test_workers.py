"""The supervised parse pool (harvester/workers.py): killed workers are replaced and their
task retried, every task is answered, and no worker outlives a killed main process."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.errors import WorkerDied
from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import load_settings
from harvester.workers import SupervisedPool
from tests.support import pool_tasks
from tests.support.fixture_site import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def _pool(workers: int = 2) -> SupervisedPool:
    return SupervisedPool(workers, multiprocessing.get_context("forkserver"))


def test_a_killed_worker_is_replaced_and_its_task_retried(tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    with _pool() as pool:
        futures = [pool.submit(pool_tasks.double, i) for i in range(10)]
        killer = pool.submit(pool_tasks.killed_once, str(marker), 21)
        futures += [pool.submit(pool_tasks.double, i) for i in range(10, 20)]
        assert killer.result(timeout=60) == 42
        assert [f.result(timeout=60) for f in futures] == [2 * i for i in range(20)]
        assert marker.exists() and pool.replaced == 1
        killed_pid = int(marker.read_text())
        assert killed_pid not in pool.pids() and len(pool.pids()) == 2


def test_a_task_that_kills_every_worker_fails_alone() -> None:
    with _pool() as pool:
        doomed = pool.submit(pool_tasks.always_killed, 1)
        others = [pool.submit(pool_tasks.double, i) for i in range(6)]
        with pytest.raises(WorkerDied, match="killed by signal 9.*2 attempts"):
            doomed.result(timeout=60)
        assert [f.result(timeout=60) for f in others] == [0, 2, 4, 6, 8, 10]
        assert pool.replaced == 2


def test_tasks_queued_behind_a_killing_task_are_not_charged_for_its_deaths(tmp_path: Path) -> None:
    # One worker, so the task after the doomed one waits in its pipe when it dies (IN_FLIGHT): it
    # never started, so those deaths must not use up its own retry, which it needs when it is
    # killed itself (once) later.
    marker = tmp_path / "killed"
    with _pool(1) as pool:
        doomed = pool.submit(pool_tasks.always_killed, 1)
        behind = pool.submit(pool_tasks.killed_once, str(marker), 5)
        others = [pool.submit(pool_tasks.double, i) for i in range(4)]
        with pytest.raises(WorkerDied, match="2 attempts"):
            doomed.result(timeout=60)
        assert behind.result(timeout=60) == 10 and marker.exists()
        assert [f.result(timeout=60) for f in others] == [0, 2, 4, 6] and pool.replaced == 3


def test_large_tasks_and_results_in_flight_both_ways_do_not_stall() -> None:
    # Several tasks a worker, each larger than a pipe's buffer, answered with as much: the pool
    # sends the next while the worker sends its answer; neither may wait for the other.
    big = [bytes([i]) * (3 << 20) for i in range(4)]
    pool = _pool(1)
    futures = [pool.submit(pool_tasks.echo, data) for data in big]
    # Not `with pool`: a stalled pool's shutdown would wait for ever; this fails instead (its
    # daemon thread and workers end with the test run).
    done, _ = concurrent.futures.wait(futures, timeout=60)
    assert len(done) == len(big), "the pool and its worker wait for each other"
    assert [f.result() for f in futures] == big
    pool.shutdown()


def test_a_task_the_worker_cannot_read_fails_alone() -> None:
    with _pool(1) as pool:
        bad = pool.submit(pool_tasks.double, pool_tasks.LoadsNowhere())
        good = [pool.submit(pool_tasks.double, i) for i in range(3)]
        with pytest.raises(RuntimeError, match="could not be read in the worker: ValueError"):
            bad.result(timeout=60)
        assert [f.result(timeout=60) for f in good] == [0, 2, 4] and pool.replaced == 0


def test_a_task_error_is_the_task_s_alone() -> None:
    with _pool(1) as pool:
        bad, good = pool.submit(pool_tasks.fails, 3), pool.submit(pool_tasks.double, 4)
        with pytest.raises(ValueError, match="bad value 3"):
            bad.result(timeout=60)
        assert good.result(timeout=60) == 8 and pool.replaced == 0


@pytest.mark.slow  # waits for every slot's worker to die and the supervisor to give up (~1.5 s)
def test_workers_that_cannot_start_fail_the_tasks_instead_of_restarting_for_ever() -> None:
    pool = SupervisedPool(2, multiprocessing.get_context("forkserver"), initializer=pool_tasks.broken_initializer)
    with pool:
        with pytest.raises(WorkerDied, match="exit code 1"):
            pool.submit(pool_tasks.double, 1).result(timeout=120)
        # The pool gives up replacing them after a few, and fails whatever it is given.
        deadline = time.monotonic() + 60
        while "die before doing any work" not in str(pool.submit(pool_tasks.double, 2).exception(timeout=120)):
            assert time.monotonic() < deadline, "the pool kept restarting workers that cannot start"
        # A worker that was already starting when the pool gave up still dies and is counted once (at
        # most one per slot, however busy the machine): wait until the slots are all dead, then the
        # count must stand still.
        broke_at = pool.replaced
        while any(_alive(pid) for pid in pool.pids()):
            assert time.monotonic() < deadline, "a worker of a broken pool kept running"
            time.sleep(0.05)
        time.sleep(0.5)  # let the supervisor handle the last death
        replaced = pool.replaced
        time.sleep(1)
        assert pool.replaced == replaced <= broke_at + 1 and replaced <= 8


@pytest.mark.slow
def test_a_harvest_survives_a_killed_parse_worker(tmp_path: Path) -> None:
    """Every ID is reported and stored, as without the kill (no traceback, nothing lost)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for path in sorted((FIXTURES / "warc" / "documents").glob("*.warc.gz")):
        shutil.copy(path, archive / path.name)
    settings = load_settings(environ={}, overrides={"storage": {"database": str(tmp_path / "c.db"),
                                                                "warc_dir": str(tmp_path / "warc")}})
    killed: list[int] = []

    def kill_a_worker(_: pipeline.Outcome) -> None:
        if not killed:
            workers = [p for p in multiprocessing.active_children() if p.name == "parse-worker"]
            assert workers, "the run should parse in worker processes"
            os.kill(workers[0].pid, signal.SIGKILL)  # type: ignore[arg-type]
            killed.append(workers[0].pid)  # type: ignore[arg-type]

    with SQLiteStore(settings.storage.database) as store:
        summary = pipeline.reparse(settings=settings, store=store, source=archive, processes=True,
                                   progress=kill_a_worker)
        stored = store.count()
    expected = pipeline.ids_in_archive(archive)
    assert killed
    assert [o.record_id for o in summary.outcomes] == expected
    assert {o.status for o in summary.outcomes} == {"new"}, [o for o in summary.outcomes if o.status != "new"]
    assert stored == len(expected)


_LIVE_WORKER_SCRIPT = """
import json, sys
from pathlib import Path
from harvester import pipeline
from harvester.config import load_settings
from harvester.http import FetchResult
from harvester.warc import WarcIndex
from tests.support import pool_tasks
if __name__ == "__main__":
    index = WarcIndex(Path("fixtures/warc/documents"))
    url = next(u for u in index.urls() if "/document/" in u and index.get(u).status == 200)
    settings = load_settings(path=sys.argv[1], overrides={}, environ={})
    with pipeline._process_pool(1, settings, None, False, None) as pool:  # as a live harvest starts it
        record = pool.submit(pipeline.parse_in_worker, 7, pipeline._for_worker(FetchResult(url, url, index.get(url)))
                             ).result(timeout=120)
        state = pool.submit(pool_tasks.worker_state).result(timeout=120)
    parsed = getattr(record, "record", None)
    print(json.dumps({"record": type(record).__name__, "id": getattr(parsed, "record_id", None), **state}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the fork server start method")
def test_a_live_harvest_s_parse_worker_holds_only_what_parsing_needs(tmp_path: Path) -> None:
    # A fresh interpreter: the fork server's preload is the first pool's of a process.
    config = tmp_path / "c.toml"
    config.write_text("")
    proc = subprocess.run([sys.executable, "-c", _LIVE_WORKER_SCRIPT, str(config)], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # It parsed the page it was handed, and prepared the record for the store (catalog/prepared.py).
    assert got["record"] == "PreparedRecord" and got["id"] > 0
    # Not the HTTP client, the store or the pipeline, even after unpickling a fetched page
    # (harvester/parse_worker.py): the fork server and the worker would each hold them.
    held = {m for m in got["modules"] if m.split(".")[0] == "httpx" or m in {"catalog.store", "harvester.pipeline"}}
    assert held == set()
    # What it was forked with is frozen (harvester/fork_server.py, harvester/workers.py): the
    # collector's scans leave the pages it shares with the fork server alone.
    assert got["frozen"] > 10_000


_ORPHAN_SCRIPT = """
import multiprocessing, sys
from harvester.workers import SupervisedPool
from tests.support import pool_tasks
if __name__ == "__main__":
    pool = SupervisedPool(2, multiprocessing.get_context("forkserver"))
    started = [pool.submit(pool_tasks.sleep, 0) for _ in range(2)]
    [f.result() for f in started]  # both workers are up
    busy = [pool.submit(pool_tasks.sleep, 120) for _ in range(2)]  # and now busy: they cannot see EOF
    print("ready", flush=True)
    busy[0].result()
"""


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc), zombies excluded."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_worker_outlives_a_killed_main_process() -> None:
    with subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            below = _descendants(proc.pid)
            assert len(below) >= 3  # the fork server and two workers (and the resource tracker)
            proc.kill()
            proc.wait(timeout=30)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(_alive(p) for p in below):
                time.sleep(0.1)
            # None left holding the stdout pipe (as `harvester ... | tee` needs to finish).
            assert [p for p in below if _alive(p)] == []
        finally:
            if proc.poll() is None:
                proc.kill()


_KILLED_HARVEST = """
import sys, time
from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import load_settings
archive, db = sys.argv[1], sys.argv[2]
settings = load_settings(environ={}, overrides={"storage": {"database": db, "warc_dir": archive}})
def progress(outcome):
    print("ready", flush=True)  # the pool is up and parsing; now wait to be killed
    time.sleep(120)
if __name__ == "__main__":
    with SQLiteStore(db) as store:
        pipeline.reparse(settings=settings, store=store, source=archive, processes=True, progress=progress)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_harvest_killed_with_sigkill_leaves_no_process_behind(tmp_path: Path) -> None:
    # The whole product path (reparse through the pool). Its workers are idle when the kill
    # lands, which the old pool survived too; busy workers are the case
    # test_no_worker_outlives_a_killed_main_process checks.
    archive = tmp_path / "archive"
    archive.mkdir()
    for path in sorted((FIXTURES / "warc" / "documents").glob("*.warc.gz")):
        shutil.copy(path, archive / path.name)
    with subprocess.Popen([sys.executable, "-c", _KILLED_HARVEST, str(archive), str(tmp_path / "c.db")], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            below = _descendants(proc.pid)
            assert len(below) >= 3  # the fork server, the parse workers (and the resource tracker)
            proc.kill()
            proc.wait(timeout=30)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(_alive(p) for p in below):
                time.sleep(0.1)
            assert [p for p in below if _alive(p)] == []
        finally:
            if proc.poll() is None:
                proc.kill()
