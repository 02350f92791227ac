"""Random addresses and parameters against the web catalog's WSGI app: every answer is a page
with a status the docs name (200, 303, 400, 404, 405, 410), never a 500, 503 or a traceback; and a
catalog that cannot answer gets a 503 page, never a 500."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.store import SQLiteStore
from catalog.web.app import WebApp, create_web_app
from tests.web.conftest import WebCatalog

ALLOWED = {200, 303, 400, 404, 405, 410}
NAMES = ["q", "facet", "from", "to", "sort", "page", "per_page", "include_deleted", "run", "x"]


@pytest.fixture(scope="module")
def app(web_catalog: WebCatalog) -> Any:
    store = SQLiteStore(str(web_catalog.path))
    try:
        yield create_web_app(store)
    finally:
        store.close()


def call(app: WebApp, path: bytes, query: bytes, method: str = "GET") -> tuple[int, bytes]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path.decode("latin-1"), "QUERY_STRING": query.decode("latin-1"),
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(b""), "SCRIPT_NAME": ""}
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"] = int(status.split()[0])

    body = b"".join(app(environ, start_response))
    return seen["status"], body


values = st.one_of(st.text(max_size=60), st.sampled_from(["type:cable", "language:rus", "decade:1950s", "year:1956",
                                                           "has_text:yes", "1950", "1950-13", "date", "-date",
                                                           "0", "99999999999999999999", '"', "*", "NEAR(", ":"]))


@pytest.mark.slow  # several hundred requests
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(pairs=st.lists(st.tuples(st.sampled_from(NAMES), values), max_size=6),
       path=st.sampled_from(["/", "/changes", "/records/175798", "/records/300240", "/records/175798/export/ris",
                             "/records/0", "/static/style.css"]),
       raw=st.binary(max_size=12))
def test_random_parameters_never_fail(app: WebApp, pairs: list[tuple[str, str]], path: str, raw: bytes) -> None:
    query = "&".join(quote_from_bytes(n.encode(), safe="") + "=" +
                     quote_from_bytes(v.encode("utf-8", "surrogatepass"), safe="") for n, v in pairs).encode()
    query += b"&" + quote_from_bytes(raw, safe="").encode() if raw else b""  # undecodable escapes too
    status, body = call(app, path.encode(), query)
    assert status in ALLOWED, (path, query, status)
    assert b"Traceback" not in body


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.binary(min_size=1, max_size=40).map(lambda b: b"/" + b),
       method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]))
def test_random_paths_and_methods_never_fail(app: WebApp, path: bytes, method: str) -> None:
    status, body = call(app, path, b"", method)
    assert status in ALLOWED, (path, method, status)
    if method not in ("GET", "HEAD"):
        assert status in (405, 404) or path.startswith((b"/oai", b"/api"))
    assert b"Traceback" not in body


def test_a_catalog_that_cannot_answer_gets_a_503_page(web_catalog: WebCatalog, tmp_path: Any) -> None:
    import shutil

    copy = tmp_path / "c.db"
    shutil.copyfile(web_catalog.path, copy)
    store = SQLiteStore(str(copy))
    try:
        app = create_web_app(store)
        assert call(app, b"/records/175798", b"")[0] == 200
        copy.write_bytes(b"this is no longer a database" * 4096)  # the file is destroyed under the server
        for path, query in ((b"/records/300241", b""), (b"/", b"q=kohl"), (b"/changes", b"")):
            status, body = call(app, path, query)
            assert status == 503 and b"Temporarily unavailable" in body and b"Traceback" not in body
    finally:
        store.close()
