"""`harvester serve` on the quick-start catalog: the web catalog at / beside /oai, one process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from lxml import html

from harvester.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a replay harvest of every fixture document, then a server process
def test_serve_shows_the_web_catalog_beside_oai(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    harvest = CliRunner().invoke(cli, ["--db", str(db), "harvest", "--replay", str(ROOT / "fixtures/warc/documents")])
    assert harvest.exit_code == 0, harvest.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "harvester", "--db", str(db), "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(100):
                try:
                    home = client.get("/")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            else:
                raise AssertionError("server did not start")
            assert home.status_code == 200 and home.headers["content-type"] == "text/html; charset=utf-8"
            doc = html.fromstring(home.text)
            assert "of 21" in doc.get_element_by_id("results-summary").text_content()
            assert client.get("/records/175798").status_code == 200
            assert client.get("/changes").status_code == 200
            assert client.get("/api/search", params={"q": "Kohl"}).json()["total"] >= 1
            identify = client.get("/oai", params={"verb": "Identify"})
            assert identify.status_code == 200 and b"<baseURL>http://127.0.0.1:" in identify.content
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"Web catalog at http://127.0.0.1:{port}/" in out
