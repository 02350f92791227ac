"""The web catalog: one WSGI application that `harvester serve` runs.

It dispatches by path, all in one process and one waitress server:

| path | what answers |
| --- | --- |
| `/oai` | the OAI-PMH repository (catalog.oai.app, unchanged) |
| `/api/…` | the JSON API (catalog.web.api), when given |
| `/static/…` | the stylesheet and the copy script (catalog/web/static) |
| `/`, `/records/<id>` (and its `/export/<format>`, `/citations/<style>`), `/changes` | the HTML pages |

Read-only: the pages answer GET and HEAD only (405 otherwise) and never write to the
catalog. Bad parameters get a 400 page naming the parameter; a store failure a 503 page
with Retry-After (as /oai does); never a 500 or a traceback.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from catalog.export.common import DEFAULT_OPTIONS, FormatOptions
from catalog.store import CatalogStore
from catalog.web.render import STATIC, render

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

HTML = "text/html; charset=utf-8"
MAX_QUERY = 16 * 1024  # the longest query string a page reads (a search box, facets, a page number)
STATIC_FILES = {p.name: p for p in STATIC.iterdir() if p.is_file()} if STATIC.is_dir() else {}
_RECORD = re.compile(r"/records/(\d{1,15})")
_EXPORT = re.compile(r"/records/(\d{1,15})/export/([A-Za-z0-9_\-]{1,40})")
_CITATION = re.compile(r"/records/(\d{1,15})/citations/([A-Za-z0-9_\-]{1,40})")
# Sent with every page: nothing from the outside may load or run in them (connect-src: the copy
# script fetches the citations a record page links to from the site itself).
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
                                "connect-src 'self'; "
                                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
]


class HttpError(Exception):
    """Answer the request with `status` and a page saying `message` (a response, not a failure)."""

    def __init__(self, status: int, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title


@dataclass
class Response:
    status: int
    body: bytes | Iterator[bytes]
    content_type: str = HTML
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    path: str
    method: str
    query: list[tuple[str, str]]
    query_string: str
    script_name: str

    def url(self, path: str) -> str:
        """`path` under the application root (for links that survive a reverse-proxy prefix)."""
        return self.script_name + path


STATUS_TEXT = {200: "OK", 303: "See Other", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
               410: "Gone", 503: "Service Unavailable"}


class WebApp:
    """The WSGI callable (one instance for all threads; the store's connections are per thread)."""

    def __init__(self, store: CatalogStore, *, oai_app: WsgiApp | None = None, api_app: WsgiApp | None = None,
                 options: FormatOptions = DEFAULT_OPTIONS) -> None:
        from catalog.web.pages import Pages  # the page handlers: templates, citations, formats

        self.store = store
        self.oai_app = oai_app
        self.api_app = api_app
        self.pages = Pages(store, options=options)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/oai" or path.startswith("/oai/"):
            if self.oai_app is not None:
                return self.oai_app(environ, start_response)
        elif (path == "/api" or path.startswith("/api/")) and self.api_app is not None:
            return self.api_app(environ, start_response)
        head = str(environ.get("REQUEST_METHOD", "GET")).upper() == "HEAD"
        request: Request | None = None
        try:
            request = self._request(environ, path)
            response = self._route(request)
        except HttpError as exc:
            response = self._error_page(exc, request)
        except Exception:
            log.exception("web page %s failed", path)
            response = self._error_page(HttpError(503, "The catalog is temporarily unable to answer; please retry.",
                                                  title="Temporarily unavailable"), request)
            response.headers.append(("Retry-After", "60"))
        return self._send(response, start_response, head=head)

    # -- request and routing -----------------------------------------------------------------
    @staticmethod
    def _request(environ: dict[str, Any], path: str) -> Request:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        query_string = environ.get("QUERY_STRING", "")
        request = Request(path, method, [], "", str(environ.get("SCRIPT_NAME", "")))
        if method not in ("GET", "HEAD"):
            raise HttpError(405, "This catalog is read-only: use GET.", title="Method not allowed")
        if len(query_string) > MAX_QUERY:
            raise HttpError(400, f"The address is too long (over {MAX_QUERY // 1024} KB of parameters).")
        try:
            # waitress hands PATH_INFO and QUERY_STRING over as latin-1 text of the raw bytes
            raw = query_string.encode("latin-1")
            pairs = parse_qsl(raw.decode("utf-8", errors="strict"), keep_blank_values=True, errors="strict")
        except (UnicodeEncodeError, UnicodeDecodeError, ValueError):
            raise HttpError(400, "The parameters of this address are not valid UTF-8.") from None
        if any("\x00" in key or "\x00" in value for key, value in pairs):
            raise HttpError(400, "The parameters of this address hold a NUL character.")
        return Request(path, method, pairs, query_string, request.script_name)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/":
            return self.pages.search(request)
        if path == "/changes":
            return self.pages.changes(request)
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):])
        match = _RECORD.fullmatch(path)
        if match:
            return self.pages.record(request, int(match[1]))
        match = _EXPORT.fullmatch(path)
        if match:
            return self.pages.export(request, int(match[1]), match[2])
        match = _CITATION.fullmatch(path)
        if match:
            return self.pages.citation(request, int(match[1]), match[2])
        if path.startswith("/records/"):
            raise HttpError(404, "There is no record at this address: record addresses are /records/<Record ID>.",
                            title="Not found")
        raise HttpError(404, "There is no page at this address.", title="Not found")

    @staticmethod
    def _static(name: str) -> Response:
        found = STATIC_FILES.get(name)  # only the files shipped in the folder: no path is ever joined
        if found is None:
            raise HttpError(404, "There is no such file.", title="Not found")
        ctype = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        return Response(200, found.read_bytes(), ctype, [("Cache-Control", "public, max-age=3600")])

    # -- responses ----------------------------------------------------------------------------
    def _error_page(self, exc: HttpError, request: Request | None) -> Response:
        titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 410: "Gone"}
        title = exc.title or titles.get(exc.status, "Error")
        body = render("error.html", title=title, message=exc.message, status=exc.status,
                      root=request.script_name if request else "")
        headers = [("Allow", "GET, HEAD")] if exc.status == 405 else []
        return Response(exc.status, body, HTML, headers)

    @staticmethod
    def _send(response: Response, start_response: StartResponse, *, head: bool) -> Iterable[bytes]:
        status = f"{response.status} {STATUS_TEXT.get(response.status, '')}".strip()
        headers = [("Content-Type", response.content_type), *SECURITY_HEADERS, *response.headers]
        if isinstance(response.body, bytes):
            headers.append(("Content-Length", str(len(response.body))))
            start_response(status, headers)
            # a body after a HEAD answer would be read by a keep-alive client as the next response
            return [b"" if head else response.body]
        start_response(status, headers)
        return [] if head else response.body


def create_web_app(store: CatalogStore, *, oai_app: WsgiApp | None = None, api_app: WsgiApp | None = None,
                   options: FormatOptions = DEFAULT_OPTIONS) -> WebApp:
    """The whole site `harvester serve` runs: /oai, /api/, /static/ and the catalog pages."""
    return WebApp(store, oai_app=oai_app, api_app=api_app, options=options)
