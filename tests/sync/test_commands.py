"""The sync, report and status commands."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from catalog.runs import Runs
from catalog.store import SQLiteStore
from harvester.cli import cli
from tests.support.test_archive import DOCUMENT_IDS, TestArchive
from tests.sync.conftest import CONTACT


def _env(archive: TestArchive, tmp_path: Path) -> dict[str, str]:
    return {"WCDA_ARCHIVE__BASE_URL": archive.base_url, "WCDA_ARCHIVE__CONTACT": CONTACT,
            "WCDA_HTTP__RATE_LIMIT": "1000", "WCDA_HTTP__MAX_RETRIES": "0",
            "WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc")}


def test_sync_report_status(archive: TestArchive, tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "catalog.db")
    env = _env(archive, tmp_path)
    out_json = tmp_path / "run.json"
    result = runner.invoke(cli, ["--db", db, "sync", "--json", str(out_json)], env=env)
    assert result.exit_code == 0, result.output
    assert f"new {len(DOCUMENT_IDS)}" in result.output
    data = json.loads(out_json.read_text())
    assert data["counts"]["new"] == len(DOCUMENT_IDS) and data["status"] == "finished"

    report = runner.invoke(cli, ["--db", db, "report"], env=env)
    assert report.exit_code == 0 and data["run_id"] in report.output and "quality:" in report.output
    as_json = runner.invoke(cli, ["--db", db, "report", data["run_id"][:12], "--json", "-"], env=env)
    assert json.loads(as_json.output)["run_id"] == data["run_id"]

    status = runner.invoke(cli, ["--db", db, "status"], env=env)
    assert status.exit_code == 0
    assert f"records:   {len(DOCUMENT_IDS)} (plus 0 deleted" in status.output
    assert data["run_id"] in status.output and "due:" in status.output


def test_second_sync_refuses_with_a_clear_message(archive: TestArchive, tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    with SQLiteStore(db) as store:
        Runs(store).acquire(ttl=300)
    result = CliRunner().invoke(cli, ["--db", str(db), "sync"], env=_env(archive, tmp_path))
    assert result.exit_code == 2
    assert "another sync is running on this catalog" in result.output
    assert archive.seen == []  # refused before any request
