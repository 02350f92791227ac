"""PostgreSQL faults: a connection lost in the middle of a unit of work."""

from __future__ import annotations

import psycopg
import pytest

from catalog.errors import StoreUnavailable
from catalog.store import open_store
from tests.oai.catalog_builder import make_record
from tests.support.postgres import Cluster


def _kill_connections(url: str) -> int:
    """Terminate every other backend of this database (what a server restart or failover does)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


def test_lost_connection_retries_the_item_once_and_writes_it_once(pg: Cluster) -> None:
    url = pg.create_database("lost")
    store = open_store(url)
    rec = make_record(1)
    attempts: list[int] = []

    def work() -> str:
        attempts.append(1)
        outcome = store.upsert(rec)
        store.log_event(rec.record_id, outcome)
        if len(attempts) == 1:
            assert _kill_connections(url) >= 1  # our own unit of work's connection dies before COMMIT
            store.log_event(rec.record_id, "after the loss")
        return outcome

    try:
        assert store.write(work) == "new"
        assert len(attempts) == 2
        assert [e.outcome for e in store.events(rec.record_id)] == ["new"]  # the lost attempt left nothing
        assert store.count() == 1 and store.facets_of([rec.record_id], ("type",))[rec.record_id]
    finally:
        store.close()


def test_a_second_loss_stops_with_nothing_half_written(pg: Cluster) -> None:
    url = pg.create_database("lost2")
    store = open_store(url)
    rec = make_record(2)

    def work() -> None:
        store.upsert(rec)
        _kill_connections(url)
        store.log_event(rec.record_id, "never")

    try:
        with pytest.raises(StoreUnavailable, match="lost the connection to PostgreSQL database lost2_"):
            store.write(work)
        assert store.get(rec.record_id) is None and store.events() == []  # the pool reconnected for these reads
    finally:
        store.close()
