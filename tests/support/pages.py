"""Every HTML page of the fixtures: recorded (WARC) documents and scenarios, hand-written variants
and look-alike pages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from harvester.warc import WarcIndex
from tests.support.fixture_site import FIXTURES, WARC_DIR


@cache
def all_pages() -> list[tuple[str, bytes]]:
    """(name, body) of every fixture page, in a stable order."""
    pages: list[tuple[str, bytes]] = []
    index = WarcIndex(WARC_DIR)
    for url in sorted(index.urls()):
        response = index.get(url)
        if response.body:
            pages.append((url, response.body))
    for folder in ("variants", "lookalikes"):
        for path in sorted((FIXTURES / folder).glob("*.html")):
            pages.append((str(path.relative_to(FIXTURES)), path.read_bytes()))
    return pages


def fixture_path(name: str) -> Path:
    return FIXTURES / name
