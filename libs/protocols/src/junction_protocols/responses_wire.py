"""The OpenAI Responses API stream, as the gateway reads it when it passes through.

An OpenAI provider may answer ``POST /v1/responses`` itself; its stream is
then relayed as it came (``StreamConverter`` in pass-through), and only these
facts are read from it:

- every event is named (``event: response.output_text.delta``) and its data
  says its ``type`` and ``sequence_number``;
- the terminal events carry the whole response: ``response.completed`` (the
  answer is whole), ``response.incomplete`` (cut by ``max_output_tokens`` or a
  content filter: whole as far as the protocol goes) and ``response.failed``;
  usage is ``response.usage`` with ``input_tokens``/``output_tokens``;
- a failure inside an open stream is an ``error`` event
  (``{"type": "error", "code", "message", "param", "sequence_number"}``) or
  ``response.failed`` (``response.error = {"code", "message"}``).

The gateway's own failure event for such a stream is an ``error`` event with
the next sequence number: a Responses client reads nothing else as an error
(a Chat Completions error chunk has no event name and no ``type``).
"""

from __future__ import annotations

import re
from typing import Any

from .fields import as_dict, as_list
from .sse import encode_json_event

__all__ = [
    "TERMINAL_EVENTS",
    "error_event",
    "failure_of",
    "finish_of",
    "is_responses_event",
    "last_sequence_in",
]

#: the events that carry the final response object, and its usage
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}
_STATUS_BY_CODE = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 502,
    "invalid_prompt": 400,
}
_SEQUENCE = re.compile(rb'"sequence_number"\s*:\s*(\d+)')


def is_responses_event(data: dict[str, Any]) -> bool:
    """Whether a decoded OpenAI event belongs to a Responses stream (not Chat Completions)."""
    kind = data.get("type")
    return isinstance(kind, str) and (kind.startswith("response.") or kind == "error")


def finish_of(kind: str, response: dict[str, Any]) -> str | None:
    """The finish reason, in OpenAI chat vocabulary, of a terminal event; None if it failed."""
    if kind == "response.completed":
        calls = any(
            as_dict(item).get("type") == "function_call" for item in as_list(response.get("output"))
        )
        return "tool_calls" if calls else "stop"
    if kind == "response.incomplete":
        reason = as_dict(response.get("incomplete_details")).get("reason")
        return _INCOMPLETE_FINISH.get(reason, "length") if isinstance(reason, str) else "length"
    return None


def failure_of(data: dict[str, Any]) -> tuple[int, str] | None:
    """``(status, message)`` when a decoded Responses event reports a failure, else None."""
    kind = data.get("type")
    if kind == "error":
        error = data
    elif kind == "response.failed":
        error = as_dict(as_dict(data.get("response")).get("error"))
    else:
        return None
    message = error.get("message")
    code = error.get("code")
    status = _STATUS_BY_CODE.get(code, 502) if isinstance(code, str) else 502
    text = message if isinstance(message, str) and message else "the provider reported an error"
    return status, text


def last_sequence_in(raw: bytes) -> int:
    """The highest ``sequence_number`` written in raw event bytes (-1 when there is none)."""
    return max((int(m.group(1)) for m in _SEQUENCE.finditer(raw)), default=-1)


def error_event(message: str, *, code: str, sequence_number: int) -> bytes:
    """One Responses ``error`` event, framed."""
    body = {
        "type": "error",
        "code": code,
        "message": message,
        "param": None,
        "sequence_number": sequence_number,
    }
    return encode_json_event(body, event="error")
