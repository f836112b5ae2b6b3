"""The request recorder: the last N requests as received, for tests to inspect.

Recording happens in a plain ASGI middleware that buffers the body and
replays it, so every provider route (and every 404) is recorded exactly as it
arrived, before any handler could reject it.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL_PREFIX = "/_mock/"


class Recorder:
    """A bounded, in-memory log of received requests (oldest first)."""

    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._ids = itertools.count(1)

    def add(self, scope: Scope, body: bytes) -> None:
        """Record one request; header names are lower-cased, repeats joined with ", "."""
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self._entries.append(
            {
                "id": next(self._ids),
                "time": time.time(),
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode("latin-1"),
                "headers": headers,
                "body": body.decode("utf-8", errors="replace"),
            }
        )

    def entries(self, path: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Recorded requests, optionally only those for ``path``, the newest ``limit``."""
        found = [e for e in self._entries if path is None or e["path"] == path]
        return found[-limit:] if limit else found

    def clear(self) -> None:
        """Forget every recorded request."""
        self._entries.clear()


class RecordingMiddleware:
    """Records each non-control HTTP request, then hands the app a replay of its body."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        self.recorder.add(scope, body)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def recorder_routes(recorder: Recorder) -> list[Route]:
    """``GET``/``DELETE /_mock/requests`` and ``GET /_mock/health``."""

    async def list_requests(request: Request) -> Response:
        limit = request.query_params.get("limit")
        entries = recorder.entries(
            path=request.query_params.get("path"),
            limit=int(limit) if limit and limit.isdigit() else None,
        )
        return JSONResponse({"requests": entries})

    async def clear_requests(request: Request) -> Response:
        recorder.clear()
        return Response(status_code=204)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return [
        Route("/_mock/requests", list_requests, methods=["GET"]),
        Route("/_mock/requests", clear_requests, methods=["DELETE"]),
        Route("/_mock/health", health, methods=["GET"]),
    ]
