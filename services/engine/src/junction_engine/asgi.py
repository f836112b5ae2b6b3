"""The engine's ASGI app: the client API's POST routes go straight to their handler.

Every provider call passes through Starlette's middleware and router: two
middleware layers that each wrap every ``send`` (once per streamed chunk),
a router that tries each route's pattern in turn, and a wrapper that
builds the request. For the few fixed paths that carry nearly all traffic
the engine does that work itself, once: the path is looked up in a dict,
the handler is called with a plain Starlette ``Request``, and its response
is sent as it is. Everything else (the Gemini paths with a model in them,
the GET endpoints, lifespan, unknown paths) goes through Starlette.

A hot handler that raises is answered like any other: logged with its trace
and a 500 in the caller's protocol, never the trace itself; a client that
leaves while its body is read has nobody to answer and is not logged as an
error.

Every request but health, readiness and metrics holds a slot of the
process's in-flight cap (`admission.Admission`) until its answer ends, a
stream's included; past the cap it is shed at once, before its body is
read: 503 ``overloaded`` with ``Retry-After: 1`` in the caller's protocol.
A POST body must arrive within the body timeout once the handler reads it
(`body_timeouts`); past that the request is answered 408 ``body_timeout``
and the connection closed.

Every answer carries the request's ``x-request-id`` (`request_identity`),
read with the trace context in one pass over the headers. A hot handler's
response gets it added to its headers before it is sent, so a stream pays
nothing per chunk; the answers sent any other way (Starlette's routes, a
shed request) get it as their ``http.response.start`` goes out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from junction_engine.admission import Admission
from junction_engine.body_timeouts import BodyDeadlines
from junction_engine.errors import GatewayError
from junction_engine.providers import Protocol
from junction_engine.request_identity import SCOPE_KEY, identify
from junction_engine.responses import error_response

Handler = Callable[[Request], Awaitable[Response]]
OnError = Callable[[Request, Exception], Awaitable[Response]]

#: paths that are never shed: probes and scrapes must see an overloaded engine too
_ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz", "/metrics"})


def protocol_of_path(path: str) -> Protocol:
    """The client protocol a path belongs to, for answers given before any handler runs."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1beta/"):
        return "gemini"
    return "openai"


def _overloaded(protocol: Protocol) -> Response:
    err = GatewayError(
        "the gateway is at capacity; retry in a moment",
        status=503,
        code="overloaded",
        headers={"retry-after": "1"},
    )
    return error_response(protocol, err)


class EngineApp(Starlette):
    """Starlette, with `hot` POST paths served without its router and middleware."""

    def __init__(
        self,
        *,
        hot: Mapping[str, Handler],
        on_error: OnError,
        admission: Admission | None = None,
        body_timeout: float = 60.0,
        on_shed: Callable[[], object] = lambda: None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._hot = dict(hot)
        self._on_error = on_error
        self.admission = admission or Admission()
        self._bodies = BodyDeadlines(body_timeout)
        self._on_shed = on_shed
        # built once: shedding must stay cheap when it is all the engine does
        self._shed: dict[Protocol, Response] = {
            p: _overloaded(p) for p in ("openai", "anthropic", "gemini")
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        identity = scope[SCOPE_KEY] = identify(scope["headers"])
        if scope["path"] in _ALWAYS_ADMITTED:
            await super().__call__(scope, receive, _stamped(send, identity.header))
            return
        admission = self.admission
        if admission.in_flight >= admission.max_in_flight:
            self._on_shed()
            shed = self._shed[protocol_of_path(scope["path"])]
            await shed(scope, receive, _stamped(send, identity.header))
            return
        admission.in_flight += 1
        try:
            if scope["method"] == "POST":
                receive = self._bodies.bounded(receive)
                handler = self._hot.get(scope["path"])
                if handler is not None:
                    scope["app"] = self
                    await self._serve(handler, scope, receive, send)
                    return
            await super().__call__(scope, receive, _stamped(send, identity.header))
        finally:
            admission.in_flight -= 1
            if admission.per_tenant:
                admission.leave_tenant(scope)

    async def _serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await handler(request)
        except ClientDisconnect:
            return  # the client left while its body was read: nobody to answer
        except Exception as exc:  # noqa: BLE001 -- the last line of defence, as Starlette's own
            response = await self._on_error(request, exc)
        # each handler builds its own response: its header list is not shared
        response.raw_headers.append(scope[SCOPE_KEY].header)
        await response(scope, receive, send)


def _stamped(send: Send, header: tuple[bytes, bytes]) -> Send:
    """`send`, adding `header` to the response's start (answers of unknown origin)."""

    async def stamped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
        await send(message)

    return stamped
