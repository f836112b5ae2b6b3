"""Relaying a provider's SSE stream to the client, converted event by event.

The relay waits for the first client-bound bytes before it answers: until
then a failure can still fail over. After that it never retries; a stream
that breaks ends with an error event in the client's protocol, never with a
clean end the client would mistake for a full answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
from junction_protocols.convert import StreamConverter
from junction_protocols.sse import SSEDecoder, SSEError, SSEEvent
from starlette.responses import Response, StreamingResponse

from junction_engine.calls import Recorder, record_for
from junction_engine.errors import UpstreamFailed
from junction_engine.routing import HealthBoard
from junction_engine.settings import EngineSettings

if TYPE_CHECKING:
    from junction_engine.forwarding import Attempt

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class StreamBroken(Exception):
    """The provider's stream failed before the client saw a byte."""


class StreamRelay:
    def __init__(self, attempt: Attempt, resp: httpx.Response, board: HealthBoard,
                 settings: EngineSettings, recorder: Recorder) -> None:
        self._a = attempt
        self._resp = resp
        self._board = board
        self._settings = settings
        self._record = recorder
        self._decoder = SSEDecoder()
        self._conv: StreamConverter = attempt.converter.stream(
            model=attempt.call.public_model, include_usage=attempt.call.include_usage)
        self._chunks = resp.aiter_raw()
        # OpenAI -> OpenAI: a usage chunk the client did not ask for is dropped
        self._drop_usage_chunk = (attempt.provider == attempt.call.client == "openai"
                                  and not attempt.call.include_usage)
        self._ended = False
        self._ttft_ms: float | None = None

    async def start(self) -> Response:
        """Read up to the first client-bound bytes, then hand back the streaming response.

        Raises the forwarder's try-next error if the stream fails before that.
        """
        from junction_engine.forwarding import _TryNext

        first = b""
        try:
            while not first:
                try:
                    chunk = await anext(self._chunks)
                except StopAsyncIteration:
                    first = self._finish()
                    break
                first = self._translate(chunk)
        except (httpx.HTTPError, SSEError, TimeoutError):
            await self._resp.aclose()
            self._board.failed(self._a.deployment.id)
            raise _TryNext(UpstreamFailed("the provider's stream failed before its first event",
                                          code="upstream_incomplete"),
                           deployment_down=True) from None
        self._ttft_ms = (time.monotonic() - self._a.call.started) * 1000
        return StreamingResponse(self._body(first), media_type="text/event-stream",
                                 headers=_SSE_HEADERS)

    def _translate(self, chunk: bytes) -> bytes:
        out = bytearray()
        for event in self._decoder.feed(chunk):
            out += self._event(event)
        return bytes(out)

    def _event(self, event: SSEEvent) -> bytes:
        if self._drop_usage_chunk and _is_usage_only(event):
            self._conv.feed(event)  # counted, not forwarded
            return b""
        return self._conv.feed(event)

    def _finish(self) -> bytes:
        out = bytearray()
        for event in self._decoder.close():
            out += self._event(event)
        self._ended = True
        if self._conv.finish_reason is None:
            out += self._conv.fail("the provider's stream ended before the answer was complete")
            self._ended = False
        else:
            out += self._conv.close()
        return bytes(out)

    async def _body(self, first: bytes) -> AsyncIterator[bytes]:
        a = self._a
        status, code = "cancelled", "client_disconnected"
        deadline = a.call.started + self._settings.total_timeout
        try:
            yield first
            if not self._ended:
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
                    self._ended = False
                    reason = ("the provider's stream timed out"
                              if isinstance(exc, (TimeoutError, httpx.TimeoutException))
                              else "the provider's stream broke off")
                    yield self._conv.fail(reason)
            if self._ended:
                status, code = "success", ""
                self._board.succeeded(a.deployment.id)
                self._board.succeeded(a.credential.id)
            else:
                status, code = "failed", "upstream_incomplete"
        finally:
            await self._resp.aclose()
            self._board.leave(a.deployment.id)
            self._record(record_for(
                a.call, status=status, http_status=200, attempts=a.number,
                error_code=code or None, usage=self._conv.usage, ttft_ms=self._ttft_ms,
                deployment_id=a.deployment.id, provider_id=a.deployment.provider.id,
                credential_id=a.credential.id))


def _is_usage_only(event: SSEEvent) -> bool:
    """An OpenAI chunk with no choices and a usage object (the include_usage chunk)."""
    compact = event.data.replace(" ", "")
    if '"choices":[]' not in compact:  # cheap test first: most chunks have choices
        return False
    try:
        chunk = json.loads(event.data)
    except ValueError:
        return False
    return isinstance(chunk, dict) and chunk.get("choices") == [] and bool(chunk.get("usage"))
