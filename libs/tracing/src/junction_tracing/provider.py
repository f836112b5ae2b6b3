"""The OpenTelemetry SDK, set up for one service: batch export over OTLP/HTTP.

Imported only when tracing is on (`TracingSettings.enabled`). The provider is
the service's own, handed to what traces; it is not made the process's global
provider, so two services (or two apps in one test) never share one.

Spans are queued by the SDK's `BatchSpanProcessor` and posted by its worker
thread: a request never waits for the collector. `Tracing.aclose` flushes the
queue at shutdown (off the event loop: the exporter's HTTP client blocks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from junction_tracing.settings import TracingSettings

SCOPE = "junction"
_W3C = TraceContextTextMapPropagator()


class Tracing:
    """One service's tracer provider and tracer; `aclose` flushes what is queued."""

    def __init__(self, settings: TracingSettings, processor: SpanProcessor | None = None) -> None:
        self.settings = settings
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            sampler=sampler(settings.sampler, settings.sampler_arg),
        )
        if processor is None:
            processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.endpoint))
        self.provider.add_span_processor(processor)
        self.tracer: trace.Tracer = self.provider.get_tracer(SCOPE)

    async def aclose(self) -> None:
        """Export the spans still queued, then stop the exporter."""
        await asyncio.to_thread(self.provider.shutdown)


def sampler(name: str, ratio: float) -> Sampler:
    """The SDK sampler of a standard ``OTEL_TRACES_SAMPLER`` name."""
    root: Sampler
    base = name.removeprefix("parentbased_")
    if base == "always_on":
        root = ALWAYS_ON
    elif base == "always_off":
        root = ALWAYS_OFF
    else:
        root = TraceIdRatioBased(ratio)
    return ParentBased(root) if name.startswith("parentbased_") else root


def remote_parent(headers: Mapping[str, str]) -> Context | None:
    """The context of a W3C ``traceparent`` (and ``tracestate``) in `headers`, if valid."""
    if "traceparent" not in headers:
        return None
    found = _W3C.extract(headers)
    return found if trace.get_current_span(found).get_span_context().is_valid else None


def w3c_headers(span: trace.Span) -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) naming `span` as the parent of what it calls."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, trace.set_span_in_context(span))
    return carrier
