"""The mock LLM behind an outage switch: while `down`, it answers every call with a 503.

The switch rewrites the request's model into the mock's own fault directive
(``+fault=503``), so the failing answers are the mock's real wire format.
It counts every request that reached the provider, per upstream model: the
attempts a test compares with the client requests it sent.
"""

from __future__ import annotations

import json
from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class OutageSwitch:
    """An ASGI app in front of the mock LLM (OpenAI-style bodies carry the model)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.down = False
        self.attempts: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.attempts.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        data = json.loads(body)
        model = str(data.get("model"))
        self.attempts[model] += 1
        if self.down:
            data["model"] = f"{model}+fault=503"
            body = json.dumps(data).encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)
