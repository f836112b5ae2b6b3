"""Telemetry schema: what the engine reports about each call.

Every call yields a `started` event when it is forwarded and a `finished`
event when it ends (success, failed, cancelled or refused). The engine sends
them in batches to `POST /internal/v1/telemetry/events` (signed like every
internal call). Each event has a unique `id`; the control plane ingests
idempotently by `(call_id, kind)`, so a replayed batch never counts a call
twice.

The answer (202) counts the events: ``{"accepted", "duplicates", "rejected",
"conflicts"}``. An event whose call and kind are already recorded is a
duplicate when it says the same, and rejected as a conflict when it says
something else; ``conflicts`` lists the ids of those. A conflict is final,
like every 202: the batch is delivered and is not sent again.

A call is ``refused`` when the engine turned it down before trying any
provider (none of the model's providers offers the operation, or the request
cannot be put in any provider's protocol). Nothing was spent on it, so a
refused event that claims a cost is malformed: it is never billed. A control
plane older than this status counts every refused event as malformed (the
call stays `processing` until its reaper fails it as stuck): upgrade the
control plane before the engines.

A call is billed from the provider's usage figures. When the provider
reported none (or the answer was cut before it could), the engine estimates
the missing figures and sets ``usage_estimated``; ``partial`` says the answer
was cut (the client left, the stream broke off or stalled). A control plane
older than these flags ignores them and bills the figures as sent.

``request_id`` is the call's ``x-request-id`` (the client's when it sent a
valid one, else the engine's) and ``trace_id`` the W3C trace id of the
client's ``traceparent``; both are on both events. A control plane older than
``request_id`` ignores it.

``attempt_log`` (finished events) lists the call's upstream attempts in
order, one `AttemptNote` each: the deployment, provider and credential
tried, how the attempt ended (``answered``, ``failed``, ``rejected`` — the
provider's verdict went back to the client — or ``cancelled``), the HTTP
status and error code it ended with, and its duration. A control plane
older than it ignores it; an engine older than it sends none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

from junction_contracts.errors import ContractError

TELEMETRY_VERSION = 1
TELEMETRY_PATH = "/internal/v1/telemetry/events"

EventKind = Literal["started", "finished"]
CallStatus = Literal["success", "failed", "cancelled", "refused"]
CALL_STATUSES: tuple[CallStatus, ...] = ("success", "failed", "cancelled", "refused")
AttemptOutcome = Literal["answered", "failed", "rejected", "cancelled"]
ATTEMPT_OUTCOMES: tuple[AttemptOutcome, ...] = ("answered", "failed", "rejected", "cancelled")
#: more attempts than this in one call's log are dropped (the count stays in `attempts`)
MAX_ATTEMPT_NOTES = 16


# not frozen, like CallEvent below: the engine makes one per attempt
@dataclass(slots=True)
class AttemptNote:
    """One upstream attempt of a call, as its finished event lists it."""

    deployment_id: str
    provider_id: str
    outcome: AttemptOutcome
    latency_ms: float
    credential_id: str | None = None
    http_status: int | None = None
    error_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _NOTE_FIELDS}

    @classmethod
    def from_dict(cls, data: Any) -> AttemptNote:
        if not isinstance(data, dict):
            raise ContractError("attempt note must be an object")
        try:
            note = cls(**{k: v for k, v in data.items() if k in _NOTE_FIELDS})
        except TypeError as exc:
            raise ContractError(f"malformed attempt note: {exc}") from exc
        for name in ("deployment_id", "provider_id"):
            if not isinstance(getattr(note, name), str) or not getattr(note, name):
                raise ContractError(f"attempt field {name!r} must be a non-empty string")
        if note.outcome not in ATTEMPT_OUTCOMES:
            raise ContractError(f"attempt outcome {note.outcome!r} unknown")
        number = note.latency_ms
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not (math.isfinite(number) and number >= 0)
        ):
            raise ContractError("attempt field 'latency_ms' must be a finite number >= 0")
        if note.http_status is not None and (
            isinstance(note.http_status, bool) or not isinstance(note.http_status, int)
        ):
            raise ContractError("attempt field 'http_status' must be an integer")
        for name in ("credential_id", "error_code"):
            value = getattr(note, name)
            if value is not None and not isinstance(value, str):
                raise ContractError(f"attempt field {name!r} must be a string")
        return note


_NOTE_FIELDS = tuple(f.name for f in fields(AttemptNote))


def read_attempt_log(raw: Any) -> tuple[AttemptNote, ...]:
    """An event's attempt log: absent or null is empty; past `MAX_ATTEMPT_NOTES` is dropped."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ContractError("event field 'attempt_log' must be a list")
    return tuple(AttemptNote.from_dict(note) for note in raw[:MAX_ATTEMPT_NOTES])


