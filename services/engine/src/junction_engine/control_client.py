"""Signed calls from the engine to the control plane's internal API."""

from __future__ import annotations

import json

import httpx
import orjson

from junction_contracts import ContractError, Route
from junction_contracts.signing import sign
from junction_contracts.telemetry import TELEMETRY_PATH, TELEMETRY_VERSION, CallEvent
from junction_engine.settings import EngineSettings
from junction_engine.upstream import Upstream, UpstreamError

RESOLVE_PATH = "/internal/v1/route/resolve"


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
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        # telemetry batches are large and steady: sent on the lean HTTP/1.1
        # client when one is given (httpx costs several ms of CPU per batch)
        self._events = events

    async def resolve(self, token_hash: str) -> Route | None:
        """The route of a key, or None when the control plane does not know the key."""
        body = json.dumps({"token_hash": token_hash}, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        headers.update(sign(self._secret, "POST", RESOLVE_PATH, body))
        try:
            resp = await self._http.post(
                self._base_url + RESOLVE_PATH, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 404:
            return None
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
                raise ControlError(f"control plane unreachable: {type(exc).__name__}") from exc
            status, text = resp.status_code, resp.text
        if status == 400:
            raise RejectedBatch(text[:500])
        if status >= 300:
            raise ControlError(f"control plane answered {status}")

    @staticmethod
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

    async def ready(self) -> bool:
        """Whether the control plane answers its health check."""
        try:
            resp = await self._http.get(self._base_url + "/healthz")
        except httpx.HTTPError:
            return False
        return resp.status_code == 200
