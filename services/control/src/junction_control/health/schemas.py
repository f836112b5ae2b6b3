"""Response bodies of the provider health read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

BreakerState = Literal["closed", "open", "half_open", "invalid"]


class BreakerOut(BaseModel):
    """A breaker as the engines last reported it: the latest word, then each engine's."""

    class Engine(BaseModel):
        engine_id: str
        state: BreakerState
        failures: int
        last_error: str | None
        open_until: datetime | None
        changed_at: datetime

    #: closed when no engine reported trouble
    state: BreakerState
    #: consecutive failures when it last changed
    failures: int
    #: the stable code of the last failure (upstream_timeout, upstream_auth_failed, ...)
    last_error: str | None
    #: when an open breaker lets a probe through
    open_until: datetime | None
    changed_at: datetime | None
    engines: list[Engine]


class DeploymentHealth(BaseModel):
    id: str
    model: str
    upstream_model: str
    enabled: bool
    breaker: BreakerOut


class CredentialHealth(BaseModel):
    """A credential's breaker; `invalid`: the provider refused its key (401/403)."""

    id: str
    name: str
    last4: str
    status: Literal["active", "disabled"]
    invalid: bool
    breaker: BreakerOut


class HealthOut(BaseModel):
    """A provider's health: every deployment's and credential's breaker."""

    provider_id: str
    deployments: list[DeploymentHealth]
    credentials: list[CredentialHealth]
    invalid_credentials: list[str]
