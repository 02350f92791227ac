from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

import catalog.export.qdc as qdc_module
from catalog.export.qdc import DCTERMS_NS, QDC_NS, qdc_element
from catalog.model import CatalogRecord
from tests.support.schemas import DC, dcterms_schema, load_xsd

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
CONTAINER_XSD = Path(qdc_module.__file__).parent / "schemas" / "wcda-qdc.xsd"


@cache
def container_schema() -> xmlschema.XMLSchema:
    # Our container imports dcterms.xsd by its official URL, mapped to the local copy.
    return load_xsd(CONTAINER_XSD, [(DCTERMS_NS, DC / "dcterms.xsd")])


def validate(el: etree._Element) -> None:
    data = etree.tostring(el, encoding="utf-8")
    container_schema().validate(data)
    # and each statement on its own against the unchanged DCMI dcterms.xsd
    for child in etree.fromstring(data):
        dcterms_schema().validate(etree.tostring(child))


def terms(el: etree._Element, name: str) -> list[tuple[str | None, str | None]]:
    return [(e.text, e.get(XSI_TYPE)) for e in el.findall(f"{{{DCTERMS_NS}}}{name}")]


def test_every_fixture_record_is_valid_qdc(fixture_record: CatalogRecord) -> None:
    validate(qdc_element(fixture_record))
    validate(qdc_element(fixture_record, deleted=True))


def test_mapping_for_175798(rec: CatalogRecord) -> None:
    el = qdc_element(rec)
    assert el.tag == f"{{{QDC_NS}}}qualifieddc"
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
