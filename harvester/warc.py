"""The raw archive: WARC files (ISO 28500) written and read with warcio.

The same format holds three things: the raw pages of every live harvest, the test
fixtures, and what `--replay` serves. So any harvest can be replayed, and a fixture
can be replaced by a live recording without changing a line of code.

Writing: each request/response pair is two WARC records (linked by
WARC-Concurrent-To), redirects included, each record its own gzip member and flushed
at once, so a killed run leaves only whole records behind. The pair is then synced to
disk together (one fsync an exchange, not one a record), or, for a writer made with
`sync_each=False` (the harvest's), by the caller's `sync()`: the harvest syncs once
before each catalog transaction that stores records, so a record still never reaches the
catalog before its raw response is on disk, at one fsync per batch instead of one a page
(harvest threads share one writer, so every fsync is waited for by all of them).

If a write fails (a full disk, a file size limit) the file is cut back to its last whole
record and ArchiveWriteError is raised: the caller must not store a record whose raw
response is not kept.

Reading: `WarcIndex` scans files once, remembers where each response record sits
(by target URI; the latest recording of a URL wins) and reads a body only when asked,
decoding at most `max_body` bytes of it (a compression bomb in a recording stops there).
A file that is not a readable WARC, or a symlink, is skipped and named in `skipped`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator as _WarcioIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from catalog.errors import ArchiveWriteError, NotInRecording, ResponseTooLarge


class ArchiveIterator(_WarcioIterator):
    """warcio's reader, without its one stderr write: on a damaged record it writes the bytes
    that follow (binary junk, in a replay folder holding a stray file) straight to stderr,
    where a user sees garbage and our one-line errors get lost. Nothing else changes: the
    damaged record is handled as before (warcio still counts it in `err_count`)."""

    INC_RECORD = ""

WARC_SUFFIXES = (".warc", ".warc.gz")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# The most a replayed body may decode to when nobody says less (the fetcher sets its own cap,
# http.max_response_bytes); config.py allows at most 50 MB there.
MAX_BODY = 50_000_000


@dataclass
class RecordedRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]


@dataclass
class RecordedResponse:
    """One HTTP response as it was received (body decoded of any Content-Encoding)."""

    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime
    warc_file: str | None = None
    warc_record_id: str | None = None
    raw_body: bytes | None = field(default=None, repr=False)  # as on the wire, if encoded

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def _warc_date(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("WARC dates must be timezone-aware (UTC)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WarcWriter:
    """Appends request/response pairs to one .warc.gz file."""

    def __init__(self, path: str | Path, *, software: str, operator: str | None = None, replace: bool = False,
                 sync_each: bool = True) -> None:
        """Append to `path` (a new file starts with a warcinfo record); `replace=True` starts it anew.
        `sync_each=False`: exchanges are flushed, not synced; the caller calls `sync()`."""
        self.path = Path(path)
        self.exchanges = 0  # request/response pairs written by this writer
        self.sync_each = sync_each
        self._synced = 0  # exchanges known to be on disk
        self._broken: ArchiveWriteError | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = replace or not self.path.exists() or self.path.stat().st_size == 0
            self._fh = open(self.path, "wb" if replace else "ab")
        except OSError as exc:
            raise ArchiveWriteError(f"cannot write the raw archive {self.path}: {exc.strerror or exc}") from exc
        # WARC/1.1 (ISO 28500:2017), as the warcinfo record declares.
        self._writer = WARCWriter(self._fh, gzip=self.path.name.endswith(".gz"), warc_version="1.1")
        if new:
            info = {"software": software, "format": "WARC File Format 1.1",
                    "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"}
            if operator:
                info["operator"] = operator
            record = self._writer.create_warcinfo_record(self.path.name, info)
            try:
                self._write(record, sync=sync_each)
            except OSError as exc:
                raise self._failed(0, exc) from exc

    @classmethod
    def in_directory(cls, directory: str | Path, *, prefix: str, software: str,
                     operator: str | None = None, sync_each: bool = True) -> WarcWriter:
        """A new file directly inside `directory`; the prefix is a plain name, never a path."""
        if not _PLAIN_NAME.fullmatch(prefix):
            raise ValueError(f"not a plain file name prefix: {prefix!r}")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return cls(Path(directory) / f"{prefix}-{stamp}-{os.getpid()}.warc.gz", software=software, operator=operator,
                   sync_each=sync_each)

    def _write(self, record: object, *, sync: bool = True) -> None:
        self._writer.write_record(record)
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def _failed(self, start: int, exc: OSError) -> ArchiveWriteError:
        """Cut the file back to its last whole record, and say what went wrong in one line.

        The writer is then closed for good: its buffer still holds the bytes that did not fit,
        and every later write (or the close) would only try them again.
        """
        try:
            self._fh.close()
        except OSError:
            pass
        try:
            os.truncate(self.path, start)
        except OSError:
            pass
        self._broken = ArchiveWriteError(f"cannot write the raw archive {self.path}: {exc.strerror or exc}")
        return self._broken

    def write_exchange(self, request: RecordedRequest, response: RecordedResponse) -> str:
        """Write the response and its request; returns the response's WARC-Record-ID."""
        if self._broken is not None:
            raise self._broken
        date = _warc_date(response.fetched_at)
        http_headers = StatusAndHeaders(f"{response.status} {response.reason}".strip(), response.headers,
                                        protocol="HTTP/1.1")
        payload = response.raw_body if response.raw_body is not None else response.body
        # The length is given so warcio hashes the bytes in place instead of copying them into a
        # SpooledTemporaryFile that it never closes (a ResourceWarning per record).
        resp = self._writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(payload), length=len(payload),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": date},
        )
        record_id = resp.rec_headers.get_header("WARC-Record-ID")
        path = request.url.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        req_headers = StatusAndHeaders(f"{request.method} {path} HTTP/1.1", request.headers, is_http_request=True)
        req = self._writer.create_warc_record(
            request.url, "request", payload=io.BytesIO(b""), length=0, http_headers=req_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
        )
        start = self._fh.tell()
        try:
            self._write(resp, sync=False)  # flushed: a killed process still leaves whole records
            self._write(req, sync=self.sync_each)  # flushed, and both synced (or at the caller's sync())
        except OSError as exc:  # ENOSPC, EFBIG, EIO: no half exchange stays behind
            raise self._failed(start, exc) from exc
        finally:
            for record in (resp, req):  # the blocks' buffers (warcio leaves them open)
                record.raw_stream.close()
        response.warc_file = self.path.name
        response.warc_record_id = record_id
        self.exchanges += 1
        if self.sync_each:
            self._synced = self.exchanges
        return record_id

    def sync(self) -> None:
        """Make every exchange written so far durable (one fsync; nothing to do if none is new).

        Raises ArchiveWriteError if the disk refuses (EIO): then nothing written since the last
        sync may be counted on, and the writer is closed for good."""
        if self._broken is not None:
            raise self._broken
        written = self.exchanges
        if written == self._synced:
            return
        try:
            os.fsync(self._fh.fileno())
        except OSError as exc:
            try:
                self._fh.close()
            except OSError:
                pass
            self._broken = ArchiveWriteError(f"cannot write the raw archive {self.path}: {exc.strerror or exc}")
            raise self._broken from exc
        self._synced = written

    def close(self) -> None:
        if self._broken is None and not self.sync_each:
            try:
                self.sync()  # the exchanges no record came from (a 404…) are kept as durably
            except ArchiveWriteError:
                return  # closed by sync(); each stored record's exchange was synced before it was stored
        if self._broken is None:
            self._fh.close()  # every record was flushed when written: nothing is left to fail

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def warcinfo_text(path: str | Path) -> str:
    """The first warcinfo record's text ("" if the file does not start with one)."""
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "warcinfo":
                return bytes(record.content_stream().read()).decode("utf-8", "replace")
            return ""
    return ""


