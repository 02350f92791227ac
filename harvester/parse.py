"""Wilson Center Digital Archive document page -> raw field values (`ParsedPage`).

The parser reads only what the documented classes and labels give (selectors.py),
scoped to the document's own region: it starts at the page's main `h1.title`, takes
the date, credit, text tabs and summary from that title's `.content-block`, and reads
pills and Document Information only from the region that holds the title, skipping
headers, footers, asides and teaser blocks. Nothing is taken from the document body
(the body of 175798 says "Cable Nº 4784" under the title "Cable No. 4785").

Odd or missing fields become `problems` in plain words; a page that is not a
document page raises ParseError naming the ID. Nothing else escapes.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlparse

from bs4 import BeautifulSoup, PageElement, Tag
from bs4.dammit import UnicodeDammit

from catalog.errors import ParseError
from harvester.selectors import (
    CHALLENGE_MARKERS,
    CHALLENGE_TITLES,
    INFO_LABELS,
    SECTION_HEADINGS,
    SECTION_PREFIXES,
    SELECTORS,
    TEXT_KINDS,
)

# Bump when a change to the parser can change records: `reparse` after a bump
# rebuilds every record, and provenance says which parser made each one.
PARSER_VERSION = "1.0.0"

_SPACES = re.compile(r"\s+")
_BLOCK_TAGS = {
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "table",
    "section", "article", "pre", "dd", "dt", "dl", "br", "hr", "figure", "figcaption", "address",
}
# ASCII digits, at most 18 (an SQLite INTEGER): `\d` would also take "١٢٣", and a huge
# number would pass the parser only to break the catalog write.
_NODE_PATH = re.compile(r"^node/([0-9]{1,18})$")
_DOWNLOAD = re.compile(r"/document/([0-9]{1,18})/download/?$")


@dataclass
class TabText:
    label: str
    text: str
    lang_attr: str | None = None


@dataclass
class ParsedPage:
    """What the page shows, as strings, before normalization."""

    title: str
    title_source: str  # "h1.title", "h1" or "<title>": how sure we are of the title
    date: str | None = None
    credit: str | None = None
    summary: str | None = None
    tabs: list[TabText] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    info: dict[str, list[str] | str] = field(default_factory=dict)
    node_id: int | None = None
    canonical: str | None = None
    pdf_url: str | None = None
    download_url: str | None = None
    problems: list[str] = field(default_factory=list)


def clean(text: str | None) -> str:
    """Collapse runs of white space (including non-breaking spaces) to one space."""
    return _SPACES.sub(" ", (text or "").replace("\xa0", " ")).strip()


def decode_html(body: bytes, content_type: str | None) -> tuple[str, list[str]]:
    """Decode the body, trusting the declared charset only if the bytes agree with it."""
    declared = None
    if content_type and "charset=" in content_type.lower():
        declared = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"') or None
    if declared:
        try:
            text = body.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
        else:
            if body.isascii() or codecs.lookup(declared).name == "utf-8":
                return text, []
            # A legacy charset (iso-8859-1, windows-1252…) decodes any bytes, so success proves
            # nothing: non-ASCII bytes that are valid UTF-8 are UTF-8 mislabelled, not mojibake.
            try:
                return body.decode("utf-8"), [f"page declared {declared} but is utf-8; decoded as the latter"]
            except UnicodeDecodeError:
                return text, []
    dammit = UnicodeDammit(body, ["utf-8", "windows-1252"], is_html=True)
    text = dammit.unicode_markup or body.decode("utf-8", errors="replace")
    problems = []
    if declared and dammit.original_encoding and dammit.original_encoding.lower() != declared:
        problems.append(f"page declared {declared} but is {dammit.original_encoding}; decoded as the latter")
    return text, problems


def is_challenge_html(text: str) -> bool:
    head = text[:20000].lower()
    title = re.search(r"<title[^>]*>(.*?)</title>", head, re.S)
    if title and any(t in title.group(1) for t in CHALLENGE_TITLES):
        return True
    return any(marker in head for marker in CHALLENGE_MARKERS)


def decode_cfemail(hex_text: str) -> str | None:
    """Undo Cloudflare's e-mail obfuscation: the first byte is the XOR key of the rest."""
    try:
        data = bytes.fromhex(hex_text)
    except ValueError:
        return None
    if len(data) < 2:
        return None
    key = data[0]
    return bytes(b ^ key for b in data[1:]).decode("utf-8", errors="replace")


