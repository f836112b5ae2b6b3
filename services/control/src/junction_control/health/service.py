"""Storing what engines report about their breakers, and reading it back per provider.

A report names a deployment or a credential; the control plane finds its
provider and tenant, and keeps one row per (target, engine process): the
newer word of an engine replaces its older one, an older one (a batch that
arrived late) is ignored. A report about a target it does not know (deleted
since, or never there) is rejected.

Reading a provider's health takes, for each of its deployments and
credentials, the latest word across engines. An open breaker whose time has
passed reads as half-open (engines do not report that: it comes with time).
A credential reported invalid before its key was entered anew reads as no
report at all: the new key has not been judged yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.health import BreakerReport
from junction_control.columns import utcnow
from junction_control.health.models import ProviderHealth
from junction_control.health.schemas import (
    BreakerOut,
    BreakerState,
    CredentialHealth,
    DeploymentHealth,
    HealthOut,
)
from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Credential, Provider

_STORED: dict[str, BreakerState] = {"closed": "closed", "open": "open", "invalid": "invalid"}


@dataclass(frozen=True, slots=True)
class _Target:
    tenant_id: str
    provider_id: str
    key_nonce: str | None = None


@dataclass(frozen=True, slots=True)
class Ingested:
    accepted: int
    rejected: int


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _targets(
    session: AsyncSession, reports: Sequence[BreakerReport]
) -> dict[tuple[str, str], _Target]:
    deployment_ids = {r.target_id for r in reports if r.kind == "deployment"}
    credential_ids = {r.target_id for r in reports if r.kind == "credential"}
    found: dict[tuple[str, str], _Target] = {}
    if deployment_ids:
        rows = await session.exec(
            select(Deployment.id, Provider.id, Provider.tenant_id)
            .join(Provider, col(Provider.id) == col(Deployment.provider_id))
            .where(col(Deployment.id).in_(deployment_ids))
        )
        for target_id, provider_id, tenant_id in rows:
            found["deployment", target_id] = _Target(tenant_id, provider_id)
    if credential_ids:
        creds = await session.exec(
            select(Credential.id, Provider.id, Provider.tenant_id, Credential.key_nonce)
            .join(Provider, col(Provider.id) == col(Credential.provider_id))
            .where(col(Credential.id).in_(credential_ids))
        )
        for target_id, provider_id, tenant_id, nonce in creds:
            found["credential", target_id] = _Target(tenant_id, provider_id, nonce)
    return found


async def ingest(session: AsyncSession, reports: Sequence[BreakerReport]) -> Ingested:
    """Keep the newest report of each (target, engine); flushed, not committed."""
    targets = await _targets(session, reports)
    existing: dict[tuple[str, str, str], ProviderHealth] = {}
    target_ids = {r.target_id for r in reports}
    if target_ids:
        rows = await session.exec(
            select(ProviderHealth).where(col(ProviderHealth.target_id).in_(target_ids))
        )
        existing = {(r.target_kind, r.target_id, r.engine_id): r for r in rows}
    accepted = rejected = 0
    for report in sorted(reports, key=lambda r: r.changed_at):
        target = targets.get((report.kind, report.target_id))
        if target is None:
            rejected += 1
            continue
        accepted += 1
        key = (report.kind, report.target_id, report.engine_id)
        row = existing.get(key)
        changed_at = _at(report.changed_at)
        if row is not None and row.changed_at > changed_at:
            continue  # a late batch: the engine has said something newer
        if row is None:
            row = existing[key] = ProviderHealth(
                tenant_id=target.tenant_id,
                provider_id=target.provider_id,
                target_kind=report.kind,
                target_id=report.target_id,
                engine_id=report.engine_id,
                state=report.state,
                changed_at=changed_at,
            )
        row.state = report.state
        row.failures = report.failures
        row.last_error = report.last_error
        row.open_until = None if report.open_until is None else _at(report.open_until)
        row.changed_at = changed_at
        row.key_nonce = target.key_nonce
        session.add(row)
    await session.flush()
    return Ingested(accepted=accepted, rejected=rejected)


def _breaker(rows: Sequence[ProviderHealth], now: datetime) -> BreakerOut:
    """The latest word across engines, with each engine's own."""
    engines = sorted(rows, key=lambda r: r.changed_at, reverse=True)
    latest = engines[0] if engines else None
    return BreakerOut(
        state="closed" if latest is None else _state(latest, now),
        failures=0 if latest is None else latest.failures,
        last_error=None if latest is None else latest.last_error,
        open_until=None if latest is None else latest.open_until,
        changed_at=None if latest is None else latest.changed_at,
        engines=[
            BreakerOut.Engine(
                engine_id=r.engine_id,
                state=_state(r, now),
                failures=r.failures,
                last_error=r.last_error,
                open_until=r.open_until,
                changed_at=r.changed_at,
            )
            for r in engines
        ],
    )


def _state(row: ProviderHealth, now: datetime) -> BreakerState:
    if row.state == "open" and row.open_until is not None and row.open_until <= now:
        return "half_open"
    return _STORED.get(row.state, "closed")


async def provider_health(session: AsyncSession, provider: Provider) -> HealthOut:
    """The breakers of `provider`'s deployments and credentials, as engines last reported."""
    now = utcnow()
    rows = (
        await session.exec(select(ProviderHealth).where(ProviderHealth.provider_id == provider.id))
    ).all()
    by_target: dict[tuple[str, str], list[ProviderHealth]] = {}
    for row in rows:
        by_target.setdefault((row.target_kind, row.target_id), []).append(row)
    deployments = await session.exec(
        select(Deployment, AiModel.name)
        .join(AiModel, col(AiModel.id) == col(Deployment.model_id))
        .where(Deployment.provider_id == provider.id)
        .order_by(col(AiModel.name), col(Deployment.priority), col(Deployment.id))
    )
    credentials = await session.exec(
        select(Credential)
        .where(Credential.provider_id == provider.id)
        .order_by(col(Credential.created_at), col(Credential.id))
    )
    deployment_out = [
        DeploymentHealth(
            id=d.id,
            model=model_name,
            upstream_model=d.upstream_model,
            enabled=d.enabled,
            breaker=_breaker(by_target.get(("deployment", d.id), []), now),
        )
        for d, model_name in deployments
    ]
    credential_out = []
    for c in credentials:
        # a report about the key this credential had before it was entered anew is stale
        fresh = [r for r in by_target.get(("credential", c.id), []) if r.key_nonce == c.key_nonce]
        breaker = _breaker(fresh, now)
        credential_out.append(
            CredentialHealth(
                id=c.id,
                name=c.name,
                last4=c.key_last4,
                status="disabled" if c.status == "disabled" else "active",
                invalid=breaker.state == "invalid",
                breaker=breaker,
            )
        )
    return HealthOut(
        provider_id=provider.id,
        deployments=deployment_out,
        credentials=credential_out,
        invalid_credentials=[c.id for c in credential_out if c.invalid],
    )