def warc_files(path: str | Path | Iterable[str | Path], skipped: list[tuple[Path, str]] | None = None) -> list[Path]:
    """A WARC file, or every WARC file under a folder, in name order (several paths: each in turn).

    Symlinks under a folder are left out (and added to `skipped`): a recording is read from
    the folder itself, never from wherever a link points.
    """
    if not isinstance(path, str | Path):
        several: list[Path] = []
        for one in path:
            several += [f for f in warc_files(one, skipped) if f not in several]
        return several
    p = Path(path)
    if p.is_dir():
        found = []
        for f in sorted(p.rglob("*")):
            if not f.name.endswith(WARC_SUFFIXES):
                continue
            if f.is_symlink():
                if skipped is not None:
                    skipped.append((f, "a symlink, not a file of the recording"))
            elif f.is_file():
                found.append(f)
        return found
    if p.is_file():
        return [p]
    raise FileNotFoundError(f"no WARC file or folder at {p}")


def _parse_warc_date(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    value = value.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in value else "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(value, fmt).replace(tzinfo=UTC)


def _to_response(record: object, warc_file: str, max_body: int = MAX_BODY) -> RecordedResponse:
    rec_headers = record.rec_headers  # type: ignore[attr-defined]
    http = record.http_headers  # type: ignore[attr-defined]
    status_line = http.get_statuscode() or "0"
    reason = http.statusline.split(" ", 1)[1] if " " in http.statusline else ""
    # content_stream() undoes Content-Encoding (gzip, br) and chunking, as a client would,
    # a block at a time: reading one byte past the cap stops a compression bomb there.
    body = record.content_stream().read(max_body + 1)  # type: ignore[attr-defined]
    if len(body) > max_body:
        raise ResponseTooLarge(rec_headers.get_header("WARC-Target-URI") or "",
                               f"recorded body decodes to over {max_body} bytes ({warc_file})")
    # The body is handed back decoded, so the headers that describe the encoded form go;
    # Content-Length stays only when it described these very bytes (truncation checks use it).
    encoded = http.get_header("Content-Encoding") not in (None, "", "identity")
    dropped = {"content-encoding", "transfer-encoding"} | ({"content-length"} if encoded else set())
    headers = [(k, v) for k, v in http.headers if k.lower() not in dropped]
    return RecordedResponse(
        url=rec_headers.get_header("WARC-Target-URI"),
        status=int(status_line),
        reason=reason,
        headers=headers,
        body=body,
        fetched_at=_parse_warc_date(rec_headers.get_header("WARC-Date")),
        warc_file=warc_file,
        warc_record_id=rec_headers.get_header("WARC-Record-ID"),
    )


def iter_responses(paths: Iterable[Path]) -> Iterator[RecordedResponse]:
    """Every HTTP response record in the files, in file order."""
    for path in paths:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response" and record.http_headers is not None:
                    yield _to_response(record, path.name)


class WarcIndex:
    """Responses in recorded WARC files, looked up by request URL. Never touches the network."""

    def __init__(self, path: str | Path | Iterable[str | Path], *, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        # Files left out, with why: symlinks, and files that are not readable WARC (a junk
        # .warc.gz, a cut-off gzip member). Whole records read before the damage still count.
        self.skipped: list[tuple[Path, str]] = []
        self.files = warc_files(path, self.skipped)
        self._where: dict[str, tuple[Path, int]] = {}
        # Record ID -> the recorded URL of its page, for pages recorded under their slug only
        # (a sync asks /document/<slug>): `Fetcher.document_url` asks a replay for that URL.
        self.page_urls: dict[int, str] = {}
        for file in self.files:
            try:
                with open(file, "rb") as fh:
                    it = ArchiveIterator(fh)
                    warc_records = 0
                    for record in it:
                        # warcio is lenient: about 1 in 150 random junk files reads as an ARC
                        # "response" or a WARC record with no type. Only real WARC records count.
                        if not record.format.startswith("warc") or not record.rec_headers.get_header("WARC-Record-ID"):
                            continue
                        warc_records += 1
                        if record.rec_type == "response":
                            url = record.rec_headers.get_header("WARC-Target-URI")
                            if url:
                                key = _normalize_url(url)
                                # The latest answer wins, except one that says nothing about the
                                # page: a sync's 304 (the page recorded earlier is still the
                                # page), a rate limit, a server error. Such a later answer would
                                # leave reparse with no page where the recordings hold one.
                                if key in self._where and _says_nothing_of_the_page(record):
                                    continue
                                self._where[key] = (file, it.get_record_offset())
                    if not warc_records:
                        self.skipped.append((file, "not a readable WARC file (no WARC records in it)"))
            except Exception as exc:  # warcio raises ArchiveLoadFailed, zlib/EOF/OSError/ValueError
                # The reason in plain printable words: warcio quotes the junk it found.
                said = "".join(c if c.isprintable() and c.isascii() else "?" for c in str(exc).split(",")[0])[:120]
                self.skipped.append((file, f"not a readable WARC file ({type(exc).__name__}: {said})"))

    def __contains__(self, url: str) -> bool:
        return _normalize_url(url) in self._where

    def __len__(self) -> int:
        return len(self._where)

    def urls(self) -> list[str]:
        return list(self._where)

    def add_page(self, record_id: int, url: str) -> bool:
        """Replay `record_id`'s page from `url`, where it is recorded; False when it is not."""
        if url not in self:
            return False
        self.page_urls[record_id] = _normalize_url(url)
        return True

    def get(self, url: str) -> RecordedResponse:
        try:
            file, offset = self._where[_normalize_url(url)]
        except KeyError:
            raise NotInRecording(url, "not in the recording") from None
        with open(file, "rb") as fh:
            fh.seek(offset)
            record = next(iter(ArchiveIterator(fh)))
            # The full path: a record replayed from a recording can be reparsed from it later.
            return _to_response(record, str(file.resolve()), self.max_body)


class LockedWriter:
    """A fetcher's exchange hook that writes to one WARC file from several fetch threads."""

    def __init__(self, writer: WarcWriter) -> None:
        self.writer = writer
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest, response: RecordedResponse) -> None:
        with self._lock:
            self.writer.write_exchange(request, response)

    def sync(self) -> None:
        with self._lock:  # no exchange is half-written while the file is synced (or closed on a failure)
            self.writer.sync()


def _says_nothing_of_the_page(record: ArcWarcRecord) -> bool:
    status = record.http_headers.get_statuscode() if record.http_headers is not None else ""
    return status.isdigit() and (int(status) in (304, 429) or int(status) >= 500)


def _normalize_url(url: str) -> str:
    # A fragment never reaches the server, so it cannot distinguish two recordings.
    return url.split("#", 1)[0]
