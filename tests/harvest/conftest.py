from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvester.config import Settings, load_settings
from tests.support.fixture_site import EXPECTED, FIXTURES

SCENARIOS: dict[str, dict] = json.loads((EXPECTED / "scenarios.json").read_text(encoding="utf-8"))["scenarios"]
DOCUMENT_IDS = sorted(int(p.stem) for p in EXPECTED.glob("[0-9]*.json"))


def expected_record(record_id: int) -> dict:
    return json.loads((EXPECTED / f"{record_id}.json").read_text(encoding="utf-8"))


def scenario_for(record_id: int) -> dict | None:
    return next((s for s in SCENARIOS.values() if s["record_id"] == record_id), None)


def warc_for(record_id: int) -> Path:
    scenario = scenario_for(record_id)
    if scenario is not None:
        return FIXTURES / scenario["warc"]
    return FIXTURES / "warc" / "documents" / f"doc-{record_id}.warc.gz"


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, overrides={
        "storage": {"database": str(tmp_path / "catalog.db"), "warc_dir": str(tmp_path / "warc")},
    })
