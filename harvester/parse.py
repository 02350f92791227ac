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
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlparse

import soupsieve
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


# -- selector index ------------------------------------------------------------------
# One walk over the tree (document order) records, for every element, its position, the
# position of its last descendant and its scope context (inside page furniture? nearest
# enclosing article and `.content-block`), and which table selectors it matches. Every
# `select`, `select_one` and scope check is then a lookup, not a fresh tree walk through
# soupsieve or find_parent. The table's selectors are compiled once, at import: simple
# compounds (tag, .class, #id, [attr]) are matched here; attribute values are confirmed
# by soupsieve itself; anything else is left to soupsieve entirely.
_FURNITURE = frozenset({"header", "footer", "nav", "aside"})
_COMPOUND = re.compile(r"([a-z][a-z0-9]*)?((?:[.#][A-Za-z_][A-Za-z0-9_-]*)*)((?:\[[^\]]+\])*)")
_ATTR_PRESENT = re.compile(r"\[([A-Za-z_][A-Za-z0-9_-]*)\]")


@dataclass(frozen=True)
class _Compound:
    key: str
    tag: str | None
    classes: tuple[str, ...]
    id: str | None
    present: tuple[str, ...]  # [attr] parts
    confirm: object | None  # soupsieve's compiled selector, for [attr="value"] parts


def _compile_table(table: dict[str, str]) -> tuple[list[_Compound], dict[str, object]]:
    compounds: list[_Compound] = []
    fallback: dict[str, object] = {}
    for key, css in table.items():
        parts = [p.strip() for p in css.split(",")]
        mine: list[_Compound] = []
        for part in parts:
            match = _COMPOUND.fullmatch(part)
            if match is None or not (match.group(1) or match.group(2)):
                mine = []
                break
            simple = match.group(2)
            classes = tuple(re.findall(r"\.([A-Za-z0-9_-]+)", simple))
            ids = re.findall(r"#([A-Za-z0-9_-]+)", simple)
            attrs = match.group(3)
            present = tuple(_ATTR_PRESENT.findall(attrs))
            valued = bool(attrs) and len(present) != attrs.count("[")
            mine.append(_Compound(key, match.group(1), classes, ids[0] if len(ids) == 1 else None,
                                  present, soupsieve.compile(part) if valued or len(ids) > 1 else None))
        if mine:
            compounds.extend(mine)
        else:
            fallback[key] = soupsieve.compile(css)
    return compounds, fallback


_COMPOUNDS, _FALLBACK = _compile_table(SELECTORS)
_BY_TAG: dict[str, list[_Compound]] = {}
_BY_CLASS: dict[str, list[_Compound]] = {}
_BY_ID: dict[str, list[_Compound]] = {}
for _c in _COMPOUNDS:
    if _c.tag is not None:
        _BY_TAG.setdefault(_c.tag, []).append(_c)
    elif _c.classes:
        _BY_CLASS.setdefault(_c.classes[0], []).append(_c)
    else:
        _BY_ID.setdefault(_c.id or "", []).append(_c)


def _classes_of(tag: Tag) -> list[str]:
    value = tag.attrs.get("class")
    if value is None:
        return []
    return value.split() if isinstance(value, str) else value


def _matches(c: _Compound, tag: Tag, classes: list[str]) -> bool:
    if c.tag is not None and tag.name != c.tag:
        return False
    for name in c.classes:
        if name not in classes:
            return False
    if c.id is not None and tag.attrs.get("id") != c.id:
        return False
    for name in c.present:
        if name not in tag.attrs:
            return False
    return c.confirm is None or c.confirm.match(tag)  # type: ignore[attr-defined]


