"""Click commands, one module per feature; each lists its commands in COMMANDS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from catalog.store import CatalogStore

# Exit codes shared by every command: 0 all good, 1 some items failed, 2 blocked or fatal,
# 130 interrupted by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL, EXIT_INTERRUPTED = 0, 1, 2, 130
# The archive asked us (Retry-After) to wait longer than http.backoff_max: the run stopped
# asking; try again after the wait. 75 is sysexits' EX_TEMPFAIL ("try again later").
EXIT_WAIT = 75


def open_store(database: str, *, mode: Literal["write", "read"] = "write", render_options: Any = None) -> CatalogStore:
    """catalog.store.open_store, imported when a command runs: the store brings in pydantic
    and the record model, which `--help` and the commands that never open it do not need.
    `mode="read"` for commands that only read (see catalog.store.open_store). Writers pass
    `render_options` (the [export] FormatOptions) for the renderings stored with each record."""
    from catalog.store import open_store as _open_store

    store = _open_store(database, mode=mode)
    if render_options is not None:
        store.render_options = render_options
    return store
