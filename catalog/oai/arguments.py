"""Request arguments: from raw (name, value) pairs to a checked request, or an OAI error.

oaipmh's `validation.validate` does the per-verb argument table (unknown, required,
exclusive resumptionToken) and its `datestamp_to_datetime` the date arithmetic; what
it lacks we add here: repeated arguments, strict datestamp syntax (oaipmh accepts
"2024-1-1" and fractional seconds), the syntax of metadataPrefix/set/identifier, and
values that XML cannot carry. `echo` on an error says whether the request's
attributes may be repeated in `<request>`: the spec forbids it for badVerb and
badArgument, and everything echoed otherwise has passed these checks, so the
response stays schema-valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from oaipmh import error, validation
from oaipmh.datestamp import datestamp_to_datetime
from oaipmh.error import DatestampError

from catalog.oai.identifiers import is_identifier_syntax
from catalog.xmltext import has_forbidden

VERBS = ("Identify", "ListMetadataFormats", "ListSets", "GetRecord", "ListIdentifiers", "ListRecords")

# From OAI-PMH.xsd: metadataPrefixType and setSpecType.
PREFIX_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+$")
SETSPEC_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SECONDS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class OaiError(Exception):
    """An OAI-PMH error (one of oaipmh.error's classes) plus whether to echo the request."""

    def __init__(self, exc: error.ErrorBase, *, echo: bool = True) -> None:
        super().__init__(str(exc))
        self.code: str = exc.oainame()
        self.message = str(exc)
        self.echo = echo and self.code not in ("badVerb", "badArgument")


@dataclass
class OaiRequest:
    verb: str
    args: dict[str, str] = field(default_factory=dict)  # as sent (valid syntax), for <request>
    from_: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, inclusive to the microsecond

    def get(self, name: str) -> str | None:
        return self.args.get(name)


def _bad(message: str) -> OaiError:
    return OaiError(error.BadArgumentError(message))


def _parse_date(name: str, value: str, *, until: bool) -> datetime:
    if not (DAY_RE.match(value) or SECONDS_RE.match(value)):
        # Also rejects finer-than-seconds values: our granularity is YYYY-MM-DDThh:mm:ssZ.
        raise _bad(f"'{name}' must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, not '{value}'.")
    try:
        moment = datestamp_to_datetime(value, inclusive=until)
    except (DatestampError, ValueError) as exc:
        raise _bad(f"'{name}' is not a valid date: '{value}'.") from exc
    if until:
        # oaipmh makes a day `until` end at 23:59:59; a record stored at 23:59:59.4 is
        # shown as 23:59:59Z, so the bound must reach the end of that second.
        moment = moment + timedelta(microseconds=999_999)
    return moment


def parse(pairs: list[tuple[str, str]]) -> OaiRequest:
    names = [name for name, _ in pairs]
    values = dict(pairs)
    if names.count("verb") > 1:
        raise _bad("The verb argument is repeated.")
    verb = values.get("verb")
    if verb is None:
        raise OaiError(error.BadVerbError("The request has no verb."))
    if verb not in VERBS:
        raise OaiError(error.BadVerbError("Illegal verb; use one of: " + ", ".join(VERBS) + "."))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise _bad("Repeated argument(s): " + ", ".join(repeated) + ".")
    args = {name: value for name, value in pairs if name != "verb"}
    for name, value in args.items():
        if has_forbidden(name) or has_forbidden(value):
            raise _bad("An argument contains characters that XML cannot carry.")
    # oaipmh's table names the argument "from_" (a Python keyword otherwise).
    table = {("from_" if k == "from" else k): v for k, v in args.items()}
    try:
        validation.validateResumptionArguments(verb, table)
    except validation.BadArgumentError as exc:
        raise _bad(str(exc)) from exc

    request = OaiRequest(verb, args)
    prefix = args.get("metadataPrefix")
    if prefix is not None and not PREFIX_RE.match(prefix):
        raise _bad(f"metadataPrefix has an illegal syntax: '{prefix}'.")
    set_spec = args.get("set")
    if set_spec is not None and not SETSPEC_RE.match(set_spec):
        raise _bad(f"set has an illegal syntax: '{set_spec}'.")
    identifier = args.get("identifier")
    if identifier is not None and not is_identifier_syntax(identifier):
        raise _bad("identifier has an illegal syntax (it must be a URI such as oai:<repository>:<id>).")
    if "from" in args:
        request.from_ = _parse_date("from", args["from"], until=False)
    if "until" in args:
        request.until = _parse_date("until", args["until"], until=True)
    if "from" in args and "until" in args and (len(args["from"]) != len(args["until"])):
        raise _bad("from and until have different granularities.")
    return request
