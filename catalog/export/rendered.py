"""Stored renderings: each record's text in the formats served most, kept with the record.

When the store writes a record (a harvest, a sync, `harvester reindex`) it also writes,
in the same unit of work, the record's text in every format whose writer says `stored`
(oai_dc, oai_qdc, mods, marcxml, csl-json): exactly what that format's one serializer
(`Writer.render`) returns. OAI-PMH pages and exports then copy the text instead of
building the record model and formatting it again (a full ListRecords harvest and
marcxml's citeproc-rendered 524 field are the cases that need it).

A harvest renders them in its parse workers (catalog/prepared.py) and hands the store the
texts; everything else lets the store render them as it writes. The rows are the same.

Each rendering is stored under a *key*: the format, its serializer version
(`Format.version`), `RENDER_EPOCH`, a fingerprint of the data files the output depends
on (ISO 639 table, the house citation style) and of the format options (rights URI,
marc_citation). Readers ask for the key they would render with; a rendering stored
under another key is stale and never served: the reader formats the record afresh
(same output, slower) until `harvester reindex` stores the current ones.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from catalog.export.options import DEFAULT_OPTIONS, FormatOptions
from catalog.export.registry import FORMATS, Format

if TYPE_CHECKING:
    from catalog.model import CatalogRecord

log = logging.getLogger(__name__)

# Bump when code every format shares (catalog/export/common.py, xmlout.py, the model's
# normalization) changes output; a single format's change bumps its `Format.version`.
RENDER_EPOCH = 1

_CATALOG = Path(__file__).resolve().parent.parent
# Data files whose content changes what the serializers print.
_DATA_FILES = (_CATALOG / "data" / "iso639.tsv", _CATALOG / "styles" / "wcda.csl")


@cache
def _data_fingerprint() -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for path in _DATA_FILES:
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:10]


def stored_formats() -> list[Format]:
    """The formats the store keeps a rendering of."""
    return [f for f in FORMATS.values() if f.writer.stored]


def render_key(fmt: Format, options: FormatOptions = DEFAULT_OPTIONS) -> str:
    """The key a rendering of `fmt` with `options` is stored and looked up under."""
    opts = hashlib.sha1(repr(options).encode("utf-8"), usedforsecurity=False).hexdigest()[:10]
    return f"{fmt.name}/v{fmt.version}/e{RENDER_EPOCH}/{_data_fingerprint()}/{opts}"


def current_keys(options: FormatOptions | None = None) -> dict[str, str]:
    """{format name: current key} for every stored format."""
    return {f.name: render_key(f, options or DEFAULT_OPTIONS) for f in stored_formats()}


def renderings(record: CatalogRecord, options: FormatOptions | None = None) -> list[tuple[str, str, str]]:
    """(format, key, text) for every stored format. A serializer that fails on this record
    stores nothing for it (readers then format it themselves and meet the error there):
    writing the record must not depend on a serializer."""
    options = options or DEFAULT_OPTIONS
    out = []
    for fmt in stored_formats():
        try:
            text = fmt.writer(options=options).render(record)
        except Exception:  # any serializer failure: leave this rendering out
            log.warning("record %s: no stored %s rendering", record.record_id, fmt.name, exc_info=True)
            continue
        out.append((fmt.name, render_key(fmt, options), text))
    return out
