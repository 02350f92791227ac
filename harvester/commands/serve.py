"""`harvester serve` (the live OAI-PMH 2.0 endpoint) and `harvester feed` (a Static Repository file)."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from harvester.commands import open_store

if TYPE_CHECKING:
    from harvester.config import Settings

if TYPE_CHECKING:
    from catalog.oai.provider import ProviderSettings
    from harvester.cli import AppContext

if TYPE_CHECKING:
    from catalog.oai.provider import ProviderSettings

_DOMAIN = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")
LOOPBACK_IDENTIFIER = "localhost.localdomain"


def repository_identifier(settings: Settings, *, loopback: bool = False) -> str:
    """oai.repository_identifier, or the host of oai.base_url (a domain the operator controls,
    as the OAI identifier guidelines want; never the archive's). A loopback-only `serve` with
    neither gets a placeholder; anything public must say which domain it is."""
    oai = settings.oai
    if oai.repository_identifier:
        return oai.repository_identifier
    host = urlsplit(oai.base_url).hostname if oai.base_url else None
    if host and _DOMAIN.fullmatch(host):
        return host
    if loopback:
        click.echo(f"note: no oai.repository_identifier or oai.base_url; identifiers are "
                   f"oai:{LOOPBACK_IDENTIFIER}:<Record ID> on this loopback server", err=True)
        return LOOPBACK_IDENTIFIER
    raise click.ClickException(
        "set oai.repository_identifier to a domain you control (e.g. oai.example.org; OAI identifiers are "
        "oai:<domain>:<Record ID>, and the archive's own domain is not yours to use), or oai.base_url to the "
        "endpoint's public URL on such a domain")


def _provider_settings(settings: Settings, *, loopback: bool = False) -> ProviderSettings:  # lazy: fast --help
    from catalog.oai.provider import ProviderSettings

    oai = settings.oai
    return ProviderSettings(
        repository_name=oai.repository_name,
        repository_identifier=repository_identifier(settings, loopback=loopback),
        admin_email=oai.admin_email,
        page_size=oai.page_size,
        token_ttl_hours=oai.token_ttl_hours,
        base_url=oai.base_url,
        format_options=settings.export.format_options(),
        about_provenance=oai.about_provenance,
    )


def _check_port(host: str, port: int) -> None:
    """Bind and release host:port as waitress will (SO_REUSEADDR); OSError if it cannot."""
    import socket

    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
def server_options(settings: Settings, threads: int) -> dict[str, object]:
    """waitress settings for a server that slow or hostile clients cannot stall or fill.

    - connection_limit: waitress stops accepting at 100 connections by default, so 120
      connections trickling header lines shut every real client out; ours holds many more
      (a connection waiting for its headers costs a socket and a buffer, not a thread).
    - channel_timeout / cleanup_interval: idle connections are closed after channel_timeout.
    - max_request_body_size: the app reads at most 64 KiB; a bigger body gets 413 before it
      is read or spooled to disk. max_request_header_size bounds the headers likewise.
    - asyncore_use_poll: select() cannot watch more than 1024 sockets; poll() can.
    A public deployment still belongs behind a reverse proxy (docs/reliability.md, nginx).
    """
    oai = settings.oai
    return {"threads": threads, "ident": "wcda-harvester", "clear_untrusted_proxy_headers": True,
            "connection_limit": oai.max_connections, "channel_timeout": oai.channel_timeout,
            "cleanup_interval": max(1.0, min(10.0, oai.channel_timeout / 3)),
            "max_request_body_size": oai.max_body_bytes, "max_request_header_size": 64 * 1024,
            "asyncore_use_poll": True, "backlog": 1024}


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default: oai.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: oai.port, 8080).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="Worker threads.")
@click.pass_obj
def serve(obj: AppContext, host: str | None, port: int | None, threads: int) -> None:
    """Serve the web catalog at / and the OAI-PMH 2.0 repository at /oai (waitress)."""
    import waitress

    from catalog.oai.app import create_app
    from catalog.search.memory import keep_in_memory
    from catalog.web.api import create_api_app
    from catalog.web.app import create_web_app

    settings: Settings = obj.settings()
    host = host or settings.oai.host
    port = settings.oai.port if port is None else port
    provider_settings = _provider_settings(settings, loopback=_is_loopback(host))
    store = open_store(settings.storage.database, mode="read")
    oai_app = create_app(store, provider_settings, token_secret=settings.oai.token_secret)
    app = create_web_app(store, oai_app=oai_app, api_app=create_api_app(store),
                         options=settings.export.format_options())
    try:
        shown = settings.oai.base_url or f"http://{host}:{port}/oai"

        def make_server(wsgi_app: object, **kw: object) -> object:
            # Tried first on a socket of our own: a failed bind inside waitress leaks its sockets.
            _check_port(host, port)
            server = waitress.create_server(wsgi_app, **kw)
            # A server answers many searches: facet counts from a snapshot in memory, built in the
            # background (searches answer from SQL until it is ready; after a write from the last
            # one while it is at most oai.search_stale_seconds old, else from SQL until the next).
            keep_in_memory(store, max_stale=settings.oai.search_stale_seconds)
            click.echo(f"OAI-PMH repository at {shown} (listening on {host}:{port}, {threads} threads); "
                       "Ctrl-C stops.")
            click.echo(f"Web catalog at http://{f'[{host}]' if ':' in host else host}:{port}/")
            return server

        import logging

        logging.basicConfig()  # as waitress.serve does unless quiet: its warnings (queue depth, ...) go to stderr
        try:
            # waitress.serve runs the server and returns on Ctrl-C (its way to stop: exit 0).
            waitress.serve(app, host=host, port=port, _server=make_server, _quiet=True,
                           **server_options(settings, threads))
        except OSError as exc:  # bind failed: one line, not waitress's traceback
            import errno

            why = ("is already in use (another server is listening there)" if exc.errno == errno.EADDRINUSE
                   else f"cannot be opened: {exc.strerror or exc}")
            raise click.ClickException(f"port {port} on {host} {why}; choose another with --port "
                                       "(or oai.port in config.toml)") from None
    finally:
        store.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("feed")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The Static Repository file to write.")
@click.option("--base-url", default=None,
              help="Identify baseURL: the gateway URL followed by the file's public URL "
                   "(default: oai.static_base_url).")
@click.option("--format", "prefixes", multiple=True, default=("oai_dc",), show_default=True,
              help="Metadata prefix to include (repeatable): oai_dc, mods, marcxml.")
@click.option("--set", "set_spec", default=None,
              help="Only the records of this OAI set (one file per set keeps a big catalog under the limit).")
@click.option("--repository-identifier", "identifier", default=None,
              help="A domain you control, for the oai:<domain>:<Record ID> identifiers "
                   "(overrides oai.repository_identifier).")
@click.pass_obj
def feed(obj: Any, out: str, base_url: str | None, prefixes: tuple[str, ...], set_spec: str | None,
         identifier: str | None) -> None:
    """Write the catalog as an OAI-PMH Static Repository (one XML file a gateway serves)."""
    from catalog.errors import HarvesterError
    from catalog.oai.static import write_static_repository

    settings: Settings = obj.settings(**({"oai": {"repository_identifier": identifier}} if identifier else {}))
    oai = settings.oai
    url = base_url or oai.static_base_url
    if not url:
        raise click.UsageError("a Static Repository needs the public URL a gateway serves it at: give --base-url "
                               "(the gateway's URL followed by the file's URL) or set oai.static_base_url")
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--base-url")
    if "oai_qdc" in prefixes:
        raise click.BadParameter("oai_qdc cannot share a Static Repository with oai_dc (the two Dublin Core "
                                 "schemas clash in one file); serve it live", param_hint="--format")
    ident = repository_identifier(settings)
    store = open_store(settings.storage.database, mode="read")
    try:
        result = write_static_repository(
            store, out, repository_name=oai.repository_name, repository_identifier=ident,
            admin_email=oai.admin_email, base_url=url, prefixes=list(prefixes), set_spec=set_spec,
            options=settings.export.format_options(),
        )
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"wrote {result.count} records to {result.path} ({result.skipped_deleted} deleted records left out: "
               "Static Repositories cannot carry deletions)")


COMMANDS = [serve, feed]
