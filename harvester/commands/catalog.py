"""`harvester reindex` (rebuild the derived indexes) and `harvester copy-catalog SRC DEST`."""

from __future__ import annotations

import click

from catalog.errors import StoreError
from harvester.commands import open_store

# Base tables in copy order; the derived indexes (facets, full text) are rebuilt at the end.
_TABLES = ("record", "record_event", "sync_run", "sync_item", "sync_queue", "store_meta")


@click.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the facet and full-text indexes of every record (after an upgrade; normally automatic),
    and store the current renderings (oai_dc, oai_qdc, mods, marcxml, csl-json) of records lacking them."""
    settings = ctx.obj.settings()
    with open_store(settings.storage.database) as store:
        done = store.reindex()
        rendered = store.fill_renderings(options=settings.export.format_options())
    click.echo(f"reindexed {done} records in {settings.storage.database}; rendered {rendered}")


@click.command("copy-catalog")
@click.argument("source")
@click.argument("dest")
@click.pass_context
def copy_catalog(ctx: click.Context, source: str, dest: str) -> None:
    """Copy the catalog SOURCE into the empty catalog DEST (a SQLite path or a postgresql:// URL).

    Records keep their timestamps, history, sync runs and settings; DEST's indexes are
    rebuilt and its records' renderings stored. Use it to move a SQLite catalog to PostgreSQL
    (or back).
    """
    settings = ctx.obj.settings()
    with open_store(source, mode="read") as src, open_store(dest) as dst:
        if dst.count(include_deleted=True):
            raise StoreError(f"{dest} already holds records; copy-catalog fills an empty catalog only")
        counts = {}
        with dst.unit_of_work():
            # The new catalog's own token key gives way to the copied one.
            dst.clear_meta()
            for table in _TABLES:
                n = 0
                for rows in src.copy_rows(table):
                    dst.insert_rows(table, rows)
                    n += len(rows)
                counts[table] = n
            dst.after_copy()
            dst.reindex()
        dst.analyze()  # planner statistics for the freshly loaded tables
        # Made again rather than copied: under this configuration's format options (SOURCE may have
        # had others), as `reindex` stores them. Without them OAI-PMH and the exports would render
        # every record of the new catalog on each request (catalog/export/rendered.py).
        rendered = dst.fill_renderings(options=settings.export.format_options())
    click.echo(f"copied {counts['record']} records, {counts['record_event']} history events and "
               f"{counts['sync_run']} sync runs from {source} to {dest}; rendered {rendered}")


COMMANDS = [reindex, copy_catalog]
