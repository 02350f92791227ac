"""Workers started together on a catalog that does not exist yet each open it and migrate it:
every one must come up, and every migration must be applied once (SQLite; PostgreSQL takes an
advisory lock for its migrations)."""

from __future__ import annotations

import threading
from pathlib import Path

from catalog.store import SQLiteStore
from catalog.store.sqlite.migrations import MIGRATIONS


def test_workers_opening_a_new_catalog_together_all_come_up(tmp_path: Path) -> None:
    for round_ in range(5):  # the race needs two openers between reading and taking the lock
        path = tmp_path / f"catalog-{round_}.db"
        start = threading.Barrier(6)
        errors: list[BaseException] = []

        def open_it(where: Path = path, barrier: threading.Barrier = start,
                    errors: list[BaseException] = errors) -> None:
            barrier.wait(10)
            try:
                SQLiteStore(str(where)).close()
            except BaseException as exc:  # the test reports whatever ended it
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with SQLiteStore(str(path)) as store:
            assert store.applied_migrations() == sorted(m.name for m in MIGRATIONS)
