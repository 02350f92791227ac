"""Agreement with citeproc-js (the processor inside Zotero), entry by entry.

Every fixture record is rendered in every shipped style and form by `harvester cite`'s
code (citeproc-py plus catalog/cite.py) and by citeproc-js 2.4.63 with the same .csl
files and CSL locales (tests/export/citeproc_js.py). Where the two differ, the entry
must be listed in docs/citations.md ("Where we differ from citeproc-js") with both
outputs exactly as printed and the style manual's rule that makes ours right; a
disagreement that is not listed fails, and so does a listed one that no longer occurs.

`python -m tests.export.test_citeproc_js` prints the current disagreements in the
docs' format (for review, not for copying without reading).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog.cite import Citer
from catalog.errors import StyleCannotRender
from tests.export import citeproc_js
from tests.export.records import fixture_records
from tests.support.tools import needs_tool

DOCS = Path(__file__).resolve().parents[2] / "docs" / "citations.md"
FORMS = [
    ("wcda", "bibliography"), ("wcda", "note"),
    ("chicago-notes-bibliography", "bibliography"), ("chicago-notes-bibliography", "note"),
    ("chicago-author-date", "bibliography"), ("apa", "bibliography"), ("mla", "bibliography"),
]
NEEDS_NODE = needs_tool(
    not citeproc_js.available(), "node or tools/citeproc-js/node_modules missing (.ci/run installs them)"
)
_ENTRY = re.compile(
    r"^#### (?P<record>\d+) · (?P<style>[\w-]+) · (?P<form>\w+)\n"
    r"- ours: `(?P<ours>[^`\n]*)`\n"
    r"- citeproc-js: `(?P<js>[^`\n]*)`\n"
    r"- rule: (?P<rule>.+)$",
    re.M,
)


@dataclass(frozen=True)
class Difference:
    record: int
    style: str
    form: str
    ours: str
    js: str


def compare() -> tuple[int, list[Difference]]:
    """(number of entries compared, the entries that differ)."""
    records = fixture_records()
    total = 0
    differences = []
    for style, form in FORMS:
        citer = Citer(style, note=form == "note")
        js = citeproc_js.render(citer.path, [citeproc_js.js_item(r, citer) for r in records])
        theirs = js["notes"] if form == "note" else js["bibliography"]
        for record, their in zip(records, theirs, strict=True):
            try:
                ours = citer.entry(record)
            except StyleCannotRender as exc:
                ours = f"REFUSED: {exc}"
            total += 1
            if ours != their:
                differences.append(Difference(record.record_id, style, form, ours, their or ""))
    return total, differences


def listed() -> dict[tuple[int, str, str], Difference]:
    text = DOCS.read_text(encoding="utf-8")
    return {
        (int(m["record"]), m["style"], m["form"]): Difference(
            int(m["record"]), m["style"], m["form"], m["ours"], m["js"]
        )
        for m in _ENTRY.finditer(text)
    }


@pytest.mark.slow
@NEEDS_NODE
def test_every_disagreement_with_citeproc_js_is_listed_and_justified() -> None:
    total, differences = compare()
    docs = listed()
    unlisted = [d for d in differences if docs.get((d.record, d.style, d.form)) != d]
    stale = sorted(set(docs) - {(d.record, d.style, d.form) for d in differences})
    assert not unlisted, "disagreements not listed in docs/citations.md:\n" + "\n".join(
        f"{d.record} {d.style} {d.form}\n  ours: {d.ours}\n  js:   {d.js}" for d in unlisted
    )
    assert not stale, f"listed in docs/citations.md but citeproc-js now agrees: {stale}"
    assert not any(d.ours.startswith("REFUSED") for d in differences), "every fixture record must render"
    # the documented count is the measured one
    agreeing = total - len(differences)
    assert f"{agreeing} of {total} entries" in DOCS.read_text(encoding="utf-8")


def _print_markdown() -> None:  # pragma: no cover - a helper for writing the docs
    total, differences = compare()
    print(f"{total - len(differences)} of {total} entries agree")
    for d in differences:
        print(f"#### {d.record} · {d.style} · {d.form}\n- ours: `{d.ours}`\n- citeproc-js: `{d.js}`\n- rule: ?\n")


if __name__ == "__main__":  # pragma: no cover
    _print_markdown()
    sys.exit(0)


_URL_ID = re.compile(r"/document/(\d+)")


@pytest.mark.slow
@NEEDS_NODE
@pytest.mark.parametrize("style", ["chicago-notes-bibliography", "chicago-author-date", "apa", "mla"])
def test_bibliography_of_every_record_sorted_and_disambiguated_as_citeproc_js(style: str) -> None:
    """One bibliography of all fixture records: same order, same year suffixes (Chicago
    author-date: Kieninger 1997a-e); entries that differ are the listed per-entry ones."""
    records = fixture_records()
    citer = Citer(style)
    ours = citer.bibliography(records)
    items = [citeproc_js.js_item(r, citer) for r in records]
    theirs = citeproc_js.render(citer.path, items, each=False)["bibliography"]
    assert all(entry.error is None for entry in ours)
    assert [e.record.record_id for e in ours] == [int(_URL_ID.findall(t or "")[-1]) for t in theirs]
    docs = listed()
    for entry, their in zip(ours, theirs, strict=True):
        if entry.text != their:
            assert (entry.record.record_id, style, "bibliography") in docs, (entry.text, their)
    if style == "chicago-author-date":
        years = [re.search(r"trans\. (1997\w?)\.", e.text or "") for e in ours if "Kieninger" in (e.text or "")]
        assert [m[1] for m in years if m] == ["1997a", "1997b", "1997c", "1997d", "1997e"]
