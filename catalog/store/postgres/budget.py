"""The shared request budget in PostgreSQL (see catalog/store/api.py, harvester/politeness.py).

A take is one short transaction: `SELECT … FOR UPDATE` on the host's row, then one
`UPDATE`. The row lock, not an advisory lock: it lives exactly as long as the
transaction (a worker killed mid-take loses it with its connection), it needs no
lock-number scheme shared with the other advisory-lock users (migrations), and the
row it guards is the row being changed. The clock is the server's `clock_timestamp()`,
read in the locking statement, i.e. only once the lock is ours: workers on machines
whose clocks disagree share one schedule, and time spent waiting for the lock never
shortens a spacing. A connection lost during a take is retried once on a fresh one
(`write`); a second loss raises StoreUnavailable, which stops the run with one line.
"""

from __future__ import annotations

from catalog.store.api import BudgetSlot, BudgetState
from catalog.store.sql import SqlStore

_NOW = "extract(epoch FROM clock_timestamp())::float8"
GRANT_WINDOW = 600.0  # seconds of grant times kept for `status`'s measured rate


class PostgresBudget(SqlStore):
    """The budget methods of PostgresStore."""

    def budget_take(self, host: str, interval: float, *, max_wait: float | None = None) -> BudgetSlot:
        return self.write(lambda: self._take(host, interval, max_wait))

    def _take(self, host: str, interval: float, max_wait: float | None) -> BudgetSlot:
        lock = (f"SELECT next_at, paused_until, pause_reason, crawl_delay, {_NOW} FROM request_budget"
                " WHERE host = ? FOR UPDATE")
        rows = self._all(lock, (host,))
        if not rows:  # the host's first request ever: make the row, then lock it like any other
            self._exec("INSERT INTO request_budget (host) VALUES (?) ON CONFLICT (host) DO NOTHING", (host,))
            rows = self._all(lock, (host,))
        next_at, paused_until, reason, crawl_delay, now = rows[0]
        start = max(now, next_at, paused_until)
        wait = start - now
        taken = max_wait is None or wait <= max_wait
        if taken:
            spacing = max(interval, crawl_delay or 0.0)
            self._exec("UPDATE request_budget SET next_at = ?, spacing = ?, taken = taken + 1 WHERE host = ?",
                       (start + spacing, interval, host))
            # the grant's start, for status's measured rate; ten minutes of them are kept
            self._exec("INSERT INTO request_grant (host, at) VALUES (?, ?)", (host, start))
            self._exec("DELETE FROM request_grant WHERE host = ? AND at < ?", (host, now - GRANT_WINDOW))
        paused = max(0.0, paused_until - now)
        return BudgetSlot(wait, taken, paused, reason if paused else "")

    def budget_pause(self, host: str, seconds: float, reason: str) -> None:
        # One statement: the row lock of ON CONFLICT DO UPDATE makes it atomic; only ever longer.
        self.write(lambda: self._exec(
            f"INSERT INTO request_budget AS b (host, paused_until, pause_reason) VALUES (?, {_NOW} + ?, ?)"
            " ON CONFLICT (host) DO UPDATE SET"
            " pause_reason = CASE WHEN excluded.paused_until > b.paused_until"
            " THEN excluded.pause_reason ELSE b.pause_reason END,"
            " paused_until = greatest(b.paused_until, excluded.paused_until)",
            (host, max(0.0, seconds), reason)))

    def budget_crawl_delay(self, host: str, seconds: float | None) -> None:
        self.write(lambda: self._exec(
            "INSERT INTO request_budget (host, crawl_delay) VALUES (?, ?)"
            " ON CONFLICT (host) DO UPDATE SET crawl_delay = excluded.crawl_delay", (host, seconds)))

    def budget_state(self, host: str) -> BudgetState | None:
        rows = self._all(f"SELECT spacing, crawl_delay, taken, next_at, paused_until, pause_reason, {_NOW}"
                         " FROM request_budget WHERE host = ?", (host,))
        if not rows:
            return None
        spacing, crawl_delay, taken, next_at, paused_until, reason, now = rows[0]
        # requests that started (not merely were scheduled) in the last minute and ten minutes
        minute, ten = self._all("SELECT count(*) FILTER (WHERE at > ?), count(*) FROM request_grant"
                                " WHERE host = ? AND at > ? AND at <= ?",
                                (now - 60.0, host, now - GRANT_WINDOW, now))[0]
        paused = max(0.0, paused_until - now)
        return BudgetState(host, spacing, crawl_delay, taken, max(0.0, next_at - now, paused), paused,
                           reason if paused else "", minute, ten)
