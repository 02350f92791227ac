"""Every command a user can reach is documented: help text in the CLI and a mention in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from harvester.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands() -> list[click.Command]:
    return list(cli.commands.values())


def test_the_cli_has_the_commands_the_issues_ask_for() -> None:
    names = set(cli.commands)
    assert {"harvest", "show", "list", "reparse", "record", "export", "cite", "serve", "feed",
            "sync", "report", "status"} <= names


@pytest.mark.parametrize("command", _commands(), ids=lambda c: c.name)
def test_command_has_help_and_readme_mention(command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20, f"{command.name} has no help text"
    assert f"harvester {command.name}" in README, f"README never shows `harvester {command.name}`"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and param.name not in {"help"}:
            assert param.help or param.is_flag and param.name in {"quiet"}, f"{command.name} {param.opts} lacks help"
