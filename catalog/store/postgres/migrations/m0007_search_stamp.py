"""A change stamp for the search indexes (see the SQLite m0011_search_stamp).

`search_stamp.n` moves with every committed transaction that changed `record_sort`. The
trigger is a deferred constraint trigger: it runs at commit, so the row lock on the stamp
is held only while the transaction commits, and parallel workers writing records do not
wait on each other for the rest of their unit of work; `bumped_in` makes a transaction
that writes many rows (reindex) bump it once.
"""

from __future__ import annotations

from typing import Any


def apply(conn: Any) -> None:
    conn.execute("CREATE TABLE search_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL,"
                 " bumped_in BIGINT)")
    conn.execute("INSERT INTO search_stamp (id, n) VALUES (1, 0)")
    conn.execute(
        """
        CREATE FUNCTION search_stamp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE search_stamp SET n = n + 1, bumped_in = txid_current()
             WHERE bumped_in IS DISTINCT FROM txid_current();
            RETURN NULL;
        END
        $$
        """
    )
    conn.execute("CREATE CONSTRAINT TRIGGER record_sort_stamp AFTER INSERT OR UPDATE OR DELETE ON record_sort"
                 " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION search_stamp_bump()")
