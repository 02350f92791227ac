"""The HTTP layer against a real server on loopback: politeness, retries, blocks, redirects."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from catalog.errors import (
    AskedToWait,
    Blocked,
    ConfigError,
    Gone,
    NotFound,
    NotInRecording,
    OffHostRedirect,
    ResponseTooLarge,
    ServerError,
    TransportError,
)
from harvester.config import Settings, load_settings
from harvester.http import Fetcher, parse_retry_after
from harvester.warc import WarcIndex, WarcWriter
from tests.support.archive_server import Answer, ArchiveServer

PAGE = b"<html><head><title>A page</title></head><body><h1 class='title'>A</h1></body></html>"
CHALLENGE = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
             b"<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1'></script></body></html>")


def settings_for(base_url: str, **http: object) -> Settings:
    values = {"rate_limit": 1000.0, "max_retries": 2, "backoff_base": 0.01, "backoff_max": 60.0,
              "read_timeout": 2.0, "connect_timeout": 1.0, **http}
    return load_settings(environ={}, overrides={"archive": {"base_url": base_url, "contact": "mailto:test@example.org"},
                                                "http": values})


class Sleeps(list[float]):
    """Records requested sleeps instead of sleeping, so backoff is asserted without waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server():
    with ArchiveServer() as srv:
        yield srv


def test_user_agent_names_tool_and_contact(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(200, PAGE))
    with Fetcher(settings_for(server.base_url)) as fetcher:
        fetcher.get(fetcher.document_url(1))
    ua = server.seen[0].headers["user-agent"]
    assert ua.startswith("wcda-harvester/") and "mailto:test@example.org" in ua


def test_live_fetch_needs_a_contact_address() -> None:
    settings = load_settings(environ={}, overrides={"archive": {"base_url": "http://127.0.0.1:9"}})
    with pytest.raises(ConfigError, match="archive.contact"):
        Fetcher(settings)


def test_rate_limit_spaces_requests(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(200, PAGE))
    with Fetcher(settings_for(server.base_url, rate_limit=5.0)) as fetcher:
        for _ in range(4):
            fetcher.get(fetcher.document_url(1))
    times = [s.at for s in server.seen]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Times are taken on the server, where a busy machine can delay handling one request and so
    # shorten the next gap: the span shows the spacing (jitter only at its ends), each gap that there is one.
    assert len(gaps) == 3 and (times[-1] - times[0]) / 3 >= 0.18 and min(gaps) >= 0.1


def test_redirect_within_host_is_followed(server: ArchiveServer) -> None:
    server.route("/document/175798", Answer(301, b"", {"Location": "/document/cable-no-4785"}))
    server.route("/document/cable-no-4785", Answer(200, PAGE, {"ETag": '"abc"'}))
    with Fetcher(settings_for(server.base_url)) as fetcher:
        result = fetcher.get(fetcher.document_url(175798))
    assert result.final_url == f"{server.base_url}/document/cable-no-4785"
    assert result.redirects == [f"{server.base_url}/document/175798"]
    assert result.response.header("ETag") == '"abc"'


def test_redirect_off_host_is_refused_and_never_followed(server: ArchiveServer) -> None:
    with ArchiveServer() as elsewhere:
        elsewhere.route("/evil", Answer(200, PAGE))
        server.route("/document/1", Answer(302, b"", {"Location": f"{elsewhere.base_url}/evil"}))
        with Fetcher(settings_for(server.base_url)) as fetcher, pytest.raises(OffHostRedirect):
            fetcher.get(fetcher.document_url(1))
        assert elsewhere.seen == []


def test_redirect_loop_is_an_error(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(301, b"", {"Location": "/document/2"}))
    server.route("/document/2", Answer(301, b"", {"Location": "/document/1"}))
    with Fetcher(settings_for(server.base_url)) as fetcher, pytest.raises(TransportError, match="redirect"):
        fetcher.get(fetcher.document_url(1))


def test_server_error_is_retried_with_backoff_then_succeeds(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(503, b"busy"), Answer(502, b"bad gateway"), Answer(200, PAGE))
    sleeps = Sleeps()
    with Fetcher(settings_for(server.base_url, backoff_base=1.0), sleep=sleeps) as fetcher:
        result = fetcher.get(fetcher.document_url(1))
    assert result.status == 200 and len(server.seen) == 3
    backoffs = [s for s in sleeps if s >= 1.0]
    assert len(backoffs) == 2 and backoffs[1] > backoffs[0] - 1.0  # exponential, with jitter < base


def test_server_error_gives_up_after_max_retries(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(500, b"oops"))
    with Fetcher(settings_for(server.base_url, max_retries=2), sleep=Sleeps()) as fetcher:
        with pytest.raises(ServerError):
            fetcher.get(fetcher.document_url(1))
    assert len(server.seen) == 3


def test_retry_after_in_seconds_is_honoured(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(429, b"slow down", {"Retry-After": "7"}), Answer(200, PAGE))
    sleeps = Sleeps()
    with Fetcher(settings_for(server.base_url), sleep=sleeps) as fetcher:
        assert fetcher.get(fetcher.document_url(1)).status == 200
    assert any(6.9 <= s <= 7.0 for s in sleeps)


