"""A flat CSV (one row per record) for spreadsheets.

List fields are joined with "; " (names contain commas, so "," would be ambiguous);
tombstones stay in the file with `deleted` = "true".
"""

from __future__ import annotations

import csv
import io

from catalog.export.common import archival_reference, original_language_codes
from catalog.model import StoredRecord

COLUMNS = [
    "record_id", "deleted", "title", "date", "date_display", "date_precision", "authors",
    "translators", "contributors", "types", "original_languages", "original_language_codes",
    "subjects", "people_and_organizations", "places", "summary", "source", "archival_reference",
    "original_archives", "rights", "classification", "uploaded", "donors", "credit_line", "url",
    "archive_url", "pdf_url", "download_url", "last_changed", "deleted_at",
]
LIST_SEPARATOR = "; "


def csv_row(stored: StoredRecord) -> dict[str, str]:
    r = stored.record

    def joined(values: list[str]) -> str:
        return LIST_SEPARATOR.join(values)

    return {
        "record_id": str(r.record_id),
        "deleted": "true" if stored.deleted else "false",
        "title": r.title,
        "date": r.date.normalized or "",
        "date_display": r.date.display or "",
        "date_precision": r.date.precision,
        "authors": joined(r.authors),
        "translators": joined(r.translators),
        "contributors": joined(r.contributors),
        "types": joined(r.types),
        "original_languages": joined([lang.name for lang in r.original_languages]),
        "original_language_codes": joined(original_language_codes(r)),
        "subjects": joined(r.subjects),
        "people_and_organizations": joined(r.people_and_organizations),
        "places": joined(r.places),
        "summary": r.summary or "",
        "source": r.source or "",
        "archival_reference": archival_reference(r) or "",
        "original_archives": joined(r.original_archives),
        "rights": r.rights or "",
        "classification": r.classification or "",
        "uploaded": r.uploaded.isoformat() if r.uploaded else "",
        "donors": joined(r.donors),
        "credit_line": r.credit_line or "",
        "url": r.url,
        "archive_url": r.archive_url,
        "pdf_url": r.pdf_url or "",
        "download_url": r.download_url or "",
        "last_changed": stored.last_changed.isoformat(),
        "deleted_at": stored.deleted_at.isoformat() if stored.deleted_at else "",
    }


def _line(values: dict[str, str] | None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")  # RFC 4180 line ends
    if values is None:
        writer.writeheader()
    else:
        writer.writerow(values)
    return buf.getvalue()


def csv_header() -> str:
    return _line(None)


def csv_line(stored: StoredRecord) -> str:
    return _line(csv_row(stored))
