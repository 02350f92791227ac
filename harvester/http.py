"""HTTP for the harvester: the only module that imports httpx.

Politeness is built in, not optional: one rate limiter shared by every worker
(1 request/s by default, paused for everyone when the site sends Retry-After; with a
catalog, every worker process on any machine shares it, see harvester/politeness.py), a
User-Agent that names the tool and a contact address, strict timeouts, a cap on the
response size (counted on the wire and again after decoding, while streaming, so a
compression bomb stops at the cap), one total deadline per request that covers the
headers too (enforced at the socket), and retries with exponential backoff and jitter
(tenacity) on transport errors, 429 and 5xx only. Redirects are followed by hand so
that none can leave the archive's host.

A bot-protection challenge or a protection service's denial (Cloudflare 1020/1015 and
the like) is never retried and never parsed: it raises Blocked. A Retry-After longer
than http.backoff_max raises AskedToWait, and the fetcher then refuses every further
request of the run: the archive asked everyone to stop, not one worker.

Replay plugs in as an httpx transport that answers from recorded WARC files, so
replayed and live fetches go through exactly the same code (redirects, status
handling, challenge detection); replay never sleeps and never touches the network.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urljoin, urlparse

import httpcore
import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from catalog.errors import (
    AskedToWait,
    Blocked,
    ConfigError,
    FetchError,
    Gone,
    NotFound,
    OffHostRedirect,
    OutOfTime,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    TransportError,
    UnexpectedStatus,
)
from harvester import TOOL_NAME, __version__
from harvester.config import Settings
from harvester.site.challenge import is_challenge_html
from harvester.site.selectors import PROTECTION_HEADERS, PROTECTION_MARKERS, PROTECTION_SERVERS
from harvester.warc import RecordedRequest, RecordedResponse, WarcIndex

REDIRECTS = {301, 302, 303, 307, 308}
# A response must arrive in full within connect_timeout + this many read timeouts: the read
# timeout alone is per read, so a server dripping a byte at a time would never trip it.
TOTAL_TIME_READS = 4
# The deadline of the request this thread is making, as time.monotonic(); read by the socket
# streams below. A read timeout is per read, and h11 loops over interim (1xx) responses, so a
# server trickling header bytes or sending `100 Continue` for ever would hold a request open
# for ever; every socket read and write is given at most the time left before this deadline.
_DEADLINE = threading.local()
ExchangeHook = Callable[[RecordedRequest, RecordedResponse], None]


@dataclass
class FetchResult:
    request_url: str
    final_url: str
    response: RecordedResponse
    redirects: list[str] = field(default_factory=list)  # every URL before the final one
    not_modified: bool = False

    @property
    def status(self) -> int:
        return self.response.status


class _Retryable(Exception):
    """Internal: a failure worth another try. Carries the error to raise when tries run out."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Limiter(Protocol):
    """What the fetcher asks before each request: RateLimiter (this process) or
    politeness.SharedLimiter (every worker of a catalog)."""

    interval: float

    def wait(self, deadline: float | None = None) -> float | None: ...
    def pause_until(self, when: float) -> None: ...
    def server_asked(self, seconds: float, status: int) -> None: ...
    def obey_crawl_delay(self, delay: float | None) -> None: ...


class PausedTooLong(Exception):
    """The host is paused for longer than http.backoff_max (a Retry-After another worker
    got): raised by a limiter's wait, turned into AskedToWait by the fetcher."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class RateLimiter:
    """Spaces request starts at least 1/rate seconds apart, across threads.

    `pause_until` holds every worker back when the server asks for a pause
    (Retry-After), so one 429 slows the whole run, not just one worker.
    """

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 0.0 if not rate else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, deadline: float | None = None) -> float | None:
        """Sleep until this request may start. If that is after `deadline` (the run's budget),
        return the seconds it would have waited instead, without sleeping or taking the slot."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            if deadline is not None and start > deadline:
                return start - now
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)
        return None

    def pause_until(self, when: float) -> None:
        with self._lock:
            self._next = max(self._next, when)

    def server_asked(self, seconds: float, status: int) -> None:
        """A Retry-After: in one process the retry's own pause (pause_until) already holds
        every thread back, and one over http.backoff_max stops the fetcher instead."""

    def obey_crawl_delay(self, delay: float | None) -> None:
        # Only ever slower: a Crawl-delay never speeds us past http.rate_limit.
        if delay is not None and delay > self.interval:
            self.interval = delay


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP-date (RFC 9110) as an aware UTC datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After in either form: delta-seconds ("120") or an HTTP-date. None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def user_agent(contact: str | None) -> str:
    who = f"; +{contact}" if contact else ""
    return f"{TOOL_NAME}/{__version__} (archival metadata harvester{who})"


