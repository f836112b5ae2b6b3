"""Gemini wire format: generateContent, streamGenerateContent, countTokens, embedContent,
batchEmbedContents, under ``/v1beta/models/`` and ``/v1/models/`` (the API serves both).

References: https://ai.google.dev/api/generate-content (GenerateContentResponse,
``?alt=sse`` streaming; without it the stream is one JSON array),
https://ai.google.dev/api/tokens, https://ai.google.dev/api/embeddings,
https://ai.google.dev/gemini-api/docs/troubleshooting (error codes).

Request fields are read under their lowerCamelCase name or their snake_case
proto name, as proto3 JSON parsers do (https://protobuf.dev/programming-guides/json/):
the ``google-genai`` SDK sends ``inlineData.mime_type`` and
``parameters_json_schema``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junction_mockllm.delivery import json_response, sse_data, stream_response
from junction_mockllm.directives import DirectiveError, read_knobs
from junction_mockllm.errors import error_response
from junction_mockllm.faults import preflight, read_json
from junction_mockllm.replies import (
    Prompt,
    Reply,
    Tool,
    ToolMode,
    compose,
    embedding,
    prompt_tokens,
)
from junction_mockllm.settings import MockSettings

_FINISH = {"end": "STOP", "length": "MAX_TOKENS", "stop_sequence": "STOP", "tool_use": "STOP"}
_METHODS = (
    "generateContent",
    "streamGenerateContent",
    "countTokens",
    "embedContent",
    "batchEmbedContents",
)
_UPPER = re.compile(r"([A-Z])")


def field(obj: Any, name: str) -> Any:
    """The field ``name`` (camelCase) of ``obj``, given under that name or its snake_case one."""
    if not isinstance(obj, Mapping):
        return None
    if name in obj:
        return obj[name]
    return obj.get(_UPPER.sub(r"_\1", name).lower())


def _parts(content: Any) -> list[Mapping[str, Any]]:
    parts = field(content, "parts")
    return [p for p in parts or [] if isinstance(p, Mapping)]


def parts_text(content: Any) -> str:
    """Text of a ``Content``: its text parts joined."""
    return " ".join(str(p["text"]) for p in _parts(content) if "text" in p)


def _function_result(part: Mapping[str, Any]) -> str:
    response = field(field(part, "functionResponse"), "response")
    # a single text field ({"result": "sunny"}) reads as its text, so a tool
    # result converted from another protocol yields the same reply
    if isinstance(response, Mapping) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return json.dumps(response, sort_keys=True, separators=(",", ":"))


def _tool_choice(config: Any) -> tuple[ToolMode, str | None]:
    calling = field(config, "functionCallingConfig")
    if not isinstance(calling, Mapping):
        return "auto", None
    mode = str(calling.get("mode", "AUTO")).upper()
    allowed = field(calling, "allowedFunctionNames") or []
    if mode == "NONE":
        return "none", None
    if mode in ("ANY", "VALIDATED") and allowed:
        return "any", str(allowed[0])
    return ("any" if mode == "ANY" else "auto"), None


def content_prompt(body: Mapping[str, Any], model: str) -> Prompt:
    """The provider-neutral prompt of a GenerateContentRequest."""
    contents = [c for c in field(body, "contents") or [] if isinstance(c, Mapping)]
    users = [parts_text(c) for c in contents if c.get("role", "user") == "user"]
    users = [text for text in users if text]
    last = _parts(contents[-1]) if contents else []
    results = [_function_result(p) for p in last if field(p, "functionResponse") is not None]
    tools = tuple(
        Tool(str(d.get("name")), field(d, "parameters") or field(d, "parametersJsonSchema"))
        for t in body.get("tools") or []
        if isinstance(t, Mapping)
        for d in field(t, "functionDeclarations") or []
        if isinstance(d, Mapping)
    )
    mode, forced = _tool_choice(field(body, "toolConfig"))
    config = field(body, "generationConfig") or {}
    limit = field(config, "maxOutputTokens")
    texts = [parts_text(field(body, "systemInstruction")), *(parts_text(c) for c in contents)]
    return Prompt(
        model=model,
        user_text=users[-1] if users else "",
        tool_result=" ".join(results) if results else None,
        tools=tools,
        tool_mode=mode,
        forced_tool=forced,
        input_tokens=prompt_tokens(texts),
        max_tokens=limit if isinstance(limit, int) else None,
        stop=tuple(str(s) for s in field(config, "stopSequences") or ()),
    )


def usage_metadata(reply: Reply, output_tokens: int | None = None) -> dict[str, Any]:
    """``usageMetadata``; ``output_tokens`` overrides the count (running total in streams)."""
    output = reply.output_tokens if output_tokens is None else output_tokens
    meta: dict[str, Any] = {
        "promptTokenCount": reply.input_tokens,
        "candidatesTokenCount": output,
        "totalTokenCount": reply.input_tokens + output,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
    }
    if reply.cached_tokens:
        meta["cachedContentTokenCount"] = reply.cached_tokens
    return meta


def _response(
    parts: list[dict[str, Any]],
    reply: Reply,
    model: str,
    response_id: str,
    *,
    final: bool = True,
    output_tokens: int | None = None,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if final:
        candidate["finishReason"] = _FINISH[reply.finish]
    return {
        "candidates": [candidate],
        "usageMetadata": usage_metadata(reply, output_tokens),
        "modelVersion": model,
        "responseId": response_id,
    }


def _new_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _call_parts(reply: Reply) -> list[dict[str, Any]]:
    return [{"functionCall": {"name": c.name, "args": c.arguments}} for c in reply.tool_calls]


def generate_response(reply: Reply, model: str) -> dict[str, Any]:
    """A complete GenerateContentResponse."""
    parts = _call_parts(reply) or [{"text": reply.text}]
    return _response(parts, reply, model, _new_id())


def stream_chunks(reply: Reply, model: str) -> list[dict[str, Any]]:
    """The GenerateContentResponse chunks of a stream; only the last has a finishReason."""
    response_id = _new_id()
    if reply.tool_calls:
        return [_response(_call_parts(reply), reply, model, response_id)]
    pieces = reply.pieces or ("",)
    return [
        _response(
            [{"text": piece}],
            reply,
            model,
            response_id,
            final=index == len(pieces) - 1,
            output_tokens=index + 1 if reply.pieces else 0,
        )
        for index, piece in enumerate(pieces)
    ]


def _array_events(chunks: list[dict[str, Any]]) -> list[bytes]:
    # without alt=sse the stream is one JSON array, sent element by element
    texts = [json.dumps(chunk, ensure_ascii=False) for chunk in chunks]
    events = [("[" if i == 0 else ",\r\n") + text for i, text in enumerate(texts)]
    return [e.encode() for e in events] + [b"]"]


def _embedding(request: Any, model: str, default_size: int) -> dict[str, Any] | str:
    """The ``ContentEmbedding`` for one ``EmbedContentRequest``, or what is wrong with it."""
    size = field(request, "outputDimensionality") or default_size
    if not isinstance(size, int) or not 1 <= size <= 4096:
        return "outputDimensionality must be 1-4096."
    return {"values": embedding(model, parts_text(field(request, "content")), size)}


class GeminiEndpoints:
    """``POST /v1beta/models/{model}:{method}`` and ``POST /v1/models/{model}:{method}``."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        return [
            Route("/v1beta/models/{target:path}", self.dispatch, methods=["POST"]),
            Route("/v1/models/{target:path}", self.dispatch, methods=["POST"]),
        ]

    async def dispatch(self, request: Request) -> Response:
        """Route ``{model}:{method}`` to the method, after key, knobs and faults."""
        model, _, method = request.path_params["target"].rpartition(":")
        if method not in _METHODS or not model:
            return error_response("gemini", 404, f"Method not found: {method or 'none'}.")
        body = await read_json(request)
        if body is None:
            return error_response("gemini", 400, "Invalid JSON payload received.")
        try:
            knobs = read_knobs(model, request.headers, self.settings)
        except DirectiveError as exc:
            return error_response("gemini", 400, str(exc))
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        refusal = await preflight(request, self.settings, "gemini", knobs, key, {})
        if refusal is not None:
            return refusal
        size = self.settings.embedding_dimensions
        if method == "embedContent":
            single = _embedding(body, knobs.model, size)
            if isinstance(single, str):
                return error_response("gemini", 400, single)
            return await json_response({"embedding": single}, knobs, request)
        if method == "batchEmbedContents":
            answer = _batch(body, model, knobs.model, size)
            if isinstance(answer, str):
                return error_response("gemini", 400, answer)
            return await json_response(answer, knobs, request)
        if method == "countTokens":
            inner = field(body, "generateContentRequest")
            prompt = content_prompt(inner if isinstance(inner, Mapping) else body, knobs.model)
            tokens = compose(prompt, knobs).input_tokens
            details = [{"modality": "TEXT", "tokenCount": tokens}]
            return JSONResponse({"totalTokens": tokens, "promptTokensDetails": details})
        if not field(body, "contents"):
            return error_response("gemini", 400, "* contents: contents is not specified")
        reply = compose(content_prompt(body, knobs.model), knobs)
        if method == "generateContent":
            return await json_response(generate_response(reply, knobs.model), knobs, request)
        chunks = stream_chunks(reply, knobs.model)
        if request.query_params.get("alt") == "sse":
            events = [sse_data(chunk, crlf=True) for chunk in chunks]
            return stream_response(events, knobs)
        return stream_response(_array_events(chunks), knobs, media_type="application/json")


def _batch(body: Mapping[str, Any], url_model: str, model: str, size: int) -> dict[str, Any] | str:
    """A ``BatchEmbedContentsResponse``; each request names the model of the URL."""
    requests = field(body, "requests")
    if not isinstance(requests, list) or not requests:
        return "* requests: requests is not specified"
    embeddings = []
    for i, request in enumerate(requests):
        named = field(request, "model")
        if named != f"models/{url_model}":
            return (
                f"* requests[{i}].model: the model of each request must be the model of the "
                f"URL, models/{url_model}"
            )
        one = _embedding(request, model, size)
        if isinstance(one, str):
            return one
        embeddings.append(one)
    return {"embeddings": embeddings}
