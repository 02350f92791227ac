"""Headline-style capitalization of English titles (Chicago 18 8.160, MLA 9 2.90).

The styles ask for it with `text-case="title"`; citeproc-py's own title-caser cannot be
used (it capitalizes after any full stop, "3 P.m. In"; knows 26 stop words; title-cases
Cyrillic titles), so cite.py hands the title over as written and this module
capitalizes the rendered title:

* the first and last words, and the first word after a colon, em dash or question mark,
  are capitalized;
* articles, prepositions (of any length: "between", "toward"), the coordinating
  conjunctions and, but, for, or, nor, and "to" and "as" are lowercased;
* every other word gets a capital first letter; a word that already has a capital
  anywhere ("NATO", "PM", "Ching-kuo", "McCloy", "iPhone") is left exactly as written,
  so acronyms and the second part of hyphenated names keep their case;
* a lowercase hyphenated compound gets a capital on each part that is not a stop word
  ("cease-fire" -> "Cease-Fire");
* "a.m.", "p.m." and similar dotted abbreviations stay lowercase, and the word after
  them is not treated as the start of a sentence (citeproc-py's "10 A.m. In");
* titles that are not mostly Latin script (Cyrillic, CJK) are left alone: headline
  style is a rule for English titles.
"""

from __future__ import annotations

import re

ARTICLES = {"a", "an", "the"}
CONJUNCTIONS = {"and", "but", "for", "or", "nor", "so", "yet"}
PREPOSITIONS = {
    "aboard", "about", "above", "across", "against", "along", "alongside", "amid", "amidst", "among", "amongst",
    "around", "as", "at", "atop", "barring", "behind", "below", "beneath", "beside", "besides", "between",
    "beyond", "by", "circa", "concerning", "despite", "down", "during", "except", "excluding", "following", "from",
    "in", "inside", "into", "like", "minus", "near", "of", "off", "on", "onto", "opposite", "outside", "over",
    "past", "per", "plus", "regarding", "round", "than", "through", "throughout", "till", "to", "toward",
    "towards", "under", "underneath", "unlike", "upon", "versus", "via", "vs.", "with", "within", "without",
}
STOP_WORDS = ARTICLES | CONJUNCTIONS | PREPOSITIONS
# Lowercase dotted abbreviations that stay lowercase in headline style.
LOWERCASE_ABBREVIATIONS = {"a.m.", "p.m.", "e.g.", "i.e.", "etc.", "vs.", "ca.", "cf."}

_WORD = re.compile(r"[^\W\d_][\w'’.]*(?:-[\w'’.]+)*", re.UNICODE)
# a new phrase starts after a colon, dash or question mark, and at an opening quotation mark
_PHRASE_END = re.compile(r"(?:[:?!—–]\s*|\s-\s*|(?:^|[\s(\[])['‘\"“])$")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|\w+);")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def mostly_latin(text: str) -> bool:
    letters = _LETTER.findall(text)
    return bool(letters) and sum(1 for c in letters if _LATIN.match(c)) / len(letters) >= 0.8


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _case_word(word: str, first: bool, last: bool) -> str:
    lower = word.lower()
    if word != lower:  # any capital: an acronym, a name, or already capitalized
        if not first and not last and lower in STOP_WORDS and word == _cap(lower):
            return lower  # "Between" -> "between"
        return word
    if lower in LOWERCASE_ABBREVIATIONS or ("." in word.rstrip(".") and len(word) <= 6):
        return word  # "a.m.", "a.e."
    if "-" in word:
        parts = word.split("-")
        return "-".join(
            _cap(p) if i == 0 and (first or p not in STOP_WORDS) or (i > 0 and p not in STOP_WORDS) else p
            for i, p in enumerate(parts)
        )
    if lower.rstrip(".") in STOP_WORDS and not first and not last:
        return word
    return _cap(word)


def headline(title: str) -> str:
    """`title` in headline style; see the module docstring for the rules."""
    if not mostly_latin(_ENTITY.sub(" ", title)):
        return title
    # HTML entities ("&amp;") are not words
    entities = [(e.start(), e.end()) for e in _ENTITY.finditer(title)]
    spans = [(m.start(), m.end()) for m in _WORD.finditer(title) if not any(a <= m.start() < b for a, b in entities)]
    out: list[str] = []
    pos = 0
    for index, (start, end) in enumerate(spans):
        before = title[pos:start]
        out.append(before)
        # a full stop inside a title ends an abbreviation ("a.m.", "No.") far more often than a
        # sentence, so only a colon, dash or question mark starts a new phrase
        first = index == 0 or bool(_PHRASE_END.search(title[spans[index - 1][1]:start]))
        last = index == len(spans) - 1
        out.append(_case_word(title[start:end], first, last))
        pos = end
    out.append(title[pos:])
    return "".join(out)
