"""OpenTelemetry spans of the data plane: one trace per call, on only with an OTLP endpoint.

This module is imported by the app factory only when tracing is on: with no
endpoint the engine loads no OpenTelemetry module and each request pays a
``None`` test where a span would start (`Engine.tracing`, `ClientCall.trace`).

A call is one ``SERVER`` span, the child of the client's ``traceparent`` when
it sent a valid one (so its trace id is kept), else a new trace's root:

- ``route lookup``: the key's route, from the caches or the control plane;
- one ``CLIENT`` span per upstream attempt (deployment, provider, upstream
  status, outcome, and the reason it was tried: the previous attempt's error
  code); the provider gets that span as its ``traceparent``, with the
  client's ``tracestate``;
- ``stream``: a streamed answer from its first byte to its end (time to first
  token, tokens).

Attributes follow the OpenTelemetry GenAI semantic conventions where they
name a figure (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.usage.*``),
``junction.*`` otherwise. No span holds prompt or answer text, a key, a key's
prefix or a provider URL: only ids, names, counts, codes and times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace import set_span_in_context as _in_context

from junction_contracts import DeploymentRoute, Route
from junction_contracts.telemetry import AttemptNote
from junction_engine.calls import CallRecord, ClientCall
from junction_engine.control_client import TRACE_HEADERS
from junction_engine.errors import GatewayError
from junction_engine.providers import Operation, Protocol
from junction_engine.request_identity import SCOPE_KEY, identity_of
from junction_tracing.provider import Tracing, remote_parent, w3c_headers
from junction_tracing.settings import TracingSettings

#: `gen_ai.operation.name` of each operation (the convention's names where it has one)
OPERATION_NAMES: dict[Operation, str] = {
    "chat": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "images": "generate_content",
    "count_tokens": "count_tokens",
}
#: `gen_ai.provider.name` of each provider type (the convention's well-known values;
#: an OpenAI-compatible server is not OpenAI, so it keeps its type's name)
PROVIDER_NAMES = {
    "openai": "openai",
    "azure-openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
}


class EngineTracing:
    """The engine's tracer: opens one `CallTrace` per call."""

    def __init__(self, settings: TracingSettings) -> None:
        self._tracing = Tracing(settings)

    def begin(self, scope: MutableMapping[str, Any], protocol: Protocol) -> CallTrace:
        """The span of the call this request is, under the client's trace context if any.

        The request's identity then names this span as its trace context, so
        the call's record carries the span's trace id (the client's, or a new one).
        """
        identity = identity_of(scope)
        parent = None
        if identity.traceparent is not None:
            carrier = {"traceparent": identity.traceparent}
            if identity.tracestate is not None:
                carrier["tracestate"] = identity.tracestate
            parent = remote_parent(carrier)
        span = self._tracing.tracer.start_span(
            "call",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "junction.client.protocol": protocol,
                "junction.request.id": identity.request_id,
            },
        )
        own = w3c_headers(span)
        if "traceparent" in own:
            scope[SCOPE_KEY] = replace(
                identity, traceparent=own["traceparent"], tracestate=own.get("tracestate")
            )
        return CallTrace(self._tracing, span)

    async def aclose(self) -> None:
        """Export the spans still queued (at shutdown, after the calls in flight ended)."""
        await self._tracing.aclose()


