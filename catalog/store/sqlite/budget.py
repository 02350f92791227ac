"""The shared request budget in SQLite (see catalog/store/api.py, harvester/politeness.py).

Every take is one short `BEGIN IMMEDIATE` transaction: SQLite's single write lock makes
read-compute-write atomic across every process on the catalog, and the clock is read
only once the lock is ours, so time spent waiting for it never shortens a spacing. An
SQLite catalog lives on one machine (WAL needs shared memory), so the host's wall clock
is the one clock all its workers share.
"""

from __future__ import annotations

import time

from catalog.store.api import BudgetSlot, BudgetState
from catalog.store.sql import SqlStore

GRANT_WINDOW = 600.0  # seconds of grant times kept for `status`'s measured rate


class SQLiteBudget(SqlStore):
    """The budget methods of SQLiteStore (kept apart: they are the one place SQLite's clock is read)."""

    def budget_take(self, host: str, interval: float, *, max_wait: float | None = None) -> BudgetSlot:
        with self.unit_of_work():
            now = time.time()
            rows = self._all("SELECT next_at, paused_until, pause_reason, crawl_delay FROM request_budget"
                             " WHERE host = ?", (host,))
            next_at, paused_until, reason, crawl_delay = rows[0] if rows else (0.0, 0.0, "", None)
            start = max(now, next_at, paused_until)
            wait = start - now
            taken = max_wait is None or wait <= max_wait
            if taken:
                # A robots.txt Crawl-delay recorded by a sync slows every worker, never speeds one up.
                spacing = max(interval, crawl_delay or 0.0)
                self._exec("INSERT INTO request_budget (host, next_at, spacing, taken) VALUES (?, ?, ?, 1)"
                           " ON CONFLICT (host) DO UPDATE SET next_at = excluded.next_at,"
                           " spacing = excluded.spacing, taken = request_budget.taken + 1",
                           (host, start + spacing, interval))
                # the grant's start, for status's measured rate; ten minutes of them are kept
                self._exec("INSERT INTO request_grant (host, at) VALUES (?, ?)", (host, start))
                self._exec("DELETE FROM request_grant WHERE host = ? AND at < ?", (host, now - GRANT_WINDOW))
        paused = max(0.0, paused_until - now)
        return BudgetSlot(wait, taken, paused, reason if paused else "")

    def budget_pause(self, host: str, seconds: float, reason: str) -> None:
        with self.unit_of_work():
            # Only ever longer: a short Retry-After never cuts a longer pause another worker was given.
            self._exec("INSERT INTO request_budget (host, paused_until, pause_reason) VALUES (?, ?, ?)"
                       " ON CONFLICT (host) DO UPDATE SET"
                       " pause_reason = CASE WHEN excluded.paused_until > request_budget.paused_until"
                       " THEN excluded.pause_reason ELSE request_budget.pause_reason END,"
                       " paused_until = max(request_budget.paused_until, excluded.paused_until)",
                       (host, time.time() + max(0.0, seconds), reason))

    def budget_crawl_delay(self, host: str, seconds: float | None) -> None:
        with self.unit_of_work():
            self._exec("INSERT INTO request_budget (host, crawl_delay) VALUES (?, ?)"
                       " ON CONFLICT (host) DO UPDATE SET crawl_delay = excluded.crawl_delay", (host, seconds))

    def budget_state(self, host: str) -> BudgetState | None:
        rows = self._all("SELECT spacing, crawl_delay, taken, next_at, paused_until, pause_reason"
                         " FROM request_budget WHERE host = ?", (host,))
        if not rows:
            return None
        spacing, crawl_delay, taken, next_at, paused_until, reason = rows[0]
        now = time.time()
        # requests that started (not merely were scheduled) in the last minute and ten minutes
        minute, ten = self._all("SELECT coalesce(sum(at > ?), 0), count(*) FROM request_grant"
                                " WHERE host = ? AND at > ? AND at <= ?",
                                (now - 60.0, host, now - GRANT_WINDOW, now))[0]
        paused = max(0.0, paused_until - now)
        return BudgetState(host, spacing, crawl_delay, taken, max(0.0, next_at - now, paused), paused,
                           reason if paused else "", minute, ten)
