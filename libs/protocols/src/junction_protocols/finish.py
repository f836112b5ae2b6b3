"""Finish reasons across protocols.

Junction reports finish reasons in OpenAI's vocabulary (``stop``, ``length``,
``tool_calls``, ``content_filter``) whatever the pair, so telemetry compares
across providers.
"""

from __future__ import annotations

__all__ = [
    "anthropic_to_openai_finish",
    "gemini_to_openai_finish",
    "openai_to_anthropic_stop",
]

_ANTHROPIC_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_OPENAI_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_GEMINI_TO_OPENAI = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def anthropic_to_openai_finish(stop_reason: object) -> str:
    """Anthropic ``stop_reason`` → OpenAI ``finish_reason`` (unknown → ``stop``)."""
    return _ANTHROPIC_TO_OPENAI.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def openai_to_anthropic_stop(finish_reason: object) -> str:
    """OpenAI ``finish_reason`` → Anthropic ``stop_reason`` (unknown → ``end_turn``).

    OpenAI does not say which stop sequence matched, so ``stop`` always maps
    to ``end_turn`` and ``stop_sequence`` is left null.
    """
    if isinstance(finish_reason, str):
        return _OPENAI_TO_ANTHROPIC.get(finish_reason, "end_turn")
    return "end_turn"


def gemini_to_openai_finish(finish_reason: object, *, has_tool_calls: bool = False) -> str:
    """Gemini ``finishReason`` → OpenAI ``finish_reason``.

    Gemini ends a function-calling turn with ``STOP``; the call itself says
    it was a tool turn, hence ``has_tool_calls``.
    """
    if has_tool_calls:
        return "tool_calls"
    if isinstance(finish_reason, str):
        return _GEMINI_TO_OPENAI.get(finish_reason, "stop")
    return "stop"
