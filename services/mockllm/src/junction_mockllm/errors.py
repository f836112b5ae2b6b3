"""Error responses in each provider's documented shape.

- OpenAI: ``{"error": {"message", "type", "param", "code"}}``
- Anthropic: ``{"type": "error", "error": {"type", "message"}, "request_id"}``
  (the ``request-id`` header is added by the Anthropic endpoints)
- Gemini: ``{"error": {"code", "message", "status"}}`` (google.rpc.Status)
- Azure OpenAI: ``{"error": {"code": "<status or name>", "message"}}``, the
  code a string (``"429"``, ``"401"``, ``"DeploymentNotFound"``), no ``type``

Every 429 carries ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from starlette.responses import JSONResponse

Provider = Literal["openai", "anthropic", "gemini", "azure"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}

DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Invalid API key.",
    403: "Permission denied.",
    404: "Not found.",
    429: "Rate limit reached. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline exceeded.",
    529: "Overloaded",
}


def _openai_body(status: int, message: str, param: str | None) -> dict[str, Any]:
    if status == 429:
        kind = "requests"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    return {
        "error": {
            "message": message,
            "type": kind,
            "param": param,
            "code": _OPENAI_CODES.get(status),
        }
    }


def _anthropic_body(status: int, message: str, request_id: str | None) -> dict[str, Any]:
    kind = _ANTHROPIC_TYPES.get(status)
    if kind is None:
        kind = "api_error" if status >= 500 else "invalid_request_error"
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def _gemini_body(status: int, message: str) -> dict[str, Any]:
    code = _GEMINI_STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": code}}


def _azure_body(status: int, message: str, code: str | None) -> dict[str, Any]:
    return {"error": {"code": code or str(status), "message": message}}


def error_body(provider: Provider, status: int, message: str) -> dict[str, Any]:
    """The body of an error in ``provider``'s format (the same inside a stream's error event)."""
    if provider == "azure":
        return _azure_body(status, message, None)
    if provider == "openai":
        return _openai_body(status, message, None)
    if provider == "anthropic":
        return _anthropic_body(status, message, None)
    return _gemini_body(status, message)


def error_response(
    provider: Provider,
    status: int,
    message: str | None = None,
    *,
    param: str | None = None,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    """An error in ``provider``'s wire format with HTTP ``status`` (``code``: Azure's name)."""
    text = message or DEFAULT_MESSAGES.get(status, f"Mock error {status}.")
    if provider == "azure" and status == 429 and message is None:
        text = (
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have "
            "exceeded token rate limit of your current pricing tier. Please retry after "
            f"{retry_after if retry_after is not None else 1} seconds."
        )
    out = dict(headers or {})
    if provider == "azure":
        body = _azure_body(status, text, code)
    elif provider == "openai":
        body = _openai_body(status, text, param)
    elif provider == "anthropic":
        body = _anthropic_body(status, text, out.get("request-id"))
    else:
        body = _gemini_body(status, text)
        if status == 429:
            # Gemini names the wait in the body only, as a google.rpc.RetryInfo
            # detail (a protobuf Duration: seconds with an "s"), with no header
            body["error"]["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after if retry_after is not None else 1}s",
                }
            ]
    if status == 429 and provider != "gemini":
        wait = retry_after if retry_after is not None else 1
        out["retry-after"] = str(wait)
        if provider == "azure":
            out["retry-after-ms"] = str(wait * 1000)  # Azure sends both
    return JSONResponse(body, status_code=status, headers=out)
