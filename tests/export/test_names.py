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
