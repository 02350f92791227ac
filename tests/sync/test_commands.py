"""The sync, report and status commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from catalog.runs import DISCOVERY, Runs
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


def test_second_sync_says_discovery_is_taken_in_one_line(archive: TestArchive, tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    with SQLiteStore(db) as store:
        Runs(store).lease_take(DISCOVERY, holder="another-worker", ttl=300)
    result = CliRunner().invoke(cli, ["--db", str(db), "sync", "--max-minutes", "0.01"], env=_env(archive, tmp_path))
    assert result.exit_code == 0, result.output  # its own time budget ran out while it waited
    assert f"discovery is being done by {os.uname().nodename} pid {os.getpid()}, working the queue instead" \
        in result.output
    assert "Traceback" not in result.output
    assert archive.seen == []  # discovery is the holder's: no request


def test_sync_refused_for_config_leaves_no_run_behind(archive: TestArchive, tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    env = {**_env(archive, tmp_path), "WCDA_ARCHIVE__CONTACT": ""}
    refused = CliRunner().invoke(cli, ["--db", db, "sync"], env=env)
    assert refused.exit_code == 2 and "archive.contact" in refused.output
    assert "Traceback" not in refused.output and archive.seen == []
    with SQLiteStore(db) as store:
        assert Runs(store).recent() == []  # no phantom "running" run for the next sync to "resume"
    ok = CliRunner().invoke(cli, ["--db", db, "sync"], env=_env(archive, tmp_path))
    assert ok.exit_code == 0, ok.output
    assert "resumed" not in ok.output


def test_sync_json_creates_its_folder_and_the_table_waits_for_verbose(archive: TestArchive, tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    target = tmp_path / "data" / "reports" / "last-sync.json"  # the cron line of docs/sync.md
    result = CliRunner().invoke(cli, ["sync", "--json", str(target), "--db", db], env=_env(archive, tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["counts"]["new"] == len(DOCUMENT_IDS)
    # The field table only with -v (no alarm fired here).
    assert "no alarm (-v shows every field)" in result.output and "title" not in result.output.split("quality")[1]
    verbose = CliRunner().invoke(cli, ["report", "-v", "--db", db])
    assert "field: this run / catalog at start" in verbose.output and "    title" in verbose.output
    as_json = CliRunner().invoke(cli, ["sync", "--json", "--db", db], env=_env(archive, tmp_path))
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["status"] == "finished"


def test_report_records_lists_what_changed(archive: TestArchive, tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    env = _env(archive, tmp_path)
    assert CliRunner().invoke(cli, ["--db", db, "sync"], env=env).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", db, "report", "--records"])
    assert result.exit_code == 0, result.output
    assert f"  new: {len(DOCUMENT_IDS)}" in result.output
    with SQLiteStore(db) as store:
        first = store.get(DOCUMENT_IDS[0])
    assert first is not None
    assert f"    {DOCUMENT_IDS[0]}  {first.record.title[:70]}" in result.output
    data = json.loads(CliRunner().invoke(cli, ["--db", db, "report", "--records", "--json"]).stdout)
    assert sorted(r["record_id"] for r in data["records"]["new"]) == sorted(DOCUMENT_IDS)


def test_report_records_names_the_fields_that_changed(archive: TestArchive, tmp_path: Path) -> None:
    db = str(tmp_path / "catalog.db")
    env = _env(archive, tmp_path)
    assert CliRunner().invoke(cli, ["--db", db, "sync"], env=env).exit_code == 0
    archive.change(DOCUMENT_IDS[1])  # the title gains " (revised)"
    assert CliRunner().invoke(cli, ["--db", db, "sync", "--recheck-all"], env=env).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", db, "report", "--records"])
    assert result.exit_code == 0, result.output
    assert "  changed: 1" in result.output
    changed_line = next(line for line in result.output.splitlines() if line.startswith(f"    {DOCUMENT_IDS[1]}"))
    assert changed_line.endswith("  (fields changed: title)")
