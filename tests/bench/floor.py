"""The floor: a bare pass-through proxy on aiohttp, what forwarding costs in Python at least.

Starlette routing to one plain ASGI endpoint (as the engine streams) and one
pooled, keep-alive `aiohttp.ClientSession`; no auth, no parsing: the body and
headers go upstream as they came, a whole answer goes back in one body
message, a stream chunk by chunk as it arrives. Served by uvicorn with the
engine's settings.
Run as its own process: ``python -m tests.bench.floor --port P --upstream URL``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.bench.serving import serve

# hop-by-hop headers, plus the ones the client and the server set themselves
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
_DROP_BACK = _DROP - {"content-length"}


class Forward:
    """The ASGI endpoint: one request in, the upstream's answer out."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.session is not None, "the lifespan opens the session"
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.decode() not in _DROP]
        url = self.upstream + scope["path"]
        async with self.session.request(scope["method"], url, data=body, headers=headers) as resp:
            back = [
                (k.lower().encode(), v.encode())
                for k, v in resp.headers.items()
                if k.lower() not in _DROP_BACK
            ]
            await send({"type": "http.response.start", "status": resp.status, "headers": back})
            if resp.content_length is not None:
                await send({"type": "http.response.body", "body": await resp.read()})
                return
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


def create_app(upstream: str) -> Starlette:
    """A proxy forwarding every request to `upstream` (scheme://host:port)."""
    forward = Forward(upstream)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # the session needs the running loop, so it is made here
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        ) as session:
            forward.session = session
            yield

    route = Route("/{path:path}", forward, methods=["GET", "POST"])
    return Starlette(routes=[route], lifespan=lifespan)


def main() -> None:
    """Serve the floor until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    serve(create_app(args.upstream), args.port)


if __name__ == "__main__":
    main()
