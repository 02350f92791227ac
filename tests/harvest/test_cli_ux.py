"""The command line as a librarian meets it: ID lists, exit codes, Ctrl-C, an unreachable archive,
reparse after the quick start, record, list, progress on a terminal, file modes, Excel CSV."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from catalog.store import SQLiteStore
from harvester.cli import cli, hoist_group_options
from harvester.idlist import Entry, IdListError, entries_from_file, record_id_of
from harvester.warc import WarcIndex, warc_files, warcinfo_text
from tests.harvest.conftest import DOCUMENT_IDS, warc_for
from tests.support.archive_server import Answer, ArchiveServer
from tests.support.fixture_site import answers_from

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "warc" / "documents"
SLUG_175798 = "cable-no-4785-filippov-stalin-and-zhou-enlai-soviet-ambassador-peking"


def invoke(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    base = {"WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc"), "WCDA_ARCHIVE__CONTACT": "mailto:t@example.org"}
    return CliRunner().invoke(cli, ["--db", str(tmp_path / "catalog.db"), *args], env={**base, **(env or {})},
                              catch_exceptions=False)


def events(tmp_path: Path) -> list[tuple[int, str]]:
    with SQLiteStore(tmp_path / "catalog.db") as store:
        return [(row.record_id, row.outcome) for row in store.events()]


# -- --ids-file -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n   # still nothing\n", "\ufeff# only a BOM and a note\n"])
def test_empty_ids_file_is_nothing_to_do(tmp_path: Path, text: str) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(text, encoding="utf-8")
    replayed = invoke(tmp_path, "harvest", "--ids-file", str(ids), "--replay", str(FIXTURES))
    live = invoke(tmp_path, "harvest", "--ids-file", str(ids))
    for result in (replayed, live):
        assert result.exit_code == 0, result.output
        assert f"nothing to do: {ids} lists no Record IDs" in result.output
        assert "harvested" not in result.output
    assert not (tmp_path / "catalog.db").exists() or SQLiteStore(tmp_path / "catalog.db").count() == 0


def test_ids_file_takes_bom_inline_comments_urls_and_catalog_slugs(tmp_path: Path) -> None:
    first = invoke(tmp_path, "harvest", "175798", "--replay", str(warc_for(175798)))
    assert first.exit_code == 0, first.output
    ids = tmp_path / "ids.txt"
    ids.write_bytes("\ufeff300237  # Kohl\r\n"
                    "https://digitalarchive.wilsoncenter.org/document/300238\r\n"
                    "https://digitalarchive.wilsoncenter.org/document/300239/\n"
                    f"https://digitalarchive.wilsoncenter.org/document/{SLUG_175798}\n"
                    f"{SLUG_175798}   # the same record again: once is enough\n".encode())
    result = invoke(tmp_path, "harvest", "--ids-file", str(ids), "--replay", str(FIXTURES))
    assert result.exit_code == 0, result.output
    assert "harvested 3 (new 3" in result.output and "unchanged 1" in result.output


@pytest.mark.parametrize(("line", "message"), [
    ("17x5798", "not a Record ID: '17x5798'"),
    ("https://digitalarchive.wilsoncenter.org/search?q=kohl", "not a document URL"),
    ("some-unknown-slug", "no record in the catalog has the slug 'some-unknown-slug'"),
    ("0", "positive whole numbers"),
])
def test_bad_ids_file_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# list\n175798\n{line}  # third line\n", encoding="utf-8")
    result = invoke(tmp_path, "harvest", "--ids-file", str(ids), "--replay", str(FIXTURES))
    assert result.exit_code == 2
    assert f"{ids}:3: " in result.output and message in result.output
    assert "Traceback" not in result.output


def test_ids_file_not_utf8_names_the_line(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"175798\n300237 # K\xf6hl\n")
    with pytest.raises(IdListError, match=r"ids.txt:2: not UTF-8"):
        entries_from_file(ids)


def test_record_id_forms() -> None:
    where = "x:1"
    assert record_id_of(Entry("175798", where)) == 175798
    assert record_id_of(Entry("/document/175798", where)) == 175798
    assert record_id_of(Entry("https://digitalarchive.wilsoncenter.org/document/175798.pdf?v=abc", where)) == 175798
    assert record_id_of(Entry("https://digitalarchive.wilsoncenter.org/document/175798#tab", where)) == 175798
    assert record_id_of(Entry("a-slug", where), {"a-slug": 7}.get) == 7
    with pytest.raises(IdListError, match="x:1: not a Record ID"):
        record_id_of(Entry("١٢٣", where))


# -- exit codes -----------------------------------------------------------------------------
def test_requested_id_not_in_the_archive_fails_unless_allowed(tmp_path: Path) -> None:
    missing = invoke(tmp_path, "harvest", "999404", "--replay", str(warc_for(999404)))
    assert missing.exit_code == 1, missing.output
    assert "999404: not_found" in missing.output and "--allow-missing" in missing.output
    allowed = invoke(tmp_path, "harvest", "999404", "--replay", str(warc_for(999404)), "--allow-missing")
    assert allowed.exit_code == 0, allowed.output
    assert "not found 1" in allowed.output
    whole = invoke(tmp_path, "harvest", "--replay", str(warc_for(999404)))  # no ID asked for: none missing
    assert whole.exit_code == 0 and "not found 1" in whole.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_archive_stops_after_a_few_ids(tmp_path: Path) -> None:
    env = {"WCDA_ARCHIVE__BASE_URL": f"http://127.0.0.1:{_free_port()}", "WCDA_HTTP__RATE_LIMIT": "1000",
           "WCDA_HTTP__MAX_RETRIES": "1", "WCDA_HTTP__BACKOFF_BASE": "0.01", "WCDA_HTTP__CONCURRENCY": "1"}
    ids = [str(i) for i in range(300001, 300021)]
    began = time.monotonic()
    result = invoke(tmp_path, "harvest", *ids, env=env)
    assert time.monotonic() - began < 30
    assert result.exit_code == 2, result.output
    assert "archive unreachable" in result.output and "3 IDs in a row could not connect" in result.output
    counts = re.search(r"failed (\d+), blocked 0, not attempted (\d+)", result.output)
    assert counts is not None, result.output
    failed, left = int(counts.group(1)), int(counts.group(2))
    assert 3 <= failed <= 4 and failed + left == 20  # at most the one already in flight after the third
    assert "raw responses kept" not in result.output
    assert not (tmp_path / "warc").exists() or warc_files(tmp_path / "warc") == []  # no empty WARC left
    # one line says why the rest was not attempted, not seventeen
    assert result.output.count("not_attempted") == 0


@pytest.mark.slow
def test_ctrl_c_prints_the_partial_summary_and_exits_130(tmp_path: Path) -> None:
    with ArchiveServer() as site:
        for rid in range(1, 41):
            site.route(f"/document/{rid}", Answer(404, b"<html>gone</html>", delay=0.15))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WCDA_ARCHIVE__BASE_URL": site.base_url,
               "WCDA_ARCHIVE__CONTACT": "mailto:t@example.org", "WCDA_HTTP__RATE_LIMIT": "1000",
               "WCDA_HTTP__CONCURRENCY": "1", "WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "harvester", "--db", str(tmp_path / "c.db"), "harvest",
             *[str(i) for i in range(1, 41)]],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 30
        while len([s for s in site.seen if s.path.startswith("/document/")]) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Aborted!" not in err and "Traceback" not in err
    assert "harvested 0" in out and "not attempted" in out
    assert "interrupted:" in err and "ID(s) not attempted" in err
    assert "raw responses kept in" in out
    kept = warc_files(tmp_path / "warc")
    assert len(kept) == 1 and len(WarcIndex(kept[0])) >= 1


# -- reparse --------------------------------------------------------------------------------
def test_reparse_right_after_the_quick_start(tmp_path: Path) -> None:
    quick = invoke(tmp_path, "harvest", "--replay", str(FIXTURES))
    assert quick.exit_code == 0, quick.output
    before = events(tmp_path)
    assert not (tmp_path / "warc").exists()  # a replay writes no WARC of its own
    result = invoke(tmp_path, "reparse")
    assert result.exit_code == 0, result.output
    assert f"unchanged {len(list(FIXTURES.iterdir()))}" in result.output
    after = events(tmp_path)
    assert {o for _, o in after[len(before):]} == {"unchanged"}


def test_reparse_with_other_recordings_reads_each_record_from_its_own(tmp_path: Path) -> None:
    invoke(tmp_path, "harvest", "175798", "300237", "--replay", str(FIXTURES))
    # storage.warc_dir holds another recording (as a live harvest leaves one): of a record not yet
    # in the catalog, and not of the replayed ones.
    (tmp_path / "warc").mkdir()
    (tmp_path / "warc" / "harvest-20260101T000000-1.warc.gz").write_bytes(warc_for(300641).read_bytes())
    result = invoke(tmp_path, "reparse")
    assert result.exit_code == 0, result.output
    assert "new 1" in result.output and "unchanged 2" in result.output and "failed 0" in result.output
    assert not [e for e in events(tmp_path) if e[1] in {"failed", "not_attempted"}]
    with SQLiteStore(tmp_path / "catalog.db") as store:
        assert store.record_ids() == [175798, 300237, 300641]


def test_failed_reparse_writes_nothing_into_histories(tmp_path: Path) -> None:
    invoke(tmp_path, "harvest", "175798", "--replay", str(warc_for(175798)))
    before = events(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.warc.gz").write_bytes(b"not a warc file at all")  # warcio takes it for an empty ARC
    result = invoke(tmp_path, "reparse", "--replay", str(broken))
    assert result.exit_code == 1 and "no readable WARC files" in result.output and "x.warc.gz" in result.output
    assert events(tmp_path) == before
    (broken / "x.warc.gz").write_bytes(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n\r\nxx"))
    damaged = invoke(tmp_path, "reparse", "--replay", str(broken))
    assert damaged.exit_code == 1 and "not a readable WARC file" in damaged.output
    assert "Traceback" not in damaged.output
    assert events(tmp_path) == before
    (tmp_path / "empty").mkdir()
    nothing = invoke(tmp_path, "reparse", "--replay", str(tmp_path / "empty"))
    assert nothing.exit_code == 1 and "no WARC files" in nothing.output
    assert events(tmp_path) == before


# -- record ---------------------------------------------------------------------------------
def test_record_replaces_a_fixture_and_never_keeps_reconstructed_warcinfo(tmp_path: Path) -> None:
    out = tmp_path / "doc-175798.warc.gz"
    out.write_bytes(warc_for(175798).read_bytes())
    assert "RECONSTRUCTED" in warcinfo_text(out)
    with ArchiveServer() as site:
        answers_from(warc_for(175798), site)
        env = {"WCDA_ARCHIVE__BASE_URL": site.base_url, "WCDA_HTTP__RATE_LIMIT": "100"}
        refused = invoke(tmp_path, "record", "175798", "--out", str(out), "--append", env=env)
        assert refused.exit_code == 2 and "reconstructed fixture" in refused.output
        assert "RECONSTRUCTED" in warcinfo_text(out)  # untouched
        replaced = invoke(tmp_path, "record", "175798", "--out", str(out), env=env)
        assert replaced.exit_code == 0, replaced.output
        info = warcinfo_text(out)
        assert "RECONSTRUCTED" not in info and "wcda-harvester/" in info
        index = WarcIndex(out)
        assert len(index) == 2 and all(url.startswith(site.base_url) for url in index.urls())
        appended = invoke(tmp_path, "record", "175798", "--out", str(out), "--append", env=env)
        assert appended.exit_code == 0, appended.output
    with open(out, "rb") as fh:
        from warcio.archiveiterator import ArchiveIterator

        types = [r.rec_type for r in ArchiveIterator(fh)]
    assert types.count("warcinfo") == 1 and types.count("response") == 4
    assert not list(tmp_path.glob(".part-*"))


# -- options and list -----------------------------------------------------------------------
def test_group_options_after_the_command(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    harvested = CliRunner().invoke(cli, ["harvest", "175798", "--replay", str(warc_for(175798)), "--db", str(db)])
    assert harvested.exit_code == 0, harvested.output
    listed = CliRunner().invoke(cli, ["list", "--db", str(db)])
    assert listed.exit_code == 0 and "175798" in listed.output
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\ndatabase = "{db}"\n')
    assert "175798" in CliRunner().invoke(cli, ["list", f"--config={config}"]).output
    assert hoist_group_options(["export", "csv", "--", "--db"]) == ["export", "csv", "--", "--db"]


def test_list_formats_and_filters(tmp_path: Path) -> None:
    invoke(tmp_path, "harvest", "--replay", str(FIXTURES))
    as_json = json.loads(_stdout(tmp_path, "list", "--format", "json", "--language", "ru"))
    assert 175798 in [r["record_id"] for r in as_json]
    assert all("rus" in r["languages"] for r in as_json)
    rows = list(csv.DictReader(io.StringIO(_stdout(tmp_path, "list", "--format", "csv", "--type", "Cable"))))
    assert rows and all("Cable" in r["types"] for r in rows)
    assert _stdout(tmp_path, "list", "--changed-since", "2999-01-01") == ""


def _stdout(tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "catalog.db"), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_goes_on_past_an_unreadable_record(tmp_path: Path) -> None:
    invoke(tmp_path, "harvest", "175798", "300237", "300238", "--replay", str(FIXTURES))
    with SQLiteStore(tmp_path / "catalog.db") as store:
        store.connection.execute("UPDATE record SET brief = '{\"record_id\": \"broken\"}' WHERE record_id = 300237")
        store.connection.commit()
    result = invoke(tmp_path, "list")
    assert result.exit_code == 1
    assert "175798" in result.output and "300238" in result.output
    assert "300237  unreadable record" in result.output and "1 unreadable: 300237" in result.output
    assert "Traceback" not in result.output and "pydantic" not in result.output.lower()


# -- progress, file modes, Excel ------------------------------------------------------------
@pytest.mark.slow
def test_progress_on_a_terminal_and_quiet_in_cron(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc")}
    cmd = [sys.executable, "-m", "harvester", "--db", str(tmp_path / "c.db"), "harvest", "--replay", str(FIXTURES)]
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=30)
    os.close(master)
    assert proc.stdout is not None
    proc.stdout.close()
    total = len(DOCUMENT_IDS)
    text = seen.decode("utf-8", "replace")
    assert f"harvesting {total}/{total}: new {total}" in text and "/s; latest " in text
    cron = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert cron.returncode == 0 and "harvesting" not in cron.stderr and "\r" not in cron.stderr


def test_out_files_respect_the_umask(tmp_path: Path) -> None:
    invoke(tmp_path, "harvest", "175798", "--replay", str(warc_for(175798)))
    old = os.umask(0o022)
    try:
        feed = ["feed", "--base-url", "http://gw.example.org/oai/feed.xml"]
        for args, name in ((["export", "csv"], "a.csv"), (feed, "feed.xml"), (["show", "175798", "--json"],
                                                                              "r.json")):
            target = tmp_path / name
            option = [f"--json={target}"] if args[0] == "show" else ["--out", str(target)]
            result = invoke(tmp_path, *(args[:2] if args[0] == "show" else args), *option,
                            env={"WCDA_OAI__REPOSITORY_IDENTIFIER": "oai.example.org"})
            assert result.exit_code == 0, result.output
            assert target.stat().st_mode & 0o777 == 0o644, name
        os.umask(0o077)
        target = tmp_path / "private.csv"
        invoke(tmp_path, "export", "csv", "--out", str(target))
        assert target.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_csv_for_excel_has_a_bom_and_crlf(tmp_path: Path) -> None:
    invoke(tmp_path, "harvest", "175798", "--replay", str(warc_for(175798)))
    plain, excel = tmp_path / "p.csv", tmp_path / "e.csv"
    invoke(tmp_path, "export", "csv", "--out", str(plain))
    invoke(tmp_path, "export", "csv", "--excel", "--out", str(excel))
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    data = excel.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data[3:] == plain.read_bytes()
    assert data.endswith(b"\r\n") and data.split(b"\r\n", 1)[0].endswith(b"credit_line,url,last_changed,deleted_at") \
        or data.count(b"\r\n") >= 2  # records end in CRLF; a line break inside a quoted field stays as written
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0]["record_id"] == "175798"
    refused = invoke(tmp_path, "export", "ris", "--excel")
    assert refused.exit_code == 2 and "--excel is for the csv format only" in refused.output
