"""Full harvests with two independent clients, sickle and oaipmh's client, compared with the catalog."""

from __future__ import annotations

from collections import defaultdict

import pytest
from lxml import etree
from oaipmh.client import Client
from oaipmh.metadata import MetadataRegistry, oai_dc_reader
from sickle import Sickle

from catalog.export.registry import OAI_FORMATS
from tests.oai.conftest import Server
from tests.oai.expected import expected_catalog


def _sickle_harvest(url: str, prefix: str = "oai_dc") -> dict[str, tuple[str, bool, tuple[str, ...], object]]:
    got = {}
    for rec in Sickle(url, max_retries=0).ListRecords(metadataPrefix=prefix):
        h = rec.header
        assert h.identifier not in got, f"duplicate {h.identifier}"
        # A deleted sickle Record has no .metadata attribute at all.
        got[h.identifier] = (h.datestamp, h.deleted, tuple(sorted(h.setSpecs)), getattr(rec, "metadata", None))
    return got


# The 100-a-page harvest is slow (whole catalog through sickle again): the fast subset keeps the
# 7-a-page one, which crosses every resumption-token boundary the other does and more.
@pytest.mark.parametrize("srv", [pytest.param("server", marks=pytest.mark.slow), "small_page_server"])
def test_sickle_harvest_equals_catalog(srv: str, request: pytest.FixtureRequest) -> None:
    server: Server = request.getfixturevalue(srv)
    expected = expected_catalog(server.store)
    got = _sickle_harvest(server.url)
    assert set(got) == set(expected)
    assert sum(1 for v in got.values() if v[1]) == len(server.deleted) > 0
    for ident, exp in expected.items():
        datestamp, deleted, sets, metadata = got[ident]
        assert (datestamp, deleted, sets) == (exp.datestamp, exp.deleted, exp.sets)
        if exp.deleted:
            assert metadata is None
        else:
            assert metadata == exp.dc


def test_oaipmh_client_harvest_equals_catalog(server: Server) -> None:
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    client = Client(server.url, registry)  # POST by default
    expected = expected_catalog(server.store)
    got = {}
    for header, metadata, _about in client.listRecords(metadataPrefix="oai_dc"):
        assert header.identifier() not in got
        got[header.identifier()] = (header, metadata)
    assert set(got) == set(expected)
    for ident, exp in expected.items():
        header, metadata = got[ident]
        assert header.datestamp().strftime("%Y-%m-%dT%H:%M:%SZ") == exp.datestamp
        assert header.isDeleted() == exp.deleted
        assert tuple(sorted(header.setSpec())) == exp.sets
        if exp.deleted:
            assert metadata is None
        else:
            fields = {k: v for k, v in metadata.getMap().items() if v}
            assert fields == exp.dc


def test_oaipmh_client_get_identify_sets_and_identifiers(server: Server) -> None:
    client = Client(server.url, force_http_get=True)
    ident = client.identify()
    assert ident.baseURL() == server.url
    assert ident.deletedRecord() == "persistent"
    specs = {spec for spec, _name, _desc in client.listSets()}
    assert {"type", "type:cable", "language:rus", "subject:cold-war"} <= specs
    ids = [h.identifier() for h in client.listIdentifiers(metadataPrefix="oai_dc")]
    assert sorted(ids) == sorted(expected_catalog(server.store))
    formats = [f[0] for f in client.listMetadataFormats()]
    assert formats[0] == "oai_dc"


def c14n(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True)


# Only oai_dc in the fast subset: each other prefix is a whole-catalog harvest (1-5 s on 2 busy
# cores). The fast subset still harvests mods and marcxml in full through sickle, validated, in
# test_formats_offered.py::test_about_provenance_and_rights_uri; CI harvests every prefix here.
@pytest.mark.parametrize("prefix", [p if p == "oai_dc" else pytest.param(p, marks=pytest.mark.slow)
                                    for p in OAI_FORMATS])
def test_sickle_harvests_every_prefix(server: Server, prefix: str) -> None:
    """Every record in every offered prefix, through sickle, is the registry serializer's output
    (the validating middleware has checked each page against OAI-PMH.xsd + the format's schema)."""
    expected = expected_catalog(server.store)
    records = {s.record.record_id: s.record for s in server.store.iter_records(include_deleted=False)}
    fmt = OAI_FORMATS[prefix]
    assert fmt.oai is not None and fmt.record_xml is not None
    seen = 0
    for rec in Sickle(server.url, max_retries=0).ListRecords(metadataPrefix=prefix):
        assert rec.header.identifier in expected
        if not rec.header.deleted:
            root = etree.fromstring(rec.raw.encode("utf-8")).find(".//{http://www.openarchives.org/OAI/2.0/}metadata")
            assert etree.QName(root[0]).namespace == fmt.oai.namespace
            record = records[int(rec.header.identifier.rsplit(":", 1)[1])]
            assert c14n(root[0]) == c14n(etree.fromstring(fmt.record_xml(record)))
        seen += 1
    assert seen == len(expected)


def test_harvest_by_set_returns_exactly_the_members(small_page_server: Server) -> None:
    expected = expected_catalog(small_page_server.store)
    by_set: dict[str, set[str]] = defaultdict(set)
    for ident, exp in expected.items():
        for spec in exp.sets:
            by_set[spec].add(ident)
    for spec in ("type:cable", "language:zho", "subject:cold-war", "archive", "subject"):
        got = {h.identifier for h in Sickle(small_page_server.url).ListIdentifiers(metadataPrefix="oai_dc", set=spec)}
        assert got == by_set[spec], spec
