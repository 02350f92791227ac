"""Bibliography entries and notes through citeproc-py, with its known gaps worked around.

citeproc-py 0.11.1 renders the shipped styles, but has gaps (see docs/exports.md).
What this module does about each:

* `static-ordering` ignored ("Enlai Zhou"): family-first names are handed to the
  processor as `literal` "Zhou Enlai" (rendering input only; CSL-JSON keeps them),
  except in styles that invert every name (APA: `name-as-sort-order="all"`), where
  the inverted form "Zhou, E." is already right.
* `initialize="false"` ignored (Chicago/MLA print "J. Stalin"): the style tree is
  adjusted in memory so that names marked `initialize="false"` get no
  `initialize-with`, while other names keep the one they inherited.
* `punctuation-in-quote` ignored ("Peking”."): for styles whose locale puts
  punctuation inside quotes (en-US), "”." and "”," are swapped after rendering.
* `raw` dates dropped, EDTF strings crash, seasons crash APA, ranges lose the year:
  the CSL items never carry raw/string/season/range dates (csl_json.csl_date).
* substituted variables not suppressed (no author -> title or translator printed
  twice), shorthand `<names>` inside a `<choose>` in `<substitute>` not inheriting
  the original name/label ("Gary Goldberg." for "Goldberg, Gary, trans."): the style
  is parsed with element classes that implement CSL's substitution rule
  (catalog/style_patch.py); the entry is still checked after rendering, and an entry
  that prints the title or a translator twice (or not at all) raises StyleCannotRender.
* `literal` dates printed in every date slot (APA "(undated, undated)"): printed once
  (style_patch.py); a literal that only says "undated" is rendered as no date, so each
  style prints its own form ("n.d.").
* title-case on titles (citeproc-py: "3 P.m. In", "Between", Cyrillic titles
  title-cased): `text-case="title"` on the title is replaced, in the style tree in
  memory, by private-use marks around it; after rendering, the marked title is put
  in headline style by catalog/title_case.py (English items only, as citeproc-js).
* quotation marks inside a title: every rendered title is marked the same way, and
  its straight quotes become typographic ones, flip-flopped (single inside a quoted
  title, double in an unquoted one, as in APA); apostrophes become ’.
* punctuation-in-quote and doubled punctuation ("a.m..”", "Problem’”.", ".”."):
  after rendering, "." and "," move inside closing quotes (en-US), and a full stop
  after a full stop, "?" or "!" (with closing quotes between them) is dropped.
* HTML output: citeproc-py's html formatter does not escape variable text, so every
  string of the item is HTML-escaped before rendering.
* year-suffix disambiguation is missing: `Citer.bibliography` adds it (records whose
  in-text citations render alike get 1997a, 1997b... in bibliography order).
* `disambiguate` branches always fire (MLA in-text adds the title): only note
  styles get a `note` form; in-text citations are not offered.
* `text-case` on `<label>` ignored (APA prints "(G. Goldberg, trans.)" for APA's
  "Trans."): when the style asks for a capitalized translator label, the rendered
  ", trans.)" is capitalized.
* any processor exception becomes StyleCannotRender rather than a traceback.
"""

from __future__ import annotations

import copy
import html
import re
import string
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from lxml import etree

from catalog.cite_text import check_entry, house_entry
from catalog.cite_text import fix_punctuation as _fix_punctuation
from catalog.errors import ExportError, StyleCannotRender
from catalog.export.csl_json import csl_item
from catalog.model import CatalogRecord
from catalog.style_patch import SubstitutingStyle
from catalog.title_case import headline

