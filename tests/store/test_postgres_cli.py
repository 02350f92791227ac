"""The commands end to end on PostgreSQL, and the same results as on SQLite.

Each command runs as `python -m harvester` in a subprocess (real exit codes, real
stderr), against a database of the throw-away cluster (tests/support/postgres.py).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from lxml import etree

from catalog.export.registry import FORMATS
from harvester.cli import cli
from tests.store.backends import DOCUMENTS
from tests.support.postgres import Cluster

ROOT = Path(__file__).resolve().parents[2]
OAI = {"oai": "http://www.openarchives.org/OAI/2.0/"}
# The catalog's own timestamps (first_seen, last_changed, …) differ between two harvests.
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)")

pytestmark = pytest.mark.slow


def harvester(db: str, *args: str, tmp: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it; in process (CliRunner, faster) when it is expected to succeed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WCDA_STORAGE__WARC_DIR": str(tmp / "warc")}
    if check:
        result = CliRunner().invoke(cli, ["--db", db, *args], env={"WCDA_STORAGE__WARC_DIR": str(tmp / "warc")},
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return subprocess.CompletedProcess(args, 0, result.stdout, result.stderr)
    done = subprocess.run([sys.executable, "-m", "harvester", "--db", db, *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def catalogs(pg: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The fixture replay harvest, once into SQLite and once into PostgreSQL, by the CLI."""
    tmp = tmp_path_factory.mktemp("pgcli")
    sqlite_db = str(tmp / "catalog.db")
    pg_db = pg.create_database("cli")
    for db in (sqlite_db, pg_db):
        done = harvester(db, "harvest", "--replay", str(DOCUMENTS), tmp=tmp)
        assert "harvested 21 (new 21" in done.stderr + done.stdout
    yield sqlite_db, pg_db, tmp


def test_list_show_status_cite_on_postgresql(catalogs: tuple[str, str, Path]) -> None:
    sqlite_db, pg_db, tmp = catalogs
    for args in (["list"], ["show", "175798"], ["show", "175798", "--json"], ["cite", "175798"],
                 ["cite", "175798", "--style", "apa", "--format", "html"]):
        pg_out, sqlite_out = harvester(pg_db, *args, tmp=tmp).stdout, harvester(sqlite_db, *args, tmp=tmp).stdout
        assert _STAMP.sub("T", pg_out) == _STAMP.sub("T", sqlite_out), args
    status = harvester(pg_db, "status", tmp=tmp).stdout
    assert "records:   21 (plus 0 deleted" in status
    reparsed = harvester(pg_db, "reparse", "--from", str(DOCUMENTS), tmp=tmp)
    assert "unchanged 21" in reparsed.stdout + reparsed.stderr
    missing = harvester(pg_db, "show", "12345", tmp=tmp, check=False)
    assert missing.returncode == 1 and "not in the catalog" in missing.stderr


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_exports_equal_between_backends(catalogs: tuple[str, str, Path], fmt: str) -> None:
    sqlite_db, pg_db, tmp = catalogs
    a = harvester(sqlite_db, "export", fmt, "--jobs", "1", tmp=tmp).stdout
    b = harvester(pg_db, "export", fmt, tmp=tmp).stdout
    assert len(a) > 1000
    assert _STAMP.sub("T", a) == _STAMP.sub("T", b)


def test_copy_catalog_gives_byte_identical_exports(catalogs: tuple[str, str, Path], pg: Cluster) -> None:
    sqlite_db, _, tmp = catalogs
    target = pg.create_database("copy")
    done = harvester(sqlite_db, "copy-catalog", sqlite_db, target, tmp=tmp)
    assert "copied 21 records" in done.stdout
    for fmt in ("jsonl", "oai_dc", "csv"):
        assert harvester(target, "export", fmt, tmp=tmp).stdout == harvester(sqlite_db, "export", fmt, tmp=tmp).stdout
    again = harvester(sqlite_db, "copy-catalog", sqlite_db, target, tmp=tmp, check=False)
    assert again.returncode == 2 and "already holds records" in again.stderr and "Traceback" not in again.stderr
    back = str(tmp / "back.db")  # and back to SQLite
    harvester(target, "copy-catalog", target, back, tmp=tmp)
    assert harvester(back, "export", "jsonl", tmp=tmp).stdout == harvester(sqlite_db, "export", "jsonl", tmp=tmp).stdout


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_oai_from_postgresql(catalogs: tuple[str, str, Path]) -> None:
    sqlite_db, pg_db, tmp = catalogs
    port = _port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WCDA_OAI__REPOSITORY_IDENTIFIER": "oai.example.org"}
    proc = subprocess.Popen([sys.executable, "-m", "harvester", "--db", pg_db, "serve", "--port", str(port)],
                            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/oai"
        for _ in range(100):
            try:
                requests.get(base, params={"verb": "Identify"}, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        doc = etree.fromstring(requests.get(base, params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc",
                                                          "set": "type:cable"}, timeout=10).content)
        ids = [h.text for h in doc.iterfind(".//oai:header/oai:identifier", OAI)]
        assert ids and all(i.startswith("oai:oai.example.org:") for i in ids)
        sets = etree.fromstring(requests.get(base, params={"verb": "ListSets"}, timeout=10).content)
        specs = [s.text for s in sets.iterfind(".//oai:setSpec", OAI)]
        assert "type" in specs and "type:cable" in specs
        rec = etree.fromstring(requests.get(base, params={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                                          "identifier": ids[0]}, timeout=10).content)
        assert rec.find(".//oai:metadata", OAI) is not None
    finally:
        proc.terminate()
        proc.wait(10)


def test_unreachable_postgresql_is_one_line_exit_2(tmp_path: Path) -> None:
    url = f"postgresql://wcda@/wcda_nowhere?host={tmp_path}&port=5999"
    for args in (["list"], ["harvest", "--replay", str(DOCUMENTS)]):
        done = harvester(url, *args, tmp=tmp_path, check=False)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert "wcda_nowhere" in lines[0] and str(tmp_path) in lines[0] and "Traceback" not in done.stderr


def test_read_commands_never_create_a_catalog(pg: Cluster, tmp_path: Path) -> None:
    empty = pg.create_database("empty")
    done = harvester(empty, "list", tmp=tmp_path, check=False)
    assert done.returncode == 2 and "no catalog in PostgreSQL" in done.stderr
    missing = tmp_path / "none.db"
    done = harvester(str(missing), "export", "jsonl", tmp=tmp_path, check=False)
    assert done.returncode == 2 and str(missing) in done.stderr and "--db" in done.stderr
    assert not missing.exists()
