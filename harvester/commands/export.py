"""`harvester export FORMAT [--out FILE] [--since DATE] [ID ...]`: stream the catalog in one format."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from catalog.errors import HarvesterError
from catalog.export.output import open_output
from catalog.export.parallel import default_jobs, formatted
from catalog.export.registry import FORMATS, writer_for
from catalog.model import StoredRecord
from catalog.store import from_db_time, open_store, to_db_time


def parse_since(value: str) -> datetime:
    """ISO 8601 date or date-time; naive values are UTC (the catalog's clock)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date (YYYY-MM-DD[THH:MM[:SS]])") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(list(FORMATS)))
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), help="Write here (default: stdout).")
@click.option("--since", "since", help="Only records changed since this date (ISO 8601).")
@click.option("--jobs", "jobs", type=click.IntRange(min=1), default=None,
              help="Processes that format records (default: one per CPU; 1 = no worker processes).")
@click.pass_context
def export(ctx: click.Context, fmt: str, ids: tuple[int, ...], out: str | None, since: str | None,
           jobs: int | None) -> None:
    """Export catalog records as FORMAT (all records when no ID is given).

    Tombstones (withdrawn records) are kept and marked in jsonl, csv, oai_dc and qdc;
    csl-json, ris and bibtex skip them with a note on stderr.
    """
    changed_since = parse_since(since) if since else None
    store = open_store(ctx.obj.settings().storage.database, mode="read")
    try:
        if ids:
            missing = [i for i in ids if store.get(i) is None]
            if missing:
                raise click.BadParameter(f"not in the catalog: {', '.join(map(str, missing))}", param_hint="ID")

        def skipped(stored: StoredRecord, reason: str) -> None:
            click.echo(f"skipped {stored.record.record_id}: {reason}", err=True)

        writer = writer_for(fmt, on_skip=skipped)
        # Rows as stored: jsonl copies the stored body, the other formats read the brief one.
        rows = store.iter_raw(ids=list(ids) or None, changed_since=changed_since, include_deleted=True,
                              brief=not writer.needs_text)
        since_db = to_db_time(changed_since) if changed_since else None
        with open_output(out, newline="" if fmt == "csv" else None) as handle:
            write = handle.write
            write(writer.header())
            if since_db and ids:  # iter_raw ignores changed_since when ids are given
                rows = (raw for raw in rows if from_db_time(raw.last_changed) >= changed_since)
            for text in formatted(fmt, writer, rows, jobs=jobs or default_jobs()):
                write(text)
            write(writer.footer())
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


COMMANDS = [export]
