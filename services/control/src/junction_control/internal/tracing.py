"""The internal API's tracer; imported by the app factory only when tracing is on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from junction_tracing.provider import Tracing, remote_parent
from junction_tracing.settings import TracingSettings


class InternalTracing:
    """Opens the spans of internal calls; `aclose` flushes them at shutdown."""

    def __init__(self, settings: TracingSettings) -> None:
        self._tracing = Tracing(settings)

    @contextmanager
    def span(self, name: str, headers: Mapping[str, str]) -> Iterator[Span]:
        """A server span, under the caller's trace context when its headers carry one."""
        carrier = {k: v for k in ("traceparent", "tracestate") if (v := headers.get(k))}
        parent = remote_parent(carrier)
        with self._tracing.tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER
        ) as span:
            yield span

    def failed(self, span: Span) -> None:
        span.set_status(Status(StatusCode.ERROR))

    async def aclose(self) -> None:
        await self._tracing.aclose()
