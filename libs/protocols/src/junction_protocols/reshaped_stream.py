"""A Chat Completions event stream, rewritten for another OpenAI surface.

The Responses API and legacy completions are served through a chat call
when the provider does not offer them: the gateway's own client-bound chat
stream (``data: {chunk}`` … ``data: [DONE]``, or an error chunk when it
failed) is read back here and each chunk handed to a ``SurfaceTranslator``
(``ChatStreamToResponses``, ``ChatStreamToCompletions``), whose events are
framed as that surface frames them: named events for the Responses API,
bare ``data:`` lines and a final ``[DONE]`` for legacy completions.

Bytes in, bytes out, no I/O. A stream that stops with neither ``[DONE]``
nor an error chunk ends with the surface's error event: a client must not
take a cut answer for a whole one.
"""

from __future__ import annotations

from typing import Any, Protocol

from .fields import as_dict
from .json_codec import loads
from .sse import SSEDecoder, SSEEvent, encode_json_event

__all__ = ["ChatSSEReshaper", "SurfaceTranslator"]

Event = tuple[str | None, dict[str, Any]]  # (SSE event name, data)
_DONE = b"data: [DONE]\n\n"


class SurfaceTranslator(Protocol):
    """Chat chunks → one surface's events."""

    @property
    def done(self) -> bool: ...

    def feed(self, chunk: dict[str, Any]) -> list[Event]: ...

    def close(self) -> list[Event]: ...

    def fail(self, message: str, code: str | None) -> list[Event]: ...


class ChatSSEReshaper:
    """The engine's chat SSE bytes in (``feed_bytes``, ``end``), the surface's SSE bytes out."""

    def __init__(self, translator: SurfaceTranslator, *, ends_with_done: bool) -> None:
        self._translator = translator
        self._ends_with_done = ends_with_done
        self._decoder = SSEDecoder()

    def feed_bytes(self, chunk: bytes) -> bytes:
        """The surface's bytes for a chunk of the chat stream (whole events; the rest waits)."""
        return b"".join(self._event(e) for e in self._decoder.feed(chunk))

    def end(self) -> bytes:
        """The chat stream ended: the last bytes, an error event if it ended early."""
        out = b"".join(self._event(e) for e in self._decoder.close())
        if not self._translator.done:
            failed = self._translator.fail(
                "the answer ended before it was complete", "upstream_incomplete"
            )
            out += self._encode(failed)
        return out

    def _event(self, event: SSEEvent) -> bytes:
        translator = self._translator
        if translator.done:
            return b""
        if event.data.strip() == "[DONE]":
            closing = self._encode(translator.close())
            return closing + _DONE if self._ends_with_done else closing
        try:
            data = loads(event.data)
        except ValueError:
            return b""  # not a chunk: nothing to say
        if not isinstance(data, dict):
            return b""
        if "error" in data:
            error = as_dict(data["error"])
            message = error.get("message")
            code = error.get("code")
            return self._encode(
                translator.fail(
                    message if isinstance(message, str) else "the provider reported an error",
                    code if isinstance(code, str) else None,
                )
            )
        return self._encode(translator.feed(data))

    def _encode(self, events: list[Event]) -> bytes:
        return b"".join(encode_json_event(data, event=name) for name, data in events)
