"""Display dates as the archive shows them -> ISO 8601 / EDTF with a precision.

The site shows `October 11, 1950` (day not padded), `October 01, 1950` (the old
site's padded form), `November 1967`, a bare year, or nothing. Anything else is not
guessed at: it is kept as displayed and reported as a problem, so a cataloguer sees it.
"""

from __future__ import annotations

import re
from datetime import datetime

from edtf import parse_edtf
from edtf.parser.edtf_exceptions import EDTFParseException

from catalog.model import DocumentDate

_SPACES = re.compile(r"\s+")
# (regex, strptime format, precision). Month names are English on this site.
_FORMS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^[A-Za-z]+\.? \d{1,2}, \d{4}$"), "%B %d, %Y", "day"),
    (re.compile(r"^\d{1,2} [A-Za-z]+ \d{4}$"), "%d %B %Y", "day"),
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "%Y-%m-%d", "day"),
    (re.compile(r"^[A-Za-z]+ \d{4}$"), "%B %Y", "month"),
    (re.compile(r"^\d{4}$"), "%Y", "year"),
]
_ISO = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def normalize_date(display: str | None) -> tuple[DocumentDate, list[str]]:
    """Return the normalized date and any problems found (never raises on odd input)."""
    shown = _SPACES.sub(" ", display or "").strip()
    if not shown:
        return DocumentDate(display=None, normalized=None, precision="none"), ["no date shown"]
    for pattern, fmt, precision in _FORMS:
        if not pattern.match(shown):
            continue
        for candidate in (fmt, fmt.replace("%B", "%b")):
            try:
                parsed = datetime.strptime(shown.replace(".", ""), candidate)
            except ValueError:
                continue
            iso = parsed.strftime(_ISO[precision])
            if len(iso.split("-")[0]) != 4:  # strftime does not pad years < 1000 everywhere
                iso = f"{parsed.year:04d}" + iso[len(str(parsed.year)):]
            _check_edtf(iso)
            return DocumentDate(display=shown, normalized=iso, precision=precision), []
    return DocumentDate(display=shown, normalized=None, precision="none"), [f"unreadable date: {shown!r}"]


# YYYY, YYYY-MM, YYYY-MM-DD: what normalize_date writes, from a date strptime accepted.
_LEVEL0 = re.compile(r"^\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?$")


def _check_edtf(value: str) -> None:
    # Every normalized value must also be valid EDTF (level 0), since exports rely on it.
    # The calendar forms above are EDTF level 0 by definition (and strptime has already
    # checked the day exists), so only anything else goes through the EDTF grammar, whose
    # pyparsing run cost ~20 ms a page (more than parsing the page's HTML).
    if _LEVEL0.match(value):
        return
    try:
        parse_edtf(value)
    except EDTFParseException as exc:  # pragma: no cover - our own formats are EDTF by construction
        raise ValueError(f"normalized date {value!r} is not EDTF") from exc
