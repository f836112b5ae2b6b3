"""Anthropic wire format: Messages (plain and SSE) and token counting.

References: https://docs.anthropic.com/en/api/messages,
/en/api/messages-streaming, /en/api/messages-count-tokens, /en/api/errors,
/en/api/versioning (the ``anthropic-version`` header is required).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junction_mockllm.delivery import json_response, sse_data, stream_response
from junction_mockllm.directives import DirectiveError, Knobs, read_knobs
from junction_mockllm.errors import error_response
from junction_mockllm.faults import anthropic_key, preflight, read_json
from junction_mockllm.replies import (
    Prompt,
    Reply,
    Tool,
    ToolMode,
    compose,
    fragments,
    prompt_tokens,
)
from junction_mockllm.settings import MockSettings

_STOP_REASONS = {
    "end": "end_turn",
    "length": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
}


def response_headers(request: Request) -> dict[str, str]:
    """Headers on every Anthropic answer: ``request-id`` and the echoed beta flags."""
    headers = {"request-id": f"req_{uuid.uuid4().hex[:24]}"}
    beta = request.headers.get("anthropic-beta")
    if beta is not None:
        headers["x-mock-anthropic-beta"] = beta
    return headers


def block_text(content: Any) -> str:
    """Text of a ``content`` value: a string or a list of blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for block in content:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            texts.append(block_text(block.get("content")))
    return " ".join(texts)


def _tool_results(message: Mapping[str, Any]) -> str | None:
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return None
    results = [
        block_text(b.get("content"))
        for b in content
        if isinstance(b, Mapping) and b.get("type") == "tool_result"
    ]
    return " ".join(results) if results else None


def _user_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = [b for b in content if isinstance(b, Mapping) and b.get("type") == "text"]
    return block_text(content)


def _tool_choice(choice: Any) -> tuple[ToolMode, str | None]:
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind == "none":
        return "none", None
    if kind == "tool":
        return "any", str(choice.get("name"))
    return ("any" if kind == "any" else "auto"), None


