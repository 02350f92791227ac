"""catalog.changes: the old and new values of the changed fields, kept in a history event and read back."""

from __future__ import annotations

from catalog.changes import DIFF_VALUE_LIMIT, change_note, diff_note, field_diff, read_diff
from tests.web.conftest import hostile_records


def test_diff_note_keeps_old_and_new_values_and_reads_back() -> None:
    old = hostile_records()[1]
    new = old.model_copy(update={"title": 'Letter from Cairo; diff: {"x"} → “quoted”', "places": ["Cairo", "Giza"],
                                 "summary": "x" * 1000})
    note = diff_note(old, new)
    assert note.startswith(change_note(old, new) + "; diff: ")
    assert change_note(old, new) == "fields changed: title, summary, places"
    diff = read_diff(note + "; a problem noticed; another")  # problems follow it in the event
    assert diff == field_diff(old, new)
    assert diff["title"] == ("Letter from Cairo", 'Letter from Cairo; diff: {"x"} → “quoted”')
    assert diff["places"] == ("", "Cairo; Giza")
    assert diff["summary"][0] == "" and len(diff["summary"][1]) == DIFF_VALUE_LIMIT and diff["summary"][1][-1] == "…"


def test_no_diff_where_nothing_changed_or_none_was_kept() -> None:
    record = hostile_records()[0]
    assert diff_note(record, record) == "" and diff_note(None, record) == ""
    assert read_diff("fields changed: title") == {}
    assert read_diff("fields changed: title; diff: {not json") == {}
    assert read_diff('fields changed: title; diff: {"title": "not a pair"}') == {}
