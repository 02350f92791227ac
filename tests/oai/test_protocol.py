"""Protocol details beyond the validators: tokens, errors with request echo, HTTP, gzip, sets, deletions."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from catalog.oai import tokens
from catalog.store import to_db_time, utcnow
from tests.oai.catalog_builder import make_record
from tests.oai.conftest import OAI, SECRET, Server, error_code

KEY = SECRET.encode()


def _token(doc: etree._Element) -> etree._Element | None:
    return doc.find(".//oai:resumptionToken", OAI)


def _walk(server: Server, verb: str, **params: str) -> list[etree._Element]:
    pages = [server.oai({"verb": verb, **params})]
    while (tok := _token(pages[-1])) is not None and tok.text:
        pages.append(server.oai({"verb": verb, "resumptionToken": tok.text}))
    return pages


# -- tokens ------------------------------------------------------------------------------------
def test_token_pages_have_cursor_size_expiry_and_an_empty_last_token(small_page_server: Server) -> None:
    pages = _walk(small_page_server, "ListIdentifiers", metadataPrefix="oai_dc")
    total = small_page_server.store.count(include_deleted=True)
    assert len(pages) == -(-total // 7)
    for n, page in enumerate(pages):
        tok = _token(page)
        assert tok.get("completeListSize") == str(total)
        assert tok.get("cursor") == str(7 * n)
        if n < len(pages) - 1:
            assert tok.text and tok.get("expirationDate")
    last = _token(pages[-1])
    assert not last.text and last.get("expirationDate") is None  # the empty token ends the list


def test_list_sets_pages_and_ends_with_empty_token(small_page_server: Server) -> None:
    pages = _walk(small_page_server, "ListSets")
    specs = [s.text for p in pages for s in p.iterfind(".//oai:setSpec", OAI)]
    assert len(pages) > 2 and len(specs) == len(set(specs)) == int(_token(pages[0]).get("completeListSize"))
    assert specs == sorted(specs)


def test_tampered_token_is_bad_resumption_token(small_page_server: Server) -> None:
    tok = _token(small_page_server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"})).text
    payload, sig = tok.split(".")
    state = tokens.decode(tok, KEY, verb="ListRecords")
    forged = tokens.encode(tokens.TokenState(**{**state.__dict__, "set_spec": "type:cable"}), b"wrong key")
    for bad in (payload[:-2] + "AA." + sig, forged, tok + "x", tok.replace(".", "")):
        assert error_code(small_page_server.oai({"verb": "ListRecords",
                                                 "resumptionToken": bad})) == "badResumptionToken"


def test_expired_token_is_bad_resumption_token(small_page_server: Server) -> None:
    tok = _token(small_page_server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"})).text
    state = tokens.decode(tok, KEY, verb="ListRecords")
    expired = tokens.encode(tokens.TokenState(**{**state.__dict__, "expires": int(time.time()) - 1}), KEY)
    assert error_code(small_page_server.oai({"verb": "ListRecords",
                                             "resumptionToken": expired})) == "badResumptionToken"


def test_past_the_end_token_is_bad_resumption_token(small_page_server: Server) -> None:
    tok = _token(small_page_server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"})).text
    state = tokens.decode(tok, KEY, verb="ListRecords")
    beyond = tokens.TokenState(**{**state.__dict__, "after": ["9999-12-31T23:59:59.999999Z", 10**9]})
    assert error_code(small_page_server.oai({"verb": "ListRecords",
                                             "resumptionToken": tokens.encode(beyond, KEY)})) == "badResumptionToken"
    over = tokens.TokenState(**{**state.__dict__, "cursor": state.total + 5})
    assert error_code(small_page_server.oai({"verb": "ListRecords",
                                             "resumptionToken": tokens.encode(over, KEY)})) == "badResumptionToken"


def test_token_is_scoped_to_its_verb_and_keeps_the_request(small_page_server: Server) -> None:
    doc = small_page_server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "type:cable",
                                 "from": "2024-03-01", "until": "2024-03-03"})
    tok = _token(doc).text
    assert error_code(small_page_server.oai({"verb": "ListRecords", "resumptionToken": tok})) == "badResumptionToken"
    assert error_code(small_page_server.oai({"verb": "ListSets", "resumptionToken": tok})) == "badResumptionToken"
    ids: list[str] = []
    for page in _walk(small_page_server, "ListIdentifiers", metadataPrefix="oai_dc", set="type:cable",
                      **{"from": "2024-03-01", "until": "2024-03-03"}):
        for h in page.iterfind(".//oai:header", OAI):
            assert "type:cable" in [s.text for s in h.iterfind("oai:setSpec", OAI)]
            assert "2024-03-01" <= h.findtext("oai:datestamp", namespaces=OAI)[:10] <= "2024-03-03"
            ids.append(h.findtext("oai:identifier", namespaces=OAI))
    assert len(ids) == len(set(ids)) > 7


def test_token_request_echoes_only_the_token(small_page_server: Server) -> None:
    tok = _token(small_page_server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"})).text
    req = small_page_server.oai({"verb": "ListRecords", "resumptionToken": tok}).find("oai:request", OAI)
    assert dict(req.attrib) == {"verb": "ListRecords", "resumptionToken": tok}


@pytest.mark.slow  # waits 1.1 s: datestamps have a granularity of seconds
def test_records_changed_during_a_harvest_are_neither_skipped_nor_duplicated(fresh_server: Server) -> None:
    """The first harvest is the catalog as of its first page; the next incremental harvest
    (from = the first responseDate) brings the changes."""
    first = fresh_server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    response_date = first.findtext("oai:responseDate", namespaces=OAI)
    seen = [h.text for h in first.iterfind(".//oai:identifier", OAI)]
    # Change one record already sent and one not yet sent, and add a new one.
    early, late = make_record(1), make_record(38)
    early.title, late.title = "Changed early", "Changed late"
    time.sleep(1.1)  # datestamps are seconds: make "after the first page" visible at that granularity
    fresh_server.store.upsert(early)
    fresh_server.store.upsert(late)
    fresh_server.store.upsert(make_record(500))
    tok = _token(first).text
    while tok:
        page = fresh_server.oai({"verb": "ListIdentifiers", "resumptionToken": tok})
        seen += [h.text for h in page.iterfind(".//oai:identifier", OAI)]
        tok = _token(page).text
    assert len(seen) == len(set(seen))  # nothing twice
    changed = {f"oai:digitalarchive.wilsoncenter.org:{r.record_id}" for r in (early, late, make_record(500))}
    all_ids = {f"oai:digitalarchive.wilsoncenter.org:{rid}" for rid in fresh_server.store.record_ids()}
    assert set(seen) | changed == all_ids  # everything else arrived
    nxt = {h.text for p in _walk(fresh_server, "ListIdentifiers", metadataPrefix="oai_dc", **{"from": response_date})
           for h in p.iterfind(".//oai:identifier", OAI)}
    assert changed <= nxt  # and the incremental harvest brings the three changes


@pytest.mark.slow  # waits 1.1 s: datestamps have a granularity of seconds
def test_a_list_whose_whole_tail_changed_mid_harvest_goes_on_instead_of_failing(fresh_server: Server) -> None:
    """If every record still to send changed after the first page, the frozen list is empty;
    the harvest then gets those records' new versions, not a badResumptionToken."""
    first = fresh_server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"})
    sent = {h.text for h in first.iterfind(".//oai:header/oai:identifier", OAI)}
    all_ids = fresh_server.store.record_ids()
    time.sleep(1.1)  # second granularity: the changes must be later than the first page
    for rid in all_ids:
        ident = f"oai:digitalarchive.wilsoncenter.org:{rid}"
        stored = fresh_server.store.get(rid)
        if ident in sent:
            continue
        if stored.deleted:  # a tombstone "changes" too: deleted again with a new datestamp
            with fresh_server.store.unit_of_work():
                now = to_db_time(utcnow())
                conn = fresh_server.store.connection  # this backend's own: no contract call re-deletes
                conn.execute("UPDATE record SET last_changed = ? WHERE record_id = ?", (now, rid))
                conn.execute("UPDATE record_facet SET last_changed = ? WHERE record_id = ?", (now, rid))
        else:
            record = stored.record.model_copy()
            record.title = f"Changed mid-harvest {rid}"
            fresh_server.store.upsert(record)
    titles: dict[str, str | None] = {}
    tok = _token(first).text
    while tok:
        page = fresh_server.oai({"verb": "ListRecords", "resumptionToken": tok})
        assert page.find("oai:error", OAI) is None, etree.tostring(page)
        for rec in page.iterfind(".//oai:record", OAI):
            titles[rec.findtext("oai:header/oai:identifier",
                                namespaces=OAI)] = rec.findtext(".//{http://purl.org/dc/elements/1.1/}title")
        tok = _token(page).text
    expected = {f"oai:digitalarchive.wilsoncenter.org:{rid}" for rid in all_ids} - sent
    assert set(titles) == expected  # nothing skipped, nothing sent twice
    assert all(t is None or t.startswith("Changed mid-harvest") for t in titles.values())


