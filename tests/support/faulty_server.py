"""A loopback archive that misbehaves on purpose, reproducibly.

`FaultPlan.build(seed, n)` gives each of `n` Record IDs one behaviour: a good fixture page
(rebased onto this server) or a fault from `FAULTS`. The plan is fixed by the seed (which
ID gets which fault, which fixture page, delays, cut points, variants) and records what
the harvester must report for every ID, so a test can check each outcome.

`FaultyServer(plan)` is a raw-socket HTTP/1.1 server on 127.0.0.1 (never another
interface): raw sockets, because the faults need what http.server cannot do politely:
reset connections, lie in Content-Length, stream endless or dripping bodies, stall,
answer with garbage. It keeps a request log; `trap_url` is a second listener on another
port that only counts connections, the target of off-host redirects that must never
be followed.

Every answer closes its connection (`Connection: close`), so one fault never leaks
into the next request.

Hostile behaviours that are not per-ID faults (they stop a run, or need a whole server to
themselves) plug in as `routes`: a path mapped to a `Behaviour`, a function that answers on
the raw socket. The factories below (`gzip_bomb`, `trickle_headers`, `endless_continue`,
`canned`) build them; `FaultPlan.empty()` is a plan with no IDs for such a server.
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

from harvester.warc import WarcIndex

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ROOT / "fixtures" / "warc" / "documents"
EXPECTED = ROOT / "fixtures" / "expected"
PRODUCTION = "https://digitalarchive.wilsoncenter.org"


# -- the fixture pages ----------------------------------------------------------------
@dataclass(frozen=True)
class FixturePage:
    record_id: int
    slug: str
    body: bytes  # UTF-8, as recorded

    @property
    def non_ascii(self) -> bool:
        return any(b > 127 for b in self.body)

    @property
    def cp1252_ok(self) -> bool:
        try:
            self.body.decode("utf-8").encode("cp1252")
        except UnicodeEncodeError:
            return False
        return True


@lru_cache(maxsize=1)
def fixture_pages() -> tuple[FixturePage, ...]:
    """Every recorded document page (the 301 from /document/<ID> gives its slug)."""
    pages = []
    for warc in sorted(DOCUMENTS.glob("doc-*.warc.gz")):
        rid = int(warc.name[len("doc-"):-len(".warc.gz")])
        index = WarcIndex(warc)
        hop = index.get(f"{PRODUCTION}/document/{rid}")
        slug = (hop.header("Location") or "").rstrip("/").rsplit("/", 1)[-1]
        page = index.get(f"{PRODUCTION}/document/{slug}")
        assert page.status == 200, warc
        pages.append(FixturePage(rid, slug, page.body))
    return tuple(pages)


def expected_record(record_id: int) -> dict:
    return json.loads((EXPECTED / f"{record_id}.json").read_text(encoding="utf-8"))


def fixture_problems(record_id: int) -> list[str]:
    """The problem phrases the fixture's scenario says must be flagged (none for most)."""
    scenarios = json.loads((EXPECTED / "scenarios.json").read_text(encoding="utf-8"))["scenarios"]
    return next((s.get("problems", []) for s in scenarios.values() if s["record_id"] == record_id), [])


# -- the fault catalogue --------------------------------------------------------------
@dataclass(frozen=True)
class FaultSpec:
    count: int  # cases per plan of 200 IDs (scaled for other sizes)
    expect: str  # outcome status: new (stored), failed, not_found, gone, blocked
    reason: str | None  # regex the outcome detail must match
    problem: str | None  # regex one of the stored record's problems must match
    what: str  # for docs/reliability.md


