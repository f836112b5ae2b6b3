"""Cutting a provider's event stream into whole raw events, without decoding them.

A same-protocol stream only needs to be read where it says something the
gateway must know (usage, the finish reason, an error); every other event
can go to the client as the provider wrote it. ``EventSplitter`` finds the
event boundaries of a stream framed with LF line endings, the framing every
supported provider uses, and hands back each complete event as bytes. At
the first CR (CRLF or lone-CR framing) or a byte-order mark it gives up and
returns what it still holds, which starts at an event boundary, so the full
``SSEDecoder`` can carry on from there.
"""

from __future__ import annotations

from .errors import SSEError

__all__ = ["EventSplitter"]

_BOUNDARY = b"\n\n"


class EventSplitter:
    """Whole LF-framed events out of arbitrary chunks; see the module docstring."""

    def __init__(self, *, max_event_bytes: int) -> None:
        self.max_event_bytes = max_event_bytes
        self._buf = b""
        self._started = False

    def feed(self, chunk: bytes) -> tuple[bytes, bytes | None]:
        """The complete events in ``chunk`` as one run of bytes, and a fallback.

        The run ends with a blank line (or is empty); ``events`` cuts it up.
        The second value is ``None`` while the framing is plain LF; otherwise
        it is every byte not yet returned (to be given to an ``SSEDecoder``),
        and the splitter must not be fed again.
        """
        buf = self._buf + chunk if self._buf else chunk
        if not self._started and buf:
            self._started = True
            if buf[:1] == b"\xef":  # a byte-order mark: the decoder knows what to do
                return b"", buf
        if b"\r" in chunk:
            self._buf = b""
            return b"", buf
        end = buf.rfind(_BOUNDARY)
        if end < 0:
            self._check(len(buf))
            self._buf = buf
            return b"", None
        whole, self._buf = buf[: end + 2], buf[end + 2 :]
        self._check(len(self._buf))
        return whole, None

    def rest(self) -> bytes:
        """What is left at the end of the stream (an event without its blank line)."""
        rest, self._buf = self._buf, b""
        return rest

    def _check(self, size: int) -> None:
        if size > self.max_event_bytes:
            self._buf = b""
            raise SSEError(f"event larger than {self.max_event_bytes} bytes")
