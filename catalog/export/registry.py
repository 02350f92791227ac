"""The format registry: every output format, what it is, and its one serializer.

Each `Format` says its name, media type, file extension, whether it prints withdrawn
records (tombstones), its streaming `Writer` (header, one chunk per record, footer) and,
for the XML formats, its OAI-PMH binding (prefix, namespace, schema URL) and its record
serializer. `harvester export`, the OAI-PMH provider (ListMetadataFormats, GetRecord,
List*) and the Static Repository (`harvester feed`) all read this table, so a format
added here is offered everywhere it fits.

Writers return text; the caller writes it, so an export of hundreds of thousands of
records holds one record in memory at a time. Tombstones: jsonl/csv carry a `deleted`
flag; oai_dc/oai_qdc mark the record `status="deleted"` in the file's wrapper and add a
withdrawal note, mods adds a `note type="withdrawn"`, marcxml sets Leader/05 `d`;
csl-json, ris, bibtex and jsonld (which have no way to say "withdrawn") skip them and
report each skip through `on_skip`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from catalog.errors import ExportError
from catalog.export.bibtex import bib_text
from catalog.export.common import DEFAULT_OPTIONS, FormatOptions
from catalog.export.csl_json import csl_item, csl_json_text
from catalog.export.csv_flat import csv_header, csv_line
from catalog.export.jsonl import jsonl_line, jsonl_line_raw
from catalog.export.jsonld import CONTEXT as JSONLD_CONTEXT
from catalog.export.jsonld import jsonld_text
from catalog.export.marcxml import COLLECTION_CLOSE as MARC_COLLECTION_CLOSE
from catalog.export.marcxml import COLLECTION_OPEN as MARC_COLLECTION_OPEN
from catalog.export.marcxml import MARC_NS, MARC_SCHEMA, marcxml
from catalog.export.mods import COLLECTION_CLOSE as MODS_COLLECTION_CLOSE
from catalog.export.mods import COLLECTION_OPEN as MODS_COLLECTION_OPEN
from catalog.export.mods import MODS_NS, MODS_SCHEMA, mods_xml
from catalog.export.oai_dc import OAI_DC_NS, OAI_DC_SCHEMA, oai_dc_xml
from catalog.export.qdc import QDC_NS, QDC_SCHEMA, qdc_xml
from catalog.export.ris import ris_text
from catalog.model import CatalogRecord, StoredRecord
from catalog.store import RawRecord

# Wrapper for a file of many oai_dc / oai_qdc records: DCMI and oai_dc define one record, not a list.
EXPORT_NS = "urn:x-wcda-harvester:export:1"
Skip = Callable[[StoredRecord, str], None]


class RecordXml(Protocol):
    """An XML format's one serializer: the record's element as text, namespaces declared on it."""

    def __call__(self, record: CatalogRecord, *, deleted: bool = ..., options: FormatOptions = ...) -> str: ...


@dataclass
class Writer:
    """Base streaming writer; subclasses override `body` (and header/footer/`between`)."""

    on_skip: Skip = field(default=lambda stored, reason: None)
    options: FormatOptions = DEFAULT_OPTIONS
    written: int = 0
    skips_deleted: ClassVar[bool] = False  # citation formats cannot say "withdrawn"
    # False only for formats that never print `texts[].text`: they are given the brief
    # stored record (texts' text emptied), which is a third of the size to read and parse.
    needs_text: ClassVar[bool] = True

    # True for formats whose `render` text the store keeps with each record (catalog.export.rendered):
    # their exports and OAI-PMH copy it instead of formatting the record again.
    stored: ClassVar[bool] = False

    def header(self) -> str:
        return ""

    def record_raw(self, raw: RawRecord) -> str:
        """`record` for a row as stored (`SQLiteStore.iter_raw(brief=not self.needs_text)`).

        A live row read with its current stored rendering (`iter_raw(rendered=...)`) is framed
        as it is: the text is this format's own `render` of the record, made when it was written.
        """
        if raw.rendered is not None and not raw.deleted:
            return self.emit(self.frame(raw.record_id, False, raw.rendered))
        if raw.deleted and self.skips_deleted:
            self.on_skip(raw.stored(), "deleted (tombstone); this format cannot mark a record as withdrawn")
            return ""
        return self.record(raw.stored())

    def render(self, record: CatalogRecord) -> str:
        """The record's own text in this format, as the store keeps it (formats with `stored`)."""
        raise NotImplementedError

    def frame(self, record_id: int, deleted: bool, text: str) -> str:
        """`body` around a record's `render` text (separators and wrappers of the file)."""
        return text

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
    """XML formats: `record_xml` per record between the format's collection header and footer."""

    needs_text: ClassVar[bool] = False
    stored: ClassVar[bool] = True
    record_xml: ClassVar[RecordXml]

    def xml(self, stored: StoredRecord) -> str:
        return self.record_xml(stored.record, deleted=stored.deleted, options=self.options)

    def render(self, record: CatalogRecord) -> str:
        return self.record_xml(record, options=self.options)

    def body(self, stored: StoredRecord) -> str:
        return self.frame(stored.record.record_id, stored.deleted, self.xml(stored))


