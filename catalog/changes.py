"""What changed between two versions of a record: the field names a cataloguer reads.

Provenance (fetch time, WARC file, which selector matched) changes with every harvest and says
nothing about the document, so it is left out, as it is from the content hash.
"""

from __future__ import annotations

import json

from catalog.model import CatalogRecord

_NOT_CONTENT = {"provenance"}


def changed_fields(old: CatalogRecord, new: CatalogRecord) -> list[str]:
    """Top-level fields whose values differ, in the model's field order."""
    before = old.model_dump(mode="json", exclude=_NOT_CONTENT)
    after = new.model_dump(mode="json", exclude=_NOT_CONTENT)
    return [name for name in CatalogRecord.model_fields if name not in _NOT_CONTENT
            and before.get(name) != after.get(name)]


def change_note(old: CatalogRecord | None, new: CatalogRecord) -> str:
    """"fields changed: title, summary" for a history event or a run item ("" when nothing to say)."""
    if old is None:
        return ""
    names = changed_fields(old, new)
    return "fields changed: " + ", ".join(names) if names else ""


# -- the values: what each changed field was and became -------------------------------------------
DIFF_MARK = "; diff: "  # after the note in a "changed" history event: {field: [old, new]} as JSON
DIFF_VALUE_LIMIT = 300  # characters of one value kept in the history (a document text is much longer)


def field_value(value: object, limit: int = DIFF_VALUE_LIMIT) -> str:
    """A field's value as one short line: lists joined with "; ", objects by their values, long text cut."""
    if value is None or value == [] or value == "" or value == {}:
        return ""
    if isinstance(value, list):
        text = "; ".join(part for part in (field_value(v, limit) for v in value) if part)
    elif isinstance(value, dict):
        text = ", ".join(part for part in (field_value(v, limit) for v in value.values()) if part)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_diff(old: CatalogRecord, new: CatalogRecord) -> dict[str, tuple[str, str]]:
    """{field: (old value, new value)} for each changed field, as short lines (field_value)."""
    before = old.model_dump(mode="json", exclude=_NOT_CONTENT)
    after = new.model_dump(mode="json", exclude=_NOT_CONTENT)
    return {name: (field_value(before.get(name)), field_value(after.get(name))) for name in changed_fields(old, new)}


def diff_note(old: CatalogRecord | None, new: CatalogRecord) -> str:
    """`change_note` with the old and new values, for a "changed" history event (read back by read_diff)."""
    note = change_note(old, new)
    if not note or old is None:
        return note
    return note + DIFF_MARK + json.dumps({k: list(v) for k, v in field_diff(old, new).items()}, ensure_ascii=False)


def read_diff(detail: str) -> dict[str, tuple[str, str]]:
    """The {field: (old, new)} a history event's detail carries ({} when it has none or cannot be read)."""
    start = detail.find(DIFF_MARK)
    if start < 0:
        return {}
    try:
        data, _ = json.JSONDecoder().raw_decode(detail, start + len(DIFF_MARK))
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): (str(v[0]), str(v[1])) for k, v in data.items()
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)}