def messages_prompt(body: Mapping[str, Any], model: str) -> Prompt:
    """The provider-neutral prompt of a Messages request."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    users = [_user_text(m) for m in messages if m.get("role") == "user"]
    users = [text for text in users if text]
    tools = tuple(
        Tool(str(t.get("name")), t.get("input_schema"))
        for t in body.get("tools") or []
        if isinstance(t, Mapping) and "name" in t
    )
    mode, forced = _tool_choice(body.get("tool_choice"))
    thinking = body.get("thinking")
    limit = body.get("max_tokens")
    texts = [block_text(body.get("system")), *(block_text(m.get("content")) for m in messages)]
    return Prompt(
        model=model,
        user_text=users[-1] if users else "",
        tool_result=_tool_results(messages[-1]) if messages else None,
        tools=tools,
        tool_mode=mode,
        forced_tool=forced,
        input_tokens=prompt_tokens(texts),
        max_tokens=limit if isinstance(limit, int) else None,
        stop=tuple(str(s) for s in body.get("stop_sequences") or ()),
        thinking=isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"),
    )


def message_usage(reply: Reply) -> dict[str, Any]:
    """``usage``: ``input_tokens`` excludes the tokens read from or written to the cache."""
    cached = reply.cached_tokens + reply.cache_write_tokens
    return {
        "input_tokens": max(0, reply.input_tokens - cached),
        "cache_creation_input_tokens": reply.cache_write_tokens,
        "cache_read_input_tokens": reply.cached_tokens,
        "output_tokens": reply.output_tokens,
    }


def content_blocks(reply: Reply) -> list[dict[str, Any]]:
    """The final ``content`` array of the message."""
    blocks: list[dict[str, Any]] = []
    if reply.thinking is not None:
        blocks.append(
            {"type": "thinking", "thinking": reply.thinking, "signature": reply.signature}
        )
    blocks.extend(
        {"type": "tool_use", "id": f"toolu_{c.key}", "name": c.name, "input": c.arguments}
        for c in reply.tool_calls
    )
    if not reply.tool_calls:
        blocks.append({"type": "text", "text": reply.text})
    return blocks


def message(reply: Reply, model: str) -> dict[str, Any]:
    """A ``message`` object."""
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(reply),
        "stop_reason": _STOP_REASONS[reply.finish],
        "stop_sequence": reply.stop_sequence,
        "usage": message_usage(reply),
    }


def _block_deltas(block: Mapping[str, Any], reply: Reply) -> tuple[dict[str, Any], list[Any]]:
    """The ``content_block_start`` block and the deltas that fill it."""
    if block["type"] == "thinking":
        deltas: list[Any] = [
            {"type": "thinking_delta", "thinking": p} for p in reply.thinking_pieces
        ]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
        return {"type": "thinking", "thinking": "", "signature": ""}, deltas
    if block["type"] == "tool_use":
        partial = fragments(json.dumps(block["input"], separators=(",", ":")))
        json_deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *partial]]
        return {**block, "input": {}}, json_deltas
    return {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in reply.pieces]


def message_events(reply: Reply, model: str) -> list[bytes]:
    """The SSE events of a streamed message, ``message_start`` to ``message_stop``."""
    start = message(reply, model)
    start.update(content=[], stop_reason=None, stop_sequence=None)
    start["usage"] = {**message_usage(reply), "output_tokens": 1}
    events = [sse_data({"type": "message_start", "message": start}, event="message_start")]
    for index, block in enumerate(content_blocks(reply)):
        opening, deltas = _block_deltas(block, reply)
        payload = {"type": "content_block_start", "index": index, "content_block": opening}
        events.append(sse_data(payload, event="content_block_start"))
        if index == 0:
            events.append(sse_data({"type": "ping"}, event="ping"))
        events.extend(
            sse_data(
                {"type": "content_block_delta", "index": index, "delta": d},
                event="content_block_delta",
            )
            for d in deltas
        )
        events.append(
            sse_data({"type": "content_block_stop", "index": index}, event="content_block_stop")
        )
    delta = {"stop_reason": _STOP_REASONS[reply.finish], "stop_sequence": reply.stop_sequence}
    payload = {"type": "message_delta", "delta": delta, "usage": message_usage(reply)}
    events.append(sse_data(payload, event="message_delta"))
    events.append(sse_data({"type": "message_stop"}, event="message_stop"))
    return events


class AnthropicEndpoints:
    """``/v1/messages`` and ``/v1/messages/count_tokens``."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        return [
            Route("/v1/messages", self.messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
        ]

    async def _begin(
        self, request: Request
    ) -> tuple[dict[str, Any], Knobs, dict[str, str]] | Response:
        headers = response_headers(request)
        if "anthropic-version" not in request.headers:
            problem = "anthropic-version: header is required"
            return error_response("anthropic", 400, problem, headers=headers)
        body = await read_json(request)
        if body is None:
            return error_response("anthropic", 400, "Invalid JSON body", headers=headers)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error_response("anthropic", 400, "model: Field required", headers=headers)
        try:
            knobs = read_knobs(model, request.headers, self.settings)
        except DirectiveError as exc:
            return error_response("anthropic", 400, str(exc), headers=headers)
        key = anthropic_key(request)
        refusal = await preflight(request, self.settings, "anthropic", knobs, key, headers)
        if refusal is not None:
            return refusal
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return error_response("anthropic", 400, "messages: Field required", headers=headers)
        return body, knobs, headers

    async def messages(self, request: Request) -> Response:
        """Create a message, plain or streamed."""
        started = await self._begin(request)
        if isinstance(started, Response):
            return started
        body, knobs, headers = started
        limit = body.get("max_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            problem = "max_tokens: Field required" if limit is None else "max_tokens: must be >= 1"
            return error_response("anthropic", 400, problem, headers=headers)
        reply = compose(messages_prompt(body, knobs.model), knobs)
        if body.get("stream"):
            return stream_response(message_events(reply, knobs.model), knobs, headers=headers)
        return await json_response(message(reply, knobs.model), knobs, request, headers=headers)

    async def count_tokens(self, request: Request) -> Response:
        """Count the input tokens of a Messages request."""
        started = await self._begin(request)
        if isinstance(started, Response):
            return started
        body, knobs, headers = started
        reply = compose(messages_prompt(body, knobs.model), knobs)
        return JSONResponse({"input_tokens": reply.input_tokens}, headers=headers)
