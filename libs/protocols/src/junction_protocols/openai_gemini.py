"""OpenAI chat completions client → Gemini ``generateContent`` provider.

Pure functions on decoded JSON. The model name goes in the URL, never in the body.

Request (``openai_request_to_gemini``):

- ``system``/``developer`` messages → ``systemInstruction`` (all of them, in order: Gemini
  has one system slot, so a system message in mid-conversation moves to the top).
- ``user`` → role ``user``; ``assistant`` → role ``model``; consecutive ``tool`` messages →
  one ``user`` content of ``functionResponse`` parts (parallel results answer together), in
  the order of the calls they answer.
- Content parts: text; ``image_url`` with a ``data:`` URL → ``inlineData``; with an
  ``http(s)`` URL → ``fileData.fileUri`` (the provider fetches it; ``mimeType`` guessed from
  the path, left out when unknown); ``input_audio`` → ``inlineData`` ``audio/wav|mp3``;
  ``file`` with ``file_data`` → ``inlineData``. ``detail`` is dropped; ``file_id`` and any
  other part type raise :class:`ConversionError`.
- ``tool_calls`` → ``functionCall`` parts (arguments must be a JSON object). Gemini call ids
  are not sent upstream: Gemini pairs responses with calls by name and order. A
  ``extra_content.google.thought_signature`` on a tool call is restored as the part's
  ``thoughtSignature``. Assistant ``thinking_blocks`` → ``thought: true`` parts; their
  signature goes on the turn's first function call when no call has its own (Gemini wants
  it there), else on the thought part. Bare ``reasoning_content`` is dropped (not
  replayable).
- ``tool`` messages → ``functionResponse``: the function NAME is looked up from the nearest
  earlier assistant tool call with that ``tool_call_id`` (unknown id → error). Content that
  is a JSON object becomes ``response`` as is; anything else is wrapped as
  ``{"output": <text>}`` (Gemini's documented key for function output).
- ``tools`` → one ``functionDeclarations`` tool. Parameters go to ``parametersJsonSchema``,
  which takes full JSON Schema, so nothing (``additionalProperties``, ``$schema``, ``$ref``)
  is stripped; ``strict`` is dropped. ``tool_choice`` none/auto/required/{function} →
  ``functionCallingConfig`` NONE/AUTO/ANY/ANY+``allowedFunctionNames``; ``allowed_tools``
  with mode ``required`` → ANY+names, with ``auto`` → AUTO over only the allowed functions.
- ``generationConfig``: temperature, top_p → topP, max_completion_tokens (else max_tokens)
  → maxOutputTokens, stop → stopSequences, n → candidateCount, presence/frequency_penalty,
  seed; ``response_format`` json_object → ``responseMimeType: application/json``,
  json_schema → that plus ``responseJsonSchema`` (full JSON Schema, ``strict`` dropped);
  ``reasoning_effort`` (or ``reasoning.effort``) → ``thinkingConfig`` by the table in
  :mod:`junction_protocols.reasoning` (``thinkingBudget``, and ``includeThoughts`` unless
  ``none``).

Unknown-field rule: request fields that only describe the call (``model``, ``stream``,
``stream_options``, ``user``, ``metadata``, ``store``, ``service_tier``,
``prompt_cache_key``, ``safety_identifier``, ``parallel_tool_calls`` — Gemini has no switch
for it) are dropped; every other field that is not mapped above raises ``ConversionError``
naming it (``logprobs``, ``logit_bias``, ``audio``, ``functions``, ...). ``null`` counts as
absent. On responses, unknown fields are ignored.

Response (``gemini_response_to_openai`` in :mod:`junction_protocols.openai_gemini_response`,
and :class:`GeminiStreamToOpenAI`): text parts → ``content``; ``thought: true`` parts →
``reasoning_content``; each ``thoughtSignature`` → a ``thinking_blocks`` entry (see
:mod:`junction_protocols.thinking_blocks`); ``functionCall`` →
``tool_calls`` (ids: see :class:`ToolCallIds`). Finish reasons: STOP → ``stop``, or
``tool_calls`` when the candidate called functions; MAX_TOKENS → ``length``; the safety family
(SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY) → ``content_filter``;
anything else → ``stop`` (OpenAI has no value for it). Usage follows
:mod:`junction_protocols.usage`: completion tokens include thoughts and
``completion_tokens_details.reasoning_tokens`` reports them, as OpenAI does. A blocked
prompt (no candidates, ``promptFeedback.blockReason``) → one empty choice with
``content_filter``.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from .errors import ConversionError
from .ids import parse_data_url
from .openai_gemini_response import gemini_response_to_openai
from .openai_gemini_stream import JSON, GeminiStreamToOpenAI
from .reasoning import gemini_thinking_config, openai_effort_of
from .thinking_blocks import thinking_blocks

__all__ = ["GeminiStreamToOpenAI", "gemini_response_to_openai", "openai_request_to_gemini"]

_IGNORED = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "service_tier",
        "prompt_cache_key",
        "safety_identifier",
        "parallel_tool_calls",
    }
)
_SAMPLING = {
    "temperature": "temperature",
    "top_p": "topP",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "seed": "seed",
}
_HANDLED = frozenset(
    {"messages", "tools", "tool_choice", "max_tokens", "max_completion_tokens", "stop", "n"}
    | {"response_format", "reasoning_effort", "reasoning", *_SAMPLING}
)
_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}


def openai_request_to_gemini(body: JSON) -> JSON:
    """Translate an OpenAI chat completions request into a Gemini ``GenerateContentRequest``."""
    for key, value in body.items():
        if value is not None and key not in _IGNORED and key not in _HANDLED:
            raise ConversionError(f"'{key}' is not supported by this Gemini model", key)
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ConversionError("'messages' must be a list", "messages")
    contents, system_parts = _contents(messages)
    out: JSON = {"contents": contents}
    if system_parts:
        out["systemInstruction"] = {"parts": system_parts}
    if body.get("tools"):
        out["tools"] = [{"functionDeclarations": _declarations(body["tools"])}]
        tool_config = _tool_config(body.get("tool_choice"), out["tools"][0])
        if tool_config:
            out["toolConfig"] = {"functionCallingConfig": tool_config}
    elif body.get("tool_choice") not in (None, "none", "auto"):
        raise ConversionError("'tool_choice' needs 'tools'", "tool_choice")
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    return out


# -- messages -------------------------------------------------------------------------------


def _contents(messages: list[Any]) -> tuple[list[JSON], list[JSON]]:
    contents: list[JSON] = []
    system_parts: list[JSON] = []
    calls: dict[str, tuple[str, int]] = {}  # tool_call_id → (function name, position in turn)
    results: list[tuple[int, JSON]] = []  # consecutive tool results, gathered into one turn
    for i, msg in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise ConversionError("each message must be an object", param)
        role = msg.get("role")
        if role == "tool":
            results.append(_function_response(msg, calls, param))
            continue
        _close_tool_turn(results, contents)
        if role in ("system", "developer"):
            system_parts += [{"text": t} for t in _texts(msg.get("content"), param) if t]
        elif role == "user":
            parts = _user_parts(msg.get("content"), param)
            if parts:
                contents.append({"role": "user", "parts": parts})
        elif role == "assistant":
            parts = _assistant_parts(msg, calls, param)
            if parts:
                contents.append({"role": "model", "parts": parts})
        else:
            raise ConversionError(f"message role '{role}' is not supported", f"{param}.role")
    _close_tool_turn(results, contents)
    return contents, system_parts


def _close_tool_turn(results: list[tuple[int, JSON]], contents: list[JSON]) -> None:
    """Append gathered tool results as one user turn, in the order of the calls.

    Gemini pairs responses with calls by name and order (no ids are sent), so results that
    the client answered out of order are put back in call order.
    """
    if results:
        results.sort(key=lambda result: result[0])
        contents.append({"role": "user", "parts": [part for _, part in results]})
        results.clear()


def _texts(content: Any, param: str) -> list[str]:
    """Text of a system/assistant/tool content: a string or a list of text parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") in ("text", "refusal"):
                texts.append(str(part.get("text", part.get("refusal", ""))))
            else:
                raise ConversionError("only text parts are supported here", f"{param}.content[{j}]")
        return texts
    raise ConversionError("content must be a string or a list of parts", f"{param}.content")


