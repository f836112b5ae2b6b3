"""The translation steps of a stream: each turns decoded items into decoded items.

`StreamConverter` runs the provider's decoded events through a chain of
these (built by ``Converter.stream``), then frames what comes out in the
client's protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .anthropic_openai_stream import OpenAIStreamToAnthropic
from .gemini_bridge import ChunkTranslator
from .openai_anthropic_stream import AnthropicStreamToOpenAI
from .usage import Usage

Item = tuple[str | None, dict[str, Any]]  # (SSE event name, decoded data)


class Stage(Protocol):
    """One translation step of a stream."""

    def feed(self, item: Item) -> list[Item]: ...

    def close(self) -> list[Item]: ...


class OpenAIUsageGate:
    """Keep OpenAI usage chunks only when the client asked for them.

    When asked, guarantee one final usage chunk (built from the provider's
    tracked usage) even if the stage before did not emit it.
    """

    def __init__(self, include_usage: bool, usage: Callable[[], Usage]) -> None:
        self.include_usage = include_usage
        self._usage = usage
        self._sent_usage = False
        self._last: dict[str, Any] = {}

    def feed(self, item: Item) -> list[Item]:
        _, chunk = item
        self._last = chunk
        is_usage_only = not chunk.get("choices") and isinstance(chunk.get("usage"), dict)
        if is_usage_only:
            self._sent_usage = True
            return [item] if self.include_usage else []
        if not self.include_usage and "usage" in chunk:
            chunk = {k: v for k, v in chunk.items() if k != "usage"}
            return [(item[0], chunk)]
        return [item]

    def close(self) -> list[Item]:
        if not self.include_usage or self._sent_usage:
            return []
        chunk = {
            "id": self._last.get("id", "chatcmpl-usage"),
            "object": "chat.completion.chunk",
            "created": self._last.get("created", 0),
            "model": self._last.get("model", ""),
            "choices": [],
            "usage": self._usage().to_openai(),
        }
        return [(None, chunk)]


class AnthropicToOpenAIStage:
    """Stage over ``AnthropicStreamToOpenAI``."""

    def __init__(self, inner: AnthropicStreamToOpenAI) -> None:
        self.inner = inner

    def feed(self, item: Item) -> list[Item]:
        name, data = item
        return [(None, c) for c in self.inner.feed(name or str(data.get("type")), data)]

    def close(self) -> list[Item]:
        return [(None, c) for c in self.inner.close()]


class OpenAIToAnthropicStage:
    """Stage over ``OpenAIStreamToAnthropic``."""

    def __init__(self, inner: OpenAIStreamToAnthropic) -> None:
        self.inner = inner

    def feed(self, item: Item) -> list[Item]:
        return [(name, data) for name, data in self.inner.feed(item[1])]

    def close(self) -> list[Item]:
        return [(name, data) for name, data in self.inner.close()]


class ChunkStage:
    """Stage over a chunk → chunks translator (the Gemini ones)."""

    def __init__(self, inner: ChunkTranslator) -> None:
        self.inner = inner

    def feed(self, item: Item) -> list[Item]:
        return [(None, c) for c in self.inner.feed(item[1])]

    def close(self) -> list[Item]:
        return [(None, c) for c in self.inner.close()]
