"""The work queue's contract, over both backends: leases, expiry, finishing in one unit of work."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from catalog.errors import LeaseLost
from catalog.store import CatalogStore, open_store, to_db_time
from catalog.store.api import WorkerRow
from tests.oai.catalog_builder import make_record

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def worker(store: CatalogStore, name: str, at: datetime = T0) -> str:
    store.worker_start(WorkerRow(name, "host-a", 4242, to_db_time(at), to_db_time(at), 0, None))
    return name


def test_enqueue_never_twice_and_requeues_finished(store: CatalogStore) -> None:
    assert store.work_add("queue", "harvest", ["1", "2", "3", "2"]) == 3
    assert store.work_add("queue", "harvest", ["2", "3", "4"]) == 1  # 2 and 3 are already pending
    assert store.work_counts("queue")["pending"] == 4
    w = worker(store, "w1")
    [item] = store.work_claim(w, lease_seconds=60, limit=1)
    assert (item.key, item.state, item.attempts, item.lease_owner) == ("1", "leased", 1, "w1")
    store.work_finish(item.id, w, state="done", outcome="new")
    assert store.work_add("queue", "harvest", ["1"], reset_finished=False) == 0  # a resume keeps it done
    assert store.work_items("queue", state="done")[0].outcome == "new"
    assert store.work_add("queue", "harvest", ["1"]) == 1  # enqueue again: harvest it again
    assert store.work_counts("queue") == {"pending": 4, "leased": 0, "done": 0, "failed": 0, "expired": 0}


def test_item_numbers_only_grow(store: CatalogStore) -> None:
    store.work_add("a", "harvest", ["1", "2"])
    first = [i.id for i in store.work_items("a")]
    store.work_clear("a")
    store.work_add("a", "harvest", ["3"])
    [later] = [i.id for i in store.work_items("a")]
    assert first == sorted(first) and later > max(first)


def test_claims_are_exclusive_oldest_first_and_by_batch(store: CatalogStore) -> None:
    store.work_add("queue", "harvest", [str(i) for i in range(1, 11)])
    store.work_add("harvest:x", "harvest", ["99"])
    a, b = worker(store, "a"), worker(store, "b")
    got_a = store.work_claim(a, lease_seconds=60, limit=4, batch="queue")
    got_b = store.work_claim(b, lease_seconds=60, limit=4, batch="queue")
    assert [i.key for i in got_a] == ["1", "2", "3", "4"]
    assert [i.key for i in got_b] == ["5", "6", "7", "8"]
    assert [i.key for i in store.work_claim(a, lease_seconds=60, limit=10, batch="harvest:x")] == ["99"]
    assert store.work_counts() == {"pending": 2, "leased": 9, "done": 0, "failed": 0, "expired": 0}


def test_an_expired_lease_is_claimed_again_and_the_old_owner_cannot_finish(store: CatalogStore) -> None:
    store.work_add("queue", "harvest", ["7"])
    dead, alive = worker(store, "dead"), worker(store, "alive")
    [item] = store.work_claim(dead, lease_seconds=30, now=T0)
    assert store.work_claim(alive, lease_seconds=30, now=T0 + timedelta(seconds=29)) == []
    [again] = store.work_claim(alive, lease_seconds=30, now=T0 + timedelta(seconds=31))
    assert (again.id, again.attempts, again.lease_owner) == (item.id, 2, "alive")
    record = make_record(7)
    rid = record.record_id
    with pytest.raises(LeaseLost):
        with store.unit_of_work():  # the record, its event and "done" go together, or nothing does
            store.upsert(record)
            store.log_event(rid, "new", "")
            store.work_finish(item.id, dead, state="done", outcome="new")
    assert store.get(rid) is None and store.events(rid) == []
    with store.unit_of_work():
        store.upsert(record)
        store.log_event(rid, "new", "")
        store.work_finish(again.id, alive, state="done", outcome="new")
    assert store.get(rid) is not None and [e.outcome for e in store.events(rid)] == ["new"]
    assert {w.worker_id: w.items_done for w in store.workers()} == {"dead": 0, "alive": 1}


def test_heartbeat_renews_the_lease(store: CatalogStore) -> None:
    store.work_add("queue", "harvest", ["1"])
    w, other = worker(store, "w"), worker(store, "other")
    store.work_claim(w, lease_seconds=30, now=T0)
    assert store.work_renew(w, lease_seconds=30, now=T0 + timedelta(seconds=20)) == 1
    assert store.work_claim(other, lease_seconds=30, now=T0 + timedelta(seconds=40)) == []
    assert [r.heartbeat_at for r in store.workers() if r.worker_id == "w"] == [to_db_time(T0 + timedelta(seconds=20))]
    assert len(store.work_claim(other, lease_seconds=30, now=T0 + timedelta(seconds=51))) == 1


def test_an_item_that_kills_every_worker_fails(store: CatalogStore) -> None:
    store.work_add("queue", "harvest", ["13"])
    at = T0
    for attempt in range(3):
        assert len(store.work_claim(f"w{attempt}", lease_seconds=10, max_attempts=3, now=at)) == 1
        at += timedelta(seconds=11)
    assert store.work_claim("w9", lease_seconds=10, max_attempts=3, now=at) == []
    [failed] = store.work_items(state="failed")
    assert failed.attempts == 3 and "each of 3 attempts" in failed.last_error


def test_release_gives_items_back_and_failed_items_keep_their_reason(store: CatalogStore) -> None:
    store.work_add("queue", "harvest", ["1", "2"])
    w = worker(store, "w")
    one, two = store.work_claim(w, lease_seconds=60, limit=2)
    store.work_finish(one.id, w, state="failed", outcome="failed", detail="HTTP 500 after 4 retries")
    assert store.work_release([two.id], w) == 1
    assert store.work_release([two.id], w) == 0  # no longer ours
    by_key = {i.key: i for i in store.work_items()}
    assert (by_key["1"].state, by_key["1"].last_error) == ("failed", "HTTP 500 after 4 retries")
    assert (by_key["2"].state, by_key["2"].attempts, by_key["2"].lease_owner) == ("pending", 0, None)
    store.worker_stop(w)
    assert store.workers() == [] and store.workers(include_stopped=True)[0].stopped_at is not None


def test_concurrent_claims_from_threads_never_share_an_item(url: str) -> None:
    """Eight workers (each with its own store, as processes have) drain 200 items together."""
    with open_store(url) as setup:
        setup.work_add("queue", "harvest", [str(i) for i in range(200)])
    taken: list[list[str]] = []
    errors: list[BaseException] = []
    # Every worker holds its first claim until all eight have one, so the claims really overlap (on a
    # loaded machine one thread could otherwise drain the queue before the others start).
    first_claims = threading.Barrier(8, timeout=60)

    def drain(n: int) -> None:
        mine: list[str] = []
        try:
            with open_store(url) as s:
                first = True
                while items := s.work_claim(f"w{n}", lease_seconds=60, limit=3):
                    if first:
                        first_claims.wait()
                        first = False
                    for item in items:
                        s.work_finish(item.id, f"w{n}", state="done", outcome="new")
                        mine.append(item.key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        taken.append(mine)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    everything = [k for mine in taken for k in mine]
    assert sorted(everything, key=int) == [str(i) for i in range(200)]
    assert sum(1 for mine in taken if mine) == 8
    with open_store(url) as check:
        assert check.work_counts()["done"] == 200


# PostgreSQL's variant waits on a row lock by design (~1.6 s): slow; SQLite's stays in the fast subset.
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_a_heartbeat_and_a_finish_take_their_locks_in_one_order(backend: str, url: str) -> None:
    """A unit of work finishing an item locks the item, then the worker's row; a heartbeat meeting
    it half-way must wait for the item, not hold the worker's row (PostgreSQL then reports a
    deadlock and the worker stops with "catalog write failed"). SQLite serializes writers, so
    there the two simply run one after the other."""
    finisher, beater = open_store(url), open_store(url)
    try:
        finisher.work_add("queue", "harvest", ["1", "2"])
        w = worker(finisher, "w1")
        first, _second = finisher.work_claim(w, lease_seconds=60, limit=2)
        errors: list[BaseException] = []
        in_finish, renewed = threading.Event(), threading.Event()

        def heartbeat() -> None:
            in_finish.wait(10)
            try:
                beater.work_renew(w, lease_seconds=120)
            except BaseException as exc:  # the test reports whatever ended it
                errors.append(exc)
            renewed.set()

        thread = threading.Thread(target=heartbeat)
        thread.start()
        original = finisher._exec  # type: ignore[attr-defined]
        calls = []

        def slow_exec(sql: str, params: object = ()) -> int:
            result = original(sql, params)
            calls.append(sql)
            if sql.startswith("UPDATE work_item SET state"):  # the item is locked; let the heartbeat in
                in_finish.set()
                renewed.wait(1.5 if backend == "postgresql" else 0.2)
            return result

        finisher._exec = slow_exec  # type: ignore[attr-defined]
        try:
            finisher.work_finish(first.id, w, state="done", outcome="new")
        finally:
            finisher._exec = original  # type: ignore[attr-defined]
        thread.join(15)
        assert not thread.is_alive() and errors == []
        assert finisher.work_counts("queue")["done"] == 1
        assert any(s.startswith("UPDATE work_worker SET items_done") for s in calls)
    finally:
        finisher.close()
        beater.close()
