"""Snippets: a passage around the first searched word, matches as segments, text kept as written."""

from __future__ import annotations

from catalog.search import parse_text, plain
from catalog.search.snippet import ELLIPSIS, snippet


def test_a_passage_around_the_first_match_of_a_long_text() -> None:
    text = " ".join(f"w{i}" for i in range(5000)) + " Nagy spoke. " + " ".join(f"v{i}" for i in range(5000))
    segments = snippet(["", text], parse_text("nagy"))
    assert segments[0][0].startswith(ELLIPSIS) and segments[-1][0].endswith(ELLIPSIS)
    assert [t for t, m in segments if m] == ["Nagy"]
    words = plain(segments).replace(ELLIPSIS, "").split()
    assert len(words) == 30 and words.index("Nagy") == 10


def test_prefixes_phrases_folding_and_no_match() -> None:
    segments = snippet(["Imre Nagy and Nagyné met the NAGY delegation in Győr."], parse_text('nagy* "gyor"'))
    assert [t for t, m in segments if m] == ["Nagy", "Nagyné", "NAGY", "Győr"]
    assert plain(segments, ("[", "]")) == "Imre [Nagy] and [Nagyné] met the [NAGY] delegation in [Győr]."
    unmarked = snippet(["Summary <b>&amp;</b>\n\nline two", "text"], parse_text("absent"))
    assert unmarked == [("Summary <b>&amp;</b> line two", False)]  # as written; white space runs as one
    assert snippet(["", "  "], parse_text("x")) == []
    assert snippet(["short text"], ()) == [("short text", False)]