class _OverCap(Exception):
    """The decoded body grew past the cap."""


class BodyDecoder:
    """Undoes Content-Encoding piece by piece, never producing more than `cap` bytes in all.

    A compression bomb (1 MB on the wire, 1 GiB decoded) is stopped after `cap` decoded
    bytes, with at most one cap's worth in memory: zlib is asked for no more output than
    the room left (`max_length`), and the rest of the input waits in `unconsumed_tail`.
    """

    def __init__(self, encoding: str | None, cap: int) -> None:
        enc = (encoding or "identity").strip().lower()
        self.cap = cap
        self.size = 0
        self._pending = b""  # deflate: the first bytes, until zlib-wrapped or raw can be told
        self._z: zlib._Decompress | None = None
        self._kind = enc
        if enc in {"", "identity"}:
            self._kind = "identity"
        elif enc in {"gzip", "x-gzip"}:
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc != "deflate":
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes `data` gives (raises _OverCap, zlib.error)."""
        if self._kind == "identity":
            return self._count(data)
        if self._z is None:  # deflate: RFC 9110 says zlib-wrapped; some servers send it raw
            self._pending += data
            if len(self._pending) < 2:
                return b""
            head = self._pending[0] << 8 | self._pending[1]
            wrapped = self._pending[0] & 0x0F == 8 and head % 31 == 0
            self._z = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            data, self._pending = self._pending, b""
        out: list[bytes] = []
        while data and not self._z.eof:
            piece = self._z.decompress(data, self.cap - self.size + 1)
            out.append(self._count(piece))
            data = self._z.unconsumed_tail
        return b"".join(out)

    def finish(self) -> bytes:
        """The last decoded bytes; raises zlib.error if the compressed stream was cut short."""
        if self._kind == "identity":
            return b""
        if self._z is None:
            if self._pending:
                raise zlib.error("incomplete deflate stream")
            return b""
        rest = self._count(self._z.flush(self.cap - self.size + 1))
        if not self._z.eof:
            raise zlib.error("incomplete compressed stream")
        return rest

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.cap:
            raise _OverCap
        return piece


def _decode_body(raw: bytes, encoding: str | None, cap: int = 2**62) -> bytes:
    """The whole body decoded (tests and one-shot callers); bounded by `cap` like the stream."""
    decoder = BodyDecoder(encoding, cap)
    return decoder.feed(raw) + decoder.finish()


def protection_block(status: int, headers: list[tuple[str, str]], body: bytes) -> str | None:
    """What a bot-protection answer is, or None for an ordinary response.

    A challenge (Cloudflare's cf-mitigated header, or the challenge page itself), or a
    protection service's denial: a 403, 429 or 503 whose body carries the service's own
    wording (Cloudflare error 1020 "Access denied", 1015 "You are being rate limited", an
    Incapsula incident ID…), or a 403 that the service's headers say it sent. A 429 with a
    Retry-After is a rate limit, not a block (see _attempt).
    """
    lowered = {k.lower(): v.lower() for k, v in headers}
    if lowered.get("cf-mitigated") == "challenge":
        return f"bot-protection challenge (HTTP {status})"
    if status not in {200, 403, 429, 503}:
        return None
    text = body[:20000].decode("utf-8", errors="replace")
    if is_challenge_html(text):
        return f"bot-protection challenge (HTTP {status})"
    if status == 200:
        return None
    if status == 429 and "retry-after" in lowered:
        # A rate limit that says when to come back (Cloudflare's 1015 with Retry-After) is
        # honoured as one: a short wait pauses every worker, a long one stops the run.
        return None
    service = next((name for header, name in PROTECTION_HEADERS.items() if header in lowered), None)
    server = lowered.get("server", "")
    service = service or next((name for key, name in PROTECTION_SERVERS.items() if key in server), None)
    lowered_text = text.lower()
    marker = next((m for m in PROTECTION_MARKERS if m in lowered_text), None)
    if marker is None and not (status == 403 and service):
        return None
    code = next((c for c in ("1020", "1015", "1010", "1012", "1006") if f"error code: {c}" in lowered_text
                 or f"error {c}" in lowered_text), None)
    return (f"blocked by {service or 'a protection service'} (HTTP {status}"
            + (f", error {code}" if code else "") + ")")


def is_challenge(status: int, headers: list[tuple[str, str]], body: bytes) -> bool:
    """A bot-protection answer of any kind (see protection_block)."""
    return protection_block(status, headers, body) is not None


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the thread's request deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    @staticmethod
    def _left(timeout: float | None, error: type[Exception]) -> float | None:
        at = getattr(_DEADLINE, "at", None)
        if at is None:
            return timeout
        left = at - time.monotonic()
        if left <= 0:
            raise error("the request's total deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[no-untyped-def]
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     self._left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        timeout = _DeadlineStream._left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _live_transport(limits: httpx.Limits, proxy: str | None = None) -> httpx.HTTPTransport:
    """httpx's own transport (direct, or through `proxy`), its connections on the deadline-keeping sockets.

    httpx has no public switch for the network backend, so the pool it built gets ours in place of
    its default (tests/reliability/test_hostile_http.py fails if httpx changes this).
    """
    try:
        transport = httpx.HTTPTransport(limits=limits, proxy=proxy)
    except (ValueError, ImportError, httpx.InvalidURL) as exc:  # a proxy of an unknown kind, or SOCKS without socksio
        raise ConfigError("HTTP_PROXY", f"the proxy {proxy!r} of the environment cannot be used: {exc}") from None
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):  # pragma: no cover - only if httpcore changes its pools
        raise RuntimeError("httpcore's connection pool has no network backend to replace")
    pool._network_backend = _DeadlineBackend()
    return transport


def _proxy_mounts(limits: httpx.Limits) -> dict[str, httpx.BaseTransport | None]:
    """The proxies of the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), read as httpx
    reads them: a library's network often allows the web only through one. httpx ignores them when
    it is given a transport of its own, as here, so they are mounted explicitly (None: no proxy)."""
    from httpx._utils import get_environment_proxies  # httpx's reading of the variables (curl's rules)

    return {pattern: None if url is None else _live_transport(limits, url)
            for pattern, url in get_environment_proxies().items()}


class ReplayTransport(httpx.BaseTransport):
    """An httpx transport that answers from recorded WARC files and never opens a socket."""

    def __init__(self, index: WarcIndex) -> None:
        self.index = index

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        recorded = self.index.get(str(request.url))  # NotInRecording if absent
        headers = recorded.headers
        # A stream, not `content=`: the fetcher reads raw chunks exactly as from a socket.
        return httpx.Response(recorded.status, headers=headers, stream=httpx.ByteStream(recorded.body),
                              extensions={"reason_phrase": recorded.reason.encode(), "recorded": recorded})


class Fetcher:
    """Fetches archive URLs politely; live or from a recording."""

    def __init__(
        self,
        settings: Settings,
        *,
        replay: WarcIndex | None = None,
        on_exchange: ExchangeHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.settings = settings
        self.replay = replay
        self.on_exchange = on_exchange
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        http = settings.http
        self.base_url = settings.archive.base_url
        self.host = urlparse(self.base_url).netloc.lower()
        self._origin = _origin(self.base_url)
        if replay is None and not settings.archive.contact:
            raise ConfigError("archive.contact", "a contact address (e-mail or URL) is required for live requests; "
                                                 "it goes in the User-Agent so the archive can reach a person")
        self.user_agent = user_agent(settings.archive.contact)
        # Replay answers from disk: no politeness delay, and no retries (the answer cannot change).
        # `limiter`: the catalog's shared budget (harvester/politeness.py); never for a replay.
        self.limiter: Limiter = limiter if limiter is not None and replay is None else \
            RateLimiter(None if replay else http.rate_limit, clock=clock, sleep=sleep)
        self.max_retries = 0 if replay else http.max_retries
        self.requests_made = 0
        self._count_lock = threading.Lock()
        # The end of the run's time budget (on `clock`), set by a sync with --max-minutes: no
        # request starts, waits or runs past it.
        self.deadline: float | None = None
        # Set once the archive asks for a longer pause than http.backoff_max: every later
        # request of this fetcher is refused (the whole run stops asking).
        self.asked_to_wait: AskedToWait | None = None
        if replay is not None:
            replay.max_body = min(replay.max_body, http.max_response_bytes)
        limits = httpx.Limits(max_connections=http.concurrency, max_keepalive_connections=http.concurrency)
        self.client = httpx.Client(
            transport=ReplayTransport(replay) if replay else _live_transport(limits),
            # A replay never leaves the disk; a live run goes through the environment's proxy, if any.
            mounts=None if replay else _proxy_mounts(limits),
            headers={"User-Agent": self.user_agent, "Accept": "text/html,application/xhtml+xml",
                     "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(http.read_timeout, connect=http.connect_timeout),
            follow_redirects=False,
            limits=limits,
        )

    # -- public -----------------------------------------------------------------
    def set_budget(self, seconds: float) -> None:
        """The run must end `seconds` from now: no request starts, waits or runs past that."""
        self.deadline = self._clock() + seconds

    def document_url(self, record_id: int) -> str:
        if not isinstance(record_id, int) or isinstance(record_id, bool) or record_id <= 0:
            raise ValueError(f"not a Record ID: {record_id!r}")
        if self.replay is not None and record_id in self.replay.page_urls:  # recorded under its slug only
            return self.replay.page_urls[record_id]
        return f"{self.base_url}/document/{record_id}"

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET `url`, following redirects within the archive's host. Raises a FetchError."""
        self._check_host(url, url)
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        redirects: list[str] = []
        current = url
        while True:
            response = self._get_with_retries(current, conditional)
            if response.status in REDIRECTS:
                location = response.header("Location")
                if not location:
                    raise UnexpectedStatus(current, f"redirect {response.status} without Location",
                                           status=response.status)
                target = urljoin(current, location)
                self._check_host(target, current)
                redirects.append(current)
                if target in redirects or len(redirects) > self.settings.http.max_redirects:
                    raise TransportError(url, f"redirect loop or too many redirects ({len(redirects)})")
                current = target
                continue
            return self._result(url, current, response, redirects)

    def location(self, url: str) -> str | None:
        """Where `url` redirects to (absolute, on the archive's host), without following it; None
        if it answers anything but a redirect. One request (plus retries), kept in the WARC."""
        self._check_host(url, url)
        response = self._get_with_retries(url, {})
        location = response.header("Location") if response.status in REDIRECTS else None
        if not location:
            block = protection_block(response.status, response.headers, response.body)
            if block is not None:
                raise Blocked(url, block, status=response.status)
            return None
        target = urljoin(url, location)
        self._check_host(target, url)
        return target

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------
    def _check_host(self, target: str, origin: str) -> None:
        """Only the archive's own origin: same scheme, host and port, no user info, read both by
        the standard library and by httpx (which sends the request), so no parser trick helps."""
        parsed = urlparse(target)
        if (parsed.scheme not in {"http", "https"} or parsed.netloc.lower() != self.host
                or _origin(target) != self._origin):
            raise OffHostRedirect(origin, f"refused to leave {self.host} for {target}")

    def _result(self, url: str, final: str, response: RecordedResponse, redirects: list[str]) -> FetchResult:
        status = response.status
        block = protection_block(status, response.headers, response.body)
        if block is not None:
            raise Blocked(final, block, status=status)
        if status == 200:
            return FetchResult(url, final, response, redirects)
        if status == 304:
            return FetchResult(url, final, response, redirects, not_modified=True)
        if status == 404:
            raise NotFound(final, status=404)
        if status == 410:
            raise Gone(final, status=410)
        raise UnexpectedStatus(final, f"HTTP {status}", status=status)

    def _wait_strategy(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return exc.retry_after
        http = self.settings.http
        exp = http.backoff_base * (2 ** (state.attempt_number - 1))
        return min(http.backoff_max, exp + self._rng.uniform(0, http.backoff_base or 1.0))

    def _get_with_retries(self, url: str, conditional: dict[str, str]) -> RecordedResponse:
        def sleep(seconds: float) -> None:
            # Waiting is the limiter's job: pausing it holds back every worker, and the
            # next attempt's limiter.wait() does the sleeping.
            self.limiter.pause_until(self._clock() + seconds)

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait_strategy,
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            sleep=sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, conditional)
        except _Retryable as exc:
            raise exc.error from None

    def _attempt(self, url: str, conditional: dict[str, str]) -> RecordedResponse:
        if self.asked_to_wait is not None:
            asked = self.asked_to_wait
            raise AskedToWait(url, asked.detail, status=asked.status, retry_after=asked.retry_after)
        try:
            early = self.limiter.wait(self.deadline)
        except PausedTooLong as exc:
            if self.asked_to_wait is not None:  # this process was asked (and recorded it): that error
                asked = self.asked_to_wait
                raise AskedToWait(url, asked.detail, status=asked.status, retry_after=asked.retry_after) from None
            # Another worker of the catalog was asked to wait longer than we may: stop like it.
            asked = AskedToWait(url, f"the archive asked every worker to wait {exc.seconds:.0f} s "
                                     f"({exc.reason}; over http.backoff_max {self.settings.http.backoff_max:g} s)",
                                retry_after=exc.seconds)
            self.asked_to_wait = self.asked_to_wait or asked
            raise asked from None
        if early is not None:
            raise OutOfTime(url, f"the run's time budget ends before the next request may start (in {early:.0f} s)")
        with self._count_lock:
            self.requests_made += 1
        request_headers = [(k, v) for k, v in self.client.headers.items()] + list(conditional.items())
        fetched_at = datetime.now(UTC)
        http = self.settings.http
        limit = http.connect_timeout + TOTAL_TIME_READS * http.read_timeout
        started = self._clock()
        try:
            response = self._stream(url, conditional, started + limit)
        except httpx.TimeoutException as exc:
            now = self._clock()
            if self.deadline is not None and now >= self.deadline:
                raise OutOfTime(url, "the run's time budget ended during the request") from exc
            if now - started >= limit:
                raise _Retryable(TransportError(url, f"timeout (the response took over {limit:g} s in total)")) from exc
            raise _Retryable(TransportError(url, f"timeout ({type(exc).__name__})")) from exc
        except httpx.InvalidURL as exc:
            # httpx resolves every redirect's Location, even unfollowed, and fails on some
            # (`javascript:alert(1)`): the answer is a redirect we would refuse anyway.
            raise OffHostRedirect(url, f"refused to follow a redirect to an unusable URL ({exc})") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _Retryable(TransportError(url, f"{type(exc).__name__}: {exc}")) from exc
        status, reason, headers, raw, body, recorded_from = response
        recorded = RecordedResponse(url=url, status=status, reason=reason, headers=headers, body=body,
                                    fetched_at=fetched_at, raw_body=raw if raw is not body else None)
        if recorded_from is not None:
            # Replayed: provenance is the original recording's (its time, file and record id).
            recorded.fetched_at = recorded_from.fetched_at
            recorded.warc_file = recorded_from.warc_file
            recorded.warc_record_id = recorded_from.warc_record_id
        if self.on_exchange is not None:
            self.on_exchange(RecordedRequest("GET", url, request_headers), recorded)
        if is_challenge(status, headers, body):
            return recorded  # never retried: _result raises Blocked
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(_header(headers, "Retry-After"), now=_server_time(headers))
            error_cls = RateLimited if status == 429 else ServerError
            error = error_cls(url, f"HTTP {status}" + (f", Retry-After {retry_after:.0f}s" if retry_after else ""),
                              status=status, retry_after=retry_after)
            if retry_after is not None and retry_after > self.settings.http.backoff_max and self.replay is not None:
                raise error  # a recording's 429: nobody to wait for, this ID fails
            if retry_after is not None and retry_after > self.settings.http.backoff_max:
                # The site asks for a longer pause than we are allowed to wait: this run stops
                # asking, on every worker (later requests are refused before they are sent).
                asked = AskedToWait(url, f"the archive asked us to wait {retry_after:.0f} s (HTTP {status}, "
                                         f"Retry-After over http.backoff_max {self.settings.http.backoff_max:g} s)",
                                    status=status, retry_after=retry_after)
                self.asked_to_wait = self.asked_to_wait or asked
                # Recorded after asked_to_wait is set: this process's other threads, which may see
                # the catalog's pause first, stop with this error rather than a second one.
                self.limiter.server_asked(retry_after, status)
                raise asked
            if retry_after is not None:
                # Every worker of the catalog pauses, not only this one (a no-op in one process,
                # where the retry's own pause holds back every thread).
                self.limiter.server_asked(retry_after, status)
            raise _Retryable(error, retry_after)
        return recorded

    def _stream(
        self, url: str, conditional: dict[str, str], deadline: float
    ) -> tuple[int, str, list[tuple[str, str]], bytes, bytes, RecordedResponse | None]:
        """One GET: (status, reason, headers, raw body as on the wire, decoded body, recording)."""
        cap = self.settings.http.max_response_bytes
        if self.deadline is not None:
            deadline = min(deadline, self.deadline)
        # The sockets see real monotonic time; `deadline` is on this fetcher's clock.
        _DEADLINE.at = time.monotonic() + (deadline - self._clock())
        try:
            # NotInRecording (from the replay transport) and ResponseTooLarge pass through as
            # FetchErrors; they are final, so the retry policy lets them out at once.
            with self.client.stream("GET", url, headers=conditional) as response:
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise ResponseTooLarge(url, f"Content-Length {declared} over the cap of {cap} bytes")
                try:
                    decoder = BodyDecoder(response.headers.get("Content-Encoding"), cap)
                except ValueError as exc:
                    raise _Retryable(TransportError(url, f"undecodable body: {exc}")) from exc
                raw: list[bytes] = []
                decoded: list[bytes] = []
                size = 0
                try:
                    for chunk in response.iter_raw():
                        size += len(chunk)
                        if size > cap:
                            raise ResponseTooLarge(url, f"body over the cap of {cap} bytes")
                        raw.append(chunk)
                        decoded.append(decoder.feed(chunk))
                    decoded.append(decoder.finish())
                except _OverCap:
                    raise ResponseTooLarge(url, f"decoded body over the cap of {cap} bytes "
                                                f"({size} bytes on the wire so far)") from None
                except zlib.error as exc:
                    if declared and declared.isdigit() and int(declared) != size:
                        raise _Retryable(TransportError(url, f"truncated body: {size} of {declared} bytes")) from exc
                    raise _Retryable(TransportError(url, f"undecodable body: {exc}")) from exc
                headers = [(k, v) for k, v in response.headers.multi_items()]
                recorded_from = response.extensions.get("recorded")
                status = response.status_code
        finally:
            _DEADLINE.at = None
        if declared and declared.isdigit() and int(declared) != size and status != 304:
            # A body shorter than announced was cut off in transit: never parse half a page.
            raise _Retryable(TransportError(url, f"truncated body: {size} of {declared} bytes"))
        body = b"".join(raw)
        plain = body if decoder._kind == "identity" else b"".join(decoded)
        return status, response.reason_phrase or "", headers, body, plain, recorded_from


def _origin(url: str) -> tuple[str, str, int | None, bool] | None:
    """(scheme, host, port, has user info) as httpx will use them; None if httpx cannot parse it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    return parsed.scheme, parsed.host.lower(), parsed.port, bool(parsed.userinfo)


def _server_time(headers: list[tuple[str, str]]) -> datetime | None:
    """The response's own Date: an HTTP-date Retry-After is measured against the server's
    clock, so our clock's skew (or a replayed recording's age) cannot distort the wait."""
    return parse_http_date(_header(headers, "Date"))


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    lname = name.lower()
    return next((v for k, v in headers if k.lower() == lname), None)
