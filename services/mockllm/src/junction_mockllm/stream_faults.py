"""A stream that starts well, then fails with the provider's own error event (``midstream``).

Each provider reports a failure inside an open stream in its own way:

- OpenAI: a ``data:`` line holding ``{"error": {"message", "type", "param", "code"}}``;
- Anthropic: ``event: error`` with ``{"type": "error", "error": {"type", "message"}}``;
- Gemini: a ``data:`` element holding ``{"error": {"code", "message", "status"}}``
  (an element of the JSON array when the caller did not ask for ``alt=sse``).

One event of real content goes first, so a gateway has already answered its
client when the failure arrives: what it forwards of the error is then what
the client reads.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from junction_mockllm.delivery import sse_data
from junction_mockllm.errors import Provider, error_body

MIDSTREAM_STATUS = 500
_PARTIAL_TEXT = "Partial answer"


def midstream_events(
    provider: Provider, model: str, message: str, *, sse: bool = True
) -> list[bytes]:
    """The events of a stream that fails with `message` after its first content."""
    error = error_body(provider, MIDSTREAM_STATUS, message)
    if provider in ("openai", "azure"):
        return [sse_data(_openai_chunk(model)), sse_data(error)]
    if provider == "anthropic":
        return [*_anthropic_start(model), sse_data(error, event="error")]
    first = _gemini_chunk(model)
    if sse:
        return [sse_data(first, crlf=True), sse_data(error, crlf=True)]
    return [b"[" + json.dumps(first).encode(), b",\r\n" + json.dumps(error).encode(), b"]"]


def _openai_chunk(model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": _PARTIAL_TEXT},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }


def _anthropic_start(model: str) -> list[bytes]:
    message: dict[str, Any] = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": _PARTIAL_TEXT},
    }
    return [
        sse_data({"type": "message_start", "message": message}, event="message_start"),
        sse_data(block, event="content_block_start"),
        sse_data(delta, event="content_block_delta"),
    ]


def _gemini_chunk(model: str) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"parts": [{"text": _PARTIAL_TEXT}], "role": "model"}, "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:22],
    }
