"""Gemini responses → OpenAI chat completions: the streamed translator and shared mappings.

``GeminiStreamToOpenAI`` turns each streamed ``GenerateContentResponse`` (one SSE event of
``streamGenerateContent?alt=sse``, already decoded) into ``chat.completion.chunk`` dicts.
The helpers above it (part splitting, tool call ids) are shared with
the whole-body translator in :mod:`junction_protocols.openai_gemini`, which re-exports the
class; see that module's docstring for the mapping rules.
"""

from __future__ import annotations

import json
from typing import Any

from .finish import gemini_to_openai_finish
from .ids import now, openai_completion_id
from .thinking_blocks import signature_block
from .usage import Usage, from_gemini

JSON = dict[str, Any]


class ToolCallIds:
    """Hands out OpenAI tool call ids for Gemini function calls.

    Newer Gemini models send ``functionCall.id``; it is kept. Otherwise ids are
    ``call_<responseId>_<n>`` (``call_<n>`` without a responseId): stable for one response,
    and distinct across turns so clients that key tool calls by id do not mix turns up.
    """

    def __init__(self, response_id: object) -> None:
        has_id = isinstance(response_id, str) and response_id
        self._prefix = f"call_{response_id}_" if has_id else "call_"
        self._n = 0

    def next(self, gemini_id: object) -> str:
        """The id for the next function call, given its Gemini ``id`` (if any)."""
        if isinstance(gemini_id, str) and gemini_id:
            return gemini_id
        call_id = f"{self._prefix}{self._n}"
        self._n += 1
        return call_id


def tool_call(function_call: JSON, call_id: str, signature: object) -> JSON:
    """An OpenAI ``tool_calls`` entry for a Gemini ``functionCall`` part.

    A ``thoughtSignature`` rides along as ``extra_content.google.thought_signature`` (the
    shape Google's own OpenAI-compatible endpoint uses) so a client that echoes the tool call
    back lets us restore it: Gemini 3 rejects replayed function calls without it.
    """
    entry: JSON = {
        "id": call_id,
        "type": "function",
        "function": {
            "name": str(function_call.get("name", "")),
            "arguments": json.dumps(function_call.get("args") or {}, ensure_ascii=False),
        },
    }
    if isinstance(signature, str) and signature:
        entry["extra_content"] = {"google": {"thought_signature": signature}}
    return entry


def split_part(part: JSON) -> tuple[str, Any]:
    """Classify a response part as ``text``, ``thought`` (with its text), ``call`` or ``skip``.

    Parts OpenAI chat cannot show (inline images, executable code, ...) are skipped: requests
    built by this package never enable the tools or modalities that produce them.
    """
    if isinstance(part.get("functionCall"), dict):
        return "call", part
    text = part.get("text")
    if isinstance(text, str):
        return ("thought" if part.get("thought") else "text"), text
    return "skip", None


class GeminiStreamToOpenAI:
    """Translate a Gemini ``streamGenerateContent`` stream into ``chat.completion.chunk`` dicts.

    Gemini streams text as deltas and each function call whole, so a call becomes one tool
    call delta carrying the full arguments; a ``STOP`` after calls is ``tool_calls``.
    ``usageMetadata`` is cumulative in every chunk; the last one seen wins. ``finish_reason``
    is the OpenAI value sent for the first candidate.
    """

    def __init__(
        self, model: str, include_usage: bool = True, *, created: int | None = None
    ) -> None:
        self.model = model
        self.include_usage = include_usage
        self.usage = Usage()
        self.finish_reason: str | None = None
        self._id: str | None = None
        self._ids = ToolCallIds(None)
        self._created = now() if created is None else created
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._calls: dict[int, int] = {}
        self._closed = False

    def feed(self, chunk: JSON) -> list[JSON]:
        """Translate one streamed ``GenerateContentResponse`` into zero or more chunks."""
        if self._id is None:
            self._id = openai_completion_id(chunk.get("responseId"))
            self._ids = ToolCallIds(chunk.get("responseId"))
        if isinstance(chunk.get("usageMetadata"), dict):
            self.usage = from_gemini(chunk["usageMetadata"])
        out: list[JSON] = []
        candidates = chunk.get("candidates") or []
        feedback = chunk.get("promptFeedback") or {}
        if not candidates and feedback.get("blockReason"):
            # The prompt itself was blocked: no candidate will ever come.
            out += self._start(0)
            out += self._finish(0, "content_filter")
        for pos, candidate in enumerate(candidates):
            index = int(candidate.get("index", pos))
            out += self._start(index)
            for part in (candidate.get("content") or {}).get("parts") or []:
                delta = self._delta(index, part)
                if delta:
                    out.append(self._chunk(index, delta, None))
            reason = candidate.get("finishReason")
            if reason:
                has_calls = self._calls.get(index, 0) > 0
                out += self._finish(
                    index, gemini_to_openai_finish(reason, has_tool_calls=has_calls)
                )
        return out

    def close(self) -> list[JSON]:
        """End of stream: the usage chunk (empty ``choices``) when ``include_usage``.

        A finish reason is never invented here: a stream cut before Gemini's final chunk
        stays visibly unfinished.
        """
        if self._closed or not self.include_usage:
            self._closed = True
            return []
        self._closed = True
        return [
            {
                "id": self._id or openai_completion_id(None),
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self.model,
                "choices": [],
                "usage": self.usage.to_openai(),
            }
        ]

    def _start(self, index: int) -> list[JSON]:
        if index in self._started:
            return []
        self._started.add(index)
        return [self._chunk(index, {"role": "assistant", "content": ""}, None)]

    def _finish(self, index: int, reason: str) -> list[JSON]:
        if index in self._finished:
            return []
        self._finished.add(index)
        if index == 0 or self.finish_reason is None:
            self.finish_reason = reason
        return [self._chunk(index, {}, reason)]

    def _delta(self, index: int, part: JSON) -> JSON | None:
        delta = self._part_delta(index, part)
        signature = part.get("thoughtSignature")
        if isinstance(signature, str) and signature:
            # the signature seals the thoughts streamed so far (``thinking_blocks``)
            delta = {**(delta or {}), "thinking_blocks": [signature_block(signature)]}
        return delta

    def _part_delta(self, index: int, part: JSON) -> JSON | None:
        kind, value = split_part(part)
        if kind == "call":
            n = self._calls.get(index, 0)
            self._calls[index] = n + 1
            call = tool_call(
                value["functionCall"],
                self._ids.next(value["functionCall"].get("id")),
                value.get("thoughtSignature"),
            )
            return {"tool_calls": [{"index": n, **call}]}
        if kind == "text" and value:
            return {"content": value}
        if kind == "thought" and value:
            return {"reasoning_content": value}
        return None

    def _chunk(self, index: int, delta: JSON, finish_reason: str | None) -> JSON:
        chunk: JSON = {
            "id": self._id or openai_completion_id(None),
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.include_usage:
            # OpenAI sends "usage": null on every chunk but the last when usage is requested.
            chunk["usage"] = None
        return chunk
