"""The engine's one upstream module: every provider exchange goes through here.

    UpstreamError            the exchange failed; mapped here, once, from the client library
    ├── UpstreamUnreachable  no answer: connect refused or reset, DNS, TLS, closed before a status
    ├── UpstreamTimeout      the connect timeout or the idle timeout between reads passed
    └── UpstreamBroken       the answer broke off while its body was being read

Production uses aiohttp: measured on this path, its client costs a fraction
of httpx's CPU per request, and its pool does not rescan every connection on
each checkout. Tests hand in an httpx transport (the mock LLM in-process,
or a ``MockTransport``), served by the same interface, so nothing else in
the engine knows which client carries a call.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp
import httpx

from junction_engine.settings import EngineSettings


class UpstreamError(Exception):
    """An exchange with a provider failed (see the module docstring)."""


class UpstreamUnreachable(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamBroken(UpstreamError):
    pass


class Reply(Protocol):
    """A provider's answer whose status and headers have arrived; the body is read on demand."""

    status: int

    def header(self, name: str) -> str | None:
        """A response header (case-insensitive), or None."""

    async def read(self, cap: int | None = None) -> bytes:
        """The body (at most `cap` bytes when given); raises UpstreamError."""

    async def chunk(self) -> bytes:
        """The next piece of the body as it arrives, ``b""`` at its end; raises UpstreamError."""

    async def close(self) -> None:
        """Give the connection back (or drop it when the body was not read to its end)."""


class Upstream(Protocol):
    """A pooled HTTP client for provider calls."""

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        """Send one request; returns once the status line and headers are in."""

    async def aclose(self) -> None:
        """Close every pooled connection."""


async def read_body(reply: Reply, cap: int | None) -> bytes:
    """A reply's body, read chunk by chunk (up to `cap` bytes when given)."""
    out = bytearray()
    while cap is None or len(out) < cap:
        piece = await reply.chunk()
        if not piece:
            break
        out += piece
    return bytes(out if cap is None else out[:cap])


def create_upstream(
    settings: EngineSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> Upstream:
    """aiohttp in production; httpx over `transport` when one is handed in (tests)."""
    if transport is not None:
        return HttpxUpstream(settings, transport)
    return AiohttpUpstream(settings)


class AiohttpUpstream:
    """The production client: one aiohttp session, opened in the running loop on first use."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        s = self._settings
        connector = aiohttp.TCPConnector(
            limit=s.upstream_max_connections, keepalive_timeout=30, ttl_dns_cache=60
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.connect_timeout, sock_read=s.idle_timeout
            ),
            # a provider's cookies must never travel to the next call (or the next tenant)
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("User-Agent",),
        )

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        session = self._session
        if session is None:
            session = self._session = self._open_session()
        try:
            resp = await session.post(url, headers=headers, data=body, allow_redirects=False)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("the provider timed out") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: aiohttp refuses some malformed URLs and header values that way
            raise UpstreamUnreachable("the provider could not be reached") from exc
        return _AiohttpReply(resp)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _AiohttpReply:
    __slots__ = ("_resp", "_whole", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self._whole = False
        self.status = resp.status

    def header(self, name: str) -> str | None:
        return self._resp.headers.get(name)

    async def read(self, cap: int | None = None) -> bytes:
        return await read_body(self, cap)

    async def chunk(self) -> bytes:
        try:
            piece = await self._resp.content.readany()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("the provider's answer stalled") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamBroken("the provider's answer broke off") from exc
        if not piece:
            self._whole = True
        return piece

    async def close(self) -> None:
        if self._whole:
            self._resp.release()  # read to its end: the connection goes back to the pool
        else:
            self._resp.close()  # unread bytes may follow: never hand this connection on


class HttpxUpstream:
    """httpx over a handed-in transport, so tests can serve providers in-process."""

    def __init__(self, settings: EngineSettings, transport: httpx.AsyncBaseTransport) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.idle_timeout,
                write=settings.idle_timeout,
                pool=settings.connect_timeout,
            ),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        request = self._client.build_request("POST", url, headers=headers, content=body)
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the provider timed out") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnreachable("the provider could not be reached") from exc
        return _HttpxReply(resp)

    async def aclose(self) -> None:
        await self._client.aclose()


class _HttpxReply:
    __slots__ = ("_chunks", "_resp", "status")

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self._chunks = resp.aiter_bytes()
        self.status = resp.status_code

    def header(self, name: str) -> str | None:
        value: str | None = self._resp.headers.get(name)
        return value

    async def read(self, cap: int | None = None) -> bytes:
        return await read_body(self, cap)

    async def chunk(self) -> bytes:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return b""
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the provider's answer stalled") from exc
        except httpx.HTTPError as exc:
            raise UpstreamBroken("the provider's answer broke off") from exc

    async def close(self) -> None:
        await self._resp.aclose()


def create_control_http(
    settings: EngineSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A small separate pool for control-plane calls, with short timeouts."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(5.0, connect=2.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        transport=transport,
        trust_env=False,
    )


__all__ = [
    "AiohttpUpstream",
    "HttpxUpstream",
    "Reply",
    "Upstream",
    "UpstreamBroken",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "create_control_http",
    "create_upstream",
]
