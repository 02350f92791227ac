from __future__ import annotations

import pytest

from catalog.model import CatalogRecord
from tests.export.records import fixture_records, record_175798


@pytest.fixture
def rec() -> CatalogRecord:
    return record_175798()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # "every fixture record": parametrize over the seed record plus fixtures/expected/*.json
    if "fixture_record" in metafunc.fixturenames:
        records = fixture_records()
        metafunc.parametrize("fixture_record", records, ids=[str(r.record_id) for r in records])
