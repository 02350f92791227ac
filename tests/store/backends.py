"""Catalogs for the store tests: the fixture harvest into any backend."""

from __future__ import annotations

from pathlib import Path

from catalog.store import CatalogStore, open_store
from harvester.config import load_settings
from tests.support.fixture_site import FIXTURES

DOCUMENTS = FIXTURES / "warc" / "documents"


def harvest_fixtures(store: CatalogStore, warc_dir: Path) -> None:
    """The replay harvest of every fixture document, through the pipeline (one process)."""
    from harvester.pipeline import harvest, ids_in_archive

    settings = load_settings(environ={}, overrides={"storage": {"database": store.url, "warc_dir": str(warc_dir)}})
    ids = ids_in_archive(DOCUMENTS)
    summary = harvest(ids, settings=settings, store=store, replay=DOCUMENTS, processes=False)
    assert {o.status for o in summary.outcomes} == {"new"}, [o for o in summary.outcomes if o.status != "new"]


def fresh_fixture_catalog(path: Path) -> CatalogStore:
    store = open_store(path)
    harvest_fixtures(store, path.parent / "warc")
    return store
