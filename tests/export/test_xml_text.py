"""The XML exports are written as text; they must be byte for byte what lxml serialized."""

from __future__ import annotations

import pytest
from lxml import etree

from catalog.export.registry import EXPORT_NS, QdcWriter, XmlWriter
from catalog.model import StoredRecord
from tests.export.records import fixture_records, hard_record, stored

AWKWARD = ["a & b < c > d", "line\r\nbreak\rcr", "]]> \"quoted\" 'single'", "\x00\x07\x1b\ufffe\uffff bell",
           "tab\there", "  padded  ", "北京 Запись 😀 \U0010ffff", "&amp; already &lt;escaped&gt;", "\r", "&"]


def records():  # type: ignore[no-untyped-def]
    recs = [*fixture_records(), hard_record()]
    for i, text in enumerate(AWKWARD):
        rec = hard_record()
        rec.record_id = 900000 + i
        rec.title = f"T {text}"
        rec.summary = text
        rec.subjects = [text, "x" + text]
        rec.rights = text
        rec.classification = text
        rec.credit_line = text
        recs.append(rec)
    return recs


def body_lxml(writer: XmlWriter, stored_record: StoredRecord) -> str:
    """The reference: the writer's record wrapper and element built as an lxml tree and serialized."""
    wrapper = etree.Element(f"{{{EXPORT_NS}}}record", nsmap={None: EXPORT_NS})
    wrapper.set("id", str(stored_record.record.record_id))
    if stored_record.deleted:
        wrapper.set("status", "deleted")
    wrapper.append(writer.element(stored_record.record, deleted=stored_record.deleted))
    return etree.tostring(wrapper, encoding="unicode") + "\n"


@pytest.mark.parametrize("writer_class", [XmlWriter, QdcWriter])
@pytest.mark.parametrize("deleted", [False, True])
def test_text_built_xml_equals_lxml(writer_class, deleted: bool) -> None:  # type: ignore[no-untyped-def]
    writer = writer_class()
    for rec in records():
        s = stored(rec, deleted=deleted)
        assert writer.body(s) == body_lxml(writer, s)
