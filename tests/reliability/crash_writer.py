"""Child process for test_crash_safety: writes records through SQLiteStore.upsert until killed.

    python -m tests.reliability.crash_writer DB SEED

Each record is a fixture's expected record under a new Record ID with a changing title, so
upserts are inserts and real changes (both with OAI set membership in the same transaction,
as in a harvest), mixed with history events and tombstones. After each committed write it
prints `ok <record_id> <content_hash>` and flushes, so the parent knows what was acknowledged.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import catalog.oai.sets  # noqa: F401 - registers the OAI set-membership write hook, as the CLI does
from catalog.model import CatalogRecord
from catalog.store import SQLiteStore

EXPECTED = Path(__file__).resolve().parents[2] / "fixtures" / "expected"


def records() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXPECTED.glob("[0-9]*.json"))]


def make(base: dict, record_id: int, version: int) -> CatalogRecord:
    data = dict(base, record_id=record_id, title=f"{base['title']} (v{version})", problems=[])
    data["provenance"] = {
        "request_url": f"https://digitalarchive.wilsoncenter.org/document/{record_id}",
        "final_url": data["url"], "http_status": 200, "fetched_at": datetime.now(UTC).isoformat(),
        "sha256": "0" * 64, "tool_version": "test", "parser_version": "test",
    }
    return CatalogRecord.model_validate(data)


def main() -> None:
    db, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    bases = records()
    store = SQLiteStore(db)
    print("ready", flush=True)
    version = 0
    while True:
        version += 1
        rid = 800_000 + rng.randrange(300)
        op = rng.random()
        if op < 0.8:
            record = make(rng.choice(bases), rid, version)
            store.upsert(record)
            print("ok", rid, record.content_hash(), flush=True)
        elif op < 0.95:
            store.log_event(rid, "failed", "x" * rng.randrange(5000))
        else:
            store.tombstone(rid)


if __name__ == "__main__":
    main()
