"""Start-up: `harvester --help` (and every command's --help) imports none of the heavy modules.

Measured in a fresh interpreter, since the test process itself has them all loaded.
The start-up time is measured by bench/commands.py, not here (tests never assert times).
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

# Printed by a probe: the modules it imported (an entry of None is a module kept from being
# imported: harvester/__init__.py does that to httpx._main).
_PRINT_IMPORTED = "print(json.dumps(sorted(name for name, module in sys.modules.items() if module is not None)))"

_PROBE = f"""
import json, sys
from harvester.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="harvester", standalone_mode=False)
except SystemExit:
    pass
{_PRINT_IMPORTED}
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


# What `show` and `list` need to print rows: no pydantic, no record model, no settings model
# (harvester.config_layers answers storage.database; the stored JSON is printed as it is).
READ_HEAVY = [m for m in HEAVY if m not in ("sqlite3", "catalog.store")]


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    from catalog.store import SQLiteStore
    from tests.export.records import record_175798

    path = tmp_path_factory.mktemp("startup") / "c.db"
    store = SQLiteStore(path)
    store.upsert(record_175798())
    store.close()
    return path, 175798


@pytest.mark.parametrize("args", [["show", "{id}"], ["list"], ["list", "--problems"], ["cite", "{id}"],
                                  ["cite", "--all", "--format", "html"]])
def test_read_commands_import_no_heavy_module(small_catalog: tuple[Path, int], args: list[str]) -> None:
    path, record_id = small_catalog
    loaded = modules_after("--db", str(path), *(a.format(id=record_id) for a in args))
    # the probe really ran the command: it opened the catalog and read it
    assert {"catalog.store", "sqlite3", f"harvester.commands.{'cite' if args[0] == 'cite' else 'harvest'}"} <= loaded
    heavy = sorted(m for m in READ_HEAVY if m in loaded)
    assert heavy == [], f"`harvester {' '.join(args)}` imported {heavy}"


def test_show_imports_only_its_own_command_module(small_catalog: tuple[Path, int]) -> None:
    path, record_id = small_catalog
    loaded = modules_after("--db", str(path), "show", str(record_id))
    own = {m for m in loaded if m.startswith("harvester.commands.")}
    assert own == {"harvester.commands.harvest", "harvester.commands.options"}  # options: harvest's decorators


def test_a_command_that_runs_does_import_what_it_needs(small_catalog: tuple[Path, int]) -> None:
    # The converse, so the probes above cannot pass by importing nothing at all: a filtered
    # listing needs the record model, and `show --json` prints the model's JSON.
    path, record_id = small_catalog
    assert {"catalog.store", "sqlite3", "catalog.model", "pydantic"} <= modules_after(
        "--db", str(path), "list", "--type", "Cable")
    assert "catalog.model" in modules_after("--db", str(path), "show", str(record_id), "--json")
    assert {"citeproc", "catalog.model"} <= modules_after("--db", str(path), "cite", "--style", "apa", str(record_id))


def test_the_command_table_names_each_commands_module() -> None:
    import importlib
    import pkgutil

    from harvester import commands
    from harvester.cli import COMMAND_MODULES

    found = {}
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"harvester.commands.{info.name}")
        found.update({c.name: info.name for c in getattr(module, "COMMANDS", [])})
    assert found == COMMAND_MODULES


def test_help_names_every_shipped_style_and_format() -> None:
    # The command line spells these out so `--help` needs neither citeproc nor the formats.
    from catalog.cite import STYLES
    from catalog.export import FORMAT_ALIASES, FORMAT_NAMES
    from catalog.export.registry import ALIASES, FORMATS
    from harvester.commands.cite import STYLE_NAMES

    assert list(STYLE_NAMES) == sorted(STYLES)
    assert FORMAT_NAMES == tuple(FORMATS)
    assert FORMAT_ALIASES == tuple(ALIASES)


SERIALIZERS = ["catalog.export.common", "catalog.export.oai_dc", "catalog.export.qdc", "catalog.export.mods",
               "catalog.export.marcxml", "catalog.export.csl_json", "catalog.export.jsonld", "catalog.export.ris",
               "catalog.export.bibtex", "catalog.export.csv_flat", "catalog.export.jsonl", "catalog.languages"]


def _loaded_by(modules: str) -> set[str]:
    """The modules a fresh interpreter holds after `import <modules>`."""
    probe = f"import json, sys; import {modules}; {_PRINT_IMPORTED}"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    return set(json.loads(proc.stdout))


def test_format_registry_imports_no_serializer() -> None:
    # The registry describes every format; a serializer module is imported when its format is used.
    loaded = _loaded_by("catalog.export.registry, catalog.export.rendered, catalog.export.parallel")
    assert "catalog.export.registry" in loaded
    assert sorted(m for m in [*SERIALIZERS, *READ_HEAVY] if m in loaded) == []


def test_export_of_stored_renderings_loads_no_model(small_catalog: tuple[Path, int], tmp_path: Path) -> None:
    # csl-json is copied from the stored rendering: neither the record model nor its serializer is needed.
    path, record_id = small_catalog
    out = tmp_path / "out.json"
    loaded = modules_after("--db", str(path), "export", "csl-json", "--out", str(out))
    assert "harvester.commands.export" in loaded and f'"id": "wcda-{record_id}"' in out.read_text(encoding="utf-8")
    assert sorted(m for m in [*SERIALIZERS, *READ_HEAVY] if m in loaded) == []


def test_oai_bindings_agree_with_the_serializers() -> None:
    # The registry spells the namespaces and schemas out so that it needs no serializer module.
    from catalog.export import marcxml, mods, oai_dc, qdc
    from catalog.export.registry import OAI_FORMATS

    assert {p: (f.oai.namespace, f.oai.schema) for p, f in OAI_FORMATS.items() if f.oai} == {
        "oai_dc": (oai_dc.OAI_DC_NS, oai_dc.OAI_DC_SCHEMA), "oai_qdc": (qdc.QDC_NS, qdc.QDC_SCHEMA),
        "mods": (mods.MODS_NS, mods.MODS_SCHEMA), "marcxml": (marcxml.MARC_NS, marcxml.MARC_SCHEMA)}
    assert OAI_FORMATS["oai_dc"].record_xml is oai_dc.oai_dc_xml


def test_the_harvest_s_main_process_loads_neither_the_parser_nor_the_serializers() -> None:
    # It fetches, writes the WARC and stores what its parse workers prepared (catalog/prepared.py):
    # BeautifulSoup, lxml and the serializers (~25 MB with citeproc) live in the workers' fork server.
    loaded = _loaded_by("harvester.work, harvester.pipeline, harvester.http")
    assert "harvester.pipeline" in loaded
    assert sorted(m for m in ["bs4", "lxml", "soupsieve", "harvester.site.page", "catalog.export.rendered",
                              "citeproc", *SERIALIZERS] if m in loaded) == []


def test_the_http_client_leaves_out_httpxs_own_command_line_client() -> None:
    # harvester/__init__.py: importing the HTTP client must not import rich and pygments (they
    # are installed here, with the test extras, so without the entry httpx would import them).
    import importlib.util

    assert importlib.util.find_spec("rich") is not None  # else this test proves nothing
    loaded = _loaded_by("harvester.http")
    assert {"httpx", "harvester.http"} <= loaded
    assert not {"rich", "pygments", "httpx._main"} & loaded