def test_set_membership_written_by_another_process_is_served_at_once(fresh_server: Server) -> None:
    """A writer that never imports catalog.oai (a harvest, a sync) writes the set index with the record."""
    code = (
        "import sys\n"
        "from tests.oai.catalog_builder import make_record\n"
        "from catalog.store import open_store\n"
        "rec = make_record(700); rec.types = ['Brand-new Type']\n"
        f"store = open_store({str(fresh_server.store.path)!r}); store.upsert(rec); store.close()\n"
        "assert 'catalog.oai' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    doc = fresh_server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "type:brand-new-type"})
    expected = f"oai:digitalarchive.wilsoncenter.org:{make_record(700).record_id}"
    assert [h.text for h in doc.iterfind(".//oai:identifier", OAI)] == [expected]



# -- errors ------------------------------------------------------------------------------------
def test_repeated_arguments_and_verbs_are_bad_argument(server: Server) -> None:
    assert error_code(server.oai([("verb", "Identify"), ("verb", "Identify")])) == "badArgument"
    doc = server.oai([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("metadataPrefix", "oai_dc")])
    assert error_code(doc) == "badArgument"
    assert dict(doc.find("oai:request", OAI).attrib) == {}  # no attributes for badArgument


def test_missing_verb_unknown_argument_and_finer_granularity(server: Server) -> None:
    assert error_code(server.oai({})) == "badVerb"
    assert error_code(server.oai({"verb": "Identify", "foo": "bar"})) == "badArgument"
    assert error_code(server.oai({"verb": "GetMetadata", "identifier": "x:y", "metadataPrefix": "oai_dc"})) == "badVerb"
    for value in ("2024-03-01T08:00Z", "2024-03-01T08:00:00.5Z", "2024-3-1", "2024-02-30"):
        assert error_code(server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc",
                                      "from": value})) == "badArgument"


