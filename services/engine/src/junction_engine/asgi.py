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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
OnError = Callable[[Request, Exception], Awaitable[Response]]


class EngineApp(Starlette):
    """Starlette, with `hot` POST paths served without its router and middleware."""

    def __init__(self, *, hot: Mapping[str, Handler], on_error: OnError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hot = dict(hot)
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self._hot.get(scope["path"])
            if handler is not None:
                scope["app"] = self
                await self._serve(handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await handler(request)
        except ClientDisconnect:
            return  # the client left while its body was read: nobody to answer
        except Exception as exc:  # noqa: BLE001 -- the last line of defence, as Starlette's own
            response = await self._on_error(request, exc)
        await response(scope, receive, send)
