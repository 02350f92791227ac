"""When each request granted by the shared budget starts (issue 11: `harvester status`'s rate).

`request_budget.taken` counts grants since the catalog began, which gives no rate. This
table keeps the start time of each grant of the last ten minutes (a take inserts one
row and deletes those older than that), so `status` can show the request rate every
worker together measured over the last minute and the last ten minutes. Times are
seconds since the epoch as REAL, like request_budget's. State, not history: copy-catalog
leaves it behind.
"""

from __future__ import annotations

import sqlite3


def apply(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE request_grant (
            host TEXT NOT NULL,  -- request_budget.host
            at   REAL NOT NULL   -- when the granted request may start
        ) STRICT
        """
    )
    conn.execute("CREATE INDEX request_grant_host_at ON request_grant (host, at)")
