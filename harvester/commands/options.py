"""Options that several commands share, spelled and explained once (docs/cli.md has the table)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def politeness_options(fn: F) -> F:
    """--contact, --rate-limit, --concurrency: every command that reaches the live archive."""
    for option in reversed([
        click.option("--contact", help="Contact e-mail or URL for the User-Agent (overrides archive.contact)."),
        click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True),
                     help="Requests per second (overrides http.rate_limit)."),
        click.option("--concurrency", type=click.IntRange(min=1),
                     help="Parallel requests (overrides http.concurrency)."),
    ]):
        fn = option(fn)
    return fn


def quiet_option(fn: F) -> F:
    return click.option("-q", "--quiet", is_flag=True, help="Print only the summary and failures.")(fn)


def verbose_option(fn: F) -> F:
    return click.option("-v", "--verbose", is_flag=True, help="Print more: every item, every field.")(fn)
