"""The second reference: the floor proxy on httpx instead of aiohttp.

Starlette plus one pooled httpx.AsyncClient, no auth, no parsing: the body
and headers go upstream as they came, the answer streams back byte for byte.
Beside the aiohttp floor (`floor`), it shows what the HTTP client alone costs.
Run as its own process: ``python -m tests.bench.proxy --port P --upstream URL``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from tests.bench.serving import serve

# hop-by-hop headers, plus the ones httpx and uvicorn set themselves
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


def create_app(upstream: str) -> Starlette:
    """A proxy forwarding every request to `upstream` (scheme://host:port)."""
    client = httpx.AsyncClient(
        base_url=upstream,
        timeout=httpx.Timeout(60.0),
        limits=httpx.Limits(max_connections=2048, max_keepalive_connections=2048),
    )

    async def forward(request: Request) -> StreamingResponse:
        headers = [(k, v) for k, v in request.headers.items() if k not in _DROP]
        outgoing = client.build_request(
            request.method,
            request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        resp = await client.send(outgoing, stream=True)
        back = {k: v for k, v in resp.headers.items() if k not in _DROP - {"content-length"}}
        return StreamingResponse(
            resp.aiter_raw(),
            status_code=resp.status_code,
            headers=back,
            background=BackgroundTask(resp.aclose),
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with client:
            yield

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)


def main() -> None:
    """Serve the proxy until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    serve(create_app(args.upstream), args.port)


if __name__ == "__main__":
    main()
