"""One small extractor per field. Each tries the table's ordered alternatives (selectors.py)
in the document's scope and records which one matched in `ParsedPage.matched`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlparse

from bs4 import Tag

from harvester.site import selectors as table
from harvester.site.bounds import MAX_VALUES, bounded, within_bounds
from harvester.site.decode import block_text, clean, text_of
from harvester.site.scope import DocumentScope
from harvester.site.selectors import Alt


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
    # field -> the alternative of the selector table that gave it ("<css>@<scope>" or a rule name)
    matched: dict[str, str] = field(default_factory=dict)


# (id(alts), id(alt), offset) -> (alts, alt, text): holding alts and alt keeps their ids unique
_RANKED: dict[tuple[int, int, int], tuple[tuple[Alt, ...], Alt, str]] = {}


def ranked(alts: tuple[Alt, ...], alt: Alt, offset: int = 0) -> str:
    """What provenance records: "#<rank> <alternative>"; #1 is the table's first choice."""
    # By identity (tuple.index compared the alternatives field by field: dataclass equality), and
    # made once per alternative of the table (~13 a page).
    key = (id(alts), id(alt), offset)
    got = _RANKED.get(key)
    if got is None:
        rank = next(n for n, candidate in enumerate(alts) if candidate is alt)
        got = _RANKED[key] = (alts, alt, f"#{rank + 1 + offset} {alt.name}")
    return got[2]


def absolute(base: str, href: str, what: str, problems: list[str]) -> str | None:
    """`href` resolved against the page's URL; None (and a problem) if it is not a URL."""
    try:
        return urljoin(base, href)
    except ValueError:
        problems.append(f"{what} link is not a URL: {href[:100]!r}")
        return None


def date(doc: DocumentScope, parsed: ParsedPage) -> None:
    el, alt = doc.find(table.FIELDS["date"])
    if el is None or alt is None:
        return
    # No element and an empty one mean the same to a reader: normalize_date reports "no date shown".
    parsed.date = clean(text_of(el)) or None
    parsed.matched["date"] = ranked(table.FIELDS["date"], alt)


def credit(doc: DocumentScope, parsed: ParsedPage) -> None:
    el, alt = doc.find(table.FIELDS["credit"])
    if el is not None and alt is not None:
        parsed.credit = clean(text_of(el))
        parsed.matched["credit_line"] = ranked(table.FIELDS["credit"], alt)


def summary(doc: DocumentScope, parsed: ParsedPage) -> None:
    el, alt = doc.find(table.FIELDS["summary"])
    if el is not None and alt is not None:
        parsed.summary = block_text(el) or None
        if parsed.summary:
            parsed.matched["summary"] = ranked(table.FIELDS["summary"], alt)


def tabs(doc: DocumentScope, parsed: ParsedPage) -> None:
    panes, alt = doc.find_all(table.FIELDS["tab_panes"])
    for number, pane in enumerate(panes):
        text = block_text(pane)
        if not text:
            continue
        parsed.tabs.append(TabText(label=tab_label(doc, pane) or f"Text {number + 1}", text=text,
                                   lang_attr=str(pane["lang"]) if pane.has_attr("lang") else None))
    if parsed.tabs and alt is not None:
        parsed.matched["texts"] = ranked(table.FIELDS["tab_panes"], alt)
        return
    holder, alt = doc.find(table.FIELDS["tab_holder"])
    if holder is not None and alt is not None and holder.name not in {"ul", "ol", "nav"}:
        text = block_text(holder)
        if text:
            parsed.tabs.append(TabText(label="Text", text=text))
            parsed.matched["texts"] = ranked(table.FIELDS["tab_holder"], alt, len(table.FIELDS["tab_panes"]))


