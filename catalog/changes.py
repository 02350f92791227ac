"""What changed between two versions of a record: the field names a cataloguer reads.

Provenance (fetch time, WARC file, which selector matched) changes with every harvest and says
nothing about the document, so it is left out, as it is from the content hash.
"""

from __future__ import annotations

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
