"""The reconstructed fixtures are sound: reproducible, readable by our own WARC reader,
and internally consistent (each legacy URL redirects to a page showing its title).

These check the fixtures, not the parser: the expected records are compared with the
source rules and the model, never with parser output.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import urljoin

import pytest
from bs4 import BeautifulSoup

from catalog.model import CatalogRecord
from harvester.warc import WarcIndex, iter_responses, warc_files

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
BUILD = FIXTURES / "build.py"
EXPECTED = sorted(p for p in (FIXTURES / "expected").glob("*.json") if p.stem.isdigit())
SCENARIOS: dict[str,
                dict[str, object]] = json.loads((FIXTURES / "expected" / "scenarios.json").read_text())["scenarios"]


def _load_build() -> ModuleType:
    # fixtures/ is not a package; load the generator by path to reuse its rules.
    spec = importlib.util.spec_from_file_location("fixtures_build", BUILD)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _responses(folder: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every response per WARC file, decoded: what must be identical between two builds
    (record ids and the warcinfo date are random/wall-clock, so the .gz bytes are not)."""
    return {
        f.name: [(r.url, r.status, r.reason, r.headers, r.body, r.fetched_at) for r in iter_responses([f])]
        for f in warc_files(folder)
    }


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fixtures")
    subprocess.run([sys.executable, str(BUILD), "--out", str(out)], check=True, cwd=tmp_path_factory.getbasetemp())
    return out


def test_build_regenerates_identical_expected_files(rebuilt: Path) -> None:
    committed = {p.name: p.read_bytes() for p in (FIXTURES / "expected").glob("*.json")}
    fresh = {p.name: p.read_bytes() for p in (rebuilt / "expected").glob("*.json")}
    assert sorted(fresh) == sorted(committed)
    for name, content in committed.items():
        assert fresh[name] == content, f"expected/{name} differs from a fresh build: rerun fixtures/build.py"


def test_build_regenerates_identical_warc_contents(rebuilt: Path) -> None:
    committed, fresh = _responses(FIXTURES / "warc"), _responses(rebuilt / "warc")
    assert sorted(fresh) == sorted(committed)
    for name, responses in committed.items():
        assert fresh[name] == responses, f"warc/{name} differs from a fresh build: rerun fixtures/build.py"


@pytest.mark.parametrize("warc", warc_files(FIXTURES / "warc"), ids=lambda p: p.name)
def test_every_warc_opens_with_the_index(warc: Path) -> None:
    index = WarcIndex(warc)
    assert len(index) >= 1
    for url in index.urls():
        response = index.get(url)
        assert response.status in {200, 301, 403, 404, 410, 429, 503}
        assert response.header("Server") == "cloudflare"
        assert response.body, url


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_legacy_url_redirects_to_a_page_with_the_title(path: Path) -> None:
    expected = json.loads(path.read_text(encoding="utf-8"))
    index = WarcIndex(FIXTURES / "warc" / "documents" / f"doc-{path.stem}.warc.gz")
    legacy = index.get(f"https://digitalarchive.wilsoncenter.org/document/{path.stem}")
    assert legacy.status == 301
    final = urljoin(legacy.url, legacy.header("Location") or "")
    assert final == expected["url"]
    page = index.get(final)
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=UTF-8"
    for name in ("Date", "ETag", "Last-Modified", "Cache-Control", "cf-ray"):
        assert page.header(name), name
    for backend in ("html.parser", "lxml"):  # the malformed page must still show its title to both
        h1 = BeautifulSoup(page.body, backend).select_one("h1.title")
        assert h1 is not None and " ".join(h1.get_text().split()) == expected["title"]


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_expected_record_fits_the_model(path: Path) -> None:
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert "provenance" not in expected and "problems" not in expected
    provenance = {"request_url": "https://digitalarchive.wilsoncenter.org/document/1", "final_url": expected["url"],
                  "http_status": 200, "fetched_at": datetime(2026, 11, 25, 12, tzinfo=UTC), "sha256": "0" * 64,
                  "tool_version": "test", "parser_version": "test"}
    record = CatalogRecord.model_validate({**expected, "provenance": provenance})
    dumped = record.model_dump(mode="json", exclude={"provenance", "problems"})
    assert dumped == expected  # same keys, same shapes, nothing coerced


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_points_at_its_recording(name: str) -> None:
    scenario = SCENARIOS[name]
    index = WarcIndex(FIXTURES / str(scenario["warc"]))
    response = index.get(str(scenario["request_url"]))
    if response.status in (301, 302):
        response = index.get(urljoin(response.url, response.header("Location") or ""))
    assert response.status == scenario["http_status"]
    if scenario["expected"]:
        assert (FIXTURES / str(scenario["expected"])).is_file()
    if scenario["outcome"] == "rate_limited":
        assert response.header("Retry-After") == scenario["retry_after_header"]
    if scenario["outcome"] == "blocked":
        assert response.header("cf-mitigated") == "challenge" and b"<title>Just a moment...</title>" in response.body


def test_rules_reproduce_the_real_slugs_and_translators() -> None:
    build = _load_build()
    for doc in build.csv_documents():
        assert build.slugify(doc["title"]) == doc["slug"]  # the Pathauto rule behind the invented slugs
    assert build.translators_from_source("Contributed by Robert Hoppens and translated by Stephen Mercado.") == [
        "Stephen Mercado"]
    assert build.translators_from_source(
        "Obtained by P. H.; translated and edited by Ilona Szabó, Mark Dalton, and Karl J. Weber.") == [
        "Ilona Szabó", "Mark Dalton", "Karl J. Weber"]
    code = build.cf_email_hex("HAPP@wilsoncenter.org", 0x46)  # Cloudflare's scheme: key byte, then XORed bytes
    key = int(code[:2], 16)
    assert "".join(chr(int(code[i:i + 2], 16) ^ key) for i in range(2, len(code), 2)) == "HAPP@wilsoncenter.org"
