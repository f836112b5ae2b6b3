"""Errors of the admin API and their JSON bodies.

Every error is ``{"error": {"code", "message"}}`` (plus ``field`` when one
input field is at fault). The package's own errors map here, at the
boundary: InvalidInput -> 400 ``invalid_request``, NotFound -> 404
``not_found``, Conflict -> 409 ``conflict``; handlers raise ApiError for
the rest (401 ``unauthenticated``, 403 ``forbidden``, 422 ``invalid_request``).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from junction_control.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger("junction_control.admin")


class ApiError(Exception):
    """An error answered as JSON with `status` and a stable `code`."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def response(self) -> JSONResponse:
        """The JSON response of this error."""
        body: dict[str, str] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        headers = {"www-authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse({"error": body}, status_code=self.status, headers=headers)


def unauthenticated(message: str = "a valid session token is required") -> ApiError:
    """401: no session, or one that is unknown, expired or of a disabled user."""
    return ApiError(401, "unauthenticated", message)


def forbidden() -> ApiError:
    """403: a member of the tenant whose role does not allow this."""
    return ApiError(403, "forbidden", "your role does not allow this")


def not_found(what: str) -> ApiError:
    """404: missing, or another tenant's (which is the same thing to the caller)."""
    return ApiError(404, "not_found", f"{what} not found")


def invalid_field(field: str, message: str) -> ApiError:
    """422 naming the field at fault."""
    return ApiError(422, "invalid_request", f"{field}: {message}", field=field)


async def api_error(request: Request, exc: Exception) -> Response:
    """ApiError as its JSON body."""
    if not isinstance(exc, ApiError):  # pragma: no cover - registered for ApiError
        raise exc
    return exc.response()


async def control_error(request: Request, exc: Exception) -> Response:
    """The package's user-facing errors as JSON; their messages are safe to show."""
    if isinstance(exc, InvalidInput):
        return ApiError(400, "invalid_request", str(exc)).response()
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc)).response()
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", str(exc)).response()
    raise exc  # pragma: no cover - registered for these three only


async def data_error(request: Request, exc: Exception) -> Response:
    """A value the database refuses (too long, out of range): the caller's mistake."""
    # the driver message may quote the value; log only the class
    orig = getattr(exc, "orig", None) or exc
    log.info("database refused a value on %s: %s", request.url.path, type(orig).__name__)
    return ApiError(400, "invalid_request", "a value does not fit its field").response()


ADMIN_EXCEPTION_HANDLERS = {
    ApiError: api_error,
    InvalidInput: control_error,
    NotFound: control_error,
    Conflict: control_error,
    DataError: data_error,
}