STYLES_DIR = Path(__file__).resolve().parent / "styles"
STYLES: dict[str, str] = {
    "chicago": "chicago-notes-bibliography.csl",
    "chicago-notes-bibliography": "chicago-notes-bibliography.csl",
    "chicago-author-date": "chicago-author-date.csl",
    "apa": "apa.csl",
    "mla": "modern-language-association.csl",
    "modern-language-association": "modern-language-association.csl",
    "wcda": "wcda.csl",
}
CSL_NS = "http://purl.org/net/xbiblio/csl"
LOCALES_DIR = STYLES_DIR / "locales"
OutputFormat = Literal["text", "html"]
HOUSE_STYLE_ID = "urn:example:wcda-house"
# Private-use marks put around every rendered title (see _mark_titles): "case" ones where
# the style asked for text-case="title".
_OPEN, _OPEN_CASE, _CLOSE = "\ue000", "\ue001", "\ue002"


def style_path(style: str) -> Path:
    """A shipped style by name, or any .csl file by path."""
    if style in STYLES:
        return STYLES_DIR / STYLES[style]
    path = Path(style)
    if path.suffix == ".csl" and path.is_file():
        return path
    names = ", ".join(sorted(STYLES))
    raise ExportError(f"unknown style {style!r}: use one of {names}, or a path to a .csl file")


@cache
def _style_tree(path: Path) -> etree._ElementTree:
    try:
        tree = etree.parse(str(path), etree.XMLParser(remove_comments=True, resolve_entities=False))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ExportError(f"cannot read style {path}: {exc}") from exc
    if tree.getroot().tag != f"{{{CSL_NS}}}style":
        raise ExportError(f"{path} is not a CSL style")
    _fix_initialize_false(tree.getroot())
    if not is_house_style(tree.getroot()):
        _mark_titles(tree.getroot())
    return tree


def is_house_style(root: etree._Element) -> bool:
    """The archive's own citation form (wcda.csl): the title, date and Source as the page shows them."""
    ident = root.find(f"{{{CSL_NS}}}info/{{{CSL_NS}}}id")
    return ident is not None and (ident.text or "").strip() == HOUSE_STYLE_ID


def _mark_titles(root: etree._Element) -> None:
    """Put private-use marks around every title, in place of text-case="title".

    citeproc-py's title-caser cannot be used (module docstring); the marks let cite()
    find the rendered title, with the quotes the style put around it, and case it and
    its inner quotation marks itself.
    """
    for text in root.iter(f"{{{CSL_NS}}}text"):
        if text.get("variable") not in ("title", "title-short"):
            continue
        opening = _OPEN
        if text.get("text-case") == "title":
            del text.attrib["text-case"]
            opening = _OPEN_CASE
        text.set("prefix", text.get("prefix", "") + opening)
        text.set("suffix", _CLOSE + text.get("suffix", ""))


def _fix_initialize_false(root: etree._Element) -> None:
    """Give each <name> its effective initialize-with explicitly, minus initialize="false" ones."""
    q = f"{{{CSL_NS}}}"
    for name in root.iter(f"{q}name"):
        if name.get("initialize") == "false":
            name.attrib.pop("initialize-with", None)
            continue
        if name.get("initialize-with") is None:
            inherited = _inherited(name, "initialize-with")
            if inherited is not None:
                name.set("initialize-with", inherited)
    for el in [root, *root.iter(f"{q}citation", f"{q}bibliography")]:
        el.attrib.pop("initialize-with", None)


def _inherited(el: etree._Element, attr: str) -> str | None:
    q = f"{{{CSL_NS}}}"
    for ancestor in el.iterancestors():
        if ancestor.tag in (f"{q}citation", f"{q}bibliography", f"{q}style") and ancestor.get(attr) is not None:
            return ancestor.get(attr)
    return None


def style_class(style: str) -> str:
    return str(_style_tree(style_path(style)).getroot().get("class", "in-text"))


def _punctuation_in_quote(root: etree._Element, locale: str | None) -> bool:
    # en-US (the default and the locale of every shipped official style) says true, en-GB
    # false; a style may override it in its own <locale>, as wcda.csl does.
    for option in root.iter(f"{{{CSL_NS}}}style-options"):
        if option.get("punctuation-in-quote") is not None:
            return option.get("punctuation-in-quote") == "true"
    return (locale or root.get("default-locale", "en-US")).startswith("en-US")


