"""harvest, show, list, reparse, record: the core pipeline's commands."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from catalog.errors import HarvesterError
from harvester.commands import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, open_store
from harvester.commands.options import politeness_options, quiet_option

if TYPE_CHECKING:
    from catalog.model import CatalogRecord
    from catalog.store import CatalogStore, RawRecord
    from harvester.pipeline import HarvestSummary, Outcome


def _pipeline():  # type: ignore[no-untyped-def]
    # Imported when a command runs, not when the CLI starts: the pipeline brings in bs4 and
    # httpx, which `export`, `cite`, `serve` and `--help` never need (~0.35 s of start-up).
    from harvester import pipeline

    return pipeline

_FAILED = {"failed", "blocked", "not_found", "gone", "not_document", "not_attempted"}
_MISSING = {"not_found", "gone"}


class _Progress:
    """One status line on a terminal: done/total, new/changed/failed, rate, the latest ID.

    Nothing at all when stderr is not a terminal (cron, a pipe) or with --quiet."""

    def __init__(self, total: int, quiet: bool, label: str) -> None:
        self.total, self.label = total, label
        self.on = not quiet and sys.stderr.isatty() and total > 1
        self.done = 0
        self.counts: dict[str, int] = {}
        self.began = time.monotonic()
        self._last_draw = 0.0

    def step(self, outcome: Outcome) -> None:
        self.done += 1
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        now = time.monotonic()
        if self.on and (now - self._last_draw > 0.1 or self.done == self.total):
            self._last_draw = now
            click.echo("\r\x1b[2K" + self.line(outcome.record_id), err=True, nl=False)

    def line(self, current: int | None = None) -> str:
        c = self.counts
        elapsed = max(time.monotonic() - self.began, 1e-6)
        failed = sum(c.get(k, 0) for k in ("failed", "blocked", "not_found", "gone"))
        text = (f"{self.label} {self.done}/{self.total}: new {c.get('new', 0)}, changed {c.get('changed', 0)}, "
                f"unchanged {c.get('unchanged', 0)}, failed {failed}; {self.done / elapsed:.1f}/s")
        return text + (f"; latest {current}" if current is not None else "")

    def close(self) -> None:
        if self.on and self.done:
            click.echo("", err=True)  # keep the last status line, end it


@contextmanager
def _ctrl_c_stops(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the run to stop after the IDs in flight (their results are kept);
    a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        click.echo("\nstopping after the IDs in flight (Ctrl-C again to stop at once)", err=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _report(summary: HarvestSummary, quiet: bool, *, allow_missing: bool = True) -> int:
    """Print the outcome of a run; returns its exit code."""
    for name, why in summary.skipped_files:
        click.echo(f"skipped {name}: {why}", err=True)
    for outcome in summary.outcomes:
        if outcome.status == "not_attempted" and (summary.interrupted or summary.unreachable):
            continue  # one line below says why, not one per ID
        if outcome.status in _FAILED:
            click.echo(f"{outcome.record_id}: {outcome.status}: {outcome.detail}", err=True)
        elif outcome.problems and not quiet:
            click.echo(f"{outcome.record_id}: {outcome.status}, problems: {'; '.join(outcome.problems)}", err=True)
    click.echo(summary.line())
    if summary.resumed:
        click.echo(f"resumed an interrupted run: {summary.resumed} ID(s) done then were not fetched again "
                   "(--fresh starts over)", err=True)
    if getattr(summary, "skipped", 0):
        click.echo(f"{summary.skipped} catalog record(s) have no recorded page and were left as they are", err=True)
    # Fields the parser found only by a fallback of the selector table: a markup change shows here first.
    for line in summary.fallback_lines():
        click.echo(f"fallback: {line}", err=quiet)
    for alarm in summary.alarms:
        click.echo(f"ALARM: {alarm}; the run stopped", err=True)
    if summary.fatal:
        # One line; every record stored has its raw response, nothing is half-written, and
        # the next run (with room on the disk) goes on from here.
        click.echo(f"error: {summary.fatal}; the run stopped", err=True)
    elif summary.warc_file:
        click.echo(f"raw responses kept in {summary.warc_file}", err=quiet)
    if summary.asked_to_wait is not None:
        click.echo(f"the archive asked us to wait {summary.asked_to_wait:.0f} s (Retry-After, longer than "
                   "http.backoff_max); the run stopped asking. Run again after that.", err=True)
    if summary.blocked:
        click.echo("the archive answered with a bot-protection challenge; the run stopped. "
                   "Try again later, slower (http.rate_limit), and do not work around it.", err=True)
    if summary.unreachable:
        click.echo(f"error: archive unreachable: {summary.unreachable}; the run stopped. Check the network "
                   "and archive.base_url, then run it again.", err=True)
    if summary.interrupted:
        left = summary.counts["not_attempted"]
        click.echo(f"interrupted: {left} ID(s) not attempted; what was done is kept in the catalog", err=True)
        return EXIT_INTERRUPTED
    code = summary.exit_code
    missing = [o.record_id for o in summary.outcomes if o.status in _MISSING]
    if code == EXIT_OK and missing and not allow_missing:
        click.echo(f"not in the archive: {', '.join(map(str, missing))} (--allow-missing accepts that)", err=True)
        code = EXIT_SOME_FAILED
    return code


def _run(ctx: click.Context, fn: Callable[..., HarvestSummary], quiet: bool, total: int, *, label: str = "harvesting",
         allow_missing: bool = True, **kwargs: Any) -> None:
    progress = _Progress(total, quiet, label)
    cancel = threading.Event()
    with _ctrl_c_stops(cancel):
        try:
            summary = fn(progress=progress.step, cancel=cancel, **kwargs)
        finally:
            progress.close()
    ctx.exit(_report(summary, quiet, allow_missing=allow_missing))


def _require_live(ctx: click.Context, settings: Any) -> None:
    """Refuse a live run that cannot start (no contact address) before it writes anything."""
    from catalog.errors import ConfigError
    from harvester.config import require_live

    try:
        require_live(settings)
    except ConfigError as exc:
        click.echo(f"error: config: {exc}", err=True)
        ctx.exit(EXIT_FATAL)


def _slug_lookup(store: CatalogStore) -> Callable[[str], int | None]:
    """Slug -> Record ID from the catalog, read once and only if a slug is given."""
    table: dict[str, int] = {}

    def lookup(slug: str) -> int | None:
        if not table:
            import json

            for raw in store.iter_raw(brief=True):
                found = json.loads(raw.json).get("slug")
                if found:
                    table[found] = raw.record_id
            table.setdefault("", 0)  # read once, even for an empty catalog
        return table.get(slug)

    return lookup


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--ids-file", type=click.Path(dir_okay=False),
              help="File with one Record ID a line (document URLs and catalog slugs too; # comments).")
@click.option("--replay", type=click.Path(exists=True),
              help="Serve responses from recorded WARC (a file or folder) instead of the network. "
                   "With no IDs, harvests every document in the recording.")
@click.option("--allow-missing", is_flag=True,
              help="A requested ID that the archive does not have (404/410) is not a failure (exit 0).")
@click.option("--fresh", is_flag=True,
              help="Start over: do not resume an interrupted run of the same IDs (fetch every ID again).")
@politeness_options
@quiet_option
@click.pass_context
def harvest(ctx: click.Context, ids: tuple[str, ...], ids_file: str | None, replay: str | None, allow_missing: bool,
            fresh: bool, contact: str | None, rate_limit: float | None, concurrency: int | None, quiet: bool) -> None:
    """Harvest documents by Record ID into the catalog, keeping the raw pages as WARC.

    The IDs go into the catalog's work queue and this process works them: run the same command
    again after an interruption and it resumes, without fetching the IDs already done.
    """
    from harvester import idlist, work

    settings = ctx.obj.settings(archive={"contact": contact},
                                http={"rate_limit": rate_limit, "concurrency": concurrency})
    with open_store(settings.storage.database, render_options=settings.export.format_options()) as store:
        try:
            entries = idlist.entries_from_args(ids)
            if ids_file is not None:
                listed = idlist.entries_from_file(ids_file)
                if not listed and not entries:
                    click.echo(f"nothing to do: {ids_file} lists no Record IDs", err=True)
                    ctx.exit(EXIT_OK)
                entries += listed
            wanted = idlist.resolve(entries, _slug_lookup(store))
        except idlist.IdListError as exc:
            raise click.BadParameter(str(exc), param_hint="IDS" if ids_file is None else "IDS / --ids-file") from None
        if replay is None:
            if not wanted:
                raise click.UsageError("give Record IDs, --ids-file, or --replay with a recording")
            _require_live(ctx, settings)
        try:
            if not wanted:  # every document of the recording: none was asked for, so none is "missing"
                wanted = _pipeline().ids_in_archive(replay)
                allow_missing = True
            _run(ctx, work.harvest, quiet, len(wanted), allow_missing=allow_missing, ids=wanted,
                 settings=settings, store=store, replay=replay, fresh=fresh)
        except HarvesterError as exc:  # e.g. a recording that is not WARC: one line, no traceback
            raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--replay", "--from", "source", type=click.Path(exists=True),
              help="WARC file or folder to rebuild from (default: storage.warc_dir and the recordings "
                   "the records were replayed from). --from is the old name.")
@quiet_option
@click.pass_context
def reparse(ctx: click.Context, source: str | None, quiet: bool) -> None:
    """Rebuild records from the stored WARC files, without the network (after a parser fix).

    A record whose page is in no recording is left as it is; a failed reparse writes nothing
    into the records' histories.
    """
    settings = ctx.obj.settings()
    with open_store(settings.storage.database, render_options=settings.export.format_options()) as store:
        try:
            _run(ctx, _pipeline().reparse, quiet, store.count(include_deleted=True), label="reparsing",
                 settings=settings, store=store, source=source)
        except (FileNotFoundError, HarvesterError) as exc:
            raise click.ClickException(str(exc)) from exc


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="WARC file to write (.warc.gz).")
@click.option("--append", is_flag=True, help="Add to an existing recording instead of replacing it.")
@politeness_options
@click.pass_context
def record(ctx: click.Context, ids: tuple[str, ...], out: str, append: bool, contact: str | None,
           rate_limit: float | None, concurrency: int | None) -> None:
    """Record live responses (with redirects) as a WARC fixture; the catalog is not touched.

    OUT is replaced when the recording is done (a failed one leaves it as it was), unless
    --append is given.
    """
    from harvester import idlist

    settings = ctx.obj.settings(archive={"contact": contact},
                                http={"rate_limit": rate_limit, "concurrency": concurrency})
    try:
        wanted = idlist.resolve(idlist.entries_from_args(ids))
    except idlist.IdListError as exc:
        raise click.BadParameter(str(exc), param_hint="IDS") from exc
    _require_live(ctx, settings)
    try:
        summary = _pipeline().record(wanted, settings=settings, out=out, append=append)
    except FileExistsError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_FATAL)
        return
    for outcome in summary.outcomes:
        click.echo(f"{outcome.record_id}: {outcome.status}: {outcome.detail}")
    if summary.warc_file:
        click.echo(f"{summary.requests} requests recorded in {out}" + ("" if append else " (replaced)"))
    else:
        click.echo(f"nothing was recorded; {out} is unchanged", err=True)
    ctx.exit(summary.exit_code)


_HISTORY = 10  # how many of a record's latest harvest events `show` prints


# The record's fields `show` prints and the JSON types they have in a stored body
# (CatalogRecord.model_dump(mode="json")): a body that does not match is read through the model.
_TEXT, _TEXTS = (str, type(None)), (list,)  # _TEXTS: a list of strings
_SHOWN: dict[str, tuple[type, ...] | type] = {
    "record_id": int, "title": str, "url": str, "summary": _TEXT, "source": _TEXT, "classification": _TEXT,
    "uploaded": _TEXT, "pdf_url": _TEXT, "authors": _TEXTS, "people_and_organizations": _TEXTS, "places": _TEXTS,
    "subjects": _TEXTS, "contributors": _TEXTS, "translators": _TEXTS, "original_archives": _TEXTS,
    "types": _TEXTS, "donors": _TEXTS, "problems": _TEXTS, "original_languages": list, "texts": list,
    "date": dict, "provenance": dict,
}


def _printable(data: Any) -> bool:
    """Whether a stored body has every field `show` prints, of the type the model gives it."""
    if not isinstance(data, dict):
        return False
    for key, kind in _SHOWN.items():
        value = data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            return False
        if kind is _TEXTS and not all(isinstance(v, str) for v in value):  # type: ignore[attr-defined]
            return False
    date, prov = data["date"], data["provenance"]
    return (all(isinstance(date.get(k), _TEXT) for k in ("display", "normalized"))
            and isinstance(date.get("precision"), str)
            and all(isinstance(x, dict) and isinstance(x.get("name"), str) and isinstance(x.get("iso639_3"), _TEXT)
                    for x in data["original_languages"])
            and all(isinstance(t, dict) and isinstance(t.get("label"), str) and isinstance(t.get("text"), str)
                    for t in data["texts"])
            and all(isinstance(prov.get(k), str) for k in ("fetched_at", "final_url", "sha256"))
            and isinstance(prov.get("http_status"), int) and isinstance(prov.get("replayed"), bool))


def _human(r: dict[str, Any], first_seen: datetime, last_changed: datetime, last_checked: datetime,
           deleted: bool) -> str:
    """A record as `show` prints it, from its stored JSON form (checked by `_printable`)."""
    lines = [r["title"], "=" * min(len(r["title"]), 78)]

    def add(label: str, value: object) -> None:
        if value in (None, "", []):
            return
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        lines.append(f"{label + ':':<22}{value}")

    d = r["date"]
    add("Record ID", r["record_id"])
    add("Status", "DELETED (tombstone)" if deleted else None)
    date = f"{d['normalized']} ({d['precision']}), shown as {d['display']!r}" if d["normalized"] else d["display"]
    add("Date", date or "none shown")
    add("URL", r["url"])
    add("Authors", r["authors"])
    add("People & orgs", r["people_and_organizations"])
    add("Places", r["places"])
    add("Subjects", r["subjects"])
    add("Contributors", r["contributors"])
    add("Type", r["types"])
    add("Original language", [f"{lang['name']} ({lang['iso639_3']})" if lang["iso639_3"] else lang["name"]
                              for lang in r["original_languages"]])
    add("Original archive", r["original_archives"])
    add("Source", r["source"])
    add("Translators", r["translators"])
    add("Classification", r["classification"])
    add("Donors", r["donors"])
    add("Uploaded", r["uploaded"])
    add("Texts", [f"{t['label']} ({len(t['text'])} chars)" for t in r["texts"]])
    add("Scan", r["pdf_url"])
    if r["summary"]:
        lines += ["", r["summary"]]
    if r["problems"]:
        lines += ["", "Problems:"] + [f"  - {p}" for p in r["problems"]]
    p = r["provenance"]
    fetched = datetime.fromisoformat(p["fetched_at"]).isoformat()
    lines += ["", f"Fetched {fetched} from {p['final_url']} (HTTP {p['http_status']}"
                  f"{', replayed' if p['replayed'] else ''}); sha256 {p['sha256'][:16]}…",
              f"Catalog: first seen {first_seen:%Y-%m-%d %H:%M:%S}Z, last changed "
              f"{last_changed:%Y-%m-%d %H:%M:%S}Z, last checked {last_checked:%Y-%m-%d %H:%M:%S}Z"]
    return "\n".join(lines)


def _show_text(raw: RawRecord) -> str:
    """`show`'s text from the stored row: the JSON as stored when it has the shape the record
    model writes (no pydantic: start-up), else through the model, which names what is wrong."""
    import json

    from catalog.store import from_db_time

    try:
        data = json.loads(raw.json)
    except ValueError:
        data = None
    if not _printable(data):
        stored = raw.stored()  # StoreError naming the record if the model refuses it too
        data = stored.record.model_dump(mode="json")
    try:
        return _human(data, from_db_time(raw.first_seen), from_db_time(raw.last_changed),
                      from_db_time(raw.last_checked), raw.deleted)
    except ValueError:  # a timestamp that is not one
        stored = raw.stored()
        return _human(stored.record.model_dump(mode="json"), stored.first_seen, stored.last_changed,
                      stored.last_checked, stored.deleted)


@click.command()
@click.argument("record_id", type=int)
@click.option("--json", "as_json", is_flag=False, flag_value="-", default=None,
              help="The full catalog record as JSON (to a file, or stdout with --json alone).")
@click.pass_context
def show(ctx: click.Context, record_id: int, as_json: str | None) -> None:
    """Show one record of the catalog, with its harvest history (failures included)."""
    database = ctx.obj.database()
    with open_store(database, mode="read") as store:
        raw = next(store.iter_raw(ids=[record_id]), None)
        events = store.events(record_id)
    history = [f"  {row.at[:19]}Z  {row.outcome}" + (f": {row.detail}" if row.detail else "")
               for row in events[-_HISTORY:]]
    if raw is None:
        # An ID that was tried and never stored still has its reasons on record.
        detail = "\nHistory:\n" + "\n".join(history) if history else ""
        raise click.ClickException(f"record {record_id} is not in the catalog {database}{detail}")
    if as_json == "-":
        click.echo(raw.stored().record.model_dump_json(indent=2))
        return
    if as_json:
        from catalog.export.output import open_output

        with open_output(as_json) as fh:
            fh.write(raw.stored().record.model_dump_json(indent=2) + "\n")
        return
    click.echo(_show_text(raw))
    if history:
        click.echo("\nHistory (latest last):\n" + "\n".join(history))


def _list_row(r: CatalogRecord, deleted: bool) -> dict[str, Any]:
    return {"record_id": r.record_id, "date": r.date.normalized, "title": r.title, "types": r.types,
            "languages": [lang.iso639_3 or lang.name for lang in r.original_languages], "deleted": deleted,
            "problems": r.problems}


def _wanted(r: CatalogRecord, problems: bool, doc_type: str | None, language: str | None) -> bool:
    if problems and not r.problems:
        return False
    if doc_type and doc_type.casefold() not in {t.casefold() for t in r.types}:
        return False
    if language:
        names = {v.casefold() for lang in r.original_languages
                 for v in (lang.name, lang.iso639_3, lang.iso639_2b, lang.iso639_1) if v}
        if language.casefold() not in names:
            return False
    return True


@click.command(name="list")
@click.option("--problems", is_flag=True, help="Only records with problems, and list them.")
@click.option("--type", "doc_type", help="Only records of this type (as shown: Cable, Memorandum, ...).")
@click.option("--language", help="Only records in this original language (name or ISO 639 code: Russian, rus, ru).")
@click.option("--since", "--changed-since", "changed_since", help="Only records changed since this date (ISO 8601).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="text for reading; json (an array) or csv for other tools.")
@click.pass_context
def list_records(ctx: click.Context, problems: bool, doc_type: str | None, language: str | None,
                 changed_since: str | None, fmt: str) -> None:
    """List the catalog: Record ID, date, title.

    A record that cannot be read (a damaged row) is listed as unreadable and the rest still
    are; the command then exits 1.
    """
    import csv
    import json

    from harvester.commands.export import parse_since

    since = parse_since(changed_since) if changed_since else None
    database = ctx.obj.database()
    shown, unreadable = 0, list[int]()
    columns = ["record_id", "date", "title", "types", "languages", "deleted", "problems"]
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    if fmt == "json":
        click.echo("[", nl=False)
    with open_store(database, mode="read") as store:
        conflicts = store.events_with_outcome("conflict") if problems else []
        if fmt == "text" and not (doc_type or language or since):
            # Only the printed fields, read from the stored JSON without building the record model
            # (store.list_rows), and printed a batch of lines at a time.
            lines: list[str] = []
            for row in store.list_rows():
                fields = row.fields
                if fields is None or not isinstance(fields[0], str) or not isinstance(fields[2], list):
                    unreadable.append(row.record_id)
                    click.echo(f"{row.record_id:>8}  unreadable record: the stored record is damaged", err=True)
                    continue
                title, date, record_problems = fields
                if problems and not record_problems:
                    continue
                flag = " [deleted]" if row.deleted else ""
                title = title if len(title) <= 80 else title[:79] + "…"
                lines.append(f"{row.record_id:>8}  {(date or '—'):<10}  {title}{flag}")
                if problems:
                    lines.extend(f"{'':>10}- {p}" for p in record_problems)
                shown += 1
                if len(lines) >= 2000:
                    click.echo("\n".join(lines))
                    lines.clear()
            if lines:
                click.echo("\n".join(lines))
            rows_done = True
        else:
            # Filters and the json/csv forms need the whole record (types, languages): the model.
            from pydantic import ValidationError

            from catalog.model import CatalogRecord
            rows_done = False
        for raw in () if rows_done else store.iter_raw(changed_since=since, brief=True):
            try:
                r = CatalogRecord.model_validate_json(raw.json)
            except (ValidationError, ValueError) as exc:
                first = str(exc).splitlines()[1:2] or [str(exc)]
                unreadable.append(raw.record_id)
                click.echo(f"{raw.record_id:>8}  unreadable record: {first[0].strip()}", err=True)
                continue
            if not _wanted(r, problems, doc_type, language):
                continue
            deleted = raw.deleted_at is not None
            if fmt == "json":
                click.echo(("," if shown else "") + "\n" + json.dumps(_list_row(r, deleted), ensure_ascii=False),
                           nl=False)
            elif writer is not None:
                row_out = _list_row(r, deleted)
                writer.writerow({**row_out, "types": "; ".join(row_out["types"]),
                                 "languages": "; ".join(row_out["languages"]),
                                 "problems": "; ".join(row_out["problems"]), "date": row_out["date"] or ""})
            else:
                flag = " [deleted]" if deleted else ""
                title = r.title if len(r.title) <= 80 else r.title[:79] + "…"
                click.echo(f"{r.record_id:>8}  {(r.date.normalized or '—'):<10}  {title}{flag}")
                if problems:
                    for p in r.problems:
                        click.echo(f"{'':>10}- {p}")
            shown += 1
    for event in conflicts if fmt == "text" else []:  # pages that claimed a stored record's ID and were not stored
        click.echo(f"{event.record_id:>8}  {event.at[:10]:<10}  conflict: {event.detail}")
    if fmt == "json":
        click.echo("\n]")
    click.echo(f"{shown} records" + (f", {len(conflicts)} Record ID conflicts" if conflicts else "")
               + (f"; {len(unreadable)} unreadable: {', '.join(map(str, unreadable))}" if unreadable else ""),
               err=True)
    if unreadable:
        ctx.exit(EXIT_SOME_FAILED)


COMMANDS = [harvest, show, list_records, reparse, record]

