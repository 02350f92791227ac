"""The `harvester` command line: a click group whose commands live in harvester/commands/.

Each module in `harvester.commands` lists its click commands in `COMMANDS`; they are
added here, so a feature brings its own commands without editing this file. Commands
only parse options and call the library.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import TYPE_CHECKING

import click

from catalog.errors import HarvesterError
from harvester import __version__, commands
from harvester.commands import EXIT_FATAL, EXIT_INTERRUPTED

if TYPE_CHECKING:
    from catalog.export.options import FormatOptions
    from harvester.config import Settings

# Start-up: this module and every command module import only click and light modules;
# the heavy ones (pydantic models, the pipeline, httpx, citeproc, lxml) are imported by
# the command that runs. tests/harvest/test_startup.py checks `--help` imports none of them.


class AppContext:
    """What every command gets: the settings, loaded lazily so `--help` never needs a config."""

    def __init__(self, config_path: str | None, db: str | None) -> None:
        self.config_path = config_path
        self.db = db
        self._settings: Settings | None = None

    def settings(self, **overrides: dict[str, object]) -> Settings:
        if self._settings is None or overrides:
            from harvester.config import load_settings  # pydantic: only for commands that need settings

            layers: dict[str, dict[str, object]] = {k: dict(v) for k, v in overrides.items()}
            if self.db:
                layers.setdefault("storage", {})["database"] = self.db
            self._settings = load_settings(self.config_path, overrides=layers)
        return self._settings

    def database(self) -> str:
        """storage.database for the commands that only read the catalog (show, list, cite).

        Without pydantic when the layers hold nothing validation would change or refuse
        (harvester.config_layers.quick_database); otherwise the full settings, so a bad
        value in config.toml stops these commands with the same error as any other.
        """
        if self._settings is None:
            from harvester.config_layers import merged_layers, quick_database

            layers = {"storage": {"database": self.db}} if self.db else None
            database = quick_database(merged_layers(self.config_path, overrides=layers))
            if database is not None:
                return database
        return self.settings().storage.database

    def export_options(self) -> FormatOptions:
        """The [export] settings as the formats take them, for `export` beside `database()`.

        When `database()` found the layers need no validation, every [export] key in them
        is its default (config_layers.ANY_TEXT has none), so these are the default options
        and pydantic is not loaded; otherwise they come from the validated settings.
        """
        self.database()
        if self._settings is None:
            from catalog.export.options import DEFAULT_OPTIONS

            return DEFAULT_OPTIONS
        return self._settings.export.format_options()


# Options of the group that may also follow the command (`harvester list --db x.db`).
GROUP_OPTIONS = ("--db", "--config")


def hoist_group_options(args: list[str]) -> list[str]:
    """Move --db/--config (and their values) written after the command in front of it."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # everything after it is an argument, as written
            rest += args[i:]
            break
        if arg in GROUP_OPTIONS and i + 1 < len(args):
            front += args[i:i + 2]
            i += 2
            continue
        if arg.startswith(tuple(f"{name}=" for name in GROUP_OPTIONS)):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


# Command name -> its module in harvester.commands. `harvester show` imports harvester.commands.harvest
# alone instead of every command module (~20 ms of start-up). Only a shortcut: a command missing
# here is still found by importing every module (tests/harvest/test_startup.py checks the table).
COMMAND_MODULES = {
    "harvest": "harvest", "show": "harvest", "list": "harvest", "reparse": "harvest", "record": "harvest",
    "cite": "cite", "export": "export", "serve": "serve", "feed": "serve", "sync": "sync", "report": "sync",
    "status": "sync", "check-site": "check_site", "reindex": "catalog", "copy-catalog": "catalog",
    "enqueue": "work", "work": "work", "search": "search",
}


class _Cli(click.Group):
    """The group; its commands are imported when asked for (`commands` holds them all)."""

    _all_loaded = False

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        self._load_all()
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def _load(self, module_name: str) -> None:
        module = importlib.import_module(f"{commands.__name__}.{module_name}")
        for command in getattr(module, "COMMANDS", []):
            self._commands.setdefault(command.name or "", command)

    def _load_all(self) -> None:
        if not self._all_loaded:
            self._all_loaded = True
            for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
                self._load(info.name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._commands and cmd_name in COMMAND_MODULES:
            self._load(COMMAND_MODULES[cmd_name])
        if cmd_name not in self._commands:
            self._load_all()
        return self._commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_all()
        return sorted(self._commands)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_group_options(args))

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Not click's "Aborted!" and exit 1 (the code for "some IDs failed").
            click.echo("\ninterrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harvester")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="WCDA_CONFIG",
              help="config.toml to read (default: ./config.toml if present).")
@click.option("--db", help="Catalog database: a SQLite file or a postgresql:// URL (overrides storage.database). "
                            "--db and --config may also follow the command.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db: str | None) -> None:
    """Harvest, catalog and export documents of the Wilson Center Digital Archive."""
    ctx.obj = AppContext(config_path, db)


def main() -> None:
    try:
        cli.main(prog_name="harvester", standalone_mode=True)
    except HarvesterError as exc:  # e.g. a ConfigError raised before a command could report it
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FATAL)


