"""CSL-JSON, RIS and BibTeX as reference managers read them, for every fixture record.

RIS is read back with rispy and checked against Zotero's RIS translator map
(zotero/translators RIS.js: TY MANSCPT -> manuscript, DB -> archive, AN ->
archiveLocation, A4 -> translator, M3 -> manuscriptType, DP -> libraryCatalog);
BibTeX is read back with pybtex (an independent parser: the writer uses bibtexparser).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import rispy
from pybtex.database import parse_string

from catalog.export.bibtex import bib_text
from catalog.export.common import archival_reference
from catalog.export.csl_json import csl_item
from catalog.export.ris import ris_text
from catalog.model import CatalogRecord
from catalog.names import Institution, parse_name
from tests.export.records import fixture_records
from tests.support.tools import needs_tool


def test_csl_json_for_zotero(fixture_record: CatalogRecord) -> None:
    item = csl_item(fixture_record)
    if fixture_record.original_archives:
        assert item["archive"] == "; ".join(fixture_record.original_archives)
    if fixture_record.types:
        assert item["genre"] == "; ".join(fixture_record.types)
    assert item.get("archive_location") == archival_reference(fixture_record)
    for written, name in zip(fixture_record.authors, item.get("author", []), strict=True):
        parsed = parse_name(written)
        if isinstance(parsed, Institution) or parsed.family_first:
            assert set(name) == {"literal"}  # Zotero: a single-field creator, never inverted


def test_family_first_and_corporate_names_survive() -> None:
    by_id = {r.record_id: r for r in fixture_records()}
    assert csl_item(by_id[175798])["author"][1] == {"literal": "Zhou Enlai"}
    assert csl_item(by_id[999005])["author"][:2] == [
        {"literal": "Hungary. Külkereskedelmi Minisztérium"},
        {"literal": "Czechoslovakia. Ministerstvo zahraničního obchodu"},
    ]
    ris = rispy.load(io.StringIO(ris_text(by_id[999005])))[0]
    assert ris["authors"][:2] == [
        "Hungary. Külkereskedelmi Minisztérium", "Czechoslovakia. Ministerstvo zahraničního obchodu"
    ]
    bib = parse_string(bib_text(by_id[999005]), "bibtex").entries["wcda999005"]
    assert [str(p) for p in bib.persons["author"]][:2] == [
        "{Hungary. Külkereskedelmi Minisztérium}", "{Czechoslovakia. Ministerstvo zahraničního obchodu}"
    ]


def test_ris_follows_zoteros_map(fixture_record: CatalogRecord) -> None:
    entry = rispy.load(io.StringIO(ris_text(fixture_record)))[0]
    assert entry["type_of_reference"] == "MANSCPT"
    assert entry["id"] == str(fixture_record.record_id)
    assert entry["database_provider"] == "Wilson Center Digital Archive"
    assert "publisher" not in entry and "call_number" not in entry
    if fixture_record.translators:
        assert len(entry["subsidiary_authors"]) == len(fixture_record.translators)  # A4
    if fixture_record.original_archives:
        assert entry["name_of_database"] == "; ".join(fixture_record.original_archives)  # DB
    if archival_reference(fixture_record):
        assert entry["accession_number"] == archival_reference(fixture_record)  # AN
    if fixture_record.types:
        assert entry["type_of_work"] == "; ".join(fixture_record.types)  # M3


def test_bibtex_read_back_by_pybtex(fixture_record: CatalogRecord) -> None:
    data = parse_string(bib_text(fixture_record), "bibtex")
    entry = data.entries[f"wcda{fixture_record.record_id}"]
    assert entry.type == "misc"
    parts = fixture_record.date.parts if fixture_record.date.normalized else []
    assert entry.fields.get("year") == (f"{parts[0]:04d}" if parts else None)
    assert entry.fields.get("month") == (str(parts[1]) if len(parts) > 1 else None)
    assert "date" not in entry.fields  # biber warns when date and year are both given
    if fixture_record.original_languages:
        languages = entry.fields["language"].split(" and ")
        assert languages == [lang.name.lower() for lang in fixture_record.original_languages]
    if fixture_record.subjects:
        keywords = entry.fields["keywords"]
        for subject in fixture_record.subjects:
            assert (("{" + subject + "}") if "," in subject else subject) in keywords
    if fixture_record.authors:  # pybtex parses author as a name list: one person per author
        assert len(entry.persons["author"]) == len(fixture_record.authors)
    if fixture_record.translators:  # @misc has no translator field: the editor in the translator's role
        assert len(entry.persons["editor"]) == len(fixture_record.translators)
        assert entry.fields["editortype"] == "translator"
    else:
        assert "editor" not in entry.persons and "editortype" not in entry.fields
    assert "translator" not in entry.fields and "origlanguage" not in entry.fields


@pytest.mark.slow  # runs biber (Perl) over every fixture record; pybtex reads the BibTeX back above
@needs_tool(shutil.which("biber") is None, "biber not installed (Debian: apt-get install biber)")
def test_biber_finds_no_invalid_field_only_missing_dates(tmp_path: Path) -> None:
    records = fixture_records()
    bib = tmp_path / "all.bib"
    bib.write_text("".join(bib_text(r) for r in records), encoding="utf-8")
    # Run in the folder with a relative name: biber joins --output-directory and the file's path.
    done = subprocess.run(["biber", "--tool", "--validate-datamodel", bib.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("WARN")]
    # The one warning that tells the truth: an undated document has no date (biblatex prints
    # "n.d."); inventing one (`date = {XXXX}` passes the check and is then dropped) would hide it.
    undated = {f"wcda{r.record_id}" for r in records if not r.date.normalized}
    missing_date = re.compile(r"WARN - Datamodel: Entry '(\w+)' \(all\.bib\): Missing mandatory field - "
                              r"one of 'date, year' must be defined$")
    flagged = {m[1] for m in map(missing_date.match, warnings) if m}
    assert flagged == undated and undated, warnings
    assert [w for w in warnings if not missing_date.match(w)] == [], warnings
