"""Stream converters: provider SSE events in, client SSE bytes out.

A ``StreamConverter`` is built per call by ``Converter.stream``. It reads
the provider's decoded events, tracks usage and finish reason from the
provider's own fields (``UsageTracker``), translates through a chain of
stages and frames the result in the client's protocol:

    OpenAI     data: {chunk}            … then data: [DONE] on a clean end
    Anthropic  event: <type> / data: {…}
    Gemini     data: {GenerateContentResponse}

An upstream error event (Anthropic ``event: error``, an OpenAI or Gemini
chunk holding ``error``) or a malformed JSON event ends the stream through
``fail``: one error event in the client's protocol, no ``[DONE]`` or
``message_stop``; later calls return ``b""``.

``feed_bytes``/``end`` take the provider's raw bytes. For a same-protocol
stream they decode only the events that can carry usage, a finish reason or
an error; the others (most of a stream: the text deltas) go out byte for
byte as the provider framed them. An OpenAI provider's Responses API stream
(``responses_wire``) is read the same way: its deltas pass as they came, the
events that carry the response object or an error are decoded; it ends with
no ``[DONE]``, and fails with a Responses ``error`` event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .errors import Protocol as Wire
from .errors import error_for
from .fields import as_dict
from .json_codec import loads
from .redaction import redact
from .responses_wire import error_event, failure_of, last_sequence_in
from .sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder, SSEEvent, encode_event, encode_json_event
from .sse_split import EventSplitter
from .stream_marks import PLAIN_TEXT_DELTA, PLAIN_TEXT_EVENT, event_end, event_start, first_mark
from .stream_stages import AnthropicToOpenAIStage, Item, Stage
from .usage import Usage, UsageTracker

__all__ = ["StreamConverter"]

_DONE = b"data: [DONE]\n\n"
_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


class StreamConverter:
    """Provider events → client bytes for one call (see the module docstring)."""

    def __init__(
        self,
        client: Wire,
        provider: Wire,
        stages: Sequence[Stage],
        *,
        passthrough: bool = False,
        drop_usage_chunks: bool = False,
        tracker: UsageTracker | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        self.client = client
        # removes what the provider's own error text may echo of the call's credential
        self._scrub = scrub
        self.provider = provider
        self.failed = False
        self.error: str | None = None
        self._tracker = tracker or UsageTracker(provider)
        self._stages = list(stages)
        self._passthrough = passthrough
        # identity OpenAI streams ask upstream for usage even when the client did not
        self._drop_usage_chunks = drop_usage_chunks
        self._done = False
        # Responses streams: the latest bytes relayed as they came, and the number of
        # the provider's error event that the gateway's replaces (sequence numbers)
        self._last_run = b""
        self._replaced: int | None = None
        self._decoder = SSEDecoder(max_event_bytes=max_event_bytes)
        self._splitter = (
            EventSplitter(max_event_bytes=max_event_bytes)
            if passthrough and provider != "gemini"
            else None
        )
        # an OpenAI client of an Anthropic provider: most events are text deltas,
        # each one chunk of a fixed frame around its text (`_text_delta`)
        self._text_chunk: Callable[[bytes], bytes | None] | None = None
        if client == "openai" and len(self._stages) == 1:
            stage = self._stages[0]
            if isinstance(stage, AnthropicToOpenAIStage):
                self._text_chunk = stage.inner.text_chunk

    @property
    def done(self) -> bool:
        """The stream was closed or failed: nothing more will be written."""
        return self._done

    @property
    def usage(self) -> Usage:
        """Usage reported by the provider so far."""
        return self._tracker.usage

    @property
    def finish_reason(self) -> str | None:
        """The provider's finish reason, in OpenAI's vocabulary (see ``finish``)."""
        return self._tracker.finish_reason

    def feed_bytes(self, chunk: bytes) -> bytes:
        """Translate a chunk of the provider's raw stream (whole events; the rest waits).

        Raises ``SSEError`` for an event over the size limit.
        """
        if self._splitter is None:
            if self._text_chunk is not None:
                return self._plain_run(chunk)
            return b"".join([self.feed(e) for e in self._decoder.feed(chunk)])
        run, fallback = self._splitter.feed(chunk)
        if fallback is not None:
            self._splitter = None
            return self.feed_bytes(fallback)
        if self._done or not run:
            return b""
        self._last_run = run
        # events before each one that matters go out as they came; the ones
        # that matter and follow each other are decoded together
        provider, size = self.provider, len(run)
        out: list[bytes] = []
        pos = 0
        mark = first_mark(provider, run, 0)
        while mark >= 0 and not self._done:
            start = event_start(run, pos, mark)
            stop = event_end(run, max(mark, start))
            mark = first_mark(provider, run, stop) if stop < size else -1
            while mark >= 0 and event_start(run, stop, mark) == stop:
                stop = event_end(run, mark)
                mark = first_mark(provider, run, stop) if stop < size else -1
            out.append(run[pos:start])
            out.append(self._feed_block(run[start:stop]))
            pos = stop
        if pos < size and not self._done:
            out.append(run[pos:])
        return b"".join(out)

    def end(self) -> bytes:
        """The provider's stream ended: flush, then close cleanly only if the answer was whole.

        An answer without a finish reason ends with an error event instead.
        """
        if self._splitter is not None:
            # an unterminated last event, decoded in one go
            decoder = SSEDecoder()
            tail = decoder.feed(self._splitter.rest()) + decoder.close()
        else:
            tail = self._decoder.close()
        out = b"".join([self.feed(e) for e in tail])
        if self.finish_reason is None:
            return out + self.fail("the provider's stream ended before the answer was complete")
        return out + self.close()

    def _feed_block(self, block: bytes) -> bytes:
        # whole events (the block ends with a blank line): the decoder, unused
        # by the splitter otherwise, dispatches them all and keeps the last id
        return b"".join([self.feed(e) for e in self._decoder.feed(block)])

    def feed(self, event: SSEEvent) -> bytes:
        """Translate one provider event; ``b""`` when it yields nothing yet."""
        if self._done:
            return b""
        if self._text_chunk is not None and event.event == "content_block_delta":
            plain = self._text_delta(event.data)
            if plain is not None:
                return plain
        if self.provider == "openai" and event.data.strip() == "[DONE]":
            return b""
        try:
            data = loads(event.data)
        except ValueError:
            if self._passthrough:
                return _reencode(event)
            return self.fail("the provider sent a malformed event", status=502)
        if not isinstance(data, dict):
            return b"" if not self._passthrough else _reencode(event)
        failure = _upstream_error(self.provider, event.event, data)
        if failure is None and self.provider == "openai":
            failure = failure_of(data)  # a Responses stream's `error` or `response.failed`
            number = data.get("sequence_number")
            if failure is not None and isinstance(number, int):
                self._replaced = number  # the gateway's error event takes its place
        if failure is not None:
            status, message = failure
            return self.fail(self._scrub(message) if self._scrub else message, status=status)
        self._tracker.observe(event.event, data)
        if self._passthrough:
            if self._drop_usage_chunks and not data.get("choices") and "usage" in data:
                return b""
            return _reencode(event)
        items: list[Item] = [(event.event, data)]
        for stage in self._stages:
            items = [out for item in items for out in stage.feed(item)]
        return self._encode(items)

    def _plain_run(self, chunk: bytes) -> bytes:
        """`chunk` with its plain text deltas framed at once, each other event decoded.

        Events are taken whole, one by one, while the decoder stays at a
        boundary between them; an event the last read left unfinished is
        finished by the decoder first. What cannot be taken that way (a
        partial event, CR framing) goes to the decoder as it is.
        """
        out: list[bytes] = []
        pos, size = 0, len(chunk)
        text_chunk, match, decoder = self._text_chunk, PLAIN_TEXT_EVENT.match, self._decoder
        if not decoder.starts_event(chunk):
            end = chunk.find(b"\n\n")
            if end < 0:
                return b"".join([self.feed(e) for e in decoder.feed(chunk)])
            pos = end + 2
            out.extend([self.feed(e) for e in decoder.feed(chunk[:pos])])
            if not decoder.at_boundary:
                out.extend([self.feed(e) for e in decoder.feed(chunk[pos:])])
                return b"".join(out)
        while text_chunk is not None and pos < size and not self._done:
            found = match(chunk, pos)
            if found is not None:
                piece = text_chunk(found.group(1))
                if piece is not None:
                    out.append(piece)
                    pos = found.end()
                    continue
            end = chunk.find(b"\n\n", pos)
            if end < 0:
                break
            out.extend([self.feed(e) for e in decoder.feed(chunk[pos : end + 2])])
            pos = end + 2
            if not decoder.at_boundary:
                break
        if pos < size and not self._done:
            out.extend([self.feed(e) for e in decoder.feed(chunk[pos:] if pos else chunk)])
        return b"".join(out)

    def _text_delta(self, data: str) -> bytes | None:
        """The client bytes of a plain text delta, the same as the full path writes; else None.

        No usage, finish reason or error rides on a text delta, so nothing
        is tracked; anything but the plain shape takes the full path.
        """
        match = PLAIN_TEXT_DELTA.fullmatch(data)
        if match is None or self._text_chunk is None:
            return None
        return self._text_chunk(match.group(1).encode())

    def close(self) -> bytes:
        """Final events after a clean upstream end (``[DONE]``, ``message_stop``…)."""
        if self._done:
            return b""
        self._done = True
        items: list[Item] = []
        for stage in self._stages:
            # what earlier stages flushed still has to pass through this one
            items = [out for item in items for out in stage.feed(item)] + stage.close()
        out = self._encode(items)
        return out + _DONE if self.client == "openai" and not self._tracker.responses else out

    def fail(self, message: str, *, status: int = 502) -> bytes:
        """End the stream with an error event in the client's protocol."""
        if self._done:
            return b""
        self._done = True
        self.failed = True
        self.error = redact(message)
        if self._tracker.responses:
            number = self._replaced
            if number is None:
                number = max(self._tracker.sequence, last_sequence_in(self._last_run)) + 1
            return error_event(self.error, code="upstream_error", sequence_number=number)
        body = error_for(self.client, status, self.error, code="upstream_error")
        if self.client == "anthropic":
            return encode_json_event(body, event="error")
        return encode_json_event(body)

    def _encode(self, items: list[Item]) -> bytes:
        if self.client == "anthropic":
            return b"".join(
                encode_json_event(data, event=name or str(data.get("type"))) for name, data in items
            )
        return b"".join(encode_json_event(data) for _, data in items)


def _reencode(event: SSEEvent) -> bytes:
    return encode_event(event.data, event=event.event, id=event.id, retry=event.retry)


def _upstream_error(
    provider: Wire, name: str | None, data: dict[str, Any]
) -> tuple[int, str] | None:
    if provider == "anthropic" and name != "error" and data.get("type") != "error":
        return None
    if "error" not in data:
        return None if provider != "anthropic" else (502, "the provider reported an error")
    error = data["error"]
    if isinstance(error, str):
        return 502, error
    error = as_dict(error)
    message = error.get("message")
    kind = error.get("type") or error.get("status")
    status = _STATUS_BY_TYPE.get(kind, 502) if isinstance(kind, str) else 502
    if isinstance(error.get("code"), int) and 400 <= error["code"] <= 599:
        status = error["code"]
    text = message if isinstance(message, str) and message else "the provider reported an error"
    return status, text
