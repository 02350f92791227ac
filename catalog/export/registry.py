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
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from catalog.errors import ExportError
from catalog.export.options import DEFAULT_OPTIONS, FormatOptions

if TYPE_CHECKING:
    from catalog.model import CatalogRecord, StoredRecord
    from catalog.store import RawRecord

# Wrapper for a file of many oai_dc / oai_qdc records: DCMI and oai_dc define one record, not a list.
EXPORT_NS = "urn:x-wcda-harvester:export:1"
Skip = Callable[["StoredRecord", str], None]


class _Serializer:
    """A serializer function of a format's module, imported when a writer first calls it.

    The table below describes every format without importing the serializer modules (they
    import lxml, pymarc, citeproc, bibtexparser, the language tables and the record model),
    so an export that copies stored renderings never loads them. Read through the class it
    behaves as a staticmethod: the function itself, put in place of this descriptor.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name, self.attr = module, name, name

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        func = getattr(import_module(self.module), self.name)
        if owner is not None:
            setattr(owner, self.attr, staticmethod(func))  # later reads skip the import
        return func


def _lazy(module: str, name: str) -> Any:
    return _Serializer(f"catalog.export.{module}", name)


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
    record_xml = _lazy("oai_dc", "oai_dc_xml")


class QdcWriter(WrappedXmlWriter):
    record_xml = _lazy("qdc", "qdc_xml")


class ModsWriter(XmlWriter):
    """A `modsCollection` of `mods` records (the standard's own container)."""

    record_xml = _lazy("mods", "mods_xml")

    def header(self) -> str:
        from catalog.export.mods import COLLECTION_OPEN

        return '<?xml version="1.0" encoding="UTF-8"?>\n' + COLLECTION_OPEN

    def frame(self, record_id: int, deleted: bool, text: str) -> str:
        return text + "\n"

    def footer(self) -> str:
        from catalog.export.mods import COLLECTION_CLOSE

        return COLLECTION_CLOSE


class MarcXmlWriter(XmlWriter):
    """A MARCXML `collection` of `record`s (the standard's own container)."""

    record_xml = _lazy("marcxml", "marcxml")

    def header(self) -> str:
        from catalog.export.marcxml import COLLECTION_OPEN

        return '<?xml version="1.0" encoding="UTF-8"?>\n' + COLLECTION_OPEN

    def frame(self, record_id: int, deleted: bool, text: str) -> str:
        return text + "\n"

    def footer(self) -> str:
        from catalog.export.marcxml import COLLECTION_CLOSE

        return COLLECTION_CLOSE


class JsonLdWriter(Writer):
    """One JSON-LD document: the records as an `@graph` under the schema.org context."""

    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True

    _text = _lazy("jsonld", "jsonld_text")

    def header(self) -> str:
        from catalog.export.jsonld import CONTEXT

        return f'{{"@context": "{CONTEXT}", "@graph": [\n'

    def between(self) -> str:
        return ",\n"

    def body(self, stored: StoredRecord) -> str:
        return self._text(stored.record, options=self.options, context=False)

    def footer(self) -> str:
        return "\n]}\n"


class CslJsonWriter(Writer):
    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True
    stored: ClassVar[bool] = True
    _item = _lazy("csl_json", "csl_item")
    _text = _lazy("csl_json", "csl_json_text")

    def header(self) -> str:
        return "[\n"

    def between(self) -> str:
        return ",\n"

    def body(self, stored: StoredRecord) -> str:
        return self.render(stored.record)

    def render(self, record: CatalogRecord) -> str:
        return self._text(self._item(record))

    def footer(self) -> str:
        return "\n]\n"


class JsonlWriter(Writer):
    parallel: ClassVar[bool] = False  # a copy of the stored body: nothing to share out
    _line = _lazy("jsonl", "jsonl_line")
    _line_raw = _lazy("jsonl", "jsonl_line_raw")

    def body(self, stored: StoredRecord) -> str:
        return self._line(stored)

    def record_raw(self, raw: RawRecord) -> str:
        # The stored body is already the record as this line prints it: no model needed.
        line = self._line_raw(raw)
        if line is None:
            return self.record(raw.stored())
        self.written += 1
        return line


class CsvWriter(Writer):
    needs_text: ClassVar[bool] = False
    _header = _lazy("csv_flat", "csv_header")
    _line = _lazy("csv_flat", "csv_line")

    def header(self) -> str:
        return self._header()

    def body(self, stored: StoredRecord) -> str:
        return self._line(stored)


class RisWriter(Writer):
    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True
    _text = _lazy("ris", "ris_text")

    def body(self, stored: StoredRecord) -> str:
        return self._text(stored.record)


class BibtexWriter(Writer):
    needs_text: ClassVar[bool] = False
    skips_deleted: ClassVar[bool] = True
    _text = _lazy("bibtex", "bib_text")

    def body(self, stored: StoredRecord) -> str:
        return self._text(stored.record)


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


# The OAI-PMH bindings, spelled out so the table needs no serializer module; each module's own
# *_NS / *_SCHEMA constants say the same (tests/export/test_formats.py checks they agree).
_OAI_DC = OaiBinding("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc/",
                     "http://www.openarchives.org/OAI/2.0/oai_dc.xsd")
_OAI_QDC = OaiBinding("oai_qdc", "http://worldcat.org/xmlschemas/qdc-1.0/",
                      "http://worldcat.org/xmlschemas/qdc/1.0/qdc-1.0.xsd")
_MODS = OaiBinding("mods", "http://www.loc.gov/mods/v3", "http://www.loc.gov/standards/mods/v3/mods-3-8.xsd")
_MARCXML = OaiBinding("marcxml", "http://www.loc.gov/MARC21/slim",
                      "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd")

FORMATS: dict[str, Format] = {f.name: f for f in [
    Format("oai_dc", "application/xml", "xml", OaiDcWriter, _OAI_DC),
    # "qdc": this format's name before it moved to OCLC's container (kept for scripts).
    Format("oai_qdc", "application/xml", "xml", QdcWriter, _OAI_QDC, ("qdc",)),
    Format("mods", "application/mods+xml", "xml", ModsWriter, _MODS),
    Format("marcxml", "application/marcxml+xml", "xml", MarcXmlWriter, _MARCXML),
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