def _user_parts(content: Any, param: str) -> list[JSON]:
    if content is None or isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise ConversionError("content must be a string or a list of parts", f"{param}.content")
    return [_user_part(part, f"{param}.content[{j}]") for j, part in enumerate(content)]


def _user_part(part: Any, param: str) -> JSON:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"text": str(part.get("text", ""))}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url", "") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise ConversionError("image_url.url must be a string", param)
        if url.startswith("data:"):
            return _inline(url, param)
        if url.startswith(("http://", "https://")):
            file_data: JSON = {"fileUri": url}
            mime = mimetypes.guess_type(url.split("?", 1)[0])[0]
            if mime:
                file_data["mimeType"] = mime
            return {"fileData": file_data}
        raise ConversionError("image_url must be a data: or http(s) URL", param)
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        mime = _AUDIO_MIME.get(str(audio.get("format")))
        if mime is None:
            raise ConversionError("input_audio.format must be wav or mp3", param)
        return {"inlineData": {"mimeType": mime, "data": str(audio.get("data", ""))}}
    if kind == "file":
        file = part.get("file") or {}
        data = file.get("file_data")
        if isinstance(data, str) and data.startswith("data:"):
            return _inline(data, param)
        raise ConversionError("only inline file_data (a data: URL) can be sent to Gemini", param)
    raise ConversionError(f"content part type '{kind}' is not supported", param)


