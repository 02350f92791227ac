"""Every registry format with an OAI binding is offered and served; aggregator options over OAI-PMH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from lxml import etree
from sickle import Sickle

from catalog.export.common import FormatOptions
from catalog.export.registry import OAI_FORMATS
from harvester.commands.serve import LOOPBACK_IDENTIFIER, repository_identifier
from harvester.config import load_settings
from tests.oai.catalog_builder import build_catalog
from tests.oai.conftest import OAI, Server, error_code, start_server

PROV = {"p": "http://www.openarchives.org/OAI/2.0/provenance"}
RIGHTS = "http://rightsstatements.org/vocab/InC-EDU/1.0/"


@pytest.fixture(scope="module")
def about_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store, deleted = build_catalog(tmp_path_factory.mktemp("about") / "c.db", n=25)
    srv, stop = start_server(store, deleted, page_size=10, about_provenance=True,
                             format_options=FormatOptions(rights_uri=RIGHTS))
    yield srv
    stop()
    store.close()
    assert not srv.validator.failures, srv.validator.failures


def test_list_metadata_formats_is_the_registry(server: Server) -> None:
    doc = server.oai({"verb": "ListMetadataFormats"})
    offered = [(f.findtext("oai:metadataPrefix", namespaces=OAI), f.findtext("oai:schema", namespaces=OAI),
                f.findtext("oai:metadataNamespace", namespaces=OAI))
               for f in doc.iterfind(".//oai:metadataFormat", OAI)]
    assert offered == [(f.oai.prefix, f.oai.schema, f.oai.namespace) for f in OAI_FORMATS.values() if f.oai]
    assert [p for p, _, _ in offered] == ["oai_dc", "oai_qdc", "mods", "marcxml"]
    assert ("oai_qdc", "http://worldcat.org/xmlschemas/qdc/1.0/qdc-1.0.xsd",
            "http://worldcat.org/xmlschemas/qdc-1.0/") in offered


@pytest.mark.parametrize("prefix", list(OAI_FORMATS))
def test_get_record_in_every_prefix(server: Server, prefix: str) -> None:
    live = next(s for s in server.store.iter_records(include_deleted=False))
    ident = f"oai:{server.settings.repository_identifier}:{live.record.record_id}"
    doc = server.oai({"verb": "GetRecord", "identifier": ident, "metadataPrefix": prefix})
    assert error_code(doc) is None
    meta = doc.find(".//oai:metadata", OAI)
    assert etree.QName(meta[0]).namespace == OAI_FORMATS[prefix].oai.namespace  # type: ignore[union-attr]
    assert doc.find(".//oai:about", OAI) is None  # off unless configured
    gone = f"oai:{server.settings.repository_identifier}:{server.deleted[0]}"
    dead = server.oai({"verb": "GetRecord", "identifier": gone, "metadataPrefix": prefix})
    assert dead.find(".//oai:header", OAI).get("status") == "deleted" and dead.find(".//oai:metadata", OAI) is None


def test_unknown_and_old_private_prefixes_are_refused(server: Server) -> None:
    for prefix in ("qdc", "marc21", "jsonld", "csl-json"):
        assert error_code(server.oai({"verb": "ListRecords", "metadataPrefix": prefix})) == "cannotDisseminateFormat"


@pytest.mark.parametrize("prefix", list(OAI_FORMATS))
def test_about_provenance_and_rights_uri(about_server: Server, prefix: str) -> None:
    """Every record of a full harvest carries a valid <about><provenance> (the validating
    middleware checks provenance.xsd); the rights URI is in the metadata."""
    n = 0
    for rec in Sickle(about_server.url, max_retries=0).ListRecords(metadataPrefix=prefix):
        root = etree.fromstring(rec.raw.encode("utf-8"))
        if rec.header.deleted:
            assert root.find("oai:about", OAI) is None
            continue
        origin = root.find("oai:about/p:provenance/p:originDescription", {**OAI, **PROV})
        assert origin.get("altered") == "true" and origin.get("harvestDate").endswith("Z")
        base = origin.findtext("p:baseURL", namespaces=PROV)
        assert base.startswith("http") and origin.findtext("p:identifier", namespaces=PROV).startswith(base)
        assert RIGHTS.encode() in etree.tostring(root.find("oai:metadata", OAI))
        n += 1
    assert n > 0
    live = next(s for s in about_server.store.iter_records(include_deleted=False))
    doc = about_server.oai({"verb": "GetRecord", "metadataPrefix": prefix,
                            "identifier": f"oai:{about_server.settings.repository_identifier}:{live.record.record_id}"})
    assert doc.find(".//oai:record/oai:about/p:provenance", {**OAI, **PROV}) is not None


def test_repository_identifier_is_never_the_archive_domain(tmp_path: Path) -> None:
    empty = tmp_path / "none.toml"
    empty.write_text("")
    settings = load_settings(empty, environ={})
    assert settings.oai.repository_identifier is None
    with pytest.raises(click.ClickException, match="oai.repository_identifier"):
        repository_identifier(settings)
    assert repository_identifier(settings, loopback=True) == LOOPBACK_IDENTIFIER
    derived = load_settings(empty, environ={"WCDA_OAI__BASE_URL": "https://oai.example.org/oai"})
    assert repository_identifier(derived) == "oai.example.org"
    ip = load_settings(empty, environ={"WCDA_OAI__BASE_URL": "http://192.0.2.1/oai"})
    with pytest.raises(click.ClickException):
        repository_identifier(ip)
    told = load_settings(empty, environ={"WCDA_OAI__REPOSITORY_IDENTIFIER": "oai.example.net",
                                         "WCDA_OAI__BASE_URL": "https://oai.example.org/oai"})
    assert repository_identifier(told) == "oai.example.net"
