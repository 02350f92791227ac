"""Citation text without a CSL processor: the checks every rendered entry goes through, and
the house style (catalog/styles/wcda.csl) written out.

catalog.cite renders the CSL styles with citeproc-py (with lxml and the record model: ~0.15 s
to import). The house style is one fixed sentence,

    "Title", <date as shown>, Wilson Center Digital Archive, <Source>. <URL>

so `house_entry` builds it from the record's values directly, for `harvester cite` (start-up)
and for many records (no processor per entry). tests/export/test_house_citation.py holds it
to citeproc-py's rendering of wcda.csl, in text and HTML, bibliography and note form, and
tests/export/test_citeproc_js.py to citeproc-js's. Nothing here imports the model, lxml or
citeproc.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from catalog.errors import StyleCannotRender

PUBLISHER = "Wilson Center Digital Archive"  # catalog.export.common.PUBLISHER (checked by the tests)


def fix_punctuation(text: str, inside: bool) -> str:
    if inside:
        # American style: periods and commas go inside closing quotation marks, single and double
        text = re.sub(r"((?:’)?”)([.,])", r"\2\1", text)
        text = re.sub(r"(‘[^‘’”]*?)’([.,])(?=\s|$)", r"\1\2’", text)
    # a full stop after a full stop, "?" or "!" (closing quotes between them or not) is one too many:
    # "11.15 a.m..”" -> "11.15 a.m.”", "Conversations.”." -> "Conversations.”", but "..." stays
    text = re.sub(r"(?<!\.)([.?!])([.,])([”’\"]*)(?!\.)", lambda m: m[1] + m[3] if m[2] == "." else m[0], text)
    return re.sub(r"(?<!\.)([.?!])([”’\"]+)\.(?!\.)", r"\1\2", text)


def plain(text: str) -> str:
    """For comparisons: no tags, no entities, no quotation marks, one case, single spaces."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    text = re.sub(r"[\"'‘’“”]", "", text)
    return " ".join(text.casefold().split())


def title_core(title: str) -> str:
    # styles may change the title's case or quotes; the first words are enough to find it
    return " ".join(title.split()[:3])


def check_entry(record_id: int, title: str, translators: Sequence[str], has_authors: bool, literal_date: str | None,
                out: str, style: str, et_al: tuple[int, int] | None = None) -> None:
    """Refuse entries where the processor printed something twice (substitution not suppressed)
    or left out a name the style shows (names after the style's et-al-use-first are not shown).

    `translators`: those the entry should show (none when the item carries no translator)."""
    text = plain(out)
    title = plain(title)
    problems: list[str] = []
    if text.count(title) > 1 or (title not in text and title_core(title) not in text):
        problems.append("the title is printed twice or not at all")
    rest = text.replace(title, "")
    shown = len(translators)
    if et_al and shown >= et_al[0]:
        shown = et_al[1]
        if translators and "et al" not in rest:
            problems.append("the translators after the first are neither printed nor shortened to et al.")
    if translators:
        from catalog.names import PersonName, parse_name

        for written in translators[:shown]:
            name = parse_name(written)
            key = plain(name.family if isinstance(name, PersonName) else name.name)
            if rest.count(key) > 1:
                problems.append(f"the translator {written!r} is printed twice")
            elif key not in rest:
                problems.append(f"the translator {written!r} is missing")
    if literal_date and rest.count(plain(literal_date)) > 1:
        problems.append(f"the date {literal_date!r} is printed twice")
    for term in ("n.d.", "undated"):
        if text.count(term) > 1:
            problems.append(f"{term!r} is printed twice")
    if problems:
        hint = "" if has_authors else " (the record has no author)"
        raise StyleCannotRender(
            f"record {record_id}: style {style!r} cannot be rendered correctly by citeproc-py: "
            f"{'; '.join(problems)}{hint}. Use --style wcda or export csl-json for another processor."
        )


def archive_url(url: str, record_id: int) -> str:
    """CatalogRecord.archive_url: the archive's stable citation URL, /document/<Record ID>."""
    return f"{url.split('/document/')[0]}/document/{record_id}"


def house_entry(record_id: int, title: str, date_display: str | None, source: str | None, url: str,
                has_authors: bool, *, fmt: str = "text", style: str = "wcda") -> str:
    """The house citation (wcda.csl, bibliography and note form alike); StyleCannotRender as
    catalog.cite.Citer.entry would raise it."""
    esc = (lambda s: html.escape(s, quote=False)) if fmt == "html" else (lambda s: s)
    date = date_display.strip() if date_display and date_display.strip() else None
    parts = [f'"{esc(title)}"']
    if date:
        parts.append(esc(date))
    parts.append(PUBLISHER)
    if source and source.strip():
        parts.append(esc(" ".join(source.split())))
    out = ", ".join(parts) + ". " + esc(archive_url(url, record_id))
    out = fix_punctuation(out, False)  # wcda.csl: punctuation-in-quote="false"
    out = out.replace(", trans.)", ", Trans.)")  # as Citer.finish (the style's label is capitalized)
    check_entry(record_id, title, (), has_authors, esc(date) if date else None, out, style)
    return out


def house_entry_of(data: Any, *, fmt: str = "text") -> str | None:
    """`house_entry` of a record's stored JSON (brief or whole body); None when the JSON does
    not have the shape the record model writes (the caller then reads it through the model)."""
    if not isinstance(data, dict):
        return None
    record_id, title, url, date = data.get("record_id"), data.get("title"), data.get("url"), data.get("date")
    source, authors = data.get("source"), data.get("authors")
    if not (type(record_id) is int and isinstance(title, str) and isinstance(url, str) and isinstance(date, dict)
            and isinstance(date.get("display"), str | None) and isinstance(source, str | None)
            and isinstance(authors, list)):
        return None
    return house_entry(record_id, title, date.get("display"), source, url, bool(authors), fmt=fmt)
