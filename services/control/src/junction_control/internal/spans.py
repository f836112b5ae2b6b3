"""Spans of the internal API: route resolve and telemetry ingest, when tracing is on.

`traced` wraps an internal endpoint in a ``SERVER`` span (the child of the
caller's W3C ``traceparent`` when it sent one) named for what it does, with
the answer's status and what the handler noted (`note`): the tenant of a
resolved route, the counts of an ingested batch. No span holds a token hash,
a key or an event's content. With tracing off (`InternalContext.tracing` is
None) the wrapper calls the endpoint and nothing of OpenTelemetry is loaded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from junction_control.context import internal_context

Endpoint = Callable[[Request], Awaitable[Response]]
#: where a handler's notes for its span wait in the request's scope
NOTES_KEY = "junction.span_notes"


def traced(name: str, endpoint: Endpoint) -> Endpoint:
    """`endpoint` inside a span called `name`, when the app traces."""

    async def run(request: Request) -> Response:
        tracing = internal_context(request).tracing
        if tracing is None:
            return await endpoint(request)
        with tracing.span(name, request.headers) as span:
            response = await endpoint(request)
            span.set_attribute("http.response.status_code", response.status_code)
            span.set_attributes(request.scope.get(NOTES_KEY) or {})
            if response.status_code >= 500:
                tracing.failed(span)
            return response

    run.__name__ = getattr(endpoint, "__name__", "traced_endpoint")
    run.__doc__ = endpoint.__doc__
    return run


def note(request: Request, attributes: dict[str, Any]) -> None:
    """Attributes for the request's span (nothing happens when the app does not trace)."""
    if internal_context(request).tracing is not None:
        request.scope.setdefault(NOTES_KEY, {}).update(attributes)
