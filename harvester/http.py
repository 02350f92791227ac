"""HTTP for the harvester: the only module that imports httpx.

Politeness is built in, not optional: one rate limiter shared by every worker
(1 request/s by default, paused for everyone when the site sends Retry-After), a
User-Agent that names the tool and a contact address, strict timeouts, a cap on the
response size (counted on the wire, while streaming), and retries with exponential
backoff and jitter (tenacity) on transport errors, 429 and 5xx only. Redirects are
followed by hand so that none can leave the archive's host.

A bot-protection challenge is never retried and never parsed: it raises Blocked.

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
from urllib.parse import urljoin, urlparse

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from catalog.errors import (
    Blocked,
    ConfigError,
    FetchError,
    Gone,
    NotFound,
    OffHostRedirect,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    TransportError,
    UnexpectedStatus,
)
from harvester import TOOL_NAME, __version__
from harvester.config import Settings
from harvester.parse import is_challenge_html
from harvester.warc import RecordedRequest, RecordedResponse, WarcIndex

REDIRECTS = {301, 302, 303, 307, 308}
# A response must arrive in full within connect_timeout + this many read timeouts: the read
# timeout alone is per read, so a server dripping a byte at a time would never trip it.
TOTAL_TIME_READS = 4
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

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)

    def pause_until(self, when: float) -> None:
        with self._lock:
            self._next = max(self._next, when)


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


def _decode_body(raw: bytes, encoding: str | None) -> bytes:
    enc = (encoding or "identity").strip().lower()
    if enc in {"", "identity"}:
        return raw
    if enc in {"gzip", "x-gzip"}:
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    if enc == "deflate":
        try:
            return zlib.decompress(raw)
        except zlib.error:
            return zlib.decompress(raw, -zlib.MAX_WBITS)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def is_challenge(status: int, headers: list[tuple[str, str]], body: bytes) -> bool:
    """A bot-protection page: Cloudflare's cf-mitigated header, or the challenge page itself."""
    lowered = {k.lower(): v.lower() for k, v in headers}
    if lowered.get("cf-mitigated") == "challenge":
        return True
    if status in {403, 429, 503} or status == 200:
        try:
            text = body[:20000].decode("utf-8", errors="replace")
        except Exception:  # pragma: no cover - decode with errors="replace" does not raise
            return False
        return is_challenge_html(text)
    return False


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
        self.limiter = RateLimiter(None if replay else http.rate_limit, clock=clock, sleep=sleep)
        self.max_retries = 0 if replay else http.max_retries
        self.requests_made = 0
        self._count_lock = threading.Lock()
        self.client = httpx.Client(
            transport=ReplayTransport(replay) if replay else None,
            headers={"User-Agent": self.user_agent, "Accept": "text/html,application/xhtml+xml",
                     "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(http.read_timeout, connect=http.connect_timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=http.concurrency, max_keepalive_connections=http.concurrency),
        )

    # -- public -----------------------------------------------------------------
    def document_url(self, record_id: int) -> str:
        if not isinstance(record_id, int) or isinstance(record_id, bool) or record_id <= 0:
            raise ValueError(f"not a Record ID: {record_id!r}")
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
        if is_challenge(status, response.headers, response.body):
            raise Blocked(final, f"bot-protection challenge (HTTP {status})", status=status)
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
        self.limiter.wait()
        with self._count_lock:
            self.requests_made += 1
        request_headers = [(k, v) for k, v in self.client.headers.items()] + list(conditional.items())
        fetched_at = datetime.now(UTC)
        try:
            response = self._stream(url, conditional)
        except httpx.TimeoutException as exc:
            raise _Retryable(TransportError(url, f"timeout ({type(exc).__name__})")) from exc
        except httpx.InvalidURL as exc:
            # httpx resolves every redirect's Location, even unfollowed, and fails on some
            # (`javascript:alert(1)`): the answer is a redirect we would refuse anyway.
            raise OffHostRedirect(url, f"refused to follow a redirect to an unusable URL ({exc})") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _Retryable(TransportError(url, f"{type(exc).__name__}: {exc}")) from exc
        status, reason, headers, raw, recorded_from = response
        declared = _header(headers, "Content-Length")
        if declared and declared.isdigit() and int(declared) != len(raw) and status != 304:
            # A body shorter than announced was cut off in transit: never parse half a page.
            raise _Retryable(TransportError(url, f"truncated body: {len(raw)} of {declared} bytes"))
        try:
            body = _decode_body(raw, _header(headers, "Content-Encoding"))
        except (zlib.error, ValueError) as exc:
            raise _Retryable(TransportError(url, f"undecodable body: {exc}")) from exc
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
            if retry_after is not None and retry_after > self.settings.http.backoff_max:
                # The site asks for a longer pause than we are allowed to wait: stop asking.
                raise error
            raise _Retryable(error, retry_after)
        return recorded

    def _stream(
        self, url: str, conditional: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes, RecordedResponse | None]:
        cap = self.settings.http.max_response_bytes
        http = self.settings.http
        limit = http.connect_timeout + TOTAL_TIME_READS * http.read_timeout
        deadline = self._clock() + limit
        # NotInRecording (from the replay transport) and ResponseTooLarge pass through as
        # FetchErrors; they are final, so the retry policy lets them out at once.
        with self.client.stream("GET", url, headers=conditional) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise ResponseTooLarge(url, f"Content-Length {declared} over the cap of {cap} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > cap:
                    raise ResponseTooLarge(url, f"body over the cap of {cap} bytes")
                if self._clock() > deadline:
                    raise _Retryable(TransportError(url, f"timeout (the response took over {limit:g} s in total)"))
                chunks.append(chunk)
            headers = [(k, v) for k, v in response.headers.multi_items()]
            recorded_from = response.extensions.get("recorded")
            return response.status_code, response.reason_phrase or "", headers, b"".join(chunks), recorded_from


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
