"""Where a same-protocol stream must be read: the scans `StreamConverter` runs on raw bytes.

Most of a same-protocol stream (the text deltas) goes to the client byte for
byte as the provider framed it; only the events that can carry usage, a
finish reason, an error or the end are decoded. These find them in a run of
raw SSE bytes without decoding anything, and find an Anthropic text delta
that can be written for an OpenAI client as it stands.
"""

from __future__ import annotations

import re

from .errors import Protocol as Wire

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
PLAIN_TEXT_EVENT = re.compile(rb"event: content_block_delta\ndata: " + _TEXT_DELTA_DATA + rb"\n\n")
PLAIN_TEXT_DELTA = re.compile(_TEXT_DELTA_DATA.decode())


def first_mark(provider: Wire, run: bytes, pos: int = 0) -> int:
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


def event_start(run: bytes, pos: int, mark: int) -> int:
    """Where the event holding `mark` starts (no earlier than `pos`)."""
    boundary = run.rfind(b"\n\n", pos, mark + 2)
    return boundary + 2 if boundary >= 0 else pos


def event_end(run: bytes, at: int) -> int:
    """Just past the blank line that ends the event holding `at`."""
    stop = run.find(b"\n\n", at)
    return stop + 2 if stop >= 0 else len(run)