def locale_names() -> list[str]:
    """Locales a user may ask for with --locale (citeproc-py's bundled ones, e.g. en-GB, de-DE)."""
    from citeproc.frontend import LOCALES_PATH

    return sorted(p.stem.removeprefix("locales-") for p in Path(LOCALES_PATH).glob("locales-*.xml"))


def _load_style(path: Path, locale: str | None = None) -> CitationStylesStyle:
    # The root element only: a DOCTYPE (and any entity it declares) from a style file given
    # by path never reaches the second parser; an undefined entity then fails to parse.
    data = etree.tostring(_style_tree(path).getroot(), xml_declaration=True, encoding="utf-8")
    try:
        return SubstitutingStyle(data, locale)
    except etree.XMLSyntaxError as exc:
        raise ExportError(f"cannot read style {path}: {exc}") from exc
    except ValueError as exc:  # citeproc-py: "'xx-XX' is not a known locale"
        raise ExportError(f"unknown locale {locale!r}: use one of {', '.join(locale_names())}") from exc


def _inverts_every_name(root: etree._Element) -> bool:
    return any(n.get("name-as-sort-order") == "all" for n in root.iter(f"{{{CSL_NS}}}name"))


# The archive's ways of saying that a document has no date.
_NO_DATE = re.compile(r"^\[?\s*(?:undated|no date|n\.\s?d\.?|date unknown|unknown date|not dated|s\.\s?d\.?)\s*\]?\.?$",
                      re.I)


def render_item(record: CatalogRecord, *, literal_family_first: bool = True, house: bool = False) -> dict[str, Any]:
    """The CSL item handed to citeproc-py: the exported item, family-first names as literals.

    For the house style (`house`): the date as the page shows it and the Source verbatim,
    credit sentences and all, in `archive_location`; no translator (the Source names them).
    """
    item = copy.deepcopy(csl_item(record, static_ordering=True))
    item.pop("custom", None)
    # `archive_location` already names the holding archive ("AP RF, f. 45, ..."), and the title
    # says what the document is ("Cable No. 4785"): printed, `archive` and `genre` would repeat them
    item.pop("archive", None)
    item.pop("genre", None)
    if house:
        item.pop("translator", None)
        item.pop("issued", None)
        if record.date.display and record.date.display.strip():
            item["issued"] = {"literal": record.date.display.strip()}
        if record.source and record.source.strip():
            item["archive_location"] = " ".join(record.source.split())
        else:
            item.pop("archive_location", None)
        return item
    literal = item.get("issued", {}).get("literal")
    if literal and _NO_DATE.match(literal):
        del item["issued"]  # "undated" means no date: each style prints its own form ("n.d.")
    for role in ("author", "translator"):
        for i, name in enumerate(item.get(role, [])):
            if name.pop("static-ordering", False) and literal_family_first:
                item[role][i] = {"literal": f"{name['family']} {name.get('given', '')}".strip()}
            elif not literal_family_first and "-" in name.get("given", ""):
                # styles that invert every name initialize them (APA), and citeproc-py turns a
                # lowercase part after a hyphen into "I.-. sung .": "Il-sung" -> "I.-S."
                name["given"] = "-".join(p[:1].upper() + p[1:] for p in name["given"].split("-"))
    return item


