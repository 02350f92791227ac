"""The formats library discovery systems ingest: MODS, MARCXML, oai_qdc, oai_dc and schema.org JSON-LD.

Every fixture record and a set of hostile records (control characters, markup in values,
RTL marks, very long values, tombstones) are validated against each format's official
schema (offline copies in tests/schemas); MARCXML is read back with pymarc, JSON-LD is
expanded with pyld.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pymarc
import pytest
from lxml import etree
from pyld import jsonld

from catalog.cite import cite
from catalog.export.common import FormatOptions
from catalog.export.jsonld import jsonld_object, jsonld_script
from catalog.export.marcxml import MARC_NS, marcxml
from catalog.export.mods import MODS_NS, mods_xml
from catalog.export.oai_dc import oai_dc_xml
from catalog.export.qdc import qdc_xml
from catalog.export.registry import FORMATS, OAI_FORMATS, writer_for
from catalog.model import CatalogRecord, Language
from tests.export.records import fixture_records, hard_record, record_175798, stored
from tests.support.schemas import marcxml_schema, mods_schema, oai_dc_schema, oai_qdc_schema

RIGHTS_URI = "http://rightsstatements.org/vocab/InC-EDU/1.0/"
OPTIONS = FormatOptions(rights_uri=RIGHTS_URI)
M = {"m": MODS_NS}

HOSTILE = ["a & b < c > d", "<b>bold</b> <script>alert(1)</script>", "line\r\nbreak\rcr", "]]> \"q\" 'single'",
           "\x00\x07\x1b\ufffe\uffff bell", "tab\there", "  padded  ", "\u202bשלום عربي\u202c \u200f",
           "北京 Запись 😀 \U0010ffff",
           "&amp; already &lt;escaped&gt;", "\r", "&", "x" * 100_000, "--", "A--B----C--"]


def hostile_records() -> list[CatalogRecord]:
    recs = [hard_record()]
    for i, text in enumerate(HOSTILE):
        rec = hard_record()
        rec.record_id = 900000 + i
        rec.title = f"T {text}"
        rec.summary = text
        rec.subjects = [text, f"Germany--{text}--1991-"]
        rec.people_and_organizations = [text]
        rec.authors = [text, "Ministry of Foreign Affairs"]
        rec.translators = [text]
        rec.original_archives = [text]
        rec.source = f"{text}. Translated by {text}."
        rec.places = [text]
        rec.types = [text]
        rec.rights = text
        rec.classification = text
        rec.credit_line = text
        rec.date.display = f"circa {text}?"
        rec.original_languages = [Language(name=text), Language(name="German", iso639_3="deu", iso639_2b="ger")]
        recs.append(rec)
    return recs


def all_records() -> list[CatalogRecord]:
    return [*fixture_records(), *hostile_records()]


def _ids(records: list[CatalogRecord]) -> list[str]:
    return [str(r.record_id) for r in records]


SERIALIZERS = {"oai_dc": (oai_dc_xml, oai_dc_schema), "oai_qdc": (qdc_xml, oai_qdc_schema),
               "mods": (mods_xml, mods_schema), "marcxml": (marcxml, marcxml_schema)}


def test_every_oai_format_has_a_schema_checked_here() -> None:
    assert set(OAI_FORMATS) == set(SERIALIZERS)


@pytest.mark.parametrize("fmt", list(SERIALIZERS))
@pytest.mark.parametrize("record", all_records(), ids=_ids(all_records()))
def test_valid_against_the_official_schema(fmt: str, record: CatalogRecord) -> None:
    serialize, schema = SERIALIZERS[fmt]
    for deleted in (False, True):
        for options in (FormatOptions(), OPTIONS):
            text = serialize(record, deleted=deleted, options=options)
            root = etree.fromstring(text.encode("utf-8"))
            schema().validate(root)
            # no empty element anywhere (MARC control fields aside, every element has text or children)
            empty = [el.tag for el in root.iter() if len(el) == 0 and not (el.text or "").strip()
                     and el.tag != f"{{{MODS_NS}}}accessCondition"]
            assert empty == []


@pytest.mark.parametrize("record", all_records(), ids=_ids(all_records()))
def test_marcxml_reads_back_with_pymarc(record: CatalogRecord) -> None:
    text = marcxml(record, options=OPTIONS)
    [back] = pymarc.parse_xml_to_array(io.BytesIO(text.encode("utf-8")))
    assert back["001"].data == str(record.record_id)
    assert back["245"]["a"] == etree.fromstring(text.encode()).findtext(
        f"{{{MARC_NS}}}datafield[@tag='245']/{{{MARC_NS}}}subfield")
    assert len(back["008"].data) == 40
    assert back.leader[5:10] == "ntmaa" and back.leader[17:20] == "7c "


def test_marc_mapping_for_175798() -> None:
    rec = record_175798()
    rec.pdf_url = "https://digitalarchive.wilsoncenter.org/scan.pdf"
    [m] = pymarc.parse_xml_to_array(io.BytesIO(marcxml(rec, options=OPTIONS).encode()))
    assert m["008"].data[6:11] == "s1950" and m["008"].data[35:38] == "rus"
    assert m["041"].indicators == pymarc.Indicators("1", " ")
    assert m["041"].get_subfields("a", "h") == ["eng", "rus"]
    assert m["100"].get_subfields("a", "d", "e") == ["Stalin, Joseph", "1879-1953", "author"]
    assert m["245"].indicators == pymarc.Indicators("1", "0")
    assert m["264"]["c"] == "October 11, 1950"
    assert m["520"]["a"].startswith("Instructions for the Chinese army")
    assert m["524"]["a"] == cite(rec, "wcda")  # the house citation
    assert m["540"]["u"] == RIGHTS_URI
    assert m["852"]["a"] == "Archive of the President of the Russian Federation (APRF)"
    assert m["852"]["j"].startswith("AP RF, f. 45")
    assert m["600"].get_subfields("a", "d") == ["Mao, Zedong", "1893-1976"]
    assert m["650"]["a"] == "Korean War, 1950-1953"
    assert [f["a"] for f in m.get_fields("651")] == ["China", "Korea (North)", "Russia (Federation)"]
    assert [(f["a"], f["e"]) for f in m.get_fields("700")] == [
        ("Zhou, Enlai", "author"), ("Gary Goldberg", "translator")]
    assert [(f.indicators[1], f["u"]) for f in m.get_fields("856")] == [
        ("0", rec.url), ("1", "https://digitalarchive.wilsoncenter.org/scan.pdf")]
    [dead] = pymarc.parse_xml_to_array(io.BytesIO(marcxml(rec, deleted=True).encode()))
    assert dead.leader[5] == "d"


def test_marc_subject_headings_are_subdivided() -> None:
    rec = next(r for r in fixture_records() if r.record_id == 300240)
    [m] = pymarc.parse_xml_to_array(io.BytesIO(marcxml(rec).encode()))
    heading = next(f for f in m.get_fields("651") if f["a"] == "Ukraine" and f.get("y"))
    assert heading.get_subfields("a", "x", "y") == ["Ukraine", "Economic policy", "1991-"]
    corporate = next(r for r in fixture_records() if r.record_id == 300640)
    [c] = pymarc.parse_xml_to_array(io.BytesIO(marcxml(corporate).encode()))
    assert c["110"]["a"] == "Japan. Foreign Ministry" and c["110"].indicators[0] == "2"


def test_mods_mapping_for_175798() -> None:
    rec = record_175798()
    rec.pdf_url = "https://digitalarchive.wilsoncenter.org/scan.pdf"
    rec.download_url = "https://digitalarchive.wilsoncenter.org/document/9175798/download"
    rec.rights = " Reuse welcome for research. "
    root = etree.fromstring(mods_xml(rec, options=OPTIONS).encode())
    assert root.get("version") == "3.8"
    names = [(n.get("type"), n.findtext("m:namePart", namespaces=M),
              n.findtext("m:role/m:roleTerm[@type='code']", namespaces=M)) for n in root.findall("m:name", M)]
    assert names == [("personal", "Stalin, Joseph", "aut"), ("personal", "Zhou, Enlai", "aut"),
                     ("personal", "Gary Goldberg", "trl")]
    dates = root.findall("m:originInfo/m:dateCreated", M)
    assert [(d.text, d.get("encoding")) for d in dates] == [("October 11, 1950", None), ("1950-10-11", "w3cdtf")]
    assert root.findtext("m:language/m:languageTerm[@authority='iso639-2b']", namespaces=M) == "rus"
    assert root.findtext("m:genre", namespaces=M) == "Cable"
    assert root.findtext("m:location/m:physicalLocation", namespaces=M).startswith("Archive of the President")
    assert root.findtext("m:location/m:shelfLocator", namespaces=M).startswith("AP RF, f. 45")
    urls = {u.get("access"): u.text for u in root.findall("m:location/m:url", M)}
    assert urls == {"object in context": rec.url, "preview": "https://digitalarchive.wilsoncenter.org/scan.pdf",
                    "raw object": rec.download_url}
    access = root.find("m:accessCondition", M)
    assert access.get("{http://www.w3.org/1999/xlink}href") == RIGHTS_URI
    assert access.text == "Reuse welcome for research."
    assert [i.text for i in root.findall("m:identifier", M)][:3] == [rec.url, rec.archive_url, "175798"]
    assert root.findtext("m:recordInfo/m:recordOrigin", namespaces=M).startswith("Harvested from https://")


def test_mods_subjects_are_split_into_parts() -> None:
    rec = next(r for r in fixture_records() if r.record_id == 300237)
    root = etree.fromstring(mods_xml(rec).encode())
    parts = [[(etree.QName(c).localname, c.text) for c in s] for s in root.findall("m:subject", M)]
    assert [("geographic", "Germany"), ("topic", "Foreign relations"), ("geographic", "Poland")] in parts


def test_mods_uncertain_dates_carry_a_qualifier() -> None:
    rec = record_175798()
    rec.date.display, rec.date.normalized, rec.date.precision = "1950?", "1950", "year"
    root = etree.fromstring(mods_xml(rec).encode())
    key = root.find("m:originInfo/m:dateCreated[@keyDate='yes']", M)
    assert key.get("qualifier") == "questionable" and key.text == "1950"


def test_collection_files_validate_and_read_back() -> None:
    records = [stored(r) for r in fixture_records()] + [stored(hard_record(), deleted=True)]
    for name, schema in (("mods", mods_schema), ("marcxml", marcxml_schema)):
        writer = writer_for(name, options=OPTIONS)
        text = writer.header() + "".join(writer.record(s) for s in records) + writer.footer()
        root = etree.fromstring(text.encode())
        schema().validate(root)
        assert len(root) == len(records)
    writer = writer_for("marcxml")
    text = writer.header() + "".join(writer.record(s) for s in records) + writer.footer()
    back = pymarc.parse_xml_to_array(io.BytesIO(text.encode()))
    assert [r["001"].data for r in back] == [str(s.record.record_id) for s in records]
    assert back[-1].leader[5] == "d"


# A stand-in for https://schema.org's context (the real one is a 300 kB file fetched over the
# network; its "@vocab" is http://schema.org/, which is all these terms need).
SCHEMA_ORG_CONTEXT = {"@context": {"@vocab": "http://schema.org/"}}
S = "http://schema.org/"


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    if url.rstrip("/") in ("https://schema.org", "http://schema.org"):
        return {"contextUrl": None, "documentUrl": url, "document": SCHEMA_ORG_CONTEXT}
    raise AssertionError(f"the test tried to load {url}")


def _expand(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return jsonld.expand(doc, {"documentLoader": _loader})


def test_jsonld_expands_to_the_expected_schema_org_types() -> None:
    rec = next(r for r in fixture_records() if r.record_id == 999005)
    [node] = _expand(jsonld_object(rec, options=OPTIONS))
    assert node["@type"] == [S + "ArchiveComponent"] and node["@id"] == rec.url
    assert node[S + "name"] == [{"@value": rec.title}]
    assert node[S + "dateCreated"] == [{"@value": "1957-06-14"}]
    assert node[S + "inLanguage"] == [{"@value": "hu"}, {"@value": "cs"}]
    assert [a["@type"] for a in node[S + "author"]] == [[S + "Organization"], [S + "Organization"], [S + "Person"]]
    assert {a["@type"][0] for a in node[S + "holdingArchive"]} == {S + "ArchiveOrganization"}
    assert node[S + "license"] == [{"@value": RIGHTS_URI}]
    assert node[S + "sameAs"] == [{"@value": rec.archive_url}]
    assert S + "about" in node and S + "url" in node


@pytest.mark.parametrize("record", all_records(), ids=_ids(all_records()))
def test_every_record_expands_as_jsonld(record: CatalogRecord) -> None:
    [node] = _expand(jsonld_object(record))
    assert node["@type"] == [S + "ArchiveComponent"]
    script = jsonld_script(record)
    inner = script.removeprefix('<script type="application/ld+json">').removesuffix("</script>")
    assert "</" not in inner and json.loads(inner)["identifier"] == str(record.record_id)


def test_jsonld_file_is_one_graph_and_skips_tombstones() -> None:
    skipped: list[int] = []
    writer = writer_for("jsonld", on_skip=lambda s, reason: skipped.append(s.record.record_id))
    records = [stored(r) for r in fixture_records()] + [stored(hard_record(), deleted=True)]
    text = writer.header() + "".join(writer.record(s) for s in records) + writer.footer()
    doc = json.loads(text)
    assert len(doc["@graph"]) == len(records) - 1 and skipped == [hard_record().record_id]
    assert len(_expand(doc)) == len(records) - 1


def test_registry_declares_every_format() -> None:
    for fmt in FORMATS.values():
        assert fmt.media_type and fmt.extension
        if fmt.oai is not None:
            assert fmt.record_xml is not None and fmt.oai.schema.startswith("http://")
    assert {f.name for f in FORMATS.values() if not f.prints_deleted} == {"csl-json", "ris", "bibtex", "jsonld"}


def test_marc_citation_can_be_left_out_for_big_loads() -> None:
    rec = record_175798()
    [with_524] = pymarc.parse_xml_to_array(io.BytesIO(marcxml(rec).encode()))
    [without] = pymarc.parse_xml_to_array(io.BytesIO(marcxml(rec, options=FormatOptions(marc_citation=False)).encode()))
    assert with_524.get_fields("524") and not without.get_fields("524")
    assert [f.tag for f in with_524.fields if f.tag != "524"] == [f.tag for f in without.fields]
