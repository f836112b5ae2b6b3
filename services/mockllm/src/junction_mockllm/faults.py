"""The checks every provider endpoint runs before answering: key, latency, faults."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from junction_mockllm.delivery import ClientGone, pause
from junction_mockllm.directives import Knobs
from junction_mockllm.errors import Provider, error_response
from junction_mockllm.settings import MockSettings

_AUTH_MESSAGES: dict[Provider, str] = {
    "openai": "Incorrect API key provided.",
    "anthropic": "invalid x-api-key",
    "gemini": "API key not valid. Please pass a valid API key.",
}
_OVERLOADED_STATUS: dict[Provider, int] = {"openai": 503, "anthropic": 529, "gemini": 503}


def bearer_key(request: Request) -> str | None:
    """The key of an ``Authorization: Bearer`` header."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def anthropic_key(request: Request) -> str | None:
    """Anthropic's ``x-api-key``; the bearer form is accepted too, as recent SDKs send it."""
    return request.headers.get("x-api-key") or bearer_key(request)


def auth_error(provider: Provider, headers: Mapping[str, str]) -> Response:
    """401 in ``provider``'s format (also the ``fault=badkey`` answer)."""
    return error_response(provider, 401, _AUTH_MESSAGES[provider], headers=headers)


async def preflight(
    request: Request,
    settings: MockSettings,
    provider: Provider,
    knobs: Knobs,
    key: str | None,
    headers: Mapping[str, str],
) -> Response | None:
    """Refuse, delay or fail the request as its key and knobs say; None means go on.

    ``fault=cut`` passes: it is applied while the body is sent.
    """
    if knobs.fault == "badkey" or not settings.accepts_key(key):
        return auth_error(provider, headers)
    try:
        await pause(knobs.latency_ms / 1000, request)
        if knobs.fault == "timeout":
            await pause(settings.hang_seconds, request)
            return error_response(provider, 504, headers=headers)
    except ClientGone:
        # nobody is listening any more; any response is discarded
        return Response(status_code=499)
    status = _OVERLOADED_STATUS[provider] if knobs.fault == "overloaded" else knobs.fault_status
    if status is None:
        return None
    out = dict(headers)
    if knobs.retry_after is not None:
        out["retry-after"] = str(knobs.retry_after)
    return error_response(provider, status, retry_after=knobs.retry_after, headers=out)


async def read_json(request: Request) -> dict[str, object] | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