# `ok` fills the rest of the plan. Transient faults ("…_once") end in a good page: a retry
# that succeeds is a good page and must be stored like one.
FAULTS: dict[str, FaultSpec] = {
    "delay": FaultSpec(8, "new", None, None, "headers after 20-120 ms"),
    "slow_body": FaultSpec(4, "new", None, None, "body in 4 pieces, 30 ms apart"),
    "timeout": FaultSpec(3, "failed", r"timeout", None, "no answer until the client gives up, every try"),
    "timeout_once": FaultSpec(3, "new", None, None, "no answer on the first try, then the page"),
    "reset": FaultSpec(3, "failed", r"ReadError|RemoteProtocolError|reset|disconnected", None,
                       "connection reset (RST) before any answer, every try"),
    "reset_once": FaultSpec(3, "new", None, None, "connection reset on the first try, then the page"),
    "reset_mid_body": FaultSpec(3, "failed", r"ReadError|RemoteProtocolError|reset|incomplete|truncated", None,
                                "headers and part of the body, then a reset"),
    "empty_reply": FaultSpec(2, "failed", r"RemoteProtocolError|disconnected", None,
                             "connection closed without a byte"),
    "garbage_reply": FaultSpec(2, "failed", r"RemoteProtocolError|LocalProtocolError|illegal|invalid", None,
                               "a reply that is not HTTP"),
    "truncated": FaultSpec(3, "failed", r"truncated|incomplete|RemoteProtocolError", None,
                           "body shorter than Content-Length, connection closed"),
    "truncated_once": FaultSpec(3, "new", None, None, "truncated on the first try, then the page"),
    "length_long": FaultSpec(3, "failed", r"truncated|incomplete|RemoteProtocolError", None,
                             "Content-Length larger than the body sent"),
    "length_short": FaultSpec(3, "new", None, r"no Record ID shown",
                              "Content-Length cut inside the document (HTTP cannot tell): stored with problems"),
    "length_invalid": FaultSpec(2, "failed", r"RemoteProtocolError|Content-Length|content-length", None,
                                "a Content-Length that is not a number, or two that disagree"),
    "status_429_once_seconds": FaultSpec(1, "new", None, None, "429 with Retry-After: 1, then the page"),
    "status_429_once_date": FaultSpec(1, "new", None, None,
                                      "429 with Retry-After as an HTTP-date (now), then the page"),
    "status_500": FaultSpec(2, "failed", r"HTTP 500", None, "500 on every try"),
    "status_502": FaultSpec(2, "failed", r"HTTP 502", None, "502 on every try"),
    "status_503": FaultSpec(2, "failed", r"HTTP 503", None, "503 on every try"),
    "status_5xx_twice": FaultSpec(3, "new", None, None, "503 then 502, then the page"),
    "redirect_loop": FaultSpec(3, "failed", r"redirect loop", None, "A -> B -> A"),
    "redirect_chain": FaultSpec(2, "failed", r"too many redirects", None, "more redirects than allowed"),
    "redirect_offhost": FaultSpec(10, "failed", r"refused to (leave|follow)", None,
                                  "Location elsewhere (other port, //host, user@host, localhost, https, "
                                  "javascript:, file:, IDN, percent-encoded, backslash)"),
    "endless": FaultSpec(3, "failed", r"over the cap", None,
                         "a 200 whose body never ends (close-delimited or chunked)"),
    "huge_declared": FaultSpec(2, "failed", r"over the cap", None, "Content-Length: 10^12"),
    "drip": FaultSpec(1, "failed", r"timeout", None, "a body that drips a few bytes every 50 ms, forever"),
    "bad_gzip": FaultSpec(2, "failed", r"undecodable", None, "Content-Encoding: gzip over bytes that are not gzip"),
    "encoding_cp1252": FaultSpec(3, "new", None, r"declared utf-8 but is windows-1252",
                                 "charset=utf-8 in the header, windows-1252 bytes"),
    "encoding_latin1": FaultSpec(3, "new", None, r"declared iso-8859-1 but is utf-8",
                                 "charset=iso-8859-1 in the header, UTF-8 bytes"),
    "encoding_undeclared": FaultSpec(2, "new", None, None, "no charset in the header, windows-1252 bytes"),
    "not_found": FaultSpec(2, "not_found", r"not found", None, "404"),
    "gone": FaultSpec(2, "gone", r"gone", None, "410"),
    "not_a_document": FaultSpec(2, "not_document", r"not a document page", None, "a 200 that is not a document page"),
    "empty_200": FaultSpec(2, "failed", r"empty page", None, "a 200 with an empty body"),
    "challenge": FaultSpec(1, "blocked", r"bot-protection challenge", None,
                           "a Cloudflare challenge (stops the run; placed among the last IDs)"),
}

