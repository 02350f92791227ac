"""ParsedPage (strings as shown) + provenance -> a validated CatalogRecord.

Normalized values are added next to what the page shows; whatever cannot be
normalized is kept as shown and reported in `problems`, never guessed.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlparse

from pydantic import ValidationError

from catalog.dates import normalize_date
from catalog.errors import RecordValidationError
from catalog.languages import language
from catalog.model import CatalogRecord, Language, Provenance, TextVersion
from catalog.source import translators_from_source
from harvester.site.fields import ParsedPage, TabText
from harvester.site.selectors import TEXT_KINDS


def _as_list(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _as_text(value: list[str] | str | None) -> str | None:
    if value is None:
        return None
    return "\n\n".join(value) if isinstance(value, list) else value


def _text_version(tab: TabText) -> TextVersion:
    words = tab.label.split()
    kind = next((TEXT_KINDS[w.casefold()] for w in words if w.casefold() in TEXT_KINDS), "unknown")
    lang: Language | None = None
    # "Russian Transcript", "English Translation": the words before the kind name the language.
    if kind != "unknown" and len(words) > 1:
        name = " ".join(w for w in words if w.casefold() not in TEXT_KINDS)
        candidate = language(name)
        lang = candidate if candidate.iso639_3 else None
    if lang is None and tab.lang_attr:
        candidate = language(tab.lang_attr)
        lang = candidate if candidate.iso639_3 else None
    return TextVersion(label=tab.label, kind=kind, language=lang, text=tab.text)


def slug_from_url(url: str) -> str | None:
    try:
        path = urlparse(url).path.rstrip("/")
    except ValueError:  # not a URL at all ("http://[" in a canonical link)
        return None
    if "/document/" not in path:
        return None
    slug = path.rsplit("/", 1)[-1]
    return slug or None


def build_record(parsed: ParsedPage, provenance: Provenance, *, requested_id: int) -> CatalogRecord:
    """Assemble and validate the record; raises RecordValidationError naming the ID."""
    problems = list(parsed.problems)
    info = parsed.info
    if parsed.matched:
        provenance = provenance.model_copy(update={"matched": dict(parsed.matched)})

    record_id = requested_id
    shown_id = _as_text(info.get("record_id"))
    if shown_id is None:
        problems.append("no Record ID shown on the page")
    elif not re.fullmatch(r"[0-9]{1,18}", shown_id.strip()):  # not isdigit(): "²" and "١٢" pass that
        problems.append(f"Record ID shown is not a number: {shown_id!r}")
    elif int(shown_id) != requested_id:
        problems.append(f"record id mismatch: page says {int(shown_id)} (requested {requested_id})")

    doc_date, date_problems = normalize_date(parsed.date)
    problems.extend(date_problems)

    uploaded: date | None = None
    uploaded_text = _as_text(info.get("uploaded"))
    if uploaded_text:
        try:
            uploaded = date.fromisoformat(uploaded_text.strip())
        except ValueError:
            problems.append(f"unreadable Original Uploaded Date: {uploaded_text!r}")

    url = provenance.final_url
    slug = slug_from_url(url)
    if slug is None or slug.isdigit():
        problems.append("final URL is not a /document/<slug> URL (no redirect to the canonical page)")
        slug = None
    if parsed.canonical and slug and slug_from_url(parsed.canonical) != slug:
        problems.append(f"canonical link {parsed.canonical} differs from the final URL")

    source = _as_text(info.get("source"))
    texts = [_text_version(tab) for tab in parsed.tabs]
    if not texts:
        problems.append("no document text (scan only)" if parsed.pdf_url else "no document text and no scan")
    if not parsed.summary:
        problems.append("no summary")

    try:
        return CatalogRecord(
            record_id=record_id,
            node_id=parsed.node_id,
            slug=slug,
            url=url,
            title=parsed.title,
            date=doc_date,
            summary=parsed.summary,
            texts=texts,
            authors=parsed.sections.get("authors", []),
            people_and_organizations=parsed.sections.get("people_and_organizations", []),
            places=parsed.sections.get("places", []),
            subjects=parsed.sections.get("subjects", []),
            contributors=parsed.sections.get("contributors", []),
            source=source,
            translators=translators_from_source(source),
            original_archives=_as_list(info.get("original_archives")),
            rights=_as_text(info.get("rights")),
            uploaded=uploaded,
            types=_as_list(info.get("types")),
            original_languages=[language(name) for name in _as_list(info.get("original_languages"))],
            classification=_as_text(info.get("classification")),
            donors=_as_list(info.get("donors")),
            credit_line=parsed.credit,
            pdf_url=parsed.pdf_url,
            download_url=parsed.download_url,
            problems=problems,
            provenance=provenance,
        )
    except ValidationError as exc:
        raise RecordValidationError(requested_id, str(exc.errors()[0]["msg"])) from exc
