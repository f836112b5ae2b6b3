"""How response bytes leave the mock: pauses, paced streams and deliberate cuts.

A cut is an exception raised after part of the body went out: the ASGI
server then closes the connection without the terminating chunk, which is
exactly what a client sees when an upstream dies mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from junction_mockllm.directives import Knobs

SSE_MEDIA_TYPE = "text/event-stream"


class StreamCut(Exception):
    """Raised on purpose to drop a connection mid-body (``fault=cut``)."""


class ClientGone(Exception):
    """The client disconnected while the mock was pausing."""


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def pause(seconds: float, request: Request) -> None:
    """Sleep ``seconds`` before answering; raise ``ClientGone`` if the client leaves first.

    Watching for the disconnect keeps a hung request (``fault=timeout``) from
    outliving its client and blocking server shutdown.
    """
    if seconds <= 0:
        return
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait({watcher}, timeout=seconds)
    finally:
        watcher.cancel()
    if watcher in done:
        raise ClientGone


async def _paced(events: Sequence[bytes], knobs: Knobs) -> AsyncIterator[bytes]:
    # ttfb here means: headers are out, the first event waits (time to first token).
    if knobs.ttfb_ms:
        await asyncio.sleep(knobs.ttfb_ms / 1000)
    cut_at = max(1, len(events) // 2) if knobs.fault == "cut" else None
    delay = knobs.chunk_delay_ms / 1000
    for index, event in enumerate(events):
        if index == cut_at:
            raise StreamCut(f"stream cut after {index} of {len(events)} events")
        if index and delay:
            await asyncio.sleep(delay)
        yield event


def stream_response(
    events: Sequence[bytes],
    knobs: Knobs,
    *,
    headers: Mapping[str, str] | None = None,
    media_type: str = SSE_MEDIA_TYPE,
) -> StreamingResponse:
    """Send pre-built ``events`` with the request's pacing and cut fault."""
    out = {"cache-control": "no-cache", **(headers or {})}
    return StreamingResponse(_paced(events, knobs), media_type=media_type, headers=out)


async def json_response(
    body: Any, knobs: Knobs, request: Request, *, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON body after the ``ttfb`` pause; ``fault=cut`` sends only its first half."""
    try:
        await pause(knobs.ttfb_ms / 1000, request)
    except ClientGone:
        return Response(status_code=499)
    if knobs.fault != "cut":
        return JSONResponse(body, headers=dict(headers or {}))
    raw = json.dumps(body).encode()
    half = max(1, len(raw) // 2)
    # the ttfb pause is already spent; the cut needs no pacing
    unpaced = replace(knobs, ttfb_ms=0, chunk_delay_ms=0)
    return StreamingResponse(
        _paced([raw[:half], raw[half:]], unpaced),
        media_type="application/json",
        headers=dict(headers or {}),
    )


def sse_data(payload: Any, *, event: str | None = None, crlf: bool = False) -> bytes:
    """One Server-Sent Event carrying ``payload`` as compact JSON."""
    end = "\r\n\r\n" if crlf else "\n\n"
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}{end}".encode()


class _QuietCuts(logging.Filter):
    """Drops the server's traceback for deliberate cuts; real errors still log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BaseExceptionGroup):
            return exc.subgroup(StreamCut) is None
        return not isinstance(exc, StreamCut)


def quiet_deliberate_cuts(logger_name: str = "uvicorn.error") -> None:
    """Install the cut filter on the server's error logger (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _QuietCuts) for f in logger.filters):
        logger.addFilter(_QuietCuts())
