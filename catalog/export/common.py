"""Values several exporters share, so every format says the same thing about a record."""

from __future__ import annotations

import re
from functools import lru_cache

from catalog.languages import language
from catalog.model import CatalogRecord, Language
from catalog.names import Name, parse_name

PUBLISHER = "Wilson Center Digital Archive"
DELETED_NOTE = "This record has been withdrawn from the Wilson Center Digital Archive."

# The "Source" block is the archival reference followed by credit sentences
# ("Translated by Gary Goldberg.", "Contributed, transcribed, and translated by ...",
# "Obtained by ...; translated and edited by ..."). Translators are exported as names of
# their own, so the credits would be said twice; the reference ends where they start.
# Sentences start after ". " + capital letter; "File No. JNSG" also matches, but such a
# piece has no " by ", so it is kept.
_SENTENCE_START = re.compile(r"(?:(?<=\.)\s+)(?=[A-Z\u00C0-\u024F])")
_CREDIT = re.compile(r"\bby\b", re.IGNORECASE)


def archival_reference(record: CatalogRecord) -> str | None:
    """The archive's "Source" block without its trailing credit sentences."""
    if not record.source:
        return None
    text = record.source.strip()
    starts = [0] + [m.end() for m in _SENTENCE_START.finditer(text)]
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        if _CREDIT.search(text[start:end]):
            text = text[:start]
            break
    return text.strip().rstrip(".").strip() or None


def language_code_3(lang: Language) -> str | None:
    """ISO 639-3 (= 639-2/T for individual languages) code, looked up by name if missing (cached there)."""
    if lang.iso639_3:
        return lang.iso639_3
    return language(lang.name).iso639_3


def language_code_1(lang: Language) -> str | None:
    """Two-letter ISO 639-1 code (what CSL's `language` wants), if the language has one."""
    if lang.iso639_1:
        return lang.iso639_1
    return language(lang.iso639_3 or lang.name).iso639_1


def original_language_codes(record: CatalogRecord) -> list[str]:
    codes = [c for c in (language_code_3(lang) for lang in record.original_languages) if c]
    return list(dict.fromkeys(codes))


def unique(values: list[str]) -> list[str]:
    """Non-blank values, first occurrence kept, order preserved."""
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


@lru_cache(maxsize=16384)
def cached_name(written: str) -> Name:
    """`parse_name`, remembered: names (senders, translators) recur across a catalog, and
    Name values are frozen, so one parse serves every record that shows the same name."""
    return parse_name(written)
