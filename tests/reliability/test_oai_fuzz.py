"""Bad OAI-PMH requests against the real waitress server (loopback, free port).

Every verb's arguments are fuzzed with hypothesis: valid and invalid names and values,
repeated arguments, odd Unicode, control characters, XML metacharacters, huge values,
undecodable bytes, GET, POST and HEAD, garbage and real-but-altered resumption tokens,
other paths and methods, and odd Host headers. Every response must be HTTP 200 with a
schema-valid OAI-PMH document (the conftest middleware validates each one against
OAI-PMH.xsd offline) or the documented 404/405, never a 500 or a traceback; the
`<request>` echo is parsed and must equal what was sent where the spec says to echo it
(so escaping is proven by parsing, not by looking for `&lt;`); a list never holds a
record outside the request's set and from/until.

Resumption tokens: a real token for one set, one prefix and one from-until window is
altered field by field (set, prefix, from, until, keyset position, cursor, size,
expiry, verb, version) with and without re-signing attempts, and character by character;
every alteration is badResumptionToken, and a harvest through the genuine tokens yields
exactly the records of the original scope.

Bounded: WCDA_OAI_FUZZ_EXAMPLES (default 600) examples for the main property.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote_from_bytes, unquote_to_bytes

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from catalog.oai import tokens
from catalog.oai.app import MAX_BODY
from catalog.oai.arguments import VERBS
from catalog.xmltext import has_forbidden
from tests.oai.catalog_builder import build_catalog
from tests.oai.conftest import OAI, REPO_ID, SECRET, Server, start_server

EXAMPLES = int(os.environ.get("WCDA_OAI_FUZZ_EXAMPLES", "600"))
KEY = SECRET.encode()
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

# The argument table of OAI-PMH 2.0 section 4 (resumptionToken is exclusive).
ALLOWED = {
    "Identify": set(),
    "ListMetadataFormats": {"identifier"},
    "ListSets": {"resumptionToken"},
    "GetRecord": {"identifier", "metadataPrefix"},
    "ListIdentifiers": {"metadataPrefix", "set", "from", "until", "resumptionToken"},
    "ListRecords": {"metadataPrefix", "set", "from", "until", "resumptionToken"},
}
ARG_NAMES = ["identifier", "metadataPrefix", "set", "from", "until", "resumptionToken"]
BOGUS_NAMES = ["x", "Verb", "VERB", "metadataprefix", "from_", "Set", "", " verb", "verb ", "verb\x00",
               "ident<ifier>", 'a"b', "&amp;", "résumé", "\u202eltr", "🙂", "\ud800", "x" * 300]
ODD_VERBS = ["", "identify", "GetMetadata", "ListRecords ", " ListRecords", "List Records", "ListRecords\x00",
             "<ListRecords/>", "ListRecords&verb=Identify", "ＬｉｓｔＲｅｃｏｒｄｓ", "ListRecords\u200b", "\ud83d"]
ODD_STRINGS = [
    "", " ", "<", ">", "&", '"', "'", "]]>", "<![CDATA[x]]>", "<!--", "&amp;", "&#0;", "&#x1;", "&lt;script&gt;",
    "<script>alert(1)</script>", "\"'><x y='", "a\x00b", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x85",
    "\t", "\r\n", "\n", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\ud800", "\udfff", "\ud83d\ude00",
    "\U0010ffff", "\u202e", "\u200b", "é", "e\u0301", "١٢٣", "１２３", "²", "Ω" * 40, "%", "%00", "%zz", "+",
    "%2B", "a=b", "a&b", "#frag", "?q", "../../etc/passwd", "oai:", "::", "${jndi:ldap://x}", "' OR 1=1 --",
    "null", "None", "[]", "{}", "0", "-1", "1e999", "NaN",
]
VALID = {
    "identifier": [f"oai:{REPO_ID}:100007", f"oai:{REPO_ID}:100000", f"oai:{REPO_ID}:101813", f"oai:{REPO_ID}:1",
                   f"oai:{REPO_ID}:0100007", f"oai:{REPO_ID}:+100007", f"oai:{REPO_ID}:100007.0",
                   "oai:elsewhere.org:100007", f"OAI:{REPO_ID}:100007", f"oai:{REPO_ID}:{'9' * 40}", "urn:x:y",
                   f"oai:{REPO_ID}:100007#x", f"oai:{REPO_ID}:100007?verb=Identify"],
    "metadataPrefix": ["oai_dc", "oai_qdc", "marc21", "OAI_DC", "oai_dc ", "oai-dc", "*", "()", "oai_dc\x00"],
    "set": ["type", "type:cable", "language:rus", "subject:cold-war", "type:nothing", "type:", ":type", "type::cable",
            "a:b:c:d", "TYPE:CABLE", "type:cable*"],
    "from": ["2024-03-01", "2024-03-01T10:00:00Z", "2024-03-02T00:00:00Z", "1900-01-01", "0001-01-01", "0999-01-01",
             "9999-12-31", "9999-12-31T23:59:59Z", "0000-01-01", "2024-02-30", "2024-13-01", "2024-3-1",
             "2024-03-01T08:00Z", "2024-03-01T08:00:00.5Z", "2024-03-01T08:00:00+01:00", "2024-03-01T25:00:00Z",
             "20240301", "99999-01-01", "2024-03-01T08:00:00z", "2024-03-01 08:00:00Z"],
}
VALID["until"] = VALID["from"]
GARBAGE_TOKENS = ["", ".", "..", "a.b", "x" * 40, "e30.AAAA", "W10.AAAAAAAAAAAAAAAAAAAAAA", "%00.%00",
                  "eyJ2IjoxfQ.c2ln", "W1sxXV0." + "A" * 22, "A" * 5000 + "." + "B" * 22, "🙂.🙂"]


# -- the server ---------------------------------------------------------------------------------
@dataclass
class Target:
    server: Server
    client: httpx.Client
    real_tokens: dict[str, str]  # verb -> a genuine token from a first page

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    store, deleted = build_catalog(tmp_path_factory.mktemp("oai-fuzz") / "c.db")
    srv, stop = start_server(store, deleted, page_size=7)
    client = httpx.Client(timeout=30)
    try:
        real: dict[str, str] = {}
        for verb, extra in (("ListRecords", {"metadataPrefix": "oai_dc"}),
                            ("ListIdentifiers", {"metadataPrefix": "oai_qdc"}),
                            ("ListSets", {})):
            doc = etree.fromstring(client.get(srv.url, params={"verb": verb, **extra}).content, PARSER)
            real[verb] = doc.findtext(".//oai:resumptionToken", namespaces=OAI)
            assert real[verb]
        yield Target(srv, client, real)
    finally:
        client.close()
        stop()
        store.close()
    assert srv.validator.failures == []


# -- sending and checking -----------------------------------------------------------------------
def _enc(text: str) -> bytes:
    # Lone surrogates go out as the (invalid) UTF-8 bytes they would have: undecodable input.
    return text.encode("utf-8", "surrogatepass")


def _form(pairs: list[tuple[str, str]]) -> bytes:
    return b"&".join(quote_from_bytes(_enc(n), safe="").encode() + b"=" + quote_from_bytes(_enc(v), safe="").encode()
                     for n, v in pairs)


def _decodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def send(t: Target, pairs: list[tuple[str, str]], method: str = "GET", *,
         content_type: str = "application/x-www-form-urlencoded",
         headers: dict[str, str] | None = None) -> httpx.Response:
    form = _form(pairs)
    if method == "POST":
        return t.client.post(t.url, content=form, headers={"Content-Type": content_type, **(headers or {})})
    url = t.url + ("?" + form.decode("ascii") if form else "")
    return t.client.request(method, url, headers=headers)


def expected_code(pairs: list[tuple[str, str]], method: str, content_type: str, body_size: int) -> str | None:
    """What the request must give where the outcome is certain from its syntax alone (None: any)."""
    if method == "POST" and (body_size > MAX_BODY or content_type.split(";")[0].strip().lower()
                             not in ("", "application/x-www-form-urlencoded")):
        return "badArgument"
    if not all(_decodable(n) and _decodable(v) for n, v in pairs):
        return "badArgument"
    names = [n for n, _ in pairs]
    if names.count("verb") > 1:
        return "badArgument"
    verb = dict(pairs).get("verb")
    if verb not in VERBS:
        return "badVerb"
    if len(set(names)) != len(names):
        return "badArgument"
    if any(has_forbidden(n) or has_forbidden(v) for n, v in pairs):
        return "badArgument"
    args = {n for n in names if n != "verb"}
    if not args <= ALLOWED[verb]:
        return "badArgument"
    if "resumptionToken" in args and len(args) > 1:
        return "badArgument"
    return None


def _stamp_bounds(value: str, *, upper: bool) -> str:
    return value if "T" in value else value + ("T23:59:59Z" if upper else "T00:00:00Z")


def check(t: Target, resp: httpx.Response, pairs: list[tuple[str, str]], method: str, *,
          content_type: str = "application/x-www-form-urlencoded",
          failures_before: int | None = None) -> etree._Element | None:
    """The properties every OAI-PMH answer must have; returns the parsed document (None for HEAD)."""
    assert resp.status_code == 200, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"] == "text/xml; charset=utf-8"
    body = resp.content
    assert b"Traceback" not in body and b'File "' not in body
    if failures_before is not None:
        assert t.server.validator.failures[failures_before:] == []
    if method == "HEAD":
        assert body == b""
        return None
    doc = etree.fromstring(body, PARSER)
    request = doc.find("oai:request", OAI)
    assert request is not None and request.text == t.url
    errors = [e.get("code") for e in doc.iterfind("oai:error", OAI)]
    size = len(_form(pairs)) if method == "POST" else 0
    want = expected_code(pairs, method, content_type, size)
    if want is not None:
        assert errors == [want], (pairs, errors)
    attrs = dict(request.attrib)
    if errors and errors[0] in ("badVerb", "badArgument"):
        assert attrs == {}  # the spec forbids echoing a request it could not understand
        return doc
    # Everything else echoes exactly what was sent: the parsed attributes equal the sent values.
    assert attrs == dict(pairs), (attrs, pairs)
    verb = attrs["verb"]
    if errors:
        return doc
    assert doc.find(f"oai:{verb}", OAI) is not None
    if verb in ("ListIdentifiers", "ListRecords") and "resumptionToken" not in attrs:
        for header in doc.iterfind(".//oai:header", OAI):
            stamp = header.findtext("oai:datestamp", namespaces=OAI)
            if "from" in attrs:
                assert stamp >= _stamp_bounds(attrs["from"], upper=False)
            if "until" in attrs:
                assert stamp <= _stamp_bounds(attrs["until"], upper=True)
            if "set" in attrs:
                assert attrs["set"] in [s.text for s in header.iterfind("oai:setSpec", OAI)]
    if verb == "GetRecord":
        assert doc.findtext(".//oai:header/oai:identifier", namespaces=OAI) == attrs["identifier"]
    return doc


# -- strategies -----------------------------------------------------------------------------------
odd_text = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=40),  # any code point, surrogates included
    st.text(st.characters(min_codepoint=0, max_codepoint=0x20), max_size=10),  # control characters
    st.text(st.sampled_from("<>&\"';=%+#?/\\:"), min_size=1, max_size=30),  # XML and URL metacharacters
)


@st.composite
def huge(draw: st.DrawFn, *, post: bool) -> str:
    unit = draw(st.sampled_from(["a", "<&>", "\"'", "é", "漢", "🙂", "oai:x:"]))
    # GET URLs stay under httpx's 64 KiB URL limit; POST bodies go past the server's 64 KiB cap.
    limit = 80_000 if post else 12_000
    n = draw(st.integers(1_000, limit)) // (len(unit.encode()) * 3)
    return unit * max(n, 1)


@st.composite
def token_value(draw: st.DrawFn, real: dict[str, str]) -> str:
    tok = real[draw(st.sampled_from(sorted(real)))]
    kind = draw(st.sampled_from(["real", "garbage", "edit", "truncate", "extend"]))
    if kind == "real":
        return tok
    if kind == "garbage":
        return draw(st.one_of(st.sampled_from(GARBAGE_TOKENS), odd_text))
    if kind == "truncate":
        return tok[: draw(st.integers(0, len(tok) - 1))]
    if kind == "extend":
        return tok + draw(st.sampled_from(["=", "==", "A", ".", "%3D", " ", "\x00"]))
    pos = draw(st.integers(0, len(tok) - 1))
    return tok[:pos] + draw(st.sampled_from("AZaz09-_.=+/!~ ")) + tok[pos + 1:]


def _value(draw: st.DrawFn, name: str, real: dict[str, str], *, post: bool, odd: bool) -> str:
    if name == "resumptionToken":
        return draw(st.one_of(token_value(real), token_value(real), odd_text) if odd else token_value(real))
    if name in VALID:
        good = st.sampled_from(VALID[name][:4])  # the first four of each list are well-formed and common
        if not odd:
            return draw(st.one_of(good, good, st.sampled_from(VALID[name])))
        return draw(st.one_of(good, st.sampled_from(VALID[name]), odd_text, huge(post=post)))
    return draw(st.one_of(odd_text, st.sampled_from(VERBS), huge(post=post)))


@st.composite
def requests_(draw: st.DrawFn, real: dict[str, str], *, post: bool) -> list[tuple[str, str]]:
    """Three shapes: well-formed (valid names, mostly valid values: reaches every verb's deep
    paths), one mutation away from well-formed, and wild (any names, any values)."""
    shape = draw(st.sampled_from(["wellformed", "wellformed", "wellformed", "mutated", "mutated", "wild"]))
    event(f"shape {shape}")
    pairs: list[tuple[str, str]]
    if shape != "wild":
        verb = draw(st.sampled_from(VERBS))
        own = sorted(ALLOWED[verb])
        names = sorted(draw(st.sets(st.sampled_from(own), max_size=len(own)))) if own else []
        if verb == "GetRecord":
            names = ["identifier", "metadataPrefix"]
        elif verb in ("ListIdentifiers", "ListRecords"):
            if "resumptionToken" in names and draw(st.integers(0, 4)):
                names = ["resumptionToken"]
            elif "resumptionToken" not in names and "metadataPrefix" not in names and draw(st.integers(0, 4)):
                names.append("metadataPrefix")
        pairs = [("verb", verb)] + [(n, _value(draw, n, real, post=post, odd=False)) for n in names]
        if shape == "mutated":
            how = draw(st.sampled_from(["value", "value", "extra", "repeat", "verb", "drop"]))
            if how == "value" and len(pairs) > 1:
                i = draw(st.integers(1, len(pairs) - 1))
                pairs[i] = (pairs[i][0], _value(draw, pairs[i][0], real, post=post, odd=True))
            elif how == "extra":
                name = draw(st.one_of(st.sampled_from(ARG_NAMES), st.sampled_from(BOGUS_NAMES), odd_text))
                pairs.append((name, _value(draw, name, real, post=post, odd=True)))
            elif how == "repeat":
                name, value = draw(st.sampled_from(pairs))
                pairs.append((name, draw(st.one_of(st.just(value), odd_text))))
            elif how == "verb":
                pairs[0] = ("verb", draw(st.one_of(st.sampled_from(ODD_VERBS), odd_text)))
            else:
                pairs.pop(draw(st.integers(0, len(pairs) - 1)))
    else:
        verb = draw(st.one_of(st.sampled_from(VERBS), st.sampled_from(ODD_VERBS), odd_text, st.none()))
        pairs = [] if verb is None else [("verb", verb)]
        for _ in range(draw(st.integers(0, 4))):
            name = draw(st.one_of(st.sampled_from(ARG_NAMES), st.sampled_from(BOGUS_NAMES), odd_text))
            pairs.append((name, _value(draw, name, real, post=post, odd=True)))
    return draw(st.permutations(pairs))


# -- the properties ------------------------------------------------------------------------------
@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), method=st.sampled_from(["GET", "GET", "GET", "POST", "POST", "POST", "HEAD"]))
def test_any_request_gives_a_valid_document_and_an_exact_echo(target: Target, data: st.DataObject, method: str) -> None:
    pairs = data.draw(requests_(target.real_tokens, post=(method == "POST")), label="pairs")
    content_type = "application/x-www-form-urlencoded"
    if method == "POST":
        content_type = data.draw(st.one_of(st.just("application/x-www-form-urlencoded"), st.sampled_from([
            "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
            "APPLICATION/X-WWW-FORM-URLENCODED", "", "text/plain", "multipart/form-data; boundary=x",
            "application/json"])), label="content_type")
    before = len(target.server.validator.failures)
    doc = check(target, send(target, pairs, method, content_type=content_type), pairs, method,
                content_type=content_type, failures_before=before)
    codes = [] if doc is None else [e.get("code") for e in doc.iterfind("oai:error", OAI)]
    event(f"{method} -> {codes[0] if codes else ('ok' if doc is not None else 'HEAD')}")


PATHS = ["/", "/oai/", "/OAI", "/oai2", "/oai/x", "/oai%00", "/oai;verb=Identify", "/oai/schemas/other.xsd",
         "/oai/schemas/wcda-qdc.xsd", "/oai/schemas/../schemas/wcda-qdc.xsd", "//oai", "/%6Fai", "/oai%2F",
         "/../etc/passwd",
         "/" + "a" * 5000]


@settings(max_examples=max(40, EXAMPLES // 5), deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.one_of(st.sampled_from(PATHS + ["/oai"] * 3),
                      st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF,
                                                                                      exclude_characters="?#%"),
                                                                       max_size=20).map(lambda s: "/" + s)),
       method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "TRACE"]))
def test_other_paths_and_methods_are_404_or_405(target: Target, path: str, method: str) -> None:
    base = target.url.removesuffix("/oai")
    resp = target.client.request(method, base + quote_from_bytes(path.encode(), safe="/;%"),
                                 params={"verb": "Identify"})
    body = resp.content
    assert b"Traceback" not in body and b'File "' not in body
    # What really went out (httpx normalizes dot segments), as waitress decodes it into PATH_INFO.
    seen = unquote_to_bytes(resp.request.url.raw_path.split(b"?")[0])
    assert resp.status_code in (200, 404, 405), (seen, method, resp.status_code)
    if resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml"):
        assert method in ("GET", "HEAD", "POST")
        check(target, resp, [("verb", "Identify")], method)
    elif resp.status_code == 200:
        assert method in ("GET", "HEAD") and seen.endswith(b"/schemas/wcda-qdc.xsd")
    elif resp.status_code == 405:
        assert method not in ("GET", "HEAD", "POST") and resp.headers["allow"] == "GET, HEAD, POST"
    # The exact endpoint always answers; anything not ending in the endpoint's path is 404.
    if seen == b"/oai":
        assert resp.status_code == (200 if method in ("GET", "HEAD", "POST") else 405)
    if not seen.endswith((b"/oai", b"/schemas/wcda-qdc.xsd")):
        assert resp.status_code == 404, (seen, method, resp.status_code)


def _raw_get(target: Target, path: str, host: bytes) -> tuple[int, bytes]:
    """One GET over a plain socket, for headers an HTTP client refuses to send."""
    addr, port = target.url.removeprefix("http://").removesuffix("/oai").split(":")
    with socket.create_connection((addr, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


GOOD_URL = re.compile(r"^http://(?:[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?/oai$")


@pytest.mark.parametrize("host", ["a b", 'ev"<il>.example', "x'y", "exa&mple.org", "h:99999999", "host:-1", "é.example",
                                  "[::1", "127.0.0.1:1/../x", "@evil", "user@host", "a\tb", "", "example.org:8080",
                                  "[::1]:8080", "Repository.Example.ORG"])
def test_an_odd_host_header_never_reaches_the_echo_or_base_url(target: Target, host: str) -> None:
    """baseURL and <request> are taken from the Host header when config sets no base_url:
    a Host that is not host[:port] falls back to the server's own name, so both stay URLs."""
    try:
        resp = target.client.get(target.url, params={"verb": "Identify"}, headers={"Host": host})
        status, content = resp.status_code, resp.content
    except (httpx.LocalProtocolError, UnicodeEncodeError):  # httpx will not send it: a raw socket will
        status, content = _raw_get(target, "/oai?verb=Identify", host.encode("utf-8"))
    if status == 400:  # refused by waitress itself (an invalid header): no app involved
        assert b"Traceback" not in content
        return
    assert status == 200 and b"Traceback" not in content
    doc = etree.fromstring(content, PARSER)
    echo = doc.findtext("oai:request", namespaces=OAI)
    assert doc.findtext("oai:Identify/oai:baseURL", namespaces=OAI) == echo
    assert GOOD_URL.match(echo), echo
    if host in ("example.org:8080", "[::1]:8080", "Repository.Example.ORG"):
        assert echo == f"http://{host}/oai"  # a proper Host is kept (the validators' baseURL check)
    elif host:
        assert host not in echo