OFFHOST_VARIANTS = (
    "{trap}/evil", "//evil.example/x", "http://{host}@evil.example/", "http://localhost:{port}/document/x",
    "https://{host}/document/x", "javascript:alert(1)", "file:///etc/passwd", "http://xn--e1afmkfd.example/",
    "http://%65vil.example/", "http://{host}\\@evil.example/", "http://evil.example\\@{host}/",
    "http://[::1]:{port}/document/x", "http://0x7f000001:{port}/document/x", "http://127.1:{port}/document/x",
)
NOT_A_DOCUMENT = (b"<!DOCTYPE html><html><head><title>Search | Wilson Center Digital Archive</title></head>"
                  b"<body><main><h1>Search</h1><p>Nothing here.</p></main></body></html>")
CHALLENGE = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
             b"<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1'></script></body></html>")


@dataclass
class Case:
    record_id: int
    kind: str
    page: FixturePage | None = None
    params: dict = field(default_factory=dict)

    @property
    def spec(self) -> FaultSpec:
        return FAULTS.get(self.kind) or FaultSpec(0, "new", None, None, "the fixture page")

    @property
    def page_path(self) -> str:
        assert self.page is not None
        return f"/document/{self.slug}"

    @property
    def slug(self) -> str:
        assert self.page is not None
        return f"{self.page.slug}-r{self.record_id}"

    def body(self) -> bytes:
        """The fixture page rewritten for this ID: its slug and its Record ID block."""
        assert self.page is not None
        text = self.page.body.decode("utf-8").replace(f"/document/{self.page.slug}", f"/document/{self.slug}")
        text = re.sub(rf'(<h3 class="sub-title">Record ID</h3>\s*<div class="text">){self.page.record_id}(</div>)',
                      rf"\g<1>{self.record_id}\g<2>", text)
        return text.encode("utf-8")

    def expected(self) -> dict:
        """The record's content fields, as the fixture's expected record says, for this ID."""
        assert self.page is not None
        want = expected_record(self.page.record_id)
        want["record_id"] = self.record_id
        want["slug"] = self.slug
        want["url"] = f"{PRODUCTION}/document/{self.slug}"
        return want


@dataclass
class FaultPlan:
    seed: int
    cases: dict[int, Case]
    order: list[int]

    @classmethod
    def build(cls, seed: int, n: int = 200, *, first_id: int = 700_001) -> FaultPlan:
        rng = random.Random(seed)
        kinds: list[str] = []
        for kind, spec in FAULTS.items():
            if kind != "challenge":
                kinds += [kind] * max(1, round(spec.count * n / 200))
        if len(kinds) > n - 1:
            raise ValueError(f"{n} IDs are too few for every fault kind")
        kinds += ["ok"] * (n - 1 - len(kinds))
        rng.shuffle(kinds)
        kinds.insert(n - 1 - rng.randrange(3), "challenge")  # a block stops the run: keep it near the end
        pages = fixture_pages()
        cases: dict[int, Case] = {}
        order = []
        offhost = 0
        for i, kind in enumerate(kinds):
            rid = first_id + seed * 10_000 + i
            choices = pages
            if kind == "encoding_cp1252" or kind == "encoding_undeclared":
                choices = tuple(p for p in pages if p.non_ascii and p.cp1252_ok)
            elif kind == "encoding_latin1":
                choices = tuple(p for p in pages if p.non_ascii)
            case = Case(rid, kind, rng.choice(choices))
            if kind == "delay":
                case.params["delay"] = rng.uniform(0.02, 0.12)
            elif kind == "length_short":
                case.params["cut"] = rng.random()
            elif kind in {"truncated", "truncated_once", "reset_mid_body"}:
                case.params["cut"] = rng.uniform(0.1, 0.9)
            elif kind == "redirect_offhost":
                case.params["variant"] = OFFHOST_VARIANTS[(offhost + seed) % len(OFFHOST_VARIANTS)]
                offhost += 1
            elif kind in {"endless", "length_invalid"}:
                case.params["variant"] = rng.randrange(2)
            cases[rid] = case
            order.append(rid)
        return cls(seed, cases, order)

    @classmethod
    def empty(cls) -> FaultPlan:
        """No IDs: a server answering only its `routes` (and 404 elsewhere)."""
        return cls(0, {}, [])

    def counts(self) -> Counter[str]:
        return Counter(c.kind for c in self.cases.values())


