"""A small, mutable Wilson Center Digital Archive on loopback, for sync tests.

It serves the fixture document pages (from fixtures/warc), `/document/<ID>` redirects
to their slugs, `/search?page=N` listings (newest first, `td.document` links and the
"1 - 10 of N" counter), robots.txt, and ETag / Last-Modified with 304 answers. Between
runs a test can change, touch (new bytes, same content), delete (404 or 410), restore,
rename (new slug) or add documents. Every answer is computed from the current state,
so two runs against the same state get the same answers.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlparse

from harvester.site.listing import listing_url
from harvester.warc import WarcIndex
from tests.support.archive_server import Answer, ArchiveServer, Seen
from tests.support.fixture_site import WARC_DIR

# The fixture documents that parse cleanly under their own Record ID (999008's page shows
# another ID on purpose, so it is left out).
DOCUMENT_IDS = [175798, 300237, 300238, 300239, 300240, 300241, 300242, 300638, 300639, 300640, 300641,
                300653, 999001, 999002, 999003, 999004, 999005, 999006, 999007, 999207]
_FIRST_H1 = re.compile(rb"(<h1[^>]*class=\"[^\"]*title[^\"]*\"[^>]*>)(.*?)(</h1>)", re.S)
_RECORD_ID_VALUE = re.compile(rb"(Record ID</h3>\s*<[^>]*>\s*)(\d+)")
_T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Doc:
    record_id: int
    slug: str
    body: bytes
    seq: int  # upload order: the listing shows the highest first
    status: int = 200  # 200, or 404/410 once deleted
    version: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    @property
    def last_modified(self) -> str:
        return format_datetime(_T0 + timedelta(hours=self.version), usegmt=True)


def fixture_path(record_id: int) -> Path:
    # Found wherever it sits under fixtures/warc (the folder layout there may grow sub-folders).
    name = f"doc-{record_id}.warc.gz"
    direct = WARC_DIR / name
    return direct if direct.exists() else next(WARC_DIR.rglob(name))


def _load_fixture(record_id: int) -> tuple[str, bytes]:
    index = WarcIndex(fixture_path(record_id))
    for url in index.urls():
        recorded = index.get(url)
        if recorded.status == 200:
            return urlparse(url).path.rsplit("/", 1)[-1], recorded.body
    raise LookupError(record_id)


_FIXTURES: dict[int, tuple[str, bytes]] = {}


def fixture_page(record_id: int) -> tuple[str, bytes]:
    if record_id not in _FIXTURES:
        _FIXTURES[record_id] = _load_fixture(record_id)
    return _FIXTURES[record_id]


def listing_path(page: int) -> str:
    """The path and query the harvester asks for listing page `page` (sort parameters included)."""
    url = urlparse(listing_url("http://archive.test", page))
    return f"{url.path}?{url.query}"


class TestArchive:
    __test__ = False  # not a pytest test class

    def __init__(self, ids: list[int] | None = None, *, page_size: int = 10, robots: str | None = None) -> None:
        self.server = ArchiveServer()
        self.page_size = page_size
        self.robots = robots if robots is not None else "User-agent: *\nAllow: /\n"
        self.docs: dict[int, Doc] = {}
        self._seq = 0
        for record_id in ids if ids is not None else DOCUMENT_IDS:
            self.add(record_id)
        self.server.route("/robots.txt", lambda seen: Answer(200, self.robots.encode(),
                                                             {"Content-Type": "text/plain"}))
        for page in range(0, 60):
            self.server.route(listing_path(page), self._listing_handler(page))

    # -- lifecycle ----------------------------------------------------------------
    def __enter__(self) -> TestArchive:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def seen(self) -> list[Seen]:
        return self.server.seen

    # -- changes between runs -------------------------------------------------------
    def add(self, record_id: int, *, as_id: int | None = None) -> Doc:
        """Publish a fixture document (optionally under another Record ID, for more documents)."""
        slug, body = fixture_page(record_id)
        new_id = as_id or record_id
        if as_id:
            slug = f"{slug}-{as_id}"
            body = _RECORD_ID_VALUE.sub(lambda m: m.group(1) + str(as_id).encode(), body, count=1)
            body = _FIRST_H1.sub(lambda m: m.group(1) + m.group(2) + f" (copy {as_id})".encode() + m.group(3),
                                 body, count=1)
        self._seq += 1
        doc = Doc(new_id, slug, body, self._seq)
        self.docs[new_id] = doc
        self._route_doc(doc)
        return doc

    def change(self, record_id: int, note: str = "revised") -> None:
        """A real content change: the title gains a note."""
        doc = self.docs[record_id]
        doc.body = _FIRST_H1.sub(lambda m: m.group(1) + m.group(2) + f" ({note})".encode() + m.group(3),
                                 doc.body, count=1)
        doc.version += 1

    def touch(self, record_id: int) -> None:
        """New bytes (so a new ETag and a 200), same content: the "same hash" path."""
        doc = self.docs[record_id]
        doc.version += 1
        doc.body = doc.body.replace(b"</body>", f"<!-- served {doc.version} -->\n</body>".encode(), 1)

    def restyle(self, old: bytes, new: bytes) -> None:
        """A site-wide markup change (e.g. a class renamed) on every page."""
        for doc in self.docs.values():
            if old in doc.body:
                doc.body = doc.body.replace(old, new)
                doc.version += 1

    def delete(self, record_id: int, status: int = 404) -> None:
        self.docs[record_id].status = status

    def restore(self, record_id: int) -> None:
        self.docs[record_id].status = 200

    def rename(self, record_id: int, new_slug: str) -> None:
        """The slug changes (as when a title is edited); the old slug URL then answers 404."""
        doc = self.docs[record_id]
        old = doc.slug
        doc.body = doc.body.replace(f"/document/{old}".encode(), f"/document/{new_slug}".encode())
        doc.slug = new_slug
        doc.version += 1
        self.server.route(f"/document/{old}", Answer(404, b"<html><title>Page not found</title></html>"))
        self._route_doc(doc)

    # -- answers --------------------------------------------------------------------
    def _route_doc(self, doc: Doc) -> None:
        record_id = doc.record_id
        self.server.route(f"/document/{record_id}", lambda seen: self._redirect(record_id))
        self.server.route(f"/document/{doc.slug}", lambda seen: self._page(record_id, seen))

    def _gone(self, doc: Doc) -> Answer:
        title = "Page not found" if doc.status == 404 else "Gone"
        return Answer(doc.status, f"<html><head><title>{title}</title></head><body></body></html>".encode())

    def _redirect(self, record_id: int) -> Answer:
        doc = self.docs[record_id]
        if doc.status != 200:
            return self._gone(doc)
        return Answer(301, b"Redirecting", {"Location": f"/document/{doc.slug}"})

    def _page(self, record_id: int, seen: Seen) -> Answer:
        doc = self.docs[record_id]
        if doc.status != 200:
            return self._gone(doc)
        headers = {"ETag": doc.etag, "Last-Modified": doc.last_modified}
        inm = seen.headers.get("if-none-match")
        ims = seen.headers.get("if-modified-since")
        if inm is not None:
            if doc.etag in [t.strip() for t in inm.split(",")]:
                return Answer(304, b"", headers)
        elif ims is not None:
            try:
                if parsedate_to_datetime(ims) >= parsedate_to_datetime(doc.last_modified):
                    return Answer(304, b"", headers)
            except (TypeError, ValueError):
                pass
        return Answer(200, doc.body, headers)

    def listed(self) -> list[Doc]:
        return sorted((d for d in self.docs.values() if d.status == 200), key=lambda d: -d.seq)

    def _listing_handler(self, page: int):  # type: ignore[no-untyped-def]
        def handler(seen: Seen) -> Answer:
            return Answer(200, self.listing_page(page))
        return handler

    def listing_page(self, page: int) -> bytes:
        docs = self.listed()
        chunk = docs[page * self.page_size:(page + 1) * self.page_size]
        rows = "".join(
            f'<tr><td class="document contextual-region"><a href="/document/{html.escape(d.slug)}">'
            f"Document {d.record_id}</a></td></tr>" for d in chunk)
        counter = (f"<div class='view-header'>{page * self.page_size + 1} - {page * self.page_size + len(chunk)}"
                   f" of {len(docs)}</div>") if chunk else "<p>No results.</p>"
        return (f"<!DOCTYPE html><html><head><title>Search</title></head><body>"
                f"<header><a href='/document/about-menu-link'>About</a></header><main>{counter}"
                f"<table class='table table-hover table-striped'><tbody>{rows}</tbody></table></main>"
                f"<footer></footer></body></html>").encode()

    # -- inspection -----------------------------------------------------------------
    def paths(self, since: int = 0) -> list[str]:
        return [s.path for s in self.server.seen[since:]]