class WrappedXmlWriter(XmlWriter):
    """oai_dc / oai_qdc files: each record in a `record` element of this tool's namespace,
    which carries the Record ID and the deleted status as an OAI-PMH header would."""

    def header(self) -> str:
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<records xmlns="{EXPORT_NS}">\n'

    def frame(self, record_id: int, deleted: bool, text: str) -> str:
        status = ' status="deleted"' if deleted else ""
        return f'<record xmlns="{EXPORT_NS}" id="{record_id}"{status}>{text}</record>\n'

    def footer(self) -> str:
        return "</records>\n"


class OaiDcWriter(WrappedXmlWriter):
    record_xml = staticmethod(oai_dc_xml)


class QdcWriter(WrappedXmlWriter):
    record_xml = staticmethod(qdc_xml)


class ModsWriter(XmlWriter):
    """A `modsCollection` of `mods` records (the standard's own container)."""

    record_xml = staticmethod(mods_xml)

    def header(self) -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + MODS_COLLECTION_OPEN

    def frame(self, record_id: int, deleted: bool, text: str) -> str:
        return text + "\n"

    def footer(self) -> str:
        return MODS_COLLECTION_CLOSE


class MarcXmlWriter(XmlWriter):
    """A MARCXML `collection` of `record`s (the standard's own container)."""

    record_xml = staticmethod(marcxml)

    def header(self) -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + MARC_COLLECTION_OPEN

    def frame(self, record_id: int, deleted: bool, text: str) -> str:
        return text + "\n"

    def footer(self) -> str:
        return MARC_COLLECTION_CLOSE


class JsonLdWriter(Writer):
    """One JSON-LD document: the records as an `@graph` under the schema.org context."""

    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True

    def header(self) -> str:
        return f'{{"@context": "{JSONLD_CONTEXT}", "@graph": [\n'

    def between(self) -> str:
        return ",\n"

    def body(self, stored: StoredRecord) -> str:
        return jsonld_text(stored.record, options=self.options, context=False)

    def footer(self) -> str:
        return "\n]}\n"


class CslJsonWriter(Writer):
    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True
    stored: ClassVar[bool] = True

    def header(self) -> str:
        return "[\n"

    def between(self) -> str:
        return ",\n"

    def body(self, stored: StoredRecord) -> str:
        return self.render(stored.record)

    def render(self, record: CatalogRecord) -> str:
        return csl_json_text(csl_item(record))

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


@dataclass(frozen=True)
class OaiBinding:
    """How OAI-PMH offers a format (ListMetadataFormats) and where its records' schema is."""

    prefix: str
    namespace: str
    schema: str


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    extension: str  # file name extension, without the dot
    writer: type[Writer]
    oai: OaiBinding | None = None
    aliases: tuple[str, ...] = ()
    # The serializer's version: part of the key of every stored rendering (catalog.export.rendered).
    # Bump it with any change to the format's output, so no rendering stored before is served.
    version: int = 1

    @property
    def prints_deleted(self) -> bool:
        return not self.writer.skips_deleted

    @property
    def record_xml(self) -> RecordXml | None:
        """The XML serializer OAI-PMH and the Static Repository print (None: not XML)."""
        return getattr(self.writer, "record_xml", None)


FORMATS: dict[str, Format] = {f.name: f for f in [
    Format("oai_dc", "application/xml", "xml", OaiDcWriter, OaiBinding("oai_dc", OAI_DC_NS, OAI_DC_SCHEMA)),
    # "qdc": this format's name before it moved to OCLC's container (kept for scripts).
    Format("oai_qdc", "application/xml", "xml", QdcWriter, OaiBinding("oai_qdc", QDC_NS, QDC_SCHEMA), ("qdc",)),
    Format("mods", "application/mods+xml", "xml", ModsWriter, OaiBinding("mods", MODS_NS, MODS_SCHEMA)),
    Format("marcxml", "application/marcxml+xml", "xml", MarcXmlWriter, OaiBinding("marcxml", MARC_NS, MARC_SCHEMA)),
    Format("jsonld", "application/ld+json", "jsonld", JsonLdWriter),
    Format("csl-json", "application/vnd.citationstyles.csl+json", "json", CslJsonWriter),
    Format("jsonl", "application/jsonl", "jsonl", JsonlWriter),
    Format("csv", "text/csv", "csv", CsvWriter),
    Format("ris", "application/x-research-info-systems", "ris", RisWriter),
    Format("bibtex", "application/x-bibtex", "bib", BibtexWriter),
]}
ALIASES: dict[str, str] = {alias: f.name for f in FORMATS.values() for alias in f.aliases}
OAI_FORMATS: dict[str, Format] = {f.oai.prefix: f for f in FORMATS.values() if f.oai is not None}


def format_for(name: str) -> Format:
    """The format called `name` (or one of its aliases); ExportError names the choices."""
    found = FORMATS.get(ALIASES.get(name, name))
    if found is None:
        raise ExportError(f"unknown export format {name!r}: use one of {', '.join(FORMATS)}")
    return found


def writer_for(name: str, on_skip: Skip | None = None, options: FormatOptions = DEFAULT_OPTIONS) -> Writer:
    cls = format_for(name).writer
    return cls(on_skip=on_skip, options=options) if on_skip else cls(options=options)