def test_a_request_over_waitress_header_limit_is_refused_cleanly(target: Target) -> None:
    """A request line over waitress's 256 KiB header limit never reaches the app: a clean 4xx."""
    host, port = target.url.removeprefix("http://").removesuffix("/oai").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /oai?verb=Identify&x=" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    status = reply.split(b"\r\n", 1)[0]
    assert re.match(rb"HTTP/1\.[01] 4\d\d ", status) or reply == b"", status
    assert b"Traceback" not in reply


# -- resumption tokens: scope ------------------------------------------------------------------------
SCOPE = {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "type:cable",
         "from": "2024-03-01T10:00:00Z", "until": "2024-03-02T00:00:00Z"}


def _scope_ids(t: Target) -> set[str]:
    rows = t.server.store.connection.execute(
        "SELECT r.record_id FROM record r JOIN record_facet m ON m.record_id = r.record_id AND m.key = ?"
        " WHERE r.last_changed >= ? AND r.last_changed <= ?",
        (SCOPE["set"], "2024-03-01T10:00:00.000000Z", "2024-03-02T00:00:00.999999Z")).fetchall()
    return {f"oai:{REPO_ID}:{r[0]}" for r in rows}


def _in_scope(doc: etree._Element) -> list[str]:
    ids = []
    for header in doc.iterfind(".//oai:header", OAI):
        stamp = header.findtext("oai:datestamp", namespaces=OAI)
        assert SCOPE["from"] <= stamp <= SCOPE["until"], stamp
        assert SCOPE["set"] in [s.text for s in header.iterfind("oai:setSpec", OAI)]
        assert header.getparent().find("oai:metadata/{http://www.openarchives.org/OAI/2.0/oai_dc/}dc",
                                       OAI) is not None \
            or header.get("status") == "deleted"
        ids.append(header.findtext("oai:identifier", namespaces=OAI))
    return ids


