"""The six verbs: OAI arguments in, an OAI-PMH document out (no HTTP here).

Identify, ListMetadataFormats and GetRecord go through oaipmh's XMLTreeServer, which
is conformant for them once it is given `toolkit_description=False`, our own
metadata writers and an `oai-identifier` description. ListSets, ListIdentifiers,
ListRecords and every error are built in `responses` (see docs/oai-pmh.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree
from oaipmh import common, error
from oaipmh.metadata import MetadataRegistry
from oaipmh.server import XMLTreeServer

from catalog.export.common import DEFAULT_OPTIONS, FormatOptions
from catalog.export.registry import OAI_FORMATS, Format
from catalog.export.xmlout import element_of
from catalog.oai import arguments, identifiers, responses, tokens
from catalog.oai.arguments import OaiError, OaiRequest
from catalog.oai.repository import CatalogRepository, Row, metadata_formats, record_from_body
from catalog.store import to_db_time

log = logging.getLogger(__name__)

GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"


# The open end of a list whose request gave no until (store time text sorts below it).
OPEN_END = "9999-12-31T23:59:59.999999Z"


@dataclass(frozen=True)
class ProviderSettings:
    repository_name: str
    repository_identifier: str
    admin_email: str
    page_size: int = 100
    token_ttl_hours: int = 24
    base_url: str | None = None  # public base URL; None: the URL being served
    format_options: FormatOptions = DEFAULT_OPTIONS  # rights URI etc., as in exports
    # Add an <about> provenance container (originDescription: the archive page and harvest date).
    about_provenance: bool = False


def _append_metadata(element: etree._Element, metadata: common.Metadata) -> None:
    """oaipmh metadata writer: the element was built by the export module already."""
    element.append(metadata.element())


class _OaipmhBackend:
    """The IOAI methods oaipmh's XMLTreeServer calls, answered from the catalog."""

    def __init__(self, provider: OaiProvider, base_url: str) -> None:
        self.p = provider
        self.base_url = base_url

    def identify(self) -> common.Identify:
        s = self.p.settings
        ident = common.Identify(
            repositoryName=s.repository_name,
            baseURL=self.base_url,
            protocolVersion="2.0",
            adminEmails=[s.admin_email],
            earliestDatestamp=self.p.repo.earliest_datestamp(),
            deletedRecord="persistent",
            granularity=GRANULARITY,
            compression=["gzip"],
            # oaipmh's toolkit description points at a schema nobody publishes any more,
            # which makes Identify schema-invalid (OAI-PMH.xsd: strict wildcard).
            toolkit_description=False,
        )
        ident.add_description(identifiers.identifier_description(s.repository_identifier))
        return ident

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:
        if identifier is not None:
            self.p.row_for(identifier)  # idDoesNotExist if unknown; deleted records keep their formats
        return [(f.oai.prefix, f.oai.schema, f.oai.namespace) for f in self.p.formats() if f.oai]

    def getRecord(self, metadataPrefix: str, identifier: str) -> tuple[Any, Any, None]:
        fmt = self.p.format_for(metadataPrefix)
        row = self.p.row_for(identifier, fmt)
        specs = self.p.repo.set_specs([row.record_id])[row.record_id]
        header = common.Header(None, identifier, row.datestamp, specs, row.deleted)
        if row.deleted or row.body is None:
            return header, None, None
        return header, common.Metadata(self.p.metadata(fmt, row), {}), None


