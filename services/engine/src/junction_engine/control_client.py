"""Signed calls from the engine to the control plane's internal API.

Every signed call also tells whether the control plane accepts this engine's
signature: `health` keeps what the latest answer said, so /readyz can report
a wrong internal secret without a call of its own while traffic flows;
`probe` asks once when nothing has been said for a while.

The control plane may run as several replicas (`JUNCTION_CONTROL_URL` lists
them). A call goes to the replica that answered last; on a connection error,
a timeout or a 5xx it goes to the next one, signed afresh (replicas share the
replay cache, so the same signature would be refused as a replay), and the
replica that answered is kept for the calls after it. Every call is safe to
repeat: resolves only read, telemetry and health reports are ingested
idempotently.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, TypeVar

import httpx
import orjson

from junction_contracts import ContractError, Route
from junction_contracts.health import HEALTH_PATH, BreakerReport, health_batch
from junction_contracts.signing import sign
from junction_contracts.telemetry import TELEMETRY_PATH, TELEMETRY_VERSION, CallEvent
from junction_engine.settings import EngineSettings, control_urls
from junction_engine.upstream import Upstream, UpstreamError

#: the trace context a call to the control plane continues (``traceparent``,
#: ``tracestate``): set by the engine's tracer around a route lookup, so the
#: control plane's resolve span joins the call's trace; None (tracing off) adds nothing
TRACE_HEADERS: ContextVar[dict[str, str] | None] = ContextVar(
    "junction_control_trace", default=None
)
log = logging.getLogger("junction.engine.control")

RESOLVE_PATH = "/internal/v1/route/resolve"
#: a hash no key has: the control plane checks the signature, then answers 404
PROBE_HASH = "0" * 64
#: answers that mean "your signature is refused" (wrong secret, clock skew)
_REFUSED = frozenset({401, 403})

Signature = Literal["unknown", "accepted", "refused"]
#: what one replica's answer is reduced to: its status and what the caller keeps of it
_Answer = TypeVar("_Answer")


@dataclass(slots=True)
class ControlHealth:
    """What the control plane's latest answer to a signed call said."""

    signature: Signature = "unknown"
    #: None until the first signed call; False after an error, a timeout or a 5xx
    available: bool | None = None
    #: when that was (monotonic clock)
    checked_at: float | None = None

    def note(self, status: int | None, now: float) -> None:
        self.checked_at = now
        if status is None or status >= 500:
            self.available = False
            return
        self.available = True
        self.signature = "refused" if status in _REFUSED else "accepted"


def create_control_http(
    settings: EngineSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A small separate pool for control-plane calls, with short timeouts."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(5.0, connect=2.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        transport=transport,
        trust_env=False,
    )


class ControlError(Exception):
    """The control plane could not answer (down, timed out, or answered nonsense)."""


class RejectedBatch(Exception):
    """The control plane refused a telemetry batch as malformed: retrying cannot help."""


