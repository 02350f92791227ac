"""`harvester cite [ID ...] [--ids-file F|-] [--all] [--since DATE] --style STYLE ...`: ready-to-paste citations.

One record or a whole bibliography: the style is parsed once per run (catalog.cite.Citer),
entries come sorted as the style's <sort> says, with year suffixes (1997a, 1997b) where
the style disambiguates that way; notes (--note) keep the order the IDs were given in.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from catalog.errors import ExportError, HarvesterError
from harvester.commands import open_store

if TYPE_CHECKING:
    from catalog.model import CatalogRecord
    from catalog.store import RawRecord

# The shipped style names, written out so that `--help` does not import citeproc
# (tests/harvest/test_startup.py checks this list against catalog.cite.STYLES).
STYLE_NAMES = ("apa", "chicago", "chicago-author-date", "chicago-notes-bibliography", "mla",
               "modern-language-association", "wcda")


def read_ids(source: str) -> list[int]:
    """Record IDs (or document URLs) one a line from a file or, for "-", stdin (`harvester search
    --format ids | harvester cite --ids-file -`); `#` comments and blank lines are ignored."""
    from harvester import idlist

    try:
        if source == "-":
            text = sys.stdin.read()
            entries = idlist.entries_from_text(text, "stdin")
        else:
            entries = idlist.entries_from_file(source)
        return idlist.resolve(entries)
    except (idlist.IdListError, UnicodeDecodeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--ids-file") from None


@click.command("cite")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--ids-file", "ids_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Record IDs (or document URLs) one a line, # comments; '-' reads stdin.")
@click.option("--all", "all_records", is_flag=True, help="Every record in the catalog (withdrawn ones excepted).")
@click.option("--since", "--changed-since", "since", help="Records changed since this date (ISO 8601).")
@click.option("--style", "style", default="wcda", show_default=True,
              help=f"One of {', '.join(STYLE_NAMES)}, or a path to a .csl file.")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True,
              help="Plain text, or HTML with the style's italics and quotes (text escaped).")
@click.option("--note", is_flag=True, help="The footnote form (note styles only) instead of the bibliography entry.")
@click.option("--locale", "locale", help="Locale for terms, dates and punctuation, e.g. en-GB (default: the style's).")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), help="Write here (default: stdout).")
@click.pass_context
def cite_command(ctx: click.Context, ids: tuple[int, ...], ids_file: str | None, all_records: bool,
                 since: str | None, style: str, fmt: str, note: bool, locale: str | None, out: str | None) -> None:
    """Print citations for the given records, rendered with citeproc-py in STYLE.

    Many records make a bibliography, sorted and disambiguated as the style says. A record
    the style cannot render correctly is reported on stderr (exit code 1) instead of
    printing a wrong entry; withdrawn records are skipped with a note.
    """
    wanted = list(ids) + (read_ids(ids_file) if ids_file is not None else [])
    if not wanted and not all_records and since is None and ids_file is None:
        raise click.UsageError("give Record IDs, --ids-file, --all or --since")
    if style == "wcda":
        # The house style is written out (catalog.cite_text): no citeproc, no record model.
        _house(ctx, wanted, all_records, since, fmt, out)
        return
    from catalog.cite import Citer  # citeproc and lxml: only when citations are made (start-up time)
    from catalog.export.output import open_output

    try:
        citer = Citer(style, fmt=fmt, note=note, locale=locale)  # type: ignore[arg-type]
    except ExportError as exc:
        hint = "--note" if "in-text style" in str(exc) else "--locale" if "locale" in str(exc) else "--style"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    records = _records(ctx, wanted, all_records, since)
    failed = False
    try:
        entries = citer.bibliography(records)
        with open_output(out) as handle:
            for entry in entries:
                if entry.error is not None:
                    click.echo(f"error: {entry.error}", err=True)
                    failed = True
                else:
                    handle.write(f"{entry.text}\n")
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    if failed:
        sys.exit(1)


def _house(ctx: click.Context, wanted: list[int], all_records: bool, since: str | None, fmt: str,
           out: str | None) -> None:
    """`cite --style wcda`: entries in the order given (the house style neither sorts nor adds
    year suffixes), each from the stored JSON; a row of another shape goes through the model."""
    import json
    from contextlib import nullcontext

    from catalog.cite_text import house_entry, house_entry_of

    # chosen before any output, as `_records` does: a config error or a missing catalog stops the
    # command as in every other (exit 2), an unknown ID is a usage error
    chosen = _raw_records(ctx.obj.database(), wanted, all_records, since)
    failed = False
    try:
        if out in (None, "-"):  # stdout: no need for open_output's temp-file machinery (start-up)
            output: Any = nullcontext(sys.stdout)
        else:
            from catalog.export.output import open_output

            output = open_output(out)
        with output as handle:
            for raw in chosen:
                try:
                    text = house_entry_of(json.loads(raw.json), fmt=fmt)
                    if text is None:
                        r = raw.stored().record
                        text = house_entry(r.record_id, r.title, r.date.display, r.source, r.url, bool(r.authors),
                                           fmt=fmt)
                except (ValueError, HarvesterError) as exc:
                    if not isinstance(exc, ExportError):  # unreadable JSON or a record the model refuses
                        raise click.ClickException(str(exc)) from exc
                    click.echo(f"error: {exc}", err=True)
                    failed = True
                    continue
                handle.write(f"{text}\n")
            handle.flush()
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    if failed:
        sys.exit(1)


def _raw_records(database: str, wanted: list[int], all_records: bool, since: str | None) -> list[RawRecord]:
    """The records to cite as stored (brief JSON), chosen as `_records` chooses them."""
    from harvester.commands.export import parse_since

    changed_since = parse_since(since) if since else None
    cutoff = None
    if changed_since is not None:
        from catalog.store import to_db_time

        cutoff = to_db_time(changed_since)
    store = open_store(database, mode="read")
    try:
        chosen: dict[int, RawRecord] = {}
        missing = []
        for record_id in dict.fromkeys(wanted):
            raw = next(store.iter_raw(ids=[record_id], brief=True), None)
            if raw is None:
                missing.append(record_id)
            elif raw.deleted:
                click.echo(f"skipped {record_id}: deleted (withdrawn from the archive)", err=True)
            elif cutoff is None or raw.last_changed >= cutoff:
                chosen[record_id] = raw
        if missing:
            raise click.BadParameter(f"not in the catalog: {', '.join(map(str, missing))}", param_hint="ID")
        if all_records or (since is not None and not wanted):
            for raw in store.iter_raw(changed_since=changed_since, include_deleted=False, brief=True):
                chosen.setdefault(raw.record_id, raw)
        return list(chosen.values())
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def _records(ctx: click.Context, wanted: list[int], all_records: bool, since: str | None) -> list[CatalogRecord]:
    from harvester.commands.export import parse_since

    changed_since = parse_since(since) if since else None
    store = open_store(ctx.obj.database(), mode="read")
    try:
        chosen: dict[int, CatalogRecord] = {}
        missing = []
        for record_id in dict.fromkeys(wanted):
            stored = store.get(record_id)
            if stored is None:
                missing.append(record_id)
            elif stored.deleted:
                click.echo(f"skipped {record_id}: deleted (withdrawn from the archive)", err=True)
            elif changed_since is None or stored.last_changed >= changed_since:
                chosen[record_id] = stored.record
        if missing:
            raise click.BadParameter(f"not in the catalog: {', '.join(map(str, missing))}", param_hint="ID")
        if all_records or (since is not None and not wanted):
            for stored in store.iter_records(changed_since=changed_since, include_deleted=False):
                chosen.setdefault(stored.record.record_id, stored.record)
        return list(chosen.values())
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


COMMANDS = [cite_command]
