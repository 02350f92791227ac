"""A replay folder with junk in it: unreadable files and symlinks are named and skipped, never a traceback."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harvester.warc import WarcIndex

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ROOT / "fixtures" / "warc" / "documents"


@pytest.fixture
def junk_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "replay"
    folder.mkdir()
    shutil.copy(DOCUMENTS / "doc-175798.warc.gz", folder / "good.warc.gz")
    (folder / "junk.warc.gz").write_bytes(os.urandom(5000))
    (folder / "text.warc.gz").write_bytes(gzip.compress(b"hello, not a WARC\n"))
    (folder / "empty.warc").write_bytes(b"")
    (folder / "evil.warc.gz").symlink_to("/etc/passwd")
    (folder / "loop.warc.gz").symlink_to(folder / "loop.warc.gz")
    (folder / "alias.warc.gz").symlink_to(folder / "good.warc.gz")
    return folder


def harvester(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "harvester", "--db", str(cwd / "catalog.db"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


# Both commands list the folder through one function (harvester.warc.warc_files); the fast subset
# runs the harvest, CI both.
@pytest.mark.parametrize("command", [["harvest", "--replay"],
                                     pytest.param(["reparse", "--from"], marks=pytest.mark.slow)])
def test_junk_and_symlinks_in_a_replay_folder_are_skipped_by_name(command: list[str], junk_folder: Path,
                                                                   tmp_path: Path) -> None:
    done = harvester(*command, str(junk_folder), cwd=tmp_path)
    err = done.stderr
    assert "Traceback" not in err and "Traceback" not in done.stdout, err
    assert done.returncode == 0, err
    assert "harvested 1 (new 1" in done.stdout
    for name in ("junk.warc.gz", "text.warc.gz"):
        assert f"skipped {junk_folder / name}: not a readable WARC file" in err, err
    for name in ("evil.warc.gz", "loop.warc.gz", "alias.warc.gz"):
        assert f"skipped {junk_folder / name}: a symlink, not a file of the recording" in err, err
    assert all(len(line) < 300 for line in err.splitlines())  # one plain line each, no binary junk


def test_a_folder_of_nothing_but_junk_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "junk.warc.gz").write_bytes(os.urandom(2000))
    done = harvester("reparse", "--from", str(folder), cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no readable WARC files" in done.stderr and "junk.warc.gz" in done.stderr


@pytest.mark.parametrize("seed", [111, 153], ids=["reads-as-arc", "reads-as-typeless-warc"])
def test_junk_that_warcio_reads_as_records_is_still_junk(tmp_path: Path, seed: int) -> None:
    # About 1 random file in 150 gets through warcio's lenient reader as an ARC "response" or a WARC
    # record with no type or ID (these seeds are two such); it holds no WARC record, so it is skipped.
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(random.Random(seed).randbytes(2000))
    index = WarcIndex([junk])
    assert len(index) == 0
    assert [(path, why) for path, why in index.skipped] == [(junk, "not a readable WARC file (no WARC records in it)")]
