"""A throw-away PostgreSQL cluster for the tests: initdb into a temporary folder, pg_ctl on a
unix socket (no TCP port), trust authentication, stopped and deleted at the end.

The server programs come from PATH or /usr/lib/postgresql/<version>/bin. PostgreSQL
refuses to run as root, so as root (CI containers) every program runs as the `postgres`
user through `runuser`, in a folder owned by that user. If the cluster cannot start, the
fixture raises: PostgreSQL tests fail, they are never skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SUPERUSER = "wcda"
PORT = 5432  # only names the socket file: the cluster listens on no TCP port


def server_bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not candidates:
        raise RuntimeError("PostgreSQL server programs (initdb, pg_ctl) not found on PATH or under "
                           "/usr/lib/postgresql/*/bin: install postgresql (15+) to run the tests")
    return candidates[-1].parent


@dataclass
class Cluster:
    base: Path
    socket_dir: Path
    as_user: list[str]
    bindir: Path
    _catalog_template: str | None = field(default=None, repr=False)

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@/{dbname}?host={self.socket_dir}&port={PORT}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_catalog_database(self, prefix: str = "t") -> str:
        """A new database holding an empty catalog (every migration applied); its URL.

        A copy of one migrated once per cluster (CREATE DATABASE ... TEMPLATE): migrating each
        test's database took ~0.05-0.25 s of the ~80 PostgreSQL tests of the fast subset. The copy
        gets its own OAI token key, as a catalog migrated on its own would."""
        from catalog.store import open_store

        if self._catalog_template is None:
            url = self.create_database("catalog_template")
            open_store(url).close()  # a template must have no open connection
            self._catalog_template = url.split("?")[0].rsplit("/", 1)[1]
        name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._catalog_template}"')
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("UPDATE store_meta SET value = %s WHERE key = 'token_key'", (secrets.token_hex(32),))
        return self.url(name)

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.as_user, str(self.bindir / program), *args], capture_output=True, text=True,
                              timeout=120, check=False)


@contextmanager
def cluster() -> Iterator[Cluster]:
    bindir = server_bindir()
    base = Path(tempfile.mkdtemp(prefix="wcda-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    os.chmod(base, 0o755)
    data, socket_dir, log = base / "data", base / "sock", base / "server.log"
    c = Cluster(base, socket_dir, as_user, bindir)
    try:
        socket_dir.mkdir()
        if as_user:
            shutil.chown(socket_dir, "postgres", "postgres")
        done = c.run("initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        options = f"-k {socket_dir} -c listen_addresses='' -p {PORT} -c fsync=off -c max_connections=200"
        done = c.run("pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start")
        if done.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {text[-2000:]}")
        yield c
    finally:
        if (data / "postmaster.pid").exists():
            c.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        _remove_in_background(base)


def _remove_in_background(folder: Path) -> None:
    """Delete the stopped cluster's folder without waiting for it.

    Every test database is a copy of template1 (~7.5 MB in ~1,000 files), so a test process's
    cluster holds several hundred MB by the end; deleting it took 5-14 s of wall time at the end
    of every pytest-xdist worker, on the suite's critical path. A shell puts `rm` in the
    background and exits at once (so no child is left for Python to reap or warn about).
    """
    done = subprocess.run(["sh", "-c", 'rm -rf -- "$1" >/dev/null 2>&1 &', "sh", str(folder)], check=False)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
