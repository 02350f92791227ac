"""The shared request budget (issue 11), one contract suite over both backends."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from catalog.store import CatalogStore
from catalog.store.api import BudgetSlot

HOST = "archive.example.org"


def test_a_first_take_starts_at_once_and_each_next_one_interval_later(store: CatalogStore) -> None:
    assert store.budget_state(HOST) is None
    first = store.budget_take(HOST, 30.0)
    assert first.taken and first.wait == 0 and first.paused == 0
    second = store.budget_take(HOST, 30.0)
    third = store.budget_take(HOST, 30.0)
    assert second.taken and 29 < second.wait <= 30
    assert third.taken and 59 < third.wait <= 60
    state = store.budget_state(HOST)
    assert state is not None and state.taken == 3 and state.interval == 30.0 and 89 < state.next_in <= 90
    assert store.budget_take("other.example.org", 30.0).wait == 0  # every host has its own budget


def test_a_take_over_max_wait_reserves_nothing(store: CatalogStore) -> None:
    store.budget_take(HOST, 50.0)
    refused = store.budget_take(HOST, 50.0, max_wait=10.0)
    assert not refused.taken and 49 < refused.wait <= 50
    again = store.budget_take(HOST, 50.0)  # the refused take left the slot free
    assert again.taken and 49 < again.wait <= 50
    state = store.budget_state(HOST)
    assert state is not None and state.taken == 2


def test_a_pause_holds_every_taker_back_and_is_only_ever_lengthened(store: CatalogStore) -> None:
    store.budget_take(HOST, 1.0)
    store.budget_pause(HOST, 120.0, "HTTP 429, Retry-After 120 s")
    store.budget_pause(HOST, 5.0, "HTTP 503, Retry-After 5 s")  # shorter: changes nothing
    slot = store.budget_take(HOST, 1.0)
    assert slot.taken and 119 < slot.wait <= 120 and 119 < slot.paused <= 120
    assert slot.pause_reason == "HTTP 429, Retry-After 120 s"
    after = store.budget_take(HOST, 1.0)  # the slot after the pause, spaced as usual
    assert 120 < after.wait <= 121
    state = store.budget_state(HOST)
    assert state is not None and 119 < state.paused <= 120 and state.pause_reason.startswith("HTTP 429")
    store.budget_pause(HOST, 600.0, "HTTP 429, Retry-After 600 s")
    state = store.budget_state(HOST)
    assert state is not None and 599 < state.paused <= 600 and state.pause_reason.endswith("600 s")
    refused = store.budget_take(HOST, 1.0, max_wait=300.0)
    assert not refused.taken and refused.paused > 599


def test_an_ended_pause_is_not_reported(store: CatalogStore) -> None:
    store.budget_pause(HOST, 0.0, "HTTP 503, Retry-After 0 s")
    slot = store.budget_take(HOST, 0.01)
    assert slot.paused == 0 and slot.pause_reason == "" and slot.wait == 0


def test_a_crawl_delay_slows_every_taker_and_can_be_cleared(store: CatalogStore) -> None:
    store.budget_crawl_delay(HOST, 40.0)
    store.budget_take(HOST, 1.0)
    slot = store.budget_take(HOST, 1.0)  # this worker asked for 1 s, the site for 40 s
    assert 39 < slot.wait <= 40
    state = store.budget_state(HOST)
    assert state is not None and state.crawl_delay == 40.0
    store.budget_crawl_delay(HOST, None)
    store.budget_take(HOST, 1.0)
    slot = store.budget_take(HOST, 1.0)
    assert 80 < slot.wait <= 81  # the 40 s slot, then 1 s spacing again


def test_concurrent_takes_never_share_a_slot(store: CatalogStore) -> None:
    """Threads with their own connections take at once: every slot is granted exactly once
    (a lost update would hand two takers the same start)."""
    slots: list[BudgetSlot] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def taker() -> None:
        start.wait()
        for _ in range(5):
            slot = store.budget_take(HOST, 100.0)
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=taker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # All 30 takes happen within seconds, so slot k waits 100 k s less that little.
    assert sorted(round(s.wait / 100) for s in slots) == list(range(30))
    state = store.budget_state(HOST)
    assert state is not None and state.taken == 30


def _age_grants(store: CatalogStore, seconds: float) -> None:
    """Move every recorded grant `seconds` into the past (the windows are minutes long; a test
    cannot wait them out). Test-only SQL on the store's own connection, both backends."""
    raw = cast(Any, store)
    with raw.unit_of_work():
        raw._exec("UPDATE request_grant SET at = at - ?", (seconds,))


def _grant_rows(store: CatalogStore) -> int:
    return int(cast(Any, store)._all("SELECT count(*) FROM request_grant")[0][0])


def test_the_measured_rate_counts_requests_started_in_the_last_minute_and_ten_minutes(store: CatalogStore) -> None:
    for _ in range(3):
        store.budget_take(HOST, 0.01)
    time.sleep(0.1)  # every granted slot has started
    state = store.budget_state(HOST)
    assert state is not None and (state.last_minute, state.last_10_minutes, state.taken) == (3, 3, 3)
    _age_grants(store, 120.0)  # two minutes ago: out of the last minute, still in the ten
    for _ in range(2):
        store.budget_take(HOST, 0.01)
    time.sleep(0.1)
    state = store.budget_state(HOST)
    assert state is not None and (state.last_minute, state.last_10_minutes, state.taken) == (2, 5, 5)
    _age_grants(store, 500.0)  # the first three 620 s ago, the next two 500 s ago
    store.budget_take(HOST, 0.01)
    time.sleep(0.05)
    state = store.budget_state(HOST)
    assert state is not None and (state.last_minute, state.last_10_minutes, state.taken) == (1, 3, 6)
    assert _grant_rows(store) == 3  # the take dropped the grants older than ten minutes


def test_a_scheduled_request_counts_once_it_starts(store: CatalogStore) -> None:
    store.budget_take(HOST, 30.0)
    store.budget_take(HOST, 30.0)  # granted, but starts in 30 s
    refused = store.budget_take(HOST, 30.0, max_wait=1.0)  # not granted: not counted at all
    assert not refused.taken
    state = store.budget_state(HOST)
    assert state is not None and (state.last_minute, state.last_10_minutes, state.taken) == (1, 1, 2)
    assert _grant_rows(store) == 2
