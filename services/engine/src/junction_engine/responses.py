"""Responses in the caller's own protocol: errors and JSON bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from junction_engine.errors import GatewayError
from junction_engine.json_body import dump_json
from junction_engine.providers import Protocol
from junction_protocols.errors import error_for


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dump_json(data), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(protocol: Protocol, err: GatewayError) -> Response:
    """Render a refusal as JSON in `protocol`'s error shape, with a stable code."""
    body = error_for(protocol, err.status, err.message, code=err.code)
    if protocol == "openai" and err.param is not None:
        body["error"]["param"] = err.param
    return json_response(body, err.status, headers=err.headers)


class StreamBody(Response):
    """A streamed answer as plain ASGI: each chunk goes out as it comes.

    A client that disconnects stops the stream at once: one watcher task
    waits for the disconnect and cancels the sender, so the body's own
    cleanup (closing the provider's reply, recording the call) runs right
    away. Starlette's StreamingResponse does the same with a task group per
    response, which costs several times more on this path.
    """

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        #: runs after the body, even one that never started (the client left first)
        self.on_close = on_close
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.body_iterator = body
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = asyncio.current_task()
        assert sender is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            sender.cancel()

        watcher = asyncio.get_running_loop().create_task(watch())
        body = self.body_iterator
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not gone:
                raise  # cancelled from outside (shutdown): not ours to swallow
            sender.uncancel()
        finally:
            watcher.cancel()
            if isinstance(body, AsyncGenerator):
                await body.aclose()  # its cleanup runs now, not when it is collected
            if self.on_close is not None:
                await self.on_close()
