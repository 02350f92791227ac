"""The sync report counts the fields the parser found by a fallback alternative of the selector table."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner

from harvester.cli import cli
from harvester.config import Settings
from harvester.sync import SyncResult
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

Sync = Callable[..., SyncResult]


def test_fallbacks_appear_in_the_sync_report(archive: TestArchive, settings: Settings, sync_once: Sync) -> None:
    # The site drops its .content-block wrapper: every title-block field now comes from the region.
    for doc in archive.docs.values():
        doc.body = doc.body.replace(b'class="content-block"', b'class="intro"')
    result = sync_once()
    assert result.exit_code == 0, result.report
    fallbacks = result.report["quality"]["fallbacks"]
    assert fallbacks["date"] == {"#3 .date@region": len(DOCUMENT_IDS) - 1}  # one document shows no date
    assert set(fallbacks["texts"]) == {"#2 .tab-pane@region"}
    assert "title" not in fallbacks  # h1.title is still the first choice
    config = settings.storage.database
    shown = CliRunner().invoke(cli, ["--db", config, "report"])
    assert f"fallback: date: by #3 .date@region on {len(DOCUMENT_IDS) - 1} of {len(DOCUMENT_IDS)} pages" in shown.output


def test_an_unchanged_site_has_no_fallbacks(sync_once: Sync) -> None:
    assert sync_once().report["quality"]["fallbacks"] == {}
