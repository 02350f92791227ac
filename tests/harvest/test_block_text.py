"""`block_text` (an explicit stack, paragraphs closed inline, childless elements not entered) reads
what the plain recursive definition reads: over every element of every fixture page, with and without
elements to skip, and over hand-written edge cases."""

from __future__ import annotations

import random

from bs4 import BeautifulSoup, CData, NavigableString, Tag

from harvester.site.decode import (
    _BLOCK_TAGS,
    _SKIPPED,
    block_text,
    collapse_long,
    decode_cfemail,
    decode_html,
    text_of,
)
from tests.support.pages import all_pages


def recursive_block_text(node: Tag, skip: list[Tag] = []) -> str:  # noqa: B006  # read only
    paragraphs: list[str] = []
    current: list[str] = []
    skipped = {id(s) for s in skip}

    def flush() -> None:
        text = " ".join("".join(current).split())
        if text:
            paragraphs.append(text)
        current.clear()

    def walk(element: Tag) -> None:
        for child in element.contents:
            if isinstance(child, Tag):
                if child.name in _SKIPPED or id(child) in skipped:
                    continue
                if "data-cfemail" in child.attrs:
                    current.append(decode_cfemail(str(child["data-cfemail"])) or child.get_text())
                    continue
                block = child.name in _BLOCK_TAGS
                if block:
                    flush()
                walk(child)
                if block:
                    flush()
            elif type(child) in (NavigableString, CData):
                current.append(str(child))

    walk(node)
    flush()
    return "\n\n".join(paragraphs)


EDGES = [
    "<div>a<br>b<br/><br>c</div>", "<div><p></p>x<p>y</p>z</div>", "<div>a<span>b<p>c</p>d</span>e</div>",
    "<div>  a \n\t b <b> c</b>\u00a0d<script>no</script><style>no</style><!-- no --></div>",
    "<div><ul><li>one<li>two</ul>after<hr>end</div>", "<div><p><p><p>deep</p></p></p></div>",
    "<div>x<a class='__cf_email__' data-cfemail='543931393d2014313c31'>[email]</a>y</div>", "<div></div>",
    "<div><span></span><img><br></div>", "<div><template>no</template><noscript>no</noscript>yes</div>",
    "<div>a<p> lone \n string </p>b<span> c </span>d<p> </p><p><!-- c --></p><b>e</b></div>",
    # long paragraphs (collapse_long): indented lines, runs of spaces, tabs, no-break spaces
    "<div><p>" + "a line of a document,\n" + " " * 18 + "indented as in the page source " * 4 + "</p>"
    "<p>\t" + "x" * 120 + "\u00a0\u00a0y \r\n z\u3000end </p>" + " word" * 40 + "<b>" + " " * 300 + "</b>tail</div>",
]


def test_edge_cases_read_as_the_recursive_definition() -> None:
    for html in EDGES:
        root = BeautifulSoup(html, "lxml").find("div")
        assert isinstance(root, Tag)
        assert block_text(root) == recursive_block_text(root), html
    assert block_text(BeautifulSoup(EDGES[0], "lxml").div) == "a\n\nb\n\nc"  # type: ignore[arg-type]


def test_every_element_of_every_page_reads_as_the_recursive_definition() -> None:
    rnd = random.Random(18)
    for name, body in all_pages():
        elements = BeautifulSoup(decode_html(body, None)[0], "lxml").find_all(True)
        for element in elements:
            assert block_text(element) == recursive_block_text(element), (name, element.name)
            skip = rnd.sample(elements, min(3, len(elements)))
            assert block_text(element, skip) == recursive_block_text(element, skip), (name, element.name)


def test_collapse_long_is_clean() -> None:
    """`collapse_long` trusts that, newlines aside, a printable text holds no white space but the
    space: true of every code point of this Python's Unicode database. And it gives what
    `clean` gives on long texts built of every kind of white space."""
    for code in range(0x110000):
        char = chr(code)
        if char.isspace() and char not in " \n":
            assert not char.isprintable(), hex(code)
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    rnd = random.Random(18)
    fast = 0
    for n in range(600):
        alphabet = ["a", "b", "ж", "中", " ", "  ", " " * 37, "\n", "\n" + " " * 18]
        if n % 3 == 1:
            alphabet.append(rnd.choice(spaces))  # any white space
        elif n % 3 == 2:
            alphabet.append(rnd.choice(["\ud800", "\u00ad", "\u200b", "\x00"]))  # not printable, not space
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(100, 400)))
        assert collapse_long(text) == " ".join(text.split()), repr(text)
        fast += text.replace("\n", " ").isprintable()
    assert fast >= 200  # the texts of plain spaces and newlines took the fast path
    assert collapse_long(" " * 100_000) == "" and collapse_long("a" + " " * 100_000 + "b") == "a b"


def test_text_of_is_get_text() -> None:
    """`text_of` (an element's one string read without bs4's generator) is `get_text`, over every
    element of every page and over strings of other kinds (script, style, comment, CDATA)."""
    odd = ("<div><script>var a = 1;</script><style>p {}</style><!-- c --><template>t</template>"
           "<textarea>x</textarea><p><!-- only a comment --></p><svg><title>s</title></svg><br></div>")
    soup = BeautifulSoup(odd, "lxml")
    cdata = soup.new_tag("b")
    cdata.append(CData("raw"))
    elements = [*soup.find_all(True), cdata]
    for _name, body in all_pages():
        elements += BeautifulSoup(decode_html(body, None)[0], "lxml").find_all(True)
    kinds = {type(e.contents[0]).__name__ for e in elements if len(e.contents) == 1}
    assert {"NavigableString", "Script", "Stylesheet", "Comment", "CData"} <= kinds, kinds
    for element in elements:
        assert text_of(element) == element.get_text(), element.name
