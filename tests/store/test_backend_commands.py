"""Sync, report, status, reindex and feed on each backend, against the loopback test archive."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.store import open_store
from harvester.cli import cli
from harvester.sync import run_sync
from tests.support.test_archive import DOCUMENT_IDS, TestArchive
from tests.sync.conftest import make_settings

pytestmark = pytest.mark.slow


def test_sync_tombstone_report_reindex_feed(url: str, tmp_path: Path) -> None:
    with TestArchive(page_size=5) as archive:
        settings = make_settings(archive.base_url, tmp_path, tombstone_after=1)
        settings.storage.database = url
        with open_store(url) as store:
            first = run_sync(settings=settings, store=store)
            assert first.status == "finished" and first.report["counts"]["new"] == len(DOCUMENT_IDS)
            archive.delete(300653, status=410)
            archive.change(175798)
            second = run_sync(settings=settings, store=store, recheck_all=True)
            assert second.report["counts"]["tombstoned"] == 1 and second.report["counts"]["changed"] == 1
            assert store.get(300653).deleted  # type: ignore[union-attr]
            assert second.report["catalog"] == {"records": len(DOCUMENT_IDS) - 1, "deleted": 1}
            assert second.report["quality"]["baseline_records"] == len(DOCUMENT_IDS)
    env = {"WCDA_STORAGE__WARC_DIR": settings.storage.warc_dir, "WCDA_ARCHIVE__BASE_URL": settings.archive.base_url,
           "WCDA_OAI__REPOSITORY_IDENTIFIER": "oai.example.org"}  # feed needs a domain of ours
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--db", url, *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout + result.stderr

    assert f"run {second.run_id}: finished" in run("report")
    assert f"records:   {len(DOCUMENT_IDS) - 1} (plus 1 deleted" in run("status")
    with open_store(url, mode="read") as store:
        assert store.get(175798) is not None and store.count() == len(DOCUMENT_IDS) - 1
    assert f"reindexed {len(DOCUMENT_IDS)} records" in run("reindex")
    out = tmp_path / "static.xml"
    run("feed", "--out", str(out), "--base-url", "http://gateway.example.org/oai")
    text = out.read_text(encoding="utf-8")
    assert text.count("</oai:record>") == len(DOCUMENT_IDS) - 1  # the Static Repository leaves tombstones out
