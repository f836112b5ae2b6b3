"""A chat answer handed back on the surface the client called (Responses API, completions).

When a call to one of OpenAI's other surfaces goes out as a chat call, its
answer comes back here: a plain answer is translated whole, a stream chunk by
chunk (``ChatSSEReshaper``). Refusals and provider errors are in OpenAI's
error shape already, the shape of every OpenAI surface, and pass as they are.

The reshaped stream keeps the chat stream's cleanup: closing it closes the
chat body (whose attempt releases the provider and records the call), and a
client that stopped reading is reported to the chat body as such, so the call
is recorded with the right reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from starlette.responses import Response

from junction_engine.errors import UpstreamFailed
from junction_engine.responses import ClientStalled, StreamBody, error_response, json_response
from junction_engine.upstream_replies import MALFORMED
from junction_protocols.json_codec import loads
from junction_protocols.reshaped_stream import ChatSSEReshaper

Body = dict[str, Any]


def reshape(
    response: Response,
    *,
    plain: Callable[[Body], Body],
    stream: Callable[[], ChatSSEReshaper],
) -> Response:
    """`response` (the chat call's answer) on the client's surface."""
    if isinstance(response, StreamBody):
        response.body_iterator = _reshaped(response.body_iterator, stream())
        return response
    if response.status_code != 200:
        return response  # a refusal or a provider's error: already in OpenAI's shape
    try:
        data = loads(bytes(response.body))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return json_response(plain(data))
    except (*MALFORMED, RecursionError):
        failed = UpstreamFailed(
            "the provider's answer could not be read", code="upstream_malformed"
        )
        return error_response("openai", failed)


async def _reshaped(
    body: AsyncIterator[bytes], reshaper: ChatSSEReshaper
) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in body:
            out = reshaper.feed_bytes(chunk)
            if not out:
                continue
            try:
                yield out
            except ClientStalled:
                if isinstance(body, AsyncGenerator):
                    with contextlib.suppress(StopAsyncIteration):
                        await body.athrow(ClientStalled())
                raise
        tail = reshaper.end()
        if tail:
            yield tail
    finally:
        if isinstance(body, AsyncGenerator):
            await body.aclose()
