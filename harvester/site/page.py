"""A Wilson Center Digital Archive document page -> raw field values (`ParsedPage`).

The parser reads only what the selector table gives (selectors.py), scoped to the
document's own part of the page (scope.py): the title, its `.content-block` for the date,
credit, text tabs and summary, and the document's region for pills and Document
Information, never an exclusion zone (teasers, cards, banners, furniture). Nothing is taken
from the document body (the body of 175798 says "Cable Nº 4784" under the title "Cable No. 4785").

A page that is not a document page (a person page, a listing, a collection, anything
without the document's own markers) raises NotADocument, which stores nothing. Odd or
missing fields become `problems` in plain words. Nothing else escapes.
"""

from __future__ import annotations

from urllib.parse import urlparse

from bs4 import BeautifulSoup

from catalog.errors import NotADocument, ParseError
from harvester.site import fields
from harvester.site import selectors as table
from harvester.site.bounds import check_bounds
from harvester.site.challenge import is_challenge_html
from harvester.site.decode import clean, decode_html, text_of
from harvester.site.fields import ParsedPage, TabText
from harvester.site.index import ElementsBuilder
from harvester.site.scope import DocumentScope

# Bump when a change to the parser can change records: `reparse` after a bump
# rebuilds every record, and provenance says which parser made each one.
PARSER_VERSION = "1.1.0"

__all__ = ["PARSER_VERSION", "ParsedPage", "TabText", "parse_page"]


def parse_page(body: bytes, *, record_id: int | str, final_url: str, content_type: str | None = None) -> ParsedPage:
    """Parse a document page. Raises ParseError (NotADocument) if it is not one; never anything else."""
    try:
        return _parse(body, record_id=record_id, final_url=final_url, content_type=content_type)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must name the page, not crash the run
        raise ParseError(record_id, f"parser failed: {type(exc).__name__}: {exc}") from exc


def _path(url: str) -> str:
    try:
        return urlparse(url).path or "/"
    except ValueError:
        return url[:200]


def not_a_document(doc: DocumentScope, final_url: str) -> str | None:
    """Why this page is not a document page, or None if it is one."""
    path = _path(final_url)
    if table.NOT_DOCUMENT_PATHS.match(path):
        return "the address is not a document's"
    body = doc.index.first_named("body")
    classes = body.get("class") if body is not None else None
    if isinstance(classes, list) and table.BODY_DOCUMENT_CLASS not in classes:
        other = next((c for c in classes if table.BODY_OTHER_CLASS.match(c)), None)
        if other:
            return f"the page is marked {other!r}"
    current = fields.settings_path(doc)
    if current and not current.startswith(table.SETTINGS_NODE_PREFIX):
        return f"the page's own path is {current!r}"
    if doc.h1 is None:
        return "no document title"
    # The document's own markers, besides the title (a title, a date and a summary are on
    # person and collection pages too).
    index = doc.index
    for css in table.DOCUMENT_MARKERS:
        if any(doc.in_scope_at(i) for i in index.positions(doc.region, css)):
            return None
    blocks, _ = doc.find_all(table.FIELDS["info_block"])
    for block in blocks:
        label, _ = doc.find(table.FIELDS["info_label"], item=block)
        if label is not None and doc.key_of(label) in table.INFO_LABELS:
            return None
    return "none of a document's own markers: text tabs, scan, credit line or Document Information"


def _parse(body: bytes, *, record_id: int | str, final_url: str, content_type: str | None) -> ParsedPage:
    if not body or not body.strip():
        raise ParseError(record_id, "empty page")
    check_bounds(body, record_id)
    text, problems = decode_html(body, content_type)
    if is_challenge_html(text):
        raise ParseError(record_id, "bot-protection challenge page, not a document")
    # BeautifulSoup(text, "lxml"), its builder keeping the elements in order for the selector index
    doc = DocumentScope(BeautifulSoup(text, builder=ElementsBuilder()))
    reason = not_a_document(doc, final_url)
    if reason is not None:
        raise NotADocument(record_id, f"not a document page: {_path(final_url)} ({reason})")
    assert doc.h1 is not None and doc.title_alt is not None
    how = "h1.title" if doc.title_alt is table.TITLE[0] else "h1"
    if how != "h1.title":
        problems.append("title taken from a plain h1 (no h1.title)")
    parsed = ParsedPage(title=clean(text_of(doc.h1)), title_source=how, problems=problems)
    parsed.matched["title"] = fields.ranked(table.TITLE, doc.title_alt)
    fields.date(doc, parsed)
    fields.credit(doc, parsed)
    fields.summary(doc, parsed)
    fields.tabs(doc, parsed)
    fields.sections(doc, parsed)
    fields.information(doc, parsed)
    fields.donors(parsed)
    fields.node_id(doc, parsed)
    fields.canonical(doc, parsed)
    fields.scan_and_download(doc, parsed, final_url)
    return parsed
