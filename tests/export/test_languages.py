"""The precomputed ISO 639 table answers what python-iso639 answers (catalog/iso639_table.py)."""

from __future__ import annotations

import pytest

from catalog.iso639_table import TABLE, generate, table
from catalog.languages import language


@pytest.mark.slow  # regenerates the whole table from python-iso639's data
def test_committed_table_is_what_python_iso639_generates() -> None:
    pytest.importorskip("iso639")
    assert TABLE.read_text(encoding="utf-8").splitlines(keepends=True) == generate(), \
        "catalog/data/iso639.tsv is stale: run `python -m catalog.iso639_table`"


def test_every_key_matches_python_iso639() -> None:
    iso639 = pytest.importorskip("iso639")
    for key, codes in table().items():
        lang = iso639.Language.match(key)
        assert (codes.part3, codes.part2b, codes.part1) == (lang.part3, lang.part2b, lang.part1), key


@pytest.mark.parametrize(("name", "codes"), [
    ("Russian", ("rus", "rus", "ru")),
    ("German", ("deu", "ger", "de")),
    ("Chinese", ("zho", "chi", "zh")),
    ("Farsi", ("fas", "per", "fa")),       # an alias: the site's name, not ISO's
    ("Greek", ("ell", "gre", "el")),
    ("  Korean ", ("kor", "kor", "ko")),   # spacing as on the page
    ("rus", ("rus", "rus", "ru")),         # codes are accepted too (exports look up by code)
    ("Hausa", ("hau", "hau", "ha")),
])
def test_names_and_codes(name: str, codes: tuple[str, str, str]) -> None:
    lang = language(name)
    assert (lang.iso639_3, lang.iso639_2b, lang.iso639_1) == codes
    assert lang.name == " ".join(name.split())


def test_unknown_name_keeps_the_name_without_codes() -> None:
    lang = language("Klingon-ish")
    assert (lang.name, lang.iso639_3, lang.iso639_2b, lang.iso639_1) == ("Klingon-ish", None, None, None)
