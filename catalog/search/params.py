"""`SearchParams`: one search as the CLI, the web page and the JSON API all take it.

Immutable, validated once (`from_query`), and written back as the canonical parameter
list of a shareable URL (`to_query`): the same search always has the same URL. Every
problem is a `BadSearch` naming the parameter in one line (the web answers 400 with it).

URL parameters (docs/web.md, "Search parameters"):

    q               free text: words, "phrases", prefix*            (at most 1,000 characters)
    facet           family:value, repeatable (`language:rus`, `type:Cable`); `=` works too
    from, to        a year, year-month or date (1950, 1950-06, 1950-06-25), inclusive
    sort            relevance (default) | date | -date | title | changed
    page            1-based, at most 10,000;   per_page  1-100 (default 20)
    include_deleted true|false (default false): tombstones too
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import get_args
from urllib.parse import parse_qsl, urlencode

from catalog.errors import BadSearch
from catalog.index import FAMILIES, date_range, slug
from catalog.store.api import SearchSort

# family key -> label, in the order facets are shown. The keys are the index's families
# (catalog.index.FAMILIES): `language` is the original language, `person` a person or an
# organization.
FACET_FAMILIES: dict[str, str] = dict(FAMILIES)

SORTS: tuple[str, ...] = get_args(SearchSort)
PARAMETERS = ("q", "facet", "from", "to", "sort", "page", "per_page", "include_deleted")
MAX_QUERY = 1000  # characters of free text
MAX_TERMS = 32  # words, phrases and prefixes in one query
MAX_FACETS = 20
MAX_VALUE = 300  # characters of one facet value
MAX_PAGE = 10_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FACET = re.compile(r"([a-z_]+)[:=](.*)", re.DOTALL)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    facets: tuple[tuple[str, str], ...] = ()  # (family, value) in the order given
    date_from: str | None = None
    date_to: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    include_deleted: bool = False

    def __post_init__(self) -> None:
        # Built directly (the CLI, tests) or by from_query: the same checks either way.
        object.__setattr__(self, "q", _clean_text(self.q))
        _check_text(self.q)
        facets = []
        for family, given in self.facets:
            pair = (family, _check_facet(family, _clean_text(given).strip()))
            if pair not in facets:
                facets.append(pair)
        if len(facets) > MAX_FACETS:
            raise BadSearch("facet", f"at most {MAX_FACETS} facets at once")
        object.__setattr__(self, "facets", tuple(facets))
        for name, date in (("from", self.date_from), ("to", self.date_to)):
            if date is not None:
                _check_date(name, date)
        low, high = self.date_bounds()
        if low and high and low > high:
            raise BadSearch("from", f"{self.date_from} is after to={self.date_to}")
        if self.sort not in SORTS:
            raise BadSearch("sort", f"{self.sort!r} is not one of {', '.join(SORTS)}")
        if not 1 <= self.page <= MAX_PAGE:
            raise BadSearch("page", f"must be between 1 and {MAX_PAGE}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise BadSearch("per_page", f"must be between 1 and {MAX_PER_PAGE}")

    # -- reading and writing URLs ---------------------------------------------------------------
    @classmethod
    def from_query(cls, query: Mapping[str, Sequence[str]], *, ignore: Iterable[str] = ()) -> SearchParams:
        """From parsed URL parameters ({name: [values]}). Unknown names are an error unless in
        `ignore` (parameters of the page itself); single-valued ones may be given once."""
        unknown = sorted(set(query) - set(PARAMETERS) - set(ignore))
        if unknown:
            raise BadSearch(unknown[0], f"unknown parameter (known: {', '.join(PARAMETERS)})")

        def one(name: str) -> str | None:
            values = query.get(name) or []
            if len(values) > 1:
                raise BadSearch(name, "given more than once")
            return values[0] if values else None

        facets = []
        for raw in query.get("facet") or []:
            match = _FACET.fullmatch(raw.strip())
            if not match:
                raise BadSearch("facet", f"{_show(raw)} is not family:value (families: {', '.join(FACET_FAMILIES)})")
            facets.append((match.group(1), match.group(2)))
        return cls(
            q=one("q") or "",
            facets=tuple(facets),
            date_from=one("from") or None,
            date_to=one("to") or None,
            sort=_given(one("sort"), "relevance"),
            page=_int("page", one("page"), 1),
            per_page=_int("per_page", one("per_page"), DEFAULT_PER_PAGE),
            include_deleted=_bool("include_deleted", one("include_deleted")),
        )

    @classmethod
    def from_query_string(cls, query_string: str | bytes, *, ignore: Iterable[str] = ()) -> SearchParams:
        """From a raw query string (WSGI's QUERY_STRING, which PEP 3333 hands over as latin-1):
        percent-escapes that are not UTF-8 are a BadSearch, never a crash."""
        raw = query_string.encode("latin-1", "replace") if isinstance(query_string, str) else query_string
        try:
            text = raw.decode("ascii")
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BadSearch("query", "not UTF-8 (percent-encode parameters as UTF-8)") from None
        except ValueError as exc:
            raise BadSearch("query", str(exc)) from None
        found: dict[str, list[str]] = {}
        for name, value in pairs:
            found.setdefault(name, []).append(value)
        return cls.from_query(found, ignore=ignore)

    def to_query(self) -> list[tuple[str, str]]:
        """The canonical parameters, defaults left out: what a shareable URL carries."""
        out: list[tuple[str, str]] = []
        if self.q.strip():
            out.append(("q", self.q))
        out += [("facet", f"{family}:{value}") for family, value in self.facets]
        if self.date_from:
            out.append(("from", self.date_from))
        if self.date_to:
            out.append(("to", self.date_to))
        if self.sort != "relevance":
            out.append(("sort", self.sort))
        if self.page != 1:
            out.append(("page", str(self.page)))
        if self.per_page != DEFAULT_PER_PAGE:
            out.append(("per_page", str(self.per_page)))
        if self.include_deleted:
            out.append(("include_deleted", "true"))
        return out

    def query_string(self) -> str:
        """`to_query` URL-encoded (UTF-8), without the leading "?"."""
        return urlencode(self.to_query())

    # -- new searches from this one (a click on a facet, a page link, a sort menu) ------------------
    def with_facet(self, family: str, value: str) -> SearchParams:
        return replace(self, facets=(*self.facets, (family, value)), page=1)

    def without_facet(self, family: str, value: str) -> SearchParams:
        return replace(self, facets=tuple(f for f in self.facets if f != (family, value)), page=1)

    def with_page(self, page: int) -> SearchParams:
        return replace(self, page=page)

    def with_sort(self, sort: str) -> SearchParams:
        return replace(self, sort=sort, page=1)

    # -- what the store is asked ------------------------------------------------------------------
    def facet_keys(self) -> tuple[str, ...]:
        return tuple(facet_key(family, value) for family, value in self.facets)

    def date_bounds(self) -> tuple[str | None, str | None]:
        """(first day of `from`, last day of `to`) as ISO dates."""
        low = date_range(self.date_from)[0] if self.date_from else None
        high = date_range(self.date_to)[1] if self.date_to else None
        return low, high


def facet_key(family: str, value: str) -> str:
    """The index key a facet value names: a token as it is (`type:cable`), a name as the index
    makes its token (`Cable` -> `type:cable`, `Russian` -> `language:rus`)."""
    if family in ("has_text", "has_scan"):
        return f"{family}:{'yes' if value.lower() in _TRUE else 'no'}"
    if _TOKEN.fullmatch(value):
        return f"{family}:{value}"
    if family == "language":
        from catalog.languages import language

        code = language(value).iso639_3
        if code and re.fullmatch(r"[a-z]{3}", code):
            return f"language:{code}"
    return f"{family}:{slug(value)}"


# -- checks ---------------------------------------------------------------------------------------
def _clean_text(text: str) -> str:
    """Control characters (NUL, which PostgreSQL refuses in text) and lone surrogates become spaces."""
    if not isinstance(text, str):
        raise BadSearch("q", "not text")
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)


def _check_text(q: str) -> None:
    if len(q) > MAX_QUERY:
        raise BadSearch("q", f"too long ({len(q)} characters; at most {MAX_QUERY})")
    from catalog.search.text import parse_text

    if len(parse_text(q)) > MAX_TERMS:
        raise BadSearch("q", f"too many words (at most {MAX_TERMS})")


def _check_facet(family: str, value: str) -> str:
    if family not in FACET_FAMILIES:
        raise BadSearch("facet", f"unknown facet family {_show(family)} (families: {', '.join(FACET_FAMILIES)})")
    if not value:
        raise BadSearch("facet", f"{family}: no value")
    if len(value) > MAX_VALUE:
        raise BadSearch("facet", f"{family}: value too long (at most {MAX_VALUE} characters)")
    if family == "year" and not re.fullmatch(r"\d{4}", value):
        raise BadSearch("facet", f"year: {_show(value)} is not a year (YYYY)")
    if family == "decade" and not re.fullmatch(r"\d{3}0s", value):
        raise BadSearch("facet", f"decade: {_show(value)} is not a decade (e.g. 1950s)")
    if family in ("has_text", "has_scan") and value.lower() not in _TRUE | _FALSE:
        raise BadSearch("facet", f"{family}: {_show(value)} is not yes or no")
    return value


def _check_date(name: str, value: str) -> None:
    match = _DATE.fullmatch(value)
    if match:
        year, month, day = (int(g) if g else 0 for g in match.groups())
        month_ok = not match.group(2) or 1 <= month <= 12
        day_ok = not match.group(3) or (month_ok and 1 <= day <= calendar.monthrange(year or 1, month)[1])
        if year and month_ok and day_ok:
            return
    raise BadSearch(name, f"{_show(value)} is not a year, year-month or date (1950, 1950-06, 1950-06-25)")


def _given(value: str | None, default: str) -> str:
    return default if value is None else value


def _int(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise BadSearch(name, f"{_show(value)} is not a whole number")
    return int(value)


def _bool(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise BadSearch(name, f"{_show(value)} is not true or false")


def _show(value: str, limit: int = 40) -> str:
    """A user's value quoted for a one-line message, shortened, line breaks escaped."""
    return repr(value if len(value) <= limit else value[:limit] + "…")
