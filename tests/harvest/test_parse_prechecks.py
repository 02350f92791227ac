"""The cheap checks before a page's tree is built find what their regex forms found.

`is_challenge_html` reads the page's <title> with str.find instead of
`re.search(r"<title[^>]*>(.*?)</title>", head, re.S)`; `check_bounds` returns after one count
when the page has fewer "<" than the depth bound."""

from __future__ import annotations

import random
import re

import pytest

from catalog.errors import ParseError
from harvester.site.bounds import MAX_DEPTH, MAX_ELEMENTS, check_bounds
from harvester.site.decode import _title_text, is_challenge_html

TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S)


def regex_title(head: str) -> str | None:
    match = TITLE.search(head)
    return match.group(1) if match else None


@pytest.mark.parametrize("head", [
    "", "<title>just a moment...</title>", "<title lang='en'>a</title><title>b</title>", "<title>never closed",
    "<titles>x</title>", "<title", "<title>", "<title\n data-x='1'\n>two\nlines</title>", "x</title><title>y",
    "<title>a<title>b</title>", "<title x>", ">><title>></title>", "<title>no close</titl e>",
])
def test_title_text_is_what_the_regex_captured(head: str) -> None:
    assert _title_text(head) == regex_title(head)


def test_title_text_on_random_markup() -> None:
    rnd = random.Random(18)
    parts = ["<title", ">", "</title>", "<", "/", "t", "itle", " ", "\n", "a", "<title>", "just a moment"]
    for _ in range(5000):
        head = "".join(rnd.choice(parts) for _ in range(rnd.randint(0, 12)))
        assert _title_text(head) == regex_title(head), head


def test_a_challenge_title_is_still_found() -> None:
    assert is_challenge_html("<html><head><TITLE>Just a moment...</TITLE></head></html>")
    assert not is_challenge_html("<html><head><title>Cable No. 4785</title></head></html>")


def test_bounds_refuse_what_they_refused() -> None:
    check_bounds(b"<div>" * MAX_DEPTH, 1)  # as many "<" as the bound: not refused (nor before)
    with pytest.raises(ParseError, match="nested"):
        check_bounds(b"<div>" * (MAX_DEPTH + 1), 1)
    with pytest.raises(ParseError, match="elements"):
        check_bounds(b"<br>" * (MAX_ELEMENTS + 1), 1)
    check_bounds(b"<br>" * (MAX_DEPTH + 100), 1)  # many, but flat: not refused
