"""Forwarding a call: try deployments in order, fail over, answer once.

The loop itself does no I/O: each try is an ``Attempt`` that owns its one
upstream exchange and ends in an answer or a verdict. A verdict that another
deployment or credential may fix (``TryNext``) moves on to the next one in
the routing plan; a provider's verdict on the request itself goes back to
the client in its own protocol. Nothing is retried once the client has
received a byte: a streamed answer is handed to the client as soon as its
first bytes exist, and from then on its attempt alone reports the outcome.

A call that ends before any provider was tried (no deployment offers the
operation, or the request cannot be put in a provider's protocol) is
recorded as ``refused``, not ``failed``: no provider failed, and nothing is
billed. The client's answer is the same error either way.

Provider health bounds what a call may cost the providers: deployments and
credentials behind an open breaker are not in the plan (a half-open one
gets a single probe), and attempts beyond the first need the retry budget
(`retry_budget`). A call whose every deployment is behind an open breaker
is answered 503 ``no_healthy_deployment`` with Retry-After (the seconds
until the first breaker half-opens) and no attempt; a 502 after real
attempts carries Retry-After too once a breaker knows when to try again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterator
from typing import Protocol as Interface

from starlette.responses import Response

from junction_contracts import DeploymentRoute, ModelRoute
from junction_contracts.telemetry import AttemptOutcome
from junction_engine.attempt import Attempt, Upstreams
from junction_engine.calls import ClientCall, Outcome, Recorder, Starter
from junction_engine.errors import BadRequest, GatewayError, TryNext, UpstreamFailed
from junction_engine.json_body import dump_json
from junction_engine.providers import Protocol, Unsupported, offers, protocol_of
from junction_engine.retry_budget import RetryBudget
from junction_engine.routing import HealthBoard, plan
from junction_protocols.convert import Converter, get_converter
from junction_protocols.errors import ConversionError

log = logging.getLogger("junction.engine.forwarding")


class Counters(Interface):
    """What the forwarder counts (the engine's metrics; nothing in tests that do not ask)."""

    def attempted(self, outcome: str) -> None: ...
    def budget_exhausted(self) -> None: ...
    def shed(self) -> None: ...


class _Uncounted:
    def attempted(self, outcome: str) -> None:
        pass

    def budget_exhausted(self) -> None:
        pass

    def shed(self) -> None:
        pass


class Forwarder:
    def __init__(
        self,
        ups: Upstreams,
        recorder: Recorder,
        starter: Starter | None = None,
        *,
        budget: RetryBudget | None = None,
        counters: Counters | None = None,
    ) -> None:
        self._ups = ups
        self._record = recorder
        self._start = starter
        self.budget = budget or RetryBudget()
        self._counters: Counters = counters or _Uncounted()

    @property
    def board(self) -> HealthBoard:
        """Cooldowns, breakers and in-flight counts of this engine's deployments and credentials."""
        return self._ups.board

    async def forward(self, call: ClientCall) -> Response:
        """Answer `call` from the first deployment that works."""
        if self._start is not None:
            self._start(call)
        outcome = Outcome(call, self._record)
        max_attempts = self._ups.settings.max_attempts
        board, budget, counters = self._ups.board, self.budget, self._counters
        last: GatewayError | None = None
        down: set[str] = set()
        number = 0
        deployment_id: str | None = None
        pairs = plan(call.model, board)
        try:
            for deployment, credential in pairs:
                if deployment.id in down:
                    continue
                if number >= max_attempts:
                    break
                provider = protocol_of(deployment.provider)
                converter = get_converter(call.client, provider)
                try:
                    content = _upstream_body(call, deployment, provider, converter)
                except Unsupported:
                    down.add(deployment.id)  # this deployment cannot serve the operation
                    continue
                if number and not budget.can_retry():
                    counters.budget_exhausted()
                    log.warning("call %s: retry budget exhausted, not failing over", call.call_id)
                    break
                if not board.admit(deployment, credential):
                    pairs.shed = True  # its breaker closed the door since the plan was made
                    continue
                if number:
                    budget.retry()
                else:
                    budget.first()
                number += 1
                deployment_id = deployment.id
                attempt = Attempt(
                    call, deployment, credential, provider, converter, number, outcome, self._ups
                )
                answer: AttemptOutcome = "rejected"
                code: str | None = None
                try:
                    response = await attempt.run(content)
                    answer = "answered"
                    return response
                except TryNext as exc:
                    answer, code = "failed", exc.error.code
                    last = exc.error
                    if exc.deployment_down:
                        down.add(deployment.id)
                    log.warning(
                        "call %s: %s via deployment %s failed (%s), %s",
                        call.call_id,
                        call.public_model,
                        deployment.id,
                        exc.error.code,
                        "failing over" if number < max_attempts else "giving up",
                    )
                except GatewayError as exc:
                    code = exc.code  # the provider's verdict on the request, for the client
                    raise
                except asyncio.CancelledError:
                    answer, code = "cancelled", "client_disconnected"
                    raise
                finally:
                    counters.attempted(answer)
                    board.settle(deployment.id, credential.id)
                    if answer != "answered":
                        outcome.tried(answer, code)
        except asyncio.CancelledError:
            # the client went away: no further attempt, and the call is recorded;
            # a provider already at work on it bills its input: estimated
            outcome(
                status="cancelled",
                http_status=499,
                attempts=number,
                error_code="client_disconnected",
                deployment_id=deployment_id,
                text=_nothing_sent if number else None,
                cut=number > 0,
            )
            raise
        except GatewayError as exc:
            outcome(
                status=_final_status(number, last),
                http_status=exc.status,
                attempts=number,
                error_code=exc.code,
                deployment_id=deployment_id,
            )
            raise
        wait = board.reopens_in(_health_keys(call.model)) if pairs.shed or last else None
        if number == 0 and pairs.shed:
            counters.shed()
            error = _no_healthy_deployment(call, wait)
        else:
            error = _no_answer(call, number, last)
            if wait is not None and error.status in (502, 503, 504):
                error.headers.setdefault("retry-after", _seconds(wait))
        outcome(
            status="failed" if number == 0 and pairs.shed else _final_status(number, last),
            http_status=error.status,
            attempts=number,
            error_code=error.code,
        )
        raise error


def _health_keys(model: ModelRoute) -> Iterator[str]:
    for d in model.deployments:
        yield d.id
        for c in d.credentials:
            yield c.id


def _seconds(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def _no_healthy_deployment(call: ClientCall, wait: float | None) -> GatewayError:
    """Every deployment of the model is behind an open breaker: nothing was tried."""
    return GatewayError(
        f"no deployment of the model '{call.public_model}' is healthy right now; "
        "retry after the time in Retry-After",
        status=503,
        code="no_healthy_deployment",
        headers={"retry-after": _seconds(wait if wait is not None else 1.0)},
    )


def _nothing_sent() -> int:
    return 0  # no answer text had reached the gateway


def _final_status(attempts: int, last: GatewayError | None) -> str:
    """How a call that got no answer is recorded: refused when no provider was tried."""
    return "refused" if attempts == 0 and last is None else "failed"


def _no_answer(call: ClientCall, attempts: int, last: GatewayError | None) -> GatewayError:
    if attempts == 0 and last is None:
        return BadRequest(
            f"the model '{call.public_model}' is not served by a provider that offers "
            f"this endpoint ({call.operation})",
            code="unsupported_operation",
            param="model",
        )
    return last or UpstreamFailed(
        f"the model '{call.public_model}' has no usable deployment", code="no_deployment"
    )


def _upstream_body(
    call: ClientCall, deployment: DeploymentRoute, provider: Protocol, converter: Converter
) -> bytes:
    """The bytes sent upstream; raises Unsupported when the pair cannot do the call."""
    upstream_model = deployment.upstream_model
    if not offers(deployment.provider, call.operation):
        raise Unsupported(f"{deployment.provider.type} providers do not offer {call.operation}")
    if provider == call.client:
        body = call.body
        updates: dict[str, object] = {}
        if call.client != "gemini" and body.data.get("model") != upstream_model:
            updates["model"] = upstream_model  # gemini carries the model in the URL
        if call.client == "openai" and call.stream and not call.include_usage:
            # usage is counted from the provider's own numbers: ask for them;
            # the relay drops the extra chunk before it reaches the client
            options = body.data.get("stream_options")
            updates["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
        return body.with_members(updates)
    if call.operation == "chat":
        converted = _convert(call, upstream_model, converter, stream=call.stream)
    elif call.operation == "count_tokens" and provider == "gemini":
        inner = _convert(call, upstream_model, converter, stream=False)
        converted = {"generateContentRequest": {"model": f"models/{upstream_model}", **inner}}
    else:
        raise Unsupported(f"{call.operation} cannot be converted to {provider}")
    return dump_json(converted)


def _convert(
    call: ClientCall, upstream_model: str, converter: Converter, *, stream: bool
) -> dict[str, object]:
    try:
        return converter.request(call.body.data, upstream_model=upstream_model, stream=stream)
    except ConversionError as exc:
        raise BadRequest(exc.message, param=exc.param, code="unsupported_parameter") from exc
