"""The Static Repository file (`harvester feed`).

Every file is validated whole against the official static-repository.xsd (with its
restricted OAI-PMH-static-repository.xsd and the oai_dc, MODS and MARCXML schemas,
tests/schemas); the restrictions are also asserted directly, and each embedded part is
validated against OAI-PMH.xsd as the gateway will serve it.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from click.testing import CliRunner
from lxml import etree

from catalog.oai.static import write_static_repository
from harvester.cli import cli
from tests.oai.catalog_builder import build_catalog
from tests.oai.expected import expected_catalog
from tests.support.schemas import oai_pmh_schema, static_repository_schema

SR = "http://www.openarchives.org/OAI/2.0/static-repository"
OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {"sr": SR, "oai": OAI}


def _wrapped_valid(part: etree._Element, verb: str) -> None:
    root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI})
    etree.SubElement(root, f"{{{OAI}}}responseDate").text = "2026-01-01T00:00:00Z"
    etree.SubElement(root, f"{{{OAI}}}request", verb=verb).text = "http://gateway.example.org/oai/x.xml"
    body = etree.SubElement(root, f"{{{OAI}}}{verb}")
    for child in part:
        body.append(copy.deepcopy(child))
    oai_pmh_schema().validate(etree.fromstring(etree.tostring(root)))


def test_static_repository_structure_and_embedded_records(tmp_path: Path) -> None:
    store, deleted = build_catalog(tmp_path / "c.db", n=60)
    out = tmp_path / "feed" / "wcda.xml"
    result = write_static_repository(
        store, out, repository_name="WCDA", repository_identifier="digitalarchive.wilsoncenter.org",
        admin_email="cataloguer@example.org", base_url="http://gateway.example.org/oai/example.org/wcda.xml",
    )
    static_repository_schema().validate(etree.parse(str(out)))
    doc = etree.parse(str(out)).getroot()
    assert doc.tag == f"{{{SR}}}Repository"
    assert [etree.QName(c).localname for c in doc] == ["Identify", "ListMetadataFormats", "ListRecords"]
    identify = doc.find("sr:Identify", NS)
    assert identify.findtext("oai:granularity", namespaces=NS) == "YYYY-MM-DD"
    assert identify.findtext("oai:deletedRecord", namespaces=NS) == "no"
    assert identify.find("oai:compression", NS) is None
    lr = doc.find("sr:ListRecords", NS)
    assert lr.get("metadataPrefix") == "oai_dc"
    assert lr.find("oai:resumptionToken", NS) is None
    # Restricted headers: day datestamps, no setSpec, no status; every record has metadata.
    records = lr.findall("oai:record", NS)
    assert len(records) == result.count == 60 - len(deleted)
    for rec in records:
        header = rec.find("oai:header", NS)
        assert header.get("status") is None and header.find("oai:setSpec", NS) is None
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", header.findtext("oai:datestamp", namespaces=NS))
        assert rec.find("oai:metadata", NS) is not None
    # Same oai_dc metadata as the live endpoint serves, for exactly the live records.
    expected = {k: v for k, v in expected_catalog(store).items() if not v.deleted}
    got = {}
    for rec in records:
        dc: dict[str, list[str]] = {}
        for child in rec.find("oai:metadata", NS)[0]:
            dc.setdefault(etree.QName(child).localname, []).append(child.text)
        got[rec.findtext("oai:header/oai:identifier", namespaces=NS)] = dc
    assert got == {k: v.dc for k, v in expected.items()}
    for part, verb in (("sr:Identify", "Identify"), ("sr:ListMetadataFormats", "ListMetadataFormats"),
                       ("sr:ListRecords", "ListRecords")):
        _wrapped_valid(doc.find(part, NS), verb)
    assert not list(out.parent.glob(".*.tmp"))  # the temp file was renamed, not left behind
    store.close()


def test_feed_command_writes_the_file(tmp_path: Path) -> None:
    store, _ = build_catalog(tmp_path / "c.db", n=12)
    store.close()
    out = tmp_path / "static.xml"
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "c.db"), "feed", "--out", str(out),
                                      "--base-url", "http://gateway.example.org/oai/example.org/static.xml"],
                                env={"WCDA_OAI__REPOSITORY_IDENTIFIER": "oai.example.org"})
    assert result.exit_code == 0, result.output
    assert "wrote 10 records" in result.output
    doc = etree.parse(str(out)).getroot()
    assert doc.findtext("sr:Identify/oai:baseURL", namespaces=NS) == "http://gateway.example.org/oai/example.org/static.xml"


def test_serve_command_starts_waitress_on_loopback(tmp_path: Path) -> None:
    """`harvester serve` itself (a subprocess, stopped by its own pid)."""
    import socket
    import subprocess
    import sys
    import time

    import requests

    store, _ = build_catalog(tmp_path / "c.db", n=5)
    store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "harvester", "--db", str(tmp_path / "c.db"), "serve", "--port", str(port)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/oai", params={"verb": "Identify"}, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not start")
        assert resp.status_code == 200
        doc = etree.fromstring(resp.content)
        assert doc.findtext(".//oai:baseURL", namespaces=NS) == f"http://127.0.0.1:{port}/oai"
        oai_pmh_schema().validate(doc)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reads and closes the pipe (an open one is a ResourceWarning)


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    import socket

    store, _ = build_catalog(tmp_path / "c.db", n=2)
    store.close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port), "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 1
    lines = [line for line in result.output.strip().splitlines() if not line.startswith("note:")]
    assert lines == [f"Error: port {port} on 127.0.0.1 is already in use (another server is listening there); "
                     "choose another with --port (or oai.port in config.toml)"]


def _feed(tmp_path: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--db", str(tmp_path / "c.db"), "feed", "--out", str(tmp_path / "s.xml"), *args],
                              env={"WCDA_OAI__REPOSITORY_IDENTIFIER": "oai.example.org", **(env or {})})


def test_feed_requires_a_public_base_url_and_an_identifier(tmp_path: Path) -> None:
    build_catalog(tmp_path / "c.db", n=5)[0].close()
    result = _feed(tmp_path)
    assert result.exit_code == 2 and "--base-url" in result.output and "Traceback" not in result.output
    result = _feed(tmp_path, "--base-url", "file:///tmp/x.xml")
    assert result.exit_code == 2 and "not an http(s) URL" in result.output
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "c.db"), "feed", "--out", str(tmp_path / "s.xml"),
                                      "--base-url", "http://gw.example.org/oai/x.xml"])
    assert result.exit_code == 1 and "oai.repository_identifier" in result.output
    assert not (tmp_path / "s.xml").exists()


def test_feed_file_is_readable_as_the_umask_allows(tmp_path: Path) -> None:
    import os
    import stat

    build_catalog(tmp_path / "c.db", n=5)[0].close()
    for mask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        (tmp_path / "s.xml").unlink(missing_ok=True)  # a replaced file keeps its own mode
        old = os.umask(mask)
        try:
            result = _feed(tmp_path, "--base-url", "http://gw.example.org/oai/x.xml")
        finally:
            os.umask(old)
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE((tmp_path / "s.xml").stat().st_mode) == mode


def test_feed_with_mods_and_marcxml_validates(tmp_path: Path) -> None:
    build_catalog(tmp_path / "c.db", n=8)[0].close()
    result = _feed(tmp_path, "--base-url", "http://gw.example.org/oai/x.xml", "--format", "oai_dc",
                   "--format", "mods", "--format", "marcxml")
    assert result.exit_code == 0, result.output
    static_repository_schema().validate(etree.parse(str(tmp_path / "s.xml")))
    doc = etree.parse(str(tmp_path / "s.xml")).getroot()
    assert [lr.get("metadataPrefix") for lr in doc.findall("sr:ListRecords", NS)] == ["oai_dc", "mods", "marcxml"]
    assert [f.findtext("oai:metadataPrefix", namespaces=NS)
            for f in doc.findall("sr:ListMetadataFormats/oai:metadataFormat", NS)] == ["oai_dc", "mods", "marcxml"]
    result = _feed(tmp_path, "--base-url", "http://gw.example.org/oai/x.xml", "--format", "oai_qdc")
    assert result.exit_code == 2 and "oai_qdc" in result.output


def test_a_catalog_over_the_limit_is_refused_and_can_be_split_per_set(tmp_path: Path) -> None:
    store, _ = build_catalog(tmp_path / "c.db", n=30)
    out = tmp_path / "big.xml"
    args = dict(repository_name="WCDA", repository_identifier="oai.example.org", admin_email="a@example.org",
                base_url="http://gw.example.org/oai/big.xml")
    import pytest

    from catalog.errors import ExportError

    with pytest.raises(ExportError, match=r"at most 10 per Static Repository file.*--set.*harvester serve"):
        write_static_repository(store, out, max_records=10, **args)  # type: ignore[arg-type]
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    from catalog.oai.sets import PARENTS

    # The set with the most live records that still fits (sets are the store's facet index).
    live = {f.key: set(store.record_ids(include_deleted=False, facet=f.key))
            for f in store.facet_page(tuple(PARENTS), None, 10_000)}
    spec = max((k for k, ids in live.items() if 1 <= len(ids) <= 10), key=lambda k: (len(live[k]), k))
    result = write_static_repository(store, out, max_records=10, set_spec=spec, **args)  # type: ignore[arg-type]
    static_repository_schema().validate(etree.parse(str(out)))
    members = live[spec]
    got = {int(i.rsplit(":", 1)[1]) for i in etree.parse(str(out)).getroot().xpath(
        "//oai:header/oai:identifier/text()", namespaces=NS)}
    assert got == members and result.count == len(members)
    store.close()
