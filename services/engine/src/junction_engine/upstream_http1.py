"""A lean HTTP/1.1 client for provider calls: pooled keep-alive connections, nothing else.

Provider calls are one shape: a POST with a byte body to a few hosts, whose
answer is read once, as it arrives. A general client pays on every call for
what that shape never uses (cookies, redirects, proxies, multipart, request
and response object graphs); measured on this path, aiohttp's request
setup alone cost more than everything this module does. The response is
parsed by httptools (llhttp, the parser uvicorn serves the engine with).

- One pool per (scheme, host, port); idle connections are reused last-in
  first-out and dropped after `KEEPALIVE_SECONDS` or when the server closes
  them. A connection whose answer was not read to its end is closed, never
  reused.
- Timeouts: connect (`connect_timeout`), and the idle timeout for each wait
  on the answer (headers or body). The call's own deadlines are the caller's.
- Back-pressure: past 256 KiB of unread answer the socket stops reading
  (``upstream_http1_reply``).
- Errors are mapped here, once, to the upstream module's hierarchy.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import cast
from urllib.parse import urlsplit

import httptools

from junction_contracts.egress import REFUSED, Egress, EgressRefused, Resolver
from junction_engine.settings import EngineSettings
from junction_engine.upstream import (
    Reply,
    UpstreamBroken,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from junction_engine.upstream_http1_reply import Http1Reply

KEEPALIVE_SECONDS = 30.0
_Key = tuple[str, str, int]


class Http1Upstream:
    """The production upstream client (see the module docstring)."""

    def __init__(
        self,
        settings: EngineSettings,
        *,
        egress: Egress | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        #: checked before every new connection; None (the control plane's client): no check
        self._egress = egress
        self._resolver = resolver
        self._connect_timeout = settings.connect_timeout
        self._idle_timeout = settings.idle_timeout
        self._max_connections = settings.upstream_max_connections
        self._idle: dict[_Key, list[_Connection]] = {}
        self._targets: dict[str, tuple[_Key, bytes]] = {}
        self._open = 0
        self._closing = 0  # idle connections dropped to make room, not yet gone
        self._freed: asyncio.Condition | None = None
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        key, head = self._target(url)
        conn = self._reuse(key)
        if conn is not None:
            try:
                return await self._exchange(conn, head, headers, body)
            except _StaleConnection:
                pass  # the server had closed it while idle: it never read this request
        return await self._exchange(await self._connect(key), head, headers, body, fresh=True)

    async def _exchange(
        self,
        conn: _Connection,
        head: bytes,
        headers: dict[str, str],
        body: bytes,
        *,
        fresh: bool = False,
    ) -> Reply:
        lines = [head]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                conn.drop()
                raise UpstreamUnreachable("a header for the provider holds a line break")
            lines.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        lines.append(b"content-length: %d\r\n\r\n" % len(body))
        reply = conn.start(self._idle_timeout)
        conn.write(b"".join(lines) + body)
        try:
            await reply.headers_in()
        except UpstreamUnreachable as exc:
            await reply.close()
            if not fresh and not reply.heard:
                # a reused connection closed with not one byte back: servers close
                # idle keep-alive connections (uvicorn after 5 s) without reading
                raise _StaleConnection from exc
            raise
        except BaseException:
            await reply.close()  # cancelled or failed before the answer: the connection goes
            raise
        return reply

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.drop()
        self._idle.clear()

    def _target(self, url: str) -> tuple[_Key, bytes]:
        """The pool key and the request line (with Host) of `url`, parsed once per URL."""
        known = self._targets.get(url)
        if known is not None:
            return known
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in ("http", "https") or not host:
            raise UpstreamUnreachable("the provider URL is not an http(s) URL")
        if self._egress is not None and "@" in parts.netloc:
            raise UpstreamUnreachable(REFUSED)  # credentials in a provider URL: never sent
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise UpstreamUnreachable("the provider URL has a bad port") from exc
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authority = parts.netloc.rpartition("@")[2]  # credentials never go in Host
        head = f"POST {target} HTTP/1.1\r\nhost: {authority}\r\n".encode("latin-1", "replace")
        if len(self._targets) > 10_000:
            self._targets.clear()  # URLs carry model names: bound the memo
        known = self._targets[url] = ((scheme, host, port), head)
        return known

    def _reuse(self, key: _Key) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now):
                return conn
            conn.drop()
        return None

    async def _connect(self, key: _Key) -> _Connection:
        if self._open >= self._max_connections:
            await self._room()
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if scheme == "https" else None
        self._open += 1
        try:
            async with asyncio.timeout(self._connect_timeout):
                address = host
                if self._egress is not None:
                    # connect to the address that was checked: no DNS answer in between
                    address = await self._egress.resolve(host, port, self._resolver)
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, key),
                    address,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        except EgressRefused as exc:
            self._closed_one()
            raise UpstreamUnreachable(REFUSED) from exc
        except TimeoutError as exc:
            self._closed_one()
            raise UpstreamTimeout("connecting to the provider timed out") from exc
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._closed_one()
            raise UpstreamUnreachable("the provider could not be reached") from exc
        return conn

    async def _room(self) -> None:
        """Wait (within the connect timeout) until a new connection may open.

        Idle connections make room first: closing one is cheaper than waiting.
        """
        for conns in self._idle.values():
            while conns and self._open - self._closing >= self._max_connections:
                conns.pop().drop()
                self._closing += 1
        if self._freed is None:
            self._freed = asyncio.Condition()
        try:
            async with asyncio.timeout(self._connect_timeout), self._freed:
                while self._open >= self._max_connections:
                    await self._freed.wait()
        except TimeoutError as exc:
            raise UpstreamTimeout("every connection to providers is busy") from exc

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
            self._tls.set_alpn_protocols(["http/1.1"])
        return self._tls

    def release(self, conn: _Connection) -> None:
        """A connection whose answer was read to its end comes back to its pool."""
        self._idle.setdefault(conn.key, []).append(conn)

    def _closed_one(self) -> None:
        self._open -= 1
        self._closing = max(self._closing - 1, 0)
        if self._freed is not None:
            freed = self._freed

            async def notify() -> None:
                async with freed:
                    freed.notify()

            asyncio.get_running_loop().create_task(notify())


class _StaleConnection(Exception):
    """A reused connection turned out closed before the request reached the server."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection and the answer it is reading, if any."""

    def __init__(self, pool: Http1Upstream, key: _Key) -> None:
        self.pool = pool
        self.key = key
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reply: Http1Reply | None = None
        self._closed = False
        self._keep = False
        self.idle_since = 0.0

    # -- used by the pool and the reply
    def usable(self, now: float) -> bool:
        return not self._closed and now - self.idle_since < KEEPALIVE_SECONDS

    def start(self, idle_timeout: float) -> Http1Reply:
        self._parser = httptools.HttpResponseParser(self)
        self._keep = False
        self._reply = Http1Reply(self, idle_timeout)
        return self._reply

    def write(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    def pause(self, paused: bool) -> None:
        if self._transport is not None and not self._closed:
            if paused:
                self._transport.pause_reading()
            else:
                self._transport.resume_reading()

    def finish(self, whole: bool) -> None:
        """The reply is done with: reuse the connection if its answer was whole, else close."""
        self._reply = None
        if whole and self._keep and not self._closed:
            self.idle_since = time.monotonic()
            self.pool.release(self)
        else:
            self.drop()

    def drop(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.close()
        elif not self._closed:
            self._closed = True
            self.pool._closed_one()

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but quack alike
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._reply is not None:
            self._reply.heard = True
        if self._reply is None:
            self.drop()  # bytes nobody asked for: this connection cannot be trusted
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._reply.fail(UpstreamBroken("the provider sent a malformed HTTP answer"))
            self.drop()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            self._closed = True
            self.pool._closed_one()
        reply = self._reply
        if reply is not None:
            if reply.delimited_by_close():
                reply.end()  # an answer with no length and no chunks ends with its connection
            else:
                reply.fail(UpstreamBroken("the provider closed the connection"))

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self._reply is not None:
            self._reply.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._reply is not None:
            self._reply.status = self._parser.get_status_code()
            self._reply.ready()

    def on_body(self, body: bytes) -> None:
        if self._reply is not None:
            self._reply.push(body)

    def on_message_complete(self) -> None:
        self._keep = self._parser.should_keep_alive()
        if self._reply is not None:
            self._reply.end()