@pytest.fixture(scope="module")
def scoped(target: Target) -> dict[str, object]:
    """A full harvest of SCOPE through its tokens: the ids and every genuine token."""
    doc = check(target, send(target, list(SCOPE.items())), list(SCOPE.items()), "GET")
    ids, toks = _in_scope(doc), []
    while (tok := doc.findtext(".//oai:resumptionToken", namespaces=OAI)):
        toks.append(tok)
        pairs = [("verb", "ListRecords"), ("resumptionToken", tok)]
        doc = check(target, send(target, pairs), pairs, "GET")
        ids += _in_scope(doc)
    return {"ids": ids, "tokens": toks}


def test_a_harvest_through_tokens_is_exactly_the_scope(target: Target, scoped: dict[str, object]) -> None:
    ids = scoped["ids"]
    assert len(scoped["tokens"]) >= 3  # several pages (7 a page)
    assert len(ids) == len(set(ids))
    assert set(ids) == _scope_ids(target)
    print(f"\nscope harvest: {len(ids)} records in {len(scoped['tokens']) + 1} pages")


def _payload(tok: str) -> list[object]:
    body = tok.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _sign(fields: list[object], key: bytes) -> str:
    raw = json.dumps(fields, separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]).rstrip(b"=").decode()
    return f"{payload}.{sig}"


