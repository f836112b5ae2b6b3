"""Forwarding a chat call: try deployments in order, fail over, answer once.

A failure before the first byte reaches the client (connect error, timeout,
429, 5xx, a provider refusing our credential, a stream that dies before its
first event) cools the deployment or credential down and moves on to the
next one. A provider's verdict on the request itself (400, 413, 422) goes
back to the client in its own protocol. Nothing is retried once the client
has received a byte.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass

import httpx
from starlette.responses import Response

from junction_contracts import CredentialRoute, DeploymentRoute
from junction_contracts.errors import SealError
from junction_contracts.sealing import unseal
from junction_engine.calls import ClientCall, Recorder, Starter, record_for
from junction_engine.errors import (
    BadRequest,
    GatewayError,
    RateLimited,
    TryNext,
    UpstreamFailed,
)
from junction_engine.json_body import dump_json
from junction_engine.providers import Protocol, Unsupported, protocol_of, upstream_request
from junction_engine.routing import HealthBoard, plan
from junction_engine.settings import EngineSettings
from junction_engine.streaming import StreamRelay
from junction_engine.upstream_replies import (
    MALFORMED,
    message_of,
    read_capped,
    retry_after_seconds,
    scrub,
    usage_in,
)
from junction_protocols.convert import Converter, get_converter
from junction_protocols.errors import ConversionError

log = logging.getLogger("junction.engine.forwarding")

_ERROR_BODY_CAP = 64 * 1024
_CLIENT_FAULT = {400, 413, 415, 422}
_CREDENTIAL_FAULT = {401, 403}


@dataclass(slots=True)
class Attempt:
    call: ClientCall
    deployment: DeploymentRoute
    credential: CredentialRoute
    provider: Protocol
    converter: Converter
    number: int


class Forwarder:
    def __init__(
        self,
        http: httpx.AsyncClient,
        board: HealthBoard,
        settings: EngineSettings,
        sealing_key: bytes,
        recorder: Recorder,
        starter: Starter | None = None,
    ) -> None:
        self._http = http
        self._board = board
        self._settings = settings
        self._sealing_key = sealing_key
        self._record = recorder
        self._start = starter

    async def forward(self, call: ClientCall) -> Response:
        """Answer `call` from the first deployment that works."""
        if self._start is not None:
            self._start(call)
        last: GatewayError | None = None
        down: set[str] = set()
        number = 0
        for deployment, credential in plan(call.model, self._board):
            if deployment.id in down:
                continue
            if number >= self._settings.max_attempts:
                break
            provider = protocol_of(deployment.provider)
            attempt = Attempt(
                call,
                deployment,
                credential,
                provider,
                get_converter(call.client, provider),
                number + 1,
            )
            try:
                content = self._upstream_body(attempt)
            except Unsupported:
                down.add(deployment.id)  # this deployment cannot serve the operation
                continue
            number += 1
            try:
                return await self._attempt(attempt, content)
            except asyncio.CancelledError:
                # the client went away: no further attempt, and the call is recorded
                self._record(
                    record_for(
                        call,
                        status="cancelled",
                        http_status=499,
                        attempts=number,
                        error_code="client_disconnected",
                        deployment_id=deployment.id,
                    )
                )
                raise
            except TryNext as exc:
                last = exc.error
                if exc.deployment_down:
                    down.add(deployment.id)
                log.warning(
                    "call %s: %s via deployment %s failed (%s), %s",
                    call.call_id,
                    call.public_model,
                    deployment.id,
                    exc.error.code,
                    "failing over" if number < self._settings.max_attempts else "giving up",
                )
            except GatewayError as exc:
                self._record(
                    record_for(
                        call,
                        status="failed",
                        http_status=exc.status,
                        attempts=number,
                        error_code=exc.code,
                        deployment_id=deployment.id,
                    )
                )
                raise
        if number == 0 and last is None:
            error: GatewayError = BadRequest(
                f"the model '{call.public_model}' is not served by a provider that offers "
                f"this endpoint ({call.operation})",
                code="unsupported_operation",
                param="model",
            )
        else:
            error = last or UpstreamFailed(
                f"the model '{call.public_model}' has no usable deployment", code="no_deployment"
            )
        self._record(
            record_for(
                call,
                status="failed",
                http_status=error.status,
                attempts=number,
                error_code=error.code,
            )
        )
        raise error

    def _upstream_body(self, a: Attempt) -> bytes:
        """The bytes sent upstream; raises Unsupported when the pair cannot do the call."""
        call, upstream_model = a.call, a.deployment.upstream_model
        upstream_request(a.deployment.provider, "", upstream_model, call.operation)  # may refuse
        if a.provider == call.client:
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
            converted = self._convert(a, stream=call.stream)
        elif call.operation == "count_tokens" and a.provider == "gemini":
            inner = self._convert(a, stream=False)
            converted = {"generateContentRequest": {"model": f"models/{upstream_model}", **inner}}
        else:
            raise Unsupported(f"{call.operation} cannot be converted to {a.provider}")
        return dump_json(converted)

    def _convert(self, a: Attempt, *, stream: bool) -> dict[str, object]:
        try:
            return a.converter.request(
                a.call.body.data, upstream_model=a.deployment.upstream_model, stream=stream
            )
        except ConversionError as exc:
            raise BadRequest(exc.message, param=exc.param, code="unsupported_parameter") from exc

    async def _attempt(self, a: Attempt, content: bytes) -> Response:
        try:
            key = unseal(self._sealing_key, a.credential.sealed_key, context=a.credential.id)
        except SealError:
            self._board.failed(a.credential.id)
            raise TryNext(
                UpstreamFailed(
                    "a provider credential could not be opened", code="credential_unavailable"
                ),
                deployment_down=False,
            ) from None
        passthrough = a.call.passthrough_headers if a.provider == a.call.client else None
        up = upstream_request(
            a.deployment.provider,
            key,
            a.deployment.upstream_model,
            a.call.operation,
            stream=a.call.stream,
            extra=passthrough,
        )
        request = self._http.build_request("POST", up.url, headers=up.headers, content=content)
        self._board.enter(a.deployment.id)
        handed_over = False
        resp: httpx.Response | None = None
        # the first-byte budget belongs to this attempt, not to the whole call
        first_byte_deadline = time.monotonic() + self._settings.first_byte_timeout
        try:
            try:
                async with asyncio.timeout(self._settings.first_byte_timeout):
                    resp = await self._http.send(request, stream=True)
            except (httpx.HTTPError, TimeoutError) as exc:
                self._board.failed(a.deployment.id)
                timeout = isinstance(exc, (TimeoutError, httpx.TimeoutException))
                raise TryNext(
                    UpstreamFailed(
                        "the provider timed out before answering"
                        if timeout
                        else "the provider could not be reached",
                        code="upstream_timeout" if timeout else "upstream_unreachable",
                        status=504 if timeout else 502,
                    ),
                    deployment_down=True,
                ) from None
            if resp.status_code >= 400:
                await self._refuse(a, resp, key)
            if a.call.stream:
                relay = StreamRelay(a, resp, self._board, self._settings, self._record)
                response = await relay.start(first_byte_deadline)
                handed_over = True
                return response
            return await self._plain(a, resp)
        finally:
            if not handed_over:
                self._board.leave(a.deployment.id)
                if resp is not None:
                    await resp.aclose()

    async def _refuse(self, a: Attempt, resp: httpx.Response, key: str) -> None:
        """Turn an upstream error status into the right exception."""
        try:
            raw = await read_capped(resp, _ERROR_BODY_CAP)
        except httpx.HTTPError:
            raw = b""
        finally:
            await resp.aclose()
        status = resp.status_code
        client_status, body = a.converter.error(status, raw)
        message = scrub(
            message_of(body) or f"the provider answered {status}",
            a.deployment.provider.base_url,
            key,
        )
        if status in _CLIENT_FAULT:
            raise GatewayError(message, status=client_status, code="upstream_rejected_request")
        if status in _CREDENTIAL_FAULT:
            self._board.failed(a.credential.id, retry_after=300.0)
            raise TryNext(
                UpstreamFailed(
                    "the provider refused the gateway's credential", code="upstream_auth_failed"
                ),
                deployment_down=False,
            )
        if status == 429:
            wait = retry_after_seconds(resp.headers.get("retry-after"))
            self._board.failed(a.credential.id, retry_after=wait)
            headers = {"retry-after": str(max(1, math.ceil(wait)))} if wait is not None else {}
            raise TryNext(
                RateLimited(
                    f"the provider is rate limiting: {message}",
                    code="upstream_rate_limited",
                    headers=headers,
                ),
                deployment_down=False,
            )
        wait = retry_after_seconds(resp.headers.get("retry-after"))
        self._board.failed(a.deployment.id, retry_after=wait)
        raise TryNext(
            UpstreamFailed(f"the provider failed ({status}): {message}", code="upstream_error"),
            deployment_down=True,
        )

    async def _plain(self, a: Attempt, resp: httpx.Response) -> Response:
        started = time.monotonic()
        remaining = self._settings.total_timeout - (started - a.call.started)
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                raw = await resp.aread()
        except (httpx.HTTPError, TimeoutError):
            self._board.failed(a.deployment.id)
            raise TryNext(
                UpstreamFailed("the provider's answer broke off", code="upstream_incomplete"),
                deployment_down=True,
            ) from None
        finally:
            await resp.aclose()
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            usage = usage_in(a.provider, data)
            if a.provider == a.call.client:
                out = raw
            elif a.call.operation == "count_tokens":
                out = dump_json({"input_tokens": int(data.get("totalTokens") or 0)})
            else:
                out = dump_json(a.converter.response(data, model=a.call.public_model))
        except (*MALFORMED, RecursionError):
            self._board.failed(a.deployment.id)
            raise TryNext(
                UpstreamFailed("the provider sent a malformed answer", code="upstream_malformed"),
                deployment_down=True,
            ) from None
        self._board.succeeded(a.deployment.id)
        self._board.succeeded(a.credential.id)
        record = record_for(
            a.call,
            status="success",
            http_status=200,
            attempts=a.number,
            usage=usage,
            deployment_id=a.deployment.id,
            provider_id=a.deployment.provider.id,
            credential_id=a.credential.id,
        )
        if a.call.operation == "images":
            images = data.get("data")
            record.images = len(images) if isinstance(images, list) else 0
            size = a.call.body.data.get("size")
            record.image_size = size if isinstance(size, str) else None
        self._record(record)
        return Response(out, media_type="application/json")
