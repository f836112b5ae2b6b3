"""OpenAI-speaking client → Anthropic provider: the streamed answer.

Anthropic events become ``chat.completion.chunk`` objects:

- ``message_start`` → the first chunk, ``delta: {"role": "assistant",
  "content": ""}``; its id and input usage are remembered.
- ``content_block_start`` of a ``tool_use`` → a ``tool_calls`` delta with the
  call's ``index`` (0, 1, … in order of appearance), ``id``, ``type`` and
  ``name``; ``input_json_delta`` → ``function.arguments`` deltas at that index.
- ``text_delta`` → ``delta.content``; ``thinking_delta`` →
  ``delta.reasoning_content``; ``signature_delta`` and ``redacted_thinking``
  blocks → ``delta.thinking_blocks`` (see ``thinking_blocks``); citations and
  server-tool blocks are dropped.
- ``message_delta`` records the stop reason and the cumulative usage;
  ``message_stop`` (or ``close()`` when it never came) emits the chunk with
  ``finish_reason``, then, only when the client asked with
  ``stream_options.include_usage``, a usage chunk with empty ``choices``.
  In that mode every other chunk carries ``"usage": null``, as OpenAI does.
- ``ping`` is dropped. Upstream ``error`` events are handled by the caller.
"""

from __future__ import annotations

from typing import Any

from .fields import as_dict
from .finish import anthropic_to_openai_finish
from .ids import now, openai_completion_id
from .sse import dumps
from .thinking_blocks import signature_block
from .usage import Usage, from_anthropic, merge_anthropic_delta

__all__ = ["AnthropicStreamToOpenAI"]


class AnthropicStreamToOpenAI:
    """Translate one Anthropic event stream into OpenAI chunks."""

    def __init__(self, model: str, include_usage: bool, *, created: int | None = None) -> None:
        self.model = model
        self.include_usage = include_usage
        self.usage = Usage()
        self.finish_reason: str | None = None
        self._id = openai_completion_id(None)
        self._created = now() if created is None else created
        self._started = False
        self._finished = False
        self._tool_index: dict[int, int] = {}  # Anthropic block index → OpenAI tool index

    def feed(self, event: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Translate one event (SSE event name and decoded data)."""
        if self._finished:
            return []
        kind = event or data.get("type")
        out: list[dict[str, Any]] = []
        if kind == "message_start":
            message = as_dict(data.get("message"))
            self._id = openai_completion_id(message.get("id"))
            self.usage = from_anthropic(message.get("usage"))
            self._start(out)
        elif kind == "content_block_start":
            self._start(out)
            self._block_start(data, out)
        elif kind == "content_block_delta":
            self._start(out)
            self._block_delta(data, out)
        elif kind == "message_delta":
            self.usage = merge_anthropic_delta(self.usage, data.get("usage"))
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.finish_reason = anthropic_to_openai_finish(delta["stop_reason"])
        elif kind == "message_stop":
            out.extend(self.close())
        return out

    def close(self) -> list[dict[str, Any]]:
        """The final chunks (finish reason, then usage when asked); empty once sent."""
        if self._finished:
            return []
        out: list[dict[str, Any]] = []
        self._start(out)
        self._finished = True
        self.finish_reason = self.finish_reason or "stop"
        out.append(self._chunk({}, finish_reason=self.finish_reason))
        if self.include_usage:
            usage_chunk = self._chunk(None)
            usage_chunk["usage"] = self.usage.to_openai()
            out.append(usage_chunk)
        return out

    def _start(self, out: list[dict[str, Any]]) -> None:
        if not self._started:
            self._started = True
            out.append(self._chunk({"role": "assistant", "content": ""}))

    def _block_start(self, data: dict[str, Any], out: list[dict[str, Any]]) -> None:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return
        if block.get("type") == "tool_use":
            index = len(self._tool_index)
            self._tool_index[_int(data.get("index"))] = index
            call: dict[str, Any] = {
                "index": index,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            if block.get("input"):  # normally {} with the input streamed after
                call["function"]["arguments"] = dumps(block["input"])
            out.append(self._chunk({"tool_calls": [call]}))
        elif block.get("type") == "text" and block.get("text"):
            out.append(self._chunk({"content": block["text"]}))
        elif block.get("type") == "thinking" and block.get("thinking"):
            out.append(self._chunk({"reasoning_content": block["thinking"]}))
        elif block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str):
            redacted = {"type": "redacted_thinking", "data": block["data"]}
            out.append(self._chunk({"thinking_blocks": [redacted]}))

    def _block_delta(self, data: dict[str, Any], out: list[dict[str, Any]]) -> None:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            out.append(self._chunk({"content": delta["text"]}))
        elif kind == "thinking_delta" and delta.get("thinking"):
            out.append(self._chunk({"reasoning_content": delta["thinking"]}))
        elif kind == "signature_delta" and isinstance(delta.get("signature"), str):
            signed = signature_block(delta["signature"])
            out.append(self._chunk({"thinking_blocks": [signed]}))
        elif kind == "input_json_delta" and delta.get("partial_json"):
            index = self._tool_index.get(_int(data.get("index")))
            if index is not None:
                call = {"index": index, "function": {"arguments": delta["partial_json"]}}
                out.append(self._chunk({"tool_calls": [call]}))

    def _chunk(
        self, delta: dict[str, Any] | None, *, finish_reason: str | None = None
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1
