"""Every command a user can reach is documented: help text in the CLI and a mention in the README."""

from __future__ import annotations

import re
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


# -- the README's examples run as written on a fresh clone ----------------------------------
ROOT = Path(__file__).resolve().parents[1]
_LONG_RUNNING = ("harvester serve",)  # servers: started and checked in tests/oai


def _readme_examples() -> list[str]:
    """`harvester …` commands of the README's sh blocks, in order; the quick start's too."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                command = part.strip().removeprefix(".venv/bin/")
                if not command.startswith("harvester "):
                    continue
                command, _, comment = command.partition("  #")
                if re.search(r"\blive\b", comment):  # needs the archive itself (and a contact address)
                    assert "--contact" in command, f"a live example without --contact: {command}"
                    continue
                if "postgresql://" in command:  # needs a PostgreSQL server: run by tests/store on a throw-away one
                    continue
                if not command.startswith(_LONG_RUNNING):
                    found.append(command.strip())
    return found


def _fresh_clone(tmp_path: Path) -> Path:
    """What a clone holds that the examples read: config.toml, fixtures/, examples/."""
    import shutil

    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(ROOT / "config.toml", clone / "config.toml")
    shutil.copytree(ROOT / "fixtures" / "warc", clone / "fixtures" / "warc")
    shutil.copytree(ROOT / "examples", clone / "examples")
    return clone


@pytest.mark.slow
def test_readme_examples_run_as_written(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    examples = _readme_examples()
    assert examples[:3] == ["harvester harvest --replay fixtures/warc/documents", "harvester list",
                            "harvester show 175798"]  # the quick start comes first
    assert "harvester reparse" in examples
    clone = _fresh_clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCDA_")} | {"PYTHONPATH": str(ROOT)}
    harvester = f"{sys.executable} -m harvester"
    for command in examples:
        done = subprocess.run(harvester + command.removeprefix("harvester"), shell=True, cwd=clone, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, command
    # The citations shown after `$ harvester cite …` are what the command prints.
    for command, shown in re.findall(r"^\$ (harvester cite [^\n]+)\n(.+?)\n(?:\n|```)", README, re.M | re.S):
        done = subprocess.run(harvester + command.removeprefix("harvester"), shell=True, cwd=clone, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == shown.strip(), command
