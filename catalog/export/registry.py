"""Format name -> streaming writer: header, then one chunk per record, then footer.

Writers return text; the caller writes it, so an export of hundreds of thousands of
records holds one record in memory at a time. Tombstones: jsonl/csv carry a
`deleted` flag, the XML formats mark the record `status="deleted"` (like an OAI-PMH
header) and add a withdrawal note; csl-json, ris and bibtex (citation formats, which
have no way to say "withdrawn") skip them and report each skip through `on_skip`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from catalog.errors import ExportError
from catalog.export.bibtex import bib_text
from catalog.export.csl_json import csl_item, csl_json_text
from catalog.export.csv_flat import csv_header, csv_line
from catalog.export.jsonl import jsonl_line, jsonl_line_raw
from catalog.export.oai_dc import oai_dc_element, oai_dc_xml
from catalog.export.qdc import qdc_element, qdc_xml
from catalog.export.ris import ris_text
from catalog.model import StoredRecord
from catalog.store import RawRecord

# Wrapper for a file of many XML records: DCMI and oai_dc define one record, not a list.
EXPORT_NS = "urn:x-wcda-harvester:export:1"
Skip = Callable[[StoredRecord, str], None]


@dataclass
class Writer:
    """Base streaming writer; subclasses override `body` (and header/footer/`between`)."""

    on_skip: Skip = field(default=lambda stored, reason: None)
    written: int = 0
    skips_deleted: ClassVar[bool] = False  # citation formats cannot say "withdrawn"
    # False only for formats that never print `texts[].text`: they are given the brief
    # stored record (texts' text emptied), which is a third of the size to read and parse.
    needs_text: ClassVar[bool] = True

    def header(self) -> str:
        return ""

    def record_raw(self, raw: RawRecord) -> str:
        """`record` for a row as stored (`SQLiteStore.iter_raw(brief=not self.needs_text)`)."""
        if raw.deleted and self.skips_deleted:
            self.on_skip(raw.stored(), "deleted (tombstone); this format cannot mark a record as withdrawn")
            return ""
        return self.record(raw.stored())

    def record(self, stored: StoredRecord) -> str:
        if stored.deleted and self.skips_deleted:
            self.on_skip(stored, "deleted (tombstone); this format cannot mark a record as withdrawn")
            return ""
        return self.emit(self.body(stored))

    def emit(self, text: str) -> str:
        """A record's `body` text as it goes into the stream (separator, count)."""
        prefix = self.between() if self.written else ""
        self.written += 1
        return prefix + text

    # Whether formatting may run in worker processes (catalog.export.parallel): worth it
    # only where formatting costs more than handing a row to a worker and back.
    parallel: ClassVar[bool] = True

    def between(self) -> str:
        return ""

    def body(self, stored: StoredRecord) -> str:
        raise NotImplementedError

    def footer(self) -> str:
        return ""


class XmlWriter(Writer):
    needs_text: ClassVar[bool] = False

    element = staticmethod(oai_dc_element)
    # The same element as text: what `body` writes (tests/export/test_xml_text.py checks both agree).
    element_xml = staticmethod(oai_dc_xml)

    def header(self) -> str:
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<records xmlns="{EXPORT_NS}">\n'

    def body(self, stored: StoredRecord) -> str:
        # Built as text rather than an lxml tree serialized: 2-3x cheaper, same bytes.
        status = ' status="deleted"' if stored.deleted else ""
        return (f'<record xmlns="{EXPORT_NS}" id="{stored.record.record_id}"{status}>'
                f"{self.element_xml(stored.record, deleted=stored.deleted)}</record>\n")

    def footer(self) -> str:
        return "</records>\n"


class QdcWriter(XmlWriter):
    element = staticmethod(qdc_element)
    element_xml = staticmethod(qdc_xml)


class CslJsonWriter(Writer):
    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True

    def header(self) -> str:
        return "[\n"

    def between(self) -> str:
        return ",\n"

    def body(self, stored: StoredRecord) -> str:
        return csl_json_text(csl_item(stored.record))

    def footer(self) -> str:
        return "\n]\n"


class JsonlWriter(Writer):
    parallel: ClassVar[bool] = False  # a copy of the stored body: nothing to share out

    def body(self, stored: StoredRecord) -> str:
        return jsonl_line(stored)

    def record_raw(self, raw: RawRecord) -> str:
        # The stored body is already the record as this line prints it: no model needed.
        line = jsonl_line_raw(raw)
        if line is None:
            return self.record(raw.stored())
        self.written += 1
        return line


class CsvWriter(Writer):
    needs_text: ClassVar[bool] = False

    def header(self) -> str:
        return csv_header()

    def body(self, stored: StoredRecord) -> str:
        return csv_line(stored)


class RisWriter(Writer):
    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True

    def body(self, stored: StoredRecord) -> str:
        return ris_text(stored.record)


class BibtexWriter(Writer):
    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True

    def body(self, stored: StoredRecord) -> str:
        return bib_text(stored.record)


FORMATS: dict[str, type[Writer]] = {
    "oai_dc": XmlWriter,
    "qdc": QdcWriter,
    "csl-json": CslJsonWriter,
    "jsonl": JsonlWriter,
    "csv": CsvWriter,
    "ris": RisWriter,
    "bibtex": BibtexWriter,
}


def writer_for(name: str, on_skip: Skip | None = None) -> Writer:
    try:
        cls = FORMATS[name]
    except KeyError:
        raise ExportError(f"unknown export format {name!r}: use one of {', '.join(FORMATS)}") from None
    return cls(on_skip=on_skip) if on_skip else cls()