# -- the server -----------------------------------------------------------------------
@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    at: float


def _reset(conn: socket.socket) -> None:
    """Close with RST instead of FIN."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        conn.close()


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    reasons = {200: "OK", 301: "Moved Permanently", 302: "Found", 403: "Forbidden", 404: "Not Found", 410: "Gone",
               429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    lines = [f"HTTP/1.1 {status} {reasons.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _http_date(when: datetime) -> str:
    return format_datetime(when.replace(microsecond=0), usegmt=True)


# -- hostile behaviours (routes) -----------------------------------------------------------
# A behaviour answers one request on the raw socket: (server, connection, attempt number of
# this path) -> True if it already closed the connection.
Behaviour = Callable[["FaultyServer", socket.socket, int], bool]


def bomb_bytes(size: int, encoding: str = "gzip") -> bytes:
    """`size` bytes of zeros (a multiple of 1 MiB), gzip- or raw-deflate-compressed about 1000:1.

    Built in well under a second: after a full flush the compressor starts afresh, so every
    MiB after the first compresses to the same bytes, which are repeated; the gzip trailer's
    CRC is computed over the zeros, so the stream is valid to its end.
    """
    mib = 1 << 20
    count = max(1, size // mib)
    zeros = b"\0" * mib
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else -zlib.MAX_WBITS
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    middle = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()  # an empty final block
    out = first + middle * (count - 1) + last
    if encoding == "gzip":
        crc = 0
        for _ in range(count):
            crc = zlib.crc32(zeros, crc)
        out += struct.pack("<II", crc & 0xFFFFFFFF, (count * mib) & 0xFFFFFFFF)
    return out


def canned(status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None, *,
           content_type: str = "text/html; charset=UTF-8") -> Behaviour:
    """The same answer every time."""
    def answer(server: FaultyServer, conn: socket.socket, attempt: int) -> bool:
        server._send(conn, status, body, headers, content_type=content_type)
        return False
    return answer


def gzip_bomb(size: int = 1 << 30, encoding: str = "gzip") -> Behaviour:
    """A 200 whose body is `size` bytes once decoded, about size/1000 on the wire."""
    payload = bomb_bytes(size, encoding)
    return canned(200, payload, [("Content-Encoding", encoding)])


def trickle_headers(interval: float = 0.5) -> Behaviour:
    """A status line, then one header byte every `interval` seconds, never ending the headers."""
    def answer(server: FaultyServer, conn: socket.socket, attempt: int) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        header = b"X-Slow: " + b"a" * 100_000
        deadline = time.monotonic() + server.stall_limit
        try:
            for byte in header:
                if server._stop.is_set() or time.monotonic() > deadline:
                    break
                conn.sendall(bytes([byte]))
                time.sleep(interval)
        except OSError:
            pass  # the client gave up: that is the point
        return False
    return answer


def endless_continue(interval: float = 0.2) -> Behaviour:
    """`100 Continue` interim responses, one every `interval` seconds, never a final answer."""
    def answer(server: FaultyServer, conn: socket.socket, attempt: int) -> bool:
        deadline = time.monotonic() + server.stall_limit
        try:
            while not server._stop.is_set() and time.monotonic() < deadline:
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                time.sleep(interval)
        except OSError:
            pass
        return False
    return answer


class FaultyServer:
    def __init__(self, plan: FaultPlan, *, stall_limit: float = 10.0,
                 routes: dict[str, Behaviour] | None = None) -> None:
        self.plan = plan
        self.routes: dict[str, Behaviour] = dict(routes or {})
        self.stall_limit = stall_limit
        self.hits: list[Hit] = []
        self.trap_hits = 0
        self.attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._trap = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._pages = {c.page_path: c for c in plan.cases.values() if c.page is not None}
        self._address = self._listener.getsockname()[:2]
        self._trap_address = self._trap.getsockname()[:2]

    # -- lifecycle ------------------------------------------------------------------
    @property
    def host(self) -> str:
        host, port = self._address
        return f"{host}:{port}"

    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    @property
    def trap_url(self) -> str:
        host, port = self._trap_address
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultyServer:
        for target in (self._accept_loop, self._trap_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for sock in (self._listener, self._trap):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _trap_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._trap.accept()
            except OSError:
                return
            with self._lock:
                self.trap_hits += 1
            conn.close()

    def requests_for(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    # -- one connection ---------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        closed = False
        try:
            conn.settimeout(self.stall_limit)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk or len(data) > 65536:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            request_line, *lines = head.split("\r\n")
            path = request_line.split(" ")[1]
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines if ":" in ln)}
            with self._lock:
                self.hits.append(Hit(path, headers, time.monotonic()))
                attempt = self.attempts[path]
                self.attempts[path] += 1
            closed = self._answer(conn, path, attempt)
        except OSError:
            pass
        finally:
            if not closed:
                try:
                    conn.close()
                except OSError:
                    pass

    def _send(self, conn: socket.socket, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
              *, length: str | None = None, content_type: str = "text/html; charset=UTF-8") -> None:
        now = datetime.now(UTC)
        all_headers = [("Date", _http_date(now)), ("Content-Type", content_type), ("Connection", "close")]
        all_headers += headers or []
        all_headers.append(("Content-Length", length if length is not None else str(len(body))))
        conn.sendall(_head(status, all_headers) + body)

    def _stall(self, conn: socket.socket) -> None:
        """Say nothing until the client hangs up (or the stall limit passes)."""
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass

    def _answer(self, conn: socket.socket, path: str, attempt: int) -> bool:
        """Answer one request; True if the connection was already closed (reset)."""
        if path in self.routes:
            return self.routes[path](self, conn, attempt)
        match = re.fullmatch(r"/document/(\d+)", path)
        if match and int(match.group(1)) in self.plan.cases:
            return self._answer_id(conn, self.plan.cases[int(match.group(1))], attempt)
        match = re.fullmatch(r"/hop/(\d+)/(\d+)", path)
        if match:
            case = self.plan.cases[int(match.group(1))]
            step = int(match.group(2))
            target = f"/hop/{case.record_id}/{(step + 1) % 2 if case.kind == 'redirect_loop' else step + 1}"
            self._send(conn, 302, headers=[("Location", target)])
            return False
        case = self._pages.get(path)
        if case is None:
            self._send(conn, 404, b"<html><title>Page not found</title></html>")
            return False
        return self._answer_page(conn, case, attempt)

    def _answer_id(self, conn: socket.socket, case: Case, attempt: int) -> bool:
        kind = case.kind
        if kind == "redirect_loop" or kind == "redirect_chain":
            self._send(conn, 301, headers=[("Location", f"/hop/{case.record_id}/0")])
        elif kind == "redirect_offhost":
            location = case.params["variant"].format(trap=self.trap_url, host=self.host, port=self.port)
            self._send(conn, 301, headers=[("Location", location)])
        elif kind == "not_found":
            self._send(conn, 404, b"<html><head><title>Page not found</title></head><body>No.</body></html>")
        elif kind == "gone":
            self._send(conn, 410, b"<html><head><title>Gone</title></head><body>Gone.</body></html>")
        elif kind == "challenge":
            self._send(conn, 403, CHALLENGE, [("cf-mitigated", "challenge"), ("Server", "cloudflare")])
        else:
            self._send(conn, 301, headers=[("Location", case.page_path)])
        return False

    def _answer_page(self, conn: socket.socket, case: Case, attempt: int) -> bool:
        kind, body = case.kind, case.body()
        headers = [("ETag", f'"{case.record_id}"'), ("Last-Modified", "Tue, 03 Oct 2023 14:30:00 GMT")]
        if kind == "delay":
            time.sleep(case.params["delay"])
        elif kind == "slow_body":
            conn.sendall(_head(200, [("Content-Type", "text/html; charset=UTF-8"), ("Connection", "close"),
                                     ("Content-Length", str(len(body)))]))
            step = len(body) // 4 + 1
            for i in range(0, len(body), step):
                time.sleep(0.03)
                conn.sendall(body[i:i + step])
            return False
        elif kind == "timeout" or (kind == "timeout_once" and attempt == 0):
            self._stall(conn)
            return False
        elif kind == "reset" or (kind == "reset_once" and attempt == 0):
            _reset(conn)
            return True
        elif kind == "reset_mid_body":
            conn.sendall(_head(200, [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", str(len(body)))])
                         + body[:int(len(body) * case.params["cut"])])
            time.sleep(0.02)
            _reset(conn)
            return True
        elif kind == "empty_reply":
            return False
        elif kind == "garbage_reply":
            conn.sendall(b"\x00\x01SSH-2.0-OpenSSH_9.6\r\n\x16\x03\x01 not http at all\r\n\r\n")
            return False
        elif kind == "truncated" or (kind == "truncated_once" and attempt == 0):
            conn.sendall(_head(200, [("Content-Type", "text/html; charset=UTF-8"), ("Connection", "close"),
                                     ("Content-Length", str(len(body)))]) + body[:int(len(body) * case.params["cut"])])
            return False
        elif kind == "length_long":
            self._send(conn, 200, body, headers, length=str(len(body) + 500))
            return False
        elif kind == "length_short":
            # Cut between the title and the Record ID block: the client cannot know.
            start = body.index(b'<h1 class="title"') + 200
            end = body.index(b">Record ID<")
            cut = start + int((end - start) * case.params["cut"])
            self._send(conn, 200, body, headers, length=str(cut))
            return False
        elif kind == "length_invalid":
            if case.params["variant"] == 0:
                self._send(conn, 200, body, headers, length="12abc")
            else:
                self._send(conn, 200, body, headers + [("Content-Length", str(len(body) - 7))])
            return False
        elif kind == "status_429_once_seconds" and attempt == 0:
            self._send(conn, 429, b"slow down", [("Retry-After", "1")])
            return False
        elif kind == "status_429_once_date" and attempt == 0:
            self._send(conn, 429, b"slow down", [("Retry-After", _http_date(datetime.now(UTC)))])
            return False
        elif kind in {"status_500", "status_502", "status_503"}:
            self._send(conn, int(kind[-3:]), b"<html><body>Server error</body></html>")
            return False
        elif kind == "status_5xx_twice" and attempt < 2:
            self._send(conn, (503, 502)[attempt], b"<html><body>Busy</body></html>")
            return False
        elif kind == "endless":
            self._endless(conn, chunked=case.params["variant"] == 1)
            return False
        elif kind == "huge_declared":
            self._send(conn, 200, body, headers, length=str(10**12))
            return False
        elif kind == "drip":
            self._drip(conn)
            return False
        elif kind == "bad_gzip":
            self._send(conn, 200, b"\x1f\x8b\x08\x00this is not gzip" + body[:100],
                       headers + [("Content-Encoding", "gzip")])
            return False
        elif kind == "encoding_cp1252":
            self._send(conn, 200, body.decode("utf-8").encode("cp1252"), headers)
            return False
        elif kind == "encoding_latin1":
            self._send(conn, 200, body, headers, content_type="text/html; charset=iso-8859-1")
            return False
        elif kind == "encoding_undeclared":
            self._send(conn, 200, body.decode("utf-8").encode("cp1252"), headers, content_type="text/html")
            return False
        elif kind == "not_a_document":
            self._send(conn, 200, NOT_A_DOCUMENT, headers)
            return False
        elif kind == "empty_200":
            self._send(conn, 200, b"", headers)
            return False
        self._send(conn, 200, body, headers)
        return False

    def _endless(self, conn: socket.socket, *, chunked: bool) -> None:
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Connection", "close")
        conn.sendall(_head(200, [("Content-Type", "text/html; charset=UTF-8"), framing]))
        block = b"<p>" + b"more " * 3276 + b"</p>"
        piece = (f"{len(block):x}\r\n".encode() + block + b"\r\n") if chunked else block
        try:
            while not self._stop.is_set():
                conn.sendall(piece)
        except OSError:
            pass  # the client hung up: that is the point

    def _drip(self, conn: socket.socket) -> None:
        conn.sendall(_head(200, [("Content-Type", "text/html; charset=UTF-8"), ("Transfer-Encoding", "chunked")]))
        deadline = time.monotonic() + self.stall_limit
        try:
            while time.monotonic() < deadline and not self._stop.is_set():
                conn.sendall(b"4\r\n<p>.\r\n")
                time.sleep(0.05)
        except OSError:
            pass
