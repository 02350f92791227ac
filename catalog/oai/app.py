"""The WSGI application: HTTP in front of the OAI-PMH provider.

oaipmh has no HTTP layer, so this is ours: GET and POST (form-encoded) at /oai,
repeated arguments kept so they can be refused, 200 with an OAI error document for
every protocol error, `text/xml; charset=utf-8`, gzip when the client accepts it,
and the base URL taken from the request when config.toml does not set one (so the
validators' "baseURL equals the URL tested" check holds behind any host name).

An unexpected failure (a locked or broken database) is answered with 503 and
Retry-After, which OAI-PMH harvesters treat as "try again", never with a 500.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from catalog.oai.provider import OaiProvider, ProviderSettings
from catalog.oai.repository import CatalogRepository
from catalog.store import CatalogStore

log = logging.getLogger(__name__)

OAI_PATH = "/oai"
MAX_BODY = 64 * 1024  # an OAI request is a handful of short arguments
CONTENT_TYPE = "text/xml; charset=utf-8"

StartResponse = Callable[..., Any]


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = 1.0
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key.strip().lower() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            return q > 0
    return False


# host[:port] as a URL authority: a DNS name or IPv4 address, or a bracketed IPv6 address.
_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?\.?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$")


def _usable_host(host: str) -> bool:
    match = _HOST.fullmatch(host)
    return match is not None and (match.group(1) is None or int(match.group(1)) <= 65535)


def request_base_url(environ: dict[str, Any]) -> str:
    """The URL this request reached /oai at (scheme, Host header, script name).

    A Host header that is not host[:port] (spaces, quotes, `@`, a path…) is not trusted into
    baseURL and the request echo; the server's own name and port are used instead."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host or not _usable_host(host):
        host = environ.get("SERVER_NAME", "localhost")
        port = environ.get("SERVER_PORT", "")
        if port and port != ("443" if scheme == "https" else "80"):
            host = f"{host}:{port}"
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{OAI_PATH}"


def _is_head(environ: dict[str, Any]) -> bool:
    return str(environ.get("REQUEST_METHOD", "")).upper() == "HEAD"


class OaiApp:
    """The WSGI callable. One instance serves all threads; the store's connections are per thread."""

    def __init__(self, provider: OaiProvider) -> None:
        self.provider = provider

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._respond(environ, start_response)
        except Exception:
            log.exception("OAI-PMH request failed")
            body = b"The repository is temporarily unable to answer; please retry.\n"
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "60"),
                 ("Content-Length", str(len(body)))],
            )
            return [b"" if _is_head(environ) else body]

    def _plain(self, start_response: StartResponse, status: str, text: str, extra: list[tuple[str, str]] | None = None,
               *, head: bool = False) -> list[bytes]:
        body = text.encode("utf-8")
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                                *(extra or [])])
        # waitress sends whatever the app returns, even for HEAD: a body after a HEAD answer
        # would be read by a keep-alive client as the start of the next response.
        return [b"" if head else body]

    def _respond(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path != OAI_PATH:
            return self._plain(start_response, "404 Not Found", f"Not found. The OAI-PMH endpoint is {OAI_PATH}.\n",
                               head=method == "HEAD")
        if method not in ("GET", "HEAD", "POST"):
            return self._plain(start_response, "405 Method Not Allowed", "Use GET or POST.\n",
                               [("Allow", "GET, HEAD, POST")])

        pairs: list[tuple[str, str]] | None = []
        try:
            pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True, errors="strict")
            if method == "POST":
                pairs += self._form(environ)
        except (UnicodeDecodeError, ValueError):
            pairs = None  # not UTF-8 / not form data: answered as badArgument below
        base_url = request_base_url(environ)
        if pairs is None:
            body = self.provider.bad_argument(base_url, "The arguments are not UTF-8 form data.")
        else:
            body = self.provider.handle(pairs, base_url)

        headers = [("Content-Type", CONTENT_TYPE), ("Vary", "Accept-Encoding")]
        if _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body, compresslevel=6)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [b"" if method == "HEAD" else body]

    @staticmethod
    def _form(environ: dict[str, Any]) -> list[tuple[str, str]]:
        ctype = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            raise ValueError("request body too large")
        data = environ["wsgi.input"].read(length) if length > 0 else b""
        if ctype not in ("", "application/x-www-form-urlencoded"):
            raise ValueError("POST must be application/x-www-form-urlencoded")
        return parse_qsl(data.decode("utf-8"), keep_blank_values=True, errors="strict")


def create_app(store: CatalogStore, settings: ProviderSettings, *, token_secret: str | None = None) -> OaiApp:
    return OaiApp(OaiProvider(CatalogRepository(store, token_secret=token_secret), settings))
