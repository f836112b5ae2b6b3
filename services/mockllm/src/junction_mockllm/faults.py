"""The checks every provider endpoint runs before answering: key, latency, faults.

``echo_key=<form>`` makes an error quote the key the request carried, as
careless providers do (``Incorrect API key provided: sk-…``), in one of the
forms a gateway must still recognise: ``whole``, ``no_prefix`` (the vendor
prefix taken off), ``fragment`` (twelve characters from its middle),
``base64``, ``urlencoded`` or ``hex``. It applies to every error the faults
produce: ``badkey``, a numeric status, ``overloaded``, ``timeout`` and the
error event of ``midstream``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from junction_mockllm.delivery import SSE_MEDIA_TYPE, ClientGone, pause, stream_response
from junction_mockllm.directives import Knobs
from junction_mockllm.errors import DEFAULT_MESSAGES, Provider, error_response
from junction_mockllm.settings import MockSettings
from junction_mockllm.stream_faults import MIDSTREAM_STATUS, midstream_events

_AUTH_MESSAGES: dict[Provider, str] = {
    "openai": "Incorrect API key provided.",
    "anthropic": "invalid x-api-key",
    "gemini": "API key not valid. Please pass a valid API key.",
    "azure": (
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource."
    ),
}
_OVERLOADED_STATUS: dict[Provider, int] = {
    "openai": 503,
    "anthropic": 529,
    "gemini": 503,
    "azure": 503,
}
# vendor prefixes carry no secret; else a chain of dash-ended words (`org-team-`)
_VENDOR_PREFIX = re.compile(
    r"^(?:sk-ant-api\d+-|sk-ant-|sk-proj-|sk-|AIza|xai-|gsk_|(?:[A-Za-z]+-)+)"
)
_FRAGMENT = 12


def echoed(form: str, key: str) -> str:
    """`key` as a provider might quote it back, in `form` (see the module docstring)."""
    if form == "no_prefix":
        return _VENDOR_PREFIX.sub("", key, count=1)
    if form == "fragment":
        start = max(0, (len(key) - _FRAGMENT) // 2)
        return key[start : start + _FRAGMENT]
    if form == "base64":
        return base64.b64encode(key.encode()).decode()
    if form == "urlencoded":
        return quote(key, safe="")
    if form == "hex":
        return key.encode().hex()
    return key


def _message(text: str, knobs: Knobs, key: str | None) -> str:
    if knobs.echo_key is None or not key:
        return text
    return f"{text} The request carried the key {echoed(knobs.echo_key, key)}."


def _status_message(status: int, knobs: Knobs, key: str | None) -> str | None:
    if knobs.echo_key is None:
        return None  # the provider's own default
    return _message(DEFAULT_MESSAGES.get(status, f"Mock error {status}."), knobs, key)


def bearer_key(request: Request) -> str | None:
    """The key of an ``Authorization: Bearer`` header."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def anthropic_key(request: Request) -> str | None:
    """Anthropic's ``x-api-key``; the bearer form is accepted too, as recent SDKs send it."""
    return request.headers.get("x-api-key") or bearer_key(request)


def auth_error(
    provider: Provider,
    headers: Mapping[str, str],
    knobs: Knobs | None = None,
    key: str | None = None,
) -> Response:
    """401 in ``provider``'s format (also the ``fault=badkey`` answer)."""
    text = _AUTH_MESSAGES[provider]
    if knobs is not None:
        text = _message(text, knobs, key)
    return error_response(provider, 401, text, headers=headers)


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
    ``fault=midstream`` answers every request with a stream that fails after
    its first content (see `stream_faults`).
    """
    if knobs.fault == "badkey" or not settings.accepts_key(key):
        return auth_error(provider, headers, knobs, key)
    try:
        await pause(knobs.latency_ms / 1000, request)
        if knobs.fault == "timeout":
            await pause(settings.hang_seconds, request)
            message = _status_message(504, knobs, key)
            return error_response(provider, 504, message, headers=headers)
    except ClientGone:
        # nobody is listening any more; any response is discarded
        return Response(status_code=499)
    if knobs.fault == "midstream":
        sse = provider != "gemini" or request.query_params.get("alt") == "sse"
        text = _status_message(MIDSTREAM_STATUS, knobs, key) or "The stream failed."
        events = midstream_events(provider, knobs.model, text, sse=sse)
        media_type = SSE_MEDIA_TYPE if sse else "application/json"
        return stream_response(events, knobs, headers=headers, media_type=media_type)
    status = _OVERLOADED_STATUS[provider] if knobs.fault == "overloaded" else knobs.fault_status
    if status is None:
        return None
    out = dict(headers)
    if knobs.retry_after is not None and provider != "gemini":
        out["retry-after"] = str(knobs.retry_after)  # Gemini: in the body (RetryInfo)
    message = _status_message(status, knobs, key)
    return error_response(provider, status, message, retry_after=knobs.retry_after, headers=out)


async def read_json(request: Request) -> dict[str, object] | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
