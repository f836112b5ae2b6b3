"""Usage the provider did not report, estimated so that no call that cost something is free.

A call is billed from the provider's own usage figures whenever it sent
them. Some calls end without them: the client left mid-stream, the stream
stalled or broke, the call was cancelled while the provider was already at
work, or the provider simply reports no usage. Those calls still cost money
at the provider, so the missing figures are estimated and the call is
flagged ``usage_estimated`` (and ``partial`` when the answer was cut):

- input tokens: the characters of every string in the request (messages,
  system prompt, tool definitions, their keys) divided by four, plus a flat
  ``IMAGE_TOKENS`` per inline image (their base64 is not text);
- output tokens: the characters of the answer's text fields in what the
  provider had sent (``content``, ``text``, ``arguments``, ``partial_json``,
  ``thinking``, ``refusal``, the Responses API's string ``delta``…) divided
  by four.

Four characters per token is the rule of thumb providers document for
English text; it is an estimate and labelled as one. Where the provider
reported a figure it is kept, except that a cut stream's output is the larger
of the reported figure and the estimate (Anthropic reports output tokens at
the start of a stream and again only at its end).

A stream is not re-read to count its text: the relay keeps the total bytes
it was fed and its last few chunks, and the text share of those chunks,
applied to the total, gives the answer's text. Nothing is decoded unless an
estimate is needed, so the streaming hot path pays two assignments a chunk.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import replace
from typing import Any

from junction_protocols.usage import Usage

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1_000
#: how many of a stream's last chunks are kept to measure its text share
SAMPLE_CHUNKS = 8

# a JSON string member holding answer text, in any of the three protocols
_TEXT = re.compile(
    rb'"(?:content|text|arguments|partial_json|thinking|refusal|reasoning_content|reasoning|delta)"'
    rb'\s*:\s*"((?:[^"\\]|\\.)*)"'
)
_ESCAPE = re.compile(rb"\\(?:u[0-9a-fA-F]{4}|.)")
_DATA_URL = re.compile(r"data:[\w.+-]+/[\w.+-]+;base64,")
# members of a request that hold inline media, not text
_MEDIA_KEYS = frozenset({"data", "b64_json", "image_url", "inline_data", "inlineData"})


def tokens_of_chars(chars: int) -> int:
    """Tokens for `chars` characters of text, rounded up (0 for none)."""
    return -(-chars // CHARS_PER_TOKEN) if chars > 0 else 0


def input_tokens(body: Any) -> int:
    """An estimate of the prompt tokens of a decoded request body."""
    chars, images = _walk(body)
    return tokens_of_chars(chars) + images * IMAGE_TOKENS


def _walk(value: Any, key: str = "") -> tuple[int, int]:
    chars = images = 0
    stack: list[tuple[str, Any]] = [(key, value)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, str):
            if _DATA_URL.match(item) or (name in _MEDIA_KEYS and len(item) > 256):
                images += 1
            elif name != "model":
                chars += len(item)
        elif isinstance(item, dict):
            for k, v in item.items():
                chars += len(k) if isinstance(v, dict | list) else 0
                stack.append((k, v))
        elif isinstance(item, list):
            stack.extend((name, v) for v in item)
    return chars, images


def text_chars(raw: bytes) -> int:
    """Characters of answer text in raw JSON or SSE bytes (escapes count as one)."""
    total = 0
    for match in _TEXT.finditer(raw):
        value = match.group(1)
        escapes = _ESCAPE.findall(value)
        total += len(value) - sum(len(e) - 1 for e in escapes)
    return total


class StreamTally:
    """What a relay was fed, kept cheaply enough to estimate the text it held."""

    __slots__ = ("_recent", "fed")

    def __init__(self) -> None:
        self.fed = 0
        self._recent: deque[bytes] = deque(maxlen=SAMPLE_CHUNKS)

    def add(self, chunk: bytes) -> None:
        self.fed += len(chunk)
        self._recent.append(chunk)

    def text_chars(self) -> int:
        """The answer text's characters in everything fed so far (estimated past the sample)."""
        sample = b"".join(self._recent)
        if not sample:
            return 0
        chars = text_chars(sample)
        if len(sample) >= self.fed:
            return chars
        return round(chars * self.fed / len(sample))


def needed(usage: Usage, *, cut: bool) -> bool:
    """Whether `usage` lacks figures: a cut answer, or a provider that reported no input."""
    return cut or usage.input_tokens == 0


def fill(usage: Usage, *, body: Any, output_chars: int, cut: bool) -> tuple[Usage, bool]:
    """`usage` with what the provider did not report estimated, and whether anything was.

    `output_chars` is the answer text the provider sent (0 when nothing was
    sent); `cut` says the answer did not end as the protocol says it should.
    A whole answer whose provider reported its input is left as reported.
    """
    if not needed(usage, cut=cut):
        return usage, False
    estimated = False
    if usage.input_tokens == 0:
        guess = input_tokens(body)
        if guess:
            usage = replace(usage, input_tokens=guess)
            estimated = True
    output = tokens_of_chars(output_chars)
    if output > usage.output_tokens and (cut or usage.output_tokens == 0):
        usage = replace(usage, output_tokens=output)
        estimated = True
    return usage, estimated
