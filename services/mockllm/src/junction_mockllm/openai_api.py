"""OpenAI wire format: chat completions (plain and SSE) and embeddings.

References: https://platform.openai.com/docs/api-reference/chat/create,
/chat/object, /chat-streaming (the chunk object), /embeddings/create.
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
from junction_mockllm.dialects import dialect_error
from junction_mockllm.directives import DirectiveError, Knobs, read_knobs
from junction_mockllm.errors import error_response
from junction_mockllm.faults import bearer_key, preflight, read_json
from junction_mockllm.replies import (
    Prompt,
    Reply,
    Tool,
    ToolMode,
    compose,
    embedding,
    embedding_base64,
    fragments,
    prompt_tokens,
)
from junction_mockllm.settings import MockSettings

FINGERPRINT = "fp_mock"
_FINISH = {"end": "stop", "length": "length", "stop_sequence": "stop", "tool_use": "tool_calls"}


async def begin(
    request: Request, settings: MockSettings
) -> tuple[dict[str, Any], Knobs, dict[str, str]] | Response:
    """Shared start of every OpenAI endpoint: body, model, knobs, key, faults."""
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    body = await read_json(request)
    if body is None:
        message = "We could not parse the JSON body of your request."
        return error_response("openai", 400, message, headers=headers)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        message = "you must provide a model parameter"
        return error_response("openai", 400, message, param="model", headers=headers)
    try:
        knobs = read_knobs(model, request.headers, settings)
    except DirectiveError as exc:
        return error_response("openai", 400, str(exc), param="model", headers=headers)
    refusal = await preflight(request, settings, "openai", knobs, bearer_key(request), headers)
    if refusal is not None:
        return dialect_error(refusal, knobs.dialect)
    return body, knobs, headers


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and "text" in part
        )
    return ""


def _tool_choice(choice: Any) -> tuple[ToolMode, str | None]:
    if choice == "none":
        return "none", None
    if choice == "required":
        return "any", None
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        return "any", str(choice["function"].get("name"))
    return "auto", None


def chat_prompt(body: Mapping[str, Any], model: str) -> Prompt:
    """The provider-neutral prompt of a chat completion request."""
    messages = [m for m in body["messages"] if isinstance(m, Mapping)]
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") not in ("tool", "function"):
            break
        results.insert(0, content_text(message.get("content")))
    user_texts = [content_text(m.get("content")) for m in messages if m.get("role") == "user"]
    tools = tuple(
        Tool(str(t["function"].get("name")), t["function"].get("parameters"))
        for t in body.get("tools") or []
        if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)
    )
    mode, forced = _tool_choice(body.get("tool_choice"))
    stop = body.get("stop")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return Prompt(
        model=model,
        user_text=user_texts[-1] if user_texts else "",
        tool_result=" ".join(results) if results else None,
        tools=tools,
        tool_mode=mode,
        forced_tool=forced,
        input_tokens=prompt_tokens(content_text(m.get("content")) for m in messages),
        max_tokens=int(limit) if isinstance(limit, int) else None,
        stop=(stop,) if isinstance(stop, str) else tuple(str(s) for s in stop or ()),
    )


def usage(reply: Reply, choices: int = 1) -> dict[str, Any]:
    """The ``usage`` object of a completion with ``choices`` identical choices."""
    completion = reply.output_tokens * choices
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.input_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{call.key}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
        }
        for call in reply.tool_calls
    ]


def completion(reply: Reply, model: str, choices: int) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if reply.tool_calls else reply.text,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": i,
                "message": message,
                "logprobs": None,
                "finish_reason": _FINISH[reply.finish],
            }
            for i in range(choices)
        ],
        "usage": usage(reply, choices),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def _choice_deltas(reply: Reply) -> list[dict[str, Any]]:
    first: dict[str, Any] = {"role": "assistant", "content": None if reply.tool_calls else ""}
    deltas = [{**first, "refusal": None}]
    for index, (call, wire) in enumerate(zip(reply.tool_calls, _tool_calls(reply), strict=True)):
        deltas.append(
            {
                "tool_calls": [
                    {"index": index, **wire, "function": {"name": call.name, "arguments": ""}}
                ]
            }
        )
        deltas.extend(
            {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            for piece in fragments(call.arguments_json)
        )
    deltas.extend({"content": piece} for piece in reply.pieces)
    return deltas


def completion_events(
    reply: Reply, model: str, choices: int, include_usage: bool, dialect: str | None = None
) -> list[bytes]:
    """The SSE events of a streamed completion, ``data: [DONE]`` included (see `dialects`)."""
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    tail: dict[str, Any] = {"usage": None} if include_usage else {}
    final = usage(reply, choices)
    sent = 0

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        nonlocal sent
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        out = {**head, "choices": [choice], **tail}
        if include_usage and dialect == "ollama" and finish is not None:
            out["usage"] = final
        elif include_usage and dialect == "vllm":
            sent = min(sent + 1, reply.output_tokens)
            running = {"prompt_tokens": reply.input_tokens, "completion_tokens": sent}
            out["usage"] = {**running, "total_tokens": reply.input_tokens + sent}
        return sse_data(out)

    events: list[bytes] = []
    for index in range(choices):
        events.extend(chunk(index, delta) for delta in _choice_deltas(reply))
        events.append(chunk(index, {}, _FINISH[reply.finish]))
    if include_usage and dialect != "ollama":
        events.append(sse_data({**head, "choices": [], "usage": final}))
    events.append(b"data: [DONE]\n\n")
    return events


class OpenAIEndpoints:
    """``/v1/chat/completions`` and ``/v1/embeddings``."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        return [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
        ]

    async def chat(self, request: Request) -> Response:
        """Create a chat completion, plain or streamed."""
        started = await begin(request, self.settings)
        if isinstance(started, Response):
            return started
        return await chat_answer(request, *started)

    async def embeddings(self, request: Request) -> Response:
        """Create deterministic embeddings, as floats or base64."""
        started = await begin(request, self.settings)
        if isinstance(started, Response):
            return started
        return await embeddings_answer(request, self.settings, *started)


