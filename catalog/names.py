"""Names as the archive writes them -> persons or institutions, for citation formats.

The catalog keeps every name exactly as written ("Stalin, Joseph, 1879-1953",
"Filippov [Stalin]", "Gary Goldberg", "CC CPSU Politburo"); exporters that need
structure (CSL-JSON, RIS, BibTeX) call `parse_name`:

* authority forms "Family, Given, 1879-1953" lose the life dates (they are
  identification, not part of the name);
* "Pseudonym [Real]" is the real person writing under a pseudonym: citations name
  the real person (Filippov [Stalin] -> Stalin, Joseph) so the entry sorts and reads
  as historians cite it, while the title and the catalog keep the written form;
* romanized Chinese/Korean/Vietnamese names are family-name-first ("Zhou Enlai"):
  flagged `family_first` so CSL gets `static-ordering` and renderers never invert;
* institutions are kept whole and never inverted (CSL `literal`, BibTeX braces);
  that includes Library of Congress-style corporate headings in any language,
  "Jurisdiction. Body" ("Hungary. Külkereskedelmi Minisztérium", "Poland. Ambasada
  (China)", "Japan. Foreign Ministry. Asian Affairs Bureau"), which would otherwise
  be split at the last space into a "family" and a "given" name;
* non-ASCII hyphens and spaces (U+2010, U+2011 non-breaking hyphen, U+00A0) inside a
  name are the ordinary ones, so "Il‑sung" initializes and sorts like "Il-sung".
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PersonName:
    family: str
    given: str = ""
    family_first: bool = False  # East Asian order: "Zhou Enlai", never "Enlai Zhou"
    written: str = ""

    @property
    def natural(self) -> str:
        """The name in reading order: "Joseph Stalin", "Zhou Enlai"."""
        parts = [self.family, self.given] if self.family_first else [self.given, self.family]
        return " ".join(p for p in parts if p)

    @property
    def inverted(self) -> str:
        """Sort form: "Stalin, Joseph"; family-first names need no comma ("Zhou Enlai")."""
        if self.family_first:
            return self.natural
        return f"{self.family}, {self.given}" if self.given else self.family


@dataclass(frozen=True)
class Institution:
    name: str
    written: str = ""


Name = PersonName | Institution

# Pseudonyms used on WCDA documents whose bearer is certain, written form -> (family, given).
KNOWN_PSEUDONYMS: dict[str, tuple[str, str]] = {
    "filippov": ("Stalin", "Joseph"),
    "fyn si": ("Stalin", "Joseph"),
}
# Real-name surname -> given name, to complete "[Stalin]" when the pseudonym is unknown.
KNOWN_PERSONS: dict[str, str] = {"stalin": "Joseph"}

_INSTITUTION_WORDS = re.compile(
    r"\b(ministry|ministries|committee|embassy|legation|consulate|party|central|council|politburo|"
    r"presidium|government|department|office|bureau|commission|army|navy|command|headquarters|"
    r"secretariat|union|republic|academy|institute|agency|congress|assembly|parliament|league|"
    r"association|organization|organisation|university|administration|directorate|division|"
    r"section|front|delegation|mission|station|service|corporation|company|press|news|radio|"
    r"federation|state|states|nations|kingdom|soviet|group|staff|court|cabinet|senate|kgb|stasi|"
    r"cpsu|ccp|sed|un|nato|usa|ussr|prc|dprk|gdr|frg)\b",
    re.IGNORECASE,
)
_DATES = re.compile(r"^(?:(?:b\.|d\.|born|died|active|fl\.|ca\.)\s*)?\d{3,4}\??(?:\s*-\s*(?:\d{3,4}\??)?)?$"
                    r"|^-\s*\d{3,4}$")
_PSEUDONYM = re.compile(r"^(?P<pseudonym>[^\[\]]+?)\s*\[(?P<real>[^\[\]]+)\]$")
_FULLER = re.compile(r"\s*\((?P<fuller>[^()]*)\)")

# Common romanized (pinyin/Wade-Giles, Korean, Vietnamese) surnames. A name is read
# family-first only if it starts with one of these AND the rest looks like a romanized
# East Asian given name, so "Lee, Robert" or "Ho, Thomas" stay Western.
_EA_SURNAMES = set(
    "zhou mao liu deng zhu chen wang li zhang yang huang zhao wu xu sun hu guo he gao lin luo zheng "
    "liang xie song tang han feng dong xiao cheng cao yuan peng jiang cai pan tian du ye ding wei "
    "xue yan lu su shen ren yao ke peng lo chou chiang teng chu kang jin ma qian qiao "
    "kim pak park choe choi yi ri ryu jong chong kang han ho nguyen pham tran le vo hoang".split()
)
_PINYIN_SYLLABLE = (
    r"(?:[bpmfdtnlgkhjqxrzcsyw]|zh|ch|sh)?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ui|ue|er|a|o|e|i|u|v)"
    r"(?:n|ng)?"
)
_PINYIN_GIVEN = re.compile(rf"^(?:{_PINYIN_SYLLABLE}){{1,3}}$", re.IGNORECASE)
_HYPHENATED_GIVEN = re.compile(r"^[A-Z][a-zŏŭ]{1,5}(?:[- ][A-Za-zŏŭ]{1,5})$")


# LC corporate heading: a jurisdiction (a word of 3+ letters, not an initial or "St.") then
# ". " and the body: "Hungary. Külkereskedelmi Minisztérium". Personal names never have a
# full stop after a whole word before the comma that inverts them.
_CORPORATE_HEADING = re.compile(r"^[^,.\[\]]*\b\w{3,}\.\s+\w", re.UNICODE)
_NOT_JURISDICTION = {"jr", "sr", "st", "mrs", "mme", "mlle", "gen", "col", "capt", "adm", "sgt", "lt", "dr", "prof"}
_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-", "\u00a0": " ", "\u202f": " "})


def _corporate_heading(text: str) -> bool:
    match = _CORPORATE_HEADING.match(text)
    if not match:
        return False
    head = text.split(".", 1)[0].split()[-1].lower()
    return head not in _NOT_JURISDICTION


def is_institution(written: str) -> bool:
    text = written.strip().translate(_HYPHENS)
    if _corporate_heading(text):
        return True
    if _INSTITUTION_WORDS.search(text):
        return True
    # Acronyms ("CPSU CC") and long comma-free phrases are bodies, not persons.
    words = text.split()
    if any(len(w) >= 2 and w.isupper() and w.isalpha() for w in words):
        return True
    return "," not in text and len(words) > 4


def _east_asian(family: str, given: str) -> bool:
    if family.lower() not in _EA_SURNAMES or not given:
        return False
    compact = given.replace("-", "").replace(" ", "")
    return bool(_PINYIN_GIVEN.match(compact)) or bool(_HYPHENATED_GIVEN.match(given))


def parse_name(written: str) -> Name:
    """Read one name as written in the catalog; see the module docstring for the rules."""
    text = " ".join(written.translate(_HYPHENS).split())
    match = _PSEUDONYM.match(text)
    if match:
        return _pseudonym(match["pseudonym"], match["real"], written)
    if is_institution(text):
        return Institution(text, written)
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        parts = [p for p in parts if p and not _DATES.match(p)]
        if not parts:  # "," or "1950-1960" alone: nothing to split, keep what was written
            return PersonName(text, "", False, written)
        family = parts[0]
        given = ", ".join(parts[1:])
        fuller = _FULLER.search(given)
        if fuller:  # "I. V. (Iosif Vissarionovich)": prefer the fuller form
            given = fuller["fuller"].strip()
        given = _FULLER.sub("", given).strip()
        return PersonName(family, given, _east_asian(family, given), written)
    words = text.split()
    if len(words) <= 1:  # one word, or none (blank, or only separators Python counts as space)
        return PersonName(words[0] if words else text, "", False, written)
    if _east_asian(words[0], " ".join(words[1:])):
        return PersonName(words[0], " ".join(words[1:]), True, written)
    return PersonName(words[-1], " ".join(words[:-1]), False, written)


def _pseudonym(pseudonym: str, real: str, written: str) -> Name:
    known = KNOWN_PSEUDONYMS.get(pseudonym.strip().lower())
    if known:
        return PersonName(known[0], known[1], False, written)
    real_name = parse_name(real)
    if isinstance(real_name, PersonName) and not real_name.given:
        given = KNOWN_PERSONS.get(real_name.family.lower(), "")
        return PersonName(real_name.family, given, False, written)
    return real_name
