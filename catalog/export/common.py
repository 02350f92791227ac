"""Values several exporters share, so every format says the same thing about a record."""

from __future__ import annotations

import re
from functools import lru_cache

from catalog.languages import language
from catalog.model import CatalogRecord, Language
from catalog.names import Name, parse_name

PUBLISHER = "Wilson Center Digital Archive"
DELETED_NOTE = "This record has been withdrawn from the Wilson Center Digital Archive."

# The "Source" block is the archival reference plus credit sentences ("Translated by Gary
# Goldberg.", "Contributed, transcribed, and translated by ...", "Obtained by ...; translated
# and edited by ..."). Translators are exported as names of their own, so the credits would
# be said twice: only the credit sentences go; every other sentence (a shelf mark, a
# publisher and year, page numbers; "File No. JNSG" splits into pieces that are kept) stays,
# wherever it stands. Sentences start after ". " + capital letter.
_SENTENCE_START = re.compile(r"(?:(?<=\.)|(?<=\.[\"”’']))\s+(?=[\"“'‘]?[A-Z\u00C0-\u024F])")
_CREDIT = re.compile(
    r"^(?:(?:contributed|obtained|translated|transcribed|edited|donated|provided|compiled|digitized|digitised|"
    r"scanned|selected|introduced|annotated|proofread|revised)\b[^.;]*?(?:,\s*|\s+and\s+|\s+)?)+"
    r"(?:for\s+[^.;]*?\s+)?by\b|^translation\s+(?:\w+\s+){0,3}by\b|^courtesy\s+of\b",
    re.IGNORECASE,
)


_INITIAL_END = re.compile(r"(?:^|[\s(])[A-Z]\.$")  # "Karl J." is not a sentence


def source_sentences(source: str) -> list[str]:
    """The Source block cut into sentences, each with its own full stop; joined with " " they
    give the block back (runs of spaces aside)."""
    text = " ".join(source.split())
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_START.finditer(text):
        piece = text[start:match.start()]
        if not _INITIAL_END.search(piece):  # "Karl J." + " Weber." is one sentence
            sentences.append(piece)
            start = match.end()
    sentences.append(text[start:])
    return [s for s in sentences if s]


def is_credit_sentence(sentence: str) -> bool:
    return bool(_CREDIT.match(sentence.strip()))


def archival_reference(record: CatalogRecord) -> str | None:
    """The archive's "Source" block without its credit sentences."""
    if not record.source:
        return None
    kept = [s for s in source_sentences(record.source) if not is_credit_sentence(s)]
    text = " ".join(kept).strip()
    # The style adds its own full stop; a final one belongs to the text only after an abbreviation
    # that ends the block ("a.e."), which citeproc's punctuation rules keep single.
    return text[:-1].rstrip() if text.endswith(".") and not text.endswith("..") else (text or None)


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
