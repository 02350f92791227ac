"""Resumption tokens: signed, self-contained keyset cursors.

A token is `<payload>.<signature>`, both base64url without padding:

    payload   = JSON array [version, verb, metadataPrefix, set, from, until,
                            after, cursor, completeListSize, expires]
    signature = first 16 bytes of HMAC-SHA256(key, payload)

`from`/`until` are the bounds of the original request in the store's sortable time
text (`until` inclusive and *frozen*: the earlier of the request's until and the
moment of the first request), `limit` is the request's own `until` (None if it gave
none), `after` is the keyset position: the last (last_changed, record_id) sent, or the
last setSpec for ListSets. Every page is therefore the same indexed range query "after
this key, LIMIT n" (no OFFSET), and a record changed during the harvest moves past the
frozen bound, so it is neither sent twice nor shifts the rest of the list; the next
incremental harvest (from = this harvest's first responseDate) picks it up.

One exception: if every record still to send changed during the harvest, the frozen
list is empty, and an OAI-PMH page cannot be empty. Rather than fail the harvest, the
list then goes on past the frozen bound (up to `limit`) with those changed records, so
the harvester receives their new versions instead of a badResumptionToken.

Tokens are opaque to clients by contract, tamper-evident by the HMAC, and carry
everything the server needs, so they survive restarts and need no server-side state.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from oaipmh import error

VERSION = 2  # 2 added `limit`; a version-1 token is refused as "from another version"
_SIG_BYTES = 16


@dataclass(frozen=True)
class TokenState:
    verb: str
    prefix: str | None
    set_spec: str | None
    from_: str | None  # inclusive lower bound (store time text) or None
    until: str | None  # inclusive, frozen upper bound (store time text); None for ListSets
    after: list[Any] | None  # [last_changed, record_id] for records, [setSpec] for ListSets
    cursor: int  # items sent before the page this token asks for
    total: int  # completeListSize, counted on the first page
    expires: int  # Unix time (seconds)
    limit: str | None = None  # the request's own until, inclusive (None: open-ended)

    def next(self, after: list[Any], sent: int, expires: int) -> TokenState:
        # The list can outgrow the count made on its first page (see the module docstring),
        # so the size always stays ahead of the cursor of a token that has more to send.
        cursor = self.cursor + sent
        return replace(self, after=after, cursor=cursor, total=max(self.total, cursor + 1), expires=expires)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(state: TokenState, key: bytes) -> str:
    body = json.dumps(
        [VERSION, state.verb, state.prefix, state.set_spec, state.from_, state.until,
         state.after, state.cursor, state.total, state.expires, state.limit],
        separators=(",", ":"), ensure_ascii=True,
    ).encode("ascii")
    payload = _b64(body)
    sig = _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:_SIG_BYTES])
    return f"{payload}.{sig}"


def decode(token: str, key: bytes, *, verb: str, now: float | None = None) -> TokenState:
    """The state in `token`, or BadResumptionTokenError (forged, altered, expired, other verb)."""
    bad = error.BadResumptionTokenError
    payload, dot, sig = token.partition(".")
    if not dot or not payload or not sig or not token.isascii():
        raise bad("The resumption token is not one this repository issued.")
    # The signature is compared as the exact text this repository writes: base64 decoders
    # accept extra padding, skip characters outside the alphabet and ignore the unused low
    # bits of the last character, so comparing decoded bytes let altered tokens through.
    expected = _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:_SIG_BYTES])
    if not hmac.compare_digest(sig.encode("ascii"), expected.encode("ascii")):
        raise bad("The resumption token is not one this repository issued, or it was altered.")
    try:
        fields = json.loads(_unb64(payload))
        version, t_verb, prefix, set_spec, from_, until, after, cursor, total, expires, limit = fields
    except (binascii.Error, ValueError, TypeError) as exc:  # signed but unreadable: a key reused across versions
        raise bad("The resumption token cannot be read.") from exc
    if version != VERSION or not isinstance(cursor, int) or not isinstance(total, int) or not isinstance(expires, int):
        raise bad("The resumption token is from another version of this repository.")
    if t_verb != verb:
        raise bad(f"The resumption token belongs to {t_verb}, not {verb}.")
    if expires < (time.time() if now is None else now):
        raise bad("The resumption token has expired; start the list again.")
    if cursor < 0 or total < 0 or cursor >= max(total, 1) and after is not None:
        raise bad("The resumption token points past the end of the list.")
    return TokenState(t_verb, prefix, set_spec, from_, until, after, cursor, total, expires, limit)