def tab_label(doc: DocumentScope, pane: Tag) -> str | None:
    """The nav item that controls this pane (Bootstrap 5, 4 and ARIA forms), else the pane's own label."""
    index, region = doc.index, doc.region
    pane_id = pane.get("id")
    if pane_id:
        for attr in table.TAB_LABEL_ATTRS:
            control = index.find_by_attr(region, attr, f"#{pane_id}")
            if control is not None and clean(text_of(control)):
                return clean(text_of(control))
        control = index.find_by_attr(region, table.TAB_LABEL_ARIA, str(pane_id))
        if control is not None and clean(text_of(control)):
            return clean(text_of(control))
    labelled = pane.get(table.TAB_LABELLEDBY)
    if labelled:
        control = index.find_by_attr(region, "id", str(labelled))
        if control is not None and clean(text_of(control)):
            return clean(text_of(control))
    return None


def pill_names(doc: DocumentScope, container: Tag) -> list[str]:
    """`.pill .name span`, else `.pill .name`, else the pill's own text; no repeats.

    At most MAX_VALUES + 1 names (the caller cuts and says so)."""
    index = doc.index
    order = index.order
    names: list[str] = []
    seen: set[str] = set()  # `value not in names` was quadratic: 100 000 pills took 101 s
    for pill in index.positions(container, table.PILL):  # by positions: ~30 pills a page
        name = index.first_in(pill, table.PILL_NAME)
        inner = index.first_named_in(name, table.PILL_NAME_INNER) if name >= 0 else -1
        value = clean(text_of(order[inner if inner >= 0 else name if name >= 0 else pill]))
        if value and value not in seen:
            seen.add(value)
            names.append(value)
            if len(names) > MAX_VALUES:
                break
    return names


def sections(doc: DocumentScope, parsed: ParsedPage) -> None:
    """Pill sections by heading text: pills in the heading's next sibling, else in its `.pill-block`."""
    index = doc.index
    for alt in table.FIELDS["section_heading"]:
        found_any = False
        for heading in index.select(doc.region, alt.css):
            if heading.name == "h1" or not doc.in_scope(heading):
                continue
            key = doc.key_of(heading)
            field_name = table.SECTION_HEADINGS.get(key) or next(
                (f for prefix, f in table.SECTION_PREFIXES.items() if key.startswith(prefix)), None)
            if field_name is None:
                continue
            found_any = True
            names: list[str] = []
            where = ""
            sibling = heading.next_sibling  # find_next_sibling(), without bs4's generators
            while sibling is not None and not isinstance(sibling, Tag):
                sibling = sibling.next_sibling
            at = index.position(sibling) if sibling is not None else -1
            if sibling is not None and index.first_in(at, table.PILL) >= 0 and not any(
                    index.first_in(at, a.css) >= 0 for a in table.FIELDS["section_heading"][:1]):
                names, where = pill_names(doc, sibling), "next-sibling"
            if not names:
                container = index.zone(heading, table.PILL_BLOCK)
                if container is not None:
                    names, where = pill_names(doc, container), "pill-block"
            if not names:
                parsed.problems.append(f"section {clean(text_of(heading))!r} has no names")
                continue
            existing = parsed.sections.setdefault(field_name, [])
            have = set(existing)
            existing.extend(n for n in names if n not in have)
            if not within_bounds(existing):
                parsed.sections[field_name] = bounded(existing, f"section {clean(text_of(heading))[:80]!r}",
                                                      parsed.problems)
            parsed.matched.setdefault(field_name, f"{ranked(table.FIELDS['section_heading'], alt)}>{where}")
        if found_any:
            return


def information(doc: DocumentScope, parsed: ParsedPage) -> None:
    """Document Information: per block, the label, then pills, `.text`, a field item, or the text minus the label."""
    blocks, block_alt = doc.find_all(table.FIELDS["info_block"])
    for block in blocks:
        label_el, _ = doc.find(table.FIELDS["info_label"], item=block)
        if label_el is None:
            parsed.problems.append("a Document Information block has no label")
            continue
        label = clean(text_of(label_el))
        field_name = table.INFO_LABELS.get(doc.key_of(label_el))  # heading_key(label): it cleans too
        if field_name is None:
            parsed.problems.append(f"unknown Document Information label {label!r}")
            continue
        pills = pill_names(doc, block)
        if pills:
            parsed.info[field_name] = pills if within_bounds(pills) else bounded(
                pills, f"Document Information {label[:80]!r}", parsed.problems)
            parsed.matched[field_name] = "#1 pills@item"
            continue
        value_el, alt = doc.find(table.FIELDS["info_text"], item=block)
        if value_el is not None and alt is not None:
            # .text (rank 1, like pills: both are documented forms), then the fallbacks.
            value, how = block_text(value_el), ranked(table.FIELDS["info_text"], alt)
        else:
            rank = len(table.FIELDS["info_text"]) + 1
            value, how = block_text(block, skip=[label_el]), f"#{rank} label-minus-text@item"
        if value:
            parsed.info[field_name] = value
            parsed.matched[field_name] = how


