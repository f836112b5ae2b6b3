"""One upstream exchange of one call, owned from open to close by one object.

An ``Attempt`` unseals its credential, sends the request, and then either
answers the call, or raises a verdict: ``TryNext`` (another deployment or
credential may do better) or a ``GatewayError`` for the client. Whatever
happens, it leaves the deployment's in-flight count and closes the
provider's reply exactly once (``_release``), and the call's outcome is
recorded exactly once (``Outcome``). A streamed answer hands the reply to
its response body, which releases and records when the stream ends: by
then the client has bytes, so nothing is retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NoReturn

from starlette.responses import Response

from junction_contracts import CredentialRoute, DeploymentRoute
from junction_contracts.errors import SealError
from junction_contracts.telemetry import AttemptNote, AttemptOutcome
from junction_engine import verdict
from junction_engine.calls import ClientCall, Outcome
from junction_engine.errors import TryNext
from junction_engine.estimates import text_chars
from junction_engine.json_body import dump_json
from junction_engine.providers import Protocol, upstream_request
from junction_engine.relay import Relay
from junction_engine.responses import ClientStalled, StreamBody
from junction_engine.routing import HealthBoard
from junction_engine.sealed_keys import OpenedKeys
from junction_engine.settings import EngineSettings
from junction_engine.upstream import Reply, Upstream, UpstreamError, UpstreamTimeout
from junction_engine.upstream_replies import MALFORMED, retry_after_hint, scrub, usage_in
from junction_protocols.convert import Converter
from junction_protocols.errors import provider_error_message
from junction_protocols.json_codec import loads

_ERROR_BODY_CAP = 64 * 1024
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(frozen=True, slots=True)
class Upstreams:
    """What every attempt needs from the engine: the client, health board and keys."""

    http: Upstream
    board: HealthBoard
    settings: EngineSettings
    keys: OpenedKeys


class Attempt:
    """Deployment `deployment` with `credential`, tried as attempt `number` of `call`."""

    def __init__(
        self,
        call: ClientCall,
        deployment: DeploymentRoute,
        credential: CredentialRoute,
        provider: Protocol,
        converter: Converter,
        number: int,
        outcome: Outcome,
        ups: Upstreams,
    ) -> None:
        self.call = call
        self.deployment = deployment
        self.credential = credential
        self.provider = provider
        self.converter = converter
        self.number = number
        self._outcome = outcome
        self._ups = ups
        self._reply: Reply | None = None
        self._released = True  # nothing held until the request goes out
        #: the provider's HTTP status, once it answered
        self.upstream_status: int | None = None
        self._began = 0.0

    def note(self, outcome: AttemptOutcome, error_code: str | None) -> AttemptNote:
        """This attempt, as the call's attempt log lists it once it has ended."""
        return AttemptNote(
            deployment_id=self.deployment.id,
            provider_id=self.deployment.provider.id,
            outcome=outcome,
            latency_ms=(time.monotonic() - self._began) * 1000,
            credential_id=self.credential.id,
            http_status=self.upstream_status,
            error_code=error_code,
        )

    async def run(self, content: bytes) -> Response:
        """Send `content` and answer the call, or raise TryNext / GatewayError."""
        ups, call = self._ups, self.call
        self._began = time.monotonic()
        self._outcome.trying(self.note)
        try:
            key = ups.keys.open(self.credential)
            provider_headers = ups.keys.headers(self.deployment.provider)
        except SealError:
            self._apply(verdict.sealed_key_unusable())
        passthrough = call.passthrough_headers if self.provider == call.client else None
        up = upstream_request(
            self.deployment.provider,
            key,
            self.deployment.upstream_model,
            call.operation,
            stream=call.stream,
            extra=passthrough,
            provider_headers=provider_headers,
            identity=self._identity_headers(),
        )
        ups.board.enter(self.deployment.id)
        self._released = False
        handed_over = False
        loop = asyncio.get_running_loop()
        # the first-byte budget belongs to this attempt, not to the whole call
        first_byte_deadline = loop.time() + ups.settings.first_byte_timeout
        # what a deadline passing means depends on how far the exchange got
        on_timeout = verdict.no_first_byte
        try:
            async with asyncio.timeout_at(first_byte_deadline) as timer:
                try:
                    self._reply = reply = await ups.http.post(up.url, up.headers, content)
                    self.upstream_status = reply.status
                    if reply.status >= 400:
                        raw = await reply.read(_ERROR_BODY_CAP)
                        self._refuse(reply, raw, key)
                except UpstreamError as exc:
                    self._apply(verdict.on_failure(exc))
                if call.stream:
                    on_timeout = verdict.stream_failed_early
                    response = await self._stream_start(reply, timer)
                    handed_over = True
                    return response
                # the rest of a plain answer may take until the call's own deadline
                on_timeout = verdict.broken_answer
                timer.reschedule(loop.time() + self._remaining())
                try:
                    raw = await reply.read()
                except UpstreamError:
                    self._apply(verdict.broken_answer())
            return self._plain(raw)
        except TimeoutError:
            self._apply(on_timeout())
        finally:
            if not handed_over:
                await self._release()

    def _identity_headers(self) -> dict[str, str] | None:
        """x-request-id and the trace context for the provider: this attempt's span when traced."""
        call = self.call
        if call.trace is not None:
            return call.trace.attempt(call, self.deployment, self.number)
        return call.identity.upstream_headers if call.identity is not None else None

    def _remaining(self) -> float:
        left = self._ups.settings.total_timeout - (time.monotonic() - self.call.started)
        return max(left, 0.001)

    def _apply(self, v: verdict.Verdict) -> NoReturn:
        """Cool down what the verdict names, then raise it."""
        board, code = self._ups.board, v.error.code
        if v.cool == "deployment":
            board.failed(self.deployment.id, retry_after=v.cool_for, error=code, counts=v.counts)
        elif v.cool == "credential":
            board.failed(
                self.credential.id,
                retry_after=v.cool_for,
                error=code,
                kind="credential",
                counts=v.counts and not v.invalid,
            )
            if v.invalid:
                board.invalid(self.credential, error=code)
        if v.retry:
            raise TryNext(v.error, deployment_down=v.deployment_down)
        raise v.error

    def _refuse(self, reply: Reply, raw: bytes, key: str) -> NoReturn:
        # the provider's error is mapped once: its message read, redacted and scrubbed here;
        # the credential's redactor (built once, kept with its opened key) removes every
        # trace of `key`: whole, without its prefix, in fragments and encoded
        message = provider_error_message(self.provider, raw, scrub=self._scrub)
        hint = retry_after_hint(self.provider, reply.header, raw)
        self._apply(verdict.on_status(reply.status, message, hint))

    def _scrub(self, text: str) -> str:
        """Provider text without a trace of this attempt's key, base URL or host."""
        redactor = self._ups.keys.redactor(self.credential)
        return scrub(text, self.deployment.provider.base_url, redactor)

    def _plain(self, raw: bytes) -> Response:
        call = self.call
        try:
            data = loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            usage = usage_in(self.provider, data)
            if self.provider == call.client:
                out = raw
            elif call.operation == "count_tokens":
                out = dump_json({"input_tokens": int(data.get("totalTokens") or 0)})
            else:
                out = dump_json(self.converter.response(data, model=call.public_model))
        except (*MALFORMED, RecursionError):
            self._apply(verdict.malformed_answer())
        self._succeeded()
        images, size = 0, None
        if call.operation == "images":
            listed = data.get("data")
            images = len(listed) if isinstance(listed, list) else 0
            asked = call.body.data.get("size")
            size = asked if isinstance(asked, str) else None
        self._outcome(
            status="success",
            http_status=200,
            attempts=self.number,
            usage=usage,
            deployment_id=self.deployment.id,
            provider_id=self.deployment.provider.id,
            credential_id=self.credential.id,
            images=images,
            image_size=size,
            text=lambda: text_chars(raw),
        )
        return Response(out, media_type="application/json")

    async def _stream_start(self, reply: Reply, timer: asyncio.Timeout) -> Response:
        """Read up to the first client-bound bytes, then hand the reply to the response body.

        A stream that fails before then (an error event, an empty body,
        garbage, a stall past the first-byte deadline) is a verdict: the
        client has seen nothing yet, so another deployment may serve it.
        """
        call = self.call
        relay = Relay(
            self.converter.stream(
                model=call.public_model, include_usage=call.include_usage, scrub=self._scrub
            ),
            json_array=call.json_array_stream,
        )
        first = b""
        try:
            while not first and not relay.done:
                chunk = await reply.chunk()
                first = relay.feed(chunk) if chunk else relay.end()
        except UpstreamError:
            self._apply(verdict.stream_failed_early())
        if relay.failed:
            self._apply(verdict.stream_failed_early())
        # from here on the total deadline bounds the stream, not the first-byte one
        timer.reschedule(None)
        self._succeeded()  # the provider answered: its breakers hear it now, not at the end
        ttft_ms = (time.monotonic() - call.started) * 1000
        if call.trace is not None:
            call.trace.streaming(ttft_ms)
        body = self._stream_body(reply, relay, first, ttft_ms)

        async def abandoned() -> None:
            # a body that never ran (the client left before it started) ends here
            if not self._released:
                await self._release()
                self._outcome(
                    status="cancelled",
                    http_status=499,
                    attempts=self.number,
                    error_code="client_disconnected",
                    usage=relay.usage,
                    ttft_ms=ttft_ms,
                    deployment_id=self.deployment.id,
                    provider_id=self.deployment.provider.id,
                    credential_id=self.credential.id,
                    text=relay.tally.text_chars,
                    cut=True,
                )

        if call.json_array_stream:
            return StreamBody(body, media_type="application/json", on_close=abandoned)
        return StreamBody(
            body, media_type="text/event-stream", headers=_SSE_HEADERS, on_close=abandoned
        )

    async def _stream_body(
        self, reply: Reply, relay: Relay, first: bytes, ttft_ms: float
    ) -> AsyncIterator[bytes]:
        deadline = self.call.started + self._ups.settings.total_timeout
        idle = self._ups.settings.idle_timeout
        left = "client_disconnected"  # how a client that left before the end left
        try:
            yield first
            try:
                while not relay.done:
                    remaining = deadline - time.monotonic()
                    if remaining <= idle:
                        # the client's idle timeout already bounds each wait; a timer
                        # of our own is armed only once the call's deadline is nearer
                        async with asyncio.timeout(max(remaining, 0.0)):
                            chunk = await reply.chunk()
                    else:
                        chunk = await reply.chunk()
                    out = relay.feed(chunk) if chunk else relay.end()
                    if out:
                        yield out
            except (UpstreamError, TimeoutError) as exc:
                self._ups.board.failed(self.deployment.id, error="upstream_incomplete")
                timed_out = isinstance(exc, TimeoutError | UpstreamTimeout)
                yield relay.fail(
                    "the provider's stream timed out"
                    if timed_out
                    else "the provider's stream broke off"
                )
        except ClientStalled:
            left = "client_stalled"  # connected, but it stopped reading
            raise
        finally:
            await self._release()
            if relay.complete:
                status, code, http_status = "success", None, 200
            elif relay.done:
                status, code, http_status = "failed", "upstream_incomplete", 200
            else:  # the client left before the end
                status, code, http_status = "cancelled", left, 499
            self._outcome(
                status=status,
                http_status=http_status,
                attempts=self.number,
                error_code=code,
                usage=relay.usage,
                ttft_ms=ttft_ms,
                deployment_id=self.deployment.id,
                provider_id=self.deployment.provider.id,
                credential_id=self.credential.id,
                text=relay.tally.text_chars,
                cut=not relay.complete,
            )

    def _succeeded(self) -> None:
        self._ups.board.succeeded(self.deployment.id)
        self._ups.board.succeeded(self.credential.id)

    async def _release(self) -> None:
        """Leave the in-flight count and close the reply; only the first call does anything."""
        if self._released:
            return
        self._released = True
        self._ups.board.leave(self.deployment.id)
        reply, self._reply = self._reply, None
        if reply is not None:
            await reply.close()
