"""Citations rendered once per test process.

Several tests read the same entries of the same records (the golden files, the style manuals'
rules, the no-author cases), and citeproc-py takes ~15-30 ms an entry: `cite()` is a pure
function of the record, the style and the form, so each result (or the refusal it raises) is
kept, keyed by the record's JSON. A test that changes a record gets a new key.
"""

from __future__ import annotations

from catalog.cite import OutputFormat, cite
from catalog.errors import StyleCannotRender
from catalog.model import CatalogRecord

_DONE: dict[tuple[str, str, str, bool], str | StyleCannotRender] = {}


def rendered(record: CatalogRecord, style: str, *, fmt: OutputFormat = "text", note: bool = False) -> str:
    """cite(record, style, fmt=fmt, note=note), rendered at most once per process."""
    key = (record.model_dump_json(), style, fmt, note)
    if key not in _DONE:
        try:
            _DONE[key] = cite(record, style, fmt=fmt, note=note)
        except StyleCannotRender as exc:
            _DONE[key] = exc
    got = _DONE[key]
    if isinstance(got, StyleCannotRender):
        raise got
    return got
