"""Records prepared for the store in a parse worker (catalog/prepared.py).

A harvest's parse workers hand the store a `PreparedRecord` (texts, hash, derived indexes with
their search words, stored renderings), so that the writing thread only runs SQL. Whatever
was prepared where, the catalog must end up exactly as if the store had prepared the record.
"""

from __future__ import annotations

import dataclasses
import pickle
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from catalog.export.options import FormatOptions
from catalog.export.registry import FORMATS
from catalog.export.rendered import render_key
from catalog.prepared import prepare
from catalog.store import CatalogStore, open_store
from tests.export.records import fixture_records

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _dump(path: Path) -> list[str]:
    """Every row of the catalog as SQL, but when its migrations ran (the clock's, not the records')."""
    con = sqlite3.connect(path)
    try:
        return [line for line in con.iterdump() if not line.startswith('INSERT INTO "schema_migration"')]
    finally:
        con.close()


def test_a_record_prepared_in_a_worker_is_stored_exactly_as_the_store_would_prepare_it(tmp_path: Path) -> None:
    records = fixture_records()
    for name, prepared in (("plain", False), ("prepared", True)):
        with open_store(str(tmp_path / f"{name}.db")) as store:
            for i, r in enumerate(records):
                # pickled and unpickled, as it comes back from a parse worker process
                item = pickle.loads(pickle.dumps(prepare(r))) if prepared else r
                assert store.upsert(item, now=T0 + timedelta(seconds=i)) == "new"
            # and once more unchanged: only the check time moves
            assert store.upsert(pickle.loads(pickle.dumps(prepare(records[0]))) if prepared else records[0],
                                now=T0 + timedelta(days=1)) == "unchanged"
    plain, prepared_rows = _dump(tmp_path / "plain.db"), _dump(tmp_path / "prepared.db")
    assert len(plain) > len(records) * 10  # records, facets, search text, renderings…
    assert prepared_rows == plain


def test_a_record_prepared_with_other_format_options_is_rendered_again_with_the_store_s(store: CatalogStore) -> None:
    record = fixture_records()[0]
    options = FormatOptions(rights_uri="http://rightsstatements.org/vocab/InC-EDU/1.0/")
    store.render_options = options
    store.upsert(prepare(record))  # prepared with the default options
    fmt = FORMATS["oai_dc"]
    raw = next(iter(store.iter_raw(ids=[record.record_id], brief=True,
                                   rendered=(fmt.name, render_key(fmt, options)))))
    assert raw.rendered is not None and options.rights_uri in raw.rendered


def test_the_search_words_travel_with_a_pickled_prepared_record() -> None:
    record = fixture_records()[0]
    copy = pickle.loads(pickle.dumps(prepare(record)))
    # computed in the worker, not again on the writing thread
    assert "words" in vars(copy.derived.text)
    assert copy.derived.text.words[0] and copy.derived.text.words == dataclasses.replace(copy.derived.text).words
