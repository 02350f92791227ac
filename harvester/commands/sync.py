"""sync, report, status: the scheduled sync and what it tells the cataloguer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from harvester.commands import EXIT_FATAL, EXIT_WAIT, open_store
from harvester.commands.options import politeness_options

if TYPE_CHECKING:
    from catalog.runs import Runs


def _json_target(json_out: str | None) -> None:
    """Make the folder of a --json FILE before the run (a cron line names one that may not exist yet)."""
    if json_out and json_out != "-":
        from pathlib import Path

        folder = Path(json_out).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(f"cannot create the folder for --json {json_out}: "
                                       f"{exc.strerror or exc}") from None


def _write_json(json_out: str, data: dict[str, Any]) -> None:
    if json_out == "-":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    from catalog.export.output import open_output

    with open_output(json_out) as fh:  # whole or not at all, with the umask's mode
        json.dump(data, fh, indent=2, sort_keys=True)
    click.echo(f"report written to {json_out}", err=True)


class _SyncProgress:
    """-v: every item on its own line. On a terminal otherwise: one status line (items, rate,
    the latest item). In cron (stderr not a terminal): nothing; the report says it all."""

    def __init__(self, verbose: bool) -> None:
        import sys
        import time

        self.verbose = verbose
        self.tty = sys.stderr.isatty()
        self.clock = time.monotonic
        self.began = self.clock()
        self.items = 0
        self.last_draw = 0.0

    def __call__(self, line: str) -> None:
        self.items += 1
        if self.verbose:
            click.echo(line, err=True)
            return
        now = self.clock()
        if self.tty and now - self.last_draw > 0.1:
            self.last_draw = now
            rate = self.items / max(now - self.began, 1e-6)
            click.echo(f"\r\x1b[2Ksync: {self.items} items, {rate:.1f}/s; {line[:70]}", err=True, nl=False)

    def close(self) -> None:
        if self.tty and not self.verbose and self.items:
            click.echo("", err=True)


@click.command()
@click.option("--full", is_flag=True, help="Walk every search listing page (default: stop after "
                                           "sync.stop_after_known_pages pages with nothing new).")
@click.option("--recheck-all", is_flag=True, help="Revalidate every record this run, not just those due.")
@click.option("--max-requests", type=int, help="Request budget of this run (overrides sync.max_requests).")
@click.option("--max-minutes", type=float, help="Time budget of this run (overrides sync.max_minutes).")
@politeness_options
@click.option("--json", "json_out", is_flag=False, flag_value="-", default=None,
              help="Also write the run report as JSON: to FILE (its folder is created), or stdout with --json alone.")
@click.option("-v", "--verbose", is_flag=True, help="Print every item as it is done, and every field in the report.")
@click.pass_context
def sync(ctx: click.Context, full: bool, recheck_all: bool, max_requests: int | None, max_minutes: float | None,
         contact: str | None, rate_limit: float | None, concurrency: int | None, json_out: str | None,
         verbose: bool) -> None:
    """Bring the catalog in step with the site: discover, revalidate, tombstone; resumable.

    Meant for cron or a systemd timer. A run killed at any point is resumed by the next
    `harvester sync`. One worker at a time walks the listing (the discovery lease); the
    records to revalidate go into the work queue, where every sync and `harvester work` of
    the catalog takes them: a second sync says who discovers and works the queue. Exit
    codes: 0 ok, 1 some items failed, a Record ID conflict or a quality alarm, 2 blocked or
    fatal (a full disk), 75 the archive asked us to wait, 130 interrupted.
    """
    from catalog.errors import ConfigError
    from harvester.config import require_live
    from harvester.sync import run_sync  # imported here: keeps the CLI's start-up light

    settings = ctx.obj.settings(archive={"contact": contact},
                                http={"rate_limit": rate_limit, "concurrency": concurrency},
                                sync={"max_requests": max_requests, "max_minutes": max_minutes})
    # Everything that can refuse the run is checked before a run is created: a refused sync
    # must not leave a "running" run behind for the next one to "resume".
    try:
        require_live(settings)
    except ConfigError as exc:
        click.echo(f"error: config: {exc}", err=True)
        ctx.exit(EXIT_FATAL)
        return
    _json_target(json_out)
    progress = _SyncProgress(verbose)
    with open_store(settings.storage.database, render_options=settings.export.format_options()) as store:
        try:
            result = run_sync(settings=settings, store=store, full=full, recheck_all=recheck_all, progress=progress,
                              notice=lambda line: click.echo(line, err=True))
        finally:
            progress.close()
        if result.resumed:
            click.echo(f"resumed the interrupted run {result.run_id}", err=True)
        if result.status == "budget" and "started_at" not in result.report:
            # Its budget ran out while another sync walked the listing: nothing to report.
            click.echo(str(result.report.get("stop_reason")), err=True)
            ctx.exit(0)
            return
        if result.status == "interrupted" or "started_at" not in result.report:
            # Lock lost, or the catalog could not be written (a full disk): one line.
            click.echo(f"error: {result.report.get('stop_reason')}", err=True)
            ctx.exit(EXIT_FATAL)
            return
        if json_out != "-":
            click.echo(_human(result.report, verbose=verbose))
        if result.status == "asked_to_wait":
            click.echo(f"{result.report.get('stop_reason')}; the run stopped (exit {EXIT_WAIT}). "
                       "Run again after that.", err=True)
        if json_out:
            _write_json(json_out, result.report)
        ctx.exit(result.exit_code)


@click.command()
@click.argument("run_id", required=False)
@click.option("--json", "json_out", is_flag=False, flag_value="-", default=None,
              help="Write the report as JSON (to a file, or stdout with --json alone).")
@click.option("--list", "list_runs", is_flag=True, help="List recent runs instead.")
@click.option("--records", is_flag=True,
              help="Also list the records the run touched: new, changed, restored, deleted, not found, failed.")
@click.option("-v", "--verbose", is_flag=True, help="Also the field-by-field quality table.")
@click.pass_context
def report(ctx: click.Context, run_id: str | None, json_out: str | None, list_runs: bool, records: bool,
           verbose: bool) -> None:
    """What a sync run did (the latest, or RUN): counts, failures, field quality, alarms."""
    from catalog.runs import Runs
    from harvester.sync import build_report

    settings = ctx.obj.settings()
    with open_store(settings.storage.database, mode="read") as store:
        runs = Runs(store)
        if list_runs:
            for run in runs.recent():
                click.echo(f"{run.run_id}  {run.status:<9} started {run.started_at:%Y-%m-%d %H:%M:%S}Z  "
                           f"{run.requests} requests, {run.attempts} attempt(s)")
            return
        info = runs.get(run_id)
        if info is None:
            raise click.ClickException(f"no sync run {run_id!r} in {settings.storage.database}" if run_id
                                       else "no sync has run on this catalog yet")
        # A stored report is what the run saw; rebuild one for a running or killed run.
        data = info.report if info.report else build_report(runs, info.run_id, settings)
        touched = _touched_records(store, runs, info.run_id) if records else None
    if touched is not None:
        data = {**data, "records": touched}
    if json_out:
        _write_json(json_out, data)
    else:
        click.echo(_human(data, verbose=verbose))


# The outcomes `report --records` lists, in this order, with their headings.
_RECORD_OUTCOMES = {"new": "new", "changed": "changed", "restored": "restored", "tombstoned": "deleted (tombstoned)",
                    "not_found": "not found (kept; deleted after sync.tombstone_after misses)",
                    "failed": "failed", "blocked": "blocked"}


def _touched_records(store: Any, runs: Runs, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Record ID, title and detail of every item of the run whose outcome is worth reading."""
    found: dict[str, list[dict[str, Any]]] = {key: [] for key in _RECORD_OUTCOMES}
    for item in runs.items(run_id):
        outcome = item.outcome
        if outcome not in found or item.kind not in ("discover", "revalidate"):
            continue
        rid = item.record_id
        stored = store.get(rid) if rid is not None else None
        found[outcome].append({"record_id": rid, "key": item.key, "detail": item.detail or "",
                               "title": stored.record.title if stored is not None else ""})
    return {key: rows for key, rows in found.items() if rows}


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Catalog size, deleted count, last run, records due for revalidation, any running sync."""
    from catalog.runs import DISCOVERY, Runs
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
        holder = runs.lease_holder(DISCOVERY)
        if holder is not None:
            click.echo(f"discovery: pid {holder.owner_pid} on {holder.owner_host} walks the listing "
                       f"(run {holder.run_id}), its lease expires {holder.expires_at}")
        _queue_status(store, settings.queue.lease_seconds)
        _budget_status(store, settings)


def _queue_status(store: Any, lease_seconds: float) -> None:
    """The work queue (every batch) and its live workers: what `harvester work` processes are doing."""
    from catalog.store import from_db_time, utcnow

    c = store.work_counts()
    if not any(c.values()):
        return
    click.echo(f"queue:     {c['pending']} pending, {c['leased']} leased"
               + (f" ({c['expired']} with an expired lease: their worker died; claimed again)" if c["expired"] else "")
               + f", {c['done']} done, {c['failed']} failed")
    now = utcnow()
    for w in store.workers():
        ago = (now - from_db_time(w.heartbeat_at)).total_seconds()
        click.echo(f"worker:    {w.host} pid {w.pid}, last heartbeat {w.heartbeat_at[:19]}Z ({ago:.0f} s ago), "
                   f"{w.items_done} item(s) done" + (" - no heartbeat for longer than queue.lease_seconds: "
                                                      "presumed dead" if ago > lease_seconds else ""))


def _budget_status(store: Any, settings: Any) -> None:
    """The archive host's request budget, shared by every worker of the catalog (harvester/politeness.py),
    and the request rate they measured together: requests granted that started in the last 1 / 10 minutes."""
    from harvester.politeness import archive_host

    host, rate = archive_host(settings), settings.http.rate_limit
    state = store.budget_state(host)
    if state is None:
        click.echo(f"budget:    {host}: no request granted yet (http.rate_limit {rate:g}/s, shared by every worker)")
        return
    spacing = max(state.interval, state.crawl_delay or 0.0)
    line = (f"budget:    {host}: one request every {spacing:.3g} s ({1 / spacing:.3g}/s) for every worker together"
            if spacing > 0 else f"budget:    {host}: no spacing")
    if state.interval > 0 and abs(1 / state.interval - rate) > 1e-9:
        line += f"; workers asked {1 / state.interval:.3g}/s, this configuration {rate:g}/s"
    if state.crawl_delay is not None:
        line += f"; robots.txt Crawl-delay {state.crawl_delay:g} s"
    click.echo(line + f"; {state.taken} request(s) granted in all")
    if state.paused > 0:
        click.echo(f"paused:    every worker, {state.paused:.0f} s more ({state.pause_reason})")
    click.echo(f"rate:      {state.last_minute} request(s) in the last minute ({state.last_minute / 60:.3g}/s), "
               f"{state.last_10_minutes} in the last 10 minutes ({state.last_10_minutes / 600:.3g}/s)")


def _counts_line(data: dict[str, Any]) -> str:
    c = data.get("counts", {})
    return (f"new {c.get('new', 0)}, changed {c.get('changed', 0)}, unchanged {c.get('unchanged_total', 0)} "
            f"(304: {c.get('not_modified', 0)}, same hash: {c.get('unchanged', 0)}), restored {c.get('restored', 0)}, "
            f"not found {c.get('not_found', 0)}, tombstoned {c.get('tombstoned', 0)}, failed {c.get('failed', 0)}, "
            f"blocked {c.get('blocked', 0)}, disallowed {c.get('disallowed', 0)}; {data.get('requests', 0)} requests")


def _human(data: dict[str, Any], *, verbose: bool = False) -> str:
    lines = [f"run {data['run_id']}: {data['status']}"
             + (f" ({data['stop_reason']})" if data.get("stop_reason") else ""),
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
    if quality.get("parsed") and (verbose or quality.get("alarms")):  # the field table: on request, or to explain
        # an alarm
        lines.append(f"  quality: {quality['parsed']} page(s) parsed; field: this run / catalog at start")
        for name, q in quality.get("fields", {}).items():
            cat = f"{q['catalog_share']:.0%}" if q.get("catalog_share") is not None else "-"
            lines.append(f"    {name:<26}{q['run']:>6} ({q['run_share']:.0%})   {cat}")
    for name, ways in quality.get("fallbacks", {}).items():
        for how, count in ways.items():
            lines.append(f"  fallback: {name}: by {how} on {count} of {quality.get('parsed', 0)} pages")
    for alarm in quality.get("alarms", []):
        lines.append(f"  ALARM: {alarm}")
    if quality.get("parsed") and not verbose and not quality.get("alarms"):
        lines.append(f"  quality: {quality['parsed']} page(s) parsed, no alarm (-v shows every field)")
    for outcome, rows in data.get("records", {}).items():
        lines.append(f"  {_RECORD_OUTCOMES.get(outcome, outcome)}: {len(rows)}")
        for row in rows:
            what = f"{row['record_id']}" if row.get("record_id") else row["key"]
            title = f"  {row['title'][:70]}" if row.get("title") else ""
            detail = f"  ({row['detail']})" if row.get("detail") and outcome != "new" else ""  # changed: which fields
            lines.append(f"    {what}{title}{detail}")
    return "\n".join(lines)


COMMANDS = [sync, report, status]
