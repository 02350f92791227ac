"""Every fixture record in every format: schema-valid and readable back by a real parser."""

from __future__ import annotations

import csv
import io
import json
import re

import bibtexparser
import pytest
import rispy
from lxml import etree

from catalog.export.csl_json import csl_item
from catalog.export.csv_flat import COLUMNS, LIST_SEPARATOR
from catalog.export.registry import EXPORT_NS, FORMATS, writer_for
from catalog.model import CatalogRecord, StoredRecord
from tests.export.records import hard_record, stored
from tests.export.test_qdc import validate as validate_qdc
from tests.support.schemas import csl_data_validator, oai_dc_schema


def export(fmt: str, records: list[StoredRecord]) -> tuple[str, list[str]]:
    skipped: list[str] = []
    writer = writer_for(fmt, on_skip=lambda s, reason: skipped.append(str(s.record.record_id)))
    text = writer.header() + "".join(writer.record(s) for s in records) + writer.footer()
    return text, skipped


def both(record: CatalogRecord) -> list[StoredRecord]:
    return [stored(record), stored(hard_record()),
            stored(hard_record().model_copy(update={"record_id": 888002}), deleted=True)]


def test_oai_dc_file(fixture_record: CatalogRecord) -> None:
    text, _ = export("oai_dc", both(fixture_record))
    root = etree.fromstring(text.encode())
    records = root.findall(f"{{{EXPORT_NS}}}record")
    assert len(records) == 3 and records[2].get("status") == "deleted"
    for rec in records:
        oai_dc_schema().validate(etree.tostring(rec[0]))


def test_qdc_file(fixture_record: CatalogRecord) -> None:
    text, _ = export("qdc", both(fixture_record))
    for rec in etree.fromstring(text.encode()).findall(f"{{{EXPORT_NS}}}record"):
        validate_qdc(rec[0])


def test_csl_json_file(fixture_record: CatalogRecord) -> None:
    text, skipped = export("csl-json", both(fixture_record))
    items = json.loads(text)
    csl_data_validator().validate(items)
    assert [i["id"] for i in items] == [f"wcda-{fixture_record.record_id}", "wcda-888001"]
    assert skipped == ["888002"]
    # dates: only date-parts or literal, never raw
    assert all(set(i.get("issued", {})) <= {"date-parts", "circa", "literal"} for i in items)
    assert items[1]["issued"] == {"literal": "undated"}
    assert items[1]["author"][0] == {"literal": "CC CPSU Politburo"}


def test_jsonl_file(fixture_record: CatalogRecord) -> None:
    records = both(fixture_record)
    text, skipped = export("jsonl", records)
    lines = text.splitlines()
    assert len(lines) == 3 and not skipped
    back = [json.loads(line) for line in lines]
    assert [b["deleted"] for b in back] == [False, False, True]
    for original, line in zip(records, back, strict=True):
        assert CatalogRecord(**line["record"]) == original.record


def test_csv_round_trip(fixture_record: CatalogRecord) -> None:
    records = both(fixture_record)
    text, _ = export("csv", records)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == COLUMNS
    for original, row in zip(records, rows, strict=True):
        r = original.record
        assert row["record_id"] == str(r.record_id)
        assert row["title"] == r.title  # non-Latin and control characters byte for byte
        assert row["summary"] == (r.summary or "")
        assert [a for a in row["authors"].split(LIST_SEPARATOR) if a] == r.authors
        assert row["deleted"] == ("true" if original.deleted else "false")


def test_ris_round_trip(fixture_record: CatalogRecord) -> None:
    text, skipped = export("ris", both(fixture_record))
    entries = rispy.loads(text)
    assert skipped == ["888002"] and len(entries) == 2
    first, hard = entries
    assert first["title"] == fixture_record.title
    assert first["urls"] == [fixture_record.archive_url]
    assert first["type_of_reference"] == "MANSCPT"  # Zotero: manuscript (GEN imports as a journal article)
    assert hard["authors"] == ["CC CPSU Politburo", "Kim Il-sung"]
    assert hard["title"] == hard_record().title.replace("\x07", "\x07")  # one line: survives as is
    assert hard["abstract"] == 'Line one line two, with "quotes" and <tags>\x00'


def _tex_unescape(value: str) -> str:
    value = value.replace(r"\textbackslash{}", "\\").replace(r"\^{}", "^").replace(r"\~{}", "~")
    return re.sub(r"\\([{}&%$#_])", r"\1", value)


def test_bibtex_round_trip(fixture_record: CatalogRecord) -> None:
    text, skipped = export("bibtex", both(fixture_record))
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks and skipped == ["888002"]
    first, hard = library.entries
    assert first.key == f"wcda{fixture_record.record_id}" and first.entry_type == "misc"
    assert _tex_unescape(first["title"]) == "{" + " ".join(fixture_record.title.split()) + "}"
    assert _tex_unescape(hard["title"]) == "{" + hard_record().title + "}"
    assert hard["author"] == "{CC CPSU Politburo} and {Kim Il-sung}"
    assert "date" not in hard.fields_dict and "year" not in hard.fields_dict


def test_unknown_format() -> None:
    from catalog.errors import ExportError

    with pytest.raises(ExportError, match="unknown export format"):
        writer_for("marc")
    assert set(FORMATS) == {"oai_dc", "oai_qdc", "mods", "marcxml", "jsonld", "csl-json", "jsonl", "csv", "ris",
                            "bibtex"}
    assert writer_for("qdc").__class__ is writer_for("oai_qdc").__class__  # the old name, kept as an alias


def test_csl_item_for_175798_matches_research_shape(rec: CatalogRecord) -> None:
    item = csl_item(rec)
    # family-first names as literals: Zotero's import drops static-ordering ("Enlai Zhou")
    assert item["author"] == [{"family": "Stalin", "given": "Joseph"}, {"literal": "Zhou Enlai"}]
    structured = csl_item(rec, static_ordering=True)["author"][1]
    assert structured == {"family": "Zhou", "given": "Enlai", "static-ordering": True}
    assert item["translator"] == [{"family": "Goldberg", "given": "Gary"}]
    assert item["issued"] == {"date-parts": [[1950, 10, 11]]}
    assert item["type"] == "document" and item["publisher"] == "Wilson Center Digital Archive"
    assert item["URL"] == "https://digitalarchive.wilsoncenter.org/document/175798"