def block_text(node: Tag) -> str:
    """Text of an element as paragraphs joined by blank lines, spaces collapsed in each."""
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = clean("".join(current))
        if text:
            paragraphs.append(text)
        current.clear()

    # Depth-first with an explicit stack, not recursion: a page nested thousands of
    # elements deep must not exhaust Python's recursion limit.
    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(node.children), False)]
    while stack:
        children, in_block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if in_block:
                flush()
            continue
        if isinstance(child, Tag):
            if child.name in {"script", "style", "template", "noscript"}:
                continue
            if child.has_attr("data-cfemail"):
                current.append(decode_cfemail(str(child["data-cfemail"])) or child.get_text())
                continue
            block = child.name in _BLOCK_TAGS
            if block:
                flush()
            stack.append((iter(child.children), block))
        elif child.__class__.__name__ in {"NavigableString", "CData"}:
            current.append(str(child))
    flush()
    return "\n\n".join(paragraphs)


class _Page:
    def __init__(self, soup: BeautifulSoup, record_id: int | str, final_url: str) -> None:
        self.soup = soup
        self.record_id = record_id
        self.final_url = final_url

    # -- scope -------------------------------------------------------------------
    @staticmethod
    def _outside_document(node: Tag) -> bool:
        return node.find_parent(["header", "footer", "nav", "aside"]) is not None

    def main_title(self) -> tuple[Tag | None, str]:
        for css, how in (("title", "h1.title"), ("title_any", "h1")):
            for h1 in self.soup.select(SELECTORS[css]):
                if not self._outside_document(h1) and clean(h1.get_text()):
                    return h1, how
        return None, ""

    @staticmethod
    def region(h1: Tag) -> Tag:
        """The smallest ancestor that is the document's own article/main region."""
        for name in ("article", "main"):
            found = h1.find_parent(name)
            if found is not None:
                return found
        found = h1.find_parent(attrs={"role": "main"})
        return found if found is not None else h1.find_parent("body") or h1

    def in_scope(self, node: Tag, region: Tag, own_block: Tag | None) -> bool:
        """True if `node` belongs to this document and not to a teaser or page furniture."""
        if self._outside_document(node):
            return False
        # A nested article (a teaser) inside our region is another document.
        article = node.find_parent("article")
        if article is not None and region.name == "article" and article is not region:
            return False
        # Another `.content-block` (a teaser reusing the classes) is not ours.
        block = node.find_parent(class_="content-block")
        if block is not None and own_block is not None and block is not own_block:
            return False
        return True


def parse_page(body: bytes, *, record_id: int | str, final_url: str, content_type: str | None = None) -> ParsedPage:
    """Parse a document page. Raises ParseError if it is not one; never anything else."""
    try:
        return _parse(body, record_id=record_id, final_url=final_url, content_type=content_type)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must name the page, not crash the run
        raise ParseError(record_id, f"parser failed: {type(exc).__name__}: {exc}") from exc


