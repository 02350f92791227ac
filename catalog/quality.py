"""Field coverage of parsed records, and the alarm for a markup change.

When the site's markup changes, pages still answer 200 and still parse, but a field
quietly goes empty on every page. The sign is a field that is normally present (in
most of the catalog) missing from a large share of the pages parsed in one run; that
raises an alarm, which makes the sync exit non-zero so a person looks.

The baseline is the catalog's coverage when the run starts (stored with the run, so a
resumed run judges against the same baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.model import CatalogRecord

if TYPE_CHECKING:  # not imported at run time: a parse worker imports this module (catalog/prepared.py)
    from catalog.store.api import CatalogStore

# field -> (JSON path in record.body, kind). "list" fields count when non-empty.
FIELDS: dict[str, tuple[str, str]] = {
    "title": ("$.title", "scalar"),
    "date": ("$.date.normalized", "scalar"),
    "summary": ("$.summary", "scalar"),
    "texts": ("$.texts", "list"),
    "authors": ("$.authors", "list"),
    "people_and_organizations": ("$.people_and_organizations", "list"),
    "places": ("$.places", "list"),
    "subjects": ("$.subjects", "list"),
    "contributors": ("$.contributors", "list"),
    "source": ("$.source", "scalar"),
    "translators": ("$.translators", "list"),
    "original_archives": ("$.original_archives", "list"),
    "rights": ("$.rights", "scalar"),
    "uploaded": ("$.uploaded", "scalar"),
    "types": ("$.types", "list"),
    "original_languages": ("$.original_languages", "list"),
    "classification": ("$.classification", "scalar"),
    "donors": ("$.donors", "list"),
    "credit_line": ("$.credit_line", "scalar"),
    "pdf_url": ("$.pdf_url", "scalar"),
    "download_url": ("$.download_url", "scalar"),
    "node_id": ("$.node_id", "scalar"),
    "slug": ("$.slug", "scalar"),
}


def present_fields(record: CatalogRecord, data: dict[str, Any] | None = None) -> list[str]:
    """The fields this record has a value for. `data`: the record's `model_dump(mode="json")`
    when the caller has it already (catalog/prepared.py)."""
    if data is None:
        data = record.model_dump(mode="json")
    found = []
    for name, (path, _) in FIELDS.items():
        value: Any = data
        for part in path[2:].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value not in (None, "", [], {}):
            found.append(name)
    return found


FALLBACK_MARK = "fallback:"


def fallback_marks(record: CatalogRecord) -> list[str]:
    """"fallback:<field>=<alternative>" for each field the parser found by a fallback, not the
    selector table's first choice (provenance.matched says "#1 …" for that). Counted per run,
    so a fallback becoming common is seen before a field goes missing."""
    return [f"{FALLBACK_MARK}{name}={how}" for name, how in sorted(record.provenance.matched.items())
            if not how.startswith("#1 ")]


def fallback_counts(marks: dict[str, int]) -> dict[str, dict[str, int]]:
    """{field: {alternative: pages}} from counted marks (other counted names are ignored)."""
    found: dict[str, dict[str, int]] = {}
    for mark, count in sorted(marks.items()):
        if mark.startswith(FALLBACK_MARK):
            name, _, how = mark[len(FALLBACK_MARK):].partition("=")
            found.setdefault(name, {})[how] = count
    return found


def fallback_lines(marks: dict[str, int], parsed: int) -> list[str]:
    """One line per field and fallback: "subjects: by #2 h2, h3, h4@region>pill-block on 4 of 10 pages (40%)"."""
    lines = []
    for name, ways in fallback_counts(marks).items():
        for how, count in ways.items():
            share = f" ({count / parsed:.0%})" if parsed else ""
            lines.append(f"{name}: by {how} on {count} of {parsed} pages{share}")
    return lines


def catalog_coverage(store: CatalogStore) -> dict[str, Any]:
    """{"records": N, "fields": {field: count}} over the live (not deleted) catalog.

    Counted by the store in SQL (JSON functions): the catalog is ~17k bodies of tens of
    KB, which Python would have to parse one by one.
    """
    return store.coverage(FIELDS)


@dataclass
class Alarm:
    field: str
    baseline_share: float  # share of the catalog that had the field at the start
    run_share: float  # share of this run's parsed pages that have it
    parsed: int

    def message(self) -> str:
        return (f"field '{self.field}' is missing from {1 - self.run_share:.0%} of the {self.parsed} pages parsed "
                f"in this run, but present in {self.baseline_share:.0%} of the catalog: the site's markup may "
                f"have changed (check harvester/site/selectors.py)")


def alarms(baseline: dict[str, Any] | None, run_counts: dict[str, int], parsed: int, *,
           min_pages: int, normal_share: float, alarm_share: float) -> list[Alarm]:
    """Fields normally present (>= normal_share of the catalog) but missing from at least
    alarm_share of this run's parsed pages. Needs min_pages parsed pages to judge: a
    handful of unusual documents is not a markup change."""
    if not baseline or parsed < min_pages or not baseline.get("records"):
        return []
    total = baseline["records"]
    found = []
    for name in FIELDS:
        base = baseline["fields"].get(name, 0) / total
        if base < normal_share:
            continue
        share = run_counts.get(name, 0) / parsed
        if 1 - share >= alarm_share:
            found.append(Alarm(name, base, share, parsed))
    return found
