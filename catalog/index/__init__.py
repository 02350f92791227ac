"""Derived indexes: what a record contributes to facets and to full-text search.

`derive(record)` is one pure function (no I/O, no store): the store backends call it
inside the unit of work that writes the record, and `harvester reindex` calls it for
every stored record. Bump `INDEX_VERSION` whenever its output changes for the same
record: a store opened for writing re-derives every record whose index is older.

Facet keys are `family:token` (`subject:korean-war-1950-1953`); the OAI-PMH families
(type, language, archive, subject) also carry a parent key (`subject`) so that a
`set=subject` harvest is one indexed range like any other. Those keys are public OAI
setSpecs (docs/oai-pmh.md): the slug scheme below must stay stable.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain, islice
from typing import TYPE_CHECKING

from catalog.xmltext import xml_safe

if TYPE_CHECKING:
    from catalog.model import CatalogRecord

INDEX_VERSION = 2  # 2: search text as folded tokens (catalog.index.tokens), sort keys

# family -> display name. The first four are OAI-PMH set families (with a parent set).
FAMILIES: dict[str, str] = {
    "type": "Document type",
    "language": "Original language",
    "archive": "Original archive",
    "subject": "Subject",
    "place": "Place",
    "person": "Person or organization",
    "donor": "Donor",
    "year": "Year",
    "decade": "Decade",
    "has_text": "Has document text",
    "has_scan": "Has scan",
}
PARENT_FAMILIES = ("type", "language", "archive", "subject")
_MAX_SLUG = 60


@dataclass(frozen=True)
class Facet:
    key: str  # "subject:korean-war-1950-1953", or a parent key ("subject")
    family: str  # "subject"
    value: str  # the token after the colon; "" for a parent key
    label: str  # shown to people (OAI setName)


@dataclass(frozen=True)
class SearchText:
    """The searchable text of one record, by field (each a space-joined string)."""

    title: str
    summary: str
    names: str
    places: str
    subjects: str
    source: str
    texts: str

    def fields(self) -> tuple[str, str, str, str, str, str, str]:
        return (self.title, self.summary, self.names, self.places, self.subjects, self.source, self.texts)

    @cached_property
    def words(self) -> tuple[list[str], ...]:
        """Each field's searchable words (`tokens`), what both backends index. Computed once and
        kept (a pickled SearchText carries them: catalog/prepared.py computes them in a harvest's
        parse workers, off the thread that writes the catalog)."""
        return tuple(tokens(field) for field in self.fields())


@dataclass(frozen=True)
class SortKeys:
    """What a search sorts and filters by besides the text: the date range the record's date
    covers (ISO dates, None without a date) and its title folded for a byte-wise sort."""

    date_start: str | None
    date_end: str | None
    title: str


@dataclass(frozen=True)
class Derived:
    facets: tuple[Facet, ...]
    text: SearchText
    sort: SortKeys


def slug(value: str) -> str:
    """A setSpec-safe, stable token for `value`.

    The value folded to ASCII, lower-cased, runs of other characters turned into "-".
    When folding loses letters (non-Latin scripts) or the slug is cut at 60 characters,
    "-" and 8 hex digits of the SHA-1 of the case-folded value are appended, so different
    values never share a key by accident while values that differ only in case, accents
    or punctuation do.
    """
    text = value.strip()
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    base = "-".join(re.findall(r"[a-z0-9]+", folded.lower()))
    lost = any(
        unicodedata.category(ch)[0] in "LN" and not unicodedata.normalize("NFKD", ch).encode("ascii", "ignore")
        for ch in text
    )
    if not base or lost or len(base) > _MAX_SLUG:
        digest = hashlib.sha1(text.casefold().encode("utf-8")).hexdigest()[:8]
        base = f"{base[:_MAX_SLUG].strip('-') or 'x'}-{digest}"
    return base


def _label(value: str, fallback: str) -> str:
    # Labels end up in XML (OAI setName): characters XML 1.0 forbids are dropped.
    return xml_safe(value).strip() or fallback


def _language_token(name: str, code: str | None) -> str:
    return code if code and re.fullmatch(r"[a-z]{3}", code) else slug(name)


def facets(record: CatalogRecord) -> tuple[Facet, ...]:
    """Every facet of `record`, parents included, sorted by key."""
    # The project's one ISO 639 lookup; imported here, not at the top: its data takes a
    # noticeable part of a second to load, and every command opens the store.
    from catalog.export.common import language_code_3

    found: dict[str, Facet] = {}

    def add(family: str, token: str, name: str) -> None:
        if family in PARENT_FAMILIES and family not in found:
            found[family] = Facet(family, family, "", FAMILIES[family])
        key = f"{family}:{token}"
        if key not in found:
            found[key] = Facet(key, family, token, _label(name, key))

    for value in record.types:
        if value.strip():
            add("type", slug(value), value)
    for lang in record.original_languages:
        add("language", _language_token(lang.name, language_code_3(lang)), lang.name)
    named = (("archive", record.original_archives), ("subject", record.subjects), ("place", record.places),
             ("person", record.people_and_organizations), ("donor", record.donors))
    for family, values in named:
        for value in values:
            if value.strip():
                add(family, slug(value), value)
    year = _year(record.date.normalized)
    if year is not None:
        add("year", str(year), str(year))
        add("decade", f"{year // 10 * 10}s", f"{year // 10 * 10}s")
    has_text = any(t.text.strip() for t in record.texts)
    add("has_text", "yes" if has_text else "no", "yes" if has_text else "no")
    has_scan = bool(record.pdf_url)
    add("has_scan", "yes" if has_scan else "no", "yes" if has_scan else "no")
    return tuple(found[k] for k in sorted(found))


def _year(normalized: str | None) -> int | None:
    if normalized and re.match(r"\d{4}", normalized):
        return int(normalized[:4])
    return None


def search_text(record: CatalogRecord) -> SearchText:
    names = [*record.authors, *record.people_and_organizations, *record.contributors, *record.translators,
             *record.donors]
    return SearchText(
        title=record.title,
        summary=record.summary or "",
        names=" ".join(names),
        places=" ".join(record.places),
        subjects=" ".join([*record.subjects, *record.types, *record.original_archives]),
        source=record.source or "",
        texts="\n".join(t.text for t in record.texts),
    )


# -- tokens: the one definition of a searchable word, for both backends and the snippets -------
# A word is a run of letters and digits (Unicode categories L*, N*, as SQLite's unicode61
# tokenizer reads them), case-folded, with its diacritics removed. Both backends index these
# tokens, never their own parsers' idea of a word (PostgreSQL's parser keeps host names, file
# paths and hyphenated compounds whole), so a query matches the same records on either.
_WORD = re.compile(r"[^\W_]+")
MAX_TOKEN = 100  # characters; longer runs (base64, garbage) are not words anyone searches for
MAX_TOKENS = 100_000  # per field: PostgreSQL's tsvector has to stay well under 1 MB


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """A word as the index keeps it: case-folded, without combining marks ("Šubašić" -> "subasic")."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def index_words(word: str) -> tuple[str, ...]:
    """The index words of one run of letters and digits (folding may split it: "ﬁ" ligatures stay
    whole). Kept: most words of a catalog are common ones, and snippets read thousands of them."""
    if word.isascii():  # folding an ASCII word lower-cases it and keeps it one word
        return (word.lower(),) if len(word) <= MAX_TOKEN else ()
    return tuple(part for part in _WORD.findall(fold(word)) if len(part) <= MAX_TOKEN)