def _alterations(fields: list[object]) -> list[tuple[str, list[object]]]:
    """The token's fields changed one at a time: index -> replacement values."""
    (version, verb, prefix, set_spec, from_, until, after, cursor, total, expires, limit) = fields
    far = "9999-12-31T23:59:59.999999Z"
    changes: dict[int, list[object]] = {
        0: [0, 1, 3, "2", None],
        1: ["ListIdentifiers", "ListSets", "Identify", None, "listrecords"],
        2: ["oai_qdc", None, "marc21", "", ["oai_dc"]],
        3: [None, "type", "type:letter", "language:rus", "", "type:cable:x", ["type:cable"]],
        4: [None, "2000-01-01T00:00:00.000000Z", "0999-01-01T00:00:00.000000Z", far, 0],
        5: [None, far, "2024-03-05T00:00:00.000000Z", from_, "", 0],
        6: [None, ["2000-01-01T00:00:00.000000Z", 0], [after[0], 0], [after[0], after[1] + 1], [after[0]],
            [after[1], after[0]], ["x", "y"], [None, None], "after", [after[0], after[1], 1]],
        7: [0, -1, cursor + 1, 10**18, "7", 7.0, None, True],
        8: [0, 10**9, -1, None],
        9: [int(time.time()) - 10, 2**62, 0, None, str(expires)],
        10: [None, far, "2024-03-05T00:00:00.000000Z", "", 0, until],
    }
    out = []
    for index, values in changes.items():
        for value in values:
            if value == fields[index] and type(value) is type(fields[index]):
                continue
            changed = list(fields)
            changed[index] = value
            out.append((f"field {index} -> {value!r}", changed))
    out.append(("extra field", [*fields, "x"]))
    out.append(("missing field", fields[:-1]))
    out.append(("object instead of array", {"v": 1}))  # type: ignore[list-item]
    return out


