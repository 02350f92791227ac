"""When each request granted by the shared budget starts (issue 11: `harvester status`'s rate).

The same table as SQLite's m0010: the start of each grant of the last ten minutes (a
take inserts one row and deletes those older than that), on the database server's clock
like request_budget's times, so `status` can show the request rate every worker together
measured over the last minute and the last ten minutes.
"""

from __future__ import annotations

from typing import Any


def apply(conn: Any) -> None:
    conn.execute(
        """
        CREATE TABLE request_grant (
            host TEXT NOT NULL,
            at   DOUBLE PRECISION NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX request_grant_host_at ON request_grant (host, at)")
