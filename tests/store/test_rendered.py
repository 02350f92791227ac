"""Stored renderings (catalog.export.rendered), on both backends.

What is stored with a record is exactly what the format's one serializer prints for it;
exports and OAI-PMH serve it only under the current key (serializer version, options),
and a catalog without renderings (an old one) gets them from `fill_renderings` (reindex).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.export import registry
from catalog.export.common import FormatOptions
from catalog.export.registry import FORMATS, writer_for
from catalog.export.rendered import current_keys, render_key, stored_formats
from catalog.model import CatalogRecord
from catalog.oai.provider import OaiProvider, ProviderSettings
from catalog.oai.repository import CatalogRepository
from catalog.store import CatalogStore, open_store
from tests.export.records import fixture_records

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
STORED = ["oai_dc", "oai_qdc", "mods", "marcxml", "csl-json"]
RELEASE = Path(__file__).parent / "fixtures" / "catalog-release-c60af1a.db"


def load(store: CatalogStore) -> list[CatalogRecord]:
    records = fixture_records()
    with store.unit_of_work():
        for i, r in enumerate(records):
            store.upsert(r, now=T0 + timedelta(seconds=i))
    return records


def rendered_rows(store: CatalogStore, fmt: str, options: FormatOptions = FormatOptions()) -> dict[int, str | None]:
    key = (fmt, render_key(FORMATS[fmt], options))
    return {raw.record_id: raw.rendered for raw in store.iter_raw(brief=True, rendered=key)}


def export_text(store: CatalogStore, fmt: str, *, use_stored: bool, options: FormatOptions = FormatOptions()) -> str:
    """The export file as `harvester export` writes it (serially), with or without stored renderings."""
    writer = writer_for(fmt, options=options)
    key = (fmt, render_key(FORMATS[fmt], options)) if use_stored else None
    rows = store.iter_raw(brief=True, rendered=key)
    return writer.header() + "".join(writer.record_raw(raw) for raw in rows) + writer.footer()


def test_the_stored_formats() -> None:
    assert [f.name for f in stored_formats()] == STORED


def test_renderings_are_written_with_the_record_and_equal_a_fresh_serialization(store: CatalogStore) -> None:
    records = {r.record_id: r for r in load(store)}
    for fmt in STORED:
        stored = rendered_rows(store, fmt)
        assert set(stored) == set(records)
        writer = writer_for(fmt)
        for record_id, text in stored.items():
            assert text is not None, (fmt, record_id)
            assert text == writer.render(records[record_id]), (fmt, record_id)
        # and the export file is byte for byte the one formatted from the records
        assert export_text(store, fmt, use_stored=True) == export_text(store, fmt, use_stored=False)


def test_a_changed_record_gets_new_renderings_in_the_same_unit_of_work(store: CatalogStore) -> None:
    records = load(store)
    first = records[0]
    changed = first.model_copy(update={"title": "A title that was changed"})
    with store.unit_of_work():
        assert store.upsert(changed, now=T0 + timedelta(days=1)) == "changed"
    text = rendered_rows(store, "oai_dc")[first.record_id]
    assert text is not None and "A title that was changed" in text
    assert text == writer_for("oai_dc").render(changed)


def test_the_cache_is_read_and_stale_keys_are_never_served(store: CatalogStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    load(store)
    # Overwrite the stored texts: an export that still matches the fresh serialization
    # afterwards did not read them; one that prints the marker did.
    with store.unit_of_work():
        store._exec("UPDATE record_rendered SET text = ? WHERE format = 'oai_dc'",  # type: ignore[attr-defined]
                    ("<stale/>",))
    assert "<stale/>" in export_text(store, "oai_dc", use_stored=True)

    # A new serializer version: the stored key is no longer current.
    monkeypatch.setitem(registry.FORMATS, "oai_dc", dataclasses.replace(FORMATS["oai_dc"], version=99))
    assert set(rendered_rows(store, "oai_dc").values()) == {None}
    assert "<stale/>" not in export_text(store, "oai_dc", use_stored=True)
    assert export_text(store, "oai_dc", use_stored=True) == export_text(store, "oai_dc", use_stored=False)
    monkeypatch.undo()

    # Other options (a rights URI) are another key too.
    options = FormatOptions(rights_uri="http://rightsstatements.org/vocab/InC-EDU/1.0/")
    assert set(rendered_rows(store, "oai_dc", options).values()) == {None}
    text = export_text(store, "oai_dc", use_stored=True, options=options)
    assert "<stale/>" not in text and "InC-EDU" in text


def test_fill_renderings_fills_what_is_missing_or_stale(store: CatalogStore) -> None:
    records = {r.record_id: r for r in load(store)}
    withdrawn = next(iter(records))
    store.tombstone(withdrawn, now=T0 + timedelta(days=2))
    with store.unit_of_work():
        store._exec("DELETE FROM record_rendered")  # type: ignore[attr-defined]
    assert set(rendered_rows(store, "mods").values()) == {None}

    assert store.fill_renderings() == len(records) - 1  # tombstones are never served with metadata
    assert store.fill_renderings() == 0  # all current now
    for fmt in STORED:
        writer = writer_for(fmt)
        for record_id, text in rendered_rows(store, fmt).items():
            if record_id == withdrawn:
                assert text is None
            else:
                assert text == writer.render(records[record_id])

    # Other options: every live record is rendered again, under the new key.
    options = FormatOptions(rights_uri="http://rightsstatements.org/vocab/NoC-US/1.0/")
    assert store.fill_renderings(options=options) == len(records) - 1
    assert all(t is not None and "NoC-US" in t for rid, t in rendered_rows(store, "oai_dc", options).items()
               if rid != withdrawn)


def test_oai_pages_are_the_same_with_and_without_stored_renderings(store: CatalogStore) -> None:
    load(store)
    provider = OaiProvider(CatalogRepository(store, token_secret="s"), ProviderSettings(
        repository_name="test", repository_identifier="oai.example.org", admin_email="a@example.org", page_size=7))

    def pages(prefix: str) -> list[bytes]:
        out = []
        args = [("verb", "ListRecords"), ("metadataPrefix", prefix)]
        while True:
            data = provider.handle(args, "http://oai.example.org/oai")
            # the page without its date, request and token (all carry the time of the request)
            out.append(re.sub(rb"<request.*</request>|<resumptionToken.*</resumptionToken>|<resumptionToken[^>]*/>",
                              b"", data.split(b"</responseDate>", 1)[1]))
            assert b"<error" not in data
            token = data.split(b"<resumptionToken", 1)[1].split(b">", 1)[1].split(b"<", 1)[0] \
                if b"<resumptionToken" in data else b""
            if not token:
                return out
            args = [("verb", "ListRecords"), ("resumptionToken", token.decode())]

    ident = "oai:oai.example.org:" + str(fixture_records()[0].record_id)
    get_args = [("verb", "GetRecord"), ("identifier", ident), ("metadataPrefix", "mods")]
    with_stored = {p: pages(p) for p in ("oai_dc", "mods", "marcxml")}
    get_stored = provider.handle(get_args, "http://x/oai").split(b"</responseDate>", 1)[1]
    with store.unit_of_work():
        store._exec("DELETE FROM record_rendered")  # type: ignore[attr-defined]
    for prefix, expected in with_stored.items():
        assert pages(prefix) == expected, prefix
    assert provider.handle(get_args, "http://x/oai").split(b"</responseDate>", 1)[1] == get_stored


def test_current_keys_name_format_version_and_options() -> None:
    keys = current_keys()
    assert set(keys) == set(STORED)
    assert all(k.startswith(f"{name}/v{FORMATS[name].version}/") for name, k in keys.items())
    assert current_keys(FormatOptions(marc_citation=False))["marcxml"] != keys["marcxml"]


def test_an_old_catalog_gets_the_table_and_reindex_fills_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(RELEASE, path)
    with open_store(path) as old:
        assert "m0008_rendered" in old.applied_migrations()
        assert set(rendered_rows(old, "oai_dc").values()) == {None}  # empty until filled
        live = old.count()
        assert old.fill_renderings() == live
        assert None not in rendered_rows(old, "marcxml").values()


def test_export_and_reindex_commands_use_and_fill_renderings(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harvester.cli import cli

    db = str(tmp_path / "catalog.db")
    with open_store(db) as store:
        records = load(store)
    runner = CliRunner()

    def run(*args: str, **env: str) -> str:
        result = runner.invoke(cli, ["--db", db, *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    fresh = {fmt: run("export", fmt, "--jobs", "1") for fmt in STORED}
    with open_store(db) as store, store.unit_of_work():
        store._exec("UPDATE record_rendered SET text = '<marked/>' WHERE format = 'mods'")  # type: ignore[attr-defined]
    assert "<marked/>" in run("export", "mods")  # the command reads the stored text...
    # ...unless the settings ask for other output: then it formats afresh, with the URI
    other = run("export", "mods", WCDA_EXPORT__RIGHTS_URI="http://rightsstatements.org/vocab/InC/1.0/")
    assert "<marked/>" not in other and "InC/1.0" in other
    with open_store(db) as store, store.unit_of_work():
        store._exec("DELETE FROM record_rendered")  # type: ignore[attr-defined]
    assert run("reindex").strip().endswith(f"rendered {len(records)}")
    for fmt in STORED:
        assert run("export", fmt) == fresh[fmt], fmt


def test_copy_catalog_stores_the_copys_renderings(tmp_path: Path, url: str) -> None:
    # Made again under the copy's settings, not copied: without them OAI-PMH and the exports of
    # the new catalog would format every record on every request.
    from click.testing import CliRunner

    from harvester.cli import cli

    source = str(tmp_path / "source.db")
    with open_store(source) as store:
        records = load(store)
    result = CliRunner().invoke(cli, ["--db", source, "copy-catalog", source, url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"rendered {len(records)}")
    with open_store(source, mode="read") as src, open_store(url) as copy:
        for fmt in STORED:
            stored = rendered_rows(copy, fmt)
            assert None not in stored.values() and stored == rendered_rows(src, fmt), fmt
        assert copy.fill_renderings() == 0  # nothing left to render
