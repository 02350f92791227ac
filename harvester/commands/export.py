"""`harvester export FORMAT [--out FILE] [--since DATE] [ID ...]`: stream the catalog in one format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from catalog.errors import HarvesterError
from catalog.export import FORMAT_ALIASES, FORMAT_NAMES
from harvester.commands import open_store

if TYPE_CHECKING:
    from catalog.model import StoredRecord


def parse_since(value: str) -> datetime:
    """ISO 8601 date or date-time; naive values are UTC (the catalog's clock)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date (YYYY-MM-DD[THH:MM[:SS]])") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice([*FORMAT_NAMES, *FORMAT_ALIASES]))
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), help="Write here (default: stdout).")
@click.option("--ids-file", "ids_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Record IDs (or document URLs) one a line, # comments; '-' reads stdin (search --format ids).")
@click.option("--since", "--changed-since", "since", help="Only records changed since this date (ISO 8601).")
@click.option("--jobs", "jobs", type=click.IntRange(min=1), default=None,
              help="Processes that format records (default: one per CPU; 1 = no worker processes).")
@click.option("--excel", is_flag=True,
              help="csv only: start with a UTF-8 byte order mark, so Excel reads accents and scripts correctly.")
@click.pass_context
def export(ctx: click.Context, fmt: str, ids: tuple[int, ...], out: str | None, ids_file: str | None,
           since: str | None, jobs: int | None, excel: bool) -> None:
    """Export catalog records as FORMAT (all records when no ID is given).

    Formats: oai_dc, oai_qdc (alias qdc), mods, marcxml, jsonld, csl-json, jsonl, csv, ris,
    bibtex (docs/exports.md). Tombstones (withdrawn records) are kept and marked in jsonl,
    csv, oai_dc, oai_qdc, mods and marcxml; csl-json, ris, bibtex and jsonld skip them with a
    note on stderr. export.rights_uri in the config adds a rights-statement URI.
    """
    if excel and fmt != "csv":
        raise click.BadParameter("--excel is for the csv format only", param_hint="--excel")
    from catalog.export.output import open_output
    from catalog.export.parallel import default_jobs, formatted
    from catalog.export.registry import format_for, writer_for
    from catalog.store import from_db_time
    from harvester.commands.cite import read_ids

    if ids_file is not None:
        # An empty list (a search that found nothing) exports nothing, never the whole catalog.
        ids = tuple(dict.fromkeys([*ids, *read_ids(ids_file)]))
    changed_since = parse_since(since) if since else None
    # Without pydantic when the config holds only defaults (the stored-rendering path loads no model).
    database, options = ctx.obj.database(), ctx.obj.export_options()
    fmt = format_for(fmt).name
    store = open_store(database, mode="read")
    try:
        if ids:
            missing = [i for i in ids if store.get(i) is None]
            if missing:
                raise click.BadParameter(f"not in the catalog: {', '.join(map(str, missing))}", param_hint="ID")

        def skipped(stored: StoredRecord, reason: str) -> None:
            click.echo(f"skipped {stored.record.record_id}: {reason}", err=True)

        writer = writer_for(fmt, on_skip=skipped, options=options)
        # Rows as stored: jsonl copies the stored body, the other formats read the brief one,
        # and formats the store keeps a rendering of read it too (used when its key is current).
        rendered = None
        if writer.stored:
            from catalog.export.rendered import render_key

            rendered = (fmt, render_key(format_for(fmt), writer.options))
        rows = store.iter_raw(ids=list(ids) if ids or ids_file is not None else None, changed_since=changed_since,
                              include_deleted=True, brief=not writer.needs_text, rendered=rendered)
        # The CSV's lines end in CRLF (RFC 4180) already; Excel also needs the BOM to take it as UTF-8.
        with open_output(out, newline="" if fmt == "csv" else None,
                         encoding="utf-8-sig" if excel else "utf-8") as handle:
            write = handle.write
            write(writer.header())
            if changed_since is not None and ids:  # iter_raw ignores changed_since when ids are given
                floor = changed_since
                rows = (raw for raw in rows if from_db_time(raw.last_changed) >= floor)
            for text in formatted(fmt, writer, rows, jobs=jobs or default_jobs()):
                write(text)
            write(writer.footer())
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


COMMANDS = [export]
