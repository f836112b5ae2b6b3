"""Quirks of OpenAI-compatible servers, for ``dialect=`` on the OpenAI endpoints.

What differs from OpenAI's own API, as those servers answer:

- ``ollama``: an error body is ``{"error": "<message>"}``, the error a bare
  string; a stream asked for usage carries it on the chunk with the
  ``finish_reason`` (no separate usage chunk), then ``data: [DONE]``.
- ``vllm``: an error body is ``{"object": "error", "message", "type", "param",
  "code": <status>}``, the message at the top level; a stream asked for usage
  carries the running usage on every chunk (``continuous_usage_stats``) and
  ends with a usage chunk of empty ``choices``.

``fault=nousage`` (a server that reports no usage at all) combines with either.
"""

from __future__ import annotations

import json

from starlette.responses import JSONResponse, Response

__all__ = ["dialect_error"]

_VLLM_TYPES = {400: "BadRequestError", 401: "Unauthorized", 404: "NotFoundError"}


def dialect_error(response: Response, dialect: str | None) -> Response:
    """`response` (an OpenAI error) in `dialect`'s error shape; others pass unchanged."""
    if dialect is None or not isinstance(response, JSONResponse) or response.status_code < 400:
        return response
    error = json.loads(bytes(response.body)).get("error") or {}
    message = str(error.get("message") or "error")
    status = response.status_code
    if dialect == "ollama":
        body: dict[str, object] = {"error": message}
    else:
        kind = _VLLM_TYPES.get(status, "InternalServerError" if status >= 500 else "BadRequest")
        body = {"object": "error", "message": message, "type": kind, "param": None, "code": status}
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return JSONResponse(body, status_code=status, headers=headers)