GUESSED_KEYS = [b"", b"secret", b"test", b"key", SECRET.upper().encode(), SECRET.encode()[:-1], REPO_ID.encode(),
                hashlib.sha256(KEY).hexdigest().encode(), KEY.hex().encode(), b"\x00" * 32, os.urandom(32)]


@pytest.mark.slow
def test_every_field_alteration_is_bad_resumption_token(target: Target, scoped: dict[str, object]) -> None:
    checked = 0
    for tok in scoped["tokens"]:
        fields = _payload(tok)
        sig = tok.split(".")[1]
        for what, changed in _alterations(fields):
            raw = json.dumps(changed, separators=(",", ":")).encode()
            payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            candidates = [f"{payload}.{sig}", payload, f"{payload}.", f"{payload}.{'A' * 22}",
                          *(_sign(changed, key) for key in GUESSED_KEYS)]
            for forged in candidates:
                pairs = [("verb", "ListRecords"), ("resumptionToken", forged)]
                doc = check(target, send(target, pairs), pairs, "GET")
                codes = [e.get("code") for e in doc.iterfind("oai:error", OAI)]
                assert codes == ["badResumptionToken"], (what, forged, codes)
                checked += 1
    print(f"\n{checked} forged tokens ({len(scoped['tokens'])} genuine tokens altered) refused")
    assert checked > 1000


