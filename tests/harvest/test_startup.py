"""Start-up: `harvester --help` (and every command's --help) imports none of the heavy modules.

Measured in a fresh interpreter, since the test process itself has them all loaded.
The start-up time is measured by bench/startup.py, not here (tests never assert times).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each costs tens to hundreds of milliseconds at import, and none is needed to print help.
HEAVY = ["pydantic", "catalog.model", "catalog.store", "harvester.config", "harvester.pipeline", "harvester.parse",
         "httpx", "bs4", "lxml", "citeproc", "iso639", "catalog.iso639_table", "edtf", "warcio", "bibtexparser",
         "rispy", "waitress", "oaipmh", "tenacity", "sqlite3"]

_PROBE = """
import json, sys
from harvester.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="harvester", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(*args: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60, check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["list", "--help"], ["show", "--help"], ["cite", "--help"],
                                  ["export", "--help"], ["--version"]])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    loaded = modules_after(*args)
    assert "harvester.cli" in loaded and "click" in loaded  # the probe really ran the CLI
    heavy = sorted(m for m in HEAVY if m in loaded)
    assert heavy == [], f"`harvester {' '.join(args)}` imported {heavy}"


def test_a_command_that_runs_does_import_what_it_needs(tmp_path: Path) -> None:
    # The converse, so the probe above cannot pass by importing nothing at all. `list` only
    # reads: it needs a catalog to exist (a missing one is an error naming it).
    from catalog.store import open_store

    open_store(tmp_path / "c.db").close()
    loaded = modules_after("--db", str(tmp_path / "c.db"), "list")
    assert {"harvester.config", "catalog.store", "sqlite3"} <= loaded


def test_help_names_every_shipped_style_and_format() -> None:
    # The command line spells these out so `--help` needs neither citeproc nor the formats.
    from catalog.cite import STYLES
    from catalog.export import FORMAT_ALIASES, FORMAT_NAMES
    from catalog.export.registry import ALIASES, FORMATS
    from harvester.commands.cite import STYLE_NAMES

    assert list(STYLE_NAMES) == sorted(STYLES)
    assert FORMAT_NAMES == tuple(FORMATS)
    assert FORMAT_ALIASES == tuple(ALIASES)
