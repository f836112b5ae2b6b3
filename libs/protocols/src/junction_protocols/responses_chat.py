"""OpenAI Responses API client → a Chat Completions provider: request and response.

The stream direction lives in ``responses_chat_stream``. A provider that
speaks Anthropic Messages or Gemini is reached through the existing
Chat Completions translators, so this one pair serves every provider.

The gateway is stateless (``check_stateless``): ``store: true``,
``previous_response_id``, ``conversation``, ``background: true`` and
``item_reference`` inputs need stored responses and raise ``StatefulRequest``.

Request rules (Responses → Chat Completions):

- ``instructions`` → a leading ``system`` message; ``input`` as a string → one
  ``user`` message; ``input`` items: ``message`` (``type`` may be left out)
  with role ``user``/``assistant``/``system``/``developer`` (``developer``
  becomes ``system``, which every Chat Completions server knows) and content
  as a string or parts: ``input_text``/``output_text`` → ``text``,
  ``input_image`` (URL or ``data:`` URL; ``detail`` kept) → ``image_url``,
  ``input_file`` with ``file_data`` → ``file``, ``refusal`` → its text;
  ``function_call`` → a ``tool_calls`` entry of the assistant turn (a run of
  them joins one assistant message, after its text); ``function_call_output``
  → a ``tool`` message (text parts only). ``reasoning`` items are dropped
  (a provider cannot replay another's reasoning).
- ``tools``: function tools, flat (``{type, name, description, parameters,
  strict}``) → nested Chat Completions tools; any built-in tool (web search,
  file search, computer use, code interpreter, MCP…) raises
  ``UnsupportedTool``. ``tool_choice`` ``auto``/``none``/``required``,
  ``{type: function, name}`` and ``{type: allowed_tools}`` map to their Chat
  Completions forms. ``parallel_tool_calls`` is kept when there are tools.
- ``max_output_tokens`` → ``max_completion_tokens``; ``temperature``,
  ``top_p``, ``user``, ``safety_identifier`` kept; ``reasoning.effort`` →
  ``reasoning_effort``; ``text.format`` ``json_schema`` / ``json_object`` →
  ``response_format``, ``text.verbosity`` → ``verbosity``; ``stream`` kept,
  with ``stream_options.include_usage`` (a Responses stream ends with usage).
- dropped: ``metadata`` (echoed in the response, not sent: Chat Completions
  stores metadata only with ``store``), ``include``, ``truncation``,
  ``max_tool_calls``, ``prompt_cache_key``, ``service_tier``,
  ``stream_options``, ``reasoning.summary``.
- refused (``ConversionError``): ``prompt`` (stored prompt templates),
  ``top_logprobs``, ``file_id`` references, and unknown item or part types.

Response rules (chat.completion → response): ``reasoning_content`` → a
``reasoning`` item, text → a ``message`` item with one ``output_text`` part
(a ``refusal`` → a ``refusal`` part), ``tool_calls`` → ``function_call``
items; ``finish_reason`` ``length``/``content_filter`` → status
``incomplete`` with that reason; usage per ``Usage.to_responses``.
"""

from __future__ import annotations

from typing import Any

from .errors import ConversionError
from .fields import as_dict, as_list
from .ids import now
from .responses_items import (
    envelope,
    finish_status,
    function_call_item,
    item_id,
    message_item,
    reasoning_item,
    response_id,
    text_part,
)
from .usage import from_openai

__all__ = [
    "StatefulRequest",
    "UnsupportedTool",
    "chat_response_to_responses",
    "check_stateless",
    "responses_request_to_chat",
]

Body = dict[str, Any]
_CHOICES = ("auto", "none", "required")
_FORMATS = ("json_schema", "json_object", "text")


class StatefulRequest(ConversionError):
    """The request needs a stored response or conversation; the gateway keeps none."""


class UnsupportedTool(ConversionError):
    """A built-in tool (web search, file search…) no translated provider can run."""


