"""Highlighted snippets: a short passage of a record with the searched words marked.

Made here from the record's own text, the same on every backend (FTS5's snippet() and
PostgreSQL's ts_headline cut and mark differently). A snippet is a list of
`(text, is_match)` segments: the renderer escapes the text and marks the matches its own
way (HTML <mark>, a terminal's bold), so no markup is ever built from harvested text here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from catalog.index import index_words
from catalog.store.api import TextTerm

Segment = tuple[str, bool]
_WORD = re.compile(r"[^\W_]+")
WINDOW = 30  # words around the first match
ELLIPSIS = "…"


def _matcher(terms: Sequence[TextTerm]) -> tuple[set[str], tuple[str, ...]]:
    exact: set[str] = set()
    prefixes: list[str] = []
    for term in terms:
        *words, last = term.words
        exact.update(words)
        if term.prefix:
            prefixes.append(last)
        else:
            exact.add(last)
    return exact, tuple(prefixes)


def _is_match(word: str, exact: set[str], prefixes: tuple[str, ...]) -> bool:
    # A word that folds into several index words ("ﬁnal") matches if any of them does.
    for part in index_words(word):
        if part in exact or (prefixes and part.startswith(prefixes)):
            return True
    return False


def snippet(texts: Sequence[str], terms: Sequence[TextTerm], *, window: int = WINDOW) -> list[Segment]:
    """A passage of the first text holding a searched word, matches marked; without one, the
    start of the first non-empty text, unmarked. [] when every text is empty."""
    exact, prefixes = _matcher(terms)
    first_text = ""
    for text in texts:
        if not text or not text.strip():
            continue
        first_text = first_text or text
        if not terms:
            break
        # Read the words only as far as the passage goes: a transcript may be 20,000 words long.
        words: list[re.Match[str]] = []
        hit = None
        complete = True
        for m in _WORD.finditer(text):
            words.append(m)
            if hit is None and _is_match(m.group(), exact, prefixes):
                hit = len(words) - 1
            if hit is not None and len(words) >= hit + window:
                complete = False
                break
        if hit is not None:
            return _cut(text, words, hit, window, exact, prefixes, complete)
    if not first_text:
        return []
    words = []
    complete = True
    for m in _WORD.finditer(first_text):
        if len(words) >= window:
            complete = False
            break
        words.append(m)
    return _cut(first_text, words, 0, window, set(), (), complete)


def _cut(text: str, words: list[re.Match[str]], at: int, window: int, exact: set[str],
         prefixes: tuple[str, ...], complete: bool) -> list[Segment]:
    """The words around `at`; `complete` says `words` runs to the end of `text`."""
    if not words:
        return [(_squash(text[:200]), False)]
    start_word = max(0, at - window // 3)
    end_word = min(len(words), start_word + window)
    start = 0 if start_word == 0 else words[start_word].start()
    end = len(text) if complete and end_word == len(words) else words[end_word - 1].end()
    segments: list[Segment] = []
    if start > 0:
        segments.append((ELLIPSIS, False))
    pos = start
    for m in words[start_word:end_word]:
        if (exact or prefixes) and _is_match(m.group(), exact, prefixes):
            if m.start() > pos:
                segments.append((_squash(text[pos:m.start()]), False))
            segments.append((m.group(), True))
            pos = m.end()
    if end > pos:
        segments.append((_squash(text[pos:end]), False))
    if end < len(text):
        segments.append((ELLIPSIS, False))
    return _merge(segments)


def _squash(text: str) -> str:
    """White space runs (line breaks of a transcript) as one space."""
    return re.sub(r"\s+", " ", text)


def _merge(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for text, is_match in segments:
        if not text:
            continue
        if merged and merged[-1][1] == is_match and not is_match:
            merged[-1] = (merged[-1][0] + text, False)
        else:
            merged.append((text, is_match))
    return merged


def plain(segments: Sequence[Segment], mark: tuple[str, str] = ("", "")) -> str:
    """The snippet as one string, matches between `mark` (for terminals and CSV)."""
    return "".join(f"{mark[0]}{t}{mark[1]}" if m else t for t, m in segments)
