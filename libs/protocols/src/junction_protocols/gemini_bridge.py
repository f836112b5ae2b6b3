"""Typed, lazy access to the Gemini translators.

``openai_gemini`` and ``gemini_openai`` are imported on first use, so the
rest of the package works (and type-checks) on its own; every pair that
involves Gemini goes through the OpenAI shape with these functions.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

__all__ = [
    "ChunkTranslator",
    "gemini_request_to_openai",
    "gemini_response_to_openai",
    "gemini_stream_to_openai",
    "openai_request_to_gemini",
    "openai_response_to_gemini",
    "openai_stream_to_gemini",
]


class ChunkTranslator(Protocol):
    """A stream translator from one chunk shape to another."""

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]: ...

    def close(self) -> list[dict[str, Any]]: ...


def _module(name: str) -> Any:
    return importlib.import_module(f"junction_protocols.{name}")


def openai_request_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI request → Gemini ``generateContent`` request."""
    return cast(dict[str, Any], _module("openai_gemini").openai_request_to_gemini(body))


def gemini_response_to_openai(body: dict[str, Any], *, model: str) -> dict[str, Any]:
    """Gemini response → OpenAI chat.completion."""
    result = _module("openai_gemini").gemini_response_to_openai(body, model=model)
    return cast(dict[str, Any], result)


def gemini_stream_to_openai(model: str) -> ChunkTranslator:
    """A Gemini chunks → OpenAI chunks stream translator."""
    return cast(ChunkTranslator, _module("openai_gemini").GeminiStreamToOpenAI(model))


def gemini_request_to_openai(
    body: dict[str, Any], *, upstream_model: str, stream: bool, keep_thinking: bool = False
) -> dict[str, Any]:
    """Gemini request → OpenAI request (``keep_thinking``: signed thoughts kept)."""
    result = _module("gemini_openai").gemini_request_to_openai(
        body, upstream_model=upstream_model, stream=stream, keep_thinking=keep_thinking
    )
    return cast(dict[str, Any], result)


def openai_response_to_gemini(body: dict[str, Any], *, model: str) -> dict[str, Any]:
    """OpenAI chat.completion → Gemini response."""
    result = _module("gemini_openai").openai_response_to_gemini(body, model=model)
    return cast(dict[str, Any], result)


def openai_stream_to_gemini(model: str) -> ChunkTranslator:
    """An OpenAI chunks → Gemini chunks stream translator."""
    return cast(ChunkTranslator, _module("gemini_openai").OpenAIStreamToGemini(model))