def tokens(text: str, limit: int = MAX_TOKENS) -> list[str]:
    """The searchable words of `text`, folded, in order (at most `limit`)."""
    if text.isascii():
        # The same words, found in one pass: an ASCII word folds to its lower case and stays one
        # word. (Every record's text is tokenized when it is stored: the word-by-word loop below
        # was ~1-2 ms of a harvested page's CPU.)
        return [w for w in _WORD.findall(text.lower()) if len(w) <= MAX_TOKEN][:limit]
    # Word by word through the cached index_words, chained in C: the words of a catalog repeat,
    # and a Python loop over the matches cost ~25 % more on the fixture records.
    return list(islice(chain.from_iterable(map(index_words, _WORD.findall(text))), limit))


def title_key(title: str) -> str:
    """The title as a sort key: folded words joined by spaces (leading quotes and brackets ignored)."""
    return " ".join(tokens(title, 64))


def date_range(normalized: str | None) -> tuple[str | None, str | None]:
    """("1950-01-01", "1950-12-31") for "1950"; the first and last day a normalized date covers."""
    if not normalized or not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", normalized):
        return None, None
    parts = [int(p) for p in normalized.split("-")]
    year = parts[0]
    if len(parts) == 3:
        return normalized, normalized
    if len(parts) == 2:
        month = parts[1]
        if not 1 <= month <= 12:
            return None, None
        return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
    return f"{year:04d}-01-01", f"{year:04d}-12-31"


def sort_keys(record: CatalogRecord) -> SortKeys:
    start, end = date_range(record.date.normalized)
    return SortKeys(start, end, title_key(record.title))


def derive(record: CatalogRecord) -> Derived:
    """The record's facets, searchable text and sort keys: what the store keeps beside it."""
    return Derived(facets(record), search_text(record), sort_keys(record))
