"""The floor: a bare pass-through proxy on aiohttp, what forwarding costs in Python at least.

Starlette plus one pooled, keep-alive `aiohttp.ClientSession`; no auth, no
parsing: the body and headers go upstream as they came, the answer streams
back as it arrives. Served by uvicorn with the engine's settings.
Run as its own process: ``python -m tests.bench.floor --port P --upstream URL``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from tests.bench.serving import serve

# hop-by-hop headers, plus the ones the client and the server set themselves
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
_DROP_BACK = _DROP - {"content-length"}


def create_app(upstream: str) -> Starlette:
    """A proxy forwarding every request to `upstream` (scheme://host:port)."""
    sessions: list[aiohttp.ClientSession] = []

    async def forward(request: Request) -> StreamingResponse:
        headers = [(k, v) for k, v in request.headers.items() if k not in _DROP]
        resp = await sessions[0].request(
            request.method, upstream + request.url.path, data=await request.body(), headers=headers
        )
        back = {k: v for k, v in resp.headers.items() if k.lower() not in _DROP_BACK}
        return StreamingResponse(
            resp.content.iter_any(),
            status_code=resp.status,
            headers=back,
            background=BackgroundTask(resp.release),
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # the session needs the running loop, so it is made here, not above
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        ) as session:
            sessions.append(session)
            yield

    methods = ["GET", "POST"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)


def main() -> None:
    """Serve the floor until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    serve(create_app(args.upstream), args.port)


if __name__ == "__main__":
    main()
