"""`harvester cite ID ... --style STYLE [--format text|html] [--note]`: ready-to-paste citations."""

from __future__ import annotations

import sys

import click

from catalog.cite import STYLES, cite, style_class, style_path
from catalog.errors import ExportError, HarvesterError, StyleCannotRender
from catalog.store import open_store


@click.command("cite")
@click.argument("ids", nargs=-1, required=True, type=click.IntRange(min=1))
@click.option("--style", "style", default="wcda", show_default=True,
              help=f"One of {', '.join(sorted(STYLES))}, or a path to a .csl file.")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True,
              help="Plain text, or HTML with the style's italics and quotes.")
@click.option("--note", is_flag=True, help="The footnote form (note styles only) instead of the bibliography entry.")
@click.pass_context
def cite_command(ctx: click.Context, ids: tuple[int, ...], style: str, fmt: str, note: bool) -> None:
    """Print one citation per ID, rendered with citeproc-py in STYLE.

    A record the style cannot render correctly is reported on stderr (exit code 1)
    instead of printing a wrong entry; withdrawn records are skipped with a note.
    """
    try:
        style_path(style)
        if note and style_class(style) != "note":
            raise click.BadParameter(f"{style!r} is an in-text style; only note styles have a --note form", param_hint="--note")
    except ExportError as exc:
        raise click.BadParameter(str(exc), param_hint="--style") from None
    store = open_store(ctx.obj.settings().storage.database, mode="read")
    failed = False
    try:
        records = []
        for record_id in ids:
            stored = store.get(record_id)
            if stored is None:
                raise click.BadParameter(f"not in the catalog: {record_id}", param_hint="ID")
            records.append(stored)
        for stored in records:
            if stored.deleted:
                click.echo(f"skipped {stored.record.record_id}: deleted (withdrawn from the archive)", err=True)
                continue
            try:
                click.echo(cite(stored.record, style, fmt=fmt, note=note))  # type: ignore[arg-type]
            except StyleCannotRender as exc:
                click.echo(f"error: {exc}", err=True)
                failed = True
    except StyleCannotRender:
        raise
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    if failed:
        sys.exit(1)


COMMANDS = [cite_command]