def _parse(body: bytes, *, record_id: int | str, final_url: str, content_type: str | None) -> ParsedPage:
    if not body or not body.strip():
        raise ParseError(record_id, "empty page")
    text, problems = decode_html(body, content_type)
    if is_challenge_html(text):
        raise ParseError(record_id, "bot-protection challenge page, not a document")
    soup = BeautifulSoup(text, "lxml")
    page = _Page(soup, record_id, final_url)

    h1, how = page.main_title()
    title = clean(h1.get_text()) if h1 is not None else ""
    own_block = h1.find_parent(class_="content-block") if h1 is not None else None
    region = page.region(h1) if h1 is not None else (soup.find("main") or soup.body or soup)
    info_blocks = [b for b in region.select(SELECTORS["info_block"]) if page.in_scope(b, region, own_block)]

    # A document page has a title and at least the document furniture around it.
    if h1 is None or (own_block is None and not info_blocks):
        raise ParseError(record_id, "not a document page (no document title block or Document Information)")
    if how != "h1.title":
        problems.append("title taken from a plain h1 (no h1.title)")

    parsed = ParsedPage(title=title, title_source=how, problems=problems)
    block = own_block if own_block is not None else region

    date_el = block.select_one(SELECTORS["date"])
    # No element and an empty one mean the same to a reader: normalize_date reports "no date shown".
    parsed.date = clean(date_el.get_text()) or None if date_el is not None else None

    credit = block.select_one(SELECTORS["credit"])
    parsed.credit = clean(credit.get_text()) if credit is not None else None

    summary_el = block.select_one(SELECTORS["summary"])
    if summary_el is None and own_block is not None:
        candidates = [s for s in region.select(SELECTORS["summary"]) if page.in_scope(s, region, own_block)]
        summary_el = candidates[0] if candidates else None
    parsed.summary = (block_text(summary_el) or None) if summary_el is not None else None

    parsed.tabs = _tabs(region, block, page, own_block)
    parsed.sections = _sections(region, page, own_block, problems)
    parsed.info = _information(info_blocks, problems)

    parsed.node_id = _node_id(soup, problems)
    canonical = soup.select_one(SELECTORS["canonical"])
    parsed.canonical = str(canonical["href"]) if canonical is not None and canonical.has_attr("href") else None

    pdf = next((p for p in region.select(SELECTORS["pdf_preview"]) if page.in_scope(p, region, own_block)), None)
    if pdf is not None:
        src = pdf.get("data") or pdf.get("src") or pdf.get("href")
        parsed.pdf_url = _absolute(final_url, str(src), "scan", problems) if src else None
    for link in soup.select(SELECTORS["download_link"]):
        href = str(link["href"])
        try:
            match = _DOWNLOAD.search(urlparse(href).path)
        except ValueError:  # "http://[::1/…": not a URL at all
            continue
        if match and page.in_scope(link, region, own_block):
            parsed.download_url = _absolute(final_url, href, "download", problems)
            if parsed.node_id is None:
                parsed.node_id = int(match.group(1))
            break
    return parsed


def _absolute(base: str, href: str, what: str, problems: list[str]) -> str | None:
    """`href` resolved against the page's URL; None (and a problem) if it is not a URL."""
    try:
        return urljoin(base, href)
    except ValueError:
        problems.append(f"{what} link is not a URL: {href[:100]!r}")
        return None


def _tabs(region: Tag, block: Tag, page: _Page, own_block: Tag | None) -> list[TabText]:
    panes = [p for p in block.select(SELECTORS["tab_pane"])]
    if not panes:
        panes = [p for p in region.select(SELECTORS["tab_pane"]) if page.in_scope(p, region, own_block)]
    tabs: list[TabText] = []
    for index, pane in enumerate(panes):
        text = block_text(pane)
        if not text:
            continue
        tabs.append(TabText(label=_tab_label(pane, region) or f"Text {index + 1}", text=text,
                            lang_attr=str(pane["lang"]) if pane.has_attr("lang") else None))
    if not tabs:
        # A text block without panes: #documentTabs itself may be the only holder of the text.
        holder = block.select_one(SELECTORS["tabs"]) or region.select_one(SELECTORS["tabs"])
        if holder is not None and holder.name not in {"ul", "ol", "nav"}:
            text = block_text(holder)
            if text:
                tabs.append(TabText(label="Text", text=text))
    return tabs


