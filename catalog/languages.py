"""Language names as the site shows them -> ISO 639 codes (python-iso639)."""

from __future__ import annotations

from functools import lru_cache

from iso639 import Language as IsoLanguage
from iso639 import LanguageNotFoundError

from catalog.model import Language

# Names the site uses that ISO 639 does not list under that name.
_ALIASES = {
    "farsi": "Persian",
    "greek": "Modern Greek (1453-)",
    "swahili": "Swahili (macrolanguage)",
    "malay": "Malay (macrolanguage)",
    "nepali": "Nepali (macrolanguage)",
    "oriya": "Oriya (macrolanguage)",
    "konkani": "Konkani (macrolanguage)",
    "slovene": "Slovenian",
}


@lru_cache(maxsize=512)
def language(name: str) -> Language:
    """A Language with codes, or with the name alone when the name is not known."""
    shown = " ".join(name.split())
    lookup = _ALIASES.get(shown.lower(), shown)
    try:
        lang = IsoLanguage.match(lookup)
    except (LanguageNotFoundError, ValueError):
        return Language(name=shown)
    return Language(
        name=shown,
        iso639_3=lang.part3 or None,
        iso639_2b=lang.part2b or lang.part3 or None,
        iso639_1=lang.part1 or None,
    )
