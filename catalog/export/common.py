"""Values several exporters share, so every format says the same thing about a record."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# Re-exported: the serializers and callers import them from here.
from catalog.export.options import DEFAULT_OPTIONS as DEFAULT_OPTIONS
from catalog.export.options import FormatOptions as FormatOptions
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


def original_language_codes(record: CatalogRecord,
                            code: Callable[[Language], str | None] = language_code_3) -> list[str]:
    """The record's original languages as codes (ISO 639-3 unless `code` says otherwise), each once."""
    codes = [c for c in (code(lang) for lang in record.original_languages) if c]
    return list(dict.fromkeys(codes))


def unique(values: list[str]) -> list[str]:
    """Non-blank values, first occurrence kept, order preserved."""
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


@lru_cache(maxsize=16384)
def cached_name(written: str) -> Name:
    """`parse_name`, remembered: names (senders, translators) recur across a catalog, and
    Name values are frozen, so one parse serves every record that shows the same name."""
    return parse_name(written)




def language_code_2b(lang: Language) -> str | None:
    """ISO 639-2/B, the bibliographic code MARC and MODS use ("ger", "cze", "chi")."""
    if lang.iso639_2b:
        return lang.iso639_2b
    return language(lang.iso639_3 or lang.name).iso639_2b


# How the archive shows a date it is not sure of: "1950?", "[1950]", "circa 1950", "c. 1950".
_QUESTIONABLE = re.compile(r"\?")
_APPROXIMATE = re.compile(r"\b(?:circa|ca\.|c\.|approx\.?|approximately|about)\s", re.IGNORECASE)
_INFERRED = re.compile(r"^\s*\[.*\]\s*$")


def date_qualifier(display: str | None) -> str | None:
    """MODS date qualifier for the date as shown: questionable, approximate, inferred or None."""
    if not display:
        return None
    if _QUESTIONABLE.search(display):
        return "questionable"
    if _APPROXIMATE.search(display + " "):
        return "approximate"
    if _INFERRED.match(display):
        return "inferred"
    return None


_LIFE_DATES = re.compile(
    r"^(?P<name>.+?),\s*(?P<dates>(?:b\.\s*|d\.\s*|ca\.\s*)?\d{3,4}\??\s*-\s*(?:\d{3,4}\??)?|\d{3,4})$"
)


def name_and_dates(written: str) -> tuple[str, str | None]:
    """"Stalin, Joseph, 1879-1953" -> ("Stalin, Joseph", "1879-1953"): the authority form's life dates apart."""
    match = _LIFE_DATES.match(written.strip())
    if match:
        return match["name"].strip(), match["dates"].strip()
    return written.strip(), None


# LC's corporate heading under a jurisdiction: "Hungary. Külkereskedelmi Minisztérium",
# "Soviet Union. Posol'stvo (China)" (no comma; the first part a word, not an initial).
_JURISDICTION_BODY = re.compile(r"^[^,.]{3,}\.\s+[^,]+$")


def is_corporate(written: str) -> bool:
    """Whether a name as written names an institution rather than a person."""
    from catalog.names import Institution

    text = " ".join(written.split())
    if not text:
        return False
    return bool(_JURISDICTION_BODY.match(text)) or isinstance(cached_name(text), Institution)


# LCSH subdivisions that follow a place name ("Germany--Foreign relations--Poland"), and
# those after which another place follows.
_PLACE_SUBDIVISIONS = {
    "foreign relations", "foreign economic relations", "politics and government", "economic conditions",
    "economic policy", "commerce", "history", "social conditions", "military policy", "defenses",
    "relations", "boundaries", "armed forces", "military relations", "strategic aspects", "economic integration",
}
_BEFORE_PLACE = {"foreign relations", "foreign economic relations", "relations", "commerce", "military relations",
                 "boundaries"}
_TEMPORAL = re.compile(r"^(?:\d{3,4}(?:\s*-\s*(?:\d{3,4})?)?|\d{1,2}(?:st|nd|rd|th) century)$")

# (kind, text): kind is "topic", "geographic" or "temporal"
SubjectPart = tuple[str, str]


def subject_parts(subject: str, places: list[str] | None = None) -> list[SubjectPart]:
    """An LCSH-style heading split on "--" into topic / geographic / temporal parts.

    A part is geographic when it is one of the record's places, when it is the first part
    and the next is a subdivision used under place names ("Germany--Foreign relations"),
    or when it follows "Foreign relations" and the like; temporal when it is a year span.
    """
    known = {p.strip().lower() for p in places or []}
    parts = [p.strip() for p in subject.split("--") if p.strip()]
    out: list[SubjectPart] = []
    for i, part in enumerate(parts):
        low = part.lower()
        if _TEMPORAL.match(part):
            kind = "temporal"
        elif low in known:
            kind = "geographic"
        elif i == 0 and len(parts) > 1 and parts[1].lower() in _PLACE_SUBDIVISIONS:
            kind = "geographic"
        elif i > 0 and parts[i - 1].lower() in _BEFORE_PLACE:
            kind = "geographic"
        else:
            kind = "topic"
        out.append((kind, part))
    return out


def holdings(record: CatalogRecord) -> list[tuple[str | None, str | None]]:
    """(archive, shelfmark) pairs of the original from `original_archives` and the Source.

    The Source names one reference per archive, separated by ";" ("AP RF, f. 45 ...; and
    RGASPI, f. 558 ..."): when the counts agree they are paired in order; otherwise each
    archive is given alone and the whole reference once, without an archive.
    """
    archives = unique(record.original_archives)
    reference = archival_reference(record)
    if not reference:
        return [(a, None) for a in archives]
    pieces = [re.sub(r"^and\s+", "", p.strip()) for p in reference.split(";") if p.strip()]
    if len(archives) == 1:
        return [(archives[0], reference)]
    if archives and len(pieces) == len(archives):
        return [(a, piece) for a, piece in zip(archives, pieces, strict=True)]
    return [(a, None) for a in archives] + [(None, reference)]
