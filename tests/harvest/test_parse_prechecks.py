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
from harvester.site.challenge import _title_text, is_challenge_html
from harvester.site.selectors import CHALLENGE_MARKERS, CHALLENGE_TITLES

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


def lowered_challenge(text: str) -> bool:
    """The check as it was: the str-lowered head, searched as text."""
    head = text[:20000].lower()
    title = regex_title(head)
    if title is not None and any(t in title for t in CHALLENGE_TITLES):
        return True
    return any(marker in head for marker in CHALLENGE_MARKERS)


def test_challenge_check_on_bytes_is_the_lowered_text_check() -> None:
    """The check reads the head's lowered UTF-8 bytes; it finds what the lowered text showed, with any
    characters around the signs: non-ASCII ones, the two that lower to ASCII letters (KELVIN SIGN in
    "checking", I WITH DOT ABOVE), a lone surrogate, and a sign cut by the 20,000-character limit."""
    rnd = random.Random(1818)
    parts = ["<title>", "</title>", "<TITLE x='1'>", "Just a Moment", "JUST A MOMENT", "Attention Required",
             "CHEC\u212aING YOUR BROWSER", "checking your browser", "ATTENT\u0130ON REQUIRED", "Cf-Chl-", "_CF_CHL_OPT",
             "/CDN-CGI/challenge-platform/", "cf-\u00e9chl-", "\u00c9", "\u0416\u0436", "\u4e2d", "\U0001f600",
             "\ud800", " ", "a", ">", "<", "\u0130", "\u212a", "\u00df", "\ufb01"]
    cases = ["x" * 19990 + "cf-chl-", "x" * 19995 + "cf-chl-", "\u0416" * 19990 + "CF-CHL-"]
    for _ in range(5000):
        cases.append("".join(rnd.choice(parts) for _ in range(rnd.randint(0, 10))))
    for text in cases:
        assert is_challenge_html(text) == lowered_challenge(text), repr(text[-60:])
    assert is_challenge_html("<title>CHEC\u212aING your browser</title>")  # lowers to "checking"


def test_bounds_refuse_what_they_refused() -> None:
    check_bounds(b"<div>" * MAX_DEPTH, 1)  # as many "<" as the bound: not refused (nor before)
    with pytest.raises(ParseError, match="nested"):
        check_bounds(b"<div>" * (MAX_DEPTH + 1), 1)
    with pytest.raises(ParseError, match="elements"):
        check_bounds(b"<br>" * (MAX_ELEMENTS + 1), 1)
    check_bounds(b"<br>" * (MAX_DEPTH + 100), 1)  # many, but flat: not refused
