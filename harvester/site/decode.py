"""Bytes to text, and the text of elements: the parser's low-level helpers.

Deliberately free of any markup knowledge (that is in `selectors`): charsets (the
bot-protection check is challenge.py's), paragraphs of an element, Cloudflare's e-mail
obfuscation.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Iterator

from bs4 import CData, NavigableString, PageElement, Tag
from bs4.dammit import UnicodeDammit

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


# From this length on, `collapse_long` beats splitting into words (measured on the fixture pages'
# paragraphs: about even at 80-100 characters, a quarter less at 200-400).
_LONG = 100


def collapse_long(text: str) -> str:
    """`clean(text)` for a long text (a paragraph of a document, hundreds of words): the same
    result without making a string of every word.

    After its newlines become spaces, a text that `str.isprintable()` is contains no white space
    but the space: every other character `str.split()` splits on (tab, CR, no-break space, the
    Unicode spaces and separators) is not printable (tests/harvest/test_block_text.py checks every
    code point). Such a text needs only its runs of spaces shortened and its ends trimmed; any
    other goes through `clean`."""
    flat = text.replace("\n", " ")
    if not flat.isprintable():
        return " ".join(text.split())
    while "  " in flat:  # halves every run: a run of n spaces takes log2(n) passes
        flat = flat.replace("  ", " ")
    return flat.strip(" ")


def _collapse(text: str) -> str:
    """`clean(text)` for block_text's paragraphs: split into words when short, `collapse_long` else."""
    return " ".join(text.split()) if len(text) < _LONG else collapse_long(text)


def text_of(tag: Tag) -> str:
    """`tag.get_text()`, without bs4's generator over the descendants for an element that holds one
    plain string (a heading, a label, a pill's name: most of the parser's calls, ~40 a page)."""
    contents = tag.contents
    if len(contents) == 1 and isinstance(contents[0], NavigableString):
        # What get_text reads of its one string: the string if it is of the tag's own kinds (a
        # <script> reads Script strings: the Drupal settings), else of NavigableString and CData;
        # nothing otherwise (a lone comment). get_text's generator over the descendants cost ~0.04
        # ms for the settings script, read right after the tree is built.
        string = contents[0]
        kinds = tag.interesting_string_types
        if kinds is None:
            kinds = Tag.MAIN_CONTENT_STRING_TYPES
        kind = type(string)
        return str(string) if (kind is kinds if isinstance(kinds, type) else kind in kinds) else ""
    return tag.get_text()


# An XML declaration opening the page (XHTML served as XML): matched before the HTML parser sees it.
_XML_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*>")


def decode_html(body: bytes, content_type: str | None) -> tuple[str, list[str]]:
    """Decode the body, trusting the declared charset only if the bytes agree with it.

    With no charset in the header, the page's own `<meta charset>` decides (UnicodeDammit
    reads it), then UTF-8, then windows-1252. An XML declaration opening the page is left out
    of the text: its charset has been read by then, and to the HTML parser it is only a
    processing instruction, which no selector reads; left in, bs4 warns that the page "looks
    like XML" whenever its `<html>` comes after its first 500 characters (a long comment first),
    and warnings are errors in the tests (found by tests/reliability/test_bad_pages.py).
    """
    text, problems = _decode(body, content_type)
    return _XML_DECLARATION.sub("", text, count=1), problems


def _decode(body: bytes, content_type: str | None) -> tuple[str, list[str]]:
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
    # Depth-first with an explicit stack, not recursion: a page nested thousands of
    # elements deep must not exhaust Python's recursion limit. (for/break over each level's
    # iterator rather than next() per node, and strings appended as they are, not copied
    # with str(): this runs over every string of the document's text. `contents` itself, not
    # bs4's `children`, a generator expression over it: one Python frame step per node. The
    # level being read is in locals, the stack holds only the levels above it; an element
    # without children is not entered; a paragraph is closed inline, without a call.)
    stack: list[tuple[Iterator[PageElement], bool]] = []
    children: Iterator[PageElement] = iter(node.contents)
    in_block = False
    while True:
        for child in children:
            if isinstance(child, Tag):
                name = child.name
                if name in _SKIPPED or (skipped and id(child) in skipped):
                    continue
                if "data-cfemail" in child.attrs:
                    current.append(decode_cfemail(str(child["data-cfemail"])) or child.get_text())
                    continue
                block = name in _BLOCK_TAGS
                if block and current:
                    text = _collapse("".join(current))
                    if text:
                        paragraphs.append(text)
                    current.clear()
                contents = child.contents
                if len(contents) == 1 and type(contents[0]) is NavigableString:
                    # One plain string (most paragraphs): read without entering the element. A block
                    # has just been closed above, so the string is a paragraph of its own.
                    if block:
                        text = _collapse(contents[0])
                        if text:
                            paragraphs.append(text)
                    else:
                        current.append(contents[0])
                    continue
                if contents:
                    stack.append((children, in_block))
                    children, in_block = iter(contents), block
                    break
                # no children: nothing to read, and a block's closing edge has nothing to close
                continue
            if type(child) in _TEXT_TYPES:  # not comments, doctypes or processing instructions
                current.append(child)  # type: ignore[arg-type]  # a NavigableString is a str
        else:
            if in_block and current:
                text = _collapse("".join(current))
                if text:
                    paragraphs.append(text)
                current.clear()
            if not stack:
                break
            children, in_block = stack.pop()
    if current:
        text = _collapse("".join(current))
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)
