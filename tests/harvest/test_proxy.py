"""Live requests go through the environment's proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY),
as curl and httpx read them: many library networks reach the web only through one."""

from __future__ import annotations

import pytest

from catalog.errors import ConfigError
from harvester.http import Fetcher
from harvester.warc import WarcIndex
from tests.harvest.conftest import warc_for
from tests.harvest.test_http import PAGE, settings_for
from tests.support.archive_server import Answer, ArchiveServer

# A name that never resolves (RFC 2606): only a proxy can reach it.
UNREACHABLE = "http://archive.invalid"


def test_a_live_request_goes_through_the_proxy_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with ArchiveServer() as proxy:
        # A forward proxy is asked for the absolute address (RFC 9112, 3.2.2).
        proxy.route(f"{UNREACHABLE}/document/1", Answer(200, PAGE))
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        with Fetcher(settings_for(UNREACHABLE)) as fetcher:
            result = fetcher.get(fetcher.document_url(1))
        assert result.status == 200 and result.response.body == PAGE
        assert [s.path for s in proxy.seen] == [f"{UNREACHABLE}/document/1"]
        assert proxy.seen[0].headers["user-agent"].startswith("wcda-harvester/")


def test_no_proxy_sends_the_archive_s_host_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    with ArchiveServer() as proxy, ArchiveServer() as archive:
        archive.route("/document/1", Answer(200, PAGE))
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.1")
        with Fetcher(settings_for(archive.base_url)) as fetcher:
            assert fetcher.get(fetcher.document_url(1)).status == 200
        assert [s.path for s in archive.seen] == ["/document/1"] and proxy.seen == []


def test_a_replay_never_uses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the discard port: nothing answers
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    recording = WarcIndex(warc_for(175798))
    with Fetcher(settings_for("https://digitalarchive.wilsoncenter.org"), replay=recording) as fetcher:
        assert fetcher.get(fetcher.document_url(175798)).status in (200, 301, 302)


def test_a_proxy_of_an_unknown_kind_is_one_config_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "gopher://proxy.example.org:70")
    with pytest.raises(ConfigError, match=r"^config: HTTP_PROXY: the proxy 'gopher://proxy.example.org:70' "
                                          r"of the environment cannot be used"):
        Fetcher(settings_for(UNREACHABLE))
