from __future__ import annotations

from lxml import etree

from catalog.export.common import FormatOptions
from catalog.export.oai_dc import DC_NS, OAI_DC_NS, oai_dc_xml
from catalog.model import CatalogRecord
from tests.support.schemas import oai_dc_schema


def oai_dc_element(record: CatalogRecord, *, options: FormatOptions = FormatOptions()) -> etree._Element:
    return etree.fromstring(oai_dc_xml(record, options=options))

XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def values(el: etree._Element, name: str) -> list[str]:
    return [e.text for e in el.findall(f"{{{DC_NS}}}{name}")]


def test_every_fixture_record_is_valid_oai_dc(fixture_record: CatalogRecord) -> None:
    el = oai_dc_element(fixture_record)
    oai_dc_schema().validate(etree.tostring(el))


def test_root_namespaces_and_schema_location(rec: CatalogRecord) -> None:
    el = oai_dc_element(rec)
    assert el.tag == f"{{{OAI_DC_NS}}}dc"
    assert el.nsmap == {"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI[1:-1]}
    assert el.get(f"{XSI}schemaLocation") == (
        "http://www.openarchives.org/OAI/2.0/oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
    )


def test_mapping_for_175798(rec: CatalogRecord) -> None:
    el = oai_dc_element(rec)
    assert values(el, "creator") == ["Stalin, Joseph, 1879-1953", "Zhou, Enlai, 1898-1976"]
    assert values(el, "contributor") == ["Gary Goldberg"]
    assert values(el, "date") == ["1950-10-11"]
    assert values(el, "type") == ["Text", "Cable"]
    assert values(el, "language") == ["rus"]
    assert values(el, "publisher") == ["Wilson Center Digital Archive"]
    assert values(el, "source") == [
        "AP RF, f. 45, op. 1, d. 334, ll. 134-135; and RGASPI, f. 558, op. 11, d. 334, ll. 0134-0135"
    ]
    assert "https://digitalarchive.wilsoncenter.org/document/175798" in values(el, "identifier")
    assert values(el, "coverage") == ["China", "Korea (North)", "Russia (Federation)"]


def test_forbidden_xml_characters_are_removed_and_scripts_survive(rec: CatalogRecord) -> None:
    rec.title = "Телеграмма\x01 № 4785 周恩来\x0b\ufffe 𠀋"
    rec.summary = "\x00\x1f"  # nothing left: no empty element
    el = oai_dc_element(rec)
    data = etree.tostring(el, encoding="utf-8")
    oai_dc_schema().validate(data)
    assert values(etree.fromstring(data), "title") == ["Телеграмма № 4785 周恩来 𠀋"]
    assert values(el, "description") == []


def test_aggregator_asks(rec: CatalogRecord) -> None:
    """Page URL first identifier, the scan as a relation, the rights URI after the rights text,
    no empty or repeated element."""
    rec.pdf_url = "https://digitalarchive.wilsoncenter.org/scan.pdf"
    rec.subjects = ["China", "China", " ", ""]
    rec.places = ["China", "China"]
    el = oai_dc_element(rec, options=FormatOptions(rights_uri="http://rightsstatements.org/vocab/InC-EDU/1.0/"))
    oai_dc_schema().validate(etree.tostring(el))
    assert values(el, "identifier")[0] == rec.url
    assert values(el, "relation") == ["https://digitalarchive.wilsoncenter.org/scan.pdf"]
    assert values(el, "rights")[-1] == "http://rightsstatements.org/vocab/InC-EDU/1.0/"
    pairs = [(etree.QName(e).localname, e.text) for e in el]
    assert len(pairs) == len(set(pairs)) and all(text and text.strip() for _, text in pairs)
    assert values(el, "coverage") == ["China"]
