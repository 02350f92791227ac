"""A full disk under the catalog or under the WARC folder: one clear line, exit 2, no traceback,
no record without its raw response, nothing half-written, and the next run (with room) completes.

Where the test may mount a small tmpfs (root with CAP_SYS_ADMIN), the catalog or the WARC
folder alone sits on it, filled to a few KiB; otherwise that case is skipped. The file size
limit case (RLIMIT_FSIZE in the child, SIGXFSZ ignored, so a write fails with EFBIG) runs
everywhere.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from catalog.store import SQLiteStore
from harvester.warc import WarcIndex, warc_files
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

ROOT = Path(__file__).resolve().parents[2]
IDS = DOCUMENT_IDS[:12]


def write_config(tmp_path: Path, base_url: str, database: Path, warc_dir: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[archive]\nbase_url = "{base_url}"\ncontact = "mailto:test@example.org"\n'
                      f'[http]\nrate_limit = 1000.0\nconcurrency = 2\nmax_retries = 0\n'
                      f'[storage]\ndatabase = "{database}"\nwarc_dir = "{warc_dir}"\n')
    return config


def harvest(config: Path, preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "harvester", "--config", str(config), "harvest", "-q",
                           *map(str, IDS)], cwd=config.parent, env=env, capture_output=True, text=True,
                          timeout=180, preexec_fn=preexec)


def check_kept(database: Path, warc_dir: Path) -> set[int]:
    """Every stored record's raw response is in a WARC file; the catalog is intact. Returns the IDs."""
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    kept = set()
    if warc_dir.exists() and warc_files(warc_dir):
        from warcio.archiveiterator import ArchiveIterator

        for path in warc_files(warc_dir):
            with open(path, "rb") as fh:
                for record in ArchiveIterator(fh):  # whole records only: a half one would raise here
                    kept.add(record.rec_headers.get_header("WARC-Record-ID"))
    with SQLiteStore(database) as store:
        stored = set(store.record_ids())
        for rid in stored:
            stored_record = store.get(rid)
            assert stored_record is not None
            assert stored_record.record.provenance.warc_record_id in kept, f"record {rid} has no raw response"
    return stored


def assert_one_clear_line(done: subprocess.CompletedProcess[str], phrase: str) -> None:
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out[-3000:]
    assert done.returncode == 2, out[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and phrase in errors[0], done.stderr
    assert "raw responses kept in" not in out


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    mounted: list[Path] = []

    def mount(name: str) -> Path:
        where = tmp_path / name
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root); the file size limit case still runs")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path, leave: int) -> Path:
    """Fill the file system at `where` up to `leave` free bytes."""
    stat = os.statvfs(where)
    filler = where / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return filler


@pytest.mark.slow
@pytest.mark.parametrize("full", ["warc", "catalog"])
def test_a_full_disk_stops_the_harvest_with_one_line(full: str, small_disk: Callable[[str], Path],
                                                     tmp_path: Path) -> None:
    disk = small_disk("disk")
    database = (disk if full == "catalog" else tmp_path) / "catalog.db"
    warc_dir = (disk if full == "warc" else tmp_path) / "warc"
    with TestArchive(IDS) as site:
        config = write_config(tmp_path, site.base_url, database, warc_dir)
        with SQLiteStore(database):
            pass  # the catalog exists (migrated) before the disk fills
        # Room for a few pages: the run starts, then the disk fills under it. (SQLite also needs
        # room for its 32 KiB shared-memory file before the first write, and a record's unit of
        # work writes its facet rows, full-text index, sort keys, five stored renderings and its
        # work-queue row too: more than the 256 KiB of room it once had, so that run stored
        # nothing; the 4 MiB disk leaves the next run room for all 12 records.) The
        # WARC folder gets room for ~6 of the 12 exchanges (7-13 KiB each): with 2 fetches in
        # flight and a fast loopback server, room for 2 let both be written before the first
        # record was stored, and a full disk stores nothing fetched after it.
        filler = fill(disk, 64 * 1024 if full == "warc" else 384 * 1024)
        done = harvest(config)
        assert_one_clear_line(done, "cannot write the raw archive" if full == "warc" else "catalog")
        filler.unlink()  # room again (SQLite needs some even to read a WAL catalog): the next run completes
        stored = check_kept(database, warc_dir)
        assert 0 < len(stored) < len(IDS), stored
        again = harvest(config)
        assert again.returncode == 0, again.stdout + again.stderr
        assert check_kept(database, warc_dir) == set(IDS)


@pytest.mark.slow
def test_a_file_size_limit_stops_the_harvest_with_one_line(tmp_path: Path) -> None:
    database, warc_dir = tmp_path / "catalog.db", tmp_path / "warc"
    with SQLiteStore(database):
        pass
    limit = max(database.stat().st_size, 64 * 1024) + 24 * 1024

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with TestArchive(IDS) as site:
        config = write_config(tmp_path, site.base_url, database, warc_dir)
        done = harvest(config, preexec=limited)
        assert_one_clear_line(done, "")
        assert "File too large" in done.stderr or "disk" in done.stderr, done.stderr
        assert len(check_kept(database, warc_dir)) < len(IDS)
        again = harvest(config)
        assert again.returncode == 0, again.stdout + again.stderr
        assert check_kept(database, warc_dir) == set(IDS)
    assert WarcIndex(warc_dir).skipped == []  # no half-written record in any WARC file


@pytest.mark.slow
def test_a_full_warc_disk_stops_a_sync_with_one_line(small_disk: Callable[[str], Path], tmp_path: Path) -> None:
    disk = small_disk("disk")
    database, warc_dir = tmp_path / "catalog.db", disk / "warc"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with TestArchive(IDS, page_size=5) as site:
        config = write_config(tmp_path, site.base_url, database, warc_dir)
        filler = fill(disk, 48 * 1024)

        def sync() -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "harvester", "--config", str(config), "sync"], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=180)

        done = sync()
        assert_one_clear_line(done, "cannot write the raw archive")
        filler.unlink()
        stored = check_kept(database, warc_dir)
        assert len(stored) < len(IDS)
        again = sync()
        assert again.returncode == 0, again.stdout + again.stderr
        assert check_kept(database, warc_dir) == set(IDS)
        with SQLiteStore(database) as store:
            assert store.connection.execute("SELECT count(*) FROM sync_run WHERE status = 'running'").fetchone()[0] == 0
