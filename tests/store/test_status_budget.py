"""`harvester status` shows the archive host's shared request budget and the measured request rate
(issue 11), on each backend, after real harvests through the CLI against the loopback test archive."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from catalog.store import open_store
from harvester.cli import cli
from tests.support.archive_server import Answer
from tests.support.test_archive import DOCUMENT_IDS, TestArchive

IDS = DOCUMENT_IDS[:4]


def test_status_shows_the_shared_budget_its_pause_and_the_measured_rate(url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    with TestArchive(IDS) as site:
        host = site.base_url.split("://", 1)[1].rstrip("/")
        env = {"WCDA_ARCHIVE__BASE_URL": site.base_url, "WCDA_ARCHIVE__CONTACT": "mailto:t@example.org",
               "WCDA_HTTP__RATE_LIMIT": "50", "WCDA_HTTP__MAX_RETRIES": "0",
               "WCDA_STORAGE__WARC_DIR": str(tmp_path / "warc")}

        def run(*args: str) -> tuple[int, str]:
            result = runner.invoke(cli, ["--db", url, *args], env=env, catch_exceptions=False)
            return result.exit_code, result.stdout + result.stderr

        code, out = run("harvest", *map(str, IDS[:3]))
        assert code == 0, out
        sent = len(site.seen)  # every request the archive saw went through the shared budget
        assert sent >= 3
        code, out = run("status")
        assert code == 0, out
        assert (f"budget:    {host}: one request every 0.02 s (50/s) for every worker together; "
                f"{sent} request(s) granted in all") in out, out
        assert (f"rate:      {sent} request(s) in the last minute ({sent / 60:.3g}/s), "
                f"{sent} in the last 10 minutes ({sent / 600:.3g}/s)") in out, out
        assert "paused:" not in out

        # a Retry-After over http.backoff_max: the run stops (exit 75) and every worker is paused
        site.server.route(f"/document/{IDS[3]}", Answer(429, b"slow down", {"Retry-After": "600"}))
        code, out = run("harvest", str(IDS[3]))
        assert code == 75, out
        env["WCDA_HTTP__RATE_LIMIT"] = "25"  # status read with another configuration than the workers'
        code, out = run("status")
        assert code == 0, out
        paused = re.search(r"^paused:    every worker, (\d+) s more \(HTTP 429, Retry-After 600 s\)$", out, re.M)
        assert paused is not None and 590 <= int(paused.group(1)) <= 600, out
        # this status reads another configuration: both rates are shown, the catalog's one spaces requests
        assert f"budget:    {host}: one request every 0.02 s (50/s) for every worker together; " \
               f"workers asked 50/s, this configuration 25/s; {len(site.seen)} request(s) granted" in out, out
    with open_store(url, mode="read") as store:
        state = store.budget_state(host)
        assert state is not None and state.taken == state.last_minute == len(site.seen)
