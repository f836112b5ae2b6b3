"""The engine's one upstream module: every provider exchange goes through here.

    UpstreamError            the exchange failed; mapped here, once, from the client library
    ├── UpstreamUnreachable  no answer: connect refused or reset, DNS, TLS, closed before a status
    ├── UpstreamTimeout      the connect timeout or the idle timeout between reads passed
    └── UpstreamBroken       the answer broke off while its body was being read

Three clients serve this interface, chosen in the app factory:
``upstream_http1`` (the default: a lean HTTP/1.1 pool, measured cheapest on
this path), ``upstream_aiohttp`` (``JUNCTION_UPSTREAM_CLIENT=aiohttp``), and
``upstream_httpx`` over a handed-in transport, so tests can serve providers
in-process. Nothing else in the engine knows which client carries a call.
"""

from __future__ import annotations

from typing import Protocol


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