def test_errors_echo_the_request_when_the_spec_allows(server: Server) -> None:
    params = {"verb": "ListRecords", "metadataPrefix": "marc21", "set": "type:cable"}
    doc = server.oai(params)
    assert error_code(doc) == "cannotDisseminateFormat"
    assert dict(doc.find("oai:request", OAI).attrib) == params
    doc = server.oai({"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:elsewhere.org:1"})
    assert error_code(doc) == "idDoesNotExist"
    assert doc.find("oai:request", OAI).get("identifier") == "oai:elsewhere.org:1"


def test_unknown_set_and_empty_window_are_no_records_match(server: Server) -> None:
    assert error_code(server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc",
                                  "set": "type:nothing"})) == "noRecordsMatch"
    doc = server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2030-01-01",
                      "until": "2020-01-01"})
    assert error_code(doc) == "noRecordsMatch"


def test_list_metadata_formats_unknown_identifier(server: Server) -> None:
    doc = server.oai({"verb": "ListMetadataFormats", "identifier": "oai:digitalarchive.wilsoncenter.org:1"})
    assert error_code(doc) == "idDoesNotExist"


# -- records -----------------------------------------------------------------------------------
def test_get_record_on_a_deleted_record_is_a_deleted_header_only(server: Server) -> None:
    ident = f"oai:digitalarchive.wilsoncenter.org:{server.deleted[0]}"
    doc = server.oai({"verb": "GetRecord", "identifier": ident, "metadataPrefix": "oai_dc"})
    rec = doc.find(".//oai:record", OAI)
    assert rec.find("oai:header", OAI).get("status") == "deleted"
    assert rec.find("oai:metadata", OAI) is None


def test_until_is_inclusive_to_the_second(server: Server) -> None:
    stored = next(r for r in server.store.iter_records() if r.last_changed.microsecond)
    stamp = stored.last_changed.strftime("%Y-%m-%dT%H:%M:%SZ")
    ident = f"oai:digitalarchive.wilsoncenter.org:{stored.record.record_id}"
    doc = server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": stamp, "until": stamp})
    assert ident in [i.text for i in doc.iterfind(".//oai:identifier", OAI)]


# -- HTTP ----------------------------------------------------------------------------------------
def test_gzip_when_accepted_identity_otherwise(server: Server) -> None:
    raw = requests.get(server.url, params={"verb": "ListRecords", "metadataPrefix": "oai_dc"},
                       headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
    assert raw.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in raw.headers["Vary"]
    body = gzip.decompress(raw.raw.read())
    assert etree.fromstring(body).find(".//oai:record", OAI) is not None
    plain = requests.get(server.url, params={"verb": "Identify"}, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert "Content-Encoding" not in plain.headers
    assert "gzip" in [c.text for c in etree.fromstring(plain.content).iterfind(".//oai:compression", OAI)]


def test_http_status_content_type_and_paths(server: Server) -> None:
    resp = server.get({"verb": "nonsense"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert requests.get(server.url.replace("/oai", "/other"), timeout=30).status_code == 404
    assert requests.put(server.url, data="x", timeout=30).status_code == 405
    bad_utf8 = requests.get(server.url + "?verb=Identify&x=%ff", timeout=30)
    assert bad_utf8.status_code == 200 and error_code(etree.fromstring(bad_utf8.content)) == "badArgument"
    # oai_qdc is OCLC's container now: no private schema is published next to the endpoint
    assert requests.get(server.url + "/schemas/wcda-qdc.xsd", timeout=30).status_code == 404


def test_default_page_size_is_100(server: Server) -> None:
    assert server.settings.page_size == 100
    doc = server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    assert len(doc.findall(".//oai:header", OAI)) == 100


def test_validator_middleware_rejects_an_invalid_document(server: Server) -> None:
    """The schema check is real: an empty ListRecords (what pyoai emits for a forged cursor) fails."""
    from tests.oai.conftest import Validator

    v = Validator(app=lambda e, s: [])
    bad = (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2024-01-01T00:00:00Z</responseDate>'
           b'<request>http://x/oai</request><ListRecords/></OAI-PMH>')
    v.check(bad, "test")
    assert v.failures
