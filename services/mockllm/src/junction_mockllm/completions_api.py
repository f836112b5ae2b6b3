"""OpenAI wire format: the legacy completions API (``POST /v1/completions``).

Reference: https://platform.openai.com/docs/api-reference/completions/create
and /completions/object.

``prompt`` is a string, a list of strings (one choice per prompt and ``n``),
or tokens (read as their numbers joined by spaces). ``max_tokens`` defaults
to 16, as documented. A stream is ``text_completion`` chunks, one per word,
then one with the ``finish_reason``, a usage chunk when
``stream_options.include_usage`` asks, and ``data: [DONE]``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from junction_mockllm.delivery import json_response, sse_data, stream_response
from junction_mockllm.errors import error_response
from junction_mockllm.openai_api import FINGERPRINT, begin
from junction_mockllm.replies import Prompt, Reply, compose, prompt_tokens
from junction_mockllm.settings import MockSettings

#: the completions API's documented default
DEFAULT_MAX_TOKENS = 16
_FINISH = {"end": "stop", "length": "length", "stop_sequence": "stop", "tool_use": "stop"}


def prompts_of(raw: Any) -> list[str]:
    """The prompts of a request: each string, or a token array read as its numbers."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not raw:
        return []
    if all(isinstance(item, int) for item in raw):
        return [" ".join(map(str, raw))]
    return [
        item if isinstance(item, str) else " ".join(map(str, item))
        for item in raw
        if isinstance(item, str | list)
    ]


def _usage(replies: list[Reply]) -> dict[str, int]:
    prompt = sum(r.input_tokens for r in replies)
    completion = sum(r.output_tokens for r in replies)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class CompletionsEndpoints:
    """``POST /v1/completions``."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        return [Route("/v1/completions", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        """Create a completion, plain or streamed."""
        started = await begin(request, self.settings)
        if isinstance(started, Response):
            return started
        body, knobs, headers = started
        prompts = prompts_of(body.get("prompt"))
        if not prompts:
            message = "Missing required parameter: 'prompt'."
            return error_response("openai", 400, message, param="prompt", headers=headers)
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 128:
            return error_response("openai", 400, "'n' must be 1-128", param="n", headers=headers)
        limit = body.get("max_tokens")
        stop = body.get("stop")
        replies = [
            compose(
                Prompt(
                    model=knobs.model,
                    user_text=text,
                    input_tokens=prompt_tokens([text]),
                    max_tokens=limit if isinstance(limit, int) else DEFAULT_MAX_TOKENS,
                    stop=(stop,) if isinstance(stop, str) else tuple(str(s) for s in stop or ()),
                ),
                knobs,
            )
            for text in prompts
            for _ in range(n)
        ]
        head: dict[str, Any] = {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": knobs.model,
            "system_fingerprint": FINGERPRINT,
        }
        reports_usage = knobs.fault != "nousage"
        if not body.get("stream"):
            choices = [
                {"text": r.text, "index": i, "logprobs": None, "finish_reason": _FINISH[r.finish]}
                for i, r in enumerate(replies)
            ]
            answer = {**head, "choices": choices}
            if reports_usage:
                answer["usage"] = _usage(replies)
            return await json_response(answer, knobs, request, headers=headers)
        options = body.get("stream_options")
        include_usage = (
            reports_usage and isinstance(options, Mapping) and bool(options.get("include_usage"))
        )
        tail: dict[str, Any] = {"usage": None} if include_usage else {}

        def chunk(index: int, text: str, finish: str | None = None) -> bytes:
            choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
            return sse_data({**head, "choices": [choice], **tail})

        events: list[bytes] = []
        for index, reply in enumerate(replies):
            events.extend(chunk(index, piece) for piece in reply.pieces)
            events.append(chunk(index, "", _FINISH[reply.finish]))
        if include_usage:
            events.append(sse_data({**head, "choices": [], "usage": _usage(replies)}))
        events.append(b"data: [DONE]\n\n")
        return stream_response(events, knobs, headers=headers)
