"""Deterministic replies: what the mock answers, as a pure function of the request.

The rule (also in the README):

- a text reply is ``"Hello from {model}! You said: {last user text}"`` with the
  user text's whitespace collapsed (``"Hello from {model}!"`` if it is empty);
- when the request offers tools and the conversation ends with a user turn,
  the mock calls the first tool (or the forced one) with arguments built from
  its JSON schema; a user text containing "parallel" makes two calls;
- when the conversation ends with tool results, the reply is
  ``"Tool said: {result text}"``;
- a token is a whitespace-separated word (at least 1 for a prompt); the
  ``tokens`` knob stretches or trims the reply to exactly that many words.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from junction_mockllm.directives import Knobs

Finish = Literal["end", "length", "stop_sequence", "tool_use"]
ToolMode = Literal["auto", "none", "any"]


def collapse(text: str) -> str:
    """``text`` with runs of whitespace collapsed to single spaces."""
    return " ".join(text.split())


def count_tokens(text: str) -> int:
    """Mock tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def prompt_tokens(texts: Iterable[str]) -> int:
    """Input tokens of a prompt made of ``texts`` (at least 1)."""
    return max(1, sum(count_tokens(text) for text in texts))


def reply_text(model: str, user_text: str) -> str:
    """The plain reply to ``user_text`` from ``model``."""
    said = collapse(user_text)
    return f"Hello from {model}! You said: {said}" if said else f"Hello from {model}!"


def sample_value(schema: Mapping[str, Any]) -> Any:
    """A deterministic value valid for a (simple) JSON schema."""
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample_value(schema[key][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower()  # Gemini spells types in upper case
    if kind == "string":
        return "mock"
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        items = schema.get("items")
        return [sample_value(items)] if isinstance(items, Mapping) else []
    return sample_arguments(schema)


def sample_arguments(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Arguments for a tool: each required property of ``schema`` gets a sample value."""
    if not schema:
        return {}
    properties = schema.get("properties") or {}
    return {name: sample_value(properties.get(name) or {}) for name in schema.get("required") or []}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Tool:
    """A tool offered by the request: its name and JSON schema of arguments."""

    name: str
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ToolCall:
    """A tool call of the reply; ``key`` is a stable hex id, prefixed per provider."""

    key: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        """The arguments as compact JSON text."""
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True)
class Prompt:
    """What the provider endpoints extract from a request, provider-neutral."""

    model: str
    user_text: str = ""
    tool_result: str | None = None
    tools: tuple[Tool, ...] = ()
    tool_mode: ToolMode = "auto"
    forced_tool: str | None = None
    input_tokens: int = 1
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    thinking: bool = False


@dataclass(frozen=True)
class Reply:
    """The answer, ready for any wire format."""

    text: str
    finish: Finish
    input_tokens: int
    output_tokens: int
    tool_calls: tuple[ToolCall, ...] = ()
    stop_sequence: str | None = None
    thinking: str | None = None
    signature: str | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    pieces: tuple[str, ...] = field(default=())

    @property
    def thinking_pieces(self) -> tuple[str, ...]:
        """The thinking text split as it is streamed."""
        return _pieces(self.thinking or "")


def _pieces(text: str) -> tuple[str, ...]:
    words = text.split(" ") if text else []
    return tuple(word if i == 0 else " " + word for i, word in enumerate(words))


def fragments(text: str, parts: int = 3) -> list[str]:
    """``text`` split into ``parts`` roughly equal fragments (for streamed tool arguments)."""
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _tool_calls(prompt: Prompt) -> tuple[ToolCall, ...]:
    schemas = {tool.name: tool.schema for tool in prompt.tools}
    names = [prompt.forced_tool] if prompt.forced_tool else [t.name for t in prompt.tools]
    if "parallel" in prompt.user_text.lower():
        chosen = names[:2] if len(names) >= 2 else names * 2
    else:
        chosen = names[:1]
    return tuple(
        ToolCall(
            key=_digest(prompt.model, prompt.user_text, str(i))[:24],
            name=name,
            arguments=sample_arguments(schemas.get(name)),
        )
        for i, name in enumerate(chosen)
    )


def _shape_text(text: str, prompt: Prompt, knobs: Knobs) -> tuple[str, Finish, str | None]:
    words = text.split()
    if knobs.output_tokens is not None:
        words = list(itertools.islice(itertools.cycle(words or ["mock"]), knobs.output_tokens))
    text = " ".join(words)
    finish: Finish = "end"
    stop_sequence: str | None = None
    hits = [(text.find(s), s) for s in prompt.stop if s and s in text]
    if hits:
        index, stop_sequence = min(hits)
        text, finish = collapse(text[:index]), "stop_sequence"
    if prompt.max_tokens is not None and count_tokens(text) > prompt.max_tokens:
        text, finish, stop_sequence = " ".join(text.split()[: prompt.max_tokens]), "length", None
    return text, finish, stop_sequence


def compose(prompt: Prompt, knobs: Knobs) -> Reply:
    """The deterministic reply to ``prompt`` under the request's ``knobs``."""
    input_tokens = knobs.input_tokens if knobs.input_tokens is not None else prompt.input_tokens
    common: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cached_tokens": min(knobs.cached_tokens, input_tokens),
        "cache_write_tokens": knobs.cache_write_tokens,
    }
    thinking = signature = None
    thinking_tokens = 0
    if prompt.thinking:
        thinking = f"The user wrote: {collapse(prompt.user_text)}. A short greeting fits."
        signature = base64.b64encode(bytes.fromhex(_digest("signature", thinking))).decode()
        thinking_tokens = count_tokens(thinking)
        common.update(thinking=thinking, signature=signature)
    if prompt.tool_result is None and prompt.tools and prompt.tool_mode != "none":
        calls = _tool_calls(prompt)
        used = sum(count_tokens(f"{c.name} {c.arguments_json}") for c in calls)
        output = knobs.output_tokens if knobs.output_tokens is not None else used
        return Reply(
            text="",
            finish="tool_use",
            output_tokens=output + thinking_tokens,
            tool_calls=calls,
            **common,
        )
    if prompt.tool_result is not None:
        base = f"Tool said: {collapse(prompt.tool_result)}"
    else:
        base = reply_text(prompt.model, prompt.user_text)
    text, finish, stop_sequence = _shape_text(base, prompt, knobs)
    return Reply(
        text=text,
        finish=finish,
        output_tokens=count_tokens(text) + thinking_tokens,
        stop_sequence=stop_sequence,
        pieces=_pieces(text),
        **common,
    )


def embedding(model: str, text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for ``text``."""
    raw = b""
    for block in itertools.count():
        if len(raw) >= 4 * dimensions:
            break
        raw += hashlib.sha256(f"{model}\x1f{text}\x1f{block}".encode()).digest()
    values = [
        (n / 0xFFFFFFFF) * 2 - 1 for n in struct.unpack(f"<{dimensions}I", raw[: 4 * dimensions])
    ]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    # float32 round trip so float and base64 encodings carry the same numbers
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embedding_base64(vector: list[float]) -> str:
    """``vector`` as little-endian float32 bytes in base64 (OpenAI ``encoding_format``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
