"""The house style written out (catalog.cite_text.house_entry) is exactly what citeproc-py
renders from catalog/styles/wcda.csl: every fixture record and awkward variants, text and
HTML, bibliography and note form (issue 18: `cite` without a CSL processor for wcda)."""

from __future__ import annotations

import json
import warnings

import pytest

from catalog.cite import Citer, _render
from catalog.cite_text import PUBLISHER, house_entry_of
from catalog.errors import StyleCannotRender
from catalog.export.common import PUBLISHER as EXPORT_PUBLISHER
from catalog.model import CatalogRecord, DocumentDate
from tests.export.records import fixture_records


def _variants() -> list[CatalogRecord]:
    base = fixture_records()
    out = list(base)
    r = base[0]
    for title, display, source in [
        ('A "quoted" title & <b>tags</b>', "  Circa 1950 ", "AP RF, f. 45.  \n Translated by A & B."),
        ("Ends with a question?", None, None),
        ("Ends with a full stop.", "undated", "   "),
        ("Soviet Ambassador's Notes, trans.)", "n.d.", "Source ends with etc."),
        ("Plain", "October 11, 1950", "Kept <as> 'is'"),
    ]:
        out.append(r.model_copy(update={"title": title, "date": DocumentDate(display=display), "source": source,
                                        "authors": []}))
    out.append(r.model_copy(update={"url": "https://example.org/a&b/document/x?y=1"}))
    return out


def _citeproc(citer: Citer, record: CatalogRecord) -> str:
    """What Citer.entry printed before the house style was written out: citeproc-py's entry, finished."""
    item = citer.item(record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as Citer.entry: citeproc-py warns about every unsupported feature
        out = _render(citer.style, item, citer.fmt, citer.note)
    return citer.finish(record, item, out)


def _outcome(fn, record):  # type: ignore[no-untyped-def]
    try:
        return fn(record)
    except StyleCannotRender as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("fmt", ["text", "html"])
@pytest.mark.parametrize("note", [False, True])
def test_written_out_house_style_is_citeprocs(fmt: str, note: bool) -> None:
    citer = Citer("wcda", fmt=fmt, note=note)  # type: ignore[arg-type]
    assert citer.written_out
    for record in _variants():
        ours = _outcome(citer.entry, record)
        assert ours == _outcome(lambda r: _citeproc(citer, r), record), record.title
        # the stored-JSON form the command uses (no model) says the same
        data = json.loads(record.model_dump_json())
        assert _outcome(lambda d: house_entry_of(d, fmt=fmt), data) == ours


def test_the_publisher_is_the_exports() -> None:
    assert PUBLISHER == EXPORT_PUBLISHER


def test_a_house_style_file_given_by_path_goes_through_citeproc(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from catalog.cite import STYLES_DIR

    copy = tmp_path / "mine.csl"
    copy.write_bytes((STYLES_DIR / "wcda.csl").read_bytes())
    citer = Citer(str(copy))
    assert citer.house and not citer.written_out
    record = fixture_records()[0]
    assert citer.entry(record) == Citer("wcda").entry(record)


def test_stored_json_of_another_shape_is_left_to_the_model() -> None:
    data = json.loads(fixture_records()[0].model_dump_json())
    for key, value in (("title", 3), ("date", "1950"), ("record_id", "1"), ("authors", None)):
        assert house_entry_of({**data, key: value}) is None
    assert house_entry_of([]) is None


def test_cite_command_prints_what_citeproc_prints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`cite` (house style, no processor) against `cite --style <a copy of wcda.csl>` (citeproc-py):
    the same lines, the same skipped tombstone, the same exit code; a damaged row is an error."""
    import sqlite3

    from click.testing import CliRunner

    from catalog.cite import STYLES_DIR
    from catalog.store import SQLiteStore
    from harvester.cli import cli

    db = tmp_path / "c.db"
    records = _variants()
    store = SQLiteStore(db)
    for i, record in enumerate(records):
        store.upsert(record.model_copy(update={"record_id": 900_000 + i}))
    store.tombstone(900_001)
    store.close()
    copy = tmp_path / "house.csl"
    copy.write_bytes((STYLES_DIR / "wcda.csl").read_bytes())
    ids = [str(900_000 + i) for i in range(len(records))]
    for args in (ids, ["--all"], ["--format", "html", "--note", *ids[:4]], ["--since", "2000-01-01"],
                 [ids[0], "123456789"]):  # an ID not in the catalog: the same usage error, nothing printed
        ours = CliRunner().invoke(cli, ["--db", str(db), "cite", *args])
        theirs = CliRunner().invoke(cli, ["--db", str(db), "cite", "--style", str(copy), *args])
        assert (ours.exit_code, ours.output) == (theirs.exit_code, theirs.output), args
        assert ours.output.count("Wilson Center Digital Archive") >= (0 if "123456789" in args else 3)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE record SET brief = '{\"title\": 1}', body = '{\"title\": 1}' WHERE record_id = 900002")
    damaged = CliRunner().invoke(cli, ["--db", str(db), "cite", "900002"])
    assert damaged.exit_code == 1 and "record 900002 in the catalog is unreadable" in damaged.output
