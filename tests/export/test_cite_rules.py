"""The citation rules of issue 13, one by one (docs/citations.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import catalog.cite
from catalog.cite import Citer, cite
from catalog.export.common import archival_reference
from catalog.model import CatalogRecord
from catalog.names import Institution, PersonName, parse_name
from catalog.store import SQLiteStore
from catalog.title_case import headline
from harvester.cli import cli
from tests.export.records import SEED_CITATION, fixture_records, record_175798


def _fixture(record_id: int) -> CatalogRecord:
    return next(r for r in fixture_records() if r.record_id == record_id).model_copy(deep=True)


@pytest.mark.parametrize(("title", "expected"), [
    ("Ciphered telegram from Beijing", "Ciphered Telegram from Beijing"),
    ("Conversation on the sidelines of the NATO Summit", "Conversation on the Sidelines of the NATO Summit"),
    ("Note on Assistance, undated [1955]", "Note on Assistance, Undated [1955]"),
    ("Report no. 5 of the commission", "Report No. 5 of the Commission"),
    ("Meeting 10 a.m. - 11.15 a.m. in Bonn", "Meeting 10 a.m. - 11.15 a.m. in Bonn"),
    ("Visit of Chiang Ching-kuo to Japan", "Visit of Chiang Ching-kuo to Japan"),
    ("the cease-fire talks", "The Cease-Fire Talks"),
    ("Meeting Between Sato and the PRC", "Meeting between Sato and the PRC"),
    ("Problems: a view from the USSR", "Problems: A View from the USSR"),
    ("What it was about", "What It Was About"),
    ("Запись беседы с послом", "Запись беседы с послом"),
])
def test_headline_style(title: str, expected: str) -> None:
    assert headline(title) == expected


def test_punctuation_goes_inside_quotes_once() -> None:
    chicago = cite(_fixture(300241), "chicago-notes-bibliography")
    assert "11.15 a.m.” Wilson" in chicago and "a.m..”" not in chicago
    note = cite(_fixture(300241), "chicago-notes-bibliography", note=True)
    assert "11.15 a.m.,” Wilson" in note
    nested = cite(_fixture(300640), "mla")
    assert "‘The Chinese Communist Problem.’” Translated" in nested
    apa = cite(_fixture(300640), "apa")
    assert "Japan], “The Chinese Communist Problem” (S. Mercado" in apa and "'" not in apa


def test_quoted_phrase_ending_in_s_and_plural_possessives() -> None:
    record = _fixture(300640)
    record.title = "Bureau, 'The Chinese Communist Problems' and the Soviets' proposal"
    out = cite(record, "chicago-notes-bibliography")
    assert "“Bureau, ‘The Chinese Communist Problems’ and the Soviets’ Proposal.”" in out


def test_en_gb_flip_flops_the_other_way() -> None:
    out = Citer("mla", locale="en-GB").entry(_fixture(300640))
    assert "‘Asian Affairs Bureau [Ministry of Foreign Affairs, Japan], “The Chinese Communist Problem”’." in out


def test_source_ending_in_a_quotation_is_not_doubled() -> None:
    record = _fixture(999006)
    record.source = 'Central State Archive, Sofia, f. 1-B. Published in "Stalin Conversations."'
    for style in ("chicago-notes-bibliography", "wcda"):
        out = cite(record, style)
        assert '."' in out and '.".' not in out and ".”." not in out, out


def test_et_al_translators_render_in_mla_and_chicago_notes() -> None:
    record = _fixture(999005)
    assert "Translated by Ilona Szabó et al.," in cite(record, "mla")
    assert "trans. Ilona Szabó et al.," in cite(record, "chicago-notes-bibliography", note=True)


@pytest.mark.parametrize("written", [
    "Hungary. Külkereskedelmi Minisztérium",
    "Poland. Ambasada (China)",
    "Czechoslovakia. Ministerstvo zahraničního obchodu",
])
def test_lc_corporate_headings_are_institutions(written: str) -> None:
    assert parse_name(written) == Institution(written, written)


def test_non_ascii_hyphens_and_initials_stay_persons() -> None:
    assert parse_name("Kim, Il\u2011sung") == PersonName("Kim", "Il-sung", True, "Kim, Il\u2011sung")
    assert isinstance(parse_name("Karl J. Weber"), PersonName)
    assert "Kim, I.-S." in cite(_fixture(999005).model_copy(update={"authors": ["Kim, Il\u2011sung"]}), "apa")


def test_archival_reference_drops_only_credit_sentences() -> None:
    record = _fixture(999006)
    record.source = ("Memoir written by Kim Il Sung. RGANI, f. 5, op. 30. Translated by Gary Goldberg. "
                     "Published in Cold War History, edited by Jane Roe (London: Routledge, 2005), 12-15.")
    assert archival_reference(record) == ("Memoir written by Kim Il Sung. RGANI, f. 5, op. 30. Published in Cold War "
                                          "History, edited by Jane Roe (London: Routledge, 2005), 12-15")
    assert archival_reference(_fixture(999005)) == "MNL OL, XIX-J-1-j, 1957, 12. doboz; NA ČR, f. 1261/0/11, sv. 45"


@pytest.mark.parametrize("style", ["wcda", "chicago-notes-bibliography", "chicago-author-date", "apa", "mla"])
def test_html_is_escaped(style: str) -> None:
    record = _fixture(999006)
    record.title = "Tom & Jerry <script>alert(1)</script>"
    out = cite(record, style, fmt="html")
    assert "<script>" not in out and "&lt;" in out and "&amp;" in out


def test_house_style_is_the_archive_form_with_the_source_verbatim() -> None:
    assert cite(record_175798(), "wcda") == SEED_CITATION
    record = _fixture(999005)
    assert cite(record, "wcda").endswith(
        "Obtained by Péter Horváth; translated and edited by Ilona Szabó, Mark Dalton, and Karl J. Weber. "
        "https://digitalarchive.wilsoncenter.org/document/999005")
    assert cite(_fixture(999007), "wcda") == (
        '"Report on the Visit of a Trade Delegation to Hanoi", April 1965, Wilson Center Digital Archive. '
        "https://digitalarchive.wilsoncenter.org/document/999007")
    assert cite(_fixture(999003), "wcda").startswith(
        '"Minutes of a Conversation between the Polish Ambassador and the Chinese Vice Foreign Minister", '
        "Wilson Center Digital Archive, AMSZ")


# --- many records through the CLI


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    for record in fixture_records():
        store.upsert(record)
    store.tombstone(999207)
    store.close()
    return str(path)


def run(db: str, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--db", db, *args], input=stdin)


def test_cite_all_sorted_with_year_suffixes_style_parsed_once(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    real = catalog.cite.SubstitutingStyle

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog.cite, "SubstitutingStyle", counting)
    result = run(db, "cite", "--all", "--style", "chicago-author-date")
    assert result.exit_code == 0, result.output
    assert len(built) == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(fixture_records()) - 1 and "skipped" not in result.stderr  # the tombstone left out
    initials = [line.lstrip("“")[0] for line in lines]  # the order in full: test_citeproc_js.py
    assert initials == sorted(initials)
    kieninger = [line.split(". ")[1] for line in lines if line.startswith("Kieninger")]
    assert kieninger == ["1996", "1997a", "1997b", "1997c", "1997d", "1997e"]


def test_cite_ids_file_stdin_out_and_locale(db: str, tmp_path: Path) -> None:
    out = tmp_path / "refs.txt"
    result = run(db, "cite", "--ids-file", "-", "--style", "mla", "--locale", "en-GB", "--out", str(out),
                 stdin="300241\n# a comment\n\nhttps://digitalarchive.wilsoncenter.org/document/175798\n999207\n")
    assert result.exit_code == 0, (result.output, repr(result.exception))
    assert "skipped 999207" in result.stderr
    text = out.read_text(encoding="utf-8").splitlines()
    assert [line.split(".")[0] for line in text] == ["Kieninger, Stephan, translator", "Stalin, Joseph, and Zhou Enlai"]
    assert "‘The Chancellor’s" in text[0] and "11.15 a.m.’ Wilson" in text[0]  # en-GB: single quotes, stop outside


def test_cite_since_and_bad_input(db: str, tmp_path: Path) -> None:
    assert run(db, "cite", "--since", "2999-01-01").stdout == ""
    assert len(run(db, "cite", "--since", "2000-01-01", "--style", "apa").stdout.splitlines()) == 20
    bad = tmp_path / "ids.txt"
    bad.write_text("175798\nabc\n", encoding="utf-8")
    result = run(db, "cite", "--ids-file", str(bad))
    assert result.exit_code == 2 and "ids.txt:2" in result.output
    assert run(db, "cite").exit_code == 2
    assert run(db, "cite", "175798", "--locale", "xx-YY", "--style", "apa").exit_code == 2


def test_citer_notes_keep_the_given_order() -> None:
    records = [_fixture(300241), record_175798()]
    entries = Citer("chicago-notes-bibliography", note=True).bibliography(records)
    assert [e.record.record_id for e in entries] == [300241, 175798]


def test_house_style_equals_the_archive_form_for_every_record_with_a_source() -> None:
    """"<Title>", <date as shown>, Wilson Center Digital Archive, <Source exactly as shown> <URL>."""
    checked = 0
    for record in fixture_records():
        if not record.source:
            continue
        parts = [f'"{record.title}"', record.date.display, "Wilson Center Digital Archive", record.source.strip()]
        expected = ", ".join(p for p in parts if p) + " " + record.archive_url
        assert cite(record, "wcda") == expected
        assert cite(record, "wcda", note=True) == expected
        checked += 1
    assert checked == 20
