"""Signed reasoning in the OpenAI shape: ``thinking_blocks`` on a message or delta.

OpenAI Chat has ``reasoning_content`` for reasoning text (the field
OpenAI-compatible reasoning servers emit) but nowhere for the signature that
Anthropic and Gemini need back to continue a conversation. Junction carries
it as ``thinking_blocks``, the list LiteLLM-style gateways use::

    "thinking_blocks": [
        {"type": "thinking", "thinking": "<text>", "signature": "<opaque>"},
        {"type": "redacted_thinking", "data": "<opaque>"}
    ]

on a ``chat.completion`` message, and in a stream delta as the signature
arrives (``thinking`` empty: the text went as ``reasoning_content``). A client
that sends the assistant message back with its ``thinking_blocks`` lets the
thinking be replayed: Anthropic requires it in a tool-use loop with thinking
on, Gemini 3 requires the signature of a function call. Every Anthropic ↔
Gemini pair goes through this shape, so thinking blocks become thought parts
with ``thoughtSignature`` and back.

Gemini puts a ``thoughtSignature`` on the part after the thoughts it seals
(a text or function call part) or on a thought part; each signature becomes
one block holding the thought text seen since the previous one.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "anthropic_blocks",
    "from_anthropic_content",
    "from_gemini_parts",
    "signature_block",
    "thinking_blocks",
]

JSON = dict[str, Any]


def signature_block(signature: str) -> JSON:
    """The delta entry that carries a signature whose text was already streamed."""
    return {"type": "thinking", "thinking": "", "signature": signature}


def thinking_blocks(message: Any) -> list[JSON]:
    """The well-formed ``thinking_blocks`` of an OpenAI message or delta (others skipped)."""
    raw = message.get("thinking_blocks") if isinstance(message, dict) else None
    out: list[JSON] = []
    for block in raw if isinstance(raw, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "thinking":
            text, signature = block.get("thinking"), block.get("signature")
            out.append(
                {
                    "type": "thinking",
                    "thinking": text if isinstance(text, str) else "",
                    "signature": signature if isinstance(signature, str) else "",
                }
            )
        elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
            out.append({"type": "redacted_thinking", "data": block["data"]})
    return out


def from_anthropic_content(content: Any) -> list[JSON]:
    """The thinking and redacted thinking blocks of Anthropic content, in order."""
    return thinking_blocks({"thinking_blocks": content})


def anthropic_blocks(message: Any) -> list[JSON]:
    """Anthropic content blocks for a message's signed reasoning (unsigned ones dropped).

    Anthropic refuses a thinking block whose signature it did not issue, and
    an empty one outright; reasoning text alone cannot be replayed.
    """
    return [
        b for b in thinking_blocks(message) if b["type"] == "redacted_thinking" or b["signature"]
    ]


def from_gemini_parts(parts: Any) -> list[JSON]:
    """``thinking_blocks`` for the parts of one Gemini candidate: one per signature."""
    out: list[JSON] = []
    pending: list[str] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("thought") and isinstance(part.get("text"), str):
            pending.append(part["text"])
        signature = part.get("thoughtSignature")
        if isinstance(signature, str) and signature:
            out.append({"type": "thinking", "thinking": "".join(pending), "signature": signature})
            pending = []
    return out
