"""`harvester search [WORDS ...] [--facet FAMILY=VALUE ...] [--from D] [--to D] [--sort S] [--format F]`.

The catalog's search (catalog.search: the same model as the web catalog and the JSON API)
from a terminal. `--format ids` prints Record IDs one a line for other commands:
`harvester search nagy --facet language=Hungarian --format ids | harvester cite --ids-file -`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from catalog.errors import BadSearch, HarvesterError
from harvester.commands import open_store

if TYPE_CHECKING:
    from catalog.search import SearchPage

# Written out (not imported from catalog.search) so that `--help` stays light.
SORTS = ("relevance", "date", "-date", "title", "changed")
ALL_PAGE = 100  # page size when --all walks every page


@click.command("search")
@click.argument("words", nargs=-1)
@click.option("--facet", "facets", multiple=True, metavar="FAMILY=VALUE",
              help="Only records with this facet value, repeatable: type=Cable, language=Russian (or rus), "
                   "subject=..., place, person, donor, archive, year=1950, decade=1950s, has_text=yes, has_scan=no.")
@click.option("--from", "date_from", metavar="DATE", help="Documents dated from this year, year-month or date.")
@click.option("--to", "date_to", metavar="DATE", help="Documents dated up to this year, year-month or date.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True,
              help="relevance (without words: Record ID), date, -date (newest first), title, changed (latest first).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ids", "csv"]), default="table",
              show_default=True, help="table to read; json (one page, with facet counts); ids or csv (every match).")
@click.option("--page", type=int, default=None, help="Page to print (1-based; default 1).")
@click.option("--per-page", "per_page", type=int, default=None, help="Hits per page (1-100; default 20).")
@click.option("--all", "all_pages", is_flag=True, help="Every match, not one page (the default of ids and csv).")
@click.option("--include-deleted", is_flag=True, help="Tombstones (records withdrawn from the archive) too.")
@click.option("--facets", "show_facets", is_flag=True, help="table: also print the facet counts.")
@click.pass_context
def search_command(ctx: click.Context, words: tuple[str, ...], facets: tuple[str, ...], date_from: str | None,
                   date_to: str | None, sort: str, fmt: str, page: int | None, per_page: int | None,
                   all_pages: bool, include_deleted: bool, show_facets: bool) -> None:
    """Search the catalog: WORDS (all must match; "a phrase" in quotes, prefix* with a star),
    facets, a date range. Exit 0 with or without hits; 2 for a bad parameter."""
    from catalog.search import SearchParams, run_search

    every = all_pages or (fmt in ("ids", "csv") and page is None and per_page is None)
    query: dict[str, list[str]] = {"q": [" ".join(words)], "facet": list(facets), "sort": [sort],
                                   "page": [str(page or 1)], "per_page": [str(per_page or (ALL_PAGE if every else 20))],
                                   "include_deleted": ["true" if include_deleted else "false"]}
    if date_from:
        query["from"] = [date_from]
    if date_to:
        query["to"] = [date_to]
    try:
        params = SearchParams.from_query(query)
    except BadSearch as exc:
        raise click.BadParameter(exc.message, param_hint=_hint(exc.parameter)) from None
    store = open_store(ctx.obj.settings().storage.database, mode="read")
    try:
        first = run_search(store, params, with_facets=fmt == "json" or show_facets)
        pages = [first]
        if every:
            for number in range(params.page + 1, first.pages + 1):
                pages.append(run_search(store, params.with_page(number), with_facets=False))
    except HarvesterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    _print(fmt, pages, show_facets)


def _hint(parameter: str) -> str:
    return {"q": "WORDS", "facet": "--facet", "from": "--from", "to": "--to", "sort": "--sort", "page": "--page",
            "per_page": "--per-page"}.get(parameter, parameter)


def _print(fmt: str, pages: list[SearchPage], show_facets: bool) -> None:
    import csv
    import json

    from catalog.search import FACET_FAMILIES, plain

    first = pages[0]
    hits = [hit for p in pages for hit in p.hits]
    if fmt == "ids":
        click.echo("\n".join(str(h.record_id) for h in hits) if hits else "", nl=bool(hits))
    elif fmt == "json":
        click.echo(json.dumps(first.to_json(), ensure_ascii=False, indent=1))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        writer.writerow(["record_id", "date", "date_normalized", "type", "languages", "title", "url", "deleted",
                         "snippet"])
        for h in hits:
            writer.writerow([h.record_id, h.date, h.date_normalized or "", h.type, "; ".join(h.languages), h.title,
                             h.url, "yes" if h.deleted else "", plain(h.snippet)])
    else:
        bold = ("\x1b[1m", "\x1b[0m") if sys.stdout.isatty() else ("*", "*")
        for h in hits:
            title = h.title if len(h.title) <= 90 else h.title[:89] + "…"
            flag = " [deleted]" if h.deleted else ""
            click.echo(f"{h.record_id:>8}  {(h.date or '—')[:20]:<20}  {(h.type or '—')[:14]:<14}  {title}{flag}")
            if h.snippet:
                click.echo(f"{'':>10}{plain(h.snippet, bold)}")
        shown = f"{first.first}-{first.first + len(hits) - 1}" if hits else "0"
        click.echo(f"{shown} of {first.total} record{'s' if first.total != 1 else ''}"
                   + (f" (page {first.page} of {first.pages})" if len(pages) == 1 and first.pages > 1 else ""))
        if show_facets:
            for family, options in first.facets.items():
                values = ", ".join(f"{'[x] ' if o.selected else ''}{o.label} ({o.count})" for o in options)
                click.echo(f"{FACET_FAMILIES[family]}: {values}")


COMMANDS = [search_command]
