"""Formatting in worker processes must write exactly what the serial export writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.export.parallel import BATCH, formatted
from catalog.export.registry import FORMATS, writer_for
from catalog.store import SQLiteStore
from tests.export.records import fixture_records, hard_record

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    base = [*fixture_records(), hard_record()]
    store = SQLiteStore(tmp_path_factory.mktemp("par") / "c.db")
    with store.transaction():
        for i in range(BATCH * 3 + 7):  # several batches and a partial one
            rec = base[i % len(base)].model_copy(update={"record_id": 500_000 + i})
            store.upsert(rec, now=T0 + timedelta(seconds=i))
    for i in (3, BATCH, BATCH * 2 + 1):
        store.tombstone(500_000 + i, now=T0)
    yield store
    store.close()


@pytest.fixture(scope="module")
def plain_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    """One full batch and a partial one (so `--jobs 2` starts the pool), stored without renderings:
    every record is then formatted by the workers, and the build skips the rendering that makes
    `catalog` above cost ~14 s (which keeps the tests that need it in the slow set)."""
    base = [*fixture_records(), hard_record()]
    store = SQLiteStore(tmp_path_factory.mktemp("plain") / "c.db")
    with pytest.MonkeyPatch.context() as mp, store.transaction():
        mp.setattr("catalog.export.rendered.renderings", lambda record, options=None: [])
        for i in range(BATCH + 7):
            rec = base[i % len(base)].model_copy(update={"record_id": 500_000 + i})
            store.upsert(rec, now=T0 + timedelta(seconds=i))
    yield store
    store.close()


def export(store: SQLiteStore, fmt: str, jobs: int) -> tuple[str, list[int]]:
    skipped: list[int] = []
    writer = writer_for(fmt, on_skip=lambda stored, reason: skipped.append(stored.record.record_id))
    rows = store.iter_raw(brief=not writer.needs_text)
    text = writer.header() + "".join(formatted(fmt, writer, rows, jobs=jobs)) + writer.footer()
    return text, skipped


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_workers_write_what_the_serial_export_writes(catalog: SQLiteStore, fmt: str) -> None:
    serial, serial_skips = export(catalog, fmt, 1)
    parallel, parallel_skips = export(catalog, fmt, 2)
    assert parallel == serial
    assert parallel_skips == serial_skips
    if writer_for(fmt).skips_deleted:
        assert serial_skips == [500_003, 500_000 + BATCH, 500_000 + BATCH * 2 + 1]


def test_small_exports_stay_in_process(plain_catalog: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_context", lambda *a: pytest.fail("a pool for a small export"))
    writer = writer_for("oai_dc")
    rows = plain_catalog.iter_raw(ids=[500_001, 500_002], brief=True)
    text = "".join(formatted("oai_dc", writer, rows, jobs=2))  # written in batches, not a string a record
    assert [text.count(f'id="{i}"') for i in (500_001, 500_002)] == [1, 1]


def test_cli_jobs_option(plain_catalog: SQLiteStore, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harvester.cli import cli

    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.json"
        result = CliRunner().invoke(cli, ["--db", str(plain_catalog.path), "export", "csl-json", "--jobs", jobs,
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["oai_dc", "csl-json", "marcxml"])
def test_stored_renderings_mixed_with_records_formatted_in_workers(catalog: SQLiteStore, fmt: str) -> None:
    """Rows with a current stored rendering are framed by the parent, the others formatted by the
    workers: the file is still the serial, fresh one."""
    from catalog.export.rendered import render_key

    with catalog.transaction():  # some records lose their renderings (the first batch included)
        catalog.connection.execute("DELETE FROM record_rendered WHERE record_id % 7 = 0")
    writer = writer_for(fmt)
    key = (fmt, render_key(FORMATS[fmt], writer.options))

    def run(jobs: int, rendered: tuple[str, str] | None) -> str:
        w = writer_for(fmt)
        rows = catalog.iter_raw(brief=True, rendered=rendered)
        return w.header() + "".join(formatted(fmt, w, rows, jobs=jobs)) + w.footer()

    fresh = run(1, None)
    assert run(2, key) == fresh
    assert run(1, key) == fresh


@pytest.mark.slow  # the 1,507-record catalog (~14 s); tests/store/test_rendered.py checks exports with renderings
def test_rendered_rows_are_the_rows_asked_for(catalog: SQLiteStore) -> None:
    """`iter_raw(rendered=...)` reads narrow rows and the records only where needed: the same rows,
    filters and columns for every row that is not framed from its rendering."""
    from catalog.export.rendered import render_key

    with catalog.transaction():  # some records without a current rendering
        catalog.connection.execute("DELETE FROM record_rendered WHERE record_id % 5 = 0")
    key = ("oai_dc", render_key(FORMATS["oai_dc"]))
    since = T0 + timedelta(seconds=BATCH)
    for kwargs in [{}, {"changed_since": since}, {"include_deleted": False}, {"batch_size": 7}]:
        plain = list(catalog.iter_raw(brief=True, **kwargs))  # type: ignore[arg-type]
        rendered = list(catalog.iter_raw(brief=True, rendered=key, **kwargs))  # type: ignore[arg-type]
        assert [r.record_id for r in rendered] == [r.record_id for r in plain]
        for got, want in zip(rendered, plain, strict=True):
            if got.rendered is None or got.deleted:
                assert (got.json, got.content_hash, got.last_changed, got.deleted_at) == (
                    want.json, want.content_hash, want.last_changed, want.deleted_at)
            else:
                assert got.json == "" and got.rendered.startswith("<oai_dc:dc")
        assert any(r.rendered is None for r in rendered) and any(r.rendered for r in rendered)
