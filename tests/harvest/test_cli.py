"""The core commands through click's runner: harvest, show, list, reparse, record; exit codes; config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.store import SQLiteStore
from harvester.cli import cli
from harvester.warc import WarcIndex, warc_files
from tests.harvest.conftest import DOCUMENT_IDS, warc_for
from tests.support.archive_server import ArchiveServer
from tests.support.fixture_site import answers_from


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, tmp_path: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    base = ["--db", str(tmp_path / "catalog.db")]
    return runner.invoke(cli, base + list(args), env={"WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc"), **(env or {})},
                         catch_exceptions=False)


def test_harvest_175798_then_show_json(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, tmp_path, "harvest", "175798", "--replay", str(warc_for(175798)))
    assert result.exit_code == 0, result.output
    assert "harvested 1 (new 1" in result.output
    shown = invoke(runner, tmp_path, "show", "175798", "--json")
    record = json.loads(shown.output)
    assert record["title"] == "Cable No. 4785, Filippov [Stalin] and Zhou Enlai to the Soviet Ambassador in Peking"
    assert record["date"] == {"display": "October 11, 1950", "normalized": "1950-10-11", "precision": "day"}
    assert record["translators"] == ["Gary Goldberg"]
    assert len(record["original_archives"]) == 2
    assert record["original_languages"][0]["iso639_3"] == "rus"
    human = invoke(runner, tmp_path, "show", "175798")
    assert "Translators:" in human.output and "Gary Goldberg" in human.output


def test_second_harvest_reports_every_record_unchanged(runner: CliRunner, tmp_path: Path) -> None:
    docs = [str(warc_for(i)) for i in DOCUMENT_IDS]
    replay = tmp_path / "replay"
    replay.mkdir()
    for path in docs:
        (replay / Path(path).name).write_bytes(Path(path).read_bytes())
    first = invoke(runner, tmp_path, "harvest", "--replay", str(replay))
    assert first.exit_code == 0, first.output
    with SQLiteStore(tmp_path / "catalog.db") as store:
        before = {s.record.record_id: (s.last_changed, s.last_checked, s.content_hash) for s in store.iter_records()}
    second = invoke(runner, tmp_path, "harvest", "--replay", str(replay))
    assert second.exit_code == 0
    assert f"unchanged {len(DOCUMENT_IDS)}" in second.output and "harvested 0" in second.output
    with SQLiteStore(tmp_path / "catalog.db") as store:
        after = {s.record.record_id: (s.last_changed, s.last_checked, s.content_hash) for s in store.iter_records()}
    assert before.keys() == after.keys() == set(DOCUMENT_IDS)
    for rid, (changed, checked, digest) in before.items():
        assert after[rid][0] == changed and after[rid][2] == digest
        assert after[rid][1] > checked


def test_ids_file_and_bad_ids(runner: CliRunner, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# cable\n175798\n\n175798\n")
    ok = invoke(runner, tmp_path, "harvest", "--ids-file", str(ids), "--replay", str(warc_for(175798)))
    assert ok.exit_code == 0 and "new 1" in ok.output
    bad = invoke(runner, tmp_path, "harvest", "17x5798", "--replay", str(warc_for(175798)))
    assert bad.exit_code == 2 and "not a Record ID" in bad.output
    absent = invoke(runner, tmp_path, "harvest", "300653", "--replay", str(warc_for(175798)))
    assert absent.exit_code == 1 and "not in the recording" in absent.output


def test_exit_code_two_when_blocked_and_rest_not_attempted(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, tmp_path, "harvest", "999403", "--replay", str(warc_for(999403)))
    assert result.exit_code == 2
    assert "blocked" in result.output and "do not work around it" in result.output


def test_show_unknown_record_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "catalog.db").close()  # an empty catalog: read commands never create one
    result = invoke(runner, tmp_path, "show", "12345")
    assert result.exit_code == 1 and "not in the catalog" in result.output and "History" not in result.output


def test_show_prints_the_history_and_the_reason_of_a_failed_id(runner: CliRunner, tmp_path: Path) -> None:
    invoke(runner, tmp_path, "harvest", "999206", "--replay", str(warc_for(999206)))
    failed = invoke(runner, tmp_path, "show", "999206")
    assert failed.exit_code == 1 and "History:" in failed.output and "failed: truncated body" in failed.output
    for _ in range(2):
        invoke(runner, tmp_path, "harvest", "175798", "--replay", str(warc_for(175798)))
    shown = invoke(runner, tmp_path, "show", "175798")
    history = shown.output.split("History (latest last):")[1].split()
    assert [w for w in history if w in {"new", "unchanged"}] == ["new", "unchanged"]


def test_list_and_problems(runner: CliRunner, tmp_path: Path) -> None:
    for rid in (175798, 999002):
        invoke(runner, tmp_path, "harvest", str(rid), "--replay", str(warc_for(rid)))
    listing = invoke(runner, tmp_path, "list")
    assert "175798  1950-10-11  Cable No. 4785" in listing.output
    problems = invoke(runner, tmp_path, "list", "--problems")
    assert "999002" in problems.output and "no date shown" in problems.output and "175798" not in problems.output


def test_bad_config_value_names_the_key(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[http]\nrate_limit = -1\n")
    result = runner.invoke(cli, ["--config", str(config), "list"])
    assert result.exit_code != 0 and "http.rate_limit" in str(result.exception or result.output)


def test_live_harvest_keeps_warc_and_reparse_rebuilds_the_catalog(runner: CliRunner, tmp_path: Path) -> None:
    with ArchiveServer() as site:
        for rid in (175798, 300641, 999404):
            answers_from(warc_for(rid), site)
        env = {"WCDA_ARCHIVE__BASE_URL": site.base_url, "WCDA_ARCHIVE__CONTACT": "mailto:test@example.org",
               "WCDA_HTTP__RATE_LIMIT": "100"}
        result = invoke(runner, tmp_path, "harvest", "175798", "300641", "999404", "--allow-missing", env=env)
    assert result.exit_code == 0, result.output  # a 404 is recorded; with --allow-missing not a failure
    assert "not found 1" in result.output
    files = warc_files(tmp_path / "warc")
    assert len(files) == 1
    index = WarcIndex(files[0])
    assert f"{site.base_url}/document/175798" in index  # the redirect itself is kept
    assert index.get(f"{site.base_url}/document/175798").status == 301
    assert index.get(f"{site.base_url}/document/999404").status == 404

    with SQLiteStore(tmp_path / "catalog.db") as store:
        live = {s.record.record_id: s.content_hash for s in store.iter_records()}
    (tmp_path / "catalog.db").unlink()
    rebuilt = invoke(runner, tmp_path, "reparse", env={"WCDA_ARCHIVE__BASE_URL": site.base_url})
    assert rebuilt.exit_code == 0, rebuilt.output
    with SQLiteStore(tmp_path / "catalog.db") as store:
        again = {s.record.record_id: s.content_hash for s in store.iter_records()}
    assert again == live and set(live) == {175798, 300641}


def test_record_writes_a_warc_and_leaves_the_catalog_alone(runner: CliRunner, tmp_path: Path) -> None:
    with ArchiveServer() as site:
        answers_from(warc_for(175798), site)
        out = tmp_path / "rec.warc.gz"
        env = {"WCDA_ARCHIVE__BASE_URL": site.base_url, "WCDA_HTTP__RATE_LIMIT": "100"}
        result = invoke(runner, tmp_path, "record", "175798", "--out", str(out), "--contact", "mailto:t@example.org",
                        env=env)
    assert result.exit_code == 0, result.output
    assert WarcIndex(out).get(f"{site.base_url}/document/175798").status == 301
    assert not (tmp_path / "catalog.db").exists() or SQLiteStore(tmp_path / "catalog.db").count() == 0
