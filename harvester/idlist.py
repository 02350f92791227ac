"""Record ID lists as people write them: on the command line and in `--ids-file` files.

A line may hold a Record ID (`175798`), a pasted document URL
(`https://digitalarchive.wilsoncenter.org/document/175798`), or a document slug
(`cable-no-4785-filippov-stalin-...`, or its URL) of a record the catalog already holds;
`#` starts a comment (a whole line, or after the entry: `300237  # Kohl`); blank lines and
a UTF-8 byte order mark (Windows editors write one) are ignored. Anything else is refused
with the file name and line number, so a typo in line 812 of a list is found at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# ASCII digits only (str.isdigit() also accepts "١٢٣" and "²"), small enough for SQLite.
RECORD_ID = re.compile(r"[0-9]{1,15}")  # digits a Record ID can have
# The legacy ID form and the current slug form of a document path; ".pdf" is the old scan URL.
_DOCUMENT_PATH = re.compile(r"/document/([^/?#]+?)(?:\.pdf)?/?$")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A comment starts at a "#" at the start of the line or after white space (a URL's fragment
# "…/175798#tab" is not a comment).
_COMMENT = re.compile(r"(?:^|\s)#.*$")

HINT = "give a Record ID, a /document/<ID> URL, or the slug of a record in the catalog"


class IdListError(ValueError):
    """An entry that is not a Record ID; the message names where it was (file:line or argument)."""


@dataclass(frozen=True)
class Entry:
    """One entry as written, and where: `ids.txt:12` or `argument 3`."""

    text: str
    where: str


def entries_from_file(path: str | Path) -> list[Entry]:
    """The entries of an ids file, comments and blank lines dropped."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise IdListError(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")  # -sig: a leading byte order mark is dropped
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise IdListError(f"{p}:{bad_line}: not UTF-8 text (save the list as UTF-8)") from None
    return entries_from_text(text, str(p))


def entries_from_text(text: str, name: str) -> list[Entry]:
    """The entries of a list already read (a file, or stdin for `--ids-file -`)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = _COMMENT.sub("", line).strip().lstrip("\ufeff").strip()
        if entry:
            found.append(Entry(entry, f"{name}:{number}"))
    return found


def entries_from_args(values: Iterable[str]) -> list[Entry]:
    found = []
    for number, value in enumerate(values, start=1):
        entry = value.strip()
        if entry and not entry.startswith("#"):
            found.append(Entry(entry, f"argument {number} ({value!r})"))
    return found


def resolve(entries: Iterable[Entry], slug_to_id: Callable[[str], int | None] | None = None) -> list[int]:
    """Record IDs in the order given, without repeats; IdListError names the first bad entry."""
    ids: list[int] = []
    seen: set[int] = set()
    for entry in entries:
        value = record_id_of(entry, slug_to_id)
        if value not in seen:
            seen.add(value)
            ids.append(value)
    return ids


def record_id_of(entry: Entry, slug_to_id: Callable[[str], int | None] | None = None) -> int:
    text = entry.text
    if "://" in text or text.startswith("/document/"):
        path = unquote(urlsplit(text).path if "://" in text else text.split("?", 1)[0].split("#", 1)[0])
        match = _DOCUMENT_PATH.search(path)
        if match is None:
            raise IdListError(f"{entry.where}: not a document URL: {text!r} ({HINT})")
        text = match.group(1)
    if RECORD_ID.fullmatch(text):
        if int(text) <= 0:
            raise IdListError(f"{entry.where}: not a Record ID: {text!r} (Record IDs are positive whole numbers)")
        return int(text)
    if _SLUG.fullmatch(text) and ("-" in text or text.isalpha()):  # "17x5798" is a typo, not a slug
        found = slug_to_id(text) if slug_to_id is not None else None
        if found is None:
            raise IdListError(f"{entry.where}: not a Record ID, and no record in the catalog has the slug {text!r}; "
                              "give its Record ID (the number shown as 'Record ID' on the document's page)")
        return found
    raise IdListError(f"{entry.where}: not a Record ID: {entry.text!r} ({HINT})")
