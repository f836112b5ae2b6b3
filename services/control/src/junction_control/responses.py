"""JSON error bodies shared by the admin and internal APIs.

Every error a caller sees is ``{"error": {"code": ..., "message": ...}}`` with
a stable code, never a stack trace or a secret.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from junction_control.errors import DatabaseUnavailable

log = logging.getLogger("junction_control")

_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    503: "unavailable",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The JSON error body with `status`."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's HTTP errors (unknown path, wrong method) as JSON."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException
        raise exc
    code = _CODES.get(exc.status_code, "error")
    response = error_response(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """503 when the database does not answer."""
    log.warning("database unavailable while serving %s: %s", request.url.path, exc)
    return error_response(503, "database_unavailable", "the database is unavailable")


async def internal_error(request: Request, exc: Exception) -> Response:
    """500 with no detail; the traceback goes to the log only."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error")


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    DatabaseUnavailable: database_unavailable,
    Exception: internal_error,
}
