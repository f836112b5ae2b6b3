"""OpenAI chat completions → Gemini responses: the streamed translator and shared mappings.

``OpenAIStreamToGemini`` turns ``chat.completion.chunk`` dicts into streamed
``GenerateContentResponse`` dicts. The helpers above it (finish reasons, function calls, text
parts) are shared with the whole-body translator in :mod:`junction_protocols.gemini_openai`,
which re-exports the class; see that module's docstring for the mapping rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .thinking_blocks import thinking_blocks
from .usage import Usage, from_openai

JSON = dict[str, Any]

_FINISH = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}


def gemini_finish_reason(openai_reason: str) -> str:
    """Map an OpenAI ``finish_reason`` to a Gemini ``finishReason`` (unknown → ``OTHER``)."""
    return _FINISH.get(openai_reason, "OTHER")


def function_call_part(call_id: Any, name: Any, arguments: Any) -> JSON | None:
    """A Gemini ``functionCall`` part for an OpenAI tool call, or None when arguments are bad.

    Gemini arguments are a JSON object; a model that produced anything else made a malformed
    call, which Gemini reports as ``MALFORMED_FUNCTION_CALL`` rather than a garbled call.
    """
    try:
        args = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        return None
    if not isinstance(args, dict):
        return None
    call: JSON = {"name": str(name or ""), "args": args}
    if isinstance(call_id, str) and call_id:
        call["id"] = call_id
    return {"functionCall": call}


def content_parts(message: JSON) -> list[JSON]:
    """Gemini parts for the text of an OpenAI message or delta (reasoning first).

    Signed ``thinking_blocks`` become thought parts with their ``thoughtSignature``;
    ``reasoning_content`` is sent as a thought part unless those blocks hold its text.
    """
    parts: list[JSON] = []
    signed = [b for b in thinking_blocks(message) if b["type"] == "thinking"]
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning and not any(b["thinking"] for b in signed):
        parts.append({"text": reasoning, "thought": True})
    for block in signed:
        part: JSON = {"text": block["thinking"], "thought": True}
        if block["signature"]:
            part["thoughtSignature"] = block["signature"]
        parts.append(part)
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append({"text": content})
    elif isinstance(content, list):
        # Some OpenAI-compatible providers answer with a list of text parts.
        parts += [
            {"text": p["text"]}
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"]
        ]
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"text": refusal})
    return parts


@dataclass
class _PendingCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    calls: dict[int, _PendingCall] = field(default_factory=dict)
    finish: str | None = None
    flushed: bool = False


class OpenAIStreamToGemini:
    """Translate ``chat.completion.chunk`` dicts into streamed ``GenerateContentResponse``s.

    Text and reasoning deltas go out at once. Tool call arguments arrive in fragments while
    Gemini sends each call whole, so calls are held until the stream ends. The final chunk
    per candidate (held calls + ``finishReason``) is sent with ``usageMetadata`` when the
    usage chunk arrives, or at :meth:`close`. ``finish_reason`` is the provider's OpenAI value
    for the first candidate (Junction reports finish reasons in OpenAI's vocabulary).
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.usage = Usage()
        self.finish_reason: str | None = None
        self._response_id: str | None = None
        self._choices: dict[int, _Choice] = {}
        self._has_usage = False
        self._usage_sent = False
        self._closed = False

    def feed(self, chunk: JSON) -> list[JSON]:
        """Translate one ``chat.completion.chunk`` into zero or more Gemini chunks."""
        if self._response_id is None and isinstance(chunk.get("id"), str):
            self._response_id = chunk["id"]
        out: list[JSON] = []
        for pos, choice in enumerate(chunk.get("choices") or []):
            index = int(choice.get("index", pos))
            state = self._choices.setdefault(index, _Choice())
            delta = choice.get("delta") or {}
            parts = content_parts(delta)
            if parts:
                out.append(self._chunk([self._candidate(index, parts, None)], None))
            for call in delta.get("tool_calls") or []:
                pending = state.calls.setdefault(int(call.get("index", 0)), _PendingCall())
                function = call.get("function") or {}
                pending.id = pending.id or call.get("id")
                pending.name = pending.name or function.get("name") or ""
                if isinstance(function.get("arguments"), str):
                    pending.arguments.append(function["arguments"])
            if choice.get("finish_reason"):
                state.finish = choice["finish_reason"]
                if index == 0 or self.finish_reason is None:
                    self.finish_reason = state.finish
        if isinstance(chunk.get("usage"), dict):
            self.usage = from_openai(chunk["usage"])
            self._has_usage = True
            out += self._flush(only_finished=True)
        return out

    def close(self) -> list[JSON]:
        """End of stream: any candidate not yet closed, with the usage seen so far."""
        if self._closed:
            return []
        self._closed = True
        return self._flush(only_finished=False)

    def _flush(self, *, only_finished: bool) -> list[JSON]:
        candidates = []
        for index in sorted(self._choices):
            state = self._choices[index]
            if state.flushed or (only_finished and state.finish is None):
                continue
            state.flushed = True
            parts: list[JSON] = []
            malformed = False
            for k in sorted(state.calls):
                call = state.calls[k]
                part = function_call_part(call.id, call.name, "".join(call.arguments))
                if part is None:
                    malformed = True
                else:
                    parts.append(part)
            reason = None
            if state.finish is not None:
                reason = gemini_finish_reason(state.finish)
            if malformed:
                reason = "MALFORMED_FUNCTION_CALL"
            if parts or reason:
                candidates.append(self._candidate(index, parts or [{"text": ""}], reason))
        if not candidates and (only_finished or not self._has_usage or self._usage_sent):
            return []
        usage = None
        if self._has_usage:
            usage = self.usage.to_gemini()
            self._usage_sent = True
        return [self._chunk(candidates, usage)]

    @staticmethod
    def _candidate(index: int, parts: list[JSON], reason: str | None) -> JSON:
        candidate: JSON = {"content": {"role": "model", "parts": parts}, "index": index}
        if reason:
            candidate["finishReason"] = reason
        return candidate

    def _chunk(self, candidates: list[JSON], usage: JSON | None) -> JSON:
        chunk: JSON = {"candidates": candidates}
        if usage is not None:
            chunk["usageMetadata"] = usage
        chunk["modelVersion"] = self.model
        if self._response_id:
            chunk["responseId"] = self._response_id
        return chunk