class _Index:
    """Positions, scope context and selector matches of every element of one page."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.soup = soup
        order: list[Tag] = []
        end: list[int] = []
        furniture: list[bool] = []
        article: list[Tag | None] = []
        block: list[Tag | None] = []
        hits: dict[str, list[int]] = {}
        pos: dict[int, int] = {}
        # (children, own index, furniture / article / block for the children)
        stack: list[tuple[Iterator[PageElement], int, bool, Tag | None, Tag | None]] = [
            (iter(soup.contents), -1, False, None, None)]
        while stack:
            children, parent, f, a, b = stack[-1]
            for child in children:
                if not isinstance(child, Tag):
                    continue
                i = len(order)
                order.append(child)
                end.append(i)
                pos[id(child)] = i
                furniture.append(f)
                article.append(a)
                block.append(b)
                name = child.name
                classes = _classes_of(child)
                candidates = _BY_TAG.get(name, [])
                for cls in classes:
                    more = _BY_CLASS.get(cls)
                    if more:
                        candidates = candidates + more
                ident = child.attrs.get("id")
                if ident is not None and _BY_ID and isinstance(ident, str) and ident in _BY_ID:
                    candidates = candidates + _BY_ID[ident]
                for c in candidates:
                    got = hits.setdefault(c.key, [])
                    if (not got or got[-1] != i) and _matches(c, child, classes):
                        got.append(i)
                stack.append((iter(child.contents), i, f or name in _FURNITURE,
                              child if name == "article" else a,
                              child if "content-block" in classes else b))
                break
            else:
                stack.pop()
                if parent >= 0:
                    end[parent] = len(order) - 1
        self.order = order
        self.end = end
        self.furniture = furniture
        self.article = article
        self.block = block
        self.hits = hits
        self.pos = pos
        self.removed: list[tuple[int, int]] = []  # position ranges taken out of the tree
        self._by_attr: dict[str, dict[str, list[int]]] = {}

    def span(self, root: Tag) -> tuple[int, int]:
        """Positions of `root`'s descendants (exclusive start, inclusive end)."""
        if root is self.soup:
            return -1, len(self.order) - 1
        i = self.pos[id(root)]
        return i, self.end[i]

    def _live(self, i: int) -> bool:
        return not any(lo <= i <= hi for lo, hi in self.removed)

    def select(self, root: Tag, key: str) -> list[Tag]:
        """`root.select(SELECTORS[key])`: matching descendants in document order."""
        compiled = _FALLBACK.get(key)
        if compiled is not None:
            return list(compiled.select(root))  # type: ignore[attr-defined]
        positions = self.hits.get(key)
        if not positions:
            return []
        lo, hi = self.span(root)
        found = positions[bisect_right(positions, lo):bisect_right(positions, hi)]
        if self.removed:
            found = [i for i in found if self._live(i)]
        return [self.order[i] for i in found]

    def select_one(self, root: Tag, key: str) -> Tag | None:
        compiled = _FALLBACK.get(key)
        if compiled is not None:
            return compiled.select_one(root)  # type: ignore[attr-defined]
        found = self.select(root, key)
        return found[0] if found else None

    def extracted(self, node: Tag) -> None:
        """`node` was taken out of the tree: it and its descendants no longer match."""
        i = self.pos.get(id(node))
        if i is not None:
            self.removed.append((i, self.end[i]))

    def find_by_attr(self, root: Tag, attr: str, value: str) -> Tag | None:
        """`root.find(attrs={attr: value})` for a single-valued attribute."""
        table = self._by_attr.get(attr)
        if table is None:
            table = {}
            for i, tag in enumerate(self.order):
                v = tag.attrs.get(attr)
                if isinstance(v, str):
                    table.setdefault(v, []).append(i)
            self._by_attr[attr] = table
        positions = table.get(value)
        if not positions:
            return None
        lo, hi = self.span(root)
        for i in positions[bisect_right(positions, lo):bisect_right(positions, hi)]:
            if self._live(i):
                return self.order[i]
        return None


class _Page:
    def __init__(self, soup: BeautifulSoup, record_id: int | str, final_url: str) -> None:
        self.soup = soup
        self.record_id = record_id
        self.final_url = final_url
        self.index = _Index(soup)

    def select(self, root: Tag, key: str) -> list[Tag]:
        return self.index.select(root, key)

    def select_one(self, root: Tag, key: str) -> Tag | None:
        return self.index.select_one(root, key)

    # -- scope -------------------------------------------------------------------
    def _outside_document(self, node: Tag) -> bool:
        """Inside a header, footer, nav or aside (an ancestor, not the node itself)."""
        return self.index.furniture[self.index.pos[id(node)]]

    def own_block(self, node: Tag) -> Tag | None:
        """The nearest enclosing `.content-block` (find_parent(class_="content-block"))."""
        return self.index.block[self.index.pos[id(node)]]

    def main_title(self) -> tuple[Tag | None, str]:
        for css, how in (("title", "h1.title"), ("title_any", "h1")):
            for h1 in self.select(self.soup, css):
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
        index = self.index
        i = index.pos[id(node)]
        if index.furniture[i]:
            return False
        # A nested article (a teaser) inside our region is another document.
        article = index.article[i]
        if article is not None and region.name == "article" and article is not region:
            return False
        # Another `.content-block` (a teaser reusing the classes) is not ours.
        block = index.block[i]
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
    own_block = page.own_block(h1) if h1 is not None else None
    region = page.region(h1) if h1 is not None else (soup.find("main") or soup.body or soup)
    info_blocks = [b for b in page.select(region, "info_block") if page.in_scope(b, region, own_block)]

    # A document page has a title and at least the document furniture around it.
    if h1 is None or (own_block is None and not info_blocks):
        raise ParseError(record_id, "not a document page (no document title block or Document Information)")
    if how != "h1.title":
        problems.append("title taken from a plain h1 (no h1.title)")

    parsed = ParsedPage(title=title, title_source=how, problems=problems)
    block = own_block if own_block is not None else region

    date_el = page.select_one(block, "date")
    # No element and an empty one mean the same to a reader: normalize_date reports "no date shown".
    parsed.date = clean(date_el.get_text()) or None if date_el is not None else None

    credit = page.select_one(block, "credit")
    parsed.credit = clean(credit.get_text()) if credit is not None else None

    summary_el = page.select_one(block, "summary")
    if summary_el is None and own_block is not None:
        candidates = [s for s in page.select(region, "summary") if page.in_scope(s, region, own_block)]
        summary_el = candidates[0] if candidates else None
    parsed.summary = (block_text(summary_el) or None) if summary_el is not None else None

    parsed.tabs = _tabs(region, block, page, own_block)
    parsed.sections = _sections(region, page, own_block, problems)
    parsed.info = _information(info_blocks, page, problems)

    parsed.node_id = _node_id(page, problems)
    canonical = page.select_one(soup, "canonical")
    parsed.canonical = str(canonical["href"]) if canonical is not None and canonical.has_attr("href") else None

    pdf = next((p for p in page.select(region, "pdf_preview") if page.in_scope(p, region, own_block)), None)
    if pdf is not None:
        src = pdf.get("data") or pdf.get("src") or pdf.get("href")
        parsed.pdf_url = _absolute(final_url, str(src), "scan", problems) if src else None
    for link in page.select(soup, "download_link"):
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
    panes = page.select(block, "tab_pane")
    if not panes:
        panes = [p for p in page.select(region, "tab_pane") if page.in_scope(p, region, own_block)]
    tabs: list[TabText] = []
    for index, pane in enumerate(panes):
        text = block_text(pane)
        if not text:
            continue
        tabs.append(TabText(label=_tab_label(pane, region, page) or f"Text {index + 1}", text=text,
                            lang_attr=str(pane["lang"]) if pane.has_attr("lang") else None))
    if not tabs:
        # A text block without panes: #documentTabs itself may be the only holder of the text.
        holder = page.select_one(block, "tabs") or page.select_one(region, "tabs")
        if holder is not None and holder.name not in {"ul", "ol", "nav"}:
            text = block_text(holder)
            if text:
                tabs.append(TabText(label="Text", text=text))
    return tabs