def donors(parsed: ParsedPage) -> None:
    """The Donors block; when there is none, the donor named in the credit line."""
    if parsed.info.get("donors") or not parsed.credit:
        return
    match = table.CREDIT_DONOR.search(parsed.credit)
    if match and clean(match.group(1)):
        parsed.info["donors"] = [clean(match.group(1))]
        parsed.matched["donors"] = "#2 credit-line"


def scan_and_download(doc: DocumentScope, parsed: ParsedPage, final_url: str) -> None:
    pdf, alt = doc.find(table.FIELDS["pdf"])
    if pdf is not None and alt is not None:
        src = next((pdf.get(a) for a in table.PDF_ATTRS if pdf.get(a)), None)
        if src:
            parsed.pdf_url = absolute(final_url, str(src), "scan", parsed.problems)
            parsed.matched["pdf_url"] = ranked(table.FIELDS["pdf"], alt)
    links, alt = doc.find_all(table.FIELDS["download"])
    for link in links:
        href = str(link["href"])
        if table.DOWNLOAD_HINT not in href:  # cannot match DOWNLOAD_PATH: no urlparse for every link
            continue
        try:
            match = table.DOWNLOAD_PATH.search(urlparse(href).path)
        except ValueError:  # "http://[::1/…": not a URL at all
            continue
        if match:
            parsed.download_url = absolute(final_url, href, "download", parsed.problems)
            if alt is not None:
                parsed.matched["download_url"] = ranked(table.FIELDS["download"], alt)
            if parsed.node_id is None:
                parsed.node_id = int(match.group(1))
                parsed.matched["node_id"] = "#3 download-link"
            break


def settings_path(doc: DocumentScope, problems: list[str] | None = None) -> str | None:
    """Drupal settings' path.currentPath ("node/123", "search"…), if the page has readable settings."""
    if not doc.settings_read:  # read once a page
        doc.settings_read = True
        script = doc.index.select_one(doc.soup, table.DRUPAL_SETTINGS)
        if script is not None:
            try:
                path = json.loads(text_of(script)).get("path", {}).get("currentPath")
            except (ValueError, AttributeError):
                doc.settings_broken = True
            else:
                doc.settings_path = path if isinstance(path, str) else None
    if doc.settings_broken and problems is not None:
        problems.append("Drupal settings are not valid JSON")
    return doc.settings_path


def node_id(doc: DocumentScope, parsed: ParsedPage) -> None:
    """The node id from the settings' currentPath, else the shortlink (the download link comes later)."""
    path = settings_path(doc, parsed.problems)
    match = table.NODE_PATH.match(path) if path else None
    if match:
        parsed.node_id = int(match.group(1))
        parsed.matched["node_id"] = "#1 drupal-settings"
        return
    shortlink = doc.index.select_one(doc.soup, table.SHORTLINK)
    if shortlink is not None and shortlink.has_attr("href"):
        match = table.SHORTLINK_PATH.search(str(shortlink["href"]))
        if match:
            parsed.node_id = int(match.group(1))
            parsed.matched["node_id"] = "#2 shortlink"


def canonical(doc: DocumentScope, parsed: ParsedPage) -> None:
    link = doc.index.select_one(doc.soup, table.CANONICAL)
    parsed.canonical = str(link["href"]) if link is not None and link.has_attr("href") else None
