"""The checks of the openarchives.org registration validator (zimeon/oaipmh-validator, A.1-A.11)
and of BASE's OVAL (B), one test per check. Every response is also schema-validated by the
server fixture's middleware."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests
from lxml import etree

from tests.oai.conftest import OAI, Server, error_code

UTC_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def _text(doc: etree._Element, path: str) -> str:
    return doc.findtext(path, namespaces=OAI) or ""


def _example(server: Server) -> tuple[str, str]:
    """A.3: ListIdentifiers per set until one is non-empty; a non-deleted identifier and its set."""
    sets = server.oai({"verb": "ListSets"})
    for spec in [s.text for s in sets.iterfind(".//oai:setSpec", OAI)]:
        doc = server.oai({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": spec})
        for h in doc.iterfind(".//oai:header", OAI):
            if h.get("status") != "deleted":
                return _text(h, "oai:identifier"), spec
    raise AssertionError("no set with a live record")


# -- A.1 Identify ---------------------------------------------------------------------------
def test_a1_identify_http_200_without_redirect(server: Server) -> None:
    resp = requests.get(server.url, params={"verb": "Identify"}, allow_redirects=False, timeout=30)
    assert resp.status_code == 200 and not resp.history


def test_a1_identify_root_is_oai_pmh_without_error(server: Server) -> None:
    doc = server.oai({"verb": "Identify"})
    assert doc.tag == "{http://www.openarchives.org/OAI/2.0/}OAI-PMH"
    assert error_code(doc) is None
    assert doc.find("oai:Identify", OAI) is not None


def test_a1_identify_base_url_equals_tested_url(server: Server) -> None:
    doc = server.oai({"verb": "Identify"})
    assert _text(doc, "oai:Identify/oai:baseURL") == server.url
    assert _text(doc, "oai:request") == server.url  # OVAL: request URL equals the base URL


def test_a1_identify_granularity_is_seconds(server: Server) -> None:
    assert _text(server.oai({"verb": "Identify"}), "oai:Identify/oai:granularity") == "YYYY-MM-DDThh:mm:ssZ"


def test_a1_identify_earliest_datestamp_valid(server: Server) -> None:
    value = _text(server.oai({"verb": "Identify"}), "oai:Identify/oai:earliestDatestamp")
    earliest = datetime.strptime(value, UTC_SECONDS)
    first = min(r.last_changed for r in server.store.iter_records())
    assert earliest == first.replace(microsecond=0, tzinfo=None)


def test_a1_identify_one_valid_oai_identifier_description(server: Server) -> None:
    doc = server.oai({"verb": "Identify"})
    ns = {"id": "http://www.openarchives.org/OAI/2.0/oai-identifier"}
    found = doc.findall("oai:Identify/oai:description/id:oai-identifier", {**OAI, **ns})
    assert len(found) == 1
    repo_id = found[0].findtext("id:repositoryIdentifier", namespaces=ns)
    assert repo_id and re.fullmatch(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+", repo_id)
    sample = found[0].findtext("id:sampleIdentifier", namespaces=ns)
    assert sample.startswith(f"oai:{repo_id}:")


def test_a1_identify_admin_email_not_localhost(server: Server) -> None:
    emails = [e.text for e in server.oai({"verb": "Identify"}).iterfind("oai:Identify/oai:adminEmail", OAI)]
    assert emails and all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", e) and not e.endswith("@localhost") for e in emails)


# -- A.2 - A.6 ------------------------------------------------------------------------------
def test_a2_list_sets_gives_set_specs(server: Server) -> None:
    doc = server.oai({"verb": "ListSets"})
    assert error_code(doc) is None
    assert len(doc.findall(".//oai:set", OAI)) > 5


def test_a3_list_identifiers_finds_a_live_record_in_a_set(server: Server) -> None:
    ident, spec = _example(server)
    assert ident.startswith("oai:digitalarchive.wilsoncenter.org:") and spec


def test_a4_list_metadata_formats_for_identifier_includes_oai_dc(server: Server) -> None:
    ident, _ = _example(server)
    doc = server.oai({"verb": "ListMetadataFormats", "identifier": ident})
    assert "oai_dc" in [p.text for p in doc.iterfind(".//oai:metadataPrefix", OAI)]


def test_a5_get_record_datestamp_granularity_and_set(server: Server) -> None:
    ident, spec = _example(server)
    doc = server.oai({"verb": "GetRecord", "identifier": ident, "metadataPrefix": "oai_dc"})
    stamp = _text(doc, ".//oai:header/oai:datestamp")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", stamp)
    assert spec in [s.text for s in doc.iterfind(".//oai:header/oai:setSpec", OAI)]


def test_a6_list_records_from_datestamp_includes_record(server: Server) -> None:
    ident, _ = _example(server)
    stamp = _text(server.oai({"verb": "GetRecord", "identifier": ident, "metadataPrefix": "oai_dc"}),
                  ".//oai:datestamp")
    params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": stamp}
    while True:
        doc = server.oai(params)
        if ident in [i.text for i in doc.iterfind(".//oai:header/oai:identifier", OAI)]:
            return
        token = _text(doc, ".//oai:resumptionToken")
        assert token, "record not found in the from= list"
        params = {"verb": "ListRecords", "resumptionToken": token}


# -- A.7 expected errors ----------------------------------------------------------------------
EXPECTED_ERRORS = [
    ("bad verb", {"verb": "junk"}, {"badVerb"}),
    ("GetRecord without identifier", {"verb": "GetRecord", "metadataPrefix": "oai_dc"}, {"badArgument"}),
    ("GetRecord without prefix", {"verb": "GetRecord", "identifier": "oai:digitalarchive.wilsoncenter.org:100007"},
     {"badArgument"}),
    ("GetRecord invalid identifier", {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": 'invalid"id'},
     {"badArgument", "idDoesNotExist"}),
    ("ListIdentifiers until=junk", {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "until": "junk"},
     {"badArgument"}),
    ("ListIdentifiers from=junk", {"verb": "ListIdentifiers", "from": "junk"}, {"badArgument"}),
    ("ListIdentifiers token and until", {"verb": "ListIdentifiers", "resumptionToken": "junk", "until": "2000-02-05"},
     {"badArgument", "badResumptionToken"}),
    ("ListRecords from=junk", {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "junk"}, {"badArgument"}),
    ("ListRecords token=junk", {"verb": "ListRecords", "resumptionToken": "junk"}, {"badResumptionToken"}),
    ("ListRecords token, prefix and until",
     {"verb": "ListRecords", "resumptionToken": "junk", "metadataPrefix": "oai_dc", "until": "2000-02-05"},
     {"badArgument", "badResumptionToken"}),
    ("ListRecords until=junk", {"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "junk"}, {"badArgument"}),
    ("ListRecords without prefix", {"verb": "ListRecords"}, {"badArgument"}),
]


@pytest.mark.parametrize(("case", "params", "codes"), EXPECTED_ERRORS, ids=[c[0] for c in EXPECTED_ERRORS])
def test_a7_expected_error(server: Server, case: str, params: dict[str, str], codes: set[str]) -> None:
    assert error_code(server.oai(params)) in codes


# -- A.8 v2-specific ---------------------------------------------------------------------------
def test_a8_mixed_granularity_is_bad_argument(server: Server) -> None:
    doc = server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2002-02-05",
                      "until": "2002-02-06T05:35:00Z"})
    assert error_code(doc) == "badArgument"


def test_a8_until_before_earliest_datestamp_is_no_records_match(server: Server) -> None:
    earliest = datetime.strptime(_text(server.oai({"verb": "Identify"}), ".//oai:earliestDatestamp"), UTC_SECONDS)
    until = (earliest - timedelta(days=365)).strftime(UTC_SECONDS)
    assert error_code(server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc",
                                  "until": until})) == "noRecordsMatch"


# -- A.9 POST ----------------------------------------------------------------------------------
def test_a9_post_identify_and_get_record(server: Server) -> None:
    assert error_code(server.oai({"verb": "Identify"}, method="POST")) is None
    ident, _ = _example(server)
    doc = server.oai({"verb": "GetRecord", "identifier": ident, "metadataPrefix": "oai_dc"}, method="POST")
    assert _text(doc, ".//oai:header/oai:identifier") == ident


# -- A.10 resumption ---------------------------------------------------------------------------
def test_a10_first_page_one_nonempty_token_cursor_zero_and_follow_up_works(server: Server) -> None:
    doc = server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"})
    tokens = doc.findall(".//oai:resumptionToken", OAI)
    assert len(tokens) == 1 and tokens[0].text
    assert tokens[0].get("cursor") == "0"
    nxt = server.oai({"verb": "ListRecords", "resumptionToken": tokens[0].text})
    assert error_code(nxt) is None and nxt.findall(".//oai:record", OAI)


# -- A.11 every response -----------------------------------------------------------------------
def test_a11_every_response_has_utc_response_date_schema_location_and_version(server: Server) -> None:
    before = server.validator.seen
    for params in ({"verb": "Identify"}, {"verb": "ListSets"}, {"verb": "ListMetadataFormats"}, {"verb": "nope"},
                   {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}):
        server.oai(params)
    assert server.validator.seen >= before + 5  # the middleware checked responseDate and schemaLocation
    assert _text(server.oai({"verb": "Identify"}), ".//oai:protocolVersion") == "2.0"


# -- B. BASE OVAL --------------------------------------------------------------------------------
def test_b_get_and_post_give_the_same_answer(server: Server) -> None:
    params = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "type:cable"}
    ids = lambda d: [i.text for i in d.iterfind(".//oai:identifier", OAI)]  # noqa: E731
    assert ids(server.oai(params)) == ids(server.oai(params, method="POST"))


def test_b_deleted_record_is_persistent(server: Server) -> None:
    assert _text(server.oai({"verb": "Identify"}), ".//oai:deletedRecord") == "persistent"


def test_b_list_records_batch_size_at_least_100(server: Server) -> None:
    assert len(server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"}).findall(".//oai:record", OAI)) == 100


def test_b_token_lifetime_at_least_23_hours(server: Server) -> None:
    token = server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"}).find(".//oai:resumptionToken", OAI)
    expires = datetime.strptime(token.get("expirationDate"), UTC_SECONDS)
    assert expires - datetime.utcnow() >= timedelta(hours=23)


def test_b_complete_list_size_reported(server: Server) -> None:
    token = server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"}).find(".//oai:resumptionToken", OAI)
    assert int(token.get("completeListSize")) == server.store.count(include_deleted=True)


def _window_ids(server: Server, **params: str) -> set[str]:
    out: set[str] = set()
    query = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", **params}
    while True:
        doc = server.oai(query)
        if error_code(doc) == "noRecordsMatch":
            return out
        out |= {h.text for h in doc.iterfind(".//oai:identifier", OAI)}
        token = _text(doc, ".//oai:resumptionToken")
        if not token:
            return out
        query = {"verb": "ListIdentifiers", "resumptionToken": token}


@pytest.mark.parametrize("granularity", ["day", "seconds"])
def test_b_incremental_harvest_returns_only_in_window_records(server: Server, granularity: str) -> None:
    records = list(server.store.iter_records())
    ref = sorted(r.last_changed for r in records)[len(records) // 2]
    if granularity == "day":
        lo, hi = ref.strftime("%Y-%m-%d"), ref.strftime("%Y-%m-%d")
        inside = lambda t: t.date() == ref.date()  # noqa: E731
    else:
        lo = ref.strftime(UTC_SECONDS)
        hi = (ref + timedelta(hours=2)).strftime(UTC_SECONDS)
        start, end = ref.replace(microsecond=0), (ref + timedelta(hours=2)).replace(microsecond=0)
        inside = lambda t: start <= t.replace(microsecond=0) <= end  # noqa: E731
    want = {f"oai:digitalarchive.wilsoncenter.org:{r.record.record_id}" for r in records if inside(r.last_changed)}
    assert want
    assert _window_ids(server, **{"from": lo, "until": hi}) == want


def test_b_content_minimal_dc_iso_language_and_date(server: Server) -> None:
    dc = "{http://purl.org/dc/elements/1.1/}"
    doc = server.oai({"verb": "ListRecords", "metadataPrefix": "oai_dc"})
    for rec in doc.iterfind(".//oai:record", OAI):
        meta = rec.find("oai:metadata", OAI)
        if meta is None:
            continue
        names = {child.tag.replace(dc, "") for child in meta[0]}
        assert {"title", "creator", "date", "identifier", "type"} <= names
        for lang in meta[0].iterfind(f"{dc}language"):
            assert re.fullmatch(r"[a-z]{2,3}", lang.text)
        for date in meta[0].iterfind(f"{dc}date"):
            assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date.text)
