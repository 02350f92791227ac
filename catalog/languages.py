"""Language names as the site shows them -> ISO 639 codes (python-iso639's data, precomputed)."""

from __future__ import annotations

from functools import lru_cache

from catalog.iso639_table import table
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
    codes = table().get(lookup.strip())  # what iso639.Language.match(lookup) answers
    if codes is None:
        return Language(name=shown)
    return Language(name=shown, iso639_3=codes.part3, iso639_2b=codes.part2b or codes.part3, iso639_1=codes.part1)
