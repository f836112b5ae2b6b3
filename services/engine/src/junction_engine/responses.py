"""Responses in the caller's own protocol: errors and JSON bodies."""

from __future__ import annotations

import asyncio
import contextlib
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


#: the scope extension the engine's server protocol offers (`connection_timeouts`):
#: ``{"abort": <drop the connection now>, "write_idle_timeout": <seconds>}``
CONNECTION_EXTENSION = "junction.connection"


class ClientStalled(Exception):
    """Thrown into a stream's body at the chunk its client stopped reading."""


class StreamBody(Response):
    """A streamed answer as plain ASGI: each chunk goes out as it comes.

    A client that disconnects stops the stream at once: one watcher task
    waits for the disconnect and cancels the sender, so the body's own
    cleanup (closing the provider's reply, recording the call) runs right
    away. Starlette's StreamingResponse does the same with a task group per
    response, which costs several times more on this path.

    A client that stays connected but stops reading is cut off too, when
    the server offers `CONNECTION_EXTENSION`: the server's ``send`` waits
    while the socket's buffer is full, and one that has not returned after
    the write-idle timeout stops the stream. `ClientStalled` is thrown into
    the body where it waits (so its cleanup can record why), and the
    connection is dropped: closing it politely would wait for the client to
    read what is buffered. One timer per timeout period watches the sends,
    not one per chunk.
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
        loop = asyncio.get_running_loop()
        sender = asyncio.current_task()
        assert sender is not None
        #: why the stream stopped before its end: the first reason found wins
        stopped: str | None = None
        #: when the send under way began (None: no send under way)
        sending_since: float | None = None

        def stop(reason: str) -> None:
            nonlocal stopped
            if stopped is None:
                stopped = reason
                sender.cancel()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            stop("client_disconnected")

        connection = (scope.get("extensions") or {}).get(CONNECTION_EXTENSION)
        idle: float = connection["write_idle_timeout"] if connection else 0.0
        writes: asyncio.TimerHandle | None = None

        def check_writes() -> None:
            nonlocal writes
            since, now = sending_since, loop.time()
            if since is not None and now - since >= idle:
                stop("client_stalled")
                return
            writes = loop.call_at((now if since is None else since) + idle, check_writes)

        watcher = loop.create_task(watch())
        if idle:
            writes = loop.call_later(idle, check_writes)
        body = self.body_iterator
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in body:
                sending_since = loop.time()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sending_since = None
            sending_since = loop.time()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if stopped is None:
                raise  # cancelled from outside (shutdown): not ours to swallow
            sender.uncancel()
        finally:
            watcher.cancel()
            if writes is not None:
                writes.cancel()
            if isinstance(body, AsyncGenerator):
                if stopped == "client_stalled":
                    await _throw_stalled(body)
                await body.aclose()  # its cleanup runs now, not when it is collected
            if stopped == "client_stalled" and connection:
                connection["abort"]()
            if self.on_close is not None:
                await self.on_close()


async def _throw_stalled(body: AsyncGenerator[bytes, None]) -> None:
    with contextlib.suppress(ClientStalled, StopAsyncIteration):
        await body.athrow(ClientStalled())