class ControlClient:
    """Resolves key hashes to routes; the only place that talks to the control plane."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str | Sequence[str],
        secret: bytes,
        *,
        events: Upstream | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._clock = clock
        self.health = ControlHealth()
        urls = (
            control_urls(base_url)
            if isinstance(base_url, str)
            else tuple(u.rstrip("/") for u in base_url)
        )
        if not urls:
            raise ValueError("the control plane needs at least one URL")
        self._urls = urls
        # the replica that answered last: every call starts there
        self._current = 0
        self._secret = secret
        # telemetry batches are large and steady: sent on the lean HTTP/1.1
        # client when one is given (httpx costs several ms of CPU per batch)
        self._events = events

    @property
    def current_url(self) -> str:
        """The replica calls go to first (the one that answered last)."""
        return self._urls[self._current]

    async def resolve(self, token_hash: str) -> Route | None:
        """The route of a key, or None when the control plane does not know the key."""
        resp = await self._post_resolve(token_hash)
        if resp.status_code == 404:
            return None
        if resp.status_code in _REFUSED:
            raise ControlError(
                f"control plane refused this engine's signature ({resp.status_code}); "
                "check JUNCTION_INTERNAL_SECRET"
            )
        if resp.status_code != 200:
            raise ControlError(f"control plane answered {resp.status_code}")
        try:
            return Route.from_dict(resp.json())
        except (ValueError, ContractError) as exc:
            raise ControlError(f"control plane sent a malformed route: {exc}") from exc

    async def post_events(self, events: list[CallEvent]) -> None:
        """Deliver one telemetry batch; ControlError when it may be retried."""
        # orjson writes the event dataclasses as they are: no dict per event
        body = orjson.dumps({"version": TELEMETRY_VERSION, "events": events})
        lean = self._events
        send: Callable[[str, dict[str, str]], Awaitable[tuple[int, str]]]
        if lean is not None:

            async def send(url: str, headers: dict[str, str]) -> tuple[int, str]:
                return await _post_lean(lean, url, headers, body)

        else:

            async def send(url: str, headers: dict[str, str]) -> tuple[int, str]:
                resp = await _post_httpx(self._http, url, headers, body, within=15.0)
                return resp.status_code, resp.text

        try:
            status, text = await self._each_replica(TELEMETRY_PATH, body, send)
        except ControlError:
            self.health.note(None, self._clock())
            raise
        self.health.note(status, self._clock())
        if status == 400:
            raise RejectedBatch(text[:500])
        if status >= 300:
            raise ControlError(f"control plane answered {status}")

    async def post_health(self, reports: list[BreakerReport]) -> None:
        """Deliver breaker changes (`health_reports`); ControlError when it may be retried."""
        body = orjson.dumps(health_batch(reports))

        async def send(url: str, headers: dict[str, str]) -> tuple[int, httpx.Response]:
            resp = await _post_httpx(self._http, url, headers, body)
            return resp.status_code, resp

        status, resp = await self._each_replica(HEALTH_PATH, body, send)
        if status == 400:
            raise RejectedBatch(resp.text[:500])
        if status >= 300:
            raise ControlError(f"control plane answered {status}")

    async def probe(self, within: float = 2.0) -> None:
        """Refresh `health` with one signed resolve of a hash no key has (never raises)."""
        with contextlib.suppress(ControlError):  # noted as unavailable
            await self._post_resolve(PROBE_HASH, within=within)

    async def _post_resolve(
        self, token_hash: str, *, within: float | None = None
    ) -> httpx.Response:
        body = json.dumps({"token_hash": token_hash}, separators=(",", ":")).encode()

        async def send(url: str, headers: dict[str, str]) -> tuple[int, httpx.Response]:
            resp = await _post_httpx(self._http, url, headers, body, within=within)
            return resp.status_code, resp

        try:
            status, resp = await self._each_replica(RESOLVE_PATH, body, send)
        except ControlError:
            self.health.note(None, self._clock())
            raise
        self.health.note(status, self._clock())
        return resp

    async def _each_replica(
        self,
        path: str,
        body: bytes,
        send: Callable[[str, dict[str, str]], Awaitable[tuple[int, _Answer]]],
    ) -> tuple[int, _Answer]:
        """`send` a signed POST of `body` to `path`, replica after replica, until one answers.

        An answer below 500 ends it (that replica is kept for the next
        calls). When every replica fails, the last 5xx answer is returned, or
        (none answered) the last ControlError raised.
        """
        count = len(self._urls)
        start = self._current
        answer: tuple[int, _Answer] | None = None
        failure: ControlError | None = None
        for step in range(count):
            index = (start + step) % count
            headers = {"content-type": "application/json"}
            headers.update(sign(self._secret, "POST", path, body))
            traced = TRACE_HEADERS.get()
            if traced is not None:
                headers.update(traced)
            try:
                answer = await send(self._urls[index] + path, headers)
            except ControlError as exc:
                answer, failure = None, exc
                continue
            if answer[0] < 500:
                if index != self._current:
                    log.warning(
                        "control plane at %s did not answer; calls go to %s now",
                        self._urls[self._current],
                        self._urls[index],
                    )
                    self._current = index
                return answer
        if answer is not None:
            return answer
        assert failure is not None  # at least one replica was tried
        raise failure


async def _post_httpx(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    within: float | None = None,
) -> httpx.Response:
    """One POST; `within` (seconds) None keeps the client's own timeouts."""
    try:
        if within is None:
            return await http.post(url, content=body, headers=headers)
        return await http.post(url, content=body, headers=headers, timeout=within)
    except httpx.HTTPError as exc:
        raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc


async def _post_lean(
    client: Upstream, url: str, headers: dict[str, str], body: bytes
) -> tuple[int, str]:
    try:
        reply = await client.post(url, headers, body)
        try:
            answer = await reply.read(64 * 1024)
        finally:
            await reply.close()
    except UpstreamError as exc:
        raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc
    return reply.status, answer.decode("utf-8", "replace")
