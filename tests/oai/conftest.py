"""Fixtures: a temporary catalog, the real waitress server on a free loopback port, and a
validating layer that checks every OAI-PMH response the tests (or sickle, or the oaipmh
client) see against OAI-PMH.xsd with the metadata schemas, offline."""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from catalog.oai.app import create_app
from catalog.oai.provider import ProviderSettings
from catalog.store import SQLiteStore
from tests.oai.catalog_builder import build_catalog
from tests.support.schemas import oai_response_schema
from tests.support.wsgi_server import LoopbackServer

REPO_ID = "digitalarchive.wilsoncenter.org"
SECRET = "test-secret"
OAI = {"oai": "http://www.openarchives.org/OAI/2.0/"}
RESPONSE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def schema(data: bytes = b"") -> Any:
    """OAI-PMH.xsd with the metadata schemas `data` needs (tests/support/schemas.py)."""
    return oai_response_schema(data)


@dataclass
class Validator:
    """WSGI middleware: validates every 200 XML body the server sends; keeps the failures."""

    app: Callable[..., Any]
    failures: list[str] = field(default_factory=list)
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, dict(headers)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = b"".join(self.app(environ, capture))
        status, headers = captured["status"], captured["headers"]
        if status.startswith("500"):
            self._fail(f"HTTP 500 for {environ.get('QUERY_STRING')}")
        if headers.get("Content-Type", "").startswith("text/xml") and environ.get("REQUEST_METHOD") != "HEAD":
            data = gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body
            self.check(data, environ.get("QUERY_STRING", ""))
        return [body]

    def _fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)

    def check(self, data: bytes, what: str) -> None:
        with self.lock:
            self.seen += 1
        try:
            doc = etree.fromstring(data)
        except etree.XMLSyntaxError as exc:
            self._fail(f"not well-formed ({what}): {exc}")
            return
        errors = list(schema(data).iter_errors(doc))
        if errors:
            self._fail(f"schema-invalid ({what}): {errors[0].reason} at {errors[0].path}")
        # Checks the openarchives.org validator makes on every response (A.11).
        date = doc.findtext("oai:responseDate", namespaces=OAI) or ""
        if not RESPONSE_DATE.match(date):
            self._fail(f"bad responseDate {date!r} ({what})")
        loc = doc.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", "").split()
        if loc != ["http://www.openarchives.org/OAI/2.0/", "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"]:
            self._fail(f"bad schemaLocation {loc} ({what})")


@dataclass
class Server:
    url: str  # the /oai base URL
    store: SQLiteStore
    deleted: list[int]
    validator: Validator
    settings: ProviderSettings

    def get(self, params: dict[str, str] | list[tuple[str, str]] | None = None, **kw: Any) -> requests.Response:
        return requests.get(self.url, params=params, timeout=30, **kw)

    def post(self, data: dict[str, str] | list[tuple[str, str]], **kw: Any) -> requests.Response:
        return requests.post(self.url, data=data, timeout=30, **kw)

    def oai(self, params: dict[str, str] | list[tuple[str, str]], *, method: str = "GET") -> etree._Element:
        """One request; the response must be HTTP 200 and text/xml (the middleware validated it)."""
        resp = self.get(params) if method == "GET" else self.post(params)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"
        return etree.fromstring(resp.content)


def error_code(doc: etree._Element) -> str | None:
    el = doc.find("oai:error", OAI)
    return el.get("code") if el is not None else None


def start_server(store: SQLiteStore, deleted: list[int], *, page_size: int = 100, ttl: int = 24,
                 **extra: Any) -> tuple[Server, Callable[[], None]]:
    settings = ProviderSettings(
        repository_name="Wilson Center Digital Archive (test catalog)",
        repository_identifier=REPO_ID,
        admin_email="cataloguer@example.org",
        page_size=page_size,
        token_ttl_hours=ttl,
        **extra,
    )
    validator = Validator(create_app(store, settings, token_secret=SECRET))
    served = LoopbackServer(validator)
    return Server(f"http://127.0.0.1:{served.port}/oai", store, deleted, validator, settings), served.stop


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SQLiteStore, list[int]]]:
    store, deleted = build_catalog(tmp_path_factory.mktemp("oai") / "c.db")
    yield store, deleted
    store.close()


@pytest.fixture(scope="session")
def server(catalog: tuple[SQLiteStore, list[int]]) -> Iterator[Server]:
    srv, stop = start_server(*catalog)
    yield srv
    stop()
    assert not srv.validator.failures, srv.validator.failures


@pytest.fixture(scope="session")
def small_page_server(catalog: tuple[SQLiteStore, list[int]]) -> Iterator[Server]:
    """Same catalog, 7 items a page: many pages, for token and ListSets paging tests."""
    srv, stop = start_server(*catalog, page_size=7)
    yield srv
    stop()
    assert not srv.validator.failures, srv.validator.failures


@pytest.fixture(autouse=True)
def _no_invalid_responses(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that produced an invalid response, not just the session at the end."""
    servers = [request.getfixturevalue(n) for n in ("server", "small_page_server") if n in request.fixturenames]
    before = [len(s.validator.failures) for s in servers]
    yield
    for srv, n in zip(servers, before, strict=True):
        assert srv.validator.failures[n:] == []


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A catalog of its own (for tests that change records), 10 items a page."""
    store, deleted = build_catalog(tmp_path / "c.db", n=40)
    srv, stop = start_server(store, deleted, page_size=10)
    yield srv
    stop()
    store.close()
    assert not srv.validator.failures, srv.validator.failures
