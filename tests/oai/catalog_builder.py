"""A temporary catalog of a few hundred varied records for the OAI-PMH tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from catalog.model import CatalogRecord, DocumentDate, Language, Provenance
from catalog.store import SQLiteStore

BASE = "https://digitalarchive.wilsoncenter.org"
START = datetime(2024, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)  # microseconds on purpose

TYPES = ["Cable", "Letter", "Memorandum", "Report", "Telegram", "Minutes"]
LANGS = [
    Language(name="Russian", iso639_3="rus", iso639_1="ru"),
    Language(name="Chinese", iso639_3="zho", iso639_1="zh"),
    Language(name="German", iso639_3="deu", iso639_2b="ger", iso639_1="de"),
    Language(name="Korean", iso639_3="kor", iso639_1="ko"),
    Language(name="English", iso639_3="eng", iso639_1="en"),
    Language(name="Old Church Slavonic"),  # no code given: a slug of the name, or a lookup
]
ARCHIVES = [
    "Archive of the President of the Russian Federation (APRF)",
    "Political Archive of the Foreign Office, Berlin",
    "中华人民共和国外交部档案馆",
    "National Archives of Hungary (MOL)",
]
SUBJECTS = [
    "Korean War, 1950-1953",
    "Cold War",
    "Холодная война",
    "Nuclear weapons",
    "Sino-Soviet relations",
    "中苏关系",
    "Berlin Crisis, 1958-1962",
    "Café diplomacy & <markup> \"quoted\"",
]


def make_record(i: int) -> CatalogRecord:
    record_id = 100_000 + i * 7
    url = f"{BASE}/document/doc-{record_id}"
    title = f"Document {i}: " + ("Телеграмма посла" if i % 5 == 0 else "毛泽东致斯大林电" if i % 7 == 0
                                 else "Memorandum of conversation")
    return CatalogRecord(
        record_id=record_id,
        url=url,
        slug=f"doc-{record_id}",
        title=title,
        date=DocumentDate(display="1950", normalized=f"{1945 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                          precision="day"),
        summary=None if i % 4 == 0 else f"Summary of document {i}, with non-Latin text: Москва, 北京.",
        authors=[f"Author {i % 9}"],
        places=["Moscow", "Beijing"][: 1 + i % 2],
        subjects=[SUBJECTS[i % len(SUBJECTS)], SUBJECTS[(i * 3) % len(SUBJECTS)]] if i % 11 else [],
        types=[TYPES[i % len(TYPES)]] if i % 13 else [],
        original_languages=[LANGS[i % len(LANGS)]] if i % 17 else [],
        original_archives=[ARCHIVES[i % len(ARCHIVES)]],
        rights="Copyright holder unknown" if i % 3 == 0 else None,
        source=f"Fond {i}, opis 1, delo {i % 50}. Translated by Someone.",
        translators=["Someone"],
        provenance=Provenance(
            request_url=url, final_url=url, http_status=200, fetched_at=START, sha256="0" * 64,
            tool_version="test", parser_version="test",
        ),
    )


def build_catalog(path: Path, n: int = 260, deleted_every: int = 10) -> tuple[SQLiteStore, list[int]]:
    """Records stored over several days, several per second; every 10th tombstoned later."""
    store = SQLiteStore(path)
    deleted: list[int] = []
    for i in range(n):
        # ~4 records share each second (same datestamp), spread over ~3 days.
        at = START + timedelta(seconds=(i // 4) * 997, microseconds=(i % 4) * 1000)
        store.upsert(make_record(i), now=at)
    for i in range(0, n, deleted_every):
        rid = make_record(i).record_id
        store.tombstone(rid, now=START + timedelta(days=4, seconds=i))
        deleted.append(rid)
    return store, deleted
