"""csl_json_text must be json.dumps(item, ensure_ascii=False, indent=1), byte for byte."""

from __future__ import annotations

import json

import pytest

from catalog.export.csl_json import csl_item, csl_json_text
from tests.export.records import fixture_records, hard_record

ODD = [
    {},
    [],
    {"a": [], "b": {}, "c": [[1999, 1, 2]], "d": [{"family": "Zhou", "static-ordering": True}], "e": None},
    {"s": "quote \" backslash \\ ctl \x00\x1f\x7f tab\t nl\n \u2028 😀 北京", "n": -5, "f": False, "t": True},
    {"nested": {"deeper": {"list": [1, [2, [3, {}]], "x"]}}},
    {"float": 1.5},  # not on the fast path: json.dumps itself
    {"tuple": (1, 2)},
]


@pytest.mark.parametrize("value", ODD)
def test_matches_json_dumps(value) -> None:  # type: ignore[no-untyped-def]
    assert csl_json_text(value) == json.dumps(value, ensure_ascii=False, indent=1)


def test_every_fixture_item_matches_json_dumps() -> None:
    for rec in [*fixture_records(), hard_record()]:
        item = csl_item(rec)
        assert csl_json_text(item) == json.dumps(item, ensure_ascii=False, indent=1)
