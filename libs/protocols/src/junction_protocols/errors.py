"""Errors of the protocol package and error bodies in each client protocol.

    ProtocolError        base of everything raised here
     ├── ConversionError the client asked for something the provider protocol
     │                   cannot express; the engine answers 400 invalid_request_error
     └── SSEError        a byte stream that is not a usable event stream
                         (an event over the size limit)

Error bodies follow each protocol's own shape:

    OpenAI     {"error": {"message", "type", "param", "code"}}
    Anthropic  {"type": "error", "error": {"type", "message"}}
    Gemini     {"error": {"code": <http status>, "message", "status"}}

``error_for`` picks the type name for an HTTP status in each protocol, so a
refusal reads the same whichever SDK the client uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from .redaction import redact

__all__ = [
    "ConversionError",
    "ProtocolError",
    "SSEError",
    "anthropic_error_body",
    "error_for",
    "gemini_error_body",
    "openai_error_body",
    "provider_error_message",
    "redact",
]

Protocol = Literal["openai", "anthropic", "gemini"]

_MAX_MESSAGE = 1000


class ProtocolError(Exception):
    """Base of the errors raised by the protocol package."""


class ConversionError(ProtocolError):
    """A request the target protocol cannot express (answered with 400).

    ``param`` names the offending request field when there is one, in the
    client's own protocol (``"n"``, ``"messages[2].content[0]"``).
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class SSEError(ProtocolError):
    """An event stream that cannot be decoded safely."""


def openai_error_body(
    message: str, *, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An OpenAI error body."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def anthropic_error_body(message: str, *, type: str) -> dict[str, Any]:
    """An Anthropic error body."""
    return {"type": "error", "error": {"type": type, "message": message}}


def gemini_error_body(message: str, *, code: int, status: str) -> dict[str, Any]:
    """A Gemini (Google API) error body."""
    return {"error": {"code": code, "message": message, "status": status}}


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "service_unavailable_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "RESOURCE_EXHAUSTED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",
}


def _pick(table: dict[int, str], status: int, client_error: str, server_error: str) -> str:
    if status in table:
        return table[status]
    return server_error if status >= 500 else client_error


def error_for(protocol: Protocol, status: int, message: str, *, code: str) -> dict[str, Any]:
    """The error body for ``status`` in ``protocol``'s shape.

    ``code`` is Junction's stable machine code (``invalid_api_key``,
    ``model_not_found``, ``rate_limit_exceeded``, ``insufficient_quota``…).
    OpenAI carries it in ``error.code``; ``insufficient_quota`` also becomes the
    OpenAI type, as OpenAI itself answers. Anthropic and Gemini bodies have no
    code field: their ``type``/``status`` is the stable part.
    """
    if protocol == "openai":
        kind = _pick(_OPENAI_TYPES, status, "invalid_request_error", "api_error")
        if code == "insufficient_quota":
            kind = "insufficient_quota"
        return openai_error_body(message, type=kind, code=code)
    if protocol == "anthropic":
        kind = _pick(_ANTHROPIC_TYPES, status, "invalid_request_error", "api_error")
        if code == "insufficient_quota":
            kind = "billing_error" if status == 402 else "rate_limit_error"
        return anthropic_error_body(message, type=kind)
    if protocol == "gemini":
        name = _pick(_GEMINI_STATUSES, status, "FAILED_PRECONDITION", "INTERNAL")
        return gemini_error_body(message, code=status, status=name)
    raise ValueError(f"unknown protocol {protocol!r}")


def provider_error_message(
    protocol: Protocol, body: bytes, *, scrub: Callable[[str], str] | None = None
) -> str:
    """The human message inside a provider error body, redacted and bounded.

    Tolerates any input: non-JSON text, HTML pages, an ``error`` that is a
    bare string, Gemini's list-wrapped errors, or a body of another protocol
    (the three shapes all keep the text in ``error.message``, so ``protocol``
    only documents what the caller expects). ``scrub`` (the call's credential
    redactor) runs first, on the whole message, before ``redact`` and the
    length bound could leave a piece of a key behind.
    """
    text = body.decode("utf-8", errors="replace").strip()
    message: str | None = None
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if parsed is not None:
        message = _message_in(parsed)
    if message is None:
        if not text:
            return "the provider returned an error without a message"
        if text.startswith("<"):
            return "the provider returned a non-JSON error page"
        message = text
    if scrub is not None:
        message = scrub(message)
    message = redact(" ".join(message.split()))
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return message or "the provider returned an error without a message"


def _message_in(parsed: Any) -> str | None:
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]  # Gemini sometimes wraps the error in a one-item list
    if not isinstance(parsed, dict):
        return None
    error = parsed.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, str):
            return message
        kind = error.get("type") or error.get("status")
        if isinstance(kind, str):
            return kind
    message = parsed.get("message") or parsed.get("detail")
    if isinstance(message, str):
        return message
    return None
