"""The shared request budget (issue 11), one contract suite over both backends."""

from __future__ import annotations

import threading

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
