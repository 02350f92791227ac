"""The catalog record: one archival document, normalized, with where it came from.

Everything downstream (store, exports, OAI-PMH, sync) reads this model and nothing
else, so it is deliberately flat and explicit. Values shown on the page are kept
verbatim (titles, names as written, the source string); normalized forms sit next to
them rather than replacing them, so no information is lost by normalizing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date as calendar_date
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

DatePrecision = Literal["day", "month", "year", "none"]
TextKind = Literal["translation", "transcript", "original", "unknown"]

# Fields that describe the fetch rather than the document. They are excluded from the
# content hash so that re-fetching an unchanged page is recognised as "unchanged".
_VOLATILE = {"provenance"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)


class DocumentDate(_Model):
    """The document's date as the page shows it, and its normalized form.

    `normalized` is ISO 8601 at the shown precision (YYYY-MM-DD, YYYY-MM or YYYY),
    which is also valid EDTF level 0. It is None when the page shows no date or a
    form we cannot read; `precision` is then "none" and the record lists a problem.
    """

    display: str | None = None
    normalized: str | None = None
    precision: DatePrecision = "none"

    @property
    def parts(self) -> list[int]:
        """Year, month, day as integers, as far as the precision goes."""
        if not self.normalized:
            return []
        return [int(p) for p in self.normalized.split("-")]


class Language(_Model):
    """A language as named on the page, with ISO 639 codes when the name is known."""

    name: str
    iso639_3: str | None = None  # ISO 639-3 (and 639-2/T): "rus", "zho", "deu"
    iso639_2b: str | None = None  # ISO 639-2/B, the bibliographic code MARC uses: "ger"
    iso639_1: str | None = None  # two-letter code where one exists: "ru"


class TextVersion(_Model):
    """One tab of the document text: a translation, a transcript or the original."""

    label: str  # the tab label as shown, e.g. "English Translation"
    kind: TextKind = "unknown"
    language: Language | None = None
    text: str


class Provenance(_Model):
    """Where and when the page behind this record was fetched, and what parsed it."""

    request_url: str
    final_url: str
    http_status: int
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    sha256: str  # of the raw response body, as stored in the WARC
    redirects: list[str] = Field(default_factory=list)  # URLs passed through, in order
    warc_file: str | None = None  # the WARC file that holds the response, if kept
    warc_record_id: str | None = None
    tool_version: str
    parser_version: str
    replayed: bool = False  # True when served from a recording rather than the network
    # Which alternative of the parser's selector table gave each field: "#<rank> <selector>@<scope>"
    # (#1 is the first choice). Optional, so records stored before it existed stay valid, and left
    # out of the JSON when empty, so they also serialize exactly as before.
    matched: dict[str, str] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_empty_matched(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not data.get("matched"):
            data.pop("matched", None)
        return data


class CatalogRecord(_Model):
    """One Wilson Center Digital Archive document, normalized."""

    record_id: int = Field(gt=0, description="The archive's Record ID (the legacy numeric id)")
    node_id: int | None = Field(default=None, description="Drupal node id (used by /download)")
    slug: str | None = None
    url: str = Field(description="Canonical document URL (/document/<slug>)")

    title: str
    date: DocumentDate = Field(default_factory=DocumentDate)
    summary: str | None = None
    texts: list[TextVersion] = Field(default_factory=list)

    authors: list[str] = Field(default_factory=list)
    people_and_organizations: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    contributors: list[str] = Field(default_factory=list)

    source: str | None = None  # verbatim "Source" block
    translators: list[str] = Field(default_factory=list)  # named in the source string
    original_archives: list[str] = Field(default_factory=list)
    rights: str | None = None
    uploaded: calendar_date | None = None  # "Original Uploaded Date"
    types: list[str] = Field(default_factory=list)  # "Type", e.g. ["Cable"]
    original_languages: list[Language] = Field(default_factory=list)
    classification: str | None = None  # "Original Classification"
    donors: list[str] = Field(default_factory=list)
    credit_line: str | None = None
    pdf_url: str | None = None  # the embedded scan (pdf-preview)
    download_url: str | None = None  # /document/<node-id>/download

    problems: list[str] = Field(default_factory=list)
    provenance: Provenance

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title is empty")
        return value

    @property
    def archive_url(self) -> str:
        """The archive's own stable citation URL, /document/<Record ID>."""
        base = self.url.split("/document/")[0]
        return f"{base}/document/{self.record_id}"

    def content(self) -> dict[str, object]:
        """The record without fetch details: what "changed" is judged on."""
        return self.model_dump(mode="json", exclude=_VOLATILE)

    def content_hash(self) -> str:
        """SHA-256 of the normalized content, stable across runs and key order."""
        payload = json.dumps(self.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class StoredRecord(_Model):
    """A record as the catalog holds it, with its catalog timestamps."""

    record: CatalogRecord
    content_hash: str
    first_seen: datetime
    last_changed: datetime  # moves only when content_hash changes: the OAI datestamp
    last_checked: datetime
    deleted_at: datetime | None = None  # set when the record is a tombstone

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None
