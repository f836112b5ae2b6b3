"""Signature checks of internal calls: one wrapper every signed endpoint goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from junction_contracts.errors import SignatureError
from junction_control.context import internal_context
from junction_control.internal.replays import ReplayCheckUnavailable
from junction_control.responses import error_response

SignedEndpoint = Callable[[Request, bytes], Awaitable[Response]]

MAX_BODY_BYTES = 8 * 1024 * 1024


def signed(endpoint: SignedEndpoint) -> Callable[[Request], Awaitable[Response]]:
    """Wrap `endpoint` so it only runs for a signed, fresh, unreplayed call.

    Unreplayed across replicas when they share a replay cache (`replays`);
    while that cache cannot answer, the call is refused with a 503.

    The endpoint receives the raw body that was verified, so it parses exactly
    the bytes the signature covers.
    """

    async def verified(request: Request) -> Response:
        ctx = internal_context(request)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return error_response(413, "payload_too_large", "request body is too large")
        body = await request.body()
        try:
            nonce = ctx.verifier.verify(request.method, request.url.path, body, request.headers)
            if ctx.replays is not None and not await ctx.replays.claim(nonce):
                raise SignatureError("replayed request")  # another replica saw it first
        except SignatureError as exc:
            ctx.metrics.rejected.labels(reason=exc.reason).inc()
            return error_response(401, "bad_signature", exc.reason)
        except ReplayCheckUnavailable as exc:
            # refused rather than let through: this replica cannot tell a replay
            ctx.metrics.rejected.labels(reason="replay check unavailable").inc()
            return error_response(503, "replay_check_unavailable", str(exc))
        return await endpoint(request, body)

    verified.__name__ = getattr(endpoint, "__name__", "signed_endpoint")
    verified.__doc__ = endpoint.__doc__
    return verified
