"""The layers of the settings (config.toml, WCDA_* environment, flags) merged, without pydantic.

harvester.config validates the merged layers with pydantic (~0.15-0.3 s to import pydantic
and build the settings models). The read commands (`show`, `list`, `cite`) only need the
catalog's path, so `quick_database` answers it without pydantic when every value in the
layers is one validation would accept as it is (a default, written again, or any text for a
key that takes any text); anything else goes through the full validation, so a bad value
still stops the command with the same one-line error naming the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from catalog.errors import ConfigError

ENV_PREFIX = "WCDA_"
DEFAULT_CONFIG = "config.toml"

# Settings().model_dump(): the defaults (tests/harvest/test_config.py checks this copy
# against the model, so it cannot drift).
DEFAULTS: dict[str, dict[str, object]] = {
    "archive": {"base_url": "https://digitalarchive.wilsoncenter.org", "contact": None},
    "http": {"rate_limit": 1.0, "concurrency": 2, "connect_timeout": 10.0, "read_timeout": 30.0, "max_retries": 4,
             "backoff_base": 2.0, "backoff_max": 300.0, "max_response_bytes": 20000000, "max_redirects": 5},
    "storage": {"database": "data/catalog.db", "warc_dir": "data/warc"},
    "oai": {"repository_name": "Wilson Center Digital Archive (local catalog)", "repository_identifier": None,
            "admin_email": "cataloguer@example.org", "base_url": None, "page_size": 100, "token_secret": None,
            "token_ttl_hours": 24, "host": "127.0.0.1", "port": 8080, "max_connections": 1000,
            "channel_timeout": 30.0, "max_body_bytes": 65536, "search_stale_seconds": 60.0, "static_base_url": None,
            "about_provenance": False},
    "export": {"rights_uri": None, "marc_citation": True},
    "sync": {"stop_after_known_pages": 3, "revalidate_days": 7, "tombstone_after": 3, "max_requests": None,
             "max_minutes": None, "respect_robots": True, "max_crawl_delay": 60.0, "lock_ttl": 300.0,
             "quality_min_pages": 20, "quality_normal_share": 0.8, "quality_alarm_share": 0.5},
    "queue": {"lease_seconds": 120.0, "max_attempts": 5, "coordinator_lease_seconds": 60.0},
}
# Keys typed `str` or `str | None` with no constraint and no validator: any text is valid
# (checked against the model by the same test).
ANY_TEXT = frozenset({("archive", "contact"), ("storage", "database"), ("storage", "warc_dir"),
                      ("oai", "repository_name"), ("oai", "token_secret"), ("oai", "host")})


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def env_layer(environ: dict[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        layer.setdefault(section, {})[key] = value
    return layer


def merged_layers(
    path: str | Path | None = None,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    environ: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Defaults < the TOML file < the environment < flags, merged (not validated)."""
    data: dict[str, Any] = {}
    file = Path(path) if path else Path(DEFAULT_CONFIG)
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(file), f"not valid TOML: {exc}") from exc
    elif path:
        raise ConfigError(str(file), "config file not found")
    data = deep_merge(data, env_layer(dict(os.environ) if environ is None else environ))
    if overrides:
        data = deep_merge(data, {k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in overrides.items()})
    return data


def _valid_as_is(section: str, key: str, value: object) -> bool:
    if (section, key) in ANY_TEXT and isinstance(value, str):
        return True
    default = DEFAULTS[section][key]
    return type(value) is type(default) and value == default


def quick_database(data: dict[str, Any]) -> str | None:
    """`storage.database` of merged layers that validation would accept unchanged, else None
    (the caller then validates them with harvester.config, which names any bad key)."""
    for section, values in data.items():
        if section not in DEFAULTS or not isinstance(values, dict):
            return None
        for key, value in values.items():
            if key not in DEFAULTS[section] or not _valid_as_is(section, key, value):
                return None
    return str(data.get("storage", {}).get("database", DEFAULTS["storage"]["database"]))
