"""Relaying a provider's SSE stream to the client, converted event by event.

The relay waits for the first client-bound bytes before it answers: until
then a failure (including a stream that opens with an error event, ends
empty, or carries something the translator cannot read) still fails over.
After that it never retries; a stream that breaks ends with an error event
in the client's protocol, never with a clean end the client would mistake
for a full answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
from starlette.responses import Response, StreamingResponse

from junction_engine.calls import Recorder, record_for
from junction_engine.errors import TryNext, UpstreamFailed
from junction_engine.routing import HealthBoard
from junction_engine.settings import EngineSettings
from junction_engine.upstream_replies import MALFORMED
from junction_protocols.convert import StreamConverter
from junction_protocols.sse import SSEDecoder, SSEError

if TYPE_CHECKING:
    from junction_engine.forwarding import Attempt

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# what reading or translating a provider stream may raise on bad input
_BROKEN = (httpx.HTTPError, SSEError, TimeoutError, *MALFORMED)


class StreamRelay:
    def __init__(
        self,
        attempt: Attempt,
        resp: httpx.Response,
        board: HealthBoard,
        settings: EngineSettings,
        recorder: Recorder,
    ) -> None:
        self._a = attempt
        self._resp = resp
        self._board = board
        self._settings = settings
        self._record = recorder
        self._decoder = SSEDecoder()
        self._conv: StreamConverter = attempt.converter.stream(
            model=attempt.call.public_model, include_usage=attempt.call.include_usage
        )
        self._chunks = resp.aiter_bytes()
        self._deadline = attempt.call.started + settings.total_timeout
        self._exhausted = False  # the upstream body has been read to its end
        self._complete = False  # ... and the answer in it was whole
        self._ttft_ms: float | None = None
        self._array = _JsonArrayFraming() if attempt.call.json_array_stream else None

    async def start(self, first_byte_deadline: float) -> Response:
        """Read up to the first client-bound bytes, then hand back the streaming response.

        Raises the forwarder's try-next error if the stream fails before that;
        the caller closes the upstream response then.
        """
        a = self._a
        first = b""
        broken = False
        try:
            async with asyncio.timeout(max(first_byte_deadline - time.monotonic(), 0.001)):
                while not first and not self._exhausted:
                    try:
                        chunk = await anext(self._chunks)
                    except StopAsyncIteration:
                        first = self._finish()
                        break
                    first = self._translate(chunk)
        except _BROKEN:
            broken = True
        if broken or self._conv.failed:
            # an error event, an empty body or garbage before the client saw anything
            self._board.failed(a.deployment.id)
            raise TryNext(
                UpstreamFailed(
                    "the provider's stream failed before its first event",
                    code="upstream_incomplete",
                ),
                deployment_down=True,
            )
        self._ttft_ms = (time.monotonic() - a.call.started) * 1000
        if self._array is not None:
            return StreamingResponse(self._body(first), media_type="application/json")
        return StreamingResponse(
            self._body(first), media_type="text/event-stream", headers=_SSE_HEADERS
        )

    def _translate(self, chunk: bytes) -> bytes:
        out = bytearray()
        for event in self._decoder.feed(chunk):
            # the converter also drops the OpenAI usage chunk the client did not ask for
            out += self._conv.feed(event)
        return self._frame(bytes(out))

    def _finish(self) -> bytes:
        """The upstream body ended: flush, and close cleanly only if the answer was whole."""
        out = bytearray()
        for event in self._decoder.close():
            out += self._conv.feed(event)
        self._exhausted = True
        if self._conv.finish_reason is None:
            out += self._conv.fail("the provider's stream ended before the answer was complete")
        else:
            out += self._conv.close()
            self._complete = not self._conv.failed
        return self._frame(bytes(out), last=True)

    def _fail(self, reason: str) -> bytes:
        return self._frame(self._conv.fail(reason), last=True)

    def _frame(self, sse: bytes, *, last: bool = False) -> bytes:
        if self._array is None:
            return sse
        return self._array.wrap(sse, last=last or self._conv.failed)

    async def _next_chunk(self) -> bytes:
        """The next upstream chunk, within the call's total deadline.

        httpx's read timeout already bounds each wait by the idle timeout, so a
        timer of our own is only armed once the deadline is nearer than that:
        most chunks of most streams pay for no timer at all.
        """
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if remaining > self._settings.idle_timeout:
            return await anext(self._chunks)
        async with asyncio.timeout(remaining):
            return await anext(self._chunks)

    async def _body(self, first: bytes) -> AsyncIterator[bytes]:
        a = self._a
        status, code = "cancelled", "client_disconnected"
        try:
            yield first
            if not self._exhausted and not self._conv.failed:
                try:
                    while True:
                        try:
                            chunk = await self._next_chunk()
                        except StopAsyncIteration:
                            break
                        out = self._translate(chunk)
                        if out:
                            yield out
                        if self._conv.failed:
                            break
                    if not self._conv.failed:
                        tail = self._finish()
                        if tail:
                            yield tail
                except _BROKEN as exc:
                    self._board.failed(a.deployment.id)
                    timeout = isinstance(exc, (TimeoutError, httpx.TimeoutException))
                    yield self._fail(
                        "the provider's stream timed out"
                        if timeout
                        else "the provider's stream broke off"
                    )
            if self._complete:
                status, code = "success", ""
                self._board.succeeded(a.deployment.id)
                self._board.succeeded(a.credential.id)
            else:
                status, code = "failed", "upstream_incomplete"
        finally:
            await self._resp.aclose()
            self._board.leave(a.deployment.id)
            self._record(
                record_for(
                    a.call,
                    status=status,
                    http_status=200 if status != "cancelled" else 499,
                    attempts=a.number,
                    error_code=code or None,
                    usage=self._conv.usage,
                    ttft_ms=self._ttft_ms,
                    deployment_id=a.deployment.id,
                    provider_id=a.deployment.provider.id,
                    credential_id=a.credential.id,
                )
            )


class _JsonArrayFraming:
    """Gemini's stream without `alt=sse`: one JSON array, an element per response."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._opened = False
        self._closed = False

    def wrap(self, sse: bytes, *, last: bool = False) -> bytes:
        if self._closed:
            return b""
        out = bytearray()
        events = self._decoder.feed(sse) + (self._decoder.close() if last else [])
        for event in events:
            out += b"[" if not self._opened else b",\r\n"
            self._opened = True
            out += event.data.encode()
        if last:
            self._closed = True
            out += b"]" if self._opened else b"[]"
        return bytes(out)
