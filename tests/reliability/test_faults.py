"""A harvest through a misbehaving archive: good pages stored once and right, bad ones reported, nothing half-written.

Each seed gives a different fault plan over 200 Record IDs (tests/support/faulty_server.py):
which ID meets which fault, which fixture page each good ID gets, delays, cut points and
variants. The real `pipeline.harvest` runs with politeness lifted (1000 requests/s, short
timeouts, 10 ms backoff) so the whole suite stays fast; the retry and redirect limits are
the product's own. `WCDA_FAULT_SEEDS=1,2,3,4,5` and `WCDA_FAULT_IDS=1000` run longer forms.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest

from catalog.store import SQLiteStore
from harvester import pipeline
from harvester.config import Settings, load_settings
from harvester.warc import WarcIndex
from tests.support.faulty_server import PRODUCTION, FaultPlan, FaultyServer, fixture_problems

SEEDS = [int(s) for s in os.environ.get("WCDA_FAULT_SEEDS", "11,22,33").split(",")]
N_IDS = int(os.environ.get("WCDA_FAULT_IDS", "200"))
MAX_RETRIES = 2
URL_FIELDS = ("url", "download_url", "pdf_url")


def fault_settings(base_url: str, tmp_path: Path) -> Settings:
    return load_settings(environ={}, overrides={
        "archive": {"base_url": base_url, "contact": "mailto:test@example.org"},
        "http": {"rate_limit": 1000.0, "concurrency": 6, "max_retries": MAX_RETRIES, "backoff_base": 0.01,
                 "backoff_max": 2.0, "read_timeout": 0.4, "connect_timeout": 0.2,
                 "max_response_bytes": 256 * 1024, "max_redirects": 5},
        "storage": {"database": str(tmp_path / "catalog.db"), "warc_dir": str(tmp_path / "warc")},
    })


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_harvest_through_faults(seed: int, tmp_path: Path) -> None:
    plan = FaultPlan.build(seed, N_IDS)
    with FaultyServer(plan) as server:
        settings = fault_settings(server.base_url, tmp_path)
        with SQLiteStore(settings.storage.database) as store:
            summary = pipeline.harvest(plan.order, settings=settings, store=store)
            stored_ids = set(store.record_ids())
            stored = {rid: store.get(rid) for rid in stored_ids}
            events: dict[int, list[str]] = {}
            for row in store.events():
                events.setdefault(row.record_id, []).append(row.outcome)
        hits = {path: count for path, count in server.attempts.items()}
        trap_hits = server.trap_hits

    # Every ID reported exactly once.
    outcomes = {o.record_id: o for o in summary.outcomes}
    assert len(summary.outcomes) == len(plan.order) and set(outcomes) == set(plan.order)
    blocked_at = plan.order.index(next(r for r in plan.order if plan.cases[r].kind == "challenge"))

    expected_stored = set()
    mismatches: list[str] = []
    for position, rid in enumerate(plan.order):
        case, outcome = plan.cases[rid], outcomes[rid]
        spec = case.spec
        where = f"seed {seed} ID {rid} ({case.kind})"
        if outcome.status == "not_attempted":
            # Only after the block, and never fetched.
            assert position > blocked_at, where
            assert f"/document/{rid}" not in hits and rid not in stored_ids and rid not in events, where
            continue
        if outcome.status != spec.expect:
            mismatches.append(f"{where}: {outcome.status} (expected {spec.expect}): "
                              f"{outcome.detail} {outcome.problems}")
            continue
        if spec.reason and not re.search(spec.reason, outcome.detail):
            mismatches.append(f"{where}: reason {outcome.detail!r} does not match {spec.reason!r}")
        assert events.get(rid) == [outcome.status], f"{where}: history {events.get(rid)}"  # reason kept, once
        if spec.expect != "new":
            assert rid not in stored_ids, f"{where}: a failure left a record behind"
            continue
        expected_stored.add(rid)
        record = stored[rid].record
        problems = list(record.problems)
        if spec.problem and not any(re.search(spec.problem, p) for p in problems):
            mismatches.append(f"{where}: no problem matching {spec.problem!r} in {problems}")
        if case.kind == "length_short":
            continue  # a cut page: its problems say what is missing (checked above)
        got = record.content()
        got.pop("problems")
        for name in URL_FIELDS:
            if got[name]:
                got[name] = got[name].replace(server.base_url, PRODUCTION)
        want = case.expected()
        for name, value in want.items():
            if got[name] != value:
                mismatches.append(f"{where}: field {name!r} is {str(got[name])[:80]!r}, expected {str(value)[:80]!r}")
        wanted = fixture_problems(case.page.record_id)
        for phrase in wanted:
            if not any(phrase.lower() in p.lower() for p in problems):
                mismatches.append(f"{where}: {phrase!r} not flagged in {problems}")
        extra = [p for p in problems if not (spec.problem and re.search(spec.problem, p))
                 and not any(w.lower() in p.lower() for w in wanted)]
        if extra:
            mismatches.append(f"{where}: unexpected problems {extra}")
        if case.kind.endswith(("_once", "_twice")):
            assert hits[case.page_path] >= 2, f"{where}: the fault was never met"
        assert record.provenance.warc_record_id, where
    assert mismatches == []

    # Stored exactly once each, nothing else stored, the database intact.
    assert stored_ids == expected_stored
    conn = sqlite3.connect(tmp_path / "catalog.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM record").fetchone()[0] == len(expected_stored)
    finally:
        conn.close()
    # Never more tries than allowed on any URL, never a request off the archive's host.
    assert max(hits.values()) <= MAX_RETRIES + 1
    assert trap_hits == 0
    # Every good page is kept raw: its redirect and its page are in the harvest's WARC.
    index = WarcIndex(tmp_path / "warc")
    for rid in expected_stored:
        assert f"{server.base_url}/document/{rid}" in index
        assert f"{server.base_url}{plan.cases[rid].page_path}" in index
    assert summary.exit_code == 2  # the challenge
