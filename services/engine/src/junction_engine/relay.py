"""Turning a provider's stream into the client's bytes, chunk by chunk; no I/O.

The relay never raises on what the provider sends: an event it cannot read,
one over the size limit or an error event ends the client's stream with an
error event in the client's protocol (``failed``). A stream whose provider
body ends without a finish reason is failed too, never closed cleanly: a
client must not mistake a cut answer for a whole one. ``complete`` is true
only for an answer that ended as the protocol says it should.

Gemini clients that did not ask for ``alt=sse`` get one JSON array with an
element per response, written as the events arrive.
"""

from __future__ import annotations

from junction_engine.estimates import StreamTally
from junction_engine.upstream_replies import MALFORMED
from junction_protocols.convert import StreamConverter
from junction_protocols.sse import SSEDecoder, SSEError
from junction_protocols.usage import Usage

_UNREADABLE = (SSEError, RecursionError, *MALFORMED)


class Relay:
    """One call's stream: provider chunks in (`feed`, `end`), client bytes out."""

    def __init__(self, converter: StreamConverter, *, json_array: bool = False) -> None:
        self._conv = converter
        self._array = _JsonArrayFraming() if json_array else None
        self.complete = False
        #: what the provider sent, for an estimate of its text if its usage never comes
        self.tally = StreamTally()

    @property
    def done(self) -> bool:
        """Nothing more will be written: the stream was closed or failed."""
        return self._conv.done

    @property
    def failed(self) -> bool:
        return self._conv.failed

    @property
    def usage(self) -> Usage:
        """The provider's own usage figures seen so far."""
        return self._conv.usage

    def feed(self, chunk: bytes) -> bytes:
        """The client bytes for one provider chunk (often ``b""`` while an event is incomplete)."""
        self.tally.add(chunk)
        try:
            out = self._conv.feed_bytes(chunk)
        except _UNREADABLE:
            return self.fail("the provider sent an event the gateway cannot read")
        return self._frame(out)

    def end(self) -> bytes:
        """The provider's body ended: the last client bytes."""
        try:
            out = self._conv.end()
        except _UNREADABLE:
            return self.fail("the provider sent an event the gateway cannot read")
        self.complete = not self._conv.failed
        return self._frame(out, last=True)

    def fail(self, reason: str) -> bytes:
        """End the client's stream with an error event (nothing, if it already ended)."""
        return self._frame(self._conv.fail(reason), last=True)

    def _frame(self, sse: bytes, *, last: bool = False) -> bytes:
        if self._array is None:
            return sse
        return self._array.wrap(sse, last=last or self._conv.done)


class _JsonArrayFraming:
    """Gemini's stream without `alt=sse`: one JSON array, an element per response."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._opened = False
        self._closed = False

    def wrap(self, sse: bytes, *, last: bool = False) -> bytes:
        if self._closed:
            return b""
        out = bytearray()
        events = self._decoder.feed(sse) + (self._decoder.close() if last else [])
        for event in events:
            out += b"[" if not self._opened else b",\r\n"
            self._opened = True
            out += event.data.encode()
        if last:
            self._closed = True
            out += b"]" if self._opened else b"[]"
        return bytes(out)
