"""Building routes by hand, for engine tests that run with no control plane."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from junction_contracts import (
    CredentialRoute,
    DeploymentRoute,
    ModelRoute,
    Pricing,
    ProviderRoute,
    Route,
    TokenRoute,
)
from junction_contracts.egress import Egress
from junction_contracts.health import HEALTH_PATH
from junction_contracts.sealing import derive_sealing_key, seal
from junction_contracts.signing import SignatureVerifier
from junction_contracts.telemetry import TELEMETRY_PATH

SECRET = secrets.token_urlsafe(48).encode()


#: the mock LLM listens on loopback: tests allow it, as an operator would
LOOPBACK = Egress.parse("127.0.0.1/32,::1/128")
#: what a test model costs unless the test is about money: nothing, on purpose
FREE = Pricing(free=True)


def model_route(name: str, deployments: tuple[DeploymentRoute, ...], **fields: Any) -> ModelRoute:
    """A model route, free unless `pricing` says otherwise (an unpriced model is refused)."""
    fields.setdefault("pricing", FREE)
    return ModelRoute(name=name, deployments=deployments, **fields)


def deployment(
    upstream_model: str,
    *,
    key: str,
    base_url: str = "http://mock/v1",
    ptype: str = "openai",
    priority: int = 0,
    weight: int = 1,
    id: str | None = None,
    secret: bytes = SECRET,
) -> DeploymentRoute:
    dep_id = id or f"dep-{upstream_model}-{priority}"
    cred_id = f"cred-{dep_id}"
    sealed = seal(derive_sealing_key(secret), key, context=cred_id)
    return DeploymentRoute(
        id=dep_id,
        provider=ProviderRoute(
            id=f"prov-{ptype}",
            name=f"mock-{ptype}",
            type=ptype,  # type: ignore[arg-type]
            base_url=base_url,
        ),
        upstream_model=upstream_model,
        priority=priority,
        weight=weight,
        credentials=(CredentialRoute(id=cred_id, sealed_key=sealed),),
    )


def route(
    *models: ModelRoute,
    allowed: tuple[str, ...] | None = None,
    revoked: bool = False,
    expires_at: float | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    token_id: str = "tok-1",
) -> Route:
    return Route(
        token=TokenRoute(
            id=token_id,
            rpm=rpm,
            tpm=tpm,
            tenant_id="ten-1",
            name="test",
            prefix="jk-test",
            revoked=revoked,
            expires_at=expires_at,
            allowed_models=allowed,
        ),
        models=models,
        issued_at=time.time(),
    )


class FakeControl:
    """A control plane answered by a MockTransport handler: key hash -> route.

    It checks the engine's signatures with the real verifier, so a test using
    it also pins that the engine signs every call.
    """

    def __init__(
        self,
        routes: dict[str, Route],
        secret: bytes = SECRET,
        *,
        verifier: SignatureVerifier | None = None,
    ) -> None:
        self.routes = routes
        self.calls = 0
        self.down = False
        self.events: list[dict[str, object]] = []
        self.health: list[dict[str, object]] = []
        #: the headers of each resolve call, as sent
        self.resolve_headers: list[dict[str, str]] = []
        # replicas of one control plane share one replay cache: hand them one verifier
        self.verifier = verifier or SignatureVerifier(secret)
        self._verifier = self.verifier

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("control plane is down", request=request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path == HEALTH_PATH:
            self._verifier.verify(
                request.method, request.url.path, request.content, dict(request.headers)
            )
            self.health.extend(json.loads(request.content)["reports"])
            return httpx.Response(202, json={"accepted": len(self.health), "rejected": 0})
        if request.url.path == TELEMETRY_PATH:
            self._verifier.verify(
                request.method, request.url.path, request.content, dict(request.headers)
            )
            self.events.extend(json.loads(request.content)["events"])
            return httpx.Response(202, json={"accepted": len(self.events)})
        self.calls += 1
        self.resolve_headers.append(dict(request.headers))
        self._verifier.verify(
            request.method, request.url.path, request.content, dict(request.headers)
        )
        token_hash = json.loads(request.content)["token_hash"]
        found = self.routes.get(token_hash)
        if found is None:
            return httpx.Response(404, json={"error": {"code": "unknown_token"}})
        return httpx.Response(200, json=found.to_dict())


Handler = Callable[[httpx.Request], httpx.Response]
