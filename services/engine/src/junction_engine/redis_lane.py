"""One pipelined connection to Redis for the commands every request sends.

The admission script runs once per request; through redis-py each command
costs about as much CPU as the rest of the request (a pooled connection
checked out and back, retry and observability wrappers, a parser per
reply). A lane keeps one connection and writes each command as soon as it
is called; Redis answers in order, so replies are matched to callers by
position (hiredis parses them). Concurrent requests share the connection:
their commands travel in the same TCP segments.

A command that gets no answer within the timeout fails with ``LaneError``;
the connection is then dropped and, for a short pause, commands fail at
once instead of queueing behind a frozen server (callers fall back to what
this replica knows, as for any Redis error). The next command after the
pause connects again.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url

__all__ = ["LaneError", "RedisLane"]

Arg = str | bytes | int | float


class LaneError(Exception):
    """Redis did not answer, answered with an error, or cannot be reached."""


def _pack(args: Sequence[Arg]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Wire(asyncio.Protocol):
    # A failure is handed to a waiting caller as a LaneError *result*: the
    # caller raises it; a future holding an exception nobody awaited (the
    # earlier replies of a pipeline that timed out) would be logged.
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if not self.waiting:
                break  # nothing asked for it: the connection is out of step
            future = self.waiting.popleft()
            if not future.done():  # a caller that timed out has gone
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(LaneError("the connection to Redis was lost"))


class RedisLane:
    """See the module docstring; ``call`` one command, ``pipeline`` several in one write."""

    def __init__(self, url: str, *, timeout: float = 0.5, pause: float = 1.0) -> None:
        options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self._host: str = options.get("host", "localhost")
        self._port: int = options.get("port", 6379)
        self._path: str | None = options.get("path")
        self._tls = options.get("connection_class") is SSLConnection
        if options.get("connection_class") is UnixDomainSocketConnection:
            self._host = ""
        self._hello: list[list[Arg]] = []
        if options.get("password") is not None:
            user = options.get("username")
            auth: list[Arg] = ["AUTH", user, options["password"]] if user else ["AUTH"]
            if not user:
                auth.append(options["password"])
            self._hello.append(auth)
        if options.get("db"):
            self._hello.append(["SELECT", options["db"]])
        self.timeout = timeout
        self.pause = pause
        self._wire: _Wire | None = None
        self._connecting: asyncio.Task[_Wire] | None = None
        self._closed_until = 0.0
        self._scripts: dict[str, bytes] = {}

    async def call(self, *args: Arg) -> Any:
        """One command's reply; raises ``LaneError``."""
        return (await self.pipeline([args]))[0]

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """The replies of `commands`, written together; an error reply raises ``LaneError``."""
        wire = await self._ready()
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        if wire.transport is None:
            raise LaneError("the connection to Redis was lost")
        wire.waiting.extend(futures)
        wire.transport.write(b"".join([_pack(c) for c in commands]))
        last = futures[-1]
        timer = loop.call_later(self.timeout, self._expire, wire, last)
        try:
            await last  # replies come in order: the last one answered means all did
        finally:
            timer.cancel()
        if not all(f.done() for f in futures):
            # the last one timed out before the others were answered: the
            # connection is being dropped, and they fail with it
            failure = last.result()
            raise failure if isinstance(failure, LaneError) else LaneError("Redis fell out of step")
        replies = [f.result() for f in futures]
        for reply in replies:
            if isinstance(reply, LaneError):
                raise reply
            if isinstance(reply, hiredis.ReplyError):
                raise LaneError(f"Redis refused a command: {str(reply).split(' ')[0]}")
        return replies

    def script(self, body: str) -> str:
        """Register a Lua script; returns its SHA1 for ``run``."""
        sha = hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()
        self._scripts[sha] = body.encode()
        return sha

    async def run(self, sha: str, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run a registered script (loading it on the first NOSCRIPT)."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except LaneError as err:
            if "NOSCRIPT" not in str(err):
                raise
        return await self.call("EVAL", self._scripts[sha], len(keys), *keys, *args)

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._wire is not None and self._wire.transport is not None:
            self._wire.transport.close()
        self._wire = None

    def _expire(self, wire: _Wire, future: asyncio.Future[Any]) -> None:
        if future.done():
            return
        future.set_result(LaneError(f"Redis did not answer within {self.timeout} s"))
        # a server that does not answer in time is not asked again for a while
        self._closed_until = time.monotonic() + self.pause
        if self._wire is wire:
            self._wire = None
        if wire.transport is not None:
            wire.transport.abort()

    async def _ready(self) -> _Wire:
        wire = self._wire
        if wire is not None and wire.transport is not None:
            return wire
        if time.monotonic() < self._closed_until:
            raise LaneError("Redis did not answer a moment ago; not asking again yet")
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        except (OSError, TimeoutError, LaneError) as exc:
            self._closed_until = time.monotonic() + self.pause
            raise LaneError(f"cannot reach Redis ({type(exc).__name__})") from None
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> _Wire:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.timeout):
            if self._path is not None:
                _, wire = await loop.create_unix_connection(_Wire, self._path)
            else:
                context = ssl.create_default_context() if self._tls else None
                _, wire = await loop.create_connection(_Wire, self._host, self._port, ssl=context)
        self._wire = wire
        if self._hello:
            try:
                await self.pipeline(self._hello)
            except LaneError:
                self._wire = None
                if wire.transport is not None:
                    wire.transport.close()
                raise
        return wire
