"""Token usage, normalised across providers.

One rule for every protocol, chosen to match what is billed:

- ``input_tokens`` counts every prompt token, cached or not (OpenAI's
  ``prompt_tokens``). For Anthropic that is ``input_tokens +
  cache_read_input_tokens + cache_creation_input_tokens``, because Anthropic's
  own ``input_tokens`` excludes both cache counts. For Gemini it is
  ``promptTokenCount + toolUsePromptTokenCount``.
- ``cached_input_tokens`` ⊆ ``input_tokens``: tokens read from a prompt cache
  (OpenAI ``prompt_tokens_details.cached_tokens``, Anthropic
  ``cache_read_input_tokens``, Gemini ``cachedContentTokenCount``).
- ``cache_write_input_tokens`` ⊆ ``input_tokens``: tokens written to a cache
  (Anthropic ``cache_creation_input_tokens``, OpenAI
  ``prompt_tokens_details.cache_write_tokens``); priced apart by Anthropic.
- ``output_tokens`` counts every generated token, reasoning included (OpenAI
  ``completion_tokens``, Anthropic ``output_tokens``, Gemini
  ``candidatesTokenCount + thoughtsTokenCount``).
- ``reasoning_tokens`` ⊆ ``output_tokens``.

OpenAI's Responses API names the same figures ``input_tokens``,
``output_tokens``, ``input_tokens_details.cached_tokens`` and
``output_tokens_details.reasoning_tokens``; ``from_openai`` reads either
spelling (the Chat Completions one wins when both are there).

``UsageTracker`` watches a stream in the provider's own protocol (a
pass-through) and keeps the latest usage and finish reason seen. An OpenAI
stream may be Chat Completions chunks or Responses events (see
``responses_wire``); the tracker tells them apart by the events themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import Protocol
from .finish import anthropic_to_openai_finish, gemini_to_openai_finish
from .responses_wire import TERMINAL_EVENTS, finish_of, is_responses_event
from .sse import SSEEvent

__all__ = ["Usage", "UsageTracker", "from_anthropic", "from_gemini", "from_openai"]


@dataclass
class Usage:
    """Token counts of one call (see the module docstring for the rule)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def to_openai(self) -> dict[str, Any]:
        """The usage object of an OpenAI chat completion."""
        out: dict[str, Any] = {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_input_tokens or self.cache_write_input_tokens:
            details: dict[str, int] = {"cached_tokens": self.cached_input_tokens}
            if self.cache_write_input_tokens:
                details["cache_write_tokens"] = self.cache_write_input_tokens
            out["prompt_tokens_details"] = details
        if self.reasoning_tokens:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return out

    def to_responses(self) -> dict[str, Any]:
        """The usage object of an OpenAI Responses API response."""
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {
                "cached_tokens": self.cached_input_tokens,
                "cache_write_tokens": self.cache_write_input_tokens,
            },
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.total_tokens,
        }

    def to_anthropic(self) -> dict[str, Any]:
        """The usage object of an Anthropic message (cache counts split back out)."""
        uncached = self.input_tokens - self.cached_input_tokens - self.cache_write_input_tokens
        return {
            "input_tokens": max(uncached, 0),
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_write_input_tokens,
            "cache_read_input_tokens": self.cached_input_tokens,
        }

    def to_gemini(self) -> dict[str, Any]:
        """The ``usageMetadata`` object of a Gemini response."""
        out: dict[str, Any] = {
            "promptTokenCount": self.input_tokens,
            "candidatesTokenCount": self.output_tokens - self.reasoning_tokens,
            "totalTokenCount": self.total_tokens,
        }
        if self.cached_input_tokens:
            out["cachedContentTokenCount"] = self.cached_input_tokens
        if self.reasoning_tokens:
            out["thoughtsTokenCount"] = self.reasoning_tokens
        return out


def _int(obj: Any, *path: str) -> int:
    for key in path:
        if not isinstance(obj, dict):
            return 0
        obj = obj.get(key)
    # bool is an int subclass; a provider sending true/false here is noise
    return obj if isinstance(obj, int) and not isinstance(obj, bool) and obj > 0 else 0


def from_openai(usage: Any) -> Usage:
    """Usage from an OpenAI ``usage`` object (missing or malformed fields count 0).

    Chat Completions and legacy completions say ``prompt_tokens``; a Responses
    API usage object says ``input_tokens`` instead, and is read as such.
    """
    if isinstance(usage, dict) and "prompt_tokens" not in usage and "input_tokens" in usage:
        return Usage(
            input_tokens=_int(usage, "input_tokens"),
            output_tokens=_int(usage, "output_tokens"),
            cached_input_tokens=_int(usage, "input_tokens_details", "cached_tokens"),
            reasoning_tokens=_int(usage, "output_tokens_details", "reasoning_tokens"),
            cache_write_input_tokens=_int(usage, "input_tokens_details", "cache_write_tokens"),
        )
    return Usage(
        input_tokens=_int(usage, "prompt_tokens"),
        output_tokens=_int(usage, "completion_tokens"),
        cached_input_tokens=_int(usage, "prompt_tokens_details", "cached_tokens"),
        reasoning_tokens=_int(usage, "completion_tokens_details", "reasoning_tokens"),
        cache_write_input_tokens=_int(usage, "prompt_tokens_details", "cache_write_tokens"),
    )


