"""`harvester export` and `harvester cite` through click's CliRunner on a temp catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rispy
from click.testing import CliRunner

from catalog.store import SQLiteStore
from harvester.cli import cli
from tests.export.records import SEED_CITATION, hard_record, record_175798


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    store.upsert(record_175798())
    no_author = record_175798().model_copy(update={"record_id": 5, "authors": []})
    store.upsert(no_author)
    store.upsert(hard_record())
    store.upsert(record_175798().model_copy(update={"record_id": 7}))
    store.tombstone(7)
    store.close()
    return str(path)


def run(db: str, *args: str) -> object:
    return CliRunner().invoke(cli, ["--db", db, *args])


def test_cite_wcda_equals_the_archive_citation(db: str) -> None:
    result = run(db, "cite", "175798", "--style", "wcda")
    assert result.exit_code == 0, result.output
    assert result.stdout == SEED_CITATION + "\n"


def test_cite_default_style_and_html(db: str) -> None:
    assert run(db, "cite", "175798").stdout == SEED_CITATION + "\n"
    html = run(db, "cite", "175798", "--style", "apa", "--format", "html").stdout
    assert "<i>Cable No. 4785" in html and "&amp;" in html


def test_cite_note_form_and_csl_path(db: str) -> None:
    note = run(db, "cite", "175798", "--style", "chicago", "--note").stdout
    assert note.startswith("Joseph Stalin and Zhou Enlai, “Cable No. 4785")
    path = Path(__file__).resolve().parents[2] / "catalog" / "styles" / "wcda.csl"
    assert run(db, "cite", "175798", "--style", str(path)).stdout == SEED_CITATION + "\n"


def test_cite_no_author_record(db: str) -> None:
    result = run(db, "cite", "175798", "5", "--style", "apa")
    assert result.exit_code == 0, result.output
    # a bibliography: sorted as APA says (the title takes the missing author's place, "C" before "S")
    first, second = result.stdout.splitlines()
    assert first.startswith(
        "Cable No. 4785, Filippov [Stalin] and Zhou Enlai to the Soviet Ambassador in Peking (G. Goldberg, Trans.). "
        "(1950, October 11). Wilson"
    )
    assert second.startswith("Stalin, J., & Zhou, E. (1950, October 11).")


def test_cite_refuses_what_citeproc_py_gets_wrong(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import catalog.cite

    real = catalog.cite._render

    def doubled(path, item, fmt, note):  # type: ignore[no-untyped-def]
        out = real(path, item, fmt, note)
        return out + " " + item["title"] if item["id"] == "wcda-5" else out

    monkeypatch.setattr(catalog.cite, "_render", doubled)
    result = run(db, "cite", "175798", "5", "--style", "apa")
    assert result.exit_code == 1
    assert result.stdout.startswith("Stalin, J., & Zhou, E. (1950, October 11).")
    assert "record 5" in result.stderr and "cannot be rendered correctly" in result.stderr


def test_cite_errors(db: str) -> None:
    assert run(db, "cite", "12345").exit_code == 2
    bad = run(db, "cite", "175798", "--style", "harvard")
    assert bad.exit_code == 2 and "unknown style" in bad.output
    assert run(db, "cite", "175798", "--style", "mla", "--note").exit_code == 2
    tomb = run(db, "cite", "7")
    assert tomb.exit_code == 0 and tomb.stdout == "" and "skipped 7" in tomb.stderr


def test_export_all_to_file(db: str, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    result = run(db, "export", "jsonl", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(x["record"]["record_id"], x["deleted"]) for x in lines] == [(5, False), (7, True), (175798, False),
                                                                         (888001, False)]


def test_export_ids_and_citation_formats_skip_tombstones(db: str) -> None:
    result = run(db, "export", "ris", "175798", "7")
    assert result.exit_code == 0
    assert [e["id"] for e in rispy.loads(result.stdout)] == ["175798"]
    assert "skipped 7" in result.stderr


def test_export_since(db: str) -> None:
    assert json.loads(run(db, "export", "csl-json", "--since", "2999-01-01").stdout) == []
    assert len(json.loads(run(db, "export", "csl-json", "--since", "2000-01-01").stdout)) == 3


def test_export_errors_leave_no_file(db: str, tmp_path: Path) -> None:
    out = tmp_path / "x.xml"
    assert run(db, "export", "marc").exit_code == 2
    assert run(db, "export", "oai_dc", "424242", "--out", str(out)).exit_code == 2
    assert run(db, "export", "oai_dc", "--since", "yesterday").exit_code == 2
    assert not out.exists() and list(tmp_path.glob("*.part")) == []


@pytest.mark.parametrize("fmt", ["mods", "marcxml", "oai_qdc", "qdc", "jsonld"])
def test_export_library_formats_with_a_rights_uri(db: str, fmt: str) -> None:
    from lxml import etree

    uri = "http://rightsstatements.org/vocab/InC-EDU/1.0/"
    result = CliRunner().invoke(cli, ["--db", db, "export", fmt], env={"WCDA_EXPORT__RIGHTS_URI": uri})
    assert result.exit_code == 0, result.output
    if fmt == "jsonld":
        doc = json.loads(result.stdout)
        assert {n["license"] for n in doc["@graph"]} == {uri} and len(doc["@graph"]) == 3  # tombstone skipped
        assert "skipped 7" in result.stderr
    else:
        root = etree.fromstring(result.stdout.encode())
        assert len(root) == 4 and result.stdout.count(uri) == 4
    bad = CliRunner().invoke(cli, ["--db", db, "export", fmt], env={"WCDA_EXPORT__RIGHTS_URI": "InC-EDU"})
    assert bad.exit_code != 0 and "export.rights_uri" in (bad.output + str(bad.exception))
