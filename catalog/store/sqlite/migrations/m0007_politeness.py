"""The request budget shared by every worker of a catalog (issue 11, harvester/politeness.py).

One row per archive host. Several harvest or sync processes on one catalog take their
request slots from it, so together they keep `http.rate_limit` (slowed by a robots.txt
Crawl-delay), and a Retry-After seen by one of them pauses all of them.

Times here are seconds since the epoch as REAL, not the catalog's ISO text: the row is
arithmetic (next slot = start + interval) done inside one short transaction per
request, and no datestamp range ever reads it. It is state, not history: copy-catalog
leaves it behind, and a lost row only costs one request slot.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE request_budget (
            host         TEXT PRIMARY KEY,          -- the archive's host[:port]
            next_at      REAL NOT NULL DEFAULT 0,   -- the earliest start of the next request
            spacing      REAL NOT NULL DEFAULT 0,   -- seconds between starts, as the last taker asked
            crawl_delay  REAL,                      -- robots.txt Crawl-delay recorded by a sync
            paused_until REAL NOT NULL DEFAULT 0,   -- no request before this (Retry-After)
            pause_reason TEXT NOT NULL DEFAULT '',
            taken        INTEGER NOT NULL DEFAULT 0 -- requests granted, by every worker
        ) STRICT
        """
    )
