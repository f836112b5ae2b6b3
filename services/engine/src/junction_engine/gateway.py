"""The assembled data plane and the checks every request passes before forwarding."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from junction_contracts import Route
from junction_engine.admission import Admission
from junction_engine.calls import ClientCall
from junction_engine.client_keys import hash_key, read_key
from junction_engine.control_client import ControlClient
from junction_engine.errors import (
    BadRequest,
    GatewayError,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
)
from junction_engine.forwarding import Forwarder
from junction_engine.json_body import JsonBody, parse_object
from junction_engine.metrics import EngineMetrics
from junction_engine.policy import check_token
from junction_engine.providers import Protocol
from junction_engine.rate_limits import RateLimiter, Verdict
from junction_engine.reservations import Reservations, accounts_for, output_cap, worst_case_usd
from junction_engine.responses import error_response
from junction_engine.route_cache import RouteCache
from junction_engine.settings import EngineSettings
from junction_engine.telemetry_sink import TelemetrySink

if TYPE_CHECKING:  # tracing is imported only when it is on
    from junction_engine.tracing import CallTrace, EngineTracing

# operations whose answer is generated text: their output cap is held too
_GENERATING = frozenset({"chat", "responses", "completions"})


@dataclass(slots=True)
class Engine:
    """Everything the handlers need, built by the app factory."""

    settings: EngineSettings
    routes: RouteCache
    forwarder: Forwarder
    metrics: EngineMetrics
    control: ControlClient
    telemetry: TelemetrySink
    limits: RateLimiter
    reservations: Reservations
    admission: Admission = field(default_factory=Admission)
    #: spans of every call, when an OTLP endpoint is configured; None: tracing is off
    tracing: EngineTracing | None = None

    async def authorize(self, request: Request, trace: CallTrace | None = None) -> Route:
        key = read_key(request)
        if key is None:
            raise Unauthorized(
                "no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                code="missing_api_key",
            )
        if trace is None:
            route = await self.routes.get(hash_key(key))
        else:
            route = await trace.lookup(self.routes.get, hash_key(key))
        if route is None:
            raise Unauthorized("the API key is not valid", code="invalid_api_key")
        check_token(route)
        if self.admission.per_tenant:  # off by default: then this test is all it costs
            self.admission.enter_tenant(request.scope, route.token.tenant_id)
        return route

    async def read_json(self, request: Request) -> JsonBody:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"the request body is over the {limit} byte limit")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"the request body is over the {limit} byte limit")
        if not body:
            raise BadRequest("the request body is empty; send a JSON object")
        return parse_object(bytes(body))

    async def enforce_limits(self, call: ClientCall) -> None:
        """Refuse keys over their RPM or TPM (429 + Retry-After), then hold the call's money.

        The money check comes last: a call refused for its rate holds nothing.
        A model with no price that is not marked free is refused first: a call
        nobody can bill is not served (counting tokens costs nothing).
        """
        if call.operation != "count_tokens" and not call.model.pricing.priced:
            raise GatewayError(
                f"the model '{call.public_model}' has no price and is not marked free; "
                "an admin must price it or mark it free before it can be called",
                status=403,
                code="model_not_priced",
                param="model",
            )
        token = call.route.token
        limited = await self.limits.admit(token.id, token.rpm, token.tpm)
        if limited is not None:
            if limited.kind == "tokens":
                message = f"this API key is over its limit of {token.tpm} tokens per minute"
            else:
                message = f"this API key is over its limit of {token.rpm} requests per minute"
            raise RateLimited(
                message,
                code=f"{limited.kind}_per_minute_exceeded",
                headers=_limit_headers(limited.verdict, limited.kind),
            )
        accounts = accounts_for(call.route)
        if not accounts:
            return
        pricing = call.model.pricing
        output = 0
        if call.operation in _GENERATING:
            output = output_cap(call.body.data, call.client) or self.settings.reserve_output_tokens
        wanted = worst_case_usd(
            pricing.input_per_mtok, pricing.output_per_mtok, len(call.body.raw), output
        )
        short = await self.reservations.reserve(call.call_id, accounts, wanted)
        if short is not None:
            raise GatewayError(
                f"{short.account.what} cannot cover this call: ${short.spent_usd:.4f} spent, "
                f"${short.held_usd:.4f} held by calls in flight, up to ${wanted:.4f} for this "
                "one (a lower max_tokens holds less)",
                status=402,
                code="insufficient_quota",
                headers={"x-should-retry": "false"},
            )

    def refuse(self, protocol: Protocol, err: GatewayError) -> Response:
        self.metrics.refusals.labels(err.code).inc()
        return error_response(protocol, err)


def _limit_headers(verdict: Verdict, kind: str) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(verdict.retry_after))),
        f"x-ratelimit-limit-{kind}": str(verdict.limit),
        f"x-ratelimit-remaining-{kind}": str(verdict.remaining),
    }
