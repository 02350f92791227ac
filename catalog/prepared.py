"""A record with everything the store writes beside it, computed before the write.

Storing a record writes more than the record: its two stored texts (`record_texts`), its
content hash, its derived indexes with the search words of each field, and its stored
renderings in every format served most (catalog/export/rendered.py). All of it is a pure
function of the record and the format options. A harvest computes it in its parse worker
processes (`prepare`, right after the parse) and hands the store a `PreparedRecord`, so the
one thread that writes the catalog only runs SQL: in a harvest that thread was the limit
(profiled at 2,000 pages: ~55 % of the harvest process's time under the GIL was the store's
upsert, and four fifths of that was these derivations, not SQL).

Anything else (a sync, `reindex`, the tests) passes a plain `CatalogRecord`, and the store
prepares it itself; the outcome is the same either way.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.export.options import FormatOptions
    from catalog.index import Derived
    from catalog.model import CatalogRecord


def record_texts(record: CatalogRecord) -> tuple[str, str]:
    """The two stored forms of `record`: (brief, body).

    `body` is the whole record exactly as the jsonl export prints it
    (`json.dumps(model_dump(mode="json"), ensure_ascii=False)`), so that export copies
    it instead of rebuilding the model; `brief` is the record with every `texts[].text`
    emptied, small enough that formats which never print the text read it instead.
    """
    return _texts(record.model_dump(mode="json"))


def _texts(data: dict[str, Any]) -> tuple[str, str]:
    body = json.dumps(data, ensure_ascii=False)
    if data["texts"]:
        data = {**data, "texts": [{**text, "text": ""} for text in data["texts"]]}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")), body


@dataclass(frozen=True)
class PreparedRecord:
    """`record` and what the store writes beside it (see the module's docstring)."""

    record: CatalogRecord
    content_hash: str
    brief: str
    body: str
    derived: Derived
    renderings: tuple[tuple[str, str, str], ...]  # (format, key, text), as catalog.export.rendered makes them
    options: FormatOptions  # the format options the renderings were made with
    # Not written, but read beside the write from the same dump of the record: the fields it
    # has a value for (catalog.quality.present_fields), which a harvest counts for its quality alarm.
    present: tuple[str, ...]


def prepare(record: CatalogRecord, options: FormatOptions | None = None) -> PreparedRecord:
    """Everything the store writes for `record`, rendered with `options` (None: the defaults)."""
    from catalog import index
    from catalog.export.options import DEFAULT_OPTIONS
    from catalog.export.rendered import renderings
    from catalog.quality import present_fields

    options = options or DEFAULT_OPTIONS
    derived = index.derive(record)
    derived.text.words  # noqa: B018 -- computed here, so that it travels with the record
    data = record.model_dump(mode="json")
    brief, body = _texts(data)
    return PreparedRecord(record, record.content_hash(), brief, body, derived,
                          tuple(renderings(record, options)), options, tuple(present_fields(record, data)))


def prepared_for(item: CatalogRecord | PreparedRecord, options: FormatOptions | None) -> PreparedRecord:
    """`item` prepared with `options`: as it is when it was prepared with them, else with its
    renderings made again (only they depend on the options)."""
    from catalog.export.options import DEFAULT_OPTIONS
    from catalog.export.rendered import renderings

    if not isinstance(item, PreparedRecord):
        return prepare(item, options)
    options = options or DEFAULT_OPTIONS
    if item.options == options:
        return item
    return dataclasses.replace(item, renderings=tuple(renderings(item.record, options)), options=options)


def warm() -> None:
    """Prepare a small record and drop it: imports the stored formats' serializers and loads
    the house citation style, so that a process which forks parse workers shares them with
    every worker (harvester/fork_server.py) instead of each worker loading its own."""
    from catalog.model import CatalogRecord

    prepare(CatalogRecord.model_validate({
        "record_id": 1, "url": "https://example.org/document/1", "title": "Warm-up",
        "provenance": {"request_url": "https://example.org/document/1", "final_url": "https://example.org/document/1",
                       "http_status": 200, "fetched_at": "2000-01-01T00:00:00Z", "sha256": "0" * 64,
                       "tool_version": "-", "parser_version": "-"}}))
