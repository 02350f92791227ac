"""JSON Lines: one full catalog record per line, with its catalog timestamps and `deleted` flag."""

from __future__ import annotations

import json
from typing import Any

from catalog.model import StoredRecord


def jsonl_object(stored: StoredRecord) -> dict[str, Any]:
    data = stored.model_dump(mode="json")
    data["deleted"] = stored.deleted  # explicit, so consumers need not infer it from deleted_at
    return data


def jsonl_line(stored: StoredRecord) -> str:
    # ensure_ascii=False keeps non-Latin scripts byte for byte in the UTF-8 output
    return json.dumps(jsonl_object(stored), ensure_ascii=False, sort_keys=False) + "\n"
