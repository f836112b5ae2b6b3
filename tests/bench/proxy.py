"""The second reference: the floor proxy on httpx instead of aiohttp.

The same shape as the floor (`floor`): Starlette routing to one plain ASGI
endpoint, one pooled httpx.AsyncClient, no auth, no parsing; the body and
headers go upstream as they came, a whole answer goes back in one body
message, a stream chunk by chunk. Beside the floor it shows what the HTTP
client alone costs.
Run as its own process: ``python -m tests.bench.proxy --port P --upstream URL``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.bench.serving import serve

# hop-by-hop headers, plus the ones the client and the server set themselves
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
_DROP_BACK = _DROP - {"content-length"}


class Forward:
    """The ASGI endpoint: one request in, the upstream's answer out."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k, v) for k, v in scope["headers"] if k.decode() not in _DROP]
        request = self.client.build_request(
            scope["method"], scope["path"], headers=headers, content=body
        )
        resp = await self.client.send(request, stream=True)
        try:
            back = [(k, v) for k, v in resp.headers.raw if k.lower().decode() not in _DROP_BACK]
            await send({"type": "http.response.start", "status": resp.status_code, "headers": back})
            if "content-length" in resp.headers:
                await send({"type": "http.response.body", "body": await resp.aread()})
                return
            async for chunk in resp.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await resp.aclose()


def create_app(upstream: str) -> Starlette:
    """A proxy forwarding every request to `upstream` (scheme://host:port)."""
    client = httpx.AsyncClient(
        base_url=upstream,
        timeout=httpx.Timeout(60.0),
        limits=httpx.Limits(max_connections=2048, max_keepalive_connections=2048),
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with client:
            yield

    route = Route("/{path:path}", Forward(client), methods=["GET", "POST"])
    return Starlette(routes=[route], lifespan=lifespan)


def main() -> None:
    """Serve the proxy until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    serve(create_app(args.upstream), args.port)


if __name__ == "__main__":
    main()
