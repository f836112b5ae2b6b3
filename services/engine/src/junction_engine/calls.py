"""What one client call is, and what is recorded when it ends."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from junction_contracts import ModelRoute, Pricing, Route
from junction_contracts.telemetry import (
    MAX_ATTEMPT_NOTES,
    AttemptNote,
    AttemptOutcome,
    CallEvent,
)
from junction_engine import estimates
from junction_engine.json_body import JsonBody
from junction_engine.providers import Operation, Protocol
from junction_engine.request_identity import Identity
from junction_protocols.usage import Usage

if TYPE_CHECKING:  # tracing is imported only when it is on
    from junction_engine.tracing import CallTrace


@dataclass(slots=True)
class ClientCall:
    """A client request, parsed once, on its way to a provider."""

    client: Protocol
    route: Route
    model: ModelRoute
    body: JsonBody
    stream: bool
    #: the client asked for a usage chunk in its stream (OpenAI `stream_options`)
    include_usage: bool = False
    #: headers passed on when the provider speaks the client's protocol (e.g. anthropic-beta)
    passthrough_headers: dict[str, str] = field(default_factory=dict)
    operation: Operation = "chat"
    #: Gemini clients without `alt=sse` get their stream as one JSON array
    json_array_stream: bool = False
    #: 128 random bits as 32 hex digits (uuid4().hex's shape, without building a UUID)
    call_id: str = field(default_factory=lambda: os.urandom(16).hex())
    started: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)
    #: the request's x-request-id and trace context (set by the handler, `endpoints._serve`)
    identity: Identity | None = None
    #: the call's spans when tracing is on (`tracing`); None costs nothing
    trace: CallTrace | None = None

    @property
    def public_model(self) -> str:
        return self.model.name

    @property
    def request_id(self) -> str:
        return self.identity.request_id if self.identity is not None else self.call_id

    @property
    def trace_id(self) -> str | None:
        return self.identity.trace_id if self.identity is not None else None


@dataclass(slots=True)
class CallRecord:
    """The outcome of one call, for metrics and telemetry."""

    call_id: str
    token_id: str
    tenant_id: str
    model: str
    client_protocol: Protocol
    stream: bool
    status: str  # success | failed | cancelled | refused (no provider tried)
    started_at: float
    latency_ms: float
    ttft_ms: float | None = None
    deployment_id: str | None = None
    provider_id: str | None = None
    credential_id: str | None = None
    attempts: int = 0
    http_status: int = 200
    error_code: str | None = None
    usage: Usage = field(default_factory=Usage)
    operation: Operation = "chat"
    #: the key's tokens-per-minute limit, so finished calls can be counted against it
    tpm: int | None = None
    cost_usd: float = 0.0
    images: int = 0
    image_size: str | None = None
    #: some figures of `usage` are the gateway's estimate (see `estimates`)
    usage_estimated: bool = False
    #: the answer was cut: the client left, or the provider's stream broke off
    partial: bool = False
    request_id: str | None = None
    trace_id: str | None = None
    #: the key's public prefix (never the key), for the per-call log line
    token_prefix: str = ""
    #: the upstream attempts in order, as the call's finished event lists them
    attempt_log: tuple[AttemptNote, ...] = ()


Recorder = Callable[[CallRecord], None]
Starter = Callable[[ClientCall], None]
#: describes the attempt under way once it ends: how, and with which error code
NoteMaker = Callable[[AttemptOutcome, str | None], AttemptNote]
# how the attempt under way ended, by the status its call is recorded with
_ATTEMPT_ENDED: dict[str, AttemptOutcome] = {"success": "answered", "cancelled": "cancelled"}


class Outcome:
    """Records one call's outcome exactly once, whichever path reports it first.

    The forwarder hands one to every attempt of a call; a stream that ends
    after its handler returned reports through the same object, so a call
    can never be recorded twice, nor (by the forwarder's last word) not at all.

    It also keeps the call's attempt log: the forwarder says when an attempt
    starts (`trying`) and when one ends without answering (`tried`); the
    attempt still under way when the call is recorded ended with the call.
    """

    __slots__ = ("_call", "_record", "_trying", "notes", "recorded")

    def __init__(self, call: ClientCall, recorder: Recorder) -> None:
        self._call = call
        self._record = recorder
        self.recorded: CallRecord | None = None
        self.notes: list[AttemptNote] = []
        self._trying: NoteMaker | None = None

    def trying(self, note: NoteMaker) -> None:
        """An attempt starts; `note` describes it once it has ended."""
        self._trying = note

    def tried(self, outcome: AttemptOutcome, error_code: str | None) -> None:
        """The attempt under way ended (without answering, unless the call is recorded)."""
        note, self._trying = self._trying, None
        if note is None:
            return
        trace = self._call.trace
        if trace is None and len(self.notes) >= MAX_ATTEMPT_NOTES:
            return
        made = note(outcome, error_code)
        if len(self.notes) < MAX_ATTEMPT_NOTES:
            self.notes.append(made)
        if trace is not None:
            trace.attempt_ended(made)

    def __call__(
        self,
        *,
        status: str,
        http_status: int,
        attempts: int,
        error_code: str | None = None,
        usage: Usage | None = None,
        ttft_ms: float | None = None,
        deployment_id: str | None = None,
        provider_id: str | None = None,
        credential_id: str | None = None,
        images: int = 0,
        image_size: str | None = None,
        text: Callable[[], int] | None = None,
        cut: bool = False,
    ) -> None:
        """Record the call, once.

        `text` is given when a provider was at work on the call: it counts
        the characters of answer text the provider sent, and is called only
        when the provider's usage lacks figures that must then be estimated.
        `cut` says the answer did not end whole.
        """
        if self.recorded is not None:
            return
        if self._trying is not None:
            self.tried(_ATTEMPT_ENDED.get(status, "failed"), error_code)
        call = self._call
        estimated = False
        if text is not None and call.operation in _ESTIMATED_OPERATIONS:
            seen = usage or Usage()
            if estimates.needed(seen, cut=cut):
                usage, estimated = estimates.fill(
                    seen, body=call.body.data, output_chars=text(), cut=cut
                )
        record = CallRecord(
            call_id=call.call_id,
            token_id=call.route.token.id,
            tenant_id=call.route.token.tenant_id,
            model=call.public_model,
            client_protocol=call.client,
            stream=call.stream,
            status=status,
            started_at=call.started_at,
            latency_ms=(time.monotonic() - call.started) * 1000,
            ttft_ms=ttft_ms,
            deployment_id=deployment_id,
            provider_id=provider_id,
            credential_id=credential_id,
            attempts=attempts,
            http_status=http_status,
            error_code=error_code,
            usage=usage or Usage(),
            operation=call.operation,
            tpm=call.route.token.tpm,
            cost_usd=cost_usd(call.model.pricing, usage) if usage else 0.0,
            images=images,
            image_size=image_size,
            usage_estimated=estimated,
            partial=cut,
            request_id=call.request_id,
            trace_id=call.trace_id,
            token_prefix=call.route.token.prefix,
            attempt_log=tuple(self.notes),
        )
        self.recorded = record
        self._record(record)
        if call.trace is not None:
            call.trace.finish(record)


# operations billed by tokens; images are counted by the image
_ESTIMATED_OPERATIONS = frozenset({"chat", "embeddings", "responses", "completions"})


def cost_usd(pricing: Pricing, usage: Usage) -> float:
    """Price of one call: cached input at its own rate, the rest of input and output at theirs."""
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    cached_rate = pricing.cached_input_per_mtok or pricing.input_per_mtok
    return (
        (usage.input_tokens - cached) * pricing.input_per_mtok
        + cached * cached_rate
        + usage.output_tokens * pricing.output_per_mtok
    ) / 1_000_000


def started_event(call: ClientCall) -> CallEvent:
    # an event's id is its call's id and its kind: unique, and no second random draw
    return CallEvent(
        id=f"{call.call_id}-started",
        kind="started",
        call_id=call.call_id,
        at=call.started_at,
        tenant_id=call.route.token.tenant_id,
        token_id=call.route.token.id,
        model=call.public_model,
        operation=call.operation,
        client_protocol=call.client,
        stream=call.stream,
        started_at=call.started_at,
        trace_id=call.trace_id,
        request_id=call.request_id,
    )


def finished_event(record: CallRecord) -> CallEvent:
    u = record.usage
    return CallEvent(
        id=f"{record.call_id}-finished",
        kind="finished",
        call_id=record.call_id,
        at=time.time(),
        tenant_id=record.tenant_id,
        token_id=record.token_id,
        model=record.model,
        operation=record.operation,
        client_protocol=record.client_protocol,
        stream=record.stream,
        started_at=record.started_at,
        status=record.status,  # type: ignore[arg-type]
        http_status=record.http_status,
        error_code=record.error_code,
        deployment_id=record.deployment_id,
        provider_id=record.provider_id,
        credential_id=record.credential_id,
        attempts=record.attempts,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cached_input_tokens=u.cached_input_tokens,
        cache_write_input_tokens=u.cache_write_input_tokens,
        reasoning_tokens=u.reasoning_tokens,
        cost_usd=record.cost_usd,
        latency_ms=record.latency_ms,
        ttft_ms=record.ttft_ms,
        images=record.images,
        image_size=record.image_size,
        usage_estimated=record.usage_estimated,
        partial=record.partial,
        trace_id=record.trace_id,
        request_id=record.request_id,
        attempt_log=record.attempt_log,
    )
