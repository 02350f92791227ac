"""catalog.index.tokens: the one-pass ASCII path and the cached per-word folding give exactly the
words of the word-by-word definition (fold each run of letters and digits, split it again, drop
over-long words, stop at the limit): both backends' indexes and every query are made of them."""

from __future__ import annotations

import random

import pytest

from catalog.index import _WORD, MAX_TOKEN, fold, tokens


def reference(text: str, limit: int = 100_000) -> list[str]:
    found: list[str] = []
    for match in _WORD.finditer(text):
        for word in _WORD.findall(fold(match.group())):
            if len(word) <= MAX_TOKEN:
                found.append(word)
        if len(found) >= limit:
            return found[:limit]
    return found


SAMPLES = [
    "",
    "Hello, World! 123 abc_def x-y",
    "Šubašić café cafe\u0301s ﬁne ½ ² ㈠",
    "a" * 150 + " b " + "é" * 101 + " " + "c" * 100,
    "ΣΊΣΥΦΟΣ straße İstanbul ıi",
    "Москва, 1950-й год; Sinéad O'Connor",
    "中文文本 テキスト 한국어",
    "ASCII only, but long: " + "word " * 500,
]


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("limit", [100_000, 64, 3, 1])
def test_tokens_match_the_word_by_word_definition(text: str, limit: int) -> None:
    assert tokens(text, limit) == reference(text, limit)


def test_tokens_match_on_random_mixed_text() -> None:
    rnd = random.Random(18)
    alphabet = "aZ09 _-é\u0301ﬁ½²σςΣİı.,\n\u00a0Жж中"
    for _ in range(2000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 80)))
        assert tokens(text) == reference(text), text
        assert tokens(text, 5) == reference(text, 5), text
