"""The JSON API on a real loopback waitress server, over both backends: answers, errors, hostile input."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import yaml

from catalog.search import SearchParams, run_search
from catalog.store import CatalogStore, open_store
from catalog.web.api import create_api_app
from tests.search.catalog import DELETED, HOSTILE_TITLE, RECORDS
from tests.support.wsgi_server import LoopbackServer


class ApiServer:
    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self.served = LoopbackServer(create_api_app(store))
        self.port = self.served.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def get(self, path: str, **kw: object) -> httpx.Response:
        return self.client.get(path, **kw)  # type: ignore[arg-type]

    def raw(self, request: bytes) -> bytes:
        """Bytes on the wire, as no client library would send them (raw non-ASCII in the target)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.client.close()
        self.served.stop()


def start(store: CatalogStore) -> Iterator[ApiServer]:
    server = ApiServer(store)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, catalogs: dict[str, CatalogStore]) -> Iterator[ApiServer]:
    yield from start(catalogs[request.param])


def error_of(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    error = resp.json()["error"]
    assert error["status"] == status and "\n" not in error["message"] and "Traceback" not in resp.text
    return error


def test_search_answers_what_the_model_gives(api: ApiServer) -> None:
    params = SearchParams(q="cold war", facets=(("has_text", "yes"),), date_from="1950", sort="date", per_page=3)
    resp = api.get(f"/api/search?{params.query_string()}")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json; charset=utf-8"
    data = resp.json()
    want = run_search(api.store, params).to_json()
    assert {k: v for k, v in data.items() if k != "links"} == want
    assert data["total"] > 3 and data["query"]["facet"] == ["has_text:yes"]
    assert data["links"]["self"] == f"/api/search?{params.query_string()}"
    assert data["links"]["next"] == f"/api/search?{params.with_page(2).query_string()}"
    assert "previous" not in data["links"]
    nxt = api.get(data["links"]["next"]).json()
    assert nxt["page"] == 2 and {h["record_id"] for h in nxt["hits"]}.isdisjoint({h["record_id"] for h in data["hits"]})


def test_records_and_tombstones(api: ApiServer) -> None:
    live = next(r for r in RECORDS if r.record_id not in DELETED)
    resp = api.get(f"/api/records/{live.record_id}")
    assert resp.status_code == 200
    data = resp.json()
    assert data["record"] == live.model_dump(mode="json") and data["deleted"] is False and data["deleted_at"] is None
    gone = api.get(f"/api/records/{DELETED[0]}")
    assert gone.status_code == 410
    tomb = gone.json()
    assert tomb["deleted"] is True and tomb["deleted_at"].startswith("2026-03-02T") and tomb["record"]["title"]
    assert error_of(api.get("/api/records/999999999"), 404)["code"] == "not_found"
    for bad in ["abc", "0", "12x", "1" * 16, "-5", "%F0%9F%99%82", ""]:
        assert error_of(api.get(f"/api/records/{bad}"), 400)["parameter"] == "record_id", bad


def test_openapi_file_is_served(api: ApiServer) -> None:
    resp = api.get("/api/openapi.yaml")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/yaml")
    spec = yaml.safe_load(resp.text)
    assert spec["openapi"].startswith("3.") and set(spec["paths"]) >= {"/api/search", "/api/records/{record_id}"}


@pytest.mark.parametrize(("query", "parameter"), [
    ("facet=colour:red", "facet"),
    ("page=1000000000", "page"),
    ("q=" + "x" * 10240, "q"),
    ("q=%FF%FE", "query"),
    ("q=caf%C3", "query"),
    ("from=1950-02-30", "from"),
    ("sort=random", "sort"),
    ("per_page=0", "per_page"),
    ("q=a&q=b", "q"),
    ("bogus=1", "bogus"),
])
def test_bad_parameters_are_400_with_a_json_error(api: ApiServer, query: str, parameter: str) -> None:
    error = error_of(api.get(f"/api/search?{query}"), 400)
    assert error["code"] == "bad_parameter" and error["parameter"] == parameter


@pytest.mark.parametrize("q", ['"', '"unclosed', "*", "a*", "NEAR(cold, war)", "title:cold", "(", ")", "((a))",
                               "cold AND NOT war", "^", "-war", "col:*", "'", "\\", "%", "_", "\u200f", "\x00"])
def test_fts_syntax_characters_are_text(api: ApiServer, q: str) -> None:
    resp = api.get("/api/search", params={"q": q})
    assert resp.status_code == 200, resp.text
    assert resp.json()["total"] >= 0


def test_hostile_values_never_appear_as_markup(api: ApiServer) -> None:
    hostile = next(r for r in RECORDS if r.title == HOSTILE_TITLE)
    resp = api.get(f"/api/records/{hostile.record_id}")
    assert b"<" not in resp.content and b"&" not in resp.content  # \u003c, \u0026 in the JSON text
    assert resp.json()["record"]["title"] == HOSTILE_TITLE  # … which reads back as the same title
    found = api.get("/api/search", params={"q": "<script>alert(\"x\")</script> & \u200fمذكرة\u200e"})
    assert found.status_code == 200 and b"<script>" not in found.content
    data = found.json()
    assert [h["title"] for h in data["hits"]] == [HOSTILE_TITLE] and data["query"]["q"].startswith("<script>")
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_raw_bytes_methods_paths_and_head(api: ApiServer) -> None:
    # waitress itself refuses raw non-ASCII in the request target; a server that passes it on
    # (PEP 3333: QUERY_STRING as latin-1) gets a JSON 400 from the app
    answer = api.raw(b"GET /api/search?q=caf\xc3\xa9\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    seen: list[str] = []
    body = create_api_app(api.store)({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/search",
                                      "QUERY_STRING": "q=caf\xc3\xa9\xff"}, lambda status, headers: seen.append(status))
    assert seen == ["400 Bad Request"] and json.loads(b"".join(body))["error"]["parameter"] == "query"
    assert error_of(api.client.post("/api/search", content=b"q=x"), 405)["code"] == "method_not_allowed"
    assert api.client.delete("/api/records/1").headers["allow"] == "GET, HEAD"
    assert error_of(api.get("/api/nothing"), 404)["code"] == "not_found"
    assert error_of(api.get("/elsewhere"), 404)["code"] == "not_found"
    head = api.client.head("/api/search?q=cold")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


def test_a_catalog_that_cannot_answer_is_a_503(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    open_store(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TABLE record_sort")  # a damaged catalog: every sorted search fails in SQL
        conn.commit()
    store = open_store(path, mode="read")
    try:
        for server in start(store):
            resp = server.get("/api/search?sort=title")
            assert error_of(resp, 503)["code"] == "unavailable" and resp.headers["retry-after"] == "30"
            assert "record_sort" not in resp.text  # no internals in the answer
    finally:
        store.close()
