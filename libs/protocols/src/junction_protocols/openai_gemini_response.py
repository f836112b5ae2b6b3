"""Gemini ``GenerateContentResponse`` → OpenAI ``chat.completion`` (the whole-body answer).

The mapping rules are in :mod:`junction_protocols.openai_gemini`'s docstring; the streamed
answer is :class:`~junction_protocols.openai_gemini_stream.GeminiStreamToOpenAI`.
"""

from __future__ import annotations

from .finish import gemini_to_openai_finish
from .ids import now, openai_completion_id
from .openai_gemini_stream import JSON, ToolCallIds, split_part, tool_call
from .thinking_blocks import from_gemini_parts
from .usage import from_gemini

__all__ = ["gemini_response_to_openai"]


def gemini_response_to_openai(body: JSON, *, model: str) -> JSON:
    """Translate a Gemini ``GenerateContentResponse`` into an OpenAI ``chat.completion``."""
    ids = ToolCallIds(body.get("responseId"))
    choices = [
        _choice(candidate, int(candidate.get("index", pos)), ids)
        for pos, candidate in enumerate(body.get("candidates") or [])
    ]
    if not choices:
        blocked = bool((body.get("promptFeedback") or {}).get("blockReason"))
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": None},
                "logprobs": None,
                "finish_reason": "content_filter" if blocked else "stop",
            }
        ]
    return {
        "id": openai_completion_id(body.get("responseId")),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": choices,
        "usage": from_gemini(body.get("usageMetadata")).to_openai(),
    }


def _choice(candidate: JSON, index: int, ids: ToolCallIds) -> JSON:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    parts = (candidate.get("content") or {}).get("parts") or []
    for part in parts:
        kind, value = split_part(part)
        if kind == "text":
            texts.append(value)
        elif kind == "thought":
            thoughts.append(value)
        elif kind == "call":
            fc = value["functionCall"]
            calls.append(tool_call(fc, ids.next(fc.get("id")), value.get("thoughtSignature")))
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    message["refusal"] = None
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    signed = from_gemini_parts(parts)
    if signed:
        message["thinking_blocks"] = signed
    if calls:
        message["tool_calls"] = calls
    reason = candidate.get("finishReason") or "STOP"
    return {
        "index": index,
        "message": message,
        "logprobs": None,
        "finish_reason": gemini_to_openai_finish(reason, has_tool_calls=bool(calls)),
    }
