"""`harvester serve` (the live OAI-PMH 2.0 endpoint) and `harvester feed` (a Static Repository file)."""

from __future__ import annotations

import click

from catalog.store import open_store
from harvester.config import Settings


def _provider_settings(settings: Settings):  # -> ProviderSettings (imported lazily: keeps --help fast)
    from catalog.oai.provider import ProviderSettings

    oai = settings.oai
    return ProviderSettings(
        repository_name=oai.repository_name,
        repository_identifier=oai.repository_identifier,
        admin_email=oai.admin_email,
        page_size=oai.page_size,
        token_ttl_hours=oai.token_ttl_hours,
        base_url=oai.base_url,
    )


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default: oai.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: oai.port, 8080).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="Worker threads.")
@click.pass_obj
def serve(obj, host: str | None, port: int | None, threads: int) -> None:
    """Serve the catalog as an OAI-PMH 2.0 repository at /oai (waitress)."""
    import waitress

    from catalog.oai.app import create_app

    settings: Settings = obj.settings()
    host = host or settings.oai.host
    port = settings.oai.port if port is None else port
    store = open_store(settings.storage.database, mode="read")
    app = create_app(store, _provider_settings(settings), token_secret=settings.oai.token_secret)
    shown = settings.oai.base_url or f"http://{host}:{port}/oai"
    click.echo(f"OAI-PMH repository at {shown} (listening on {host}:{port}, {threads} threads); Ctrl-C stops.")
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="wcda-harvester", clear_untrusted_proxy_headers=True)
    finally:
        store.close()


@click.command("feed")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The Static Repository file to write.")
@click.option("--base-url", default=None,
              help="Identify baseURL: the gateway URL followed by the file's URL (default: oai.static_base_url).")
@click.pass_obj
def feed(obj, out: str, base_url: str | None) -> None:
    """Write the catalog as an OAI-PMH Static Repository (one XML file, oai_dc)."""
    from pathlib import Path

    from catalog.oai.static import RECOMMENDED_MAX, write_static_repository

    settings: Settings = obj.settings()
    oai = settings.oai
    url = base_url or oai.static_base_url
    if not url:
        url = Path(out).resolve().as_uri()
        click.echo(f"note: no --base-url / oai.static_base_url; Identify's baseURL is {url}", err=True)
    store = open_store(settings.storage.database, mode="read")
    try:
        result = write_static_repository(
            store, out, repository_name=oai.repository_name, repository_identifier=oai.repository_identifier,
            admin_email=oai.admin_email, base_url=url,
        )
    finally:
        store.close()
    click.echo(f"wrote {result.count} records to {result.path} ({result.skipped_deleted} deleted records left out: "
               "Static Repositories cannot carry deletions)")
    if result.count > RECOMMENDED_MAX:
        click.echo(f"note: the Static Repository specification targets up to {RECOMMENDED_MAX} records", err=True)


COMMANDS = [serve, feed]
