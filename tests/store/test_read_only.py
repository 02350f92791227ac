"""Read commands on a catalog this user cannot write, and on a PostgreSQL role with SELECT only.

A SQLite file owned by someone else (here: made by root, read by the `postgres` user in a
forked child that dropped its privileges; or, when the tests do not run as root, a file
and folder without write permission) must be read, never "attempt to write a readonly
database", and never modified.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from click.testing import CliRunner

import catalog.export.registry  # noqa: F401 - imported before a child drops privileges (lazy imports)
import harvester.sync  # noqa: F401
from catalog.errors import StoreError
from catalog.oai.app import create_app
from catalog.oai.provider import ProviderSettings
from catalog.store import open_store
from harvester.cli import cli
from tests.store.backends import fresh_fixture_catalog
from tests.support.postgres import Cluster

READ_COMMANDS = [["list"], ["show", "175798"], ["export", "jsonl", "--jobs", "1"], ["export", "oai_dc", "--jobs", "1"],
                 ["cite", "175798"], ["status"]]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_reader(work: Callable[[], dict[str, Any]], path: Path) -> dict[str, Any]:
    """Run `work` as a user who may read but not write `path` (and its folder)."""
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        os.chmod(path.parent, 0o555)
        try:
            return work()
        finally:
            os.chmod(path.parent, 0o755)
            os.chmod(path, 0o644)
    user = pwd.getpwnam("postgres")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the other user, do the work, report as JSON
        code = 0
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            result = work()
        except BaseException as exc:  # reported to the parent, which fails the test
            result, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
        with os.fdopen(write_fd, "w") as out:
            json.dump(result, out)
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as got:
        data = json.load(got)
    os.waitpid(pid, 0)
    return data


@pytest.fixture
def shared_catalog() -> Iterator[Path]:
    """A catalog in a folder anyone may read (pytest's own folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="wcda-ro-"))
    os.chmod(folder, 0o755)
    try:
        store = fresh_fixture_catalog(folder / "catalog.db")
        store.close()
        shutil.rmtree(folder / "warc", ignore_errors=True)
        os.chmod(folder / "catalog.db", 0o644)
        yield folder / "catalog.db"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_everything(db: Path, *, try_write: bool = True) -> dict[str, Any]:
    runner = CliRunner()
    out: dict[str, Any] = {}
    for args in READ_COMMANDS:
        result = runner.invoke(cli, ["--db", str(db), *args], catch_exceptions=True)
        out[" ".join(args)] = [result.exit_code, result.stdout, repr(result.exception) if result.exception else ""]
    store = open_store(db, mode="read")
    try:
        out["read_only"] = store.read_only
        settings = ProviderSettings(repository_name="t", repository_identifier="digitalarchive.wilsoncenter.org",
                                    admin_email="a@example.org", page_size=5)
        app = create_app(store, settings)
        environ: dict[str, Any] = {"PATH_INFO": "/oai",
                                   "QUERY_STRING": "verb=ListIdentifiers&metadataPrefix=oai_dc&set=type"}
        setup_testing_defaults(environ)
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], *exc: object) -> Callable[[bytes], None]:
            status.append(line)
            return lambda data: None

        body = b"".join(app(environ, start_response))
        out["oai"] = [status[0], body.decode("utf-8")]
        if try_write:
            try:
                store.upsert(store.get(175798).record)  # type: ignore[union-attr]
                out["write"] = "written"
            except StoreError as exc:
                out["write"] = str(exc)
    finally:
        store.close()
    return out


def test_read_commands_on_a_catalog_this_user_cannot_write(shared_catalog: Path) -> None:
    mine = _read_everything(shared_catalog, try_write=False)  # the owner's view (it may keep an OAI token key)
    before = _digest(shared_catalog)
    theirs = _as_reader(lambda: _read_everything(shared_catalog), shared_catalog)
    assert "error" not in theirs, theirs
    assert theirs["read_only"] is True and mine["read_only"] is False
    for args in READ_COMMANDS:
        key = " ".join(args)
        assert theirs[key][0] == 0, (key, theirs[key])
        assert theirs[key][1] == mine[key][1], key
    assert theirs["oai"][0].startswith("200") and "<identifier>" in theirs["oai"][1]
    assert "readonly" in theirs["write"] or "read-only" in theirs["write"] or "read only" in theirs["write"]
    assert _digest(shared_catalog) == before  # not one byte changed


def test_postgresql_reader_role_with_select_only(pg: Cluster, tmp_path: Path) -> None:
    url = pg.create_database("ro")
    store = open_store(url)
    from tests.store.backends import harvest_fixtures

    harvest_fixtures(store, tmp_path / "warc")
    expected = [s.record.record_id for s in store.iter_records()]
    store.close()
    dbname = url.split("/")[3].split("?")[0]
    with psycopg.connect(url, autocommit=True) as conn:  # what docs/postgresql.md tells an operator to run
        conn.execute("DROP ROLE IF EXISTS wcda_reader")
        conn.execute("CREATE ROLE wcda_reader LOGIN")
        conn.execute(f'GRANT CONNECT ON DATABASE "{dbname}" TO wcda_reader')
        conn.execute("GRANT USAGE ON SCHEMA public TO wcda_reader")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO wcda_reader")
    reader = pg.url(dbname, user="wcda_reader")
    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", reader, "list"], catch_exceptions=False)
    assert listed.exit_code == 0 and [int(line.split()[0]) for line in listed.stdout.splitlines()] == expected
    exported = runner.invoke(cli, ["--db", reader, "export", "jsonl"], catch_exceptions=False)
    assert exported.exit_code == 0 and len(exported.stdout.splitlines()) == len(expected)
    ro = open_store(reader, mode="read")
    try:
        assert ro.meta("token_key", "x") != "x"  # made with the schema: a SELECT-only server has one
        with pytest.raises(StoreError, match="permission denied"):
            ro.log_event(1, "new")
    finally:
        ro.close()
    with pytest.raises(StoreError, match="permission denied"):
        open_store(reader)  # a write command under the reader role: one clear error