# not frozen: a frozen dataclass sets each of its fields through object.__setattr__,
# which doubles what building an event costs the engine, twice per call
@dataclass(slots=True)
class CallEvent:
    id: str  # unique per event
    kind: EventKind
    call_id: str
    at: float  # unix seconds when the event happened
    tenant_id: str
    token_id: str
    model: str  # the public model name the client asked for
    operation: str = "chat"  # chat | count_tokens | embeddings | images
    client_protocol: str = "openai"
    stream: bool = False
    started_at: float = 0.0
    # set on `finished` events only
    status: CallStatus | None = None
    http_status: int | None = None
    error_code: str | None = None
    deployment_id: str | None = None
    provider_id: str | None = None
    credential_id: str | None = None
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    ttft_ms: float | None = None
    images: int = 0
    image_size: str | None = None
    trace_id: str | None = None
    #: some token figures are the engine's estimate: the provider reported none
    usage_estimated: bool = False
    #: the answer was cut (client left, stream broke off or stalled)
    partial: bool = False
    #: the call's `x-request-id`, as the client and the provider saw it
    request_id: str | None = None
    #: the upstream attempts in order (finished events); empty when none was made
    attempt_log: tuple[AttemptNote, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # every field but the attempt log is a scalar: no deep copy (asdict) needed
        data = {name: getattr(self, name) for name in _SCALAR_FIELDS}
        data["attempt_log"] = [note.to_dict() for note in self.attempt_log]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> CallEvent:
        """Parse one event; unknown fields are ignored (newer engines), bad ones refused."""
        if not isinstance(data, dict):
            raise ContractError("event must be an object")
        known = _SCALAR_FIELDS
        notes = read_attempt_log(data.get("attempt_log"))
        try:
            event = cls(**{k: v for k, v in data.items() if k in known}, attempt_log=notes)
        except TypeError as exc:
            raise ContractError(f"malformed event: {exc}") from exc
        if event.kind not in ("started", "finished"):
            raise ContractError(f"unknown event kind {event.kind!r}")
        if event.kind == "finished" and event.status not in CALL_STATUSES:
            raise ContractError(f"finished event with status {event.status!r}")
        for name in ("id", "call_id", "tenant_id", "token_id", "model"):
            if not isinstance(getattr(event, name), str) or not getattr(event, name):
                raise ContractError(f"event field {name!r} must be a non-empty string")
        for name in ("at", "started_at", "cost_usd", "latency_ms", "ttft_ms"):
            number = getattr(event, name)
            if number is None and name in ("latency_ms", "ttft_ms"):
                continue
            if (
                isinstance(number, bool)
                or not isinstance(number, int | float)
                or not (math.isfinite(number) and number >= 0)
            ):
                raise ContractError(f"event field {name!r} must be a finite number >= 0")
        if event.kind == "finished" and event.status == "refused" and event.cost_usd != 0:
            raise ContractError("a refused call costs nothing: cost_usd must be 0")
        for name in ("stream", "usage_estimated", "partial"):
            if not isinstance(getattr(event, name), bool):
                raise ContractError(f"event field {name!r} must be a boolean")
        if event.http_status is not None and (
            isinstance(event.http_status, bool) or not isinstance(event.http_status, int)
        ):
            raise ContractError("event field 'http_status' must be an integer")
        for name in (
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cache_write_input_tokens",
            "reasoning_tokens",
            "attempts",
            "images",
        ):
            value = getattr(event, name)
            if not isinstance(value, int) or value < 0:
                raise ContractError(f"event field {name!r} must be a non-negative integer")
        return event


_SCALAR_FIELDS = tuple(f.name for f in fields(CallEvent) if f.name != "attempt_log")


def batch(events: list[CallEvent]) -> dict[str, Any]:
    """The body of one telemetry POST."""
    return {"version": TELEMETRY_VERSION, "events": [e.to_dict() for e in events]}


def parse_batch(data: Any) -> tuple[list[CallEvent], int]:
    """Parse a telemetry POST body into its valid events and a count of invalid ones.

    A wrong version or shape refuses the whole batch (ContractError); a single
    bad event is skipped and counted, so it cannot take the good ones with it.
    """
    if not isinstance(data, dict) or data.get("version") != TELEMETRY_VERSION:
        raise ContractError(f"telemetry version must be {TELEMETRY_VERSION}")
    raw = data.get("events")
    if not isinstance(raw, list):
        raise ContractError("'events' must be a list")
    events: list[CallEvent] = []
    for item in raw:
        try:
            events.append(CallEvent.from_dict(item))
        except ContractError:
            continue
    return events, len(raw) - len(events)
