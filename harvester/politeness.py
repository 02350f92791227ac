"""Politeness shared by every worker of a catalog, on any machine.

Several `harvester harvest` / `sync` processes (on one machine or several) that write one
catalog share one request budget for the archive's host, kept in the catalog itself
(`budget_take` and friends in catalog/store/api.py, a row per host):

- before each request a worker takes the next slot from the row, in one short
  transaction, and sleeps until it: N workers together never start requests faster than
  `http.rate_limit` (or a robots.txt Crawl-delay a sync recorded, if that is slower);
- a 429/503 with Retry-After seen by any worker pauses the host in the row, so every
  worker waits it out; one longer than `http.backoff_max` stops every worker (AskedToWait,
  exit 75), as it stops the worker that got it.

Without a catalog (`record`, `check-site`, a replay, a throw-away in-memory catalog) the
fetcher keeps the in-process RateLimiter. A database that fails or is lost while a worker
takes a slot raises StoreError (PostgreSQL: after one retry on a fresh connection), which
ends the run the way a catalog that cannot be written does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlparse

from catalog.store import CatalogStore
from harvester.config import Settings
from harvester.http import Limiter, PausedTooLong, RateLimiter


class SharedLimiter:
    """The fetcher's limiter backed by the catalog's request budget for one host.

    Same interface as http.RateLimiter. Retry backoffs that the archive did not ask for
    (a timeout, a 5xx without Retry-After) stay local to this process: one worker's bad
    connection should not stall every machine. They are kept by an inner RateLimiter
    that never spaces requests, only pauses them.
    """

    def __init__(self, store: CatalogStore, host: str, rate: float | None, *, max_pause: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.host = host
        self.interval = 0.0 if not rate else 1.0 / rate
        self.max_pause = max_pause
        self._clock = clock
        self._sleep = sleep
        self._local = RateLimiter(None, clock=clock, sleep=sleep)

    def wait(self, deadline: float | None = None) -> float | None:
        """Sleep until this request may start; if that is after `deadline`, return the wait
        instead (nothing reserved). Raises PausedTooLong, or StoreError if the catalog fails."""
        early = self._local.wait(deadline)
        if early is not None:
            return early
        if self.interval <= 0:
            return None  # no rate to keep: no round trip to the database at all
        left = None if deadline is None else max(0.0, deadline - self._clock())
        slot = self.store.budget_take(self.host, self.interval, max_wait=left)
        if slot.paused > self.max_pause:
            raise PausedTooLong(slot.paused, slot.pause_reason or "a Retry-After")
        if not slot.taken:
            return slot.wait
        if slot.wait > 0:
            self._sleep(slot.wait)
        return None

    def pause_until(self, when: float) -> None:
        """This process's own retry backoff (on the fetcher's clock)."""
        self._local.pause_until(when)

    def server_asked(self, seconds: float, status: int) -> None:
        """The archive answered `status` with Retry-After `seconds`: every worker pauses."""
        self.store.budget_pause(self.host, seconds, f"HTTP {status}, Retry-After {seconds:.0f} s")

    def obey_crawl_delay(self, delay: float | None) -> None:
        """robots.txt's Crawl-delay (None: none), kept in the catalog for every worker."""
        self.store.budget_crawl_delay(self.host, delay)
        if delay is not None and delay > self.interval:
            self.interval = delay  # this process slows at once too (and reads it as its own)


def archive_host(settings: Settings) -> str:
    """The budget's key: the archive's host[:port], lower case (as http.Fetcher checks it)."""
    return urlparse(settings.archive.base_url).netloc.lower()


def catalog_limiter(settings: Settings, store: CatalogStore | None) -> Limiter | None:
    """The limiter for a fetcher that works for `store`: the catalog's shared budget, or None
    (the fetcher's own RateLimiter) when no other process can share the catalog."""
    if store is None or store.read_only or store.url == ":memory:":
        return None
    return SharedLimiter(store, archive_host(settings), settings.http.rate_limit,
                         max_pause=settings.http.backoff_max)
