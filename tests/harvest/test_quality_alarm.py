"""The quality alarm runs on `harvest` and `reparse` too, and the run reports count the
fallback alternatives the parser needed.

A "markup change" is made by rewriting every recorded fixture page (the summary's class
renamed, or every `.content-block` dropped) into a new WARC, then harvesting or reparsing
from it over a catalog built from the original pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.cli import cli
from harvester.config import Settings, load_settings
from harvester.warc import RecordedRequest, WarcIndex, WarcWriter
from tests.support.fixture_site import WARC_DIR

DOCUMENTS = WARC_DIR / "documents"


def settings_for(tmp_path: Path, **sync: object) -> Settings:
    return load_settings(environ={}, overrides={
        "storage": {"database": str(tmp_path / "catalog.db"), "warc_dir": str(tmp_path / "warc")},
        "sync": {"quality_min_pages": 5, **sync}})


def rewritten(tmp_path: Path, change: Callable[[bytes], bytes]) -> Path:
    """Every fixture exchange, the 200 pages' bodies changed, into one new WARC file."""
    index = WarcIndex(DOCUMENTS)
    out = tmp_path / "changed" / "site.warc.gz"
    out.parent.mkdir()
    with WarcWriter(out, software="test", operator="test") as writer:
        for url in sorted(index.urls()):
            response = index.get(url)
            if response.status == 200:
                dropped = {"content-encoding", "content-length"}
                headers = [(k, v) for k, v in response.headers if k.lower() not in dropped]
                response = dataclasses.replace(response, body=change(response.body), raw_body=None, headers=headers)
            writer.write_exchange(RecordedRequest("GET", url, [("Host", "digitalarchive.wilsoncenter.org")]), response)
    return out.parent


def catalog_of_fixtures(settings: Settings) -> list[int]:
    ids = pipeline.ids_in_archive(DOCUMENTS)
    with SQLiteStore(settings.storage.database) as store:
        summary = pipeline.harvest(ids, settings=settings, store=store, replay=DOCUMENTS)
    assert summary.exit_code == 0 and not summary.alarms
    return ids


def test_a_markup_change_stops_a_harvest(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ids = catalog_of_fixtures(settings)
    changed = rewritten(tmp_path, lambda body: body.replace(b'class="text-block"', b'class="summary-text"'))
    with SQLiteStore(settings.storage.database) as store:
        summary = pipeline.harvest(ids, settings=settings, store=store, replay=changed)
        summaries = [store.get(rid).record.summary for rid in ids]  # type: ignore[union-attr]
    assert summary.alarms and "'summary'" in summary.alarms[0]
    assert summary.exit_code == 1
    statuses = [o.status for o in summary.outcomes]
    # Stopped once enough pages were judged: the rest kept their summaries.
    assert statuses.count("not_attempted") >= len(ids) - 6, statuses
    assert sum(s is None for s in summaries) <= 6
    stopped = [o.detail for o in summary.outcomes if o.status == "not_attempted"]
    assert set(stopped) == {"the run stopped on a quality alarm"}


def test_reparse_raises_the_alarm_and_exits_1(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    catalog_of_fixtures(settings)
    changed = rewritten(tmp_path, lambda body: body.replace(b'class="text-block"', b'class="summary-text"'))
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "catalog.db"}"\nwarc_dir = "{tmp_path / "warc"}"\n'
                      "[sync]\nquality_min_pages = 5\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "reparse", "--from", str(changed)])
    assert result.exit_code == 1, result.output
    assert "ALARM: field 'summary' is missing" in result.output


def test_an_unchanged_reparse_raises_no_alarm(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    catalog_of_fixtures(settings)
    with SQLiteStore(settings.storage.database) as store:
        summary = pipeline.reparse(settings=settings, store=store, source=DOCUMENTS)
    assert summary.exit_code == 0 and not summary.alarms
    assert summary.parsed == 21 and summary.fallback_lines() == []


def test_fallbacks_are_counted_in_the_run_report(tmp_path: Path) -> None:
    """Without `.content-block` the title block's fields come from the region alternative: counted."""
    settings = settings_for(tmp_path, quality_min_pages=1000)
    changed = rewritten(tmp_path, lambda body: body.replace(b'class="content-block"', b'class="intro"'))
    ids = pipeline.ids_in_archive(changed)
    with SQLiteStore(settings.storage.database) as store:
        summary = pipeline.harvest(ids, settings=settings, store=store, replay=changed)
        matched = store.get(175798).record.provenance.matched  # type: ignore[union-attr]
    assert summary.exit_code == 0
    assert matched["date"] == "#3 .date@region" and matched["title"] == "#1 h1.title@page"
    lines = summary.fallback_lines()
    assert "date: by #3 .date@region on 20 of 21 pages (95%)" in lines, lines  # 999003 shows no date
    assert any(line.startswith("texts: by #2 .tab-pane@region on ") for line in lines), lines
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "other.db"), "harvest", "--replay", str(changed)])
    assert "fallback: date: by #3 .date@region on 20 of 21 pages (95%)" in result.output
