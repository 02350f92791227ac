"""citeproc-js (npm `citeproc`, the processor inside Zotero) as a second opinion.

tools/citeproc-js/render.js renders CSL-JSON with the same .csl files and the CSL
locales shipped in catalog/styles/locales; this module builds the items and calls it.
`.ci/run` installs the package (`npm ci` in tools/citeproc-js).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from catalog.cite import LOCALES_DIR, Citer, render_item
from catalog.export.csl_json import csl_item
from catalog.model import CatalogRecord

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "citeproc-js"


def available() -> bool:
    return shutil.which("node") is not None and (TOOL / "node_modules" / "citeproc").is_dir()


def js_item(record: CatalogRecord, citer: Citer) -> dict[str, Any]:
    """The item cite.py renders, with family-first names as family, given and static-ordering
    (which citeproc-js honours, and citeproc-py does not: cite.py hands it literals instead)."""
    if citer.house:
        return render_item(record, house=True)
    item = {k: v for k, v in csl_item(record, static_ordering=True).items() if k not in ("custom", "archive", "genre")}
    ours = render_item(record, literal_family_first=False)
    if "issued" not in ours:
        item.pop("issued", None)
    return item


def render(style_file: Path, items: list[dict[str, Any]], *, each: bool = True, fmt: str = "text",
           lang: str = "en-US") -> dict[str, list[str | None]]:
    request = {"style": str(style_file), "locales": str(LOCALES_DIR), "format": fmt, "items": items,
               "each": each, "lang": lang}
    done = subprocess.run(["node", str(TOOL / "render.js")], input=json.dumps(request), capture_output=True,
                          text=True, check=True, timeout=120)
    result: dict[str, list[str | None]] = json.loads(done.stdout)
    return result
