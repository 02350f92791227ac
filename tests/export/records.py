"""Catalog records for the export tests.

`record_175798()` is built from ../shared/seed/cable-175798.md. Once the fixture
builder's `fixtures/expected/<RecordID>.json` files exist, `fixture_records()` yields
those too (with a fixed provenance, since the expected files leave it out).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from catalog.model import CatalogRecord, DocumentDate, Language, Provenance, StoredRecord, TextVersion

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "fixtures" / "expected"
SEED_CITATION = (
    '"Cable No. 4785, Filippov [Stalin] and Zhou Enlai to the Soviet Ambassador in Peking", '
    "October 11, 1950, Wilson Center Digital Archive, AP RF, f. 45, op. 1, d. 334, ll. 134-135; "
    "and RGASPI, f. 558, op. 11, d. 334, ll. 0134-0135. Translated by Gary Goldberg. "
    "https://digitalarchive.wilsoncenter.org/document/175798"
)


def provenance(url: str) -> Provenance:
    return Provenance(
        request_url=url,
        final_url=url,
        http_status=200,
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        sha256="0" * 64,
        tool_version="test",
        parser_version="test",
    )


def record_175798() -> CatalogRecord:
    url = (
        "https://digitalarchive.wilsoncenter.org/document/"
        "cable-no-4785-filippov-stalin-and-zhou-enlai-soviet-ambassador-peking"
    )
    return CatalogRecord(
        record_id=175798,
        url=url,
        slug=url.rsplit("/", 1)[1],
        title="Cable No. 4785, Filippov [Stalin] and Zhou Enlai to the Soviet Ambassador in Peking",
        date=DocumentDate(display="October 11, 1950", normalized="1950-10-11", precision="day"),
        summary=(
            "Instructions for the Chinese army in light of the fact that the Chinese forces "
            "designated to assist Korea are not ready."
        ),
        texts=[
            TextVersion(
                label="English Translation",
                kind="translation",
                language=Language(name="English", iso639_3="eng", iso639_2b="eng", iso639_1="en"),
                text="Top Secret\n\nCable Nº 4784\n\nPriority\n\nPeking, to the Soviet Ambassador.",
            )
        ],
        authors=["Stalin, Joseph, 1879-1953", "Zhou, Enlai, 1898-1976"],
        places=["China", "Korea (North)", "Russia (Federation)"],
        subjects=["Korean War, 1950-1953"],
        people_and_organizations=["Mao, Zedong, 1893-1976"],
        source=(
            "AP RF, f. 45, op. 1, d. 334, ll. 134-135; and RGASPI, f. 558, op. 11, d. 334, "
            "ll. 0134-0135. Translated by Gary Goldberg."
        ),
        translators=["Gary Goldberg"],
        original_archives=["Archive of the President of the Russian Federation (APRF)"],
        types=["Cable"],
        original_languages=[Language(name="Russian", iso639_3="rus", iso639_2b="rus", iso639_1="ru")],
        provenance=provenance(url),
    )


def fixture_records() -> list[CatalogRecord]:
    """175798 from the seed, plus every fixtures/expected/*.json record (by Record ID)."""
    records = {175798: record_175798()}
    for path in sorted(EXPECTED.glob("[0-9]*.json")) if EXPECTED.is_dir() else []:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("provenance", None)
        record = CatalogRecord(**data, provenance=provenance(data.get("url", "https://example.org/")))
        records[record.record_id] = record
    return [records[k] for k in sorted(records)]


def stored(record: CatalogRecord, *, deleted: bool = False) -> StoredRecord:
    """A StoredRecord with fixed catalog timestamps, for golden output."""

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return StoredRecord(
        record=record,
        content_hash=record.content_hash(),
        first_seen=when,
        last_changed=when,
        last_checked=when,
        deleted_at=when if deleted else None,
    )


def hard_record() -> CatalogRecord:
    """A record with the awkward cases: institution author, no date, XML-forbidden and special characters."""
    record = record_175798()
    record.record_id = 888001
    record.title = "Запись беседы 周恩来 & Kim Il Sung\x07 {draft} 100% #1 $5 ~ ^ _x_"
    record.authors = ["CC CPSU Politburo", "Kim, Il-sung, 1912-1994"]
    record.translators = []
    record.date = DocumentDate(display="undated", normalized=None, precision="none")
    record.summary = "Line one\nline two, with \"quotes\" and <tags>\x00"
    record.places = ["Pyongyang (Korea)", "北京"]
    record.source = "RGANI, f. 5, op. 30, d. 1, l. 2."
    record.original_languages = [Language(name="Korean")]
    return record