def _tab_label(pane: Tag, region: Tag, page: _Page) -> str | None:
    """The nav item that controls this pane (Bootstrap 4/5 and ARIA forms), else the pane's own label."""
    pane_id = pane.get("id")
    if isinstance(pane_id, str) and pane_id:
        for attr in ("data-bs-target", "data-target", "href"):
            control = page.index.find_by_attr(region, attr, f"#{pane_id}")
            if control is not None and clean(control.get_text()):
                return clean(control.get_text())
        control = page.index.find_by_attr(region, "aria-controls", pane_id)
        if control is not None and clean(control.get_text()):
            return clean(control.get_text())
    labelled = pane.get("aria-labelledby")
    if labelled:
        control = page.index.find_by_attr(region, "id", str(labelled))
        if control is not None and clean(control.get_text()):
            return clean(control.get_text())
    return None


def _heading_key(text: str) -> str:
    return clean(text).rstrip(":").strip().casefold()


def _pill_names(container: Tag, page: _Page) -> list[str]:
    names: list[str] = []
    for pill in page.select(container, "pill"):
        name = page.select_one(pill, "pill_name")
        target = name if name is not None else pill
        span = target.find("span") if name is not None else None
        value = clean((span or target).get_text())
        if value and value not in names:
            names.append(value)
    return names


def _sections(region: Tag, page: _Page, own_block: Tag | None, problems: list[str]) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for heading in page.select(region, "section_heading"):
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
        if sibling is not None and page.select(sibling, "pill") and not page.select(sibling, "section_heading"):
            names = _pill_names(sibling, page)
        if not names:
            container = heading.find_parent(class_="pill-block")
            if container is not None:
                names = _pill_names(container, page)
        if not names:
            problems.append(f"section {clean(heading.get_text())!r} has no names")
            continue
        existing = sections.setdefault(field_name, [])
        existing.extend(n for n in names if n not in existing)
    return sections


def _information(blocks: list[Tag], page: _Page, problems: list[str]) -> dict[str, list[str] | str]:
    info: dict[str, list[str] | str] = {}
    for block in blocks:
        label_el = page.select_one(block, "info_label")
        if label_el is None:
            problems.append("a Document Information block has no label")
            continue
        label = clean(label_el.get_text())
        field_name = INFO_LABELS.get(label.rstrip(":").strip().casefold())
        if field_name is None:
            problems.append(f"unknown Document Information label {label!r}")
            continue
        pills = _pill_names(block, page)
        if pills:
            info[field_name] = pills
            continue
        value_el = page.select_one(block, "info_text")
        if value_el is not None:
            value = block_text(value_el)
        else:
            # Label-minus-text rule: the block's text without its label.
            label_el.extract()
            page.index.extracted(label_el)
            value = block_text(block)
        if value:
            info[field_name] = value
    return info


def _node_id(page: _Page, problems: list[str]) -> int | None:
    script = page.select_one(page.soup, "drupal_settings")
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
    shortlink = page.select_one(page.soup, "shortlink")
    if shortlink is not None and shortlink.has_attr("href"):
        match = re.search(r"/node/([0-9]{1,18})/?$", str(shortlink["href"]))
        if match:
            return int(match.group(1))
    return None
