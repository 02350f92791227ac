"""Schema migrations, in code, applied in name order inside transactions.

Each module `mNNNN_<what>.py` in this package defines `apply(conn)`. Adding a module is
all it takes to add a migration: features that keep their own tables (OAI-PMH sets,
sync runs) add their own module instead of editing a shared list. A migration, once
released, is never edited: write a new one.
"""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _discover() -> list[Migration]:
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("m"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(Migration(info.name, module.apply))
    return sorted(found, key=lambda m: m.name)


MIGRATIONS: list[Migration] = _discover()
