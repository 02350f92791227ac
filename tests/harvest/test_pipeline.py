"""The harvest pipeline against a real loopback archive: concurrency cap, block stops the run, history."""

from __future__ import annotations

from pathlib import Path

from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import load_settings
from tests.harvest.conftest import warc_for
from tests.support.archive_server import Answer, ArchiveServer
from tests.support.fixture_site import answers_from

CHALLENGE = (b"<html><head><title>Just a moment...</title></head><body>"
             b"<script src='/cdn-cgi/challenge-platform/x.js'></script></body></html>")


def live_settings(base_url: str, tmp_path: Path, **http: object):  # type: ignore[no-untyped-def]
    return load_settings(environ={}, overrides={
        "archive": {"base_url": base_url, "contact": "mailto:test@example.org"},
        "http": {"rate_limit": 1000.0, "max_retries": 0, **http},
        "storage": {"database": str(tmp_path / "c.db"), "warc_dir": str(tmp_path / "warc")},
    })


def test_concurrency_cap_is_respected(tmp_path: Path) -> None:
    with ArchiveServer() as site:
        for rid in range(1, 9):
            site.route(f"/document/{rid}", Answer(404, b"<html>gone</html>", delay=0.15))
        settings = live_settings(site.base_url, tmp_path, concurrency=2)
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.harvest(list(range(1, 9)), settings=settings, store=store)
    assert summary.counts["not_found"] == 8
    assert site.max_in_flight == 2  # the pool did run in parallel, and never beyond the cap


def test_block_stops_the_run_and_keeps_earlier_records(tmp_path: Path) -> None:
    with ArchiveServer() as site:
        answers_from(warc_for(175798), site)
        site.route("/document/2", Answer(403, CHALLENGE, {"cf-mitigated": "challenge"}))
        for rid in range(3, 12):
            site.route(f"/document/{rid}", Answer(404, b"<html>no</html>"))
        settings = live_settings(site.base_url, tmp_path, concurrency=1)
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.harvest([175798, 2] + list(range(3, 12)), settings=settings, store=store)
            assert store.get(175798) is not None
            events = {row.record_id: row.outcome for row in store.events()}
    statuses = [o.status for o in summary.outcomes]
    assert statuses[:2] == ["new", "blocked"]
    assert set(statuses[2:]) == {"not_attempted"}
    assert summary.exit_code == 2
    assert not any(s.path == "/document/3" for s in site.seen)  # nothing asked after the block
    assert events == {175798: "new", 2: "blocked"}


def test_every_exchange_is_in_the_warc_with_its_request(tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    with ArchiveServer() as site:
        answers_from(warc_for(300641), site)
        site.route("/document/7", Answer(503, b"busy"), Answer(200, b"<html>not a doc</html>"))
        settings = live_settings(site.base_url, tmp_path, max_retries=1, backoff_base=0.0)
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.harvest([300641, 7], settings=settings, store=store)
    assert summary.warc_file is not None
    kinds: list[tuple[str, str, str | None]] = []
    with open(summary.warc_file, "rb") as fh:
        for rec in ArchiveIterator(fh):
            status = rec.http_headers.get_statuscode() if rec.rec_type == "response" else None
            kinds.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI") or "", status))
    responses = [(uri.rsplit("/", 1)[-1], status) for kind, uri, status in kinds if kind == "response"]
    assert ("300641", "301") in responses and ("7", "503") in responses and ("7", "200") in responses
    assert sum(1 for k in kinds if k[0] == "request") == sum(1 for k in kinds if k[0] == "response")
    assert kinds[0][0] == "warcinfo"
