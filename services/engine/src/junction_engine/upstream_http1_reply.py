"""The answer on one HTTP/1.1 connection of the lean provider client (see upstream_http1)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from junction_engine.upstream import UpstreamError, UpstreamTimeout, UpstreamUnreachable, read_body

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class Connection(Protocol):
    """What a reply needs from its connection."""

    def pause(self, paused: bool) -> None: ...

    def finish(self, whole: bool) -> None: ...


class Http1Reply:
    """The answer on one connection: status and headers first, then body chunks."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_done",
        "_error",
        "_idle",
        "_paused",
        "_released",
        "_started",
        "_waiter",
        "headers",
        "heard",
        "status",
    )

    def __init__(self, conn: Connection, idle_timeout: float) -> None:
        self._conn = conn
        self._idle = idle_timeout
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._started = False
        self._done = False
        self._error: UpstreamError | None = None
        self._paused = False
        self._released = False
        self.headers: dict[str, str] = {}
        self.status = 0
        self.heard = False  # any byte of the answer arrived

    # -- fed by the connection
    def ready(self) -> None:
        self._started = True
        self._wake()

    def push(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused:
            self._paused = True
            self._conn.pause(True)
        self._wake()

    def end(self) -> None:
        self._done = True
        self._wake()

    def delimited_by_close(self) -> bool:
        """The answer has begun and gives neither a length nor chunks (HTTP/1.0 style)."""
        return (
            self._started
            and "content-length" not in self.headers
            and "chunked" not in self.headers.get("transfer-encoding", "").lower()
        )

    def fail(self, error: UpstreamError) -> None:
        if not self._done:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, what: str) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(self._idle, _expire, waiter)
        try:
            await waiter
        except TimeoutError as exc:
            raise UpstreamTimeout(f"the provider's {what} stalled") from exc
        finally:
            timer.cancel()
            self._waiter = None

    # -- the Reply interface
    async def headers_in(self) -> None:
        while not self._started:
            if self._error is not None:
                raise UpstreamUnreachable("the provider closed the connection before answering")
            await self._wait("answer")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    async def read(self, cap: int | None = None) -> bytes:
        return await read_body(self, cap)

    async def chunk(self) -> bytes:
        while not self._chunks:
            if self._done:
                return b""
            if self._error is not None:
                raise self._error
            await self._wait("answer")
        # everything that has arrived, in one piece: fewer, larger relay turns
        chunks = self._chunks
        piece = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._paused and self._buffered < _LOW_WATER:
            self._paused = False
            self._conn.pause(False)
        return piece

    async def close(self) -> None:
        if not self._released:
            self._released = True
            self._conn.finish(whole=self._done and not self._chunks and self._error is None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
