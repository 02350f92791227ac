"""The set-filtered OAI-PMH page is an index range read on both backends, never a full sort.

The issue measured 257-311 ms for a `set=subject` page against 3.5 ms unfiltered at
100,000 records, because the plan read and sorted the whole set on every page. The
figures are in bench/RESULTS.md (bench/backends.py); this test reads the plan itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from catalog.store import CatalogStore
from tests.oai.catalog_builder import make_record

pytestmark = pytest.mark.slow
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def big(store: CatalogStore) -> CatalogStore:
    with store.unit_of_work():
        for i in range(1, 1501):
            store.upsert(make_record(i), now=T0 + timedelta(seconds=i))
    store.analyze()
    return store


def test_set_page_plan_reads_the_facet_index_in_page_order(big: CatalogStore, backend: str) -> None:
    for facet in ("type", "type:cable"):
        plan = big.explain_set_page(facet)
        if backend == "sqlite":
            assert "TEMP B-TREE" not in plan.upper(), plan  # SQLite's sort step
            assert "USING PRIMARY KEY (key=?" in plan, plan
        else:
            assert not any(line.strip().startswith(("Sort", "->  Sort", "Incremental Sort", "->  Incremental Sort"))
                           for line in plan.splitlines()), plan
            assert "record_facet_pkey" in plan and "Limit" in plan.splitlines()[0], plan
        assert big.oai_count(facet, None, "9999") > 0
