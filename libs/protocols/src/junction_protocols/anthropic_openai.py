"""Anthropic-speaking client → OpenAI provider: request and response.

The stream direction lives in ``anthropic_openai_stream``.

Request rules (Messages → Chat Completions):

- ``system`` (string or text blocks) → one leading ``system`` message.
- user blocks: ``text`` → text parts; ``image`` base64 → ``image_url`` with a
  ``data:`` URL, url → ``image_url``; ``document`` base64 PDF → ``file`` part
  with ``file_data``, plain-text document → text part; ``tool_result`` →
  one ``role: "tool"`` message each, placed before the rest of that user turn
  (OpenAI wants them right after the assistant's ``tool_calls``). Tool-result
  text becomes the tool message content; images in a tool result move to a
  user message right after the tool messages (OpenAI tool messages hold
  text only); ``is_error`` has no OpenAI field and is dropped.
- assistant blocks: ``text`` → ``content``; ``tool_use`` → ``tool_calls``
  (ids kept, ``input`` as compact JSON); ``thinking`` and
  ``redacted_thinking`` are dropped (OpenAI takes no reasoning input), or,
  with ``keep_thinking`` (toward Gemini), kept as ``thinking_blocks``.
- ``tools`` → function tools (``input_schema`` → ``parameters``); server
  tools (web search, code execution, computer use…) raise ``ConversionError``.
  ``tool_choice`` auto/any/tool/none → auto/required/{function}/none;
  ``disable_parallel_tool_use: true`` → ``parallel_tool_calls: false``.
- ``max_tokens`` → ``max_completion_tokens`` (OpenAI's reasoning models
  refuse ``max_tokens``); ``temperature``, ``top_p``; ``stop_sequences`` →
  ``stop``; ``metadata.user_id`` → ``user``; ``output_config.format``
  (json_schema) → ``response_format`` json_schema named ``output``.
- ``stream: true`` also sets ``stream_options.include_usage`` so the final
  usage is known.
- ``thinking`` (``budget_tokens``) or ``output_config.effort`` →
  ``reasoning_effort`` by ``reasoning``'s table; thinking off or adaptive
  sends none.
- dropped: ``top_k``,
  ``cache_control`` everywhere, ``service_tier``, ``container``,
  ``mcp_servers``, citations settings and every other field.

Response rules (chat.completion → Message):

- ``reasoning_content`` (or ``reasoning``) of OpenAI-compatible servers →
  a leading ``thinking`` block with an empty signature, or the signed
  ``thinking_blocks`` when the message has them; ``content`` (and a
  ``refusal``) → a ``text`` block; ``tool_calls`` → ``tool_use`` blocks whose
  ``input`` is the parsed arguments. Arguments that are not a JSON object
  are kept as ``{"_raw_arguments": "<text>"}`` rather than lost.
- ``finish_reason`` → ``stop_reason`` (``stop_sequence`` is never reported:
  OpenAI does not say which sequence matched). Only ``choices[0]`` is read.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ConversionError
from .fields import as_dict, as_list
from .finish import openai_to_anthropic_stop
from .ids import anthropic_message_id, data_url
from .reasoning import anthropic_effort_of
from .sse import dumps
from .thinking_blocks import from_anthropic_content, thinking_blocks
from .usage import from_openai

__all__ = ["anthropic_request_to_openai", "openai_response_to_anthropic", "tool_input"]


def anthropic_request_to_openai(
    body: dict[str, Any], *, upstream_model: str, keep_thinking: bool = False
) -> dict[str, Any]:
    """Translate a Messages request body into a Chat Completions request body.

    ``keep_thinking`` keeps assistant thinking blocks as ``thinking_blocks``: for
    the Gemini translators, not for an OpenAI provider.
    """
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            raise ConversionError("each message must be an object", f"messages.{i}")
        role = message.get("role")
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            raise ConversionError("content must be a string or a list", f"messages.{i}.content")
        if role == "user":
            messages.extend(_user_messages(content, f"messages.{i}"))
        elif role == "assistant":
            turn = _assistant_message(content, f"messages.{i}")
            signed = from_anthropic_content(content) if keep_thinking else []
            if signed and turn:
                turn[0]["thinking_blocks"] = signed
            messages.extend(turn)
        else:
            raise ConversionError(f"unsupported message role {role!r}", f"messages.{i}.role")

    out: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if isinstance(body.get("max_tokens"), int):
        out["max_completion_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    _tools(body, out)
    effort = anthropic_effort_of(body)
    if effort is not None:
        out["reasoning_effort"] = effort
    output_config = body.get("output_config")
    if isinstance(output_config, dict) and isinstance(output_config.get("format"), dict):
        schema = output_config["format"].get("schema")
        if not isinstance(schema, dict):
            raise ConversionError("output_config.format.schema is required", "output_config")
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n\n".join(
            b.get("text") or "" for b in system if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _user_messages(blocks: list[Any], param: str) -> list[dict[str, Any]]:
    tool_messages: list[dict[str, Any]] = []
    moved_images: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        where = f"{param}.content.{j}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            text, images = _tool_result_content(block.get("content"), where)
            tool_messages.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
            )
            moved_images.extend(images)
        else:
            parts.append(_user_part(block, kind, where))
    out = list(tool_messages)
    if moved_images:
        out.append({"role": "user", "content": moved_images})
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _user_part(block: Any, kind: Any, where: str) -> dict[str, Any]:
    if kind == "text":
        return {"type": "text", "text": block.get("text") or ""}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _media_url(block.get("source"), where)}}
    if kind == "document":
        source = as_dict(block.get("source"))
        if source.get("type") == "text":
            return {"type": "text", "text": source.get("data") or ""}
        if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
            return {
                "type": "file",
                "file": {
                    "filename": block.get("title") or "document.pdf",
                    "file_data": data_url("application/pdf", source.get("data") or ""),
                },
            }
        raise ConversionError("only PDF and plain-text documents are supported", where)
    raise ConversionError(f"content block {kind!r} is not supported by this model", where)


def _media_url(source: Any, where: str) -> str:
    if isinstance(source, dict):
        if source.get("type") == "base64":
            return data_url(source.get("media_type") or "image/png", source.get("data") or "")
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return str(source["url"])
    raise ConversionError("image source must be base64 or url", where)


def _tool_result_content(content: Any, where: str) -> tuple[str, list[dict[str, Any]]]:
    if content is None or isinstance(content, str):
        return content or "", []
    if not isinstance(content, list):
        raise ConversionError("tool_result content must be a string or a list", where)
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for k, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "image":
            url = _media_url(block.get("source"), f"{where}.content.{k}")
            images.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise ConversionError(f"tool_result block {kind!r} is not supported", where)
    return "\n".join(texts), images


def _assistant_message(blocks: list[Any], param: str) -> list[dict[str, Any]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": dumps(block.get("input") or {}),
                    },
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise ConversionError(
                f"assistant block {kind!r} is not supported by this model", f"{param}.content.{j}"
            )
    if not texts and not calls:
        return []
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    if not tools:
        return
    converted = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type", "custom") != "custom":
            raise ConversionError("only custom (function) tools are supported", f"tools.{i}")
        function: dict[str, Any] = {"name": tool.get("name")}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
        converted.append({"type": "function", "function": function})
    out["tools"] = converted
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    else:
        raise ConversionError(f"unsupported tool_choice {kind!r}", "tool_choice")
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        out["parallel_tool_calls"] = False


def tool_input(arguments: Any) -> dict[str, Any]:
    """Parse OpenAI tool-call arguments into an Anthropic ``input`` object."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"_raw_arguments": arguments}


def openai_response_to_anthropic(body: dict[str, Any], *, model: str) -> dict[str, Any]:
    """Translate a chat.completion body into a Messages response body."""
    choices = as_list(body.get("choices"))
    choice = as_dict(choices[0]) if choices else {}
    message = as_dict(choice.get("message"))
    content: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    signed = thinking_blocks(message)
    if signed:
        content.extend(signed)
    elif isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _message_text(message.get("content")) or message.get("refusal")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": anthropic_message_id(body.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": openai_to_anthropic_stop(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": from_openai(body.get("usage")).to_anthropic(),
    }


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some compatible servers answer with parts
        return "".join(
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""