class OaiProvider:
    def __init__(self, repo: CatalogRepository, settings: ProviderSettings) -> None:
        self.repo = repo
        self.settings = settings
        self._keys: dict[str, tuple[str, str]] = {}

    # -- helpers used by the backend ---------------------------------------------
    def formats(self) -> list[Format]:
        return metadata_formats()

    def format_for(self, prefix: str) -> Format:
        fmt = OAI_FORMATS.get(prefix)
        if fmt is None or fmt.record_xml is None:
            raise error.CannotDisseminateFormatError(
                f"The metadata format '{prefix}' is not supported; see ListMetadataFormats.")
        return fmt

    def rendered(self, fmt: Format) -> tuple[str, str]:
        """(format, key) of the stored renderings this server prints (catalog.export.rendered)."""
        found = self._keys.get(fmt.name)
        if found is None:
            from catalog.export.rendered import render_key

            found = self._keys[fmt.name] = (fmt.name, render_key(fmt, self.settings.format_options))
        return found

    def metadata_text(self, fmt: Format, row: Row) -> str:
        """The record's metadata element in `fmt` as text: the rendering stored with the record
        when it is current (row.rendered), else the format's one serializer run now."""
        if row.rendered is not None:
            return row.rendered
        assert row.body is not None and fmt.record_xml is not None
        return fmt.record_xml(record_from_body(row.body), options=self.settings.format_options)

    def metadata(self, fmt: Format, row: Row) -> etree._Element:
        """The record's metadata element in `fmt`, parsed (GetRecord's tree)."""
        return element_of(self.metadata_text(fmt, row))

    def about(self, row: Row) -> etree._Element | None:
        """The optional <about> provenance container for a record (None when switched off)."""
        if not self.settings.about_provenance or row.body is None:
            return None
        body = row.body
        if not body:  # a list page read the stored rendering only: fetch the record's JSON
            found = self.repo.get(row.record_id)
            if found is None or found.body is None:
                return None
            body = found.body
        return responses.provenance_about(record_from_body(body))

    def row_for(self, identifier: str, fmt: Format | None = None) -> Row:
        """The record an OAI identifier names (with its stored rendering in `fmt`, if given)."""
        record_id = identifiers.parse_identifier(self.settings.repository_identifier, identifier)
        rendered = self.rendered(fmt) if fmt is not None and fmt.writer.stored else None
        row = self.repo.get(record_id, rendered=rendered) if record_id is not None else None
        if row is None:
            raise error.IdDoesNotExistError(f"No item has the identifier '{identifier}'.")
        return row

    # -- entry point ---------------------------------------------------------------
    def handle(self, pairs: list[tuple[str, str]], request_base_url: str) -> bytes:
        """Answer one request; OAI problems become OAI error documents, never exceptions."""
        base_url = self.settings.base_url or request_base_url
        request: OaiRequest | None = None
        try:
            request = arguments.parse(pairs)
            self.repo.refresh()
            if request.verb in ("ListRecords", "ListIdentifiers"):
                return responses.serialize(*self._list_records(request, base_url))
            return responses.serialize(self._dispatch(request, base_url))
        except OaiError as exc:
            return self._error(base_url, exc, request)
        except error.ErrorBase as exc:
            return self._error(base_url, OaiError(exc), request)

    def bad_argument(self, base_url: str, message: str) -> bytes:
        """badArgument for a request the HTTP layer could not even decode."""
        exc = OaiError(error.BadArgumentError(message))
        return self._error(self.settings.base_url or base_url, exc, None)

    def _error(self, base_url: str, exc: OaiError, request: OaiRequest | None) -> bytes:
        attrs = None
        if exc.echo and request is not None:
            attrs = {"verb": request.verb, **request.args}
        return responses.serialize(responses.error_document(base_url, exc.code, exc.message, attrs))

    def _dispatch(self, request: OaiRequest, base_url: str) -> etree._Element:
        verb = request.verb
        if verb in ("Identify", "ListMetadataFormats", "GetRecord"):
            registry = MetadataRegistry()
            for fmt in self.formats():
                if fmt.oai is not None:
                    registry.registerWriter(fmt.oai.prefix, _append_metadata)
            server = XMLTreeServer(_OaipmhBackend(self, base_url), registry, {"xsi": responses.XSI_NS})
            if verb == "Identify":
                tree = server.identify()
            elif verb == "ListMetadataFormats":
                tree = server.listMetadataFormats(**request.args)
            else:
                tree = server.getRecord(**request.args)
                self._add_about(tree.getroot(), request.args["identifier"])
            return tree.getroot()
        return self._list_sets(request, base_url)  # the other list verbs: see handle

    def _add_about(self, root: etree._Element, identifier: str) -> None:
        """oaipmh writes no <about>: add it to GetRecord's record (live records only)."""
        record_el = root.find(f"{responses.q('GetRecord')}/{responses.q('record')}")
        if not self.settings.about_provenance or record_el is None or record_el.find(responses.q("metadata")) is None:
            return
        about = self.about(self.row_for(identifier))
        if about is not None:
            record_el.append(about)

    # -- lists -----------------------------------------------------------------------
    def _expiry(self) -> tuple[int, datetime]:
        moment = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=self.settings.token_ttl_hours)
        return int(moment.timestamp()), moment

    def _token_element(
        self, parent: etree._Element, state: tokens.TokenState, next_after: list[Any] | None, sent: int
    ) -> None:
        """Append <resumptionToken>: the next token, or the empty one that ends the list."""
        el = etree.SubElement(parent, responses.q("resumptionToken"))
        el.set("completeListSize", str(max(state.total, state.cursor + sent)))
        el.set("cursor", str(state.cursor))
        if next_after is not None:
            expires, moment = self._expiry()
            el.set("expirationDate", responses.datestamp(moment))
            el.text = tokens.encode(state.next(next_after, sent, expires), self.repo.token_key)

    def _list_sets(self, request: OaiRequest, base_url: str) -> etree._Element:
        size = self.settings.page_size
        token = request.get("resumptionToken")
        if token is not None:
            state = tokens.decode(token, self.repo.token_key, verb="ListSets")
        else:
            if not self.repo.has_sets():
                raise error.NoSetHierarchyError("This repository has no sets yet (the catalog is empty).")
            state = tokens.TokenState("ListSets", None, None, None, None, None, 0, self.repo.count_sets(), 0)
        after = state.after[0] if state.after else None
        found = self.repo.sets_page(after, size + 1)
        if not found:
            raise error.BadResumptionTokenError("The resumption token points past the end of the list.")
        more = len(found) > size
        found = found[:size]
        root = responses.envelope(base_url, {"verb": "ListSets", **request.args})
        body = etree.SubElement(root, responses.q("ListSets"))
        for s in found:
            el = etree.SubElement(body, responses.q("set"))
            etree.SubElement(el, responses.q("setSpec")).text = s.spec
            etree.SubElement(el, responses.q("setName")).text = s.name
        if more or token is not None:
            self._token_element(body, state, [found[-1].spec] if more else None, len(found))
        return root

    def _list_records(self, request: OaiRequest, base_url: str) -> tuple[etree._Element, list[str]]:
        """ListIdentifiers / ListRecords: the response tree, and the records' metadata texts
        that `responses.serialize` puts in place of its `metadata` placeholders (the stored
        renderings are copied into the page as they are, never parsed and re-serialized)."""
        verb = request.verb
        size = self.settings.page_size
        token = request.get("resumptionToken")
        if token is not None:
            state = tokens.decode(token, self.repo.token_key, verb=verb)
            fmt = self.format_for(state.prefix or "")
            if state.until is None or (state.after is not None and len(state.after) != 2):
                raise error.BadResumptionTokenError("The resumption token cannot be read.")
        else:
            fmt = self.format_for(request.get("metadataPrefix") or "")
            # Freeze the upper bound at the first request (see tokens.py).
            now = to_db_time(datetime.now(UTC))
            limit = to_db_time(request.until.replace(tzinfo=UTC)) if request.until else None
            until = limit or now
            state = tokens.TokenState(
                verb=verb,
                prefix=request.get("metadataPrefix") or "",
                set_spec=request.get("set"),
                from_=to_db_time(request.from_.replace(tzinfo=UTC)) if request.from_ else None,
                until=min(until, now),
                after=None,
                cursor=0,
                total=0,
                expires=0,
                limit=limit,
            )
            assert state.until is not None  # set just above; the type allows None for tokens
            if state.from_ is not None and state.from_ > state.until:
                raise error.NoRecordsMatchError("from is later than until: no records match.")
            total = self.repo.count(state.set_spec, state.from_, min(until, now))
            if total == 0:
                raise error.NoRecordsMatchError("No records match the request's from, until and set.")
            state = tokens.TokenState(**{**state.__dict__, "total": total})
        frozen = state.until
        assert frozen is not None
        rendered = self.rendered(fmt) if fmt.writer.stored else None
        rows = self.repo.page(
            state.set_spec, state.from_, frozen, state.after, size + 1, with_body=(verb == "ListRecords"),
            rendered=rendered,
        )
        if not rows and token is not None:
            # Every record still to send changed during the harvest and moved past the frozen
            # bound: go on past it (up to the request's own until) with their new versions,
            # rather than fail a harvest that did nothing wrong (see tokens.py).
            state = replace(state, until=state.limit or OPEN_END)
            assert state.until is not None
            rows = self.repo.page(
                state.set_spec, state.from_, state.limit or OPEN_END, state.after, size + 1,
                with_body=(verb == "ListRecords"), rendered=rendered,
            )
        if not rows:
            # Only a token can get here: its position is past the last record that is
            # still in the list (or it was minted past the end).
            raise error.BadResumptionTokenError("The resumption token points past the end of the list.")
        more = len(rows) > size
        rows = rows[:size]
        specs = self.repo.set_specs([r.record_id for r in rows])
        repo_id = self.settings.repository_identifier
        root = responses.envelope(base_url, {"verb": verb, **request.args})
        body = etree.SubElement(root, responses.q(verb))
        # The page's records are written as text (headers by responses.header_text, metadata
        # as the serializer's or the stored text) and put in place of one placeholder: an lxml
        # element per header and a parse per record were most of a page's time.
        parts: list[str] = []
        for row in rows:
            ident = identifiers.oai_identifier(repo_id, row.record_id)
            head = responses.header_text(ident, row.last_changed, specs[row.record_id], row.deleted)
            if verb == "ListIdentifiers":
                parts.append(head)
                continue
            parts.append("<record>")
            parts.append(head)
            if not row.deleted and row.body is not None:
                parts.append("<metadata>")
                parts.append(self.metadata_text(fmt, row))
                parts.append("</metadata>")
                about = self.about(row)
                if about is not None:
                    parts.append(etree.tostring(about, encoding="unicode"))
            parts.append("</record>")
        responses.placeholder(body, 0)
        texts = ["".join(parts)]
        if more or token is not None:
            last = rows[-1]
            self._token_element(body, state, [last.last_changed, last.record_id] if more else None, len(rows))
        return root, texts
