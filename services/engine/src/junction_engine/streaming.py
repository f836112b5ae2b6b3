"""Relaying a provider's SSE stream to the client, converted event by event.

The relay waits for the first client-bound bytes before it answers: until
then a failure can still fail over. After that it never retries; a stream
that breaks ends with an error event in the client's protocol, never with a
clean end the client would mistake for a full answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
from starlette.responses import Response, StreamingResponse

from junction_engine.calls import Recorder, record_for
from junction_engine.errors import UpstreamFailed
from junction_engine.routing import HealthBoard
from junction_engine.settings import EngineSettings
from junction_protocols.convert import StreamConverter
from junction_protocols.sse import SSEDecoder, SSEError

if TYPE_CHECKING:
    from junction_engine.forwarding import Attempt

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class StreamBroken(Exception):
    """The provider's stream failed before the client saw a byte."""


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
        self._chunks = resp.aiter_raw()
        self._exhausted = False  # the upstream body has been read to its end
        self._complete = False  # ... and the answer in it was whole
        self._ttft_ms: float | None = None
        self._array = _JsonArrayFraming() if attempt.call.json_array_stream else None

    async def start(self) -> Response:
        """Read up to the first client-bound bytes, then hand back the streaming response.

        Raises the forwarder's try-next error if the stream fails before that.
        """
        from junction_engine.forwarding import _TryNext

        a = self._a
        first = b""
        budget = self._settings.first_byte_timeout - (time.monotonic() - a.call.started)
        try:
            async with asyncio.timeout(max(budget, 0.001)):
                while not first and not self._exhausted:
                    try:
                        chunk = await anext(self._chunks)
                    except StopAsyncIteration:
                        first = self._finish()
                        break
                    first = self._translate(chunk)
        except (httpx.HTTPError, SSEError, TimeoutError):
            await self._resp.aclose()
            self._board.failed(a.deployment.id)
            raise _TryNext(
                UpstreamFailed(
                    "the provider's stream failed before its first event",
                    code="upstream_incomplete",
                ),
                deployment_down=True,
            ) from None
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
            self._complete = True
        return self._frame(bytes(out), last=True)

    def _fail(self, reason: str) -> bytes:
        return self._frame(self._conv.fail(reason), last=True)

    def _frame(self, sse: bytes, *, last: bool = False) -> bytes:
        if self._array is None:
            return sse
        return self._array.wrap(sse, last=last)

    async def _body(self, first: bytes) -> AsyncIterator[bytes]:
        a = self._a
        status, code = "cancelled", "client_disconnected"
        deadline = a.call.started + self._settings.total_timeout
        try:
            yield first
            if not self._exhausted:
                try:
                    async for chunk in self._chunks:
                        out = self._translate(chunk)
                        if out:
                            yield out
                        if time.monotonic() > deadline:
                            raise TimeoutError
                    tail = self._finish()
                    if tail:
                        yield tail
                except (httpx.HTTPError, SSEError, TimeoutError) as exc:
                    self._board.failed(a.deployment.id)
                    reason = (
                        "the provider's stream timed out"
                        if isinstance(exc, (TimeoutError, httpx.TimeoutException))
                        else "the provider's stream broke off"
                    )
                    yield self._fail(reason)
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
                    http_status=200,
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

    def wrap(self, sse: bytes, *, last: bool = False) -> bytes:
        out = bytearray()
        events = self._decoder.feed(sse) + (self._decoder.close() if last else [])
        for event in events:
            out += b"[" if not self._opened else b",\r\n"
            self._opened = True
            out += event.data.encode()
        if last:
            out += b"]" if self._opened else b"[]"
        return bytes(out)
