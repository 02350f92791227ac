"""Settings: command-line flags > environment (WCDA_*) > config.toml > defaults.

Every setting is declared here once, with its default and its meaning; pydantic
validates the merged result, and a bad value becomes a ConfigError that names the
key (`http.rate_limit: Input should be greater than 0`). config.toml in the project
root documents every key with the same defaults.

Environment variables use the section and key joined by a double underscore:
`WCDA_HTTP__RATE_LIMIT=0.5`, `WCDA_STORAGE__DATABASE=/srv/catalog.db`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog.errors import ConfigError
from harvester.config_layers import merged_layers  # reading and merging the layers: no pydantic

if TYPE_CHECKING:
    from catalog.export.options import FormatOptions


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArchiveSettings(_Section):
    base_url: str = "https://digitalarchive.wilsoncenter.org"
    # Who to contact about this harvester; sent in the User-Agent. Required for live
    # requests (not for replay or reparse), so the site can reach a person, not a bot.
    contact: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class HttpSettings(_Section):
    rate_limit: float = Field(1.0, gt=0, description="requests per second, across all workers")
    concurrency: int = Field(2, ge=1, le=32)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    backoff_base: float = Field(2.0, ge=0, description="seconds; doubled on each retry, plus jitter")
    backoff_max: float = Field(300.0, ge=0, description="longest single wait, Retry-After included")
    max_response_bytes: int = Field(20_000_000, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)


class StorageSettings(_Section):
    database: str = "data/catalog.db"
    warc_dir: str = "data/warc"


class OaiSettings(_Section):
    repository_name: str = "Wilson Center Digital Archive (local catalog)"
    # oai:<this>:<Record ID>. A domain the operator controls (OAI identifier guidelines), never
    # the archive's own; None: the host of base_url (see harvester/commands/serve.py).
    repository_identifier: str | None = None
    admin_email: str = "cataloguer@example.org"
    base_url: str | None = None  # public URL of /oai; None: the URL being served
    page_size: int = Field(100, ge=1, le=10_000)
    token_secret: str | None = None  # HMAC key for resumption tokens; None: derived per catalog
    token_ttl_hours: int = Field(24, ge=23)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # `harvester serve` against slow and hostile clients (waitress): connections held at once
    # (120 slowloris connections must not shut out a real client), seconds a connection may
    # stay idle, and the largest request body (bigger ones get 413 before they are read).
    max_connections: int = Field(1000, ge=10, le=10_000)
    channel_timeout: float = Field(30.0, gt=0)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    # After a write, `serve` answers searches from its last snapshot in memory while it is at most
    # this old (catalog/search/memory.py), not from SQL (0.5-2 s a broad search at 100k records).
    search_stale_seconds: float = Field(60.0, ge=0, description="seconds a search may lag behind the catalog")
    # `harvester feed`: Identify baseURL of the Static Repository, i.e. the gateway's URL
    # followed by the file's URL (None: the file's own URI, with a note).
    static_base_url: str | None = None
    # Add an OAI <about> provenance container to each record (the archive page and harvest date).
    about_provenance: bool = False

    @field_validator("repository_identifier")
    @classmethod
    def _domain_name(cls, value: str | None) -> str | None:
        # oai-identifier.xsd: the repository identifier is a domain name (labels start with a letter).
        import re

        if value is not None and not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+", value):
            raise ValueError("must be a domain name you control, such as oai.example.org")
        return value

    @field_validator("admin_email")
    @classmethod
    def _email(cls, value: str) -> str:
        # The openarchives.org validator rejects @localhost and anything not shaped like an address.
        import re

        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) or value.lower().endswith("@localhost"):
            raise ValueError("must be a public e-mail address")
        return value

    @field_validator("base_url", "static_base_url")
    @classmethod
    def _http_base(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class ExportSettings(_Section):
    # A rights-statement URI (rightsstatements.org or Creative Commons) printed with the rights
    # text in oai_dc, oai_qdc, mods, marcxml and jsonld, in exports and over OAI-PMH alike.
    rights_uri: str | None = None
    # marcxml: field 524 = the house citation (citeproc-py, ~10x the cost of the rest of the record)
    marc_citation: bool = True

    def format_options(self) -> FormatOptions:
        """These settings as the export formats take them (exports, OAI-PMH, feed)."""
        from catalog.export.options import FormatOptions

        return FormatOptions(rights_uri=self.rights_uri, marc_citation=self.marc_citation)

    @field_validator("rights_uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URI such as http://rightsstatements.org/vocab/InC-EDU/1.0/")
        return value


class SyncSettings(_Section):
    stop_after_known_pages: int = Field(3, ge=1, description="discovery stops after this many pages with nothing new")
    revalidate_days: int = Field(7, ge=1)
    tombstone_after: int = Field(3, ge=1, description="consecutive 404/410 syncs before a record becomes a tombstone")
    max_requests: int | None = Field(None, ge=1)
    max_minutes: float | None = Field(None, gt=0)
    respect_robots: bool = True
    # A robots.txt Crawl-delay over this stops the run with a message instead of crawling at
    # that pace (Crawl-delay: 100000 would take a day a request); every wait is also bounded
    # by max_minutes.
    max_crawl_delay: float = Field(60.0, gt=0, description="seconds; the longest Crawl-delay obeyed")
    # The lock row expires this long after its last heartbeat (sent every third of it), so a
    # crashed sync on another host cannot hold the catalog for ever; on this host a dead
    # owner pid frees it at once.
    lock_ttl: float = Field(300.0, ge=5, description="not used any more (kept so that older config files load)")
    # Quality alarm: a field present in at least `quality_normal_share` of the catalog that is
    # missing from at least `quality_alarm_share` of the pages parsed in one run (judged once
    # the run parsed `quality_min_pages` pages) means the markup probably changed.
    quality_min_pages: int = Field(20, ge=1)
    quality_normal_share: float = Field(0.8, gt=0, le=1)
    quality_alarm_share: float = Field(0.5, gt=0, le=1)


class QueueSettings(_Section):
    # A worker renews its leases every third of this (the heartbeat); a worker that dies
    # (SIGKILL, power cut, a lost database) leaves its items to be claimed again this long
    # after its last heartbeat. Short enough that a crash costs little, long enough that a
    # slow database or a long Retry-After pause does not make live workers lose their items.
    lease_seconds: float = Field(120.0, ge=2, description="seconds a work item's lease lives without a heartbeat")
    # An item whose lease ran out this many times (it killed every worker that tried it)
    # is failed instead of being tried for ever.
    max_attempts: int = Field(5, ge=1)
    # `sync` walks the listing under this coordinator lease (one worker at a time), renewed
    # every third of it; a holder that died lets another sync take discovery over this long
    # after its last renewal. Short: it is held only while the listing is walked.
    coordinator_lease_seconds: float = Field(60.0, ge=2, description="seconds the discovery lease of a sync "
                                                                     "lives without a heartbeat")


class Settings(_Section):
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    oai: OaiSettings = Field(default_factory=OaiSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)


def load_settings(
    path: str | Path | None = None,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Merge defaults, the TOML file, the environment and flags (in that order of strength)."""
    data = merged_layers(path, overrides=overrides, environ=environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(key, first["msg"]) from exc


def require_live(settings: Settings) -> None:
    """What a run against the live archive needs, checked before it starts (and creates a WARC
    file or a sync run): the contact address that goes in the User-Agent."""
    if not settings.archive.contact:
        raise ConfigError("archive.contact", "a contact address (e-mail or URL) is required for live requests; "
                                             "give --contact or set archive.contact in config.toml")
