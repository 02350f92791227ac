"""Bytes to text, and the text of elements: the parser's low-level helpers.

Deliberately free of any markup knowledge (that is in `selectors`): charsets, the
bot-protection check on raw text, paragraphs of an element, Cloudflare's e-mail
obfuscation.
"""

from __future__ import annotations

import codecs
from collections.abc import Collection, Iterator

from bs4 import CData, NavigableString, PageElement, Tag
from bs4.dammit import UnicodeDammit

from harvester.site.selectors import CHALLENGE_MARKERS, CHALLENGE_TITLES

_BLOCK_TAGS = frozenset({
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "table",
    "section", "article", "pre", "dd", "dt", "dl", "br", "hr", "figure", "figcaption", "address",
})
_SKIPPED = frozenset({"script", "style", "template", "noscript"})
_TEXT_TYPES = (NavigableString, CData)


def clean(text: str | None) -> str:
    """Collapse runs of white space (including non-breaking spaces) to one space.

    str.split() splits on exactly what the regex `\\s` matches in a str (Unicode white space,
    no-break space included), several times faster than a substitution.
    """
    return " ".join(text.split()) if text else ""


def text_of(tag: Tag) -> str:
    """`tag.get_text()`, without bs4's generator over the descendants for an element that holds one
    plain string (a heading, a label, a pill's name: most of the parser's calls, ~40 a page)."""
    contents = tag.contents
    if len(contents) == 1 and type(contents[0]) is NavigableString:
        # The strings get_text reads: the tag's own kinds (a <script> reads Script strings, not
        # these), else NavigableString and CData.
        kinds = tag.interesting_string_types
        if kinds is None or kinds is NavigableString or (not isinstance(kinds, type) and NavigableString in kinds):
            return str(contents[0])
    return tag.get_text()


def decode_html(body: bytes, content_type: str | None) -> tuple[str, list[str]]:
    """Decode the body, trusting the declared charset only if the bytes agree with it.

    With no charset in the header, the page's own `<meta charset>` decides (UnicodeDammit
    reads it), then UTF-8, then windows-1252.
    """
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
    title = _title_text(head)
    if title is not None and any(t in title for t in CHALLENGE_TITLES):
        return True
    return any(marker in head for marker in CHALLENGE_MARKERS)


def _title_text(head: str) -> str | None:
    """What `re.search(r"<title[^>]*>(.*?)</title>", head, re.S)` captures, found with str.find
    (the regex scanned the 20,000 characters in Python's engine: ~0.1 ms of every page's parse).

    Only the first "<title" can start the match: if no ">" or no "</title>" follows it, none
    follows a later one either."""
    start = head.find("<title")
    if start < 0:
        return None
    close = head.find(">", start + 6)
    if close < 0:
        return None
    end = head.find("</title>", close + 1)
    return head[close + 1:end] if end >= 0 else None


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


def block_text(node: Tag, skip: Collection[Tag] = ()) -> str:
    """Text of an element as paragraphs joined by blank lines, spaces collapsed in each.

    Elements in `skip` (compared by identity: a label inside its block) are left out.
    """
    paragraphs: list[str] = []
    current: list[str] = []
    skipped = {id(s) for s in skip}

    def flush() -> None:
        text = clean("".join(current))
        if text:
            paragraphs.append(text)
        current.clear()

    # Depth-first with an explicit stack, not recursion: a page nested thousands of
    # elements deep must not exhaust Python's recursion limit. (for/break over each level's
    # iterator rather than next() per node, and strings appended as they are, not copied
    # with str(): this runs over every string of the document's text. `contents` itself, not
    # bs4's `children`, a generator expression over it: one Python frame step per node.)
    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(node.contents), False)]
    while stack:
        children, in_block = stack[-1]
        for child in children:
            if isinstance(child, Tag):
                if child.name in _SKIPPED or (skipped and id(child) in skipped):
                    continue
                if "data-cfemail" in child.attrs:
                    current.append(decode_cfemail(str(child["data-cfemail"])) or child.get_text())
                    continue
                block = child.name in _BLOCK_TAGS
                if block:
                    flush()
                stack.append((iter(child.contents), block))
                break
            if type(child) in _TEXT_TYPES:  # not comments, doctypes or processing instructions
                current.append(child)  # type: ignore[arg-type]  # a NavigableString is a str
        else:
            stack.pop()
            if in_block:
                flush()
    flush()
    return "\n\n".join(paragraphs)