async def chat_answer(
    request: Request,
    body: dict[str, Any],
    knobs: Knobs,
    headers: dict[str, str],
    *,
    lead: list[bytes] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The answer to a checked chat completion request, plain or streamed.

    ``lead`` events open a stream and ``extra`` fields join a plain answer
    (Azure's content filter results).
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        message = "'messages' must be a non-empty array"
        return error_response("openai", 400, message, param="messages", headers=headers)
    choices = body.get("n") or 1
    if not isinstance(choices, int) or not 1 <= choices <= 128:
        return error_response("openai", 400, "'n' must be 1-128", param="n", headers=headers)
    reply = compose(chat_prompt(body, knobs.model), knobs)
    reports_usage = knobs.fault != "nousage"
    if not body.get("stream"):
        answer = completion(reply, knobs.model, choices)
        answer.update(extra or {})
        if not reports_usage:
            del answer["usage"]
        return await json_response(answer, knobs, request, headers=headers)
    options = body.get("stream_options")
    include_usage = (
        reports_usage and isinstance(options, Mapping) and bool(options.get("include_usage"))
    )
    events = completion_events(reply, knobs.model, choices, include_usage, knobs.dialect)
    return stream_response([*(lead or []), *events], knobs, headers=headers)


async def embeddings_answer(
    request: Request,
    settings: MockSettings,
    body: dict[str, Any],
    knobs: Knobs,
    headers: dict[str, str],
) -> Response:
    """Deterministic embeddings for a checked request, as floats or base64."""
    texts = _embedding_inputs(body.get("input"))
    if not texts:
        message = "'input' must be a non-empty string or array"
        return error_response("openai", 400, message, param="input", headers=headers)
    dimensions = body.get("dimensions") or settings.embedding_dimensions
    if not isinstance(dimensions, int) or not 1 <= dimensions <= 4096:
        message = "'dimensions' must be 1-4096"
        return error_response("openai", 400, message, param="dimensions", headers=headers)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector = embedding(knobs.model, text, dimensions)
        encoded: Any = embedding_base64(vector) if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = knobs.input_tokens or prompt_tokens(texts)
    payload = {
        "object": "list",
        "data": data,
        "model": knobs.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return await json_response(payload, knobs, request, headers=headers)


def _embedding_inputs(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw] if raw else []
    if not isinstance(raw, list) or not raw:
        return []
    if all(isinstance(item, int) for item in raw):
        return [" ".join(map(str, raw))]  # one pre-tokenized input
    return [
        item if isinstance(item, str) else " ".join(map(str, item))
        for item in raw
        if isinstance(item, str | list)
    ]