def test_retry_after_as_http_date_is_honoured(server: ArchiveServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.route("/document/1", Answer(503, b"maintenance", {"Retry-After": when}), Answer(200, PAGE))
    sleeps = Sleeps()
    with Fetcher(settings_for(server.base_url), sleep=sleeps) as fetcher:
        assert fetcher.get(fetcher.document_url(1)).status == 200
    assert any(25 <= s <= 30 for s in sleeps)


def test_retry_after_longer_than_allowed_stops_without_retrying(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(429, b"", {"Retry-After": "7200"}))
    with Fetcher(settings_for(server.base_url, backoff_max=300), sleep=Sleeps()) as fetcher:
        with pytest.raises(AskedToWait) as info:
            fetcher.get(fetcher.document_url(1))
        # The whole run stops asking: the next request is refused before it is sent.
        with pytest.raises(AskedToWait):
            fetcher.get(fetcher.document_url(2))
    assert info.value.retry_after == 7200 and len(server.seen) == 1
    assert "the archive asked us to wait 7200 s" in str(info.value)


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 25 Nov 2026 12:01:00 GMT", now=now) == 60
    assert parse_retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now=now) == 0  # in the past: no wait
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status,headers,body", [
    (403, {"cf-mitigated": "challenge"}, CHALLENGE),
    (503, {}, CHALLENGE),
    (403, {"cf-mitigated": "challenge"}, b"<html></html>"),
])
def test_challenge_is_blocked_at_once_never_retried(server: ArchiveServer, status: int, headers: dict[str, str],
                                                    body: bytes) -> None:
    server.route("/document/1", Answer(status, body, headers))
    with Fetcher(settings_for(server.base_url), sleep=Sleeps()) as fetcher, pytest.raises(Blocked):
        fetcher.get(fetcher.document_url(1))
    assert len(server.seen) == 1


@pytest.mark.parametrize("status,error", [(404, NotFound), (410, Gone)])
def test_not_found_and_gone_are_not_retried(server: ArchiveServer, status: int, error: type) -> None:
    server.route("/document/1", Answer(status, b"<html>no</html>"))
    with Fetcher(settings_for(server.base_url)) as fetcher, pytest.raises(error):
        fetcher.get(fetcher.document_url(1))
    assert len(server.seen) == 1


def test_response_size_cap(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(200, b"x" * 5000))
    with Fetcher(settings_for(server.base_url, max_response_bytes=1000)) as fetcher, pytest.raises(ResponseTooLarge):
        fetcher.get(fetcher.document_url(1))


def test_timeout_is_retried_then_reported(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(200, PAGE, delay=1.5))
    with Fetcher(settings_for(server.base_url, read_timeout=0.3, max_retries=1), sleep=Sleeps()) as fetcher:
        with pytest.raises(TransportError, match="timeout"):
            fetcher.get(fetcher.document_url(1))
    assert len(server.seen) == 2


def test_connection_refused_is_a_transport_error() -> None:
    with ArchiveServer() as srv:
        base = srv.base_url  # a port that was open and is now closed
    with Fetcher(settings_for(base, max_retries=1), sleep=Sleeps()) as fetcher, pytest.raises(TransportError):
        fetcher.get(fetcher.document_url(1))


def test_conditional_request_and_304(server: ArchiveServer) -> None:
    server.route("/document/1", Answer(304, b"", {"ETag": '"v1"'}))
    with Fetcher(settings_for(server.base_url)) as fetcher:
        result = fetcher.get(fetcher.document_url(1), etag='"v1"', last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    assert result.not_modified
    assert server.seen[0].headers["if-none-match"] == '"v1"'
    assert server.seen[0].headers["if-modified-since"] == "Tue, 24 Nov 2026 10:00:00 GMT"


def test_gzip_body_is_decoded_and_kept_raw_in_warc(server: ArchiveServer, tmp_path: Path) -> None:
    page = "<html><h1 class='title'>Кабель № 4785</h1></html>".encode()
    server.route("/document/1", Answer(200, gzip.compress(page), {"Content-Encoding": "gzip"}))
    writer = WarcWriter(tmp_path / "t.warc.gz", software="test")
    with Fetcher(settings_for(server.base_url), on_exchange=writer.write_exchange) as fetcher:
        result = fetcher.get(fetcher.document_url(1))
    writer.close()
    assert result.response.body == page
    replayed = WarcIndex(tmp_path).get(f"{server.base_url}/document/1")
    assert replayed.body == page  # warcio undoes the recorded Content-Encoding


def test_replay_serves_recording_and_refuses_unknown_urls(server: ArchiveServer, tmp_path: Path) -> None:
    server.route("/document/5", Answer(301, b"", {"Location": "/document/five"}))
    server.route("/document/five", Answer(200, PAGE))
    writer = WarcWriter(tmp_path / "rec.warc.gz", software="test")
    with Fetcher(settings_for(server.base_url), on_exchange=writer.write_exchange) as fetcher:
        fetcher.get(fetcher.document_url(5))
    writer.close()
    requests_before = len(server.seen)
    offline = load_settings(environ={}, overrides={"archive": {"base_url": server.base_url}})  # no contact needed
    sleeps = Sleeps()
    with Fetcher(offline, replay=WarcIndex(tmp_path), sleep=sleeps) as fetcher:
        result = fetcher.get(fetcher.document_url(5))
        assert result.final_url.endswith("/document/five") and result.response.body == PAGE
        with pytest.raises(NotInRecording):
            fetcher.get(fetcher.document_url(6))
    assert len(server.seen) == requests_before  # replay never touched the server
    assert sleeps == []


def test_document_url_refuses_non_ids(server: ArchiveServer) -> None:
    with Fetcher(settings_for(server.base_url)) as fetcher:
        for bad in (0, -3, "../etc/passwd"):
            with pytest.raises(ValueError):
                fetcher.document_url(bad)  # type: ignore[arg-type]
