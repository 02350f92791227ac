"""`harvester check-site` against a loopback server that serves the known documents.

The server plays the recorded fixture pages of the 12 documents whose live values are known
(175798 and the 11 CSV rows); they were built from the same values, so every field matches. A
changed summary, a missing page and a missing contact address are then seen as such.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harvester.cli import cli
from harvester.site.check import known_documents
from harvester.warc import WarcIndex
from tests.harvest.conftest import warc_for
from tests.support.archive_server import Answer, ArchiveServer
from tests.support.fixture_site import answers_from

KNOWN_IDS = sorted(int(d["record_id"]) for d in known_documents())


def config_for(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[archive]\nbase_url = "{base_url}"\n[http]\nrate_limit = 1000.0\nmax_retries = 0\n'
                    f'[storage]\ndatabase = "{tmp_path / "catalog.db"}"\nwarc_dir = "{tmp_path / "warc"}"\n',
                    encoding="utf-8")
    return path


def serve_known(site: ArchiveServer) -> None:
    for rid in KNOWN_IDS:
        answers_from(warc_for(rid), site)


def test_the_known_documents_are_175798_and_the_eleven_csv_rows() -> None:
    assert KNOWN_IDS == sorted([175798, 300653, 300641, 300640, 300639, 300638, 300242, 300241, 300240, 300239,
                                300238, 300237])


def test_every_field_matches_and_the_pages_are_kept(tmp_path: Path) -> None:
    with ArchiveServer() as site:
        serve_known(site)
        result = CliRunner().invoke(cli, ["--config", str(config_for(tmp_path, site.base_url)), "check-site",
                                          "--contact", "mailto:ops@example.org"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["record", "field", "result", "alternative"]
    rows = [line.split() for line in lines[1:]
            if line.strip() and line.split()[0].isdigit() and "document(s)," not in line]
    assert {int(r[0]) for r in rows} == set(KNOWN_IDS)
    assert {r[2] for r in rows} == {"match"}
    summary = next(line for line in lines if line.startswith("12 document(s)"))
    assert " 0 differ, 0 missing" in summary
    assert any(r[1] == "summary" and r[3] == "#1" and r[4] == ".text-block@block" for r in rows)
    warc = next(line for line in lines if line.startswith("pages kept in ")).removeprefix("pages kept in ")
    kept = WarcIndex(warc)
    assert f"{site.base_url}/document/175798" in kept.urls() and len(kept.urls()) == 24  # each ID: 301 and page


def test_a_changed_field_and_a_missing_page_fail_the_check(tmp_path: Path) -> None:
    with ArchiveServer() as site:
        serve_known(site)
        index = WarcIndex(warc_for(300641))
        page_url = next(u for u in index.urls() if index.get(u).status == 200)
        body = index.get(page_url).body.replace(b"The Japanese Foreign Ministry provides",
                                                b"The Japanese Foreign Office provides")
        site.route(page_url.split("digitalarchive.wilsoncenter.org", 1)[1], Answer(200, body))
        site.route("/document/300653", Answer(404, b"<html><title>Page not found</title></html>"))
        out = tmp_path / "check.warc.gz"
        result = CliRunner().invoke(cli, ["--config", str(config_for(tmp_path, site.base_url)), "check-site",
                                          "300641", "300653", "175798", "--contact", "ops@example.org",
                                          "--out", str(out)])
    assert result.exit_code == 1, result.output
    rows = [line for line in result.stdout.splitlines() if line.strip()[:6].isdigit()]
    summary_row = next(r for r in rows if r.split()[:2] == ["300641", "summary"])
    assert summary_row.split()[2] == "differs" and "Foreign Office" in summary_row
    assert all(r.split()[2] == "missing" and "not found" in r for r in rows if r.startswith("  300653"))
    assert all(r.split()[2] == "match" for r in rows if r.split()[0] == "175798")
    assert out.exists()


def test_a_contact_address_is_required(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config_for(tmp_path, "http://127.0.0.1:9")), "check-site"])
    assert result.exit_code == 2
    assert "--contact" in result.output
    assert not (tmp_path / "warc").exists()  # nothing was fetched or written
