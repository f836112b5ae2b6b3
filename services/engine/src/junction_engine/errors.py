"""Errors the engine answers with.

    GatewayError            base: an HTTP status, a stable code and a client-safe message
    ├── BadRequest          400 malformed body, missing field, unsupported conversion
    ├── Unauthorized        401 missing, unknown, revoked or expired key
    ├── Forbidden           403 the key may not use this model
    ├── NotFound            404 unknown model or path
    ├── PayloadTooLarge     413 body over the size limit
    ├── RateLimited         429 (with Retry-After)
    ├── UpstreamFailed      502 every deployment failed, or a stream broke
    └── ControlUnavailable  503 the control plane cannot be reached and no route is cached

TryNext is not an answer but control flow inside the forwarder: an attempt
failed in a way another deployment or credential may fix; it carries the
GatewayError to answer with if none does.

Every one of them is rendered in the caller's protocol by `responses.error_response`;
messages never carry a key, an internal host or a stack trace.
"""

from __future__ import annotations


class GatewayError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.param = param
        self.headers = headers or {}


class BadRequest(GatewayError):
    status = 400
    code = "invalid_request"


class Unauthorized(GatewayError):
    status = 401
    code = "invalid_api_key"


class Forbidden(GatewayError):
    status = 403
    code = "model_not_allowed"


class NotFound(GatewayError):
    status = 404
    code = "model_not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "request_too_large"


class RateLimited(GatewayError):
    status = 429
    code = "rate_limit_exceeded"


class UpstreamFailed(GatewayError):
    status = 502
    code = "upstream_error"


class ControlUnavailable(GatewayError):
    status = 503
    code = "control_plane_unavailable"


class TryNext(Exception):
    """This attempt failed in a way another deployment or credential may fix."""

    def __init__(self, error: GatewayError, *, deployment_down: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.deployment_down = deployment_down
