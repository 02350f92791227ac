"""PostgreSQL schema migrations, applied in name order, each in its own transaction.

Frozen like the SQLite ones: a released module is never edited, and none imports the
live model or store code. PostgreSQL had no released catalogs before m0001, so m0001
is the whole current schema at once.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[Any], None]  # psycopg.Connection, inside a transaction


def _discover() -> list[Migration]:
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("m"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(Migration(info.name, module.apply))
    return sorted(found, key=lambda m: m.name)


MIGRATIONS: list[Migration] = _discover()
