"""`show` and the settings of the read commands without pydantic (issue 18, start-up).

`show` prints from the stored JSON; these tests hold it to what the record model printed
(the model-based formatting is kept below as the oracle), and hold the quick settings path
to the pydantic settings it stands in for.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from catalog.errors import ConfigError
from catalog.model import StoredRecord
from catalog.store import SQLiteStore
from harvester.cli import cli
from harvester.commands.harvest import _show_text
from harvester.config import Settings, load_settings
from harvester.config_layers import ANY_TEXT, DEFAULTS, merged_layers, quick_database
from tests.export.records import fixture_records

T0 = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def model_human(stored: StoredRecord) -> str:
    """`show`'s text as it was made from the record model (before issue 18): the oracle."""
    r = stored.record
    lines = [r.title, "=" * min(len(r.title), 78)]

    def add(label: str, value: object) -> None:
        if value in (None, "", []):
            return
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        lines.append(f"{label + ':':<22}{value}")

    add("Record ID", r.record_id)
    add("Status", "DELETED (tombstone)" if stored.deleted else None)
    date = (f"{r.date.normalized} ({r.date.precision}), shown as {r.date.display!r}" if r.date.normalized
            else r.date.display)
    add("Date", date or "none shown")
    add("URL", r.url)
    add("Authors", r.authors)
    add("People & orgs", r.people_and_organizations)
    add("Places", r.places)
    add("Subjects", r.subjects)
    add("Contributors", r.contributors)
    add("Type", r.types)
    add("Original language", [f"{lang.name} ({lang.iso639_3})" if lang.iso639_3 else lang.name
                              for lang in r.original_languages])
    add("Original archive", r.original_archives)
    add("Source", r.source)
    add("Translators", r.translators)
    add("Classification", r.classification)
    add("Donors", r.donors)
    add("Uploaded", r.uploaded)
    add("Texts", [f"{t.label} ({len(t.text)} chars)" for t in r.texts])
    add("Scan", r.pdf_url)
    if r.summary:
        lines += ["", r.summary]
    if r.problems:
        lines += ["", "Problems:"] + [f"  - {p}" for p in r.problems]
    p = r.provenance
    lines += ["", f"Fetched {p.fetched_at.isoformat()} from {p.final_url} (HTTP {p.http_status}"
                  f"{', replayed' if p.replayed else ''}); sha256 {p.sha256[:16]}…",
              f"Catalog: first seen {stored.first_seen:%Y-%m-%d %H:%M:%S}Z, last changed "
              f"{stored.last_changed:%Y-%m-%d %H:%M:%S}Z, last checked {stored.last_checked:%Y-%m-%d %H:%M:%S}Z"]
    return "\n".join(lines)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.db"
    store = SQLiteStore(path)
    records = fixture_records()
    assert len(records) >= 20
    with store.transaction():
        for record in records:
            store.upsert(record, now=T0)
        store.tombstone(records[0].record_id, now=T0)
    store.close()
    return path


def _raw(path: Path, record_id: int) -> Any:
    store = SQLiteStore(path)
    try:
        return next(store.iter_raw(ids=[record_id]))
    finally:
        store.close()


def test_show_prints_what_the_model_printed_for_every_fixture_record(catalog: Path) -> None:
    store = SQLiteStore(catalog)
    try:
        raws = list(store.iter_raw())
        assert any(r.deleted for r in raws)
        for raw in raws:
            assert _show_text(raw) == model_human(raw.stored()), raw.record_id
    finally:
        store.close()


def test_show_command_prints_the_record_and_its_history(catalog: Path) -> None:
    record_id = fixture_records()[1].record_id
    result = CliRunner().invoke(cli, ["--db", str(catalog), "show", str(record_id)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(model_human(_raw(catalog, record_id).stored()) + "\n")


def test_a_body_missing_a_field_the_model_defaults_is_shown_through_the_model(catalog: Path) -> None:
    record_id = fixture_records()[2].record_id
    with sqlite3.connect(catalog) as conn:
        conn.execute("UPDATE record SET body = json_remove(body, '$.donors', '$.summary') WHERE record_id = ?",
                     (record_id,))
    raw = _raw(catalog, record_id)
    assert _show_text(raw) == model_human(raw.stored())


def test_a_damaged_body_is_a_clear_error_not_a_wrong_record(catalog: Path) -> None:
    record_id = fixture_records()[3].record_id
    with sqlite3.connect(catalog) as conn:
        conn.execute("UPDATE record SET body = json_set(body, '$.title', 42) WHERE record_id = ?", (record_id,))
    result = CliRunner().invoke(cli, ["--db", str(catalog), "show", str(record_id)])
    assert result.exit_code != 0
    assert f"record {record_id} in the catalog is unreadable" in result.output + str(result.exception)


# -- the quick settings path -----------------------------------------------------------------
def test_the_defaults_table_is_the_models() -> None:
    assert Settings().model_dump() == DEFAULTS


def test_keys_taken_as_any_text_have_no_constraint_in_the_model() -> None:
    for section, key in ANY_TEXT:
        model = type(getattr(Settings(), section))
        field = model.model_fields[key]
        assert field.annotation in (str, str | None) and not field.metadata, (section, key)
        validated = {f for v in model.__pydantic_decorators__.field_validators.values() for f in v.info.fields}
        assert key not in validated, (section, key)


def test_quick_database_answers_only_what_validation_would_accept_unchanged(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.toml"
    layers = merged_layers(shipped, overrides={"storage": {"database": "x.db"}}, environ={})
    assert quick_database(layers) == "x.db" == load_settings(shipped, overrides={"storage": {"database": "x.db"}},
                                                             environ={}).storage.database
    assert quick_database({}) == "data/catalog.db"
    bad: dict[str, Any]
    for bad in ({"http": {"rate_limit": 0}}, {"http": {"speed": 3}}, {"nope": {}}, {"http": 3},
                {"http": {"rate_limit": "1.0"}}, {"archive": {"base_url": "ftp://x"}}, {"storage": {"database": 7}},
                {"oai": {"about_provenance": 0}}):
        assert quick_database(bad) is None, bad  # left to pydantic


@pytest.mark.parametrize("command", [["show", "1"], ["list"], ["cite", "1"]])
def test_read_commands_stop_on_a_bad_config_value_as_before(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[http]\nrate_limit = 0\n", encoding="utf-8")
    SQLiteStore(tmp_path / "c.db").close()
    with pytest.raises(ConfigError) as expected:
        load_settings(config, environ={})
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(tmp_path / "c.db"), *command])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) and str(result.exception) == str(expected.value)
