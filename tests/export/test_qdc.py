from __future__ import annotations

from lxml import etree

from catalog.export.qdc import DC_NS, DCTERMS_NS, QDC_NS, qdc_xml
from catalog.model import CatalogRecord
from tests.support.schemas import oai_qdc_schema

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def qdc_element(record: CatalogRecord, *, deleted: bool = False) -> etree._Element:
    return etree.fromstring(qdc_xml(record, deleted=deleted))


def validate(el: etree._Element) -> None:
    """Against DCMI's container in OCLC's namespace (the stand-in) with DCMI's dc/dcterms 2008."""
    oai_qdc_schema().validate(etree.tostring(el, encoding="utf-8"))


def terms(el: etree._Element, name: str) -> list[tuple[str | None, str | None]]:
    """dcterms refinements and dc elements alike, by local name."""
    return [(e.text, e.get(XSI_TYPE)) for e in el if etree.QName(e).localname == name]


def test_every_fixture_record_is_valid_qdc(fixture_record: CatalogRecord) -> None:
    validate(qdc_element(fixture_record))
    validate(qdc_element(fixture_record, deleted=True))


def test_mapping_for_175798(rec: CatalogRecord) -> None:
    el = qdc_element(rec)
    assert el.tag == f"{{{QDC_NS}}}qualifieddc" and QDC_NS == "http://worldcat.org/xmlschemas/qdc-1.0/"
    assert {etree.QName(e).namespace for e in el} == {DC_NS, DCTERMS_NS}
    assert el[0].tag == f"{{{DC_NS}}}title" and el.find(f"{{{DCTERMS_NS}}}created") is not None
    assert terms(el, "identifier")[0][0] == rec.url  # the page URL first
    assert terms(el, "created") == [("1950-10-11", "dcterms:W3CDTF")]
    assert terms(el, "type") == [("Text", "dcterms:DCMIType"), ("Cable", None)]
    assert terms(el, "language") == [("rus", "dcterms:ISO639-3")]
    assert ("https://digitalarchive.wilsoncenter.org/document/175798", "dcterms:URI") in terms(el, "identifier")
    assert [t for t, _ in terms(el, "creator")] == ["Stalin, Joseph, 1879-1953", "Zhou, Enlai, 1898-1976"]
    assert terms(el, "contributor") == [("Gary Goldberg", None)]
    assert [t for t, _ in terms(el, "spatial")] == ["China", "Korea (North)", "Russia (Federation)"]


def test_partial_dates_are_typed_w3cdtf(rec: CatalogRecord) -> None:
    rec.date.normalized, rec.date.precision = "1950-10", "month"
    validate(qdc_element(rec))
    rec.date.normalized, rec.date.precision = "1950", "year"
    validate(qdc_element(rec))
    rec.date.normalized, rec.date.precision = None, "none"
    el = qdc_element(rec)
    validate(el)
    assert terms(el, "created") == []


def test_non_latin_scripts_survive(rec: CatalogRecord) -> None:
    rec.title = "毛泽东致斯大林电报\x02 — Телеграмма"
    data = etree.tostring(qdc_element(rec), encoding="utf-8")
    assert "毛泽东致斯大林电报 — Телеграмма".encode() in data
    validate(etree.fromstring(data))