def test_genuine_but_expired_or_misused_tokens_are_refused(target: Target, scoped: dict[str, object]) -> None:
    tok = scoped["tokens"][0]
    state = tokens.decode(tok, KEY, verb="ListRecords")
    expired = tokens.encode(tokens.TokenState(**{**state.__dict__, "expires": int(time.time()) - 1}), KEY)
    for verb, t in (("ListRecords", expired), ("ListIdentifiers", tok), ("ListSets", tok)):
        pairs = [("verb", verb), ("resumptionToken", t)]
        doc = check(target, send(target, pairs), pairs, "GET")
        assert [e.get("code") for e in doc.iterfind("oai:error", OAI)] == ["badResumptionToken"]
    # A token cannot be widened or narrowed by arguments next to it: that is badArgument.
    for extra in (("set", "type:letter"), ("metadataPrefix", "oai_qdc"), ("from", "2000-01-01"),
                  ("until", "2030-01-01"),
                  ("identifier", f"oai:{REPO_ID}:100007")):
        pairs = [("verb", "ListRecords"), ("resumptionToken", tok), extra]
        doc = check(target, send(target, pairs), pairs, "GET")
        assert [e.get("code") for e in doc.iterfind("oai:error", OAI)] == ["badArgument"]


@pytest.mark.slow
@settings(max_examples=max(60, EXAMPLES // 3), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_character_edit_of_a_genuine_token_is_refused(target: Target, scoped: dict[str, object],
                                                          data: st.DataObject) -> None:
    """Substitutions, insertions, deletions, case swaps, padding, whitespace, percent-escapes: a
    token that is not byte-for-byte one the server issued is badResumptionToken, never a page."""
    tok = data.draw(st.sampled_from(scoped["tokens"]), label="token")
    edits = data.draw(st.lists(st.tuples(st.sampled_from(["sub", "ins", "del", "case"]), st.integers(0, 10**6),
                                         st.sampled_from("AZaz09-_.=+/!~ %\t\n")), min_size=1, max_size=3),
                      label="edits")
    forged = tok
    for op, pos, ch in edits:
        i = pos % (len(forged) + 1)
        if op == "sub" and i < len(forged):
            forged = forged[:i] + ch + forged[i + 1:]
        elif op == "ins":
            forged = forged[:i] + ch + forged[i:]
        elif op == "del" and i < len(forged):
            forged = forged[:i] + forged[i + 1:]
        elif op == "case" and i < len(forged):
            forged = forged[:i] + forged[i].swapcase() + forged[i + 1:]
    if forged == tok:
        return
    pairs = [("verb", "ListRecords"), ("resumptionToken", forged)]
    doc = check(target, send(target, pairs), pairs, "GET")
    codes = [e.get("code") for e in doc.iterfind("oai:error", OAI)]
    if not codes:
        _in_scope(doc)  # would show a scope escape first, then fail on the acceptance itself
    assert codes in (["badResumptionToken"], ["badArgument"]), (forged, codes)


def test_padding_and_alphabet_variants_of_the_signature_are_refused(target: Target, scoped: dict[str, object]) -> None:
    """base64 decoders are lenient (padding, ignored characters, unused low bits); the
    signature must be compared as the exact text the server wrote."""
    tok = scoped["tokens"][0]
    payload, sig = tok.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    last = sig[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bits = [c for c in alphabet if c != last and alphabet.index(c) >> 4 == alphabet.index(last) >> 4]
    variants = [f"{payload}.{sig}=", f"{payload}.{sig}==", f"{payload}.{sig[:5]}!{sig[5:]}",
                f"{payload}.{sig[:5]}\n{sig[5:]}",
                f"{payload}.{base64.b64encode(raw).decode()}", f"{payload}={'' if len(payload) % 4 else '='}.{sig}",
                *(f"{payload}.{sig[:-1]}{c}" for c in same_bits)]
    for forged in variants:
        assert forged != tok
        pairs = [("verb", "ListRecords"), ("resumptionToken", forged)]
        doc = check(target, send(target, pairs), pairs, "GET")
        assert [e.get("code") for e in doc.iterfind("oai:error", OAI)] in (["badResumptionToken"],
                                                                           ["badArgument"]), forged


def test_dates_before_year_1000_keep_their_meaning(target: Target) -> None:
    """from/until compare as text in the store: a three-digit year must not sort after 2024."""
    everything = check(target, send(target, [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")]),
                       [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")], "GET")
    size = everything.find(".//oai:resumptionToken", OAI).get("completeListSize")
    pairs = [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("from", "0999-01-01")]
    doc = check(target, send(target, pairs), pairs, "GET")
    assert doc.find(".//oai:resumptionToken", OAI).get("completeListSize") == size
    pairs = [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("until", "0999-12-31")]
    doc = check(target, send(target, pairs), pairs, "GET")
    assert [e.get("code") for e in doc.iterfind("oai:error", OAI)] == ["noRecordsMatch"]


def test_the_fuzz_reaches_every_outcome(target: Target) -> None:
    """A fixed sample showing the strategies reach the deep paths, not only badArgument."""
    rng = random.Random(7)
    seen: set[str] = set()
    cases = [
        [("verb", "Identify")], [("verb", "ListSets")], [("verb", "ListMetadataFormats")],
        [("verb", "GetRecord"), ("identifier", f"oai:{REPO_ID}:100007"), ("metadataPrefix", "oai_qdc")],
        [("verb", "GetRecord"), ("identifier", f"oai:{REPO_ID}:1"), ("metadataPrefix", "oai_dc")],
        [("verb", "ListRecords"), ("metadataPrefix", "marc21")],
        [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "type:nothing")],
        [("verb", "ListRecords"), ("resumptionToken", "x")], [("verb", "Nope")],
        [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("set", "<&>\"'")],
    ]
    for pairs in cases:
        doc = check(target, send(target, pairs, rng.choice(["GET", "POST"])), pairs, "GET")
        codes = [e.get("code") for e in doc.iterfind("oai:error", OAI)]
        seen.add(codes[0] if codes else "ok")
    assert seen == {"ok", "idDoesNotExist", "cannotDisseminateFormat", "noRecordsMatch", "badResumptionToken",
                    "badVerb", "badArgument"}


@pytest.mark.parametrize("first", ["HEAD /nowhere", "HEAD /oai/schemas/wcda-qdc.xsd", "HEAD /oai?verb=Identify",
                                   "HEAD /oai?verb=ListRecords&metadataPrefix=oai_dc"])
def test_head_answers_carry_no_body_on_a_kept_alive_connection(target: Target, first: str) -> None:
    """A body after a HEAD answer would be read as the next response's status line (the
    fuzz found this on a 404): two requests on one connection must give two clean answers."""
    host, port = target.url.removeprefix("http://").removesuffix("/oai").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"{first} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
                     f"GET /oai?verb=Identify HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert re.match(rb"HTTP/1\.1 (200|404) ", head), head
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:80]
    assert b"<Identify>" in rest