def _escaped(value: Any) -> Any:
    """Every string of a CSL item HTML-escaped (citeproc-py's html formatter does not)."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: v if k in ("id", "type", "language") else _escaped(v) for k, v in value.items()}
    return value


def _capitalized_translator_label(root: etree._Element) -> bool:
    q = f"{{{CSL_NS}}}"
    for names in root.iter(f"{q}names"):
        if "translator" in (names.get("variable") or "").split():
            for label in names.iter(f"{q}label"):
                if label.get("text-case") in ("title", "capitalize-first"):
                    return True
    return False


_TAG = r"(?:<[^>]+>)*"
_TITLE = re.compile(f"([{_OPEN}{_OPEN_CASE}])(.*?){_CLOSE}", re.S)
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")  # "Kohl's"; plural possessives ("the Soviets' ") after the pairs
_SINGLE = re.compile(r"(?<![\w'])'(?=\S)(.+?)(?<=\S)'(?![\w'])", re.S)
_DOUBLE = re.compile(r'"(?=\S)(.+?)(?<=\S)"|“(.+?)”', re.S)


# Quotation marks a locale may put around a title (open, close).
_QUOTE_PAIRS = [("“", "”"), ("‘", "’"), ("«", "»"), ("„", "“"), ("‚", "‘"), ('"', '"'), ("「", "」")]


def _fix_titles(out: str, case: bool) -> str:
    """Every marked title: typographic quotes flip-flopped against the style's own, headline style."""
    return _TITLE.sub(lambda m: _fix_title(m, case), out)


def _fix_title(match: re.Match[str], case: bool) -> str:
    text = match[2]
    lead, inner, tail = "", text, ""
    for open_quote, close_quote in _QUOTE_PAIRS:  # the style's own quotes around the title
        outer = re.match(f"^({_TAG}{re.escape(open_quote)})(.*)({re.escape(close_quote)}{_TAG})$", text, re.S)
        if outer:
            lead, inner, tail = outer[1], outer[2], outer[3]
            break
    inner = _APOSTROPHE.sub("’", inner)
    # flip-flop: inside double quotes single ones, inside single (en-GB) double ones, unquoted double
    first, last = ("‘", "’") if lead and not lead.endswith(("‘", "‚")) else ("“", "”")
    inner = _DOUBLE.sub(lambda m: f"{first}{m[1] if m[1] is not None else m[2]}{last}", inner)
    inner = _SINGLE.sub(lambda m: f"{first}{m[1]}{last}", inner)
    inner = inner.replace("'", "’")  # what is left closes a word: "the Soviets’ proposal"
    if case and match[1] == _OPEN_CASE:
        inner = headline(inner)
    return lead + inner + tail


@dataclass
class Entry:
    """One rendered entry (or the reason the record cannot be rendered correctly)."""

    record: CatalogRecord
    text: str | None
    error: StyleCannotRender | None = None


