"""The JSON API: `/api/search`, `/api/records/<id>` and its OpenAPI description, as one WSGI app.

Read-only (GET and HEAD only). Search takes exactly the web page's parameters
(`catalog.search.SearchParams`, docs/web.md "Search parameters") and answers what
`SearchPage.to_json` gives. Bad input is a 400 with a JSON error naming the parameter; a
record that was withdrawn from the archive is a 410 with its tombstone; a catalog that
cannot answer (a broken connection, a locked file) is a 503 with Retry-After. Never a 500:
everything else that fails is logged and answered as 503 too.

    app = create_api_app(store)            # mount it at /api (PATH_INFO keeps the /api prefix)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.errors import BadSearch, HarvesterError
from catalog.search import SearchParams, run_search
from catalog.store.api import CatalogStore

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
JSON_TYPE = "application/json; charset=utf-8"
_RECORD = re.compile(r"/records/([^/]*)")
_ID = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class ApiSettings:
    prefix: str = "/api"  # where the app is mounted (PATH_INFO starts with it)
    facet_limit: int = 10  # values per facet family in a search answer


class ApiError(Exception):
    def __init__(self, status: str, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.parameter = status, code, message, parameter


def to_json_bytes(data: object) -> bytes:
    """JSON as UTF-8, with <, > and & escaped (\\u003c…): still the same JSON to every parser, and
    never markup, even when a harvested title holds `<script>` and a browser sniffs the answer."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


class ApiApp:
    """The WSGI callable; one instance for all threads (the store keeps connections per thread)."""

    def __init__(self, store: CatalogStore, settings: ApiSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ApiSettings()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        head = str(environ.get("REQUEST_METHOD", "GET")).upper() == "HEAD"
        try:
            status, headers, body = self._respond(environ)
        except ApiError as exc:
            status, headers, body = self._error(exc)
        except HarvesterError as exc:  # the catalog could not answer (StoreError, StoreUnavailable)
            log.warning("API request failed: %s", exc)
            status, headers, body = self._error(ApiError("503 Service Unavailable", "unavailable",
                                                         "the catalog cannot answer just now; retry later"))
            headers.append(("Retry-After", "30"))
        except Exception:
            log.exception("API request failed")
            status, headers, body = self._error(ApiError("503 Service Unavailable", "unavailable",
                                                         "the catalog cannot answer just now; retry later"))
            headers.append(("Retry-After", "30"))
        headers += [("Content-Length", str(len(body))), ("X-Content-Type-Options", "nosniff"),
                    ("Access-Control-Allow-Origin", "*")]
        start_response(status, headers)
        # waitress sends what the app returns even for HEAD: nothing after a HEAD answer.
        return [b"" if head else body]

    # -- routing -------------------------------------------------------------------------------
    def _respond(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "") or "/")
        prefix = self.settings.prefix.rstrip("/")
        if not (path == prefix or path.startswith(prefix + "/")):
            raise ApiError("404 Not Found", "not_found", f"not an API path; the API is at {prefix}/")
        route = path[len(prefix):] or "/"
        if method not in ("GET", "HEAD"):
            exc = ApiError("405 Method Not Allowed", "method_not_allowed", "the API is read-only: use GET")
            status, headers, body = self._error(exc)
            return status, [*headers, ("Allow", "GET, HEAD")], body
        if route == "/search":
            return self._search(environ)
        match = _RECORD.fullmatch(route)
        if match:
            return self._record(match.group(1))
        if route == "/openapi.yaml":
            return "200 OK", [("Content-Type", "application/yaml; charset=utf-8")], OPENAPI_FILE.read_bytes()
        raise ApiError("404 Not Found", "not_found", f"no such API path (see {prefix}/openapi.yaml)")

    def _search(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        try:
            params = SearchParams.from_query_string(str(environ.get("QUERY_STRING", "")))
        except BadSearch as exc:
            raise ApiError("400 Bad Request", "bad_parameter", str(exc), exc.parameter) from None
        page = run_search(self.store, params, facet_limit=self.settings.facet_limit)
        data = page.to_json()
        base = f"{self.settings.prefix.rstrip('/')}/search"
        links = {"self": _link(base, params)}
        if page.has_next:
            links["next"] = _link(base, params.with_page(page.page + 1))
        if page.has_previous:
            links["previous"] = _link(base, params.with_page(min(page.page - 1, page.pages)))
        data["links"] = links
        return "200 OK", [("Content-Type", JSON_TYPE)], to_json_bytes(data)

    def _record(self, text: str) -> tuple[str, list[tuple[str, str]], bytes]:
        if not _ID.fullmatch(text) or int(text) == 0:
            raise ApiError("400 Bad Request", "bad_parameter", "record_id: must be a Record ID (1 to 15 digits)",
                           "record_id")
        record_id = int(text)
        raw = next(iter(self.store.iter_raw(ids=[record_id])), None)
        if raw is None:
            raise ApiError("404 Not Found", "not_found", f"record {record_id} is not in the catalog")
        try:
            record = json.loads(raw.json)
        except ValueError:
            raise ApiError("503 Service Unavailable", "unreadable",
                           f"record {record_id} in the catalog is unreadable") from None
        data = {"record_id": record_id, "deleted": raw.deleted, "deleted_at": raw.deleted_at,
                "first_seen": raw.first_seen, "last_changed": raw.last_changed, "last_checked": raw.last_checked,
                "content_hash": raw.content_hash, "record": record}
        if raw.deleted:
            # A tombstone: the archive withdrew the document; the catalog keeps its last metadata.
            return "410 Gone", [("Content-Type", JSON_TYPE)], to_json_bytes(data)
        return "200 OK", [("Content-Type", JSON_TYPE)], to_json_bytes(data)

    @staticmethod
    def _error(exc: ApiError) -> tuple[str, list[tuple[str, str]], bytes]:
        error: dict[str, Any] = {"status": int(exc.status.split()[0]), "code": exc.code, "message": exc.message}
        if exc.parameter is not None:
            error["parameter"] = exc.parameter
        return exc.status, [("Content-Type", JSON_TYPE)], to_json_bytes({"error": error})


def _link(base: str, params: SearchParams) -> str:
    query = params.query_string()
    return f"{base}?{query}" if query else base


def create_api_app(store: CatalogStore, settings: ApiSettings | None = None) -> ApiApp:
    """The JSON API over `store` (opened read-only by the caller)."""
    return ApiApp(store, settings)
