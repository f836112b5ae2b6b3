"""What an upstream answer or failure means for the call: answer, refuse, or try the next.

Pure functions: they read a status, a Retry-After value and a provider
message, and say what to cool down and whether another deployment or
credential may do better. The attempt applies the verdict; nothing here
touches the network or the health board.

    provider said / happened            verdict
    connect error, closed early         next deployment; cool the deployment
    timeout before the first byte       next deployment (504 if none works)
    400, 413, 415, 422                  refuse: the request itself is at fault
    401, 403                            next credential; it is marked invalid
    429                                 next credential; cool it for Retry-After
    5xx, 408                            next deployment; cool it (Retry-After wins)
    other 4xx (404: an unknown model)   next deployment; cool it, its breaker unmoved
    broken or malformed answer,
    stream failing before its first byte  next deployment; cool the deployment

A verdict that `counts` is a sign the provider is unwell and moves its
circuit breaker (see `breakers`); one about the request, or about this
engine (a key it cannot open), only changes the order of the next plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from junction_engine.errors import GatewayError, RateLimited, UpstreamFailed
from junction_engine.upstream import UpstreamError, UpstreamTimeout
from junction_engine.upstream_replies import retry_after_seconds

CLIENT_FAULT = frozenset({400, 413, 415, 422})
CREDENTIAL_FAULT = frozenset({401, 403})
_CREDENTIAL_REST = 300.0

Cool = Literal["deployment", "credential"] | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one attempt that did not produce an answer."""

    error: GatewayError
    #: another deployment or credential may succeed where this one failed
    retry: bool
    cool: Cool = None
    #: seconds the provider asked us to wait; None lets the board back off on its own
    cool_for: float | None = None
    #: the deployment itself failed: its other credentials are not tried
    deployment_down: bool = field(default=False)
    #: the failure says the provider is unwell: it counts against the breaker
    counts: bool = True
    #: the provider refused the credential's key: out until the route brings another
    invalid: bool = False


def on_status(status: int, message: str, retry_after: str | None) -> Verdict:
    """A provider answered with an error status; `message` is already scrubbed."""
    if status in CLIENT_FAULT:
        error = GatewayError(message, status=status, code="upstream_rejected_request")
        return Verdict(error, retry=False)
    if status in CREDENTIAL_FAULT:
        error = UpstreamFailed(
            "the provider refused the gateway's credential", code="upstream_auth_failed"
        )
        return Verdict(
            error, retry=True, cool="credential", cool_for=_CREDENTIAL_REST, invalid=True
        )
    wait = retry_after_seconds(retry_after)
    if status == 429:
        headers = {"retry-after": str(max(1, math.ceil(wait)))} if wait is not None else {}
        error = RateLimited(
            f"the provider is rate limiting: {message}",
            code="upstream_rate_limited",
            headers=headers,
        )
        return Verdict(error, retry=True, cool="credential", cool_for=wait)
    error = UpstreamFailed(f"the provider failed ({status}): {message}", code="upstream_error")
    return Verdict(
        error,
        retry=True,
        cool="deployment",
        cool_for=wait,
        deployment_down=True,
        counts=status >= 500 or status == 408,
    )


def on_failure(exc: UpstreamError) -> Verdict:
    """The exchange failed before an answer arrived."""
    if isinstance(exc, UpstreamTimeout):
        return no_first_byte()
    error = UpstreamFailed("the provider could not be reached", code="upstream_unreachable")
    return Verdict(error, retry=True, cool="deployment", deployment_down=True)


def no_first_byte() -> Verdict:
    """The provider timed out before its answer began."""
    error = UpstreamFailed(
        "the provider timed out before answering", code="upstream_timeout", status=504
    )
    return Verdict(error, retry=True, cool="deployment", deployment_down=True)


def broken_answer() -> Verdict:
    """The body of a plain answer broke off or stalled past the call's deadline."""
    error = UpstreamFailed("the provider's answer broke off", code="upstream_incomplete")
    return Verdict(error, retry=True, cool="deployment", deployment_down=True)


def malformed_answer() -> Verdict:
    """A plain answer that is not the provider's JSON."""
    error = UpstreamFailed("the provider sent a malformed answer", code="upstream_malformed")
    return Verdict(error, retry=True, cool="deployment", deployment_down=True)


def stream_failed_early() -> Verdict:
    """A stream that failed (error event, empty, garbage, stall) before the client saw a byte."""
    error = UpstreamFailed(
        "the provider's stream failed before its first event", code="upstream_incomplete"
    )
    return Verdict(error, retry=True, cool="deployment", deployment_down=True)


def sealed_key_unusable() -> Verdict:
    """This engine cannot open the credential's sealed key (another secret sealed it)."""
    error = UpstreamFailed(
        "a provider credential could not be opened", code="credential_unavailable"
    )
    return Verdict(error, retry=True, cool="credential", counts=False)
