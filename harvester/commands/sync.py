"""sync, report, status: the scheduled sync and what it tells the cataloguer."""

from __future__ import annotations

import json
from typing import Any

import click

from catalog.runs import Runs, SyncLocked
from catalog.store import open_store
from harvester.commands import EXIT_FATAL


@click.command()
@click.option("--full", is_flag=True, help="Walk every search listing page (default: stop after "
                                           "sync.stop_after_known_pages pages with nothing new).")
@click.option("--recheck-all", is_flag=True, help="Revalidate every record this run, not just those due.")
@click.option("--max-requests", type=int, help="Request budget of this run (overrides sync.max_requests).")
@click.option("--max-minutes", type=float, help="Time budget of this run (overrides sync.max_minutes).")
@click.option("--contact", help="Contact e-mail or URL for the User-Agent (overrides archive.contact).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the run report as JSON here.")
@click.option("-v", "--verbose", is_flag=True, help="Print every item as it is done.")
@click.pass_context
def sync(ctx: click.Context, full: bool, recheck_all: bool, max_requests: int | None, max_minutes: float | None,
         contact: str | None, json_out: str | None, verbose: bool) -> None:
    """Bring the catalog in step with the site: discover, revalidate, tombstone; resumable.

    Meant for cron or a systemd timer. A run killed at any point is resumed by the next
    `harvester sync`. Exit codes: 0 ok, 1 some items failed or a quality alarm, 2 blocked,
    locked or fatal.
    """
    from harvester.sync import run_sync  # imported here: keeps the CLI's start-up light

    settings = ctx.obj.settings(archive={"contact": contact},
                                sync={"max_requests": max_requests, "max_minutes": max_minutes})
    progress = (lambda line: click.echo(line, err=True)) if verbose else None
    with open_store(settings.storage.database) as store:
        try:
            result = run_sync(settings=settings, store=store, full=full, recheck_all=recheck_all, progress=progress)
        except SyncLocked as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_FATAL)
            return
        if result.resumed:
            click.echo(f"resumed the interrupted run {result.run_id}", err=True)
        if result.status == "interrupted":
            click.echo(f"error: {result.report.get('stop_reason')}", err=True)
            ctx.exit(EXIT_FATAL)
            return
        click.echo(_human(result.report))
        if json_out:
            with open(json_out, "w", encoding="utf-8") as fh:
                json.dump(result.report, fh, indent=2, sort_keys=True)
        ctx.exit(result.exit_code)


@click.command()
@click.argument("run_id", required=False)
@click.option("--json", "json_out", is_flag=False, flag_value="-", default=None,
              help="Write the report as JSON (to a file, or stdout with --json alone).")
@click.option("--list", "list_runs", is_flag=True, help="List recent runs instead.")
@click.pass_context
def report(ctx: click.Context, run_id: str | None, json_out: str | None, list_runs: bool) -> None:
    """What a sync run did (the latest, or RUN): counts, failures, field quality, alarms."""
    from harvester.sync import build_report

    settings = ctx.obj.settings()
    with open_store(settings.storage.database, mode="read") as store:
        runs = Runs(store)
        if list_runs:
            for info in runs.list():
                click.echo(f"{info.run_id}  {info.status:<9} started {info.started_at:%Y-%m-%d %H:%M:%S}Z  "
                           f"{info.requests} requests, {info.attempts} attempt(s)")
            return
        info = runs.get(run_id)
        if info is None:
            raise click.ClickException(f"no sync run {run_id!r} in {settings.storage.database}" if run_id
                                       else "no sync has run on this catalog yet")
        # A stored report is what the run saw; rebuild one for a running or killed run.
        data = info.report if info.report else build_report(runs, info.run_id, settings)
    if json_out == "-":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    elif json_out:
        with open(json_out, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        click.echo(f"report written to {json_out}", err=True)
    else:
        click.echo(_human(data))


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Catalog size, deleted count, last run, records due for revalidation, any running sync."""
    from harvester.sync import build_report, due_count

    settings = ctx.obj.settings()
    with open_store(settings.storage.database, mode="read") as store:
        runs = Runs(store)
        active, total = store.count(), store.count(include_deleted=True)
        click.echo(f"catalog:   {settings.storage.database}")
        click.echo(f"records:   {active} (plus {total - active} deleted, kept as tombstones)")
        click.echo(f"due:       {due_count(store, settings)} records due for revalidation "
                   f"(every {settings.sync.revalidate_days} days)")
        last = runs.get()
        if last is None:
            click.echo("last run:  none")
        else:
            data = last.report if last.report else build_report(runs, last.run_id, settings)
            click.echo(f"last run:  {last.run_id} ({last.status}{', will resume' if last.status == 'running' else ''})"
                       f", started {last.started_at:%Y-%m-%d %H:%M:%S}Z")
            click.echo(f"           {_counts_line(data)}")
        holder = runs.lock_holder()
        if holder is not None:
            click.echo(f"lock:      held by pid {holder.owner_pid} on {holder.owner_host} "
                       f"(run {holder.run_id}), expires {holder.expires_at}")


def _counts_line(data: dict[str, Any]) -> str:
    c = data.get("counts", {})
    return (f"new {c.get('new', 0)}, changed {c.get('changed', 0)}, unchanged {c.get('unchanged_total', 0)} "
            f"(304: {c.get('not_modified', 0)}, same hash: {c.get('unchanged', 0)}), restored {c.get('restored', 0)}, "
            f"not found {c.get('not_found', 0)}, tombstoned {c.get('tombstoned', 0)}, failed {c.get('failed', 0)}, "
            f"blocked {c.get('blocked', 0)}, disallowed {c.get('disallowed', 0)}; {data.get('requests', 0)} requests")


def _human(data: dict[str, Any]) -> str:
    lines = [f"run {data['run_id']}: {data['status']}" + (f" ({data['stop_reason']})" if data.get("stop_reason") else ""),
             f"  started {data['started_at']}, " + (f"took {data['seconds']:.1f} s" if data.get("finished_at")
                                                     else f"running for {data['seconds']:.1f} s")
             + f", {data['attempts']} attempt(s), {data['listing_pages']} listing page(s)",
             "  " + _counts_line(data),
             f"  catalog now: {data['catalog']['records']} records, {data['catalog']['deleted']} deleted"]
    if data.get("failures"):
        lines.append("  failures:")
        for f in data["failures"]:
            what = f"record {f['record_id']}" if f.get("record_id") else f"{f['kind']} {f['key']}"
            lines.append(f"    {what}: {f['outcome']}: {f['reason']}")
    quality = data.get("quality", {})
    if quality.get("parsed"):
        lines.append(f"  quality: {quality['parsed']} page(s) parsed; field: this run / catalog at start")
        for name, q in quality.get("fields", {}).items():
            cat = f"{q['catalog_share']:.0%}" if q.get("catalog_share") is not None else "-"
            lines.append(f"    {name:<26}{q['run']:>6} ({q['run_share']:.0%})   {cat}")
    for alarm in quality.get("alarms", []):
        lines.append(f"  ALARM: {alarm}")
    return "\n".join(lines)


COMMANDS = [sync, report, status]