def check_stateless(body: Body) -> None:
    """Refuse what needs stored responses (see the module docstring)."""
    if body.get("store") is True:
        raise StatefulRequest(
            "this gateway does not store responses: send 'store': false (or leave it out) "
            "and pass the whole conversation in 'input'",
            "store",
        )
    for field in ("previous_response_id", "conversation"):
        if body.get(field) is not None:
            raise StatefulRequest(
                f"'{field}' needs stored responses, which this gateway does not keep; "
                "pass the earlier turns in 'input' instead",
                field,
            )
    if body.get("background") is True:
        raise StatefulRequest(
            "background responses need stored responses, which this gateway does not keep",
            "background",
        )


def responses_request_to_chat(body: Body) -> Body:
    """Translate a Responses API request into a Chat Completions request."""
    check_stateless(body)
    for field, why in (("prompt", "stored prompt templates"), ("top_logprobs", "logprobs")):
        if body.get(field) is not None:
            raise ConversionError(f"{why} are not available for this model", field)
    out: Body = {"model": body.get("model"), "messages": _messages(body)}
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        if body.get("parallel_tool_calls") is not None:
            out["parallel_tool_calls"] = body["parallel_tool_calls"]
    if body.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(body["tool_choice"])
    if body.get("max_output_tokens") is not None:
        out["max_completion_tokens"] = body["max_output_tokens"]
    for field in ("temperature", "top_p", "user", "safety_identifier"):
        if body.get(field) is not None:
            out[field] = body[field]
    effort = as_dict(body.get("reasoning")).get("effort")
    if effort is not None:
        out["reasoning_effort"] = effort
    _text(body.get("text"), out)
    if body.get("stream"):
        # a Responses stream always ends with usage: ask the chat stream for it
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _messages(body: Body) -> list[Body]:
    messages: list[Body] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        if instructions:
            messages.append({"role": "system", "content": instructions})
    elif instructions is not None:
        raise ConversionError("'instructions' must be a string", "instructions")
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for i, item in enumerate(given):
            _item(messages, item, f"input[{i}]")
    else:
        raise ConversionError("'input' must be a string or a list of items", "input")
    return messages


def _item(messages: list[Body], item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise ConversionError("each input item must be an object", where)
    kind = item.get("type") or ("message" if "role" in item else None)
    if kind == "message":
        messages.append(_message(item, where))
    elif kind == "function_call":
        call = {
            "id": _string(item.get("call_id"), f"{where}.call_id"),
            "type": "function",
            "function": {
                "name": _string(item.get("name"), f"{where}.name"),
                "arguments": item.get("arguments") or "{}",
            },
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        messages.append(
            {
                "role": "tool",
                "tool_call_id": _string(item.get("call_id"), f"{where}.call_id"),
                "content": _output_text(item.get("output"), f"{where}.output"),
            }
        )
    elif kind == "reasoning":
        return
    elif kind == "item_reference":
        raise StatefulRequest(
            "item references need stored responses; send the item itself instead", where
        )
    else:
        raise ConversionError(
            f"input items of type {kind!r} are not supported by this model", where
        )


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConversionError("a non-empty string is required here", where)
    return value


def _message(item: Body, where: str) -> Body:
    role = item.get("role")
    content = item.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _plain_text(content, f"{where}.content")}
    if role == "assistant":
        return {"role": "assistant", "content": _plain_text(content, f"{where}.content")}
    if role != "user":
        raise ConversionError(f"unsupported message role {role!r}", f"{where}.role")
    if isinstance(content, str):
        return {"role": "user", "content": content}
    if not isinstance(content, list):
        raise ConversionError("content must be a string or a list of parts", f"{where}.content")
    return {
        "role": "user",
        "content": [_user_part(p, f"{where}.content[{j}]") for j, p in enumerate(content)],
    }


def _user_part(part: Any, where: str) -> Body:
    part = as_dict(part)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part.get("text") or ""}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise ConversionError("images must be given by 'image_url' (a URL or data URL)", where)
        image: Body = {"url": url}
        if part.get("detail") is not None:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if not isinstance(part.get("file_data"), str):
            raise ConversionError("files must be sent inline, as 'file_data'", where)
        file: Body = {"file_data": part["file_data"]}
        if isinstance(part.get("filename"), str):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    raise ConversionError(f"content parts of type {kind!r} are not supported by this model", where)


