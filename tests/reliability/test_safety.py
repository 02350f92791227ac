"""Safety: only the archive's host is ever fetched, input cannot escape the data folder,
outside XML never expands entities or reaches the network, limits hold, secrets stay out
of requests, logs and files, and servers bind to loopback unless told otherwise.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.errors import FetchError, OffHostRedirect
from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.cli import cli
from harvester.config import Settings, load_settings
from harvester.http import Fetcher
from harvester.idlist import IdListError, entries_from_args, resolve
from harvester.parse import parse_page
from harvester.warc import WarcWriter, warc_files
from tests.support.archive_server import Answer, ArchiveServer
from tests.support.faulty_server import fixture_pages

ROOT = Path(__file__).resolve().parents[2]
PAGE = b"<html><head><title>A page</title></head><body><h1 class='title'>A</h1></body></html>"


def settings_for(base_url: str, tmp_path: Path | None = None, **http: object) -> Settings:
    values = {"rate_limit": 1000.0, "max_retries": 0, "backoff_base": 0.01, "read_timeout": 2.0,
              "connect_timeout": 1.0, **http}
    overrides: dict = {"archive": {"base_url": base_url, "contact": "mailto:test@example.org"}, "http": values}
    if tmp_path is not None:
        overrides["storage"] = {"database": str(tmp_path / "catalog.db"), "warc_dir": str(tmp_path / "warc")}
    return load_settings(environ={}, overrides=overrides)


@pytest.fixture(scope="module")
def servers():
    with ArchiveServer() as archive, ArchiveServer() as elsewhere:
        yield archive, elsewhere


@pytest.fixture
def site(servers):
    """The archive and somewhere else, both on loopback, with clean routes and logs for each test."""
    for server in servers:
        server.routes.clear()
        server.seen.clear()
    return servers


# -- no SSRF: redirects, links and IDs cannot leave the archive's host ----------------------
OFF_HOST = [
    "{other}/evil", "//evil.example/x", "///evil.example/x", "http://{host}@evil.example/",
            "http://{host}:@evil.example/",
    "http://user:pw@{host}/document/x", "http://{host}\\@evil.example/", "http://evil.example\\@{host}/",
    "http://evil.example#@{host}/", "http://{host}.evil.example/", "http://{hostname}./document/x",
    "http://localhost:{port}/document/x", "http://[::1]:{port}/document/x", "http://0x7f000001:{port}/x",
    "http://2130706433:{port}/x", "http://127.1:{port}/x", "http://0.0.0.0:{port}/x", "http://{hostname}/document/x",
    "http://{hostname}:{otherport}/x", "https://{host}/document/x", "ftp://{host}/x", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "file:///etc/passwd", "file://{host}/etc/passwd", "data:text/html,<h1>x</h1>",
    "gopher://{host}/_x", "http://xn--e1afmkfd.xn--p1ai/", "http://пример.рф/", "http://%65vil.example/",
    "http://%31%32%37.0.0.1:{port}/x", "http:\\\\evil.example\\x", "\\\\evil.example\\x", "http://evil.example:{port}/",
    " http://evil.example/", "http://evil.example/\r\nX-Injected: 1",
]


@pytest.mark.parametrize("location", OFF_HOST)
def test_no_redirect_leaves_the_host(site, location: str) -> None:
    archive, elsewhere = site
    host = archive.base_url.split("://", 1)[1]
    hostname, port = host.rsplit(":", 1)
    target = location.format(other=elsewhere.base_url, host=host, hostname=hostname, port=port,
                             otherport=elsewhere.base_url.rsplit(":", 1)[1])
    archive.route("/document/1", Answer(301, b"", {"Location": target}))
    with Fetcher(settings_for(archive.base_url)) as fetcher:
        try:
            result = fetcher.get(fetcher.document_url(1))
        except OffHostRedirect:
            pass
        except FetchError:
            pass  # e.g. a 404 for an odd path on the archive itself: it stayed home (checked below)
        except Exception as exc:
            pytest.fail(f"{target!r}: {type(exc).__name__}: {exc}")
        else:
            # Accepted only if it stayed on the archive's own origin (a path that merely looks odd).
            assert result.final_url.startswith(archive.base_url + "/"), (target, result.final_url)
    assert elsewhere.seen == []
    assert all(s.path.startswith("/") for s in archive.seen)


@pytest.mark.parametrize("url", ["http://evil.example/document/1", "{other}/document/1", "file:///etc/passwd",
                                 "http://{host}@evil.example/document/1"])
def test_fetcher_refuses_any_other_host_outright(site, url: str) -> None:
    archive, elsewhere = site
    target = url.format(other=elsewhere.base_url, host=archive.base_url.split("://", 1)[1])
    with Fetcher(settings_for(archive.base_url)) as fetcher, pytest.raises(OffHostRedirect):
        fetcher.get(target)
    assert elsewhere.seen == [] and archive.seen == []


def test_links_in_a_page_are_never_fetched(site, tmp_path: Path) -> None:
    """A page full of links elsewhere (scan, download, canonical, base, refresh) costs two requests:
    the ID and its page."""
    archive, elsewhere = site
    page = fixture_pages()[0]
    body = page.body.decode("utf-8")
    body = body.replace("<head>", f'<head><base href="{elsewhere.base_url}/"><meta http-equiv="refresh" '
                                  f'content="0;url={elsewhere.base_url}/r">', 1)
    body = re.sub(r'href="/document/(\d+)/download"', f'href="{elsewhere.base_url}/document/\\1/download"', body)
    body = body.replace('data="https://digitalarchive.wilsoncenter.org', f'data="{elsewhere.base_url}')
    archive.route(f"/document/{page.record_id}", Answer(301, b"", {"Location": f"/document/{page.slug}"}))
    archive.route(f"/document/{page.slug}", Answer(200, body.encode("utf-8")))
    settings = settings_for(archive.base_url, tmp_path)
    with SQLiteStore(settings.storage.database) as store:
        summary = pipeline.harvest([page.record_id], settings=settings, store=store)
        record = store.get(page.record_id).record
    assert summary.outcomes[0].status == "new"
    assert [s.path for s in archive.seen] == [f"/document/{page.record_id}", f"/document/{page.slug}"]
    assert elsewhere.seen == []
    assert record.download_url and record.download_url.startswith(elsewhere.base_url)  # kept as data, not fetched


@pytest.mark.parametrize("text", [
    "../../etc/passwd", "..", "/etc/passwd", "1/../2", "1e3", "+5", "-5", "0", "00", "0x10", "1_000", "1.0", "1,000",
    "١٢٣", "１２", "²", "߁", "𝟙𝟚", "Ⅻ", "12\u200b", "1 2", "9" * 16, "9" * 5000, "99999999999999999999",
    "1;DROP TABLE record", "1%2F..", "%31", "1\x00", "True", "nan", "inf", "${ID}",
])
def test_ids_that_are_not_record_ids_are_refused(text: str) -> None:
    # What the commands read their ID arguments with (harvester/idlist.py).
    with pytest.raises(IdListError, match="not a Record ID"):
        resolve(entries_from_args([text]))


def test_plain_ids_are_accepted() -> None:
    assert resolve(entries_from_args(["175798", " 300240 ", "# a comment", "", "175798", "007"])) == [175798, 300240, 7]


@pytest.mark.parametrize("value", [True, False, 0, -1, "1", 1.0, "../1", None])
def test_document_url_takes_only_positive_ints(value: object) -> None:
    settings = load_settings(environ={}, overrides={"archive": {"contact": "mailto:t@example.org"}})
    with Fetcher(settings) as fetcher, pytest.raises(ValueError):
        fetcher.document_url(value)  # type: ignore[arg-type]


# -- files stay in the data folder ------------------------------------------------------------
@pytest.mark.parametrize("prefix",
                         ["../escape", "/tmp/escape", "a/b", "..", ".hidden", "a\\b", "", "x" * 200, "a\x00b"])
def test_warc_prefix_cannot_escape_the_folder(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(ValueError):
        WarcWriter.in_directory(tmp_path / "warc", prefix=prefix, software="test")
    assert not any(p for p in tmp_path.parent.glob("escape*"))


def test_harvest_writes_only_inside_its_folders(site, tmp_path: Path) -> None:
    archive, _ = site
    archive.route("/document/5", Answer(301, b"", {"Location": "/document/..%2F..%2Fescape"}))
    archive.route("/document/..%2F..%2Fescape", Answer(200, PAGE))
    data = tmp_path / "data"
    settings = settings_for(archive.base_url, data)
    before = set(tmp_path.rglob("*"))
    with SQLiteStore(settings.storage.database) as store:
        pipeline.harvest([5], settings=settings, store=store)
    created = set(tmp_path.rglob("*")) - before
    assert created and all(p.resolve().is_relative_to(data.resolve()) for p in created)
    files = warc_files(data / "warc")
    assert len(files) == 1 and files[0].parent == (data / "warc") and re.fullmatch(r"harvest-\d{8}T\d{6}-\d+\.warc\.gz",
                                                                                  files[0].name)


# -- limits ---------------------------------------------------------------------------------
def test_limits_have_safe_defaults() -> None:
    http = Settings().http
    assert http.max_response_bytes <= 50_000_000 and http.read_timeout <= 60 and http.connect_timeout <= 30
    assert http.max_redirects <= 10 and http.rate_limit <= 1.0 and http.concurrency <= 4


# -- secrets --------------------------------------------------------------------------------
SECRET = "tok-3f9c2b7e-not-for-logs"


def test_no_secret_in_requests_logs_output_or_files(site, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    archive, _ = site
    page = fixture_pages()[0]
    archive.route(f"/document/{page.record_id}", Answer(301, b"", {"Location": f"/document/{page.slug}"}))
    archive.route(f"/document/{page.slug}", Answer(200, page.body))
    archive.route("/document/2", Answer(500, b"oops"))
    env = {"WCDA_ARCHIVE__BASE_URL": archive.base_url, "WCDA_ARCHIVE__CONTACT": "mailto:test@example.org",
           "WCDA_HTTP__RATE_LIMIT": "100", "WCDA_HTTP__MAX_RETRIES": "0", "WCDA_OAI__TOKEN_SECRET": SECRET,
           "WCDA_STORAGE__DATABASE": str(tmp_path / "catalog.db"), "WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc")}
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    outputs = []
    monkeypatch.chdir(tmp_path)
    for args in (["harvest", str(page.record_id), "2"], ["list"], ["show", str(page.record_id), "--json"],
                 ["harvest", "../../etc/passwd"]):
        result = runner.invoke(cli, args, env=env)
        outputs.append(result.output + str(result.exception or ""))
    assert outputs[0] and outputs[2] and "not a Record ID" in outputs[3]
    for text in outputs + [caplog.text]:
        assert SECRET not in text
    for seen in archive.seen:
        assert SECRET not in repr(seen.headers) and SECRET not in seen.path
        assert seen.headers["user-agent"].startswith("wcda-harvester/")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert SECRET.encode() not in raw, path
            if path.name.endswith(".warc.gz"):
                import gzip

                assert SECRET.encode() not in gzip.decompress(raw), path


# -- servers bind to loopback ---------------------------------------------------------------
def test_oai_server_binds_to_loopback_unless_told(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().oai.host == "127.0.0.1"
    import waitress

    calls: list[dict] = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.append(kw))
    env = {"WCDA_STORAGE__DATABASE": str(tmp_path / "catalog.db")}
    SQLiteStore(tmp_path / "catalog.db").close()  # serve reads a catalog, never creates one
    runner = CliRunner()
    assert runner.invoke(cli, ["serve"], env=env).exit_code == 0
    # A public server must say whose domain its OAI identifiers are in (not the archive's).
    refused = runner.invoke(cli, ["serve", "--host", "0.0.0.0"], env=env)
    assert refused.exit_code == 1 and "oai.repository_identifier" in refused.output
    public = {**env, "WCDA_OAI__REPOSITORY_IDENTIFIER": "oai.example.org"}
    assert runner.invoke(cli, ["serve", "--host", "0.0.0.0"], env=public).exit_code == 0
    assert [c["host"] for c in calls] == ["127.0.0.1", "0.0.0.0"]


def test_test_servers_bind_to_loopback() -> None:
    with ArchiveServer() as archive:
        assert archive.httpd.server_address[0] == "127.0.0.1"
    from tests.support.faulty_server import FaultPlan, FaultyServer

    with FaultyServer(FaultPlan.build(1, 60)) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.trap_url.startswith("http://127.0.0.1:")


# -- XML from outside: no entity expansion, no network ----------------------------------------
XML_PARSE = re.compile(r"\b(fromstring|XML|parse|iterparse|XMLParser|XMLPullParser|parseString|minidom|sax)\b")


def _xml_parse_calls() -> list[tuple[str, int, str]]:
    """Every call in the product code that parses XML with lxml or the standard library."""
    found = []
    for path in sorted([*ROOT.glob("catalog/**/*.py"), *ROOT.glob("harvester/**/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                head = func.split(".")[0]
                if head in {"etree", "ElementTree", "ET", "minidom", "sax", "expatbuilder",
                            "lxml"} and XML_PARSE.search(func):
                    found.append((str(path.relative_to(ROOT)), node.lineno, ast.unparse(node)))
    return found


# Parses of XML the project wrote itself (never outside data): each is named with why it is safe.
OWN_XML = {
    ("catalog/oai/static.py", "etree.fromstring(identifiers.identifier_description(repository_identifier))"):
        "our own oai-identifier description, built with lxml a line earlier",
    ("catalog/export/xmlout.py", "etree.fromstring(text, _OWN_PARSER)"):
        "a format serializer's own text (values escaped by it), with a parser that loads no DTD or entity",
}


# Found by this test in files outside this task, reported, not yet fixed (keyed by file and call):
KNOWN_OPEN = {
    ("catalog/style_patch.py", "etree.parse(io.BytesIO(data), self.parser)"):
        "a .csl style given by path is re-parsed for citeproc-py with a parser that expands internal "
        "entities (external ones and the network are off); see test_a_csl_style_from_outside_expands_no_entities",
}


def test_outside_xml_is_parsed_without_entities_or_network() -> None:
    unsafe = []
    for path, line, call in _xml_parse_calls():
        if any(path == p and call.startswith(c[:40]) for p, c in OWN_XML):
            continue
        if "defusedxml" in call or ("resolve_entities=False" in call and "no_network=False" not in call
                                    and "huge_tree=True" not in call and "load_dtd=True" not in call):
            continue
        if call.startswith("etree.XMLParser"):
            continue  # the parser object itself: judged where it is used
        if (path, call) in KNOWN_OPEN:
            continue
        unsafe.append(f"{path}:{line}: {call}")
    assert unsafe == []


def test_html_pages_never_expand_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE")
    page = (f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret}"><!ENTITY a "AAAAAAAAAA">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><html><body><main><div class="content-block">'
            '<h1 class="title">T &xxe; &b;</h1><p class="date">1950</p></div><div class="information-block">'
            '<h3 class="sub-title">Record ID</h3><div class="text">1</div></div></main></body></html>').encode()
    parsed = parse_page(page, record_id=1, final_url="https://digitalarchive.wilsoncenter.org/document/t")
    assert "TOPSECRET" not in parsed.title and "AAAA" not in parsed.title


def _csl_with_entities(tmp_path: Path, entity: str, value: str) -> Path:
    source = (ROOT / "catalog" / "styles" / "wcda.csl").read_text(encoding="utf-8")
    decl = f'<!DOCTYPE style [<!ENTITY probe {entity}>]>\n'
    text = re.sub(r"(<\?xml[^>]*\?>\s*)", lambda m: m.group(1) + decl, source, count=1)
    text = text.replace("<title>", "<title>&probe;", 1)
    path = tmp_path / f"probe-{abs(hash(entity))}.csl"
    path.write_text(text, encoding="utf-8")
    assert value not in text.split("]>", 1)[1]  # the value stands only in the entity declaration
    return path


def test_a_csl_style_from_outside_never_reads_files(tmp_path: Path) -> None:
    from catalog import cite

    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE")
    path = _csl_with_entities(tmp_path, f'SYSTEM "file://{secret}"', "TOPSECRET")
    from lxml import etree

    ours = etree.tostring(cite._style_tree(path))
    assert b"TOPSECRET" not in ours
    try:
        style = cite._load_style(path)
    except Exception:
        return  # refused: fine
    assert b"TOPSECRET" not in etree.tostring(style.xml)


def test_a_csl_style_from_outside_expands_no_entities(tmp_path: Path) -> None:
    from lxml import etree

    from catalog import cite

    path = _csl_with_entities(tmp_path, '"EXPANDED-ENTITY"', "EXPANDED-ENTITY")
    try:
        style = cite._load_style(path)
    except Exception:
        return  # refused: fine
    assert b"EXPANDED-ENTITY" not in etree.tostring(style.xml)  # neither expanded nor carried along
