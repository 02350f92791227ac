"""enqueue, work: the catalog's work queue, drained by any number of worker processes (harvester/work.py)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from catalog.errors import HarvesterError
from harvester.commands import EXIT_FATAL, EXIT_OK, open_store
from harvester.commands.harvest import _ctrl_c_stops, _Progress, _report, _require_live, _slug_lookup
from harvester.commands.options import politeness_options, quiet_option


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--ids-file", type=click.Path(dir_okay=False),
              help="File with one Record ID a line (document URLs and catalog slugs too; # comments).")
@click.option("--due", is_flag=True, help="Queue the records due for revalidation (as `harvester status` counts them).")
@click.pass_context
def enqueue(ctx: click.Context, ids: tuple[str, ...], ids_file: str | None, due: bool) -> None:
    """Add items to the catalog's work queue, for `harvester work` processes to harvest.

    An item already waiting is not added twice; one done or failed earlier is queued again.
    """
    from harvester import idlist, work

    settings = ctx.obj.settings()
    with open_store(settings.storage.database) as store:
        try:
            entries = idlist.entries_from_args(ids)
            if ids_file is not None:
                entries += idlist.entries_from_file(ids_file)
            wanted = idlist.resolve(entries, _slug_lookup(store))
        except idlist.IdListError as exc:
            raise click.BadParameter(str(exc), param_hint="IDS" if ids_file is None else "IDS / --ids-file") from None
        if not wanted and not due:
            if ids_file is not None:
                click.echo(f"nothing to do: {ids_file} lists no Record IDs", err=True)
                ctx.exit(EXIT_OK)
            raise click.UsageError("give Record IDs, --ids-file, or --due")
        added = store.work_add(work.QUEUE_BATCH, work.HARVEST, [str(i) for i in wanted]) if wanted else 0
        due_ids = work.due_ids(store, settings) if due else []
        if due_ids:
            added += store.work_add(work.QUEUE_BATCH, work.REVALIDATE, [str(i) for i in due_ids])
        counts = store.work_counts(work.QUEUE_BATCH)
    given = len(wanted) + len(due_ids)
    click.echo(f"queued {added} item(s)" + (f" ({given - added} already waiting)" if given - added else "")
               + f"; the queue now holds {counts['pending']} pending, {counts['leased']} leased")


@contextmanager
def _sigterm_stops(cancel: threading.Event, stopped: list[bool]) -> Iterator[None]:
    """SIGTERM (systemd stop, kill) winds the worker down like a Ctrl-C: the items in flight are
    finished, the rest given back to the queue, and the worker exits 0."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stopped[0] = True
        cancel.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command(name="work")
@click.option("--until-empty", is_flag=True, help="Stop when the queue has no item left to claim "
                                                  "(default: wait for more until stopped).")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), help="Stop claiming after this long.")
@click.option("--max-requests", type=click.IntRange(min=1), help="Stop claiming after this many requests.")
@click.option("--replay", type=click.Path(exists=True),
              help="Serve responses from recorded WARC (a file or folder) instead of the network.")
@politeness_options
@quiet_option
@click.pass_context
def work_command(ctx: click.Context, until_empty: bool, max_minutes: float | None, max_requests: int | None,
                 replay: str | None, contact: str | None, rate_limit: float | None, concurrency: int | None,
                 quiet: bool) -> None:
    """Work the catalog's queue: claim items with a lease, harvest them, until stopped.

    Run as many as you like, on one machine or several, against one catalog. A worker that
    dies leaves its items to the others once its leases expire (queue.lease_seconds). Exit 2
    when the catalog cannot be reached; SIGTERM stops it cleanly (exit 0).
    """
    from harvester import work

    settings = ctx.obj.settings(archive={"contact": contact},
                                http={"rate_limit": rate_limit, "concurrency": concurrency})
    if replay is None:
        _require_live(ctx, settings)
    budget = work.Budget(until_empty=until_empty, max_minutes=max_minutes, max_requests=max_requests)
    with open_store(settings.storage.database, render_options=settings.export.format_options()) as store:
        counts = store.work_counts(work.QUEUE_BATCH)
        progress = _Progress(counts["pending"] + counts["expired"], quiet, "working")
        cancel, terminated = threading.Event(), [False]
        with _ctrl_c_stops(cancel), _sigterm_stops(cancel, terminated):
            try:
                summary = work.work(settings=settings, store=store, budget=budget, replay=replay,
                                    progress=progress.step, cancel=cancel,
                                    sync_progress=None if quiet else lambda line: click.echo(line, err=True))
            except HarvesterError as exc:  # e.g. a recording that is not WARC: one line, no traceback
                raise click.ClickException(str(exc)) from exc
            finally:
                progress.close()
        if terminated[0]:
            summary.interrupted = False
            summary.outcomes = [o for o in summary.outcomes if o.status != "not_attempted"]
        code = _report(summary, quiet)
        for run_id, items in summary.synced:
            click.echo(f"helped sync run {run_id}: {items} item(s)", err=quiet)
        if summary.fatal:
            ctx.exit(code)
        try:
            left = store.work_counts(work.QUEUE_BATCH)
            done = sum(1 for o in summary.outcomes if o.status != "not_attempted")
            click.echo(f"worker {summary.worker_id}: {done} item(s); queue: {left['pending']} pending, "
                       f"{left['leased']} leased, {left['done']} done, {left['failed']} failed"
                       + ("; budget reached" if summary.budget_stop else ""),
                       err=quiet)
        except HarvesterError:
            code = EXIT_FATAL  # the catalog went away at the end: already said by the report
    ctx.exit(code)


COMMANDS = [enqueue, work_command]
