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

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .anthropic_openai_stream import OpenAIStreamToAnthropic
from .errors import Protocol as Wire
from .errors import error_for
from .fields import as_dict
from .gemini_bridge import ChunkTranslator
from .json_codec import loads
from .openai_anthropic_stream import AnthropicStreamToOpenAI
from .redaction import redact
from .responses_wire import error_event, failure_of, last_sequence_in
from .sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder, SSEEvent, encode_event, encode_json_event
from .sse_split import EventSplitter
from .usage import Usage, UsageTracker

__all__ = ["StreamConverter"]

Item = tuple[str | None, dict[str, Any]]  # (SSE event name, decoded data)
# Where a same-protocol stream says something the gateway must read: usage,
# an error, the end, a finish reason. Inside a JSON string a quote is escaped,
# so a quoted key cannot be faked by the text of an answer; a false alarm only
# sends an event through the full decoder. Literal finds and regexes that
# start with a literal are fast scans in C; an alternation of them is not.
# OpenAI sends `"usage":null` and `"finish_reason":null` on every content
# chunk of a stream that asked for usage: a null says nothing.
_OPENAI_LITERALS = (b'"error"', b"[DONE]")
_OPENAI_VALUED = (
    re.compile(rb'"finish_reason"\s*:(?!\s*null)'),
    re.compile(rb'"usage"\s*:(?!\s*null)'),
    # a named event, but for the Responses API's deltas and item events: only
    # the lifecycle events (`response.created`… `response.failed`) and `error` matter
    re.compile(
        rb"event:(?! ?response\.(?!created\n|in_progress\n|completed\n|incomplete\n|failed\n))"
    ),
)
# an Anthropic event that is neither a text delta nor a ping
_ANTHROPIC_OTHER = re.compile(rb"\n\n(?!event: (?:content_block_delta|ping)\n|\Z)")
_ANTHROPIC_PLAIN_START = (b"event: content_block_delta\n", b"event: ping\n")
# an Anthropic text delta as Anthropic writes it, whose text needs no JSON escape:
# written out for an OpenAI client without decoding or building the chunk; as a
# whole event of the raw stream, and as the data of a decoded one
_TEXT_DELTA_DATA = (
    rb'\{"type":"content_block_delta","index":\d+,'
    rb'"delta":\{"type":"text_delta","text":"([^"\\\x00-\x1f]+)"\}\}'
)
_PLAIN_TEXT_EVENT = re.compile(rb"event: content_block_delta\ndata: " + _TEXT_DELTA_DATA + rb"\n\n")
_PLAIN_TEXT_DELTA = re.compile(_TEXT_DELTA_DATA.decode())


def _first_mark(provider: Wire, run: bytes, pos: int = 0) -> int:
    """Where the first event worth reading starts to show in `run[pos:]`, or -1."""
    if provider == "gemini":
        return pos  # usage rides on every chunk: always decode
    if provider == "openai":
        hits = [run.find(literal, pos) for literal in _OPENAI_LITERALS]
        for pattern in _OPENAI_VALUED:
            match = pattern.search(run, pos)
            hits.append(match.start() if match else -1)
    else:
        if not run.startswith(_ANTHROPIC_PLAIN_START, pos):
            return pos
        other = _ANTHROPIC_OTHER.search(run, pos)
        hits = [run.find(b'"error"', pos), other.start() if other else -1]
    found = [h for h in hits if h >= 0]
    return min(found) if found else -1


def _event_start(run: bytes, pos: int, mark: int) -> int:
    """Where the event holding `mark` starts (no earlier than `pos`)."""
    boundary = run.rfind(b"\n\n", pos, mark + 2)
    return boundary + 2 if boundary >= 0 else pos


def _event_end(run: bytes, at: int) -> int:
    """Just past the blank line that ends the event holding `at`."""
    stop = run.find(b"\n\n", at)
    return stop + 2 if stop >= 0 else len(run)


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


class Stage(Protocol):
    """One translation step of a stream."""

    def feed(self, item: Item) -> list[Item]: ...

    def close(self) -> list[Item]: ...


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
        mark = _first_mark(provider, run, 0)
        while mark >= 0 and not self._done:
            start = _event_start(run, pos, mark)
            stop = _event_end(run, max(mark, start))
            mark = _first_mark(provider, run, stop) if stop < size else -1
            while mark >= 0 and _event_start(run, stop, mark) == stop:
                stop = _event_end(run, mark)
                mark = _first_mark(provider, run, stop) if stop < size else -1
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
        text_chunk, match, decoder = self._text_chunk, _PLAIN_TEXT_EVENT.match, self._decoder
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
        match = _PLAIN_TEXT_DELTA.fullmatch(data)
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


class OpenAIUsageGate:
    """Keep OpenAI usage chunks only when the client asked for them.

    When asked, guarantee one final usage chunk (built from the provider's
    tracked usage) even if the stage before did not emit it.
    """

    def __init__(self, include_usage: bool, usage: Callable[[], Usage]) -> None:
        self.include_usage = include_usage
        self._usage = usage
        self._sent_usage = False
        self._last: dict[str, Any] = {}

    def feed(self, item: Item) -> list[Item]:
        _, chunk = item
        self._last = chunk
        is_usage_only = not chunk.get("choices") and isinstance(chunk.get("usage"), dict)
        if is_usage_only:
            self._sent_usage = True
            return [item] if self.include_usage else []
        if not self.include_usage and "usage" in chunk:
            chunk = {k: v for k, v in chunk.items() if k != "usage"}
            return [(item[0], chunk)]
        return [item]

    def close(self) -> list[Item]:
        if not self.include_usage or self._sent_usage:
            return []
        chunk = {
            "id": self._last.get("id", "chatcmpl-usage"),
            "object": "chat.completion.chunk",
            "created": self._last.get("created", 0),
            "model": self._last.get("model", ""),
            "choices": [],
            "usage": self._usage().to_openai(),
        }
        return [(None, chunk)]


class AnthropicToOpenAIStage:
    """Stage over ``AnthropicStreamToOpenAI``."""

    def __init__(self, inner: AnthropicStreamToOpenAI) -> None:
        self.inner = inner

    def feed(self, item: Item) -> list[Item]:
        name, data = item
        return [(None, c) for c in self.inner.feed(name or str(data.get("type")), data)]

    def close(self) -> list[Item]:
        return [(None, c) for c in self.inner.close()]


class OpenAIToAnthropicStage:
    """Stage over ``OpenAIStreamToAnthropic``."""

    def __init__(self, inner: OpenAIStreamToAnthropic) -> None:
        self.inner = inner

    def feed(self, item: Item) -> list[Item]:
        return [(name, data) for name, data in self.inner.feed(item[1])]

    def close(self) -> list[Item]:
        return [(name, data) for name, data in self.inner.close()]


class ChunkStage:
    """Stage over a chunk → chunks translator (the Gemini ones)."""

    def __init__(self, inner: ChunkTranslator) -> None:
        self.inner = inner

    def feed(self, item: Item) -> list[Item]:
        return [(None, c) for c in self.inner.feed(item[1])]

    def close(self) -> list[Item]:
        return [(None, c) for c in self.inner.close()]
