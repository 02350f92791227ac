"""Serve the recorded fixtures from a real loopback server, as the live archive would."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from harvester.warc import WarcIndex
from tests.support.archive_server import Answer, ArchiveServer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
WARC_DIR = FIXTURES / "warc"
EXPECTED = FIXTURES / "expected"

_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


def answers_from(warc: Path, server: ArchiveServer) -> None:
    """Route every recorded URL of `warc` to its recorded answer, with Locations rebased on the server."""
    index = WarcIndex(warc)
    for url in index.urls():
        recorded = index.get(url)
        headers = {k: v for k, v in recorded.headers if k.lower() not in _HOP_BY_HOP}
        if "Location" in headers:
            location = urlparse(headers["Location"])
            headers["Location"] = location.path if location.netloc else headers["Location"]
        server.route(urlparse(url).path, Answer(recorded.status, recorded.body, headers))
