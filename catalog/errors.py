"""The project's one error tree.

Third-party exceptions (httpx, lxml, bs4, pydantic, sqlite3) are converted into these
at module edges, so callers never need to import another library's exception types.
It lives in `catalog` because that is the lower layer: `harvester` imports it, never
the other way round.

    HarvesterError
    ├── ConfigError                 bad configuration value (names the key)
    ├── FetchError                  getting a page failed (carries the URL)
    │   ├── NotFound                404
    │   ├── Gone                    410
    │   ├── RateLimited             429 after the retries ran out
    │   ├── ServerError             5xx after the retries ran out
    │   ├── Blocked                 bot challenge / protection page: stops the run
    │   ├── AskedToWait             Retry-After longer than http.backoff_max: stops the run
    │   ├── OutOfTime               the run's time budget ends before the request could
    │   ├── TransportError          connection, timeout, truncated body
    │   ├── ResponseTooLarge        body over the configured cap
    │   ├── OffHostRedirect         a redirect that leaves the archive's host
    │   ├── UnexpectedStatus        any other non-200 answer
    │   └── NotInRecording          replay: the URL is not in the WARC
    ├── ParseError                  not a document page (names the ID)
    ├── RecordValidationError       the parsed values do not make a valid record
    ├── WorkerDied                  a parse worker process was killed on every attempt at one page
    ├── StoreError                  the catalog database failed
    │   └── StoreUnavailable        the connection to the database server was lost
    ├── ArchiveWriteError           the raw archive (WARC) could not be written: stops the run
    ├── BadSearch                   a search parameter that cannot be used (names it; a 400 on the web)
    └── ExportError                 a record cannot be written in a format
        └── StyleCannotRender       a CSL style cannot render this record correctly
"""

from __future__ import annotations


class HarvesterError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(HarvesterError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config: {key}: {message}")
        self.key = key


class FetchError(HarvesterError):
    """A page could not be fetched. `reason` is a short word for reports."""

    reason = "fetch error"

    def __init__(self, url: str, message: str = "", *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        detail = message or self.reason
        super().__init__(f"{detail}: {url}")
        self.url = url
        self.status = status
        self.detail = detail
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said


class NotFound(FetchError):
    reason = "not found (404)"


class Gone(FetchError):
    reason = "gone (410)"


class RateLimited(FetchError):
    reason = "rate limited (429)"


class ServerError(FetchError):
    reason = "server error"


class Blocked(FetchError):
    """The site answered with a bot-protection challenge. Never parsed, never retried."""

    reason = "blocked by bot protection"


class AskedToWait(FetchError):
    """The archive asked us (Retry-After) to wait longer than http.backoff_max: the whole run stops asking."""

    reason = "the archive asked us to wait"


class OutOfTime(FetchError):
    """The run's time budget (sync --max-minutes) ends before this request could be made or finish."""

    reason = "the run's time budget is used up"


class TransportError(FetchError):
    reason = "transport error"


class ResponseTooLarge(FetchError):
    reason = "response too large"


class OffHostRedirect(FetchError):
    reason = "redirect off the archive's host"


class UnexpectedStatus(FetchError):
    reason = "unexpected HTTP status"


class NotInRecording(FetchError):
    reason = "not in the recording"


class ParseError(HarvesterError):
    """The page is not a document page we can read."""

    def __init__(self, record_id: int | str, message: str) -> None:
        super().__init__(f"record {record_id}: {message}")
        self.record_id = record_id
        self.message = message


class NotADocument(ParseError):
    """The address answered with a page of another kind (a person page, a listing, a collection):
    a clear outcome of its own, and nothing is stored."""


class RecordValidationError(HarvesterError):
    def __init__(self, record_id: int | str, message: str) -> None:
        super().__init__(f"record {record_id}: invalid record: {message}")
        self.record_id = record_id


class WorkerDied(HarvesterError):
    """A parse worker process died (e.g. the out-of-memory killer) on every attempt at one task."""


class StoreError(HarvesterError):
    pass


class StoreUnavailable(StoreError):
    """The connection to the catalog's database server was lost (the work may be retried)."""


class ArchiveWriteError(HarvesterError):
    """A WARC file could not be written (a full disk, a file size limit): no record may be stored without it."""


class BadSearch(HarvesterError):
    """A search parameter that cannot be used (an unknown facet family, a page out of range, a query
    too long…): one line naming the parameter; the CLI prints it, the web answers 400 with it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class ExportError(HarvesterError):
    pass


class StyleCannotRender(ExportError):
    """A citation style cannot render this record correctly; we refuse rather than print it wrong."""
