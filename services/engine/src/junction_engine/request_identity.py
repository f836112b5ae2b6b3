"""A request's identity: its `x-request-id` and the W3C trace context it came with.

Every answer carries ``x-request-id``: the client's own when it sent a valid
one (1 to 128 characters of ``[A-Za-z0-9._:-]``), else one the engine
generates (128 random bits as 32 hex digits, the shape of a call id; a
call's generated request id *is* its call id). The same id goes to the
provider, onto the call's telemetry (so its call record) and into the
per-call log line.

A ``traceparent`` valid per W3C Trace Context (level 1, and the forward-
compatible reading of later versions) is passed on to the provider as it
came, with its ``tracestate`` when that is valid too; an invalid one is
dropped, and a ``tracestate`` without a valid ``traceparent`` with it. With
tracing off the engine opens no span of its own, so it is transparent to the
trace: the provider's span is the client's child. With tracing on
(`tracing`), the call's span is the client's child and each provider request
names its attempt's span instead, in the same trace.

The headers are read once per request, in one pass, by the ASGI app
(`asgi.EngineApp`), which keeps the result in the scope for the handlers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

REQUEST_ID_HEADER = "x-request-id"
#: where the ASGI app leaves a request's `Identity` in its scope
SCOPE_KEY = "junction.identity"
MAX_REQUEST_ID = 128
MAX_TRACESTATE_MEMBERS = 32

_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID}}}")
_HEX = frozenset("0123456789abcdef")
_TRACESTATE_KEY = re.compile(
    r"[a-z0-9][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}"
)
_TRACESTATE_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")


@dataclass(slots=True)
class Identity:
    """What names one request: its request id, and the trace context to pass on.

    Built once per request and never changed; not frozen, because a frozen
    dataclass costs several times as much to build on the hot path.
    """

    request_id: str
    #: the engine made the id up: the client sent none, or an invalid one
    generated: bool = False
    traceparent: str | None = None
    tracestate: str | None = None
    #: the headers the provider gets: x-request-id, then the trace context
    upstream_headers: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def trace_id(self) -> str | None:
        """The W3C trace id (32 hex digits) of a valid traceparent, else None."""
        return self.traceparent[3:35] if self.traceparent else None

    @property
    def header(self) -> tuple[bytes, bytes]:
        """The ``x-request-id`` response header, as ASGI raw headers hold it."""
        return (b"x-request-id", self.request_id.encode("ascii"))


def new_request_id() -> str:
    # 128 random bits as 32 hex digits (a call id's shape, without building a UUID)
    return os.urandom(16).hex()


def valid_request_id(value: str) -> bool:
    """Whether a client's `x-request-id` is one the engine keeps."""
    return _REQUEST_ID.fullmatch(value) is not None


def valid_traceparent(value: str) -> bool:
    """Whether `value` is a W3C ``traceparent`` this engine may pass on.

    ``version-traceid-parentid-flags``, lowercase hex: version ``ff`` is
    invalid, the trace id (32 digits) and parent id (16) are not all zeros.
    Version 00 is exactly 55 characters; a later version may be longer, with
    a ``-`` after the flags (its extra fields are kept as sent).
    """
    if len(value) < 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
        return False
    version, trace_id, parent_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if not _HEX.issuperset(version + trace_id + parent_id + flags) or version == "ff":
        return False
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return False
    if version == "00":
        return len(value) == 55
    return len(value) == 55 or value[55] == "-"


def valid_tracestate(value: str) -> bool:
    """Whether `value` is a W3C ``tracestate``: at most 32 ``key=value`` members, keys unique.

    Empty members (``a=1,,b=2``) are allowed, as the spec says; a header
    that breaks a rule is dropped whole.
    """
    keys: set[str] = set()
    for raw in value.split(","):
        member = raw.strip(" \t")
        if not member:
            continue
        key, sep, val = member.partition("=")
        if not sep or not _TRACESTATE_KEY.fullmatch(key) or not _TRACESTATE_VALUE.fullmatch(val):
            return False
        if key in keys:
            return False
        keys.add(key)
    return 0 < len(keys) <= MAX_TRACESTATE_MEMBERS


def identify(headers: Iterable[tuple[bytes, bytes]]) -> Identity:
    """The identity of a request with these raw ASGI headers (lowercase names)."""
    request_id: str | None = None
    traceparents = 0
    traceparent = ""
    states: list[str] = []
    for name, value in headers:
        if name == b"x-request-id":
            if request_id is None:
                request_id = value.decode("latin-1")
        elif name == b"traceparent":
            traceparents += 1
            traceparent = value.decode("latin-1")
        elif name == b"tracestate":
            states.append(value.decode("latin-1"))
    generated = request_id is None or not valid_request_id(request_id)
    if generated:
        request_id = new_request_id()
    assert request_id is not None
    upstream = {REQUEST_ID_HEADER: request_id}
    parent: str | None = None
    state: str | None = None
    # two traceparent headers are one invalid one
    if traceparents == 1 and valid_traceparent(traceparent):
        parent = traceparent
        upstream["traceparent"] = parent
        # several tracestate headers are one list, joined by commas
        joined = ",".join(states)
        if joined and valid_tracestate(joined):
            state = joined
            upstream["tracestate"] = state
    return Identity(request_id, generated, parent, state, upstream)


def identity_of(scope: MutableMapping[str, Any]) -> Identity:
    """The identity the ASGI app found for this request (found now when it did not run)."""
    found: Identity | None = scope.get(SCOPE_KEY)
    if found is None:
        found = scope[SCOPE_KEY] = identify(scope.get("headers") or ())
    return found