def from_anthropic(usage: Any) -> Usage:
    """Usage from an Anthropic ``usage`` object; cache reads and writes join the input."""
    read = _int(usage, "cache_read_input_tokens")
    write = _int(usage, "cache_creation_input_tokens")
    return Usage(
        input_tokens=_int(usage, "input_tokens") + read + write,
        output_tokens=_int(usage, "output_tokens"),
        cached_input_tokens=read,
        reasoning_tokens=_int(usage, "output_tokens_details", "thinking_tokens"),
        cache_write_input_tokens=write,
    )


def from_gemini(usage_metadata: Any) -> Usage:
    """Usage from a Gemini ``usageMetadata`` object; thoughts join the output."""
    thoughts = _int(usage_metadata, "thoughtsTokenCount")
    return Usage(
        input_tokens=_int(usage_metadata, "promptTokenCount")
        + _int(usage_metadata, "toolUsePromptTokenCount"),
        output_tokens=_int(usage_metadata, "candidatesTokenCount") + thoughts,
        cached_input_tokens=_int(usage_metadata, "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def merge_anthropic_delta(current: Usage, delta_usage: Any) -> Usage:
    """Apply a ``message_delta`` usage (cumulative counts) over ``message_start``'s.

    Fields absent (or null) in the delta keep their ``message_start`` value.
    """
    if not isinstance(delta_usage, dict):
        return current
    start = current.to_anthropic()
    merged: dict[str, Any] = dict(start)
    for key in start:
        if delta_usage.get(key) is not None:  # null means "unchanged"
            merged[key] = delta_usage[key]
    if "output_tokens_details" in delta_usage:
        merged["output_tokens_details"] = delta_usage["output_tokens_details"]
    elif current.reasoning_tokens:
        merged["output_tokens_details"] = {"thinking_tokens": current.reasoning_tokens}
    return from_anthropic(merged)


class UsageTracker:
    """Usage and finish reason of a stream in one protocol, read as it passes by."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.usage = Usage()
        self.finish_reason: str | None = None
        self._saw_tool_call = False  # Gemini ends tool turns with STOP
        #: the OpenAI stream is Responses events, not Chat Completions chunks
        self.responses = False
        #: the highest Responses ``sequence_number`` among the events decoded
        self.sequence = -1

    def feed(self, event: SSEEvent) -> None:
        """Observe one raw event; events that are not JSON objects are ignored."""
        try:
            data = json.loads(event.data)
        except ValueError:
            return
        if isinstance(data, dict):
            self.observe(event.event, data)

    def observe(self, event: str | None, data: dict[str, Any]) -> None:
        """Observe one decoded event (``event`` is the SSE event name, if any)."""
        if self.protocol == "openai":
            self._openai(data)
        elif self.protocol == "anthropic":
            self._anthropic(event or data.get("type"), data)
        else:
            self._gemini(data)

    def _openai(self, data: dict[str, Any]) -> None:
        if is_responses_event(data):
            self._responses(data)
            return
        if isinstance(data.get("usage"), dict):
            self.usage = from_openai(data["usage"])
        for choice in data.get("choices") or ():
            if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]

    def _responses(self, data: dict[str, Any]) -> None:
        self.responses = True
        number = data.get("sequence_number")
        if isinstance(number, int) and number > self.sequence:
            self.sequence = number
        kind = data["type"]
        response = data.get("response")
        if kind in TERMINAL_EVENTS and isinstance(response, dict):
            if isinstance(response.get("usage"), dict):
                self.usage = from_openai(response["usage"])
            self.finish_reason = finish_of(kind, response) or self.finish_reason

    def _anthropic(self, event: Any, data: dict[str, Any]) -> None:
        if event == "message_start":
            message = data.get("message")
            if isinstance(message, dict):
                self.usage = from_anthropic(message.get("usage"))
        elif event == "message_delta":
            self.usage = merge_anthropic_delta(self.usage, data.get("usage"))
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.finish_reason = anthropic_to_openai_finish(delta["stop_reason"])

    def _gemini(self, data: dict[str, Any]) -> None:
        if isinstance(data.get("usageMetadata"), dict):
            self.usage = from_gemini(data["usageMetadata"])
        for candidate in data.get("candidates") or ():
            if not isinstance(candidate, dict):
                continue
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            if isinstance(parts, list) and any(
                isinstance(p, dict) and "functionCall" in p for p in parts
            ):
                self._saw_tool_call = True
            if candidate.get("finishReason"):
                self.finish_reason = gemini_to_openai_finish(
                    candidate["finishReason"], has_tool_calls=self._saw_tool_call
                )
