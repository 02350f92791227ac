"""One Citer for many records (issue 18): the style is built once and its elements remember
their searches, terms and `calls_variable` answers; nothing of one entry may reach the next."""

from __future__ import annotations

import pytest

from catalog.cite import Citer
from catalog.errors import StyleCannotRender
from tests.export.records import fixture_records


def _entry(citer: Citer, record: object) -> str:
    try:
        return citer.entry(record)  # type: ignore[arg-type]
    except StyleCannotRender as exc:
        return f"error: {exc}"


# The two Chicago styles take 3-5 s each on 2 busy cores: slow. The fast subset keeps the reuse
# check with apa, mla and wcda (Chicago output itself has its golden tests).
@pytest.mark.parametrize("style", [pytest.param("chicago", marks=pytest.mark.slow), "apa", "mla",
                                   pytest.param("chicago-author-date", marks=pytest.mark.slow), "wcda"])
def test_a_shared_citer_renders_each_record_as_a_fresh_one(style: str) -> None:
    records = fixture_records()
    shared = Citer(style)
    first_pass = [_entry(shared, r) for r in records]
    second_pass = [_entry(shared, r) for r in reversed(records)][::-1]  # after every other record
    fresh = [_entry(Citer(style), r) for r in records]
    assert first_pass == fresh == second_pass


def test_the_style_is_built_once_per_citer() -> None:
    citer = Citer("chicago")
    style = citer.style
    entries = citer.bibliography(fixture_records())
    assert citer.style is style and len(entries) == len(fixture_records())
    # every element of the built style keeps what it looked up (the memory outlives the entries)
    remembered = [e for e in style._elements if e.__dict__.get("_searches")]
    assert remembered