class CallTrace:
    """The spans of one call: opened by the handler, the forwarder and the attempts."""

    __slots__ = ("_attempt", "_deployment", "_retry_reason", "_stream", "_tracing", "span")

    def __init__(self, tracing: Tracing, span: Span) -> None:
        self._tracing = tracing
        self.span = span
        self._attempt: Span | None = None
        self._deployment: DeploymentRoute | None = None
        self._stream: Span | None = None
        self._retry_reason: str | None = None

    def _child(self, name: str, kind: SpanKind, attributes: dict[str, Any]) -> Span:
        return self._tracing.tracer.start_span(
            name, context=_in_context(self.span), kind=kind, attributes=attributes
        )

    async def lookup(
        self, get: Callable[[str], Awaitable[Route | None]], key_hash: str
    ) -> Route | None:
        """`get(key_hash)` inside the ``route lookup`` span."""
        span = self._child("route lookup", SpanKind.INTERNAL, {})
        route = None
        # a resolve this lookup makes (now, or the refresh it starts) continues the trace
        joined = TRACE_HEADERS.set(w3c_headers(span))
        try:
            route = await get(key_hash)
        finally:
            TRACE_HEADERS.reset(joined)
            if route is not None:
                span.set_attribute("junction.tenant.id", route.token.tenant_id)
            span.set_attribute("junction.route.found", route is not None)
            span.end()
        return route

    def called(self, call: ClientCall) -> None:
        """The request is a call of this operation on this model, for this tenant."""
        operation = OPERATION_NAMES[call.operation]
        self.span.update_name(f"{operation} {call.public_model}")
        self.span.set_attributes(
            {
                "gen_ai.operation.name": operation,
                "gen_ai.request.model": call.public_model,
                "junction.call.id": call.call_id,
                "junction.tenant.id": call.route.token.tenant_id,
                "junction.token.id": call.route.token.id,
                "junction.stream": call.stream,
            }
        )

    def attempt(self, call: ClientCall, deployment: DeploymentRoute, number: int) -> dict[str, str]:
        """Open attempt `number`'s span; the identity headers that name it to the provider."""
        provider = deployment.provider
        system = PROVIDER_NAMES.get(provider.type, provider.type)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": OPERATION_NAMES[call.operation],
            "gen_ai.provider.name": system,
            # the older convention's name of the same, for backends that read only it
            "gen_ai.system": system,
            "gen_ai.request.model": deployment.upstream_model,
            "junction.attempt.number": number,
            "junction.deployment.id": deployment.id,
            "junction.provider.id": provider.id,
            "junction.provider.type": provider.type,
        }
        if self._retry_reason is not None:
            attributes["junction.retry_reason"] = self._retry_reason
        name = f"{attributes['gen_ai.operation.name']} {deployment.upstream_model}"
        self._attempt = span = self._child(name, SpanKind.CLIENT, attributes)
        self._deployment = deployment
        headers = dict(call.identity.upstream_headers) if call.identity is not None else {}
        headers.pop("tracestate", None)
        headers.update(w3c_headers(span))
        return headers

    def attempt_ended(self, note: AttemptNote) -> None:
        """The attempt under way ended as `note` says; a failure is the next one's reason."""
        span, self._attempt = self._attempt, None
        if span is None:
            return
        span.set_attribute("junction.attempt.outcome", note.outcome)
        if note.credential_id is not None:
            span.set_attribute("junction.credential.id", note.credential_id)
        if note.http_status is not None:
            span.set_attribute("http.response.status_code", note.http_status)
        if note.error_code is not None:
            span.set_attribute("error.type", note.error_code)
        if note.outcome == "failed":
            span.set_status(Status(StatusCode.ERROR, note.error_code))
            self._retry_reason = note.error_code
        span.end()

    def streaming(self, ttft_ms: float) -> None:
        """The first bytes of a streamed answer are ready for the client."""
        self._stream = self._child("stream", SpanKind.INTERNAL, {"junction.ttft_ms": ttft_ms})

    def finish(self, record: CallRecord) -> None:
        """The call was recorded: its outcome, usage and times end its spans."""
        usage = {
            "gen_ai.usage.input_tokens": record.usage.input_tokens,
            "gen_ai.usage.output_tokens": record.usage.output_tokens,
        }
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.set_attributes(usage)
            stream.set_attribute("junction.stream.complete", not record.partial)
            stream.end()
        span = self.span
        span.set_attributes(usage)
        span.set_attributes(
            {
                "junction.call.status": record.status,
                "junction.attempts": record.attempts,
                "http.response.status_code": record.http_status,
            }
        )
        if record.ttft_ms is not None:
            span.set_attribute("junction.ttft_ms", record.ttft_ms)
        if record.deployment_id is not None:
            span.set_attribute("junction.deployment.id", record.deployment_id)
        if record.status == "success" and self._deployment is not None:
            span.set_attribute("gen_ai.response.model", self._deployment.upstream_model)
        if record.error_code is not None:
            span.set_attribute("error.type", record.error_code)
        if record.status == "failed":
            span.set_status(Status(StatusCode.ERROR, record.error_code))
        span.end()

    def refused(self, err: GatewayError) -> None:
        """The call was refused before it was forwarded (key, body, limits, money)."""
        self.span.set_attributes(
            {
                "junction.call.status": "refused",
                "http.response.status_code": err.status,
                "error.type": err.code,
            }
        )
        self.span.end()
