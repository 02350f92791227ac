"""check-site: the first command to run against the real site (see README)."""

from __future__ import annotations

import click

from catalog.errors import ConfigError
from harvester.commands import EXIT_FATAL


@click.command(name="check-site")
@click.argument("ids", nargs=-1, type=int)
@click.option("--contact", help="Contact e-mail or URL for the User-Agent (required; overrides archive.contact).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="WARC file to keep the pages in (default: a new check-site-*.warc.gz in storage.warc_dir).")
@click.pass_context
def check_site(ctx: click.Context, ids: tuple[int, ...], contact: str | None, out: str | None) -> None:
    """Fetch the documents whose live values are known and compare them field by field.

    Exits 0 only when every field matches; the pages are kept as WARC (usable as fixtures).
    """
    from harvester.site.check import check_site as run
    from harvester.site.check import known_documents, table

    settings = ctx.obj.settings(archive={"contact": contact})
    known = {int(d["record_id"]) for d in known_documents()}
    unknown = sorted(set(ids) - known)
    if unknown:
        raise click.BadParameter(f"no known values for {unknown}; known: {sorted(known)}", param_hint="IDS")
    try:
        report = run(settings, ids=list(ids) or None, out=out,
                     progress=lambda rid, what: click.echo(f"{rid}: {what}", err=True))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_FATAL)
    for line in table(report):
        click.echo(line)
    click.echo(f"pages kept in {report.warc_file}")
    if report.blocked:
        click.echo(f"blocked: {report.blocked}; the check stopped. Try later, slower; never work around it.", err=True)
    ctx.exit(report.exit_code)


COMMANDS = [check_site]
