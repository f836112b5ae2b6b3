"""Server-sent events: one streaming-safe decoder and the matching encoder.

The decoder follows the WHATWG event-stream rules:

- lines end with LF, CRLF or a lone CR; a CR that ends one chunk and an LF
  that starts the next are one line ending;
- a leading UTF-8 BOM is skipped, even when it is split across chunks;
- lines are split on bytes before decoding, so a chunk boundary inside a
  multi-byte character is harmless (CR and LF never occur inside one);
- ``:comment`` lines are ignored, ``data:`` lines accumulate joined by LF,
  ``field: value`` loses exactly one leading space, unknown fields are ignored;
- a blank line dispatches the event. A block with no ``data:`` line is not
  dispatched, except when it names an ``event:``; such a block is dispatched
  with ``data=""`` because some servers mark stream phases that way.

Deviations, on purpose:

- ``SSEEvent.id`` is the id given in the event's own block (``None`` when the
  block has none), so that a pass-through re-encodes exactly what came in;
  the spec's sticky last-event-id is kept in ``SSEDecoder.last_event_id``.
- ``close()`` dispatches a final event that lacks its trailing blank line
  (the spec drops it; providers that close the socket early rely on us).
- an event bigger than ``max_event_bytes`` raises ``SSEError`` rather than
  growing memory without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import SSEError
from .json_codec import dumps_bytes

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "SSEDecoder",
    "SSEError",
    "SSEEvent",
    "encode_event",
    "encode_json_event",
]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"[\r\n]")
_NEWLINES = re.compile(r"\r\n|\r|\n")


# slots and not frozen: a decoder makes one per event, and a frozen init costs twice as much
@dataclass(slots=True)
class SSEEvent:
    """One dispatched event."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental event-stream parser: feed bytes as they arrive, get events."""

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self.last_event_id: str | None = None
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already searched for a line end
        self._bom_checked = False
        self._skip_lf = False  # the previous chunk ended with CR
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._has_data = False
        self._size = 0  # bytes of the event being assembled

    @property
    def at_boundary(self) -> bool:
        """Nothing is buffered or half-read: the next byte starts an event (BOM handled)."""
        return (
            not self._buf
            and self._bom_checked
            and not self._skip_lf
            and self._size == 0
            and not self._data
            and self._event is None
        )

    def starts_event(self, chunk: bytes) -> bool:
        """Whether `chunk` would start a fresh event: `at_boundary`, and past any BOM.

        A stream's first chunk that cannot hold a byte-order mark settles the
        check here, so its events may be taken whole by the caller too.
        """
        if not self._bom_checked and chunk and not _BOM.startswith(chunk[: len(_BOM)]):
            self._bom_checked = True
        return self.at_boundary

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return every event it completes."""
        if not chunk:
            return []
        buf = self._buf
        if (
            not buf
            and self._bom_checked
            and not self._skip_lf
            and chunk.endswith(b"\n\n")
            and b"\r" not in chunk
            and self._size == 0
            and not self._data
            and self._event is None
        ):
            # whole LF-framed events from an event boundary, nothing buffered (a
            # provider's usual write): decoded straight from the chunk, no copy
            events: list[SSEEvent] = []
            self._blocks(chunk, events)
            return events
        buf += chunk
        if not self._bom_checked:
            if len(buf) < len(_BOM) and _BOM.startswith(bytes(buf)):
                return []  # could still become a BOM
            if buf.startswith(_BOM):
                del buf[: len(_BOM)]
            self._bom_checked = True
        if self._skip_lf and buf[:1] == b"\n":
            del buf[:1]
        self._skip_lf = False
        events = []
        if b"\r" not in chunk and self._size == 0 and not self._data and self._event is None:
            # LF framing from an event boundary, the common case: whole events at once
            end = buf.rfind(b"\n\n")
            if end >= 0:
                whole = bytes(buf[: end + 2])
                del buf[: end + 2]
                self._scan = 0
                self._blocks(whole, events)
        start = 0
        pos = self._scan
        while True:
            match = _LINE_END.search(buf, pos)
            if match is None:
                break
            end = match.start()
            self._line(bytes(buf[start:end]), events)
            if buf[end] == 0x0D:  # CR: swallow a following LF, now or in the next chunk
                if end + 1 < len(buf):
                    if buf[end + 1] == 0x0A:
                        end += 1
                else:
                    self._skip_lf = True
            start = pos = end + 1
        del buf[:start]
        self._scan = len(buf)
        if self._size + len(buf) > self.max_event_bytes:
            self._reset_buffer()
            raise SSEError(f"event larger than {self.max_event_bytes} bytes")
        return events

    def _blocks(self, whole: bytes, events: list[SSEEvent]) -> None:
        """Decode whole LF-framed events; the usual one- or two-line shapes skip the line loop."""
        for block in whole.split(b"\n\n"):
            if not block:
                continue  # the end of `whole`, or a run of blank lines
            if len(block) + 1 > self.max_event_bytes:
                self._reset_buffer()
                raise SSEError(f"event larger than {self.max_event_bytes} bytes")
            if block.startswith(b"data: ") and b"\n" not in block:
                events.append(SSEEvent(block[6:].decode("utf-8", errors="replace")))
                continue
            if block.startswith(b"event: "):
                eol = block.find(b"\n")
                if (
                    eol > 7
                    and block.startswith(b"data: ", eol + 1)
                    and block.find(b"\n", eol + 1) < 0
                ):
                    name = block[7:eol].decode("utf-8", errors="replace")
                    data = block[eol + 7 :].decode("utf-8", errors="replace")
                    events.append(SSEEvent(data, event=name))
                    continue
            for raw in block.split(b"\n"):
                self._line(raw, events)
            self._dispatch(events)

    def close(self) -> list[SSEEvent]:
        """End of stream: flush a last line and event that had no blank line after them."""
        events: list[SSEEvent] = []
        if self._buf:
            self._line(bytes(self._buf), events)
        self._buf = bytearray()
        self._scan = 0
        self._dispatch(events)
        return events

    def _reset_buffer(self) -> None:
        self._buf = bytearray()
        self._scan = 0
        self._clear_event()

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            self._dispatch(events)
            return
        self._size += len(raw) + 1
        if self._size > self.max_event_bytes:
            self._reset_buffer()
            raise SSEError(f"event larger than {self.max_event_bytes} bytes")
        if raw[:1] == b":":
            return
        line = raw.decode("utf-8", errors="replace")
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._has_data = True
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\x00" not in value:
                self._id = value
                self.last_event_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._has_data or self._event:
            events.append(
                SSEEvent(
                    data="\n".join(self._data),
                    event=self._event or None,
                    id=self._id,
                    retry=self._retry,
                )
            )
        self._clear_event()

    def _clear_event(self) -> None:
        self._data = []
        self._event = None
        self._id = None
        self._retry = None
        self._has_data = False
        self._size = 0


def _field_value(name: str, value: str) -> str:
    if _NEWLINES.search(value):
        raise ValueError(f"SSE {name} must be a single line")
    return value


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """Frame one event; multi-line ``data`` becomes several ``data:`` lines."""
    parts: list[str] = []
    if event is not None:
        parts.append(f"event: {_field_value('event', event)}\n")
    if id is not None:
        parts.append(f"id: {_field_value('id', id)}\n")
    if retry is not None:
        parts.append(f"retry: {int(retry)}\n")
    parts.extend(f"data: {line}\n" for line in _NEWLINES.split(data))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def encode_json_event(obj: Any, *, event: str | None = None) -> bytes:
    """Frame ``obj`` as compact JSON (non-ASCII kept as is) in one ``data:`` line."""
    # compact JSON never holds a raw line break: one data line, no splitting
    data = dumps_bytes(obj)
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + _field_value("event", event).encode() + b"\ndata: " + data + b"\n\n"


def dumps(obj: Any) -> str:
    """Compact JSON as the providers send it; never contains a raw newline."""
    return dumps_bytes(obj).decode()
