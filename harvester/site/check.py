"""`harvester check-site`: fetch the documents whose live field values are known, and compare.

The first thing to run against the real site: it fetches (politely, live, with the operator's
contact address) document 175798, the one this project started from, and the 11 documents a
working scraper read from the live site (`known_values.json`, see fixtures/known_values.py for
the sources), parses each page as a harvest would, and compares field by field: match, differs,
or missing, with the selector-table alternative that found each field. Every exchange is kept
in a WARC file, so the real pages can replace the reconstructed fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from catalog.errors import Blocked, ConfigError, HarvesterError
from catalog.model import CatalogRecord
from harvester import __version__
from harvester.config import Settings
from harvester.http import Fetcher
from harvester.warc import LockedWriter, WarcWriter

KNOWN_FILE = Path(__file__).with_name("known_values.json")
# Known field -> the provenance.matched key of the alternative that found it.
_MATCHED_KEY = {"text": "texts", "text_start": "texts", "translators": "source", "slug": None}


@cache
def known_documents() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(KNOWN_FILE.read_text(encoding="utf-8"))
    return list(data["documents"])


@dataclass
class Row:
    record_id: int
    field: str
    result: str  # match, differs, missing
    expected: Any = None
    got: Any = None
    alternative: str = ""  # which alternative of the selector table found it
    note: str = ""


@dataclass
class CheckReport:
    rows: list[Row] = field(default_factory=list)
    warc_file: str | None = None
    requests: int = 0
    blocked: str | None = None
    unreachable: str | None = None  # why the check stopped: the archive could not be reached

    @property
    def counts(self) -> dict[str, int]:
        found = {"match": 0, "differs": 0, "missing": 0}
        for row in self.rows:
            found[row.result] += 1
        return found

    @property
    def exit_code(self) -> int:
        if self.blocked or self.unreachable:
            return 2
        return 0 if self.rows and all(r.result == "match" for r in self.rows) else 1


def _squash(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, list):
        return [_squash(v) for v in value]
    return value


def page_value(record: CatalogRecord, name: str) -> Any:
    """The record's value of a known field, in the known file's form."""
    if name == "date":
        return record.date.display
    if name == "uploaded":
        return record.uploaded.isoformat() if record.uploaded else None
    if name == "original_languages":
        return [lang.name for lang in record.original_languages]
    if name in {"text", "text_start"}:
        return [_squash(t.text) for t in record.texts]
    return _squash(getattr(record, name))


def compare(name: str, expected: Any, got: Any) -> str:
    empty: tuple[object, ...] = (None, "", [])
    if name in {"text", "text_start"}:
        texts = [t for t in got if t]
        if expected in empty:
            return "match" if not texts else "differs"
        if not texts:
            return "missing"
        hit = any(t == expected for t in texts) if name == "text" else any(t.startswith(expected) for t in texts)
        return "match" if hit else "differs"
    if expected in empty and got in empty:
        return "match"
    if got in empty:
        return "missing"
    return "match" if got == expected else "differs"


def check_record(record_id: int, known: dict[str, Any], record: CatalogRecord) -> list[Row]:
    rows = []
    for name, expected in known.items():
        got = page_value(record, name)
        key = _MATCHED_KEY.get(name, name)
        alternative = record.provenance.matched.get(key, "") if key else ""
        shown = got if name not in {"text", "text_start"} else (got[0] if got else None)
        rows.append(Row(record_id, name, compare(name, expected, got), expected, shown, alternative))
    return rows


def check_site(settings: Settings, *, ids: list[int] | None = None, out: str | Path | None = None,
               progress: Callable[[int, str], None] | None = None) -> CheckReport:
    """Fetch each known document live, keep every exchange as WARC, compare. Never raises for one page."""
    # the harvest's own parse path and its idea of "unreachable"
    from harvester.parse_worker import could_not_connect, record_from_result
    from harvester.pipeline import UNREACHABLE_AFTER

    documents = [d for d in known_documents() if ids is None or d["record_id"] in ids]
    if not settings.archive.contact:  # before any file is made: a live check needs a contact address
        raise ConfigError("archive.contact", "check-site fetches live pages: give --contact (an e-mail or URL)")
    writer = (WarcWriter(out, software=f"wcda-harvester/{__version__} check-site", operator=settings.archive.contact)
              if out is not None else
              WarcWriter.in_directory(settings.storage.warc_dir, prefix="check-site",
                                      software=f"wcda-harvester/{__version__} check-site",
                                      operator=settings.archive.contact))
    report = CheckReport(warc_file=str(writer.path))
    try:
        fetcher = Fetcher(settings, on_exchange=LockedWriter(writer))
    except BaseException:
        writer.close()
        raise
    streak = 0  # consecutive documents that could not connect
    try:
        for doc in documents:
            rid = int(doc["record_id"])
            try:
                record = record_from_result(fetcher.get(fetcher.document_url(rid)), rid, replayed=False)
            except Blocked as exc:
                report.blocked = str(exc)
                break
            except HarvesterError as exc:
                report.rows += [Row(rid, name, "missing", value, None, note=str(exc))
                                for name, value in doc["fields"].items()]
                if progress:
                    progress(rid, str(exc))
                streak = streak + 1 if could_not_connect(exc) else 0
                if streak >= UNREACHABLE_AFTER:  # no point asking the other documents
                    report.unreachable = f"{streak} documents in a row could not connect ({exc})"
                    break
                continue
            streak = 0
            report.rows += check_record(rid, doc["fields"], record)
            if progress:
                progress(rid, record.url)
    finally:
        report.requests = fetcher.requests_made
        fetcher.close()
        writer.close()
    return report


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def table(report: CheckReport) -> list[str]:
    """The report as text: one line per document and field, then the totals."""
    lines = [f"{'record':>8}  {'field':<26}{'result':<9}{'alternative':<54}detail"]
    for r in report.rows:
        detail = r.note or (f"page {_short(r.got)} / known {_short(r.expected)}" if r.result == "differs" else "")
        lines.append(f"{r.record_id:>8}  {r.field:<26}{r.result:<9}{_short(r.alternative, 52):<54}{detail}")
    c = report.counts
    documents = len({r.record_id for r in report.rows})
    lines.append(f"{documents} document(s), {len(report.rows)} fields: {c['match']} match, {c['differs']} differ, "
                 f"{c['missing']} missing; {report.requests} requests")
    return lines