def _tab_label(pane: Tag, region: Tag) -> str | None:
    """The nav item that controls this pane (Bootstrap 4/5 and ARIA forms), else the pane's own label."""
    pane_id = pane.get("id")
    if pane_id:
        for attr in ("data-bs-target", "data-target", "href"):
            control = region.find(attrs={attr: f"#{pane_id}"})
            if control is not None and clean(control.get_text()):
                return clean(control.get_text())
        control = region.find(attrs={"aria-controls": pane_id})
        if control is not None and clean(control.get_text()):
            return clean(control.get_text())
    labelled = pane.get("aria-labelledby")
    if labelled:
        control = region.find(id=str(labelled))
        if control is not None and clean(control.get_text()):
            return clean(control.get_text())
    return None


def _heading_key(text: str) -> str:
    return clean(text).rstrip(":").strip().casefold()


def _pill_names(container: Tag) -> list[str]:
    names: list[str] = []
    for pill in container.select(SELECTORS["pill"]):
        name = pill.select_one(SELECTORS["pill_name"])
        target = name if name is not None else pill
        span = target.find("span") if name is not None else None
        value = clean((span or target).get_text())
        if value and value not in names:
            names.append(value)
    return names


def _sections(region: Tag, page: _Page, own_block: Tag | None, problems: list[str]) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for heading in region.select(SELECTORS["section_heading"]):
        if heading.name == "h1" or not page.in_scope(heading, region, own_block):
            continue
        key = _heading_key(heading.get_text())
        field_name = SECTION_HEADINGS.get(key) or next(
            (f for prefix, f in SECTION_PREFIXES.items() if key.startswith(prefix)), None
        )
        if field_name is None:
            continue
        names: list[str] = []
        sibling = heading.find_next_sibling()
        if sibling is not None and sibling.select(SELECTORS["pill"]) and not sibling.select(SELECTORS["section_heading"]):
            names = _pill_names(sibling)
        if not names:
            container = heading.find_parent(class_="pill-block")
            if container is not None:
                names = _pill_names(container)
        if not names:
            problems.append(f"section {clean(heading.get_text())!r} has no names")
            continue
        existing = sections.setdefault(field_name, [])
        existing.extend(n for n in names if n not in existing)
    return sections


def _information(blocks: list[Tag], problems: list[str]) -> dict[str, list[str] | str]:
    info: dict[str, list[str] | str] = {}
    for block in blocks:
        label_el = block.select_one(SELECTORS["info_label"])
        if label_el is None:
            problems.append("a Document Information block has no label")
            continue
        label = clean(label_el.get_text())
        field_name = INFO_LABELS.get(label.rstrip(":").strip().casefold())
        if field_name is None:
            problems.append(f"unknown Document Information label {label!r}")
            continue
        pills = _pill_names(block)
        if pills:
            info[field_name] = pills
            continue
        value_el = block.select_one(SELECTORS["info_text"])
        if value_el is not None:
            value = block_text(value_el)
        else:
            # Label-minus-text rule: the block's text without its label.
            label_el.extract()
            value = block_text(block)
        if value:
            info[field_name] = value
    return info


def _node_id(soup: BeautifulSoup, problems: list[str]) -> int | None:
    script = soup.select_one(SELECTORS["drupal_settings"])
    if script is not None:
        try:
            settings = json.loads(script.get_text())
            path = str(settings.get("path", {}).get("currentPath", ""))
        except (ValueError, AttributeError):
            problems.append("Drupal settings are not valid JSON")
        else:
            match = _NODE_PATH.match(path)
            if match:
                return int(match.group(1))
    shortlink = soup.select_one(SELECTORS["shortlink"])
    if shortlink is not None and shortlink.has_attr("href"):
        match = re.search(r"/node/([0-9]{1,18})/?$", str(shortlink["href"]))
        if match:
            return int(match.group(1))
    return None
