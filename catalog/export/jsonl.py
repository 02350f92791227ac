"""JSON Lines: one full catalog record per line, with its catalog timestamps and `deleted` flag."""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings
from typing import TYPE_CHECKING, Any

from catalog.model import StoredRecord

if TYPE_CHECKING:
    from catalog.store import RawRecord

# The store's timestamp form (catalog.store.to_db_time); anything else takes the model path.
_DB_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
# How the stored body starts when it is in the form this module prints (catalog.store.record_texts).
_BODY_START = '{"record_id": '


def jsonl_object(stored: StoredRecord) -> dict[str, Any]:
    data = stored.model_dump(mode="json")
    data["deleted"] = stored.deleted  # explicit, so consumers need not infer it from deleted_at
    return data


def jsonl_line(stored: StoredRecord) -> str:
    # ensure_ascii=False keeps non-Latin scripts byte for byte in the UTF-8 output
    return json.dumps(jsonl_object(stored), ensure_ascii=False, sort_keys=False) + "\n"


def _json_time(value: str) -> str | None:
    """A stored timestamp as pydantic's JSON mode writes the datetime: microseconds
    only when non-zero ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00.120000Z")."""
    if not _DB_TIME.fullmatch(value):
        return None
    return value[:19] + "Z" if value.endswith(".000000Z") else value


def jsonl_line_raw(raw: RawRecord) -> str | None:
    """`jsonl_line` assembled from the stored row, without building the model.

    The store writes the body as `json.dumps(record.model_dump(mode="json"),
    ensure_ascii=False)`, which is exactly how `jsonl_line` prints the `record` member;
    the catalog fields around it are the row's own columns. None when the row is not in
    that form (a body written by an older version, an unusual timestamp): the caller
    then takes the model path, so the output is the same either way.
    """
    body = raw.json
    if raw.brief or not body.startswith(_BODY_START):
        return None
    times = [_json_time(v) for v in (raw.first_seen, raw.last_changed, raw.last_checked)]
    if None in times:
        return None
    if raw.deleted_at is None:
        deleted_at, deleted = "null", "false"
    else:
        t = _json_time(raw.deleted_at)
        if t is None:
            return None
        deleted_at, deleted = f'"{t}"', "true"
    return (f'{{"record": {body}, "content_hash": {encode_basestring(raw.content_hash)}, '
            f'"first_seen": "{times[0]}", "last_changed": "{times[1]}", "last_checked": "{times[2]}", '
            f'"deleted_at": {deleted_at}, "deleted": {deleted}}}\n')