def _inline(url: str, param: str) -> JSON:
    parsed = parse_data_url(url)
    if parsed is None:
        raise ConversionError("data URL must look like data:<mime>;base64,<data>", param)
    return {"inlineData": {"mimeType": parsed[0], "data": parsed[1]}}


def _assistant_parts(msg: JSON, calls: dict[str, tuple[str, int]], param: str) -> list[JSON]:
    texts = _texts(msg.get("content"), param)
    if not texts and isinstance(msg.get("refusal"), str):
        texts = [msg["refusal"]]
    thoughts = [b for b in thinking_blocks(msg) if b["type"] == "thinking"]
    parts: list[JSON] = [{"text": b["thinking"], "thought": True} for b in thoughts]
    parts += [{"text": t} for t in texts if t]
    for k, call in enumerate(msg.get("tool_calls") or []):
        where = f"{param}.tool_calls[{k}]"
        function = call.get("function") if isinstance(call, dict) else None
        if call.get("type", "function") != "function" or not isinstance(function, dict):
            raise ConversionError("only function tool calls are supported", where)
        name = str(function.get("name", ""))
        part: JSON = {"functionCall": {"name": name, "args": _arguments(function, where)}}
        signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
        if isinstance(signature, str) and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
        if isinstance(call.get("id"), str):
            calls[call["id"]] = (name, k)
    _place_signatures(parts, thoughts)
    return parts


def _place_signatures(parts: list[JSON], thoughts: list[JSON]) -> None:
    """Put the thinking blocks' signatures where Gemini looks for them (see module doc)."""
    signatures = [b["signature"] for b in thoughts if b["signature"]]
    if not signatures:
        return
    calls = [p for p in parts if "functionCall" in p]
    if calls and not any("thoughtSignature" in p for p in calls):
        calls[0]["thoughtSignature"] = signatures[0]
        return
    for part, block in zip(parts, thoughts, strict=False):
        if block["signature"] and not calls:
            part["thoughtSignature"] = block["signature"]


def _arguments(function: JSON, where: str) -> JSON:
    raw = function.get("arguments") or "{}"
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ConversionError("tool call arguments are not valid JSON", where) from exc
    if not isinstance(args, dict):
        raise ConversionError("Gemini needs tool call arguments to be a JSON object", where)
    return args


def _function_response(
    msg: JSON, calls: dict[str, tuple[str, int]], param: str
) -> tuple[int, JSON]:
    call_id = msg.get("tool_call_id")
    call = calls.get(call_id) if isinstance(call_id, str) else None
    if call is None:
        raise ConversionError(
            "tool_call_id matches no earlier assistant tool call", f"{param}.tool_call_id"
        )
    text = "".join(_texts(msg.get("content"), param))
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"output": text}
    return call[1], {"functionResponse": {"name": call[0], "response": response}}


# -- tools and generation config ------------------------------------------------------------


def _declarations(tools: Any) -> list[JSON]:
    if not isinstance(tools, list):
        raise ConversionError("'tools' must be a list", "tools")
    declarations = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise ConversionError("only function tools are supported", f"tools[{i}]")
        declaration: JSON = {"name": str(function.get("name", ""))}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters") is not None:
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    return declarations


def _tool_config(choice: Any, tool: JSON) -> JSON | None:
    if choice is None:
        return None
    if choice in ("none", "auto", "required"):
        return {"mode": {"none": "NONE", "auto": "AUTO", "required": "ANY"}[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str):
            return {"mode": "ANY", "allowedFunctionNames": [name]}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        names = [
            (t.get("function") or {}).get("name")
            for t in allowed.get("tools") or []
            if isinstance(t, dict)
        ]
        if allowed.get("mode") == "required":
            return {"mode": "ANY", "allowedFunctionNames": names}
        if allowed.get("mode") == "auto":
            # AUTO takes no name list, so the other declarations are left out instead.
            tool["functionDeclarations"] = [
                d for d in tool["functionDeclarations"] if d["name"] in names
            ]
            return {"mode": "AUTO"}
    raise ConversionError("unsupported 'tool_choice'", "tool_choice")


def _generation_config(body: JSON) -> JSON:
    config: JSON = {
        gemini: body[openai] for openai, gemini in _SAMPLING.items() if body.get(openai) is not None
    }
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    if stop is not None:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("n") is not None and body["n"] != 1:
        config["candidateCount"] = body["n"]
    thinking = gemini_thinking_config(effort=openai_effort_of(body))
    if thinking is not None:
        config["thinkingConfig"] = thinking
    response_format = body.get("response_format")
    if response_format is not None:
        config.update(_response_format(response_format))
    return config


def _response_format(response_format: Any) -> JSON:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        out: JSON = {"responseMimeType": "application/json"}
        if schema is not None:
            out["responseJsonSchema"] = schema
        return out
    raise ConversionError(f"response_format type '{kind}' is not supported", "response_format")
