"""Gemini ``generateContent`` client → OpenAI chat completions provider.

Pure functions on decoded JSON. Requests are read with their field names in camelCase, after
:func:`~junction_protocols.gemini_field_names.camel_case_fields` (proto3 JSON lets a client
send ``inline_data``/``mime_type`` for ``inlineData``/``mimeType``, and the ``google-genai``
SDK does).

Request (``gemini_request_to_openai``):

- ``systemInstruction`` text → one ``system`` message; role ``user`` → ``user``, role
  ``model`` → ``assistant`` (text parts joined; ``thought`` parts and ``thoughtSignature``
  dropped: OpenAI providers take no replayed reasoning; with ``keep_thinking``, toward the
  Anthropic translators, they become ``thinking_blocks``, one per signature).
- ``functionCall`` parts → ``tool_calls``; ids are the call's ``id`` or ``call_<n>``.
  ``functionResponse`` parts → ``tool`` messages (placed before the turn's other user
  parts, as OpenAI wants them right after the calls), matched by ``id`` when given, else to
  the oldest unanswered call of that name. ``response`` is sent as JSON text, except a lone
  ``{"output": ...}`` which is sent as its value.
- ``inlineData``: ``image/*`` → ``image_url`` data URL, ``audio/wav|mp3|mpeg`` →
  ``input_audio``, other types → ``file`` with ``file_data``, the data in standard padded
  base64 (proto3 JSON bytes may come URL-safe and unpadded). ``fileData`` with a public
  ``http(s)`` image URI → ``image_url``; Files API / ``gs://`` URIs and non-image URIs raise
  ``ConversionError`` (an OpenAI provider cannot fetch them).
- ``tools[].functionDeclarations`` → function tools; ``parametersJsonSchema`` is used as is,
  OpenAPI-style ``parameters`` are turned into JSON Schema (lower-case types, ``nullable`` →
  ``[type, "null"]``, ``example`` → ``examples``, ``propertyOrdering`` dropped). Function
  ``response`` schemas are dropped. Other tools (googleSearch, codeExecution, ...) raise.
- ``functionCallingConfig``: NONE → ``none``, AUTO → ``auto``, ANY → ``required`` or
  ``{function}`` (one name) or ``allowed_tools`` required (several), VALIDATED →
  ``auto`` / ``allowed_tools`` auto.
- ``generationConfig``: temperature, topP, maxOutputTokens → max_completion_tokens,
  stopSequences → stop, candidateCount → n, presence/frequencyPenalty, seed;
  ``responseMimeType: application/json`` → ``json_object``, or ``json_schema`` (name
  ``response``) when ``responseJsonSchema``/``responseSchema`` is set. ``thinkingConfig``
  (``thinkingBudget`` or ``thinkingLevel``) → ``reasoning_effort`` by the table in
  :mod:`junction_protocols.reasoning` (off or dynamic: none sent); ``mediaResolution`` is
  dropped.

Unknown-field rule: ``safetySettings`` and ``model`` are dropped (OpenAI takes no per-request
safety thresholds; the model comes from the route). Every other unmapped field raises
``ConversionError`` naming it (``topK``, ``cachedContent``, ``responseLogprobs: true``, non-
TEXT ``responseModalities``, ...). On responses, unknown fields are ignored.

Response (``openai_response_to_gemini`` and :class:`OpenAIStreamToGemini`):
``reasoning_content`` → a ``thought: true`` text part (signed ``thinking_blocks`` → thought
parts with their ``thoughtSignature``), ``content``/``refusal`` → text,
``tool_calls`` → ``functionCall`` (with the OpenAI id as ``id``); tool arguments that are not a
JSON object yield ``finishReason: MALFORMED_FUNCTION_CALL`` instead of a made-up call.
Finish reasons stop/tool_calls → STOP, length → MAX_TOKENS, content_filter → SAFETY,
anything else → OTHER. Usage → ``usageMetadata`` with reasoning tokens moved from
``candidatesTokenCount`` to ``thoughtsTokenCount``.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ConversionError
from .gemini_field_names import camel_case_fields
from .gemini_openai_stream import (
    JSON,
    OpenAIStreamToGemini,
    content_parts,
    function_call_part,
    gemini_finish_reason,
)
from .gemini_openai_tools import declarations as declarations_of
from .gemini_openai_tools import json_schema, tool_choice
from .ids import data_url
from .reasoning import gemini_effort_of
from .thinking_blocks import from_gemini_parts
from .usage import from_openai

__all__ = ["OpenAIStreamToGemini", "gemini_request_to_openai", "openai_response_to_gemini"]

_IGNORED = frozenset({"model", "safetySettings"})
_HANDLED = frozenset({"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"})
_CONFIG = {
    "temperature": "temperature",
    "topP": "top_p",
    "maxOutputTokens": "max_completion_tokens",
    "candidateCount": "n",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "seed": "seed",
}
_CONFIG_DROPPED = frozenset({"thinkingConfig", "mediaResolution"})
_CONFIG_OTHER = frozenset(
    {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema"}
    | {"responseModalities", "responseLogprobs"}
)
_AUDIO_FORMAT = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mp3": "mp3", "audio/mpeg": "mp3"}
_URL_SAFE = str.maketrans("-_", "+/")


def gemini_request_to_openai(
    body: JSON, *, upstream_model: str, stream: bool, keep_thinking: bool = False
) -> JSON:
    """Translate a Gemini ``GenerateContentRequest`` into an OpenAI chat completions request."""
    body = camel_case_fields(body)
    for key, value in body.items():
        if value is not None and key not in _IGNORED and key not in _HANDLED:
            raise ConversionError(f"'{key}' is not supported by this model", key)
    contents = body.get("contents")
    if not isinstance(contents, list):
        raise ConversionError("'contents' must be a list", "contents")
    messages: list[JSON] = []
    system = body.get("systemInstruction")
    if system:
        texts = _system_texts(system)
        if texts:
            messages.append({"role": "system", "content": _text_content(texts)})
    messages += _messages(contents, keep_thinking)
    out: JSON = {"model": upstream_model, "messages": messages}
    declarations = declarations_of(body.get("tools") or [])
    if declarations:
        out["tools"] = declarations
        choice = tool_choice((body.get("toolConfig") or {}).get("functionCallingConfig"))
        if choice is not None:
            out["tool_choice"] = choice
    out.update(_generation_config(body.get("generationConfig") or {}))
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def openai_response_to_gemini(body: JSON, *, model: str) -> JSON:
    """Translate an OpenAI ``chat.completion`` into a Gemini ``GenerateContentResponse``."""
    candidates = []
    for pos, choice in enumerate(body.get("choices") or []):
        message = choice.get("message") or {}
        parts = content_parts(message)
        malformed = False
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            part = function_call_part(
                call.get("id"), function.get("name"), function.get("arguments")
            )
            if part is None:
                malformed = True
            else:
                parts.append(part)
        reason = gemini_finish_reason(choice.get("finish_reason") or "stop")
        candidates.append(
            {
                "content": {"role": "model", "parts": parts or [{"text": ""}]},
                "finishReason": "MALFORMED_FUNCTION_CALL" if malformed else reason,
                "index": int(choice.get("index", pos)),
            }
        )
    out: JSON = {
        "candidates": candidates,
        "usageMetadata": from_openai(body.get("usage")).to_gemini(),
        "modelVersion": model,
    }
    if isinstance(body.get("id"), str):
        out["responseId"] = body["id"]
    return out


# -- contents -------------------------------------------------------------------------------


def _system_texts(system: Any) -> list[str]:
    if isinstance(system, str):
        return [system]
    parts = system.get("parts") if isinstance(system, dict) else None
    if not isinstance(parts, list):
        raise ConversionError("systemInstruction must be a Content", "systemInstruction")
    texts = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            raise ConversionError("only text parts are supported", f"systemInstruction.parts[{j}]")
        texts.append(part["text"])
    return texts


def _text_content(texts: list[str]) -> str | list[JSON]:
    if len(texts) == 1:
        return texts[0]
    return [{"type": "text", "text": t} for t in texts]


def _is_empty(part: JSON) -> bool:
    """A part carrying only thought markers (e.g. a bare ``thoughtSignature``)."""
    return not (part.keys() - {"thought", "thoughtSignature"})


def _messages(contents: list[Any], keep_thinking: bool = False) -> list[JSON]:
    messages: list[JSON] = []
    pending: list[tuple[str, str]] = []  # (id, name) of calls still awaiting a response
    generated = 0
    for i, content in enumerate(contents):
        param = f"contents[{i}]"
        if not isinstance(content, dict):
            raise ConversionError("each content must be an object", param)
        role = content.get("role") or "user"
        parts = [p for p in content.get("parts") or [] if isinstance(p, dict) and not _is_empty(p)]
        if role == "model":
            texts: list[str] = []
            calls: list[JSON] = []
            for j, part in enumerate(parts):
                if isinstance(part.get("functionCall"), dict):
                    fc = part["functionCall"]
                    call_id = fc.get("id") or f"call_{generated}"
                    generated += 0 if fc.get("id") else 1
                    name = str(fc.get("name", ""))
                    arguments = json.dumps(fc.get("args") or {}, ensure_ascii=False)
                    calls.append(
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                    )
                    pending.append((call_id, name))
                elif isinstance(part.get("text"), str):
                    if not part.get("thought"):
                        texts.append(part["text"])
                else:
                    raise ConversionError("unsupported model part", f"{param}.parts[{j}]")
            if texts or calls:
                message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
                if calls:
                    message["tool_calls"] = calls
                signed = from_gemini_parts(parts) if keep_thinking else []
                if signed:
                    message["thinking_blocks"] = signed
                messages.append(message)
        elif role in ("user", "function"):
            user_parts = []
            for j, part in enumerate(parts):
                where = f"{param}.parts[{j}]"
                if isinstance(part.get("functionResponse"), dict):
                    messages.append(_tool_message(part["functionResponse"], pending, where))
                elif not part.get("thought"):
                    user_parts.append(_user_part(part, where))
            if user_parts:
                texts = [p["text"] for p in user_parts if p["type"] == "text"]
                content_value: Any = user_parts
                if len(texts) == len(user_parts):
                    content_value = _text_content(texts)
                messages.append({"role": "user", "content": content_value})
        else:
            raise ConversionError(f"content role '{role}' is not supported", f"{param}.role")
    return messages


def _tool_message(response: JSON, pending: list[tuple[str, str]], where: str) -> JSON:
    if response.keys() - {"id", "name", "response"}:
        raise ConversionError("only name, id and response are supported", where)
    name = response.get("name")
    match = next((c for c in pending if response.get("id") and c[0] == response["id"]), None)
    if match is None:
        match = next((c for c in pending if c[1] == name), None)
    if match is None:
        raise ConversionError(f"functionResponse '{name}' answers no earlier functionCall", where)
    pending.remove(match)
    value = response.get("response")
    if isinstance(value, dict) and value.keys() == {"output"}:
        value = value["output"]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return {"role": "tool", "tool_call_id": match[0], "content": text}


def _user_part(part: JSON, where: str) -> JSON:
    if isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if isinstance(part.get("inlineData"), dict):
        mime = str(part["inlineData"].get("mimeType", ""))
        data = _standard_base64(str(part["inlineData"].get("data", "")))
        if mime.startswith("image/"):
            return {"type": "image_url", "image_url": {"url": data_url(mime, data)}}
        if mime in _AUDIO_FORMAT:
            return {
                "type": "input_audio",
                "input_audio": {"data": data, "format": _AUDIO_FORMAT[mime]},
            }
        return {"type": "file", "file": {"file_data": data_url(mime, data)}}
    if isinstance(part.get("fileData"), dict):
        uri = str(part["fileData"].get("fileUri", ""))
        mime = str(part["fileData"].get("mimeType", "image/"))
        public = (
            uri.startswith(("http://", "https://"))
            and "generativelanguage.googleapis.com" not in uri
        )
        if public and mime.startswith("image/"):
            return {"type": "image_url", "image_url": {"url": uri}}
        raise ConversionError("only public http(s) image URIs can be passed on", where)
    raise ConversionError("unsupported part", where)


def _standard_base64(data: str) -> str:
    """proto3 JSON bytes may be URL-safe base64 and unpadded (the google-genai SDK sends
    them so); data URLs and OpenAI or Anthropic providers take the standard alphabet, padded."""
    data = data.translate(_URL_SAFE)
    short = len(data) % 4  # 1 is no base64 length: left for the provider to refuse
    return data + "=" * (4 - short) if short in (2, 3) else data


# -- generation config ----------------------------------------------------------------------


def _generation_config(config: Any) -> JSON:
    if not isinstance(config, dict):
        raise ConversionError("'generationConfig' must be an object", "generationConfig")
    out: JSON = {}
    for key, value in config.items():
        if value is None or key in _CONFIG_DROPPED:
            continue
        if key in _CONFIG:
            out[_CONFIG[key]] = value
        elif key not in _CONFIG_OTHER:
            raise ConversionError(
                f"'{key}' is not supported by this model", f"generationConfig.{key}"
            )
    if out.get("n") == 1:
        del out["n"]
    thinking = config.get("thinkingConfig")
    effort = gemini_effort_of(thinking) if isinstance(thinking, dict) else None
    if effort is not None:
        out["reasoning_effort"] = effort
    if config.get("stopSequences"):
        out["stop"] = list(config["stopSequences"])
    if config.get("responseLogprobs"):
        raise ConversionError("logprobs are not supported", "generationConfig.responseLogprobs")
    modalities = config.get("responseModalities") or ["TEXT"]
    if [m.upper() for m in modalities if isinstance(m, str)] != ["TEXT"]:
        raise ConversionError(
            "only TEXT output is supported", "generationConfig.responseModalities"
        )
    mime = config.get("responseMimeType") or "text/plain"
    if mime == "application/json":
        schema = config.get("responseJsonSchema")
        if schema is None and config.get("responseSchema") is not None:
            schema = json_schema(config["responseSchema"])
        if schema is None:
            out["response_format"] = {"type": "json_object"}
        else:
            out["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": schema},
            }
    elif mime != "text/plain":
        raise ConversionError(f"responseMimeType '{mime}' is not supported", "generationConfig")
    return out
