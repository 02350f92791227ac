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
  title-cased): WCDA titles are already headline style; `text-case="title"` is dropped
  from the title in the style tree in memory.
* `disambiguate` branches always fire (MLA in-text adds the title): only note
  styles get a `note` form; in-text citations are not offered.
* `text-case` on `<label>` ignored (APA prints "(G. Goldberg, trans.)" for APA's
  "Trans."): when the style asks for a capitalized translator label, the rendered
  ", trans.)" is capitalized.
* any processor exception becomes StyleCannotRender rather than a traceback.
"""

from __future__ import annotations

import copy
import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any, Literal

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from lxml import etree

from catalog.errors import ExportError, StyleCannotRender
from catalog.export.csl_json import csl_item
from catalog.model import CatalogRecord
from catalog.names import PersonName, parse_name
from catalog.style_patch import SubstitutingStyle

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
OutputFormat = Literal["text", "html"]


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
    _keep_titles_as_written(tree.getroot())
    return tree


def _keep_titles_as_written(root: etree._Element) -> None:
    """Drop text-case="title" from the title: WCDA titles are already in headline style.

    citeproc-py's title-caser can only add wrong capitals to them: after any word
    ending in "." ("3 p.m. in" -> "3 P.m. In"), in abbreviations ("a.m." -> "A.m."),
    on prepositions missing from its 26 stop words ("Between"), and on Cyrillic or
    other non-English titles whenever the item's language (the translation's) is en.
    """
    for text in root.iter(f"{{{CSL_NS}}}text"):
        if text.get("variable") in ("title", "title-short") and text.get("text-case") == "title":
            del text.attrib["text-case"]


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


def _punctuation_in_quote(root: etree._Element) -> bool:
    # en-US (the default and the locale of every shipped official style) says true;
    # a style may override it in its own <locale>, as wcda.csl does.
    for option in root.iter(f"{{{CSL_NS}}}style-options"):
        if option.get("punctuation-in-quote") is not None:
            return option.get("punctuation-in-quote") == "true"
    return root.get("default-locale", "en-US").startswith("en-US")


def _load_style(path: Path) -> CitationStylesStyle:
    # The root element only: a DOCTYPE (and any entity it declares) from a style file given
    # by path never reaches the second parser; an undefined entity then fails to parse.
    data = etree.tostring(_style_tree(path).getroot(), xml_declaration=True, encoding="utf-8")
    try:
        return SubstitutingStyle(data)
    except etree.XMLSyntaxError as exc:
        raise ExportError(f"cannot read style {path}: {exc}") from exc


def _inverts_every_name(root: etree._Element) -> bool:
    return any(n.get("name-as-sort-order") == "all" for n in root.iter(f"{{{CSL_NS}}}name"))


# The archive's ways of saying that a document has no date.
_NO_DATE = re.compile(r"^\[?\s*(?:undated|no date|n\.\s?d\.?|date unknown|unknown date|not dated|s\.\s?d\.?)\s*\]?\.?$",
                      re.I)


def render_item(record: CatalogRecord, *, literal_family_first: bool = True) -> dict[str, Any]:
    """The CSL item handed to citeproc-py: the exported item, family-first names as literals."""
    item = copy.deepcopy(csl_item(record))
    item.pop("custom", None)
    literal = item.get("issued", {}).get("literal")
    if literal and _NO_DATE.match(literal):
        del item["issued"]  # "undated" means no date: each style prints its own form ("n.d.")
    for role in ("author", "translator"):
        for i, name in enumerate(item.get(role, [])):
            if name.pop("static-ordering", False) and literal_family_first:
                item[role][i] = {"literal": f"{name['family']} {name.get('given', '')}".strip()}
    return item


def _capitalized_translator_label(root: etree._Element) -> bool:
    q = f"{{{CSL_NS}}}"
    for names in root.iter(f"{q}names"):
        if "translator" in (names.get("variable") or "").split():
            for label in names.iter(f"{q}label"):
                if label.get("text-case") in ("title", "capitalize-first"):
                    return True
    return False


def _fix_punctuation(text: str) -> str:
    return re.sub(r"([”’])([.,])", r"\2\1", text)


def cite(record: CatalogRecord, style: str = "wcda", *, fmt: OutputFormat = "text", note: bool = False) -> str:
    """One bibliography entry (or, with `note`, the footnote form) for `record`.

    Raises StyleCannotRender when citeproc-py would print a wrong entry.
    """
    path = style_path(style)
    root = _style_tree(path).getroot()
    if note and root.get("class") != "note":
        raise ExportError(f"style {style!r} is an in-text style; only note styles have a note form")
    item = render_item(record, literal_family_first=not _inverts_every_name(root))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # citeproc-py warns about every unsupported feature
        try:
            out = _render(path, item, fmt, note)
        except StyleCannotRender:
            raise
        except Exception as exc:
            raise StyleCannotRender(
                f"record {record.record_id}: citeproc-py cannot render style {style!r}: {type(exc).__name__}: {exc}"
            ) from exc
    if _punctuation_in_quote(root):
        out = _fix_punctuation(out)
    if _capitalized_translator_label(root):
        out = out.replace(", trans.)", ", Trans.)")
    _check(record, item, out, style)
    return out


def _render(path: Path, item: dict[str, Any], fmt: OutputFormat, note: bool) -> str:
    source = CiteProcJSON([item])
    output = formatter.html if fmt == "html" else formatter.plain
    bib = CitationStylesBibliography(_load_style(path), source, output)
    citation = Citation([CitationItem(item["id"])])
    bib.register(citation)
    if note:
        return str(bib.cite(citation, lambda _item: None))
    entries = bib.bibliography()
    if not entries:
        raise StyleCannotRender("the style has no bibliography")
    return "".join(str(e) for e in entries[0]) if not isinstance(entries[0], str) else entries[0]


def _check(record: CatalogRecord, item: dict[str, Any], out: str, style: str) -> None:
    """Refuse entries where citeproc-py printed something twice (substitution not suppressed)."""
    plain = re.sub(r"<[^>]+>", "", out)
    problems: list[str] = []
    if plain.count(record.title) > 1 or (record.title not in plain and _title_core(record.title) not in plain):
        problems.append("the title is printed twice or not at all")
    rest = plain.replace(record.title, "")
    for written in record.translators:
        name = parse_name(written)
        key = name.family if isinstance(name, PersonName) else name.name
        if rest.count(key) > 1:
            problems.append(f"the translator {written!r} is printed twice")
        elif key not in rest:
            problems.append(f"the translator {written!r} is missing")
    literal = item.get("issued", {}).get("literal")
    if literal and plain.count(literal) > 1:
        problems.append(f"the date {literal!r} is printed twice")
    for term in ("n.d.", "undated"):
        if plain.lower().count(term) > 1:
            problems.append(f"{term!r} is printed twice")
    if problems:
        hint = " (the record has no author)" if not record.authors else ""
        raise StyleCannotRender(
            f"record {record.record_id}: style {style!r} cannot be rendered correctly by citeproc-py: "
            f"{'; '.join(problems)}{hint}. Use --style wcda or export csl-json for another processor."
        )


def _title_core(title: str) -> str:
    # styles may change the title's case or quotes; the first words are enough to find it
    return " ".join(title.split()[:3])
