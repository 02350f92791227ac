"""The web catalog under test: a catalog made by two real syncs of the fixture documents (new,
changed, deleted and restored records, so /changes has something to show) plus a few records
with hostile values, served by the same composition `harvester serve` runs, on a loopback
waitress server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalog.model import CatalogRecord, DocumentDate, Language, Provenance, TextVersion
from catalog.oai.app import create_app
from catalog.oai.provider import ProviderSettings
from catalog.search.memory import keep_in_memory
from catalog.store import SQLiteStore
from catalog.web.api import create_api_app
from catalog.web.app import create_web_app
from harvester.sync import run_sync
from tests.support.test_archive import DOCUMENT_IDS, TestArchive
from tests.support.wsgi_server import LoopbackServer
from tests.sync.conftest import make_settings

HOSTILE_ID = 990001  # a title and fields holding markup, an ampersand and RTL marks
ARABIC_ID = 990002  # a text tab in Arabic (dir="rtl")
DELETED_ID = 300240  # gone from the archive in the second sync
CHANGED_ID = 300641  # its title changed in the second sync
ADDED_ID = 400001  # new in the second sync
LONG_HISTORY_ID, LONG_HISTORY = 300638, 150  # events in its history (the first sync + these)
HOSTILE_TITLE = '<script>alert("x")</script> Tom & Jerry \u202eevil\u202c \u200fמסמך'


@dataclass
class WebCatalog:
    path: Path
    first_run: str
    second_run: str


@dataclass
class WebServer:
    url: str  # http://127.0.0.1:PORT (no trailing slash)
    store: SQLiteStore
    catalog: WebCatalog


def _provenance(url: str) -> Provenance:
    return Provenance(request_url=url, final_url=url, http_status=200, fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
                      sha256="0" * 64, tool_version="test", parser_version="test")


def hostile_records() -> list[CatalogRecord]:
    base = "https://digitalarchive.wilsoncenter.org/document/"
    return [
        CatalogRecord(
            record_id=HOSTILE_ID, url=base + "hostile", slug="hostile", title=HOSTILE_TITLE,
            date=DocumentDate(display="1956", normalized="1956", precision="year"),
            summary='A summary with <b>bold</b> & <img src=x onerror="alert(1)"> in it.',
            subjects=["<i>Subject</i> & more"], types=["Cable"],
            original_languages=[Language(name="Hebrew", iso639_3="heb", iso639_1="he")],
            texts=[TextVersion(label="<Original>", kind="original",
                               language=Language(name="Hebrew", iso639_3="heb", iso639_1="he"),
                               text="שלום <script>alert(2)</script>")],
            provenance=_provenance(base + "hostile")),
        CatalogRecord(
            record_id=ARABIC_ID, url=base + "arabic", slug="arabic", title="Letter from Cairo",
            date=DocumentDate(display="March 3, 1958", normalized="1958-03-03", precision="day"),
            types=["Letter"], original_languages=[Language(name="Arabic", iso639_3="ara", iso639_1="ar")],
            texts=[TextVersion(label="Original Scan Transcript", kind="original",
                               language=Language(name="Arabic", iso639_3="ara", iso639_1="ar"),
                               text="بسم الله الرحمن الرحيم\n\nرسالة من القاهرة"),
                   TextVersion(label="English Translation", kind="translation",
                               language=Language(name="English", iso639_3="eng", iso639_1="en"),
                               text="A letter from Cairo.")],
            provenance=_provenance(base + "arabic")),
    ]


def build_web_catalog(tmp: Path) -> WebCatalog:
    """Two syncs of the fixture documents against a loopback test archive, then the hostile records."""
    with TestArchive(page_size=5) as archive:
        settings = make_settings(archive.base_url, tmp, tombstone_after=1)
        with SQLiteStore(settings.storage.database) as store:
            first = run_sync(settings=settings, store=store)
            archive.change(CHANGED_ID)
            archive.delete(DELETED_ID)
            archive.add(175798, as_id=ADDED_ID)
            second = run_sync(settings=settings, store=store, recheck_all=True)
            for record in hostile_records():
                store.upsert(record)
            for n in range(LONG_HISTORY - 1):  # nightly checks over months: more than a page shows
                store.log_event(LONG_HISTORY_ID, "unchanged", f"check {n}")
    return WebCatalog(Path(settings.storage.database), first.run_id, second.run_id)


@contextmanager
def serving(catalog: WebCatalog) -> Iterator[WebServer]:
    """The composition `harvester serve` runs (/, /records, /changes, /static, /oai) on a loopback waitress."""
    store = SQLiteStore(str(catalog.path))
    provider = ProviderSettings(repository_name="WCDA (web test)", repository_identifier="example.org",
                                admin_email="cataloguer@example.org")
    app = create_web_app(store, oai_app=create_app(store, provider, token_secret="test"), api_app=create_api_app(store))
    keep_in_memory(store, background=False)  # searches from the snapshot in memory, as `harvester serve` answers them
    served = LoopbackServer(app)
    try:
        yield WebServer(f"http://127.0.0.1:{served.port}", store, catalog)
    finally:
        served.stop()
        store.close()


@pytest.fixture(scope="session")
def web_catalog(tmp_path_factory: pytest.TempPathFactory) -> WebCatalog:
    catalog = build_web_catalog(tmp_path_factory.mktemp("web"))
    assert DELETED_ID in DOCUMENT_IDS and CHANGED_ID in DOCUMENT_IDS
    return catalog


@pytest.fixture(scope="session")
def web_server(web_catalog: WebCatalog) -> Iterator[WebServer]:
    with serving(web_catalog) as server:
        yield server
