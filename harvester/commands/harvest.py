"""harvest, show, list, reparse, record: the core pipeline's commands."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from catalog.model import StoredRecord
from catalog.store import open_store

if TYPE_CHECKING:
    from harvester.pipeline import HarvestSummary, Outcome


def _pipeline():  # type: ignore[no-untyped-def]
    # Imported when a command runs, not when the CLI starts: the pipeline brings in bs4 and
    # httpx, which `export`, `cite`, `serve` and `--help` never need (~0.35 s of start-up).
    from harvester import pipeline

    return pipeline

_FAILED = {"failed", "blocked", "not_found", "gone", "not_attempted"}


def _progress_printer(total: int, quiet: bool):  # type: ignore[no-untyped-def]
    """A progress bar on a terminal; nothing in cron (stderr not a TTY) or with --quiet."""
    if quiet or not sys.stderr.isatty() or total < 2:
        return None, None
    bar = click.progressbar(length=total, label="harvesting", file=sys.stderr)
    bar.__enter__()

    def step(_: Outcome) -> None:
        bar.update(1)

    return step, bar


def _report(summary: HarvestSummary, quiet: bool) -> None:
    for outcome in summary.outcomes:
        if outcome.status in _FAILED:
            click.echo(f"{outcome.record_id}: {outcome.status}: {outcome.detail}", err=True)
        elif outcome.problems and not quiet:
            click.echo(f"{outcome.record_id}: {outcome.status}, problems: {'; '.join(outcome.problems)}", err=True)
    click.echo(summary.line())
    if summary.warc_file:
        click.echo(f"raw responses kept in {summary.warc_file}", err=quiet)
    if summary.blocked:
        click.echo("the archive answered with a bot-protection challenge; the run stopped. "
                   "Try again later, slower (http.rate_limit), and do not work around it.", err=True)


def _run(ctx: click.Context, fn, quiet: bool, total: int, **kwargs) -> None:  # type: ignore[no-untyped-def]
    step, bar = _progress_printer(total, quiet)
    try:
        summary = fn(progress=step, **kwargs)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    _report(summary, quiet)
    ctx.exit(summary.exit_code)


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--ids-file", type=click.File("r", encoding="utf-8"), help="File with one Record ID a line.")
@click.option("--replay", type=click.Path(exists=True),
              help="Serve responses from recorded WARC (a file or folder) instead of the network. "
                   "With no IDs, harvests every document in the recording.")
@click.option("--contact", help="Contact e-mail or URL for the User-Agent (overrides archive.contact).")
@click.option("--rate-limit", type=float, help="Requests per second (overrides http.rate_limit).")
@click.option("--concurrency", type=int, help="Parallel requests (overrides http.concurrency).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary and failures.")
@click.pass_context
def harvest(ctx: click.Context, ids: tuple[str, ...], ids_file, replay: str | None, contact: str | None,
            rate_limit: float | None, concurrency: int | None, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    """Harvest documents by Record ID into the catalog, keeping the raw pages as WARC."""
    settings = ctx.obj.settings(archive={"contact": contact}, http={"rate_limit": rate_limit, "concurrency": concurrency})
    try:
        wanted = _pipeline().parse_ids(list(ids) + (ids_file.read().splitlines() if ids_file else []))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="IDS") from exc
    if not wanted:
        if replay is None:
            raise click.UsageError("give Record IDs, --ids-file, or --replay with a recording")
        wanted = _pipeline().ids_in_archive(replay)
    with open_store(settings.storage.database) as store:
        _run(ctx, _pipeline().harvest, quiet, len(wanted), ids=wanted, settings=settings, store=store, replay=replay)


@click.command()
@click.option("--from", "source", type=click.Path(exists=True),
              help="WARC file or folder to rebuild from (default: storage.warc_dir).")
@click.option("-q", "--quiet", is_flag=True)
@click.pass_context
def reparse(ctx: click.Context, source: str | None, quiet: bool) -> None:
    """Rebuild every record from the stored WARC files, without the network (after a parser fix)."""
    settings = ctx.obj.settings()
    with open_store(settings.storage.database) as store:
        try:
            _run(ctx, _pipeline().reparse, quiet, store.count(include_deleted=True), settings=settings, store=store,
                 source=source)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from exc


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="WARC file to write (.warc.gz).")
@click.option("--contact", help="Contact e-mail or URL for the User-Agent.")
@click.pass_context
def record(ctx: click.Context, ids: tuple[str, ...], out: str, contact: str | None) -> None:
    """Record live responses (with redirects) as a WARC fixture; the catalog is not touched."""
    settings = ctx.obj.settings(archive={"contact": contact})
    try:
        wanted = _pipeline().parse_ids(ids)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="IDS") from exc
    summary = _pipeline().record(wanted, settings=settings, out=out)
    for outcome in summary.outcomes:
        click.echo(f"{outcome.record_id}: {outcome.status}: {outcome.detail}")
    click.echo(f"{summary.requests} requests recorded in {out}")
    ctx.exit(summary.exit_code)


_HISTORY = 10  # how many of a record's latest harvest events `show` prints


def _human(stored: StoredRecord) -> str:
    r = stored.record
    lines = [r.title, "=" * min(len(r.title), 78)]

    def add(label: str, value: object) -> None:
        if value in (None, "", []):
            return
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        lines.append(f"{label + ':':<22}{value}")

    add("Record ID", r.record_id)
    add("Status", "DELETED (tombstone)" if stored.deleted else None)
    date = f"{r.date.normalized} ({r.date.precision}), shown as {r.date.display!r}" if r.date.normalized else r.date.display
    add("Date", date or "none shown")
    add("URL", r.url)
    add("Authors", r.authors)
    add("People & orgs", r.people_and_organizations)
    add("Places", r.places)
    add("Subjects", r.subjects)
    add("Contributors", r.contributors)
    add("Type", r.types)
    add("Original language", [f"{lang.name} ({lang.iso639_3})" if lang.iso639_3 else lang.name
                              for lang in r.original_languages])
    add("Original archive", r.original_archives)
    add("Source", r.source)
    add("Translators", r.translators)
    add("Classification", r.classification)
    add("Donors", r.donors)
    add("Uploaded", r.uploaded)
    add("Texts", [f"{t.label} ({len(t.text)} chars)" for t in r.texts])
    add("Scan", r.pdf_url)
    if r.summary:
        lines += ["", r.summary]
    if r.problems:
        lines += ["", "Problems:"] + [f"  - {p}" for p in r.problems]
    p = r.provenance
    lines += ["", f"Fetched {p.fetched_at.isoformat()} from {p.final_url} (HTTP {p.http_status}"
                  f"{', replayed' if p.replayed else ''}); sha256 {p.sha256[:16]}…",
              f"Catalog: first seen {stored.first_seen:%Y-%m-%d %H:%M:%S}Z, last changed "
              f"{stored.last_changed:%Y-%m-%d %H:%M:%S}Z, last checked {stored.last_checked:%Y-%m-%d %H:%M:%S}Z"]
    return "\n".join(lines)


@click.command()
@click.argument("record_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The full catalog record as JSON.")
@click.pass_context
def show(ctx: click.Context, record_id: int, as_json: bool) -> None:
    """Show one record of the catalog, with its harvest history (failures included)."""
    settings = ctx.obj.settings()
    with open_store(settings.storage.database, mode="read") as store:
        stored = store.get(record_id)
        events = store.events(record_id)
    history = [f"  {row.at[:19]}Z  {row.outcome}" + (f": {row.detail}" if row.detail else "")
               for row in events[-_HISTORY:]]
    if stored is None:
        # An ID that was tried and never stored still has its reasons on record.
        detail = "\nHistory:\n" + "\n".join(history) if history else ""
        raise click.ClickException(f"record {record_id} is not in the catalog {settings.storage.database}{detail}")
    if as_json:
        click.echo(stored.record.model_dump_json(indent=2))
        return
    click.echo(_human(stored))
    if history:
        click.echo("\nHistory (latest last):\n" + "\n".join(history))


@click.command(name="list")
@click.option("--problems", is_flag=True, help="Only records with problems, and list them.")
@click.pass_context
def list_records(ctx: click.Context, problems: bool) -> None:
    """List the catalog: Record ID, date, title."""
    settings = ctx.obj.settings()
    with open_store(settings.storage.database, mode="read") as store:
        shown = 0
        for stored in store.iter_records():
            r = stored.record
            if problems and not r.problems:
                continue
            flag = " [deleted]" if stored.deleted else ""
            title = r.title if len(r.title) <= 80 else r.title[:79] + "…"
            click.echo(f"{r.record_id:>8}  {(r.date.normalized or '—'):<10}  {title}{flag}")
            if problems:
                for p in r.problems:
                    click.echo(f"{'':>10}- {p}")
            shown += 1
        click.echo(f"{shown} records", err=True)


COMMANDS = [harvest, show, list_records, reparse, record]

