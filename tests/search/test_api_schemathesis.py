"""schemathesis against catalog/web/openapi.yaml and the live API (loopback waitress), on both backends.

Valid and schema-violating requests (the generator's own hostile strings, NUL bytes
included): never a 5xx, every status and body as the OpenAPI file describes it, and every
request the schema forbids refused. Bounded: WCDA_SCHEMATHESIS_EXAMPLES (default 100) per operation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.store import CatalogStore, open_store
from tests.search.catalog import RECORDS, fill
from tests.search.test_api import start
from tests.support.postgres import Cluster

EXAMPLES = int(os.environ.get("WCDA_SCHEMATHESIS_EXAMPLES", "100"))
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "response_headers_conformance,negative_data_rejection")


@pytest.fixture(params=["sqlite", "postgresql"])
def example_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogStore]:
    """The search catalog plus a record with the OpenAPI example's Record ID (175798), so the
    record operation is tested on a record that exists as well as on missing ones."""
    if request.param == "sqlite":
        url = str(tmp_path / "catalog.db")
    else:
        cluster: Cluster = request.getfixturevalue("pg")
        url = cluster.create_database("st")
    store = open_store(url)
    fill(store)
    store.upsert(RECORDS[1].model_copy(update={"record_id": 175798}))
    yield store
    store.close()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(example_catalog: CatalogStore, tmp_path: Path) -> None:
    for server in start(example_catalog):
        done = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/openapi.yaml", "--checks", CHECKS,
             "--max-examples", str(EXAMPLES), "--workers", "1", "--seed", "12012", "--generation-allow-x00", "true",
             "--request-timeout", "30"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        assert "passed" in done.stdout and "failed" not in done.stdout.split("SUMMARY")[-1]