class Citer:
    """One style, output format, form and locale, parsed once for any number of records."""

    def __init__(self, style: str = "wcda", *, fmt: OutputFormat = "text", note: bool = False,
                 locale: str | None = None) -> None:
        self.style_name = style
        self.path = style_path(style)
        self.root = _style_tree(self.path).getroot()
        if note and self.root.get("class") != "note":
            raise ExportError(f"style {style!r} is an in-text style; only note styles have a note form")
        self.fmt: OutputFormat = fmt
        self.note = note
        self.house = is_house_style(self.root)
        # the archive's own form does not change with the reader's locale (and citeproc-py would let
        # an en-GB locale file override the house style's own <locale xml:lang="en"> quotes)
        self.locale = locale = None if self.house else locale
        if locale is not None and locale not in locale_names():
            raise ExportError(f"unknown locale {locale!r}: use one of {', '.join(locale_names())}")
        self.style = _load_style(self.path, locale)  # built once: parsing a style costs more than an entry
        self.inside = _punctuation_in_quote(self.root, locale)
        self.case_titles = (locale or self.root.get("default-locale", "en-US")).startswith("en")
        self.capital_trans = _capitalized_translator_label(self.root)
        self.et_al = _et_al(self.root, "citation" if note else "bibliography")
        self.literal_family_first = not _inverts_every_name(self.root)
        # The shipped house style is written out in catalog.cite_text (same text, no processor).
        self.written_out = self.house and self.path == STYLES_DIR / STYLES["wcda"]

    def item(self, record: CatalogRecord) -> dict[str, Any]:
        item = render_item(record, literal_family_first=self.literal_family_first, house=self.house)
        return _escaped(item) if self.fmt == "html" else item

    def entry(self, record: CatalogRecord, suffix: str | None = None) -> str:
        """One bibliography entry (or, with `note`, the footnote form); StyleCannotRender if wrong."""
        if self.written_out:
            return house_entry(record.record_id, record.title, record.date.display, record.source, record.url,
                               bool(record.authors), fmt=self.fmt, style=self.style_name)
        item = self.item(record)
        if suffix:
            item["year-suffix"] = suffix
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # citeproc-py warns about every unsupported feature
            try:
                out = _render(self.style, item, self.fmt, self.note)
            except StyleCannotRender:
                raise
            except Exception as exc:
                raise StyleCannotRender(
                    f"record {record.record_id}: citeproc-py cannot render style {self.style_name!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        return self.finish(record, item, out)

    def finish(self, record: CatalogRecord, item: dict[str, Any], out: str) -> str:
        english = item.get("language", "en").startswith("en") and self.case_titles
        out = _fix_titles(out, english)
        out = out.replace(_OPEN, "").replace(_OPEN_CASE, "").replace(_CLOSE, "")
        if not self.house:  # the house style prints the archive's text as the page shows it
            out = re.sub(r"(?<=[^\W\d_])'(?=[^\W\d_])", "’", out)  # typographic apostrophes (Posol’stvo)
        out = _fix_punctuation(out, self.inside)
        if self.capital_trans:
            out = out.replace(", trans.)", ", Trans.)")
        _check(record, item, out, self.style_name, self.et_al)
        return out

    def citation_key(self, record: CatalogRecord) -> str:
        """The in-text citation ("(Kieninger 1997)"): records whose keys are equal need year suffixes."""
        item = self.item(record)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return _render(self.style, item, "text", True)
            except Exception:
                return f"\0{record.record_id}"

    def bibliography(self, records: Iterable[CatalogRecord]) -> list[Entry]:
        """Entries for many records, sorted as the style's <sort> says, with year suffixes
        (1997a, 1997b...) where the style asks for them and two in-text citations would read alike."""
        records = list(records)
        if self.note:
            order = records
        else:
            order = self._sorted(records)
        suffixes = self._year_suffixes(order)
        entries = []
        for record in order:
            try:
                entries.append(Entry(record, self.entry(record, suffixes.get(record.record_id))))
            except StyleCannotRender as exc:
                entries.append(Entry(record, None, exc))
        return entries

    def _sorted(self, records: list[CatalogRecord]) -> list[CatalogRecord]:
        """The bibliography's <sort>, with citeproc-py computing each key; compared here, because
        its keys carry the title marks (which would sort every title-first entry last) and its
        comparison sees quotation marks (“Handwritten…” before every letter)."""
        bibliography = self.root.find(f"{{{CSL_NS}}}bibliography")
        sort = bibliography.find(f"{{{CSL_NS}}}sort") if bibliography is not None else None
        if len(records) < 2 or sort is None:
            return records
        items = [render_item(r, literal_family_first=self.literal_family_first, house=self.house) for r in records]
        ns = {"cs": CSL_NS}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                bib = CitationStylesBibliography(self.style, CiteProcJSON(items), formatter.plain)
                for item in items:
                    bib.register(Citation([_Item(item["id"])]))
                style_bib = self.style.root.bibliography
                layout = style_bib.find("cs:layout", ns)
                columns = []
                for key in style_bib.find("cs:sort", ns).findall("cs:key", ns):
                    keys = key.sort_keys(bib.items, layout)
                    descending = key.get("sort", "ascending") == "descending"
                    columns.append(([_sort_text(k) for k in keys], descending))
            except Exception:
                return records
        order = list(range(len(records)))
        for keys, descending in reversed(columns):  # stable sorts, least significant key first
            present = [i for i in order if keys[i] is not None]
            absent = [i for i in order if keys[i] is None]  # CSL: empty keys sort last either way
            present.sort(key=lambda i: keys[i], reverse=descending)
            order = present + absent
        return [records[i] for i in order]

    def _year_suffixes(self, order: list[CatalogRecord]) -> dict[int, str]:
        citation = self.root.find(f"{{{CSL_NS}}}citation")
        if citation is None or citation.get("disambiguate-add-year-suffix") != "true" or self.note:
            return {}
        groups: dict[str, list[int]] = {}
        for record in order:
            groups.setdefault(self.citation_key(record), []).append(record.record_id)
        suffixes: dict[int, str] = {}
        for ids in groups.values():
            if len(ids) > 1:
                for n, record_id in enumerate(ids):
                    suffixes[record_id] = _letters(n)
        return suffixes


def _sort_text(key: Any) -> Any:
    """A sort key as CSL compares it: no marks, markup or quotation marks, case-insensitive;
    numbers (date keys such as "1950-10-11", citation numbers) as they are."""
    if key is None:
        return None
    text = re.sub(r"<[^>]+>", "", str(key))
    text = re.sub(f"[{_OPEN}{_OPEN_CASE}{_CLOSE}\"'‘’“”«»„\\[\\]]", "", text).strip()
    return text.casefold() or None


def _letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa (CSL: "a" to "z", then "aa", "ab"...)."""
    letters = string.ascii_lowercase
    return letters[n] if n < 26 else _letters(n // 26 - 1) + letters[n % 26]


def _et_al(root: etree._Element, section: str) -> tuple[int, int] | None:
    """The et-al-min and et-al-use-first in force for translators in a section of the style."""
    q = f"{{{CSL_NS}}}"
    element = root.find(f"{q}{section}")
    for holder in (element, root):
        if holder is not None and holder.get("et-al-min") and holder.get("et-al-use-first"):
            return int(holder.get("et-al-min", "0")), int(holder.get("et-al-use-first", "0"))
    return None


def cite(record: CatalogRecord, style: str = "wcda", *, fmt: OutputFormat = "text", note: bool = False,
         locale: str | None = None) -> str:
    """One bibliography entry (or, with `note`, the footnote form) for `record`.

    Raises StyleCannotRender when citeproc-py would print a wrong entry. For many records,
    make one Citer and call its entry() or bibliography(): the style is parsed once.
    """
    return _citer(style, fmt, note, locale).entry(record)


@cache
def _citer(style: str, fmt: OutputFormat, note: bool, locale: str | None) -> Citer:
    return Citer(style, fmt=fmt, note=note, locale=locale)


class _Item(CitationItem):
    """A CitationItem whose reference (the CSL item) is looked up once: citeproc-py asks for it
    ~800 times an entry in Chicago, each time through three dict-backed attribute lookups."""

    @property
    def reference(self) -> Any:
        found = self.__dict__.get("_reference")
        if found is None:
            found = self.bibliography.source[self.key]
            object.__setattr__(self, "_reference", found)  # not CustomDict's: kept out of the item's keys
        return found


def _render(style: CitationStylesStyle, item: dict[str, Any], fmt: OutputFormat, note: bool) -> str:
    source = CiteProcJSON([item])
    output = formatter.html if fmt == "html" else formatter.plain
    bib = CitationStylesBibliography(style, source, output)
    citation = Citation([_Item(item["id"])])
    bib.register(citation)
    if note:
        return str(bib.cite(citation, lambda _item: None))
    entries = bib.bibliography()
    if not entries:
        raise StyleCannotRender("the style has no bibliography")
    return "".join(str(e) for e in entries[0]) if not isinstance(entries[0], str) else entries[0]


def _check(record: CatalogRecord, item: dict[str, Any], out: str, style: str,
           et_al: tuple[int, int] | None = None) -> None:
    """catalog.cite_text.check_entry for a record and the item it was rendered from."""
    translators = record.translators if item.get("translator") else []
    check_entry(record.record_id, record.title, translators, bool(record.authors),
                item.get("issued", {}).get("literal"), out, style, et_al)
