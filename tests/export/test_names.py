from __future__ import annotations

import pytest

from catalog.names import Institution, PersonName, parse_name


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Stalin, Joseph, 1879-1953", PersonName("Stalin", "Joseph")),
        ("Zhou, Enlai, 1898-1976", PersonName("Zhou", "Enlai", True)),
        ("Filippov [Stalin]", PersonName("Stalin", "Joseph")),
        ("Gary Goldberg", PersonName("Goldberg", "Gary")),
        ("Mao Zedong", PersonName("Mao", "Zedong", True)),
        ("Kim, Il-sung, 1912-1994", PersonName("Kim", "Il-sung", True)),
        ("Lee, Robert, 1807-1870", PersonName("Lee", "Robert")),
        ("Stalin, I. V. (Iosif Vissarionovich), 1878-1953", PersonName("Stalin", "Iosif Vissarionovich")),
        ("Molotov, Vyacheslav Mikhailovich, 1890-", PersonName("Molotov", "Vyacheslav Mikhailovich")),
        ("Tito", PersonName("Tito", "")),
    ],
)
def test_persons(written: str, expected: PersonName) -> None:
    name = parse_name(written)
    assert isinstance(name, PersonName)
    assert (name.family, name.given, name.family_first) == (expected.family, expected.given, expected.family_first)
    assert name.written == written


@pytest.mark.parametrize(
    "written",
    ["CC CPSU Politburo", "Ministry of Foreign Affairs, PRC", "Soviet Embassy in Beijing",
     "Central Committee of the Socialist Unity Party"],
)
def test_institutions(written: str) -> None:
    assert parse_name(written) == Institution(written, written)


def test_natural_and_inverted_forms() -> None:
    assert parse_name("Zhou, Enlai, 1898-1976").natural == "Zhou Enlai"  # type: ignore[union-attr]
    assert parse_name("Zhou, Enlai, 1898-1976").inverted == "Zhou Enlai"  # type: ignore[union-attr]
    assert parse_name("Stalin, Joseph, 1879-1953").inverted == "Stalin, Joseph"  # type: ignore[union-attr]


# Names a hostile or broken page can give: blank, only separators Python's str.split counts
# as whitespace (U+001C-U+001F), only commas, only life dates. Each used to end the export or
# the citation with an IndexError.
NO_USABLE_PART = [" ", "\x1c", "\x1f\x1e", ",", " , ", ",,", "1950-1960", ", 1898-1976"]


@pytest.mark.parametrize("written", NO_USABLE_PART)
def test_a_name_with_no_usable_part_is_kept_as_written(written: str) -> None:
    name = parse_name(written)
    assert isinstance(name, PersonName)
    assert name.written == written and name.given == "" and not name.family_first
    assert name.family == " ".join(written.split())


@pytest.mark.parametrize("written", NO_USABLE_PART)
def test_every_format_and_style_survives_a_name_with_no_usable_part(written: str) -> None:
    from catalog.cite import STYLES, cite
    from catalog.errors import HarvesterError
    from catalog.export.registry import FORMATS, writer_for
    from tests.export.records import record_175798, stored

    record = record_175798().model_copy(update={"authors": [written, "Stalin, Joseph"], "translators": [written]})
    for fmt in FORMATS:
        writer = writer_for(fmt)
        assert writer.header() + writer.record(stored(record)) + writer.footer()
    for style in STYLES:
        try:
            assert cite(record, style)
        except HarvesterError as exc:  # a refusal must be a one-line message, never a crash
            assert "\n" not in str(exc)
