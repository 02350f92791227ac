"""A small catalog with the values a search has to get right, and a plain-Python oracle.

The records are the OAI tests' varied ones (non-Latin titles, subjects with markup
characters…) plus document texts with phrases, hyphenated words, URLs, diacritics,
right-to-left text with direction marks and HTML-looking titles; some without a date or
with a year only, some with scans, some tombstoned. `expected_ids` answers a query by
reading the records in Python, independently of both backends' SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalog.index import derive, search_text, tokens
from catalog.model import CatalogRecord, DocumentDate, TextVersion
from catalog.store import CatalogStore, TextTerm
from tests.oai.catalog_builder import make_record

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
N = 80
HOSTILE_TITLE = 'Note <script>alert("x")</script> & "Cold" War \u200fمذكرة\u200e (NEAR: *)'
TEXTS = [
    "The cold war began in earnest. Sino-Soviet relations worsened after the plenum.",
    "Ivan Šubašić met the delegation; see https://digitalarchive.wilsoncenter.org/document/175798 for more.",
    "War, cold and long: the memorandum says nothing of it. Nuclear weapons were discussed at length.",
    "\u200fنص الوثيقة\u200e mentions the Cold War once and Moscow twice: Moscow.",
    "毛泽东 北京 会谈记录 — Mao in Beijing; the conversation lasted four hours.",
]


def record(i: int) -> CatalogRecord:
    base = make_record(i)
    changes: dict[str, object] = {}
    if i % 9 == 0:
        changes["date"] = DocumentDate(display="undated", normalized=None, precision="none")
    elif i % 6 == 0:
        year = str(1945 + i % 40)
        changes["date"] = DocumentDate(display=year, normalized=year, precision="year")
    if i % 5 == 1:
        text = TEXTS[(i // 5) % len(TEXTS)]
        changes["texts"] = [TextVersion(label="English Translation", kind="translation", text=text)]
    if i % 4 == 2:
        changes["pdf_url"] = f"https://example.org/scan/{i}.pdf"
    if i == 3:
        changes["title"] = HOSTILE_TITLE
    if i == 4:
        changes["title"] = "Cold War memorandum on Panmunjom"  # the only title with "Panmunjom"
    if i in (5, 10):
        changes["summary"] = "Talks at Panmunjom went on."  # Panmunjom only below the title
    return base.model_copy(update=changes) if changes else base


RECORDS = [record(i) for i in range(1, N + 1)]
DELETED = [r.record_id for r in RECORDS[::15]]


def fill(store: CatalogStore) -> None:
    with store.unit_of_work():
        for n, r in enumerate(RECORDS):
            store.upsert(r, now=T0 + timedelta(seconds=n * 7 % N))  # "changed" order differs from ID order
    for n, record_id in enumerate(DELETED):
        store.tombstone(record_id, now=T0 + timedelta(days=1, seconds=n))


# -- the oracle -----------------------------------------------------------------------------------
def _term_in(words: list[str], term: TextTerm) -> bool:
    k = len(term.words)
    for start in range(len(words) - k + 1):
        window = words[start:start + k]
        if window[:-1] == list(term.words[:-1]) and (
                window[-1].startswith(term.words[-1]) if term.prefix else window[-1] == term.words[-1]):
            return True
    return False


def matches(r: CatalogRecord, terms: tuple[TextTerm, ...]) -> bool:
    fields = [tokens(f) for f in search_text(r).fields()]
    return all(any(_term_in(f, t) for f in fields) for t in terms)


def expected_ids(terms: tuple[TextTerm, ...], keys: tuple[str, ...] = (), low: str | None = None,
                 high: str | None = None, include_deleted: bool = False) -> set[int]:
    from catalog.index import date_range

    found = set()
    for r in RECORDS:
        if r.record_id in DELETED and not include_deleted:
            continue
        have = {f.key for f in derive(r).facets}
        if not set(keys) <= have or not matches(r, terms):
            continue
        start, end = date_range(r.date.normalized)
        if (low or high) and start is None:
            continue
        if (low and end is not None and end < low) or (high and start is not None and start > high):
            continue
        found.add(r.record_id)
    return found


def expected_counts(ids: set[int], limit: int = 10) -> dict[str, list[tuple[str, int]]]:
    counts: dict[str, dict[str, int]] = {}
    for r in RECORDS:
        if r.record_id in ids:
            for f in derive(r).facets:
                if f.value:
                    fam = counts.setdefault(f.family, {})
                    fam[f.value] = fam.get(f.value, 0) + 1
    return {family: sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            for family, values in counts.items()}
