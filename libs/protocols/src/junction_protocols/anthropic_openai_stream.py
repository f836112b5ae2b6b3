"""Anthropic-speaking client → OpenAI provider: the streamed answer.

OpenAI chunks become Anthropic events, in the order Anthropic sends them:

- the first chunk opens the message: ``message_start`` (empty content, zero
  usage: OpenAI reports usage only at the end).
- ``delta.reasoning_content`` / ``delta.reasoning`` → a ``thinking`` block
  (``thinking_delta``); a signature in ``delta.thinking_blocks`` → a
  ``signature_delta`` that ends that thinking block (opening an empty one
  when none is open), a redacted one → a ``redacted_thinking`` block;
  ``delta.content`` and ``delta.refusal`` → a ``text``
  block (``text_delta``); a ``tool_calls`` entry with an ``id`` opens a
  ``tool_use`` block, its ``function.arguments`` pieces become
  ``input_json_delta`` events (a call without an id gets a fresh
  ``toolu_`` id). A block is stopped when a block of another
  kind or another tool call starts. Argument pieces for a call whose block
  was already stopped (servers that interleave calls) are still sent, at
  that block's index.
- ``finish_reason`` and the usage chunk are remembered; ``close()`` stops
  the open block and sends ``message_delta`` (stop reason and full usage,
  input tokens included) and ``message_stop``.
- ``[DONE]`` and upstream errors are handled by the caller.
"""

from __future__ import annotations

from typing import Any

from .fields import as_dict
from .finish import openai_to_anthropic_stop
from .ids import anthropic_message_id, tool_use_id
from .thinking_blocks import thinking_blocks
from .usage import Usage, from_openai

__all__ = ["OpenAIStreamToAnthropic"]

Event = tuple[str, dict[str, Any]]


class OpenAIStreamToAnthropic:
    """Translate one OpenAI chunk stream into Anthropic (event, data) pairs."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.usage = Usage()
        self.finish_reason: str | None = None  # OpenAI vocabulary
        self._started = False
        self._closed = False
        self._next_index = 0
        self._open: tuple[str, Any] | None = None  # (kind, key) of the open block
        self._open_index = -1
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool index → block index

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """Translate one decoded chunk."""
        if self._closed:
            return []
        out: list[Event] = []
        self._start(chunk, out)
        if isinstance(chunk.get("usage"), dict):
            self.usage = from_openai(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(delta, out)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def close(self) -> list[Event]:
        """Stop the open block and end the message; empty once sent."""
        if self._closed:
            return []
        out: list[Event] = []
        self._start({}, out)
        self._stop_block(out)
        self._closed = True
        usage = self.usage.to_anthropic()
        out.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": openai_to_anthropic_stop(self.finish_reason),
                        "stop_sequence": None,
                    },
                    "usage": usage,
                },
            )
        )
        out.append(("message_stop", {"type": "message_stop"}))
        self.finish_reason = self.finish_reason or "stop"
        return out

    def _start(self, chunk: dict[str, Any], out: list[Event]) -> None:
        if self._started:
            return
        self._started = True
        message: dict[str, Any] = {
            "id": anthropic_message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        out.append(("message_start", {"type": "message_start", "message": message}))

    def _delta(self, delta: dict[str, Any], out: list[Event]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._ensure_block(("thinking", None), out)
            self._block_delta({"type": "thinking_delta", "thinking": reasoning}, out)
        for block in thinking_blocks(delta):
            self._signed(block, out)
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                self._ensure_block(("text", None), out)
                self._block_delta({"type": "text_delta", "text": text}, out)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_delta(call, out)

    def _signed(self, block: dict[str, Any], out: list[Event]) -> None:
        if block["type"] == "redacted_thinking":
            self._stop_block(out)
            self._open_block(("redacted", self._next_index), block, out)
            self._stop_block(out)
            return
        if block["thinking"]:
            self._ensure_block(("thinking", None), out)
            self._block_delta({"type": "thinking_delta", "thinking": block["thinking"]}, out)
        if block["signature"]:
            self._ensure_block(("thinking", None), out)
            self._block_delta({"type": "signature_delta", "signature": block["signature"]}, out)
            self._stop_block(out)  # one signature seals one block

    def _tool_delta(self, call: dict[str, Any], out: list[Event]) -> None:
        tool_index = call.get("index", 0)
        function = as_dict(call.get("function"))
        if tool_index not in self._tool_blocks:
            self._stop_block(out)
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or tool_use_id(),
                "name": function.get("name"),
                "input": {},
            }
            self._tool_blocks[tool_index] = self._open_block(("tool", tool_index), block, out)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            index = self._tool_blocks[tool_index]
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )

    def _ensure_block(self, key: tuple[str, Any], out: list[Event]) -> None:
        if self._open != key:
            self._stop_block(out)
            if key[0] == "thinking":
                self._open_block(key, {"type": "thinking", "thinking": "", "signature": ""}, out)
            else:
                self._open_block(key, {"type": "text", "text": ""}, out)

    def _open_block(self, key: tuple[str, Any], block: dict[str, Any], out: list[Event]) -> int:
        index = self._next_index
        self._next_index += 1
        self._open = key
        self._open_index = index
        out.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        return index

    def _block_delta(self, delta: dict[str, Any], out: list[Event]) -> None:
        out.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": self._open_index, "delta": delta},
            )
        )

    def _stop_block(self, out: list[Event]) -> None:
        if self._open is not None:
            out.append(
                (
                    "content_block_stop",
                    {"type": "content_block_stop", "index": self._open_index},
                )
            )
            self._open = None
