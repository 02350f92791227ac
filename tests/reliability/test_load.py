"""Load: the real `harvester serve` under many concurrent clients while a real `harvester sync`
changes, adds and deletes documents in the same catalog.

- The catalog: 3,000 synthetic records (every 10th a tombstone) plus the documents of the
  loopback test archive (`tests/support/test_archive.py`), seeded by a first sync.
- `harvester serve` (waitress, its default threads) runs as a subprocess on a free loopback port.
- WCDA_LOAD_CLIENTS (default 50) client threads, one httpx connection each, run a realistic
  mix for WCDA_LOAD_SECONDS (default 8; `WCDA_LOAD_SECONDS=60` is the long form): Identify,
  ListMetadataFormats, ListSets, GetRecord, ListRecords first pages and token-following,
  ListIdentifiers with sets and tokens, incremental ListRecords (from = today). The load goes on
  until the sync has finished too (capped), so the whole sync runs under load.
- About a second in, `harvester sync` (a subprocess) runs against the test archive, in which
  documents were changed, renamed, touched, deleted (404 and 410) and added.

Asserted: zero errors (every answer HTTP 200 and well-formed, no OAI error but the expected
noRecordsMatch of an incremental harvest, no transport failure), a sample of every verb valid
against OAI-PMH.xsd, the sync finished and every change it reports is in the catalog, exactly
the changes made on the site, `PRAGMA integrity_check` ok, a full sickle harvest equals the
catalog, and the server's log has no traceback and no `database is locked`. Latency percentiles
and requests/s are printed (run with -s to see them), never asserted.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree
from sickle import Sickle

from catalog.oai.sets import record_sets  # also registers the set-membership write hook for the seed
from catalog.runs import Runs
from catalog.store import SQLiteStore, to_db_time
from harvester.sync import run_sync
from tests.oai.catalog_builder import START, make_record
from tests.support.schemas import oai_pmh_schema
from tests.support.test_archive import DOCUMENT_IDS, TestArchive
from tests.sync.conftest import CONTACT, make_settings

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = int(os.environ.get("WCDA_LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("WCDA_LOAD_SECONDS", "8"))
SYNC_CAP = 180.0  # the load waits for the sync at most this long after SECONDS
SYNTHETIC = 3000
REPO = "digitalarchive.wilsoncenter.org"
OAI = {"oai": "http://www.openarchives.org/OAI/2.0/"}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
SETS = ["type:cable", "type:letter", "language:rus", "language:zho", "subject:cold-war", "archive"]
SAMPLE_EVERY = 40  # keep every 40th body (per verb) for schema validation after the load

# What the site does between the seed sync and the concurrent one.
COPIES = list(range(400001, 400011))  # published before the seed sync
NEW = list(range(400101, 400111))  # published during the load: must come out `new`
CHANGED = [175798, 300237, 300638, 999002, 400003]
RENAMED = 300239
TOUCHED = [300240, 999005]
DELETED = {300241: 404, 999006: 410, 400005: 404}


@dataclass
class Result:
    started: float
    seconds: float
    verb: str
    error: str | None = None


@dataclass
class Load:
    results: list[Result] = field(default_factory=list)
    samples: dict[str, list[bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(db: Path, warc: Path, archive_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCDA_")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "WCDA_STORAGE__DATABASE": str(db), "WCDA_STORAGE__WARC_DIR": str(warc),
        "WCDA_ARCHIVE__BASE_URL": archive_url, "WCDA_ARCHIVE__CONTACT": CONTACT,
        "WCDA_HTTP__RATE_LIMIT": "1000", "WCDA_HTTP__MAX_RETRIES": "1", "WCDA_HTTP__BACKOFF_BASE": "0.01",
        "WCDA_SYNC__TOMBSTONE_AFTER": "1",
        "WCDA_OAI__REPOSITORY_IDENTIFIER": REPO,  # no default any more (must be the operator's domain)
        # Only the archive's documents are due (the synthetic records were "checked" recently).
        "WCDA_SYNC__REVALIDATE_DAYS": "3650",
        # The synthetic records have fields the fixture pages lack: no markup-change alarm here.
        "WCDA_SYNC__QUALITY_MIN_PAGES": "100000",
    })
    return env


def _build(tmp: Path, archive: TestArchive) -> tuple[Path, list[int]]:
    """Seed sync of the archive's documents, then the synthetic records; returns the db and every id."""
    settings = make_settings(archive.base_url, tmp, tombstone_after=1)
    db = Path(settings.storage.database)
    with SQLiteStore(db) as store:
        first = run_sync(settings=settings, store=store)
        assert first.report["status"] == "finished", first.report
        with store.transaction():
            for i in range(SYNTHETIC):
                store.upsert(make_record(i), now=START + timedelta(seconds=i * 61, microseconds=i))
            for i in range(0, SYNTHETIC, 10):
                store.tombstone(make_record(i).record_id, now=START + timedelta(days=120, seconds=i))
            # The newest records of every list are synthetic ones that never change, so a
            # token issued before the sync always has records left to send (a list whose whole
            # tail moved past its frozen `until` would be badResumptionToken, a known limit).
            for i in range(SYNTHETIC, SYNTHETIC + 60):
                store.upsert(make_record(i))
            real = [*DOCUMENT_IDS, *COPIES]
            store.connection.execute(
                f"UPDATE record SET last_checked = ? WHERE record_id IN ({','.join('?' * len(real))})",
                [to_db_time(datetime(2000, 1, 1, tzinfo=UTC)), *real])
        ids = store.record_ids()
    return db, ids


