"""Jinja2 for the web catalog: one environment, autoescaping on, and the small helpers the
templates use to mark languages (`lang`, `dir`) on harvested text.

Every harvested value reaches a template as plain text and is escaped by Jinja2; only the
two values that are markup by construction are marked safe, each in one place: a citation
rendered by catalog.cite in HTML (which escapes every string of the item before rendering)
and the JSON-LD script element (catalog.export.jsonld.jsonld_script, which escapes "</").
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from catalog.model import Language

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# Languages written right to left (ISO 639-3 / 639-1 codes); their texts get dir="rtl".
RTL_CODES = frozenset({
    "ara", "ar", "heb", "he", "fas", "pes", "fa", "urd", "ur", "pus", "ps", "yid", "yi", "syr", "div", "dv",
    "snd", "sd", "uig", "ug", "ckb", "kur", "ku", "arc", "ota", "prs",
})


def lang_tag(language: Language | None) -> str:
    """The BCP 47 tag for `language` (the two-letter code where there is one), or "" when unknown."""
    if language is None:
        return ""
    return language.iso639_1 or language.iso639_3 or ""


def text_dir(language: Language | None) -> str:
    """"rtl" for right-to-left languages, "ltr" for the others, "auto" when the language is unknown."""
    if language is None or not (language.iso639_1 or language.iso639_3):
        return "auto"
    codes = {language.iso639_1, language.iso639_3, language.iso639_2b}
    return "rtl" if codes & RTL_CODES else "ltr"


def when(value: datetime | str | None) -> str:
    """A timestamp as people read it: 2026-11-25 15:38 UTC."""
    if value is None:
        return ""
    if isinstance(value, str):
        from catalog.store import from_db_time

        try:
            moment = from_db_time(value)
        except ValueError:
            return value
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,  # a misspelt name in a template fails its test, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(lang_tag=lang_tag, text_dir=text_dir)
    env.filters["when"] = when
    return env


def render(template: str, **context: Any) -> bytes:
    return environment().get_template(template).render(**context).encode("utf-8")
