"""OpenAI-speaking client → Anthropic provider: request and response.

The stream direction lives in ``openai_anthropic_stream``.

Request rules (Chat Completions → Messages):

- ``system`` and ``developer`` messages, wherever they sit, are hoisted in
  order into Anthropic's top-level ``system`` (a string when it is one text,
  else a list of text blocks): Anthropic has no mid-conversation system turn.
- content parts: ``text``; ``image_url`` with an http(s) URL → image source
  ``url``, with a base64 ``data:`` URL → image source ``base64`` (jpeg, png,
  gif, webp); ``file`` with PDF ``file_data`` → ``document`` block. Audio,
  ``file_id`` and other media raise ``ConversionError``.
- assistant ``tool_calls`` → ``tool_use`` blocks (arguments must be a JSON
  object); ``tool`` messages → ``tool_result`` blocks. Consecutive messages of
  the same Anthropic role are merged, so a run of tool results becomes one
  user message. Empty text parts are dropped (Anthropic refuses them).
- ``tools`` (function tools only) → ``tools`` with ``input_schema``;
  ``tool_choice`` auto/none/required/{function} → auto/none/any/tool;
  ``allowed_tools`` narrows the tool list; ``parallel_tool_calls: false`` →
  ``disable_parallel_tool_use: true``. A ``tool_choice`` without tools is dropped.
- ``max_completion_tokens`` or ``max_tokens`` → ``max_tokens`` (default 4096,
  Anthropic requires one); ``temperature`` is clamped to Anthropic's 0..1;
  ``top_p``; ``stop`` → ``stop_sequences``; ``user``/``safety_identifier`` →
  ``metadata.user_id``; ``stream`` is kept.
- ``response_format``: ``json_schema`` → ``output_config.format``
  (Anthropic structured outputs); ``json_object`` raises ``ConversionError``
  (no schema-less JSON mode); ``text`` is the default and dropped.
- refused with ``ConversionError``: ``n`` > 1, ``logprobs``/``top_logprobs``,
  audio output, legacy ``functions``/``function_call``, non-function tools.
- ``reasoning_effort`` (or ``reasoning.effort``) → ``thinking`` with the
  budget of ``reasoning``'s table, under Anthropic's rules (budget ≥ 1024
  and below ``max_tokens``, no sampling overrides); ``none`` leaves it off.
- assistant ``thinking_blocks`` (signed, see ``thinking_blocks``) → leading
  ``thinking`` / ``redacted_thinking`` blocks, so a tool-use loop with
  thinking on can go on; bare ``reasoning_content`` is dropped (Anthropic
  needs signed thinking blocks we cannot forge).
- dropped: every other field (``frequency_penalty``, ``presence_penalty``,
  ``logit_bias``, ``seed``, ``store``, ``metadata``, ``service_tier``,
  ``stream_options`` (Anthropic always reports usage),
  ``verbosity``, ``prediction``, ``prompt_cache_key``, ``web_search_options``,
  message ``name``, ``tools[].function.strict``).

Response rules (Message → chat.completion):

- text blocks are joined into ``message.content`` (``null`` when none);
  ``tool_use`` blocks → ``tool_calls`` (ids kept, ``input`` as compact JSON);
  ``thinking`` blocks → ``message.reasoning_content`` (the de facto extension
  OpenAI-compatible servers use for reasoning text), and with their
  signatures (and ``redacted_thinking``) → ``message.thinking_blocks``;
  citations and server-tool blocks are dropped.
- ``stop_reason`` → ``finish_reason`` (see ``finish``); usage per ``usage``.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ConversionError
from .finish import anthropic_to_openai_finish
from .ids import now, openai_completion_id, parse_data_url
from .reasoning import ANTHROPIC_BUDGET, enable_anthropic_thinking, openai_effort_of
from .sse import dumps
from .thinking_blocks import anthropic_blocks, from_anthropic_content
from .usage import from_anthropic

__all__ = ["anthropic_response_to_openai", "openai_request_to_anthropic"]

DEFAULT_MAX_TOKENS = 4096
_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def openai_request_to_anthropic(
    body: dict[str, Any], *, upstream_model: str, thinking_budget: int | None = None
) -> dict[str, Any]:
    """Translate a Chat Completions request body into a Messages request body.

    ``thinking_budget`` overrides the budget read from ``reasoning_effort`` (a
    Gemini client's exact ``thinkingBudget``, composed through this shape).
    """
    _refuse_unsupported(body)
    effort = openai_effort_of(body)
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            raise ConversionError("each message must be an object", f"messages[{i}]")
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text_only(message.get("content"), f"messages[{i}].content")
            if text:
                system.append(text)
        elif role == "user":
            _append(messages, "user", _user_blocks(message.get("content"), f"messages[{i}]"))
        elif role == "assistant":
            _append(messages, "assistant", _assistant_blocks(message, f"messages[{i}]"))
        elif role == "tool":
            _append(messages, "user", [_tool_result(message, f"messages[{i}]")])
        else:
            raise ConversionError(f"unsupported message role {role!r}", f"messages[{i}].role")

    out: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if system:
        out["system"] = (
            system[0] if len(system) == 1 else [{"type": "text", "text": t} for t in system]
        )
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = max_tokens if isinstance(max_tokens, int) else DEFAULT_MAX_TOKENS
    temperature = body.get("temperature")
    if isinstance(temperature, int | float):
        out["temperature"] = min(max(float(temperature), 0.0), 1.0)
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = list(stop)
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    _tools(body, out)
    _response_format(body.get("response_format"), out)
    if thinking_budget is None and effort not in (None, "none"):
        thinking_budget = ANTHROPIC_BUDGET[str(effort)]
    if thinking_budget is not None:
        enable_anthropic_thinking(out, thinking_budget)
    if body.get("stream"):
        out["stream"] = True
    return out


def _refuse_unsupported(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise ConversionError("this model returns one choice per request; n must be 1", "n")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise ConversionError("logprobs are not available for this model", "logprobs")
    if "audio" in (body.get("modalities") or ()) or body.get("audio"):
        raise ConversionError("audio output is not available for this model", "modalities")
    if body.get("functions") or body.get("function_call"):
        raise ConversionError(
            "legacy functions/function_call are not supported; use tools/tool_choice",
            "functions",
        )


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _text_only(content: Any, param: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
                raise ConversionError("only text content is allowed here", f"{param}[{j}]")
            texts.append(part.get("text") or part.get("refusal") or "")
        return "".join(texts)
    raise ConversionError("content must be a string or a list of parts", param)


def _user_blocks(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise ConversionError("content must be a string or a list of parts", f"{param}.content")
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        where = f"{param}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), where))
        elif kind == "file":
            blocks.append(_document(part.get("file"), where))
        else:
            raise ConversionError(f"content part {kind!r} is not supported by this model", where)
    return blocks


def _image(image_url: Any, where: str) -> dict[str, Any]:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str) or not url:
        raise ConversionError("image_url.url is required", where)
    if url.startswith("data:"):
        parsed = parse_data_url(url)
        if parsed is None or parsed[0] not in _IMAGE_TYPES:
            raise ConversionError(
                "images must be base64 data URLs of jpeg, png, gif or webp", where
            )
        media_type, data = parsed
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise ConversionError("image URLs must be http(s) or base64 data URLs", where)


def _document(file: Any, where: str) -> dict[str, Any]:
    data = file.get("file_data") if isinstance(file, dict) else None
    parsed = parse_data_url(data) if isinstance(data, str) else None
    if parsed is None or parsed[0] != "application/pdf":
        raise ConversionError("only inline PDF files (file_data data URLs) are supported", where)
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": parsed[1]},
    }


def _assistant_blocks(message: dict[str, Any], param: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = anthropic_blocks(message)
    text = _text_only(message.get("content"), f"{param}.content")
    if text:
        blocks.append({"type": "text", "text": text})
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal and not text:
        blocks.append({"type": "text", "text": refusal})
    for j, call in enumerate(message.get("tool_calls") or []):
        where = f"{param}.tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or call.get("type", "function") != "function":
            raise ConversionError("only function tool calls are supported", where)
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _arguments(function.get("arguments"), f"{where}.function.arguments"),
            }
        )
    return blocks


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise ConversionError("tool call arguments must be valid JSON", where) from None
    if not isinstance(value, dict):
        raise ConversionError("tool call arguments must be a JSON object", where)
    return value


def _tool_result(message: dict[str, Any], param: str) -> dict[str, Any]:
    content = message.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    if isinstance(content, str):
        result["content"] = content
    else:
        result["content"] = _text_only(content, f"{param}.content")
    return result


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        names = {_function_name(t) for t in allowed.get("tools") or []}
        tools = [t for t in tools if _function_name(t) in names]
        choice = "required" if allowed.get("mode") == "required" else "auto"
    if not tools:
        return
    converted = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type", "function") != "function":
            raise ConversionError("only function tools are supported", f"tools[{i}]")
        entry: dict[str, Any] = {"name": function.get("name")}
        if function.get("description"):
            entry["description"] = function["description"]
        entry["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
        converted.append(entry)
    out["tools"] = converted
    anthropic_choice: dict[str, Any] | None = None
    if choice == "auto":
        anthropic_choice = {"type": "auto"}
    elif choice == "none":
        anthropic_choice = {"type": "none"}
    elif choice == "required":
        anthropic_choice = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        anthropic_choice = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    elif choice is not None:
        raise ConversionError("unsupported tool_choice", "tool_choice")
    if body.get("parallel_tool_calls") is False:
        anthropic_choice = anthropic_choice or {"type": "auto"}
        if anthropic_choice["type"] != "none":
            anthropic_choice["disable_parallel_tool_use"] = True
    if anthropic_choice is not None:
        out["tool_choice"] = anthropic_choice


def _function_name(tool: Any) -> Any:
    function = tool.get("function") if isinstance(tool, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def _response_format(response_format: Any, out: dict[str, Any]) -> None:
    if not isinstance(response_format, dict):
        return
    kind = response_format.get("type")
    if kind in (None, "text"):
        return
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise ConversionError("json_schema.schema is required", "response_format")
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return
    if kind == "json_object":
        raise ConversionError(
            "response_format json_object is not available for this model; "
            "use json_schema with an explicit schema",
            "response_format",
        )
    raise ConversionError(f"unsupported response_format {kind!r}", "response_format")


def anthropic_response_to_openai(
    body: dict[str, Any], *, model: str, created: int | None = None
) -> dict[str, Any]:
    """Translate a Messages response body into a chat.completion body."""
    texts: list[str] = []
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in body.get("content") or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
        elif kind == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": dumps(block.get("input") or {}),
                    },
                }
            )
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) or None,
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    signed = anthropic_blocks({"thinking_blocks": from_anthropic_content(body.get("content"))})
    if signed:
        message["thinking_blocks"] = signed
    return {
        "id": openai_completion_id(body.get("id")),
        "object": "chat.completion",
        "created": now() if created is None else created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": anthropic_to_openai_finish(body.get("stop_reason")),
            }
        ],
        "usage": from_anthropic(body.get("usage")).to_openai(),
    }