def _plain_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ConversionError("content must be a string or a list of parts", where)
    texts: list[str] = []
    for j, part in enumerate(content):
        part = as_dict(part)
        kind = part.get("type")
        if kind not in ("input_text", "output_text", "refusal", "text"):
            raise ConversionError("only text content is allowed here", f"{where}[{j}]")
        text = part.get("refusal" if kind == "refusal" else "text")
        texts.append(text if isinstance(text, str) else "")
    return "".join(texts)


def _output_text(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return _plain_text(output, where)
    raise ConversionError("a function call's output must be a string or text parts", where)


def _tools(tools: Any) -> list[Body]:
    out: list[Body] = []
    for i, tool in enumerate(as_list(tools)):
        tool = as_dict(tool)
        kind = tool.get("type")
        if kind != "function":
            raise UnsupportedTool(
                f"the built-in tool {kind!r} is not available for this model; "
                "only function tools are",
                f"tools[{i}]",
            )
        function: Body = {"name": _string(tool.get("name"), f"tools[{i}].name")}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in _CHOICES:
        return choice
    choice = as_dict(choice)
    kind = choice.get("type")
    if kind == "function":
        return {
            "type": "function",
            "function": {"name": _string(choice.get("name"), "tool_choice")},
        }
    if kind == "allowed_tools":
        named = []
        for i, tool in enumerate(as_list(choice.get("tools"))):
            if as_dict(tool).get("type") != "function":
                raise UnsupportedTool(
                    "only function tools can be allowed", f"tool_choice.tools[{i}]"
                )
            named.append({"type": "function", "function": {"name": tool.get("name")}})
        mode = choice.get("mode") or "auto"
        return {"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": named}}
    raise UnsupportedTool(
        f"tool_choice of type {kind!r} is not available for this model", "tool_choice"
    )


def _text(text: Any, out: Body) -> None:
    text = as_dict(text)
    fmt = as_dict(text.get("format"))
    kind = fmt.get("type")
    if kind == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema: Body = {"name": fmt.get("name") or "response", "schema": fmt.get("schema")}
        for key in ("description", "strict"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind not in (None, "text"):
        raise ConversionError(f"text.format of type {kind!r} is not supported", "text.format")
    if text.get("verbosity") is not None:
        out["verbosity"] = text["verbosity"]


def chat_response_to_responses(chat: Body, *, request: Body, model: str) -> Body:
    """The Responses API ``response`` object for a ``chat.completion`` answer to ``request``."""
    choice = as_dict(next(iter(as_list(chat.get("choices"))), None))
    message = as_dict(choice.get("message"))
    output: list[Body] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        output.append(reasoning_item(item_id("rs"), reasoning))
    parts: list[Body] = []
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(text_part(content))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append(message_item(item_id("msg"), parts))
    for call in as_list(message.get("tool_calls")):
        function = as_dict(as_dict(call).get("function"))
        output.append(
            function_call_item(
                item_id("fc"),
                str(as_dict(call).get("id") or item_id("call")),
                str(function.get("name") or ""),
                str(function.get("arguments") or ""),
            )
        )
    status, incomplete = finish_status(choice.get("finish_reason"))
    created = chat.get("created")
    return envelope(
        id=response_id(chat.get("id")),
        created_at=created if isinstance(created, int) else now(),
        model=model,
        request=request,
        status=status,
        output=output,
        usage=from_openai(chat.get("usage")).to_responses(),
        incomplete_details=incomplete,
    )