def _change_the_site(archive: TestArchive) -> None:
    for rid in NEW:
        archive.add(DOCUMENT_IDS[rid % len(DOCUMENT_IDS)], as_id=rid)
    for rid in CHANGED:
        archive.change(rid, note="revised under load")
    archive.rename(RENAMED, "renamed-under-load")
    for rid in TOUCHED:
        archive.touch(rid)
    for rid, status in DELETED.items():
        archive.delete(rid, status=status)


# -- the clients ----------------------------------------------------------------------------------
def _get(client: httpx.Client, url: str, params: dict[str, str], load: Load, verb: str,
         allowed: tuple[str, ...] = ()) -> etree._Element | None:
    started = time.monotonic()
    error: str | None = None
    doc = None
    try:
        resp = client.get(url, params=params)
        body = resp.content
        if resp.status_code != 200:
            error = f"HTTP {resp.status_code}: {body[:120]!r}"
        else:
            doc = etree.fromstring(body, PARSER)
            codes = [e.get("code") for e in doc.iterfind("oai:error", OAI)]
            if codes and codes[0] not in allowed:
                error = f"OAI error {codes} for {params}"
    except (httpx.HTTPError, etree.XMLSyntaxError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - started
    with load.lock:
        load.results.append(Result(started, elapsed, verb, error))
        kept = load.samples.setdefault(verb, [])
        if error is None and doc is not None and len(load.results) % SAMPLE_EVERY == 0 and len(kept) < 8:
            kept.append(body)
    return doc if error is None else None


def _token(doc: etree._Element | None) -> str | None:
    return doc.findtext(".//oai:resumptionToken", namespaces=OAI) if doc is not None else None


def _client(n: int, url: str, ids: list[int], load: Load, stop: threading.Event) -> None:
    rng = random.Random(1000 + n)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    with httpx.Client(timeout=120) as client:
        while not stop.is_set():
            roll = rng.random()
            if roll < 0.10:
                _get(client, url, {"verb": "Identify"}, load, "Identify")
            elif roll < 0.15:
                _get(client, url, {"verb": "ListMetadataFormats"}, load, "ListMetadataFormats")
            elif roll < 0.20:
                _get(client, url, {"verb": "ListSets"}, load, "ListSets")
            elif roll < 0.50:
                ident = f"oai:{REPO}:{rng.choice(ids)}"
                _get(client, url, {"verb": "GetRecord", "identifier": ident,
                                   "metadataPrefix": rng.choice(["oai_dc", "oai_qdc"])}, load, "GetRecord")
            elif roll < 0.70:
                doc = _get(client, url, {"verb": "ListRecords", "metadataPrefix": rng.choice(["oai_dc", "oai_qdc"])},
                           load, "ListRecords")
                for _ in range(rng.randint(0, 2)):
                    if not (tok := _token(doc)) or stop.is_set():
                        break
                    doc = _get(client, url, {"verb": "ListRecords", "resumptionToken": tok}, load, "ListRecords+token")
            elif roll < 0.90:
                doc = _get(client, url,
                           {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": rng.choice(SETS)},
                           load, "ListIdentifiers")
                for _ in range(rng.randint(0, 3)):
                    if not (tok := _token(doc)) or stop.is_set():
                        break
                    doc = _get(client, url, {"verb": "ListIdentifiers", "resumptionToken": tok}, load,
                               "ListIdentifiers+token")
            else:  # an incremental harvest: what changed today (the sync's changes, the anchors)
                _get(client, url, {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": today}, load,
                     "ListRecords incremental", allowed=("noRecordsMatch",))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# -- the test -------------------------------------------------------------------------------------
def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, params={"verb": "Identify"}, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "harvester serve did not start"
        time.sleep(0.1)


def _end(proc: subprocess.Popen | None, *, kill: bool = False) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.kill() if kill else proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_serve_under_load_while_a_sync_runs(tmp_path: Path) -> None:
    with TestArchive(page_size=10) as archive:
        for rid in COPIES:
            archive.add(DOCUMENT_IDS[rid % len(DOCUMENT_IDS)], as_id=rid)
        db, ids = _build(tmp_path, archive)
        env = _env(db, tmp_path / "warc", archive.base_url)
        port = _free_port()
        url = f"http://127.0.0.1:{port}/oai"
        serve_log = tmp_path / "serve.log"
        load, stop = Load(), threading.Event()
        sync: subprocess.Popen[str] | None = None
        with serve_log.open("w") as log_file:
            server = subprocess.Popen([sys.executable, "-m", "harvester", "serve", "--port", str(port)],
                                      cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(url, server)
            _change_the_site(archive)
            threads = [threading.Thread(target=_client, args=(n, url, ids, load, stop), daemon=True)
                       for n in range(CLIENTS)]
            began = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(min(1.0, SECONDS / 4))
            report_path = tmp_path / "sync.json"
            sync_began = time.monotonic()
            sync = subprocess.Popen([sys.executable, "-m", "harvester", "sync", "--json", str(report_path)],
                                    cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            end = began + SECONDS
            sync_ended = None  # within 50 ms after the sync process exited
            while time.monotonic() < end or (sync_ended is None and time.monotonic() < end + SYNC_CAP):
                time.sleep(0.05)
                if sync_ended is None and sync.poll() is not None:
                    sync_ended = time.monotonic()
            sync_done = sync_ended is not None
            stop.set()
            for t in threads:
                t.join(timeout=150)
            ended = time.monotonic()
            assert not any(t.is_alive() for t in threads), "a client did not stop"
            assert sync_done and sync_ended is not None, f"the sync did not finish within {SECONDS + SYNC_CAP:.0f} s"
            sync_out = sync.communicate(timeout=30)[0]

            # -- figures (printed, never asserted) ---------------------------------------------------
            results = load.results
            latencies = [r.seconds for r in results]
            errors = [r for r in results if r.error]
            during_sync = [r for r in results if sync_began <= r.started <= sync_ended]
            per_verb = Counter(r.verb for r in results)
            wall = ended - began
            print(f"\nload: {CLIENTS} clients, {wall:.1f} s, {len(results)} requests, "
                  f"{len(results) / wall:.1f} requests/s, {len(errors)} errors")
            print(f"latency: p50 {_percentile(latencies, 50) * 1000:.0f} ms, "
                  f"p95 {_percentile(latencies, 95) * 1000:.0f} ms,"
                  f" p99 {_percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
            for verb, n in sorted(per_verb.items()):
                lat = [r.seconds for r in results if r.verb == verb]
                print(f"  {verb:<24} {n:>6}  p50 {_percentile(lat, 50) * 1000:>6.0f} ms"
                      f"  p95 {_percentile(lat, 95) * 1000:>6.0f} ms")
            print(f"sync: {sync_ended - sync_began:.1f} s under load (process start to exit), "
                  f"{len(during_sync)} requests"
                  f" started meanwhile, exit {sync.returncode}")
            print(sync_out.strip())

            # -- zero errors, a valid sample --------------------------------------------------------
            assert errors == [], [e.error for e in errors[:5]]
            assert during_sync and not [r for r in during_sync if r.error]
            assert set(per_verb) >= {"Identify", "GetRecord", "ListRecords", "ListIdentifiers"}
            schema = oai_pmh_schema()
            validated = 0
            for verb, bodies in load.samples.items():
                for body in bodies:
                    if b"http://worldcat.org/xmlschemas/qdc-1.0/" in body:
                        continue  # qdc needs its own schema set (tests/oai validates it)
                    errs = list(schema.iter_errors(etree.fromstring(body, PARSER)))
                    assert errs == [], (verb, errs[0])
                    validated += 1
            assert validated >= 5

            # -- the sync: finished, reported exactly the site's changes, all of them in the catalog ----
            assert sync.returncode == 0, sync_out
            report = json.loads(report_path.read_text())
            assert report["status"] == "finished", report
            counts = report["counts"]
            assert counts["new"] == len(NEW) and counts["tombstoned"] == len(DELETED) and counts["failed"] == 0, counts
            assert counts["changed"] == len(CHANGED) + 1, counts  # the renamed one changed too
            with SQLiteStore(db) as store:
                assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                reported: dict[str, set[int]] = {}
                for item in Runs(store).items(report["run_id"]):
                    if item.record_id is not None:
                        reported.setdefault(item.outcome, set()).add(item.record_id)
                assert reported.get("new") == set(NEW)
                assert reported.get("changed") == {*CHANGED, RENAMED}
                assert reported.get("tombstoned") == set(DELETED)
                for rid in CHANGED:
                    assert "(revised under load)" in store.get(rid).record.title
                assert store.get(RENAMED).record.slug == "renamed-under-load"
                for rid in NEW:
                    stored = store.get(rid)
                    assert stored is not None and not stored.deleted and f"(copy {rid})" in stored.record.title
                for rid in DELETED:
                    assert store.get(rid).deleted
                # Set membership too: the sync process writes without the OAI hook, so the server
                # must have re-indexed what it changed while answering the load.
                catalog = {f"oai:{REPO}:{s.record.record_id}": (s.last_changed.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                                 s.deleted, None if s.deleted else s.record.title,
                                                                 sorted(x.spec for x in record_sets(s.record)))
                           for s in store.iter_records(include_deleted=True)}

            # -- a full harvest of the same, still running endpoint equals the catalog ------------------
            harvested = {}
            for rec in Sickle(url, timeout=60).ListRecords(metadataPrefix="oai_dc", ignore_deleted=False):
                h = rec.header
                harvested[h.identifier] = (h.datestamp, h.deleted, None if h.deleted else rec.metadata["title"][0],
                                           sorted(h.setSpecs))
            assert len(harvested) == len(catalog) == SYNTHETIC + 60 + len(DOCUMENT_IDS) + len(COPIES) + len(NEW)
            assert harvested == catalog
        finally:
            stop.set()
            _end(sync, kill=True)
            _end(server)
        log = serve_log.read_text(errors="replace")
        assert "Traceback" not in log and "database is locked" not in log, log[-2000:]
