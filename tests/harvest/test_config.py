"""Settings precedence (flags > environment > file > defaults) and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.errors import ConfigError
from harvester.config import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml here
    settings = load_settings(None, environ={})
    assert settings.http.rate_limit == 1.0 and settings.http.concurrency == 2
    assert settings.archive.base_url == "https://digitalarchive.wilsoncenter.org"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nrate_limit = 0.5\nconcurrency = 3\n[archive]\ncontact = 'a@example.org'\n")
    from_file = load_settings(path, environ={})
    assert (from_file.http.rate_limit, from_file.http.concurrency) == (0.5, 3)
    env = {"WCDA_HTTP__RATE_LIMIT": "0.25"}
    from_env = load_settings(path, environ=env)
    assert (from_env.http.rate_limit, from_env.http.concurrency) == (0.25, 3)
    from_flag = load_settings(path, environ=env, overrides={"http": {"rate_limit": 2.0, "concurrency": None}})
    assert (from_flag.http.rate_limit, from_flag.http.concurrency) == (2.0, 3)  # None = flag not given
    assert from_flag.archive.contact == "a@example.org"


@pytest.mark.parametrize("text,key", [
    ("[http]\nrate_limit = 0\n", "http.rate_limit"),
    ("[http]\nconcurrency = 'many'\n", "http.concurrency"),
    ("[archive]\nbase_url = 'ftp://x'\n", "archive.base_url"),
    ("[http]\nspeed = 3\n", "http.speed"),
    ("[oai]\ntoken_ttl_hours = 1\n", "oai.token_ttl_hours"),
])
def test_bad_value_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert info.value.key == key and key in str(info.value)


def test_bad_environment_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match="http.max_retries"):
        load_settings(None, environ={"WCDA_HTTP__MAX_RETRIES": "-2"})


def test_not_toml_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[http\n"), environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_shipped_config_is_valid_and_matches_the_defaults() -> None:
    shipped = load_settings(Path(__file__).resolve().parents[2] / "config.toml", environ={})
    defaults = load_settings(None, environ={})
    assert shipped == defaults  # config.toml documents the defaults, it does not change them
