"""The request budget shared by every worker of a catalog (issue 11, harvester/politeness.py).

The same table as SQLite's m0007: one row per archive host, from which workers on any
machine take their request slots, so together they keep `http.rate_limit` (slowed by a
robots.txt Crawl-delay), and a Retry-After seen by one of them pauses all of them.
Times are seconds since the epoch on the database server's clock (`clock_timestamp()`),
so workers whose own clocks disagree still share one schedule.
"""

from __future__ import annotations

from typing import Any


def apply(conn: Any) -> None:
    conn.execute(
        """
        CREATE TABLE request_budget (
            host         TEXT PRIMARY KEY,
            next_at      DOUBLE PRECISION NOT NULL DEFAULT 0,
            spacing      DOUBLE PRECISION NOT NULL DEFAULT 0,
            crawl_delay  DOUBLE PRECISION,
            paused_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            pause_reason TEXT NOT NULL DEFAULT '',
            taken        BIGINT NOT NULL DEFAULT 0
        )
        """
    )
