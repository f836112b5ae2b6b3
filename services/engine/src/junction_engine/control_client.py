"""Signed calls from the engine to the control plane's internal API.

Every signed call also tells whether the control plane accepts this engine's
signature: `health` keeps what the latest answer said, so /readyz can report
a wrong internal secret without a call of its own while traffic flows;
`probe` asks once when nothing has been said for a while.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
import orjson

from junction_contracts import ContractError, Route
from junction_contracts.health import HEALTH_PATH, BreakerReport, health_batch
from junction_contracts.signing import sign
from junction_contracts.telemetry import TELEMETRY_PATH, TELEMETRY_VERSION, CallEvent
from junction_engine.settings import EngineSettings
from junction_engine.upstream import Upstream, UpstreamError

RESOLVE_PATH = "/internal/v1/route/resolve"
#: a hash no key has: the control plane checks the signature, then answers 404
PROBE_HASH = "0" * 64
#: answers that mean "your signature is refused" (wrong secret, clock skew)
_REFUSED = frozenset({401, 403})

Signature = Literal["unknown", "accepted", "refused"]


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
        base_url: str,
        secret: bytes,
        *,
        events: Upstream | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._clock = clock
        self.health = ControlHealth()
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        # telemetry batches are large and steady: sent on the lean HTTP/1.1
        # client when one is given (httpx costs several ms of CPU per batch)
        self._events = events

    async def resolve(self, token_hash: str) -> Route | None:
        """The route of a key, or None when the control plane does not know the key."""
        try:
            resp = await self._post_resolve(token_hash)
        except httpx.HTTPError as exc:
            raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc
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
        headers = {"content-type": "application/json"}
        headers.update(sign(self._secret, "POST", TELEMETRY_PATH, body))
        url = self._base_url + TELEMETRY_PATH
        if self._events is not None:
            status, text = await self._post_lean(self._events, url, headers, body)
        else:
            try:
                resp = await self._http.post(url, content=body, headers=headers, timeout=15.0)
            except httpx.HTTPError as exc:
                self.health.note(None, self._clock())
                raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc
            status, text = resp.status_code, resp.text
        self.health.note(status, self._clock())
        if status == 400:
            raise RejectedBatch(text[:500])
        if status >= 300:
            raise ControlError(f"control plane answered {status}")

    async def post_health(self, reports: list[BreakerReport]) -> None:
        """Deliver breaker changes (`health_reports`); ControlError when it may be retried."""
        body = orjson.dumps(health_batch(reports))
        headers = {"content-type": "application/json"}
        headers.update(sign(self._secret, "POST", HEALTH_PATH, body))
        try:
            resp = await self._http.post(
                self._base_url + HEALTH_PATH, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 400:
            raise RejectedBatch(resp.text[:500])
        if resp.status_code >= 300:
            raise ControlError(f"control plane answered {resp.status_code}")

    async def _post_lean(
        self, client: Upstream, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str]:
        try:
            reply = await client.post(url, headers, body)
            try:
                answer = await reply.read(64 * 1024)
            finally:
                await reply.close()
        except UpstreamError as exc:
            self.health.note(None, self._clock())
            raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc
        return reply.status, answer.decode("utf-8", "replace")

    async def probe(self, within: float = 2.0) -> None:
        """Refresh `health` with one signed resolve of a hash no key has (never raises)."""
        with contextlib.suppress(httpx.HTTPError):  # noted as unavailable
            await self._post_resolve(PROBE_HASH, within=within)

    async def _post_resolve(
        self, token_hash: str, *, within: float | None = None
    ) -> httpx.Response:
        body = json.dumps({"token_hash": token_hash}, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        headers.update(sign(self._secret, "POST", RESOLVE_PATH, body))
        try:
            resp = await self._http.post(
                self._base_url + RESOLVE_PATH,
                content=body,
                headers=headers,
                timeout=within if within is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError:
            self.health.note(None, self._clock())
            raise
        self.health.note(resp.status_code, self._clock())
        return resp
